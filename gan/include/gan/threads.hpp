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

}  // namespace lipschitz::gan
