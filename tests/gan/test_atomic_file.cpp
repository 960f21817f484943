// Tests atomic_file.hpp: a replaced file is whole or untouched, and the temporaries that a
// killed writer left behind are removed only when their process is gone.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <gan/atomic_file.hpp>
#include "../temp_dir.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>
#include <string>

using namespace lipschitz::gan::detail;
namespace fs = std::filesystem;
using lipschitz::testing::TempDir;

namespace {

void touch(const std::string& path) { std::ofstream(path) << "x"; }

std::string read(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::set<std::string> names(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

/// The id of a process that has exited and been reaped: no process has it (until reused).
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

}  // namespace

TEST_CASE("replace_file_with_text replaces the whole file and leaves no temporary") {
  TempDir dir("atomic_replace");
  replace_file_with_text(dir / "a.json", "first\n");
  replace_file_with_text(dir / "a.json", "second\n");
  CHECK(read(dir / "a.json") == "second\n");
  CHECK(names(dir.path()) == std::set<std::string>{"a.json"});
}

TEST_CASE("a failed write keeps the old file and removes its temporary") {
  TempDir dir("atomic_failed");
  replace_file_with_text(dir / "a.json", "kept\n");
  CHECK_THROWS_AS(replace_file(dir / "a.json",
                               [](const std::string& tmp) {
                                 touch(tmp);
                                 throw std::runtime_error("disk full");
                               }),
                  std::runtime_error);
  CHECK(read(dir / "a.json") == "kept\n");
  CHECK(names(dir.path()) == std::set<std::string>{"a.json"});
}

TEST_CASE("remove_abandoned_temporaries removes a dead writer's files only") {
  TempDir dir("atomic_abandoned");
  const std::string dead = std::to_string(dead_pid()), alive = std::to_string(::getpid());
  touch(dir / ("checkpoint.pt.tmp-" + dead + "-0"));
  touch(dir / ("step_0000010.png.tmp-" + dead + "-17"));
  touch(dir / ("summary.json.tmp-" + alive + "-2"));  // a writer still at work
  touch(dir / "config.json");
  touch(dir / "notes.tmp-by-hand");                   // not our pattern
  touch(dir / ("x.tmp-99999999999999999999999-1"));   // no such pid can exist: not ours either
  CHECK(remove_abandoned_temporaries(dir.str()) == 2);
  CHECK(names(dir.path()) ==
        std::set<std::string>{"summary.json.tmp-" + alive + "-2", "config.json",
                              "notes.tmp-by-hand", "x.tmp-99999999999999999999999-1"});
  CHECK(remove_abandoned_temporaries(dir / "missing") == 0);
}
