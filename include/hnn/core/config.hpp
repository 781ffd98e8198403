// Build configuration of hnn: feature macros, the host/device function macro, thread helpers.
// Depends on nothing but the standard library (and <omp.h> when HNN_WITH_OPENMP is defined).
#pragma once

#include <cstdint>

#ifdef HNN_WITH_OPENMP
#include <omp.h>
#endif

// Functions shared by CPU and CUDA code are marked HNN_HOST_DEVICE; outside nvcc it expands to nothing.
#if defined(__CUDACC__)
#define HNN_HOST_DEVICE __host__ __device__
#else
#define HNN_HOST_DEVICE
#endif

namespace hnn {

/// Number of threads hnn's parallel loops use (OpenMP builds; 1 otherwise).
inline int get_num_threads() {
#ifdef HNN_WITH_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/// Sets the number of threads for hnn's parallel loops (OpenMP builds; a no-op otherwise).
inline void set_num_threads(int n) {
#ifdef HNN_WITH_OPENMP
  if (n > 0) omp_set_num_threads(n);
#else
  (void)n;
#endif
}

}  // namespace hnn
