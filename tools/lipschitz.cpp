// The `lipschitz` front end, git style: built-in commands that need only the math core run in
// this process (it starts in milliseconds); any other command `X` runs the executable
// `lipschitz-X` installed beside this one (the LibTorch commands, which take ~1 s to load).

#include "conv_command.hpp"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

const char* const kUsage =
    "Usage: lipschitz <command> [options]\n"
    "\n"
    "Commands:\n"
    "  conv     spectral norm and singular values of one convolution layer (.npy weight)\n"
    "  train    train a GAN / WGAN / WGAN-GP with live Lipschitz monitoring (LibTorch)\n"
    "  sample   a PNG of a training run's generator\n"
    "  eval     sample quality of a training run (modes, sliced Wasserstein, classifier FID)\n"
    "  report   per-layer norms and network Lipschitz bounds of a model (TorchScript, ONNX,\n"
    "           checkpoint)\n"
    "  view     a training run as one HTML page: charts, samples, stability alerts\n"
    "           (--compare RUN...: several runs in one figure)\n"
    "  help     this text; 'lipschitz <command> --help' for a command's options\n"
    "\n"
    "Other commands run the program lipschitz-<command> installed beside this one.\n"
    "Example: lipschitz conv --weight w.npy --input 32 --stride 2 --padding 1 --json\n";

std::string self_directory() {
  std::vector<char> buf(PATH_MAX + 1, '\0');
  const ssize_t n = readlink("/proc/self/exe", buf.data(), PATH_MAX);
  if (n <= 0) return ".";
  std::string path(buf.data(), static_cast<std::size_t>(n));
  return path.substr(0, path.rfind('/'));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "--version") {
    std::cout << "lipschitz 0.1.0\n";
    return 0;
  }
  if (command == "conv") return lipschitz::tools::conv_command(argc - 1, argv + 1);
  if (command.empty() || command[0] == '-' || command.find('/') != std::string::npos) {
    std::cerr << "lipschitz: unknown command '" << command << "'\n\n" << kUsage;
    return 2;
  }
  const std::string program = self_directory() + "/lipschitz-" + command;
  if (access(program.c_str(), X_OK) != 0) {
    std::cerr << "lipschitz: unknown command '" << command << "' (no " << program << ")\n\n"
              << kUsage;
    return 2;
  }
  // The LibTorch commands run best with sleeping OpenMP waiters (gan/threads.hpp); setting it
  // here saves them a re-execution. A value the user chose is kept.
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  argv[1] = const_cast<char*>(program.c_str());
  execv(program.c_str(), argv + 1);
  std::cerr << "lipschitz: cannot run " << program << ": " << std::strerror(errno) << '\n';
  return 1;
}
