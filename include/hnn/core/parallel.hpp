// hnn's one threading layer: parallel_for over index ranges, and a parallel team for kernels that
// partition work by hand and meet at barriers (batch norm). One grain policy for both: below
// parallel_grain elements a loop runs on one thread. OpenMP under HNN_WITH_OPENMP, serial otherwise.
// Depends on core/config.hpp.
#pragma once

#include <algorithm>
#include <cstdint>

#include "hnn/core/config.hpp"

namespace hnn {

/// Below this many elements a loop runs on one thread: forking costs more than it saves.
inline constexpr int64_t parallel_grain = 32768;

/// Calls fn(begin, end) on disjoint chunks of [0, n), in parallel when n is larger than grain.
template <class Fn>
void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
  if (n <= 0) return;
#ifdef HNN_WITH_OPENMP
  int threads = omp_get_max_threads();
  if (n > grain && threads > 1 && !omp_in_parallel()) {
    int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / grain);
#pragma omp parallel for num_threads(static_cast <int>(chunks)) schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
      int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
      if (begin < end) fn(begin, end);
    }
    return;
  }
#else
  (void)grain;
#endif
  fn(int64_t(0), n);
}

/// Runs body(thread_index, thread_count) once on every thread of one team: the whole team when the
/// work has at least parallel_grain elements, one thread otherwise. The body partitions the work
/// itself (deterministically for a given thread count) and may call team_barrier(thread_count).
template <class Body>
void parallel_team(int64_t elements, Body&& body) {
#ifdef HNN_WITH_OPENMP
  if (elements >= parallel_grain && omp_get_max_threads() > 1 && !omp_in_parallel()) {
#pragma omp parallel
    body(static_cast<int64_t>(omp_get_thread_num()), static_cast<int64_t>(omp_get_num_threads()));
    return;
  }
#else
  (void)elements;
#endif
  body(int64_t{0}, int64_t{1});
}

/// The most threads parallel_team(elements, ...) can start: for sizing per-thread buffers up front.
inline int64_t parallel_team_max_threads(int64_t elements) {
#ifdef HNN_WITH_OPENMP
  if (elements >= parallel_grain && !omp_in_parallel()) return omp_get_max_threads();
#else
  (void)elements;
#endif
  return 1;
}

/// Waits for every thread of the current parallel_team; a no-op in a team of one.
inline void team_barrier(int64_t thread_count) {
#ifdef HNN_WITH_OPENMP
  if (thread_count > 1) {
#pragma omp barrier
  }
#else
  (void)thread_count;
#endif
}

/// Start of part k when [0, n) is cut into `parts` nearly equal parts (part k is [split(k), split(k+1))).
inline int64_t split_range(int64_t n, int64_t parts, int64_t k) { return n * k / parts; }

}  // namespace hnn
