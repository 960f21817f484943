#pragma once
/// \file threads.hpp
/// One thread count for everything that computes: LibTorch's intra-op pool and the BLAS it
/// calls. Debian's LibTorch calls OpenBLAS (libopenblas0-pthread), whose own pool otherwise
/// starts one thread per core and competes with LibTorch's: set both, as the Python
/// reference does through OMP_NUM_THREADS / OPENBLAS_NUM_THREADS.

namespace lipschitz::gan {

/// Sets LibTorch's intra-op threads and, when the process uses OpenBLAS, its threads, to
/// `threads` (0: the number of cores). Returns the count set.
int set_compute_threads(int threads);

/// Makes sure OpenMP threads sleep instead of spinning while they wait: with LibTorch's OpenMP
/// pool and OpenBLAS's own pool on the same cores, spinning made 2-thread training 2.5× slower
/// than 1 thread here (measured; bench/README.md). The OpenMP runtime reads OMP_WAIT_POLICY
/// once, when it loads, so if it is unset this sets it to PASSIVE and re-executes the program
/// (the `lipschitz` front end sets it before starting a command, so that path never re-executes).
/// Returns only if the variable was already set or the re-execution failed.
void ensure_passive_openmp(char** argv);

}  // namespace lipschitz::gan
