#include <gan/threads.hpp>

#include <ATen/Parallel.h>

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>

#include <thread>

namespace lipschitz::gan {

int set_compute_threads(int threads) {
  const int n = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
  at::set_num_threads(n);
  // Looked up at run time: the BLAS behind libblas.so.3 is chosen by Debian's alternatives, and
  // only OpenBLAS has this entry point (the reference BLAS is single-threaded anyway).
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
  return n;
}

void ensure_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY")) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
}

}  // namespace lipschitz::gan
