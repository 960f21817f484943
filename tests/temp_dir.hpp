#pragma once
// Test fixture shared by the gan and view tests: a fresh directory under the system's temp directory,
// removed with everything in it.

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace lipschitz::testing {

class TempDir {
 public:
  /// `name` should say which test owns it; the process id keeps parallel runs apart.
  explicit TempDir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("lipschitz_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace lipschitz::testing
