// The fuzz targets without libFuzzer (a GCC build): runs LLVMFuzzerTestOneInput on every file
// named, directories recursively in sorted order, so CTest replays the seed corpora and every
// input that ever crashed a reader. A defect aborts, as under the fuzzer.
//   replay [--accept DIR] [FILE|DIR]...   files under --accept must also be read successfully

#include "fuzz_input.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  std::vector<std::pair<std::filesystem::path, bool>> files;  // path, must be accepted
  for (int i = 1; i < argc; ++i) {
    const bool accept = std::string(argv[i]) == "--accept" && i + 1 < argc;
    if (accept) ++i;
    const std::filesystem::path arg = argv[i];
    if (std::filesystem::is_directory(arg)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(arg))
        if (e.is_regular_file()) files.emplace_back(e.path(), accept);
    } else if (std::filesystem::is_regular_file(arg)) {
      files.emplace_back(arg, accept);
    } else {
      std::fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& [path, accept] : files) {
    lipschitz::fuzz::must_accept() = accept;
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", path.c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("replay: %zu inputs, no defect\n", files.size());
  return files.empty() ? 1 : 0;
}
