#pragma once
// What every fuzz target shares: the input written to files (the readers take paths, as users
// give them), the input cut into parts for readers of several files, and the rule for what a
// reader may do with bytes it did not expect.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "../tests/temp_dir.hpp"

namespace lipschitz::fuzz {

/// A directory of this process's own (fuzzers run in parallel), emptied for every input.
class Scratch {
 public:
  /// Removes everything the previous input left, and returns the directory.
  std::string reset() {
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path()))
      std::filesystem::remove_all(entry.path());
    return dir_.str();
  }
  /// Writes `bytes` to DIR/name (name may hold one subdirectory) and returns the path.
  std::string write(const std::string& name, std::string_view bytes) const {
    const std::filesystem::path path = dir_.path() / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) std::abort();  // the fuzzer's own disk, not the reader under test
    return path.string();
  }
  std::string dir() const { return dir_.str(); }

 private:
  lipschitz::testing::TempDir dir_{"fuzz"};
};

inline Scratch& scratch() {
  static Scratch s;
  return s;
}

/// Reads the input front to back: control bytes first, then parts of it as files.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  /// One control byte (0 once the input is used up).
  std::uint8_t byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  /// A part: a little-endian 32-bit length, then that many bytes (fewer where the input ends).
  std::string_view part() {
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= std::uint32_t{byte()} << (8 * i);
    const std::size_t take = std::min<std::size_t>(n, rest_.size());
    const std::string_view p = rest_.substr(0, take);
    rest_.remove_prefix(take);
    return p;
  }
  /// Whatever is left.
  std::string_view rest() {
    const std::string_view r = rest_;
    rest_ = {};
    return r;
  }

 private:
  std::string_view rest_;
};

/// Set by the replay driver for the seed corpus: those inputs are valid files, and a reader
/// that rejects one has regressed (a clean error is not enough there).
inline bool& must_accept() {
  static bool accept = false;
  return accept;
}

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz: %s\n", what.c_str());
  std::abort();  // libFuzzer saves the input as a crash
}

/// Runs `read`: it may succeed, or throw one of the errors the readers document
/// (std::invalid_argument or std::runtime_error, and their subclasses) with a message that names
/// `must_name` (the file or directory) where that is given. Anything else is a defect: another
/// exception type (std::out_of_range from .at(), a JSON library's or LibTorch's own exception,
/// std::bad_alloc from a size read from the file) escapes to the user as an unexplained message.
/// With FUZZ_VERBOSE set, each rejection's message is printed (to see what a seed exercises).
template <class Read>
void expect_clean(Read&& read, const std::string& must_name = {}) {
  const auto check_message = [&](const char* what) {
    if (std::getenv("FUZZ_VERBOSE")) std::fprintf(stderr, "  rejected: %s\n", what);
    if (must_accept()) fail(std::string("a valid seed was rejected: ") + what);
    if (std::string_view(what).empty()) fail("an error with an empty message");
    if (!must_name.empty() && std::string_view(what).find(must_name) == std::string_view::npos)
      fail(std::string("the message does not name ") + must_name + ": " + what);
  };
  try {
    read();
  } catch (const std::invalid_argument& e) {
    check_message(e.what());
  } catch (const std::runtime_error& e) {
    check_message(e.what());
  } catch (const std::exception& e) {
    fail(std::string("escaped ") + typeid(e).name() + ": " + e.what());
  } catch (...) {
    fail("escaped a non-std exception");
  }
}

}  // namespace lipschitz::fuzz
