#pragma once
// Private: thread-count resolution shared by the parallel loops.

#ifdef _OPENMP
#include <omp.h>
#endif

namespace lipschitz::detail {

/// `requested` threads, or every core when it is 0 or less.
inline int resolve_threads(int requested) {
#ifdef _OPENMP
  return requested > 0 ? requested : omp_get_num_procs();
#else
  (void)requested;
  return 1;
#endif
}

/// The calling thread's index within its parallel region (0 outside one).
inline int thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

}  // namespace lipschitz::detail
