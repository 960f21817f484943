#include <gan/atomic_file.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <regex>
#include <stdexcept>

namespace lipschitz::gan::detail {

namespace {

void fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

void replace_file(const std::string& path, const std::function<void(const std::string&)>& write) {
  static std::atomic<unsigned> counter{0};
  const std::string tmp =
      path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  try {
    write(tmp);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  // Durable before visible: the data on disk, then the rename, then the directory entry.
  fsync_path(tmp, O_RDONLY);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot replace: " + why);
  }
  const auto slash = path.rfind('/');
  fsync_path(slash == std::string::npos ? "." : path.substr(0, slash), O_RDONLY | O_DIRECTORY);
}

void replace_file_with_text(const std::string& path, const std::string& text) {
  replace_file(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) throw std::runtime_error(path + ": cannot write: " + std::strerror(errno));
  });
}

int remove_abandoned_temporaries(const std::string& directory) {
  DIR* dir = ::opendir(directory.c_str());
  if (!dir) return 0;
  static const std::regex temporary(R"(.+\.tmp-([0-9]+)-[0-9]+)");
  int removed = 0;
  std::smatch m;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (!std::regex_match(name, m, temporary)) continue;
    // kill(pid, 0) probes without signalling: ESRCH means no such process, so nobody will
    // finish or rename this file. (A reused pid only delays the cleanup to a later resume.)
    const long pid = std::strtol(m[1].str().c_str(), nullptr, 10);
    if (pid > 0 && pid <= std::numeric_limits<pid_t>::max() &&
        ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH &&
        std::remove((directory + "/" + name).c_str()) == 0)
      ++removed;
  }
  ::closedir(dir);
  return removed;
}

}  // namespace lipschitz::gan::detail
