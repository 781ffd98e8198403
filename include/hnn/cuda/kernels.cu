// Host launchers of hnn's CUDA kernels (declared in hnn/cuda/launch.hpp): grid sizes, vector widths,
// workspaces from the CUDA caching allocator, and explicit instantiations for float, double and int64.
// Compiled by nvcc into the hnn_cuda library (cmake/HnnCuda.cmake). No Eigen here (see DESIGN.md, CUDA).
#include <algorithm>
#include <cstdint>
#include <mutex>
#include <vector>

#include "hnn/cuda/error.hpp"
#include "hnn/cuda/launch.hpp"
#include "hnn/cuda/storage.hpp"
#include "hnn/kernels/cuda/batch_norm.cuh"
#include "hnn/kernels/cuda/elementwise.cuh"

namespace hnn::cuda::launch {

namespace {

namespace k = hnn::kernels::cuda;

/// Checks the launch just made (bad configurations are reported by cudaGetLastError, not the launch).
#define HNN_CUDA_CHECK_LAUNCH(kernel) HNN_CUDA_CHECK((kernel, cudaGetLastError()))

/// A device buffer from the caching allocator for the duration of one launcher call. The block may be
/// reused by the next allocation while kernels are still queued: all work is on one stream, so they
/// run before whatever the next owner launches.
struct Workspace {
  explicit Workspace(size_t bytes) : bytes_(bytes), p_(CudaCachingAllocator::instance().allocate(bytes)) {}
  ~Workspace() { CudaCachingAllocator::instance().deallocate(p_, bytes_); }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  template <class U>
  U* as() const {
    return static_cast<U*>(p_);
  }
  size_t bytes_;
  void* p_;
};

/// Blocks for a grid-stride elementwise kernel: enough to fill every SM several times, no more.
unsigned elementwise_blocks(int64_t n, int per_thread = 1) {
  const int64_t needed = (n / per_thread + k::block_threads - 1) / k::block_threads;
  const int64_t cap = int64_t(multiprocessor_count()) * 8;
  return static_cast<unsigned>(std::clamp<int64_t>(needed, 1, cap));
}

/// Blocks the reductions aim for: four per SM keeps the memory system busy at 256 threads per block.
int64_t target_blocks() { return int64_t(multiprocessor_count()) * 4; }

/// 32-bit indexing when every index, and every index plus a grid stride, stays below 2^32.
bool fits_u32(int64_t n) { return n < (int64_t(1) << 31); }

}  // namespace

int multiprocessor_count() {
  static std::mutex mutex;
  static std::vector<int> counts;  // per device id, 0 = not queried yet
  int device = 0;
  HNN_CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(mutex);
  if (counts.size() <= static_cast<size_t>(device)) counts.resize(static_cast<size_t>(device) + 1, 0);
  int& count = counts[static_cast<size_t>(device)];
  if (count == 0) HNN_CUDA_CHECK(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device));
  return count;
}

// ---- generic ops --------------------------------------------------------------------------------------

template <class T>
void fill(T* dst, int64_t n, T value) {
  if (n <= 0) return;
  HNN_CUDA_CHECK_LAUNCH((k::fill_kernel<T><<<elementwise_blocks(n), k::block_threads>>>(dst, n, value)));
}

template <class TOut, class TIn>
void copy(TOut* dst, const TIn* src, int64_t n, const StridedGeometry* geometry) {
  if (n <= 0) return;
  if (geometry == nullptr) {
    if constexpr (std::is_same_v<TOut, TIn>) {
      HNN_CUDA_CHECK(
          cudaMemcpyAsync(dst, src, static_cast<size_t>(n) * sizeof(TOut), cudaMemcpyDeviceToDevice, 0));
    } else {
      HNN_CUDA_CHECK_LAUNCH(
          (k::copy_kernel<TOut, TIn><<<elementwise_blocks(n), k::block_threads>>>(dst, src, n)));
    }
    return;
  }
  HNN_CUDA_CHECK_LAUNCH((k::copy_strided_kernel<TOut, TIn>
                         <<<elementwise_blocks(n), k::block_threads>>>(dst, src, n, *geometry)));
}

template <class T>
void binary(BinaryOp op, T* out, const T* a, const T* b, int64_t n, const StridedGeometry* geometry) {
  if (n <= 0) return;
  if (geometry == nullptr) {
    HNN_CUDA_CHECK_LAUNCH(
        (k::binary_kernel<T><<<elementwise_blocks(n), k::block_threads>>>(op, out, a, b, n)));
  } else {
    HNN_CUDA_CHECK_LAUNCH((k::binary_strided_kernel<T>
                           <<<elementwise_blocks(n), k::block_threads>>>(op, out, a, b, n, *geometry)));
  }
}

template <class T>
void scalar(ScalarOp op, T* out, const T* a, int64_t n, T s) {
  if (n <= 0) return;
  HNN_CUDA_CHECK_LAUNCH((k::scalar_kernel<T><<<elementwise_blocks(n), k::block_threads>>>(op, out, a, n, s)));
}

template <class T>
void sum_rows(T* out, const T* in, int64_t outer, int64_t inner) {
  if (outer <= 0) return;
  using Acc = k::sum_acc_t<T>;
  // Each row is cut into slices of at least 4096 values, enough slices overall to fill the GPU.
  const int64_t by_work = std::max<int64_t>(1, inner / 4096);
  const int64_t by_fill = std::max<int64_t>(1, (target_blocks() + outer - 1) / outer);
  const int splits = static_cast<int>(std::min<int64_t>({by_work, by_fill, 65535}));
  Workspace partial(static_cast<size_t>(outer * splits) * sizeof(Acc));
  HNN_CUDA_CHECK(cudaMemsetAsync(partial.as<Acc>(), 0, partial.bytes_, 0));
  if (inner > 0) {
    HNN_CUDA_CHECK_LAUNCH(
        (k::sum_rows_partial_kernel<T><<<dim3(static_cast<unsigned>(outer), splits), k::block_threads>>>(
            in, inner, splits, partial.as<Acc>())));
  }
  HNN_CUDA_CHECK_LAUNCH((k::sum_rows_finish_kernel<T><<<elementwise_blocks(outer), k::block_threads>>>(
      partial.as<Acc>(), outer, splits, out)));
}

// ---- batch norm ---------------------------------------------------------------------------------------

namespace {

/// Elements per 16-byte load for a (N, C, S) pass over the given pointers, 1 when not possible.
template <class T>
int vector_width(int64_t S, std::initializer_list<const void*> pointers) {
  constexpr int V = k::Vec16<T>::width;
  if (S % V != 0) return 1;
  for (const void* p : pointers)
    if (p != nullptr && !k::aligned16(p)) return 1;
  return V;
}

/// Grid of the reduction pass: planar (grid C x splits) or columns (grid ceil(C*S/32) x splits).
struct ReduceGrid {
  bool planar;
  int64_t splits;
  int64_t partials_per_channel;
  dim3 grid, block;
};

ReduceGrid reduce_grid(int64_t N, int64_t C, int64_t S, int V) {
  ReduceGrid g{};
  if (S >= k::planar_min_s) {
    // At least 8 vectors per thread of a block, as many blocks as fill the GPU.
    const int64_t units = N * (S / V);
    const int64_t by_work = std::max<int64_t>(1, units / (8 * k::block_threads));
    const int64_t by_fill = std::max<int64_t>(1, (target_blocks() + C - 1) / C);
    g.planar = true;
    g.splits = std::min<int64_t>({by_work, by_fill, 65535});
    g.partials_per_channel = g.splits;
    g.grid = dim3(static_cast<unsigned>(C), static_cast<unsigned>(g.splits));
    g.block = dim3(k::block_threads);
  } else {
    const int64_t tiles = (C * S + k::column_tile - 1) / k::column_tile;
    const int64_t by_work = std::max<int64_t>(1, N / (8 * k::column_rows));
    const int64_t by_fill = std::max<int64_t>(1, (target_blocks() + tiles - 1) / tiles);
    g.planar = false;
    g.splits = std::min<int64_t>({by_work, by_fill, 65535});
    g.partials_per_channel = S * g.splits;
    g.grid = dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(g.splits));
    g.block = dim3(k::column_tile, k::column_rows);
  }
  return g;
}

template <class T, int V, class Index>
void launch_stats_planar(const T* x, int64_t N, int64_t C, int64_t S, const ReduceGrid& g,
                         k::Welford* partial) {
  HNN_CUDA_CHECK_LAUNCH((k::bn_stats_planar<T, V, Index>
                         <<<g.grid, g.block>>>(x, static_cast<Index>(N), static_cast<Index>(C),
                                               static_cast<Index>(S), static_cast<int>(g.splits), partial)));
}

/// The statistics pass: partial Welford states, partials_per_channel per channel.
template <class T>
void run_stats(const T* x, int64_t N, int64_t C, int64_t S, const ReduceGrid& g, int V, k::Welford* partial) {
  if (!g.planar) {
    HNN_CUDA_CHECK_LAUNCH(
        (k::bn_stats_columns<T><<<g.grid, g.block>>>(x, N, C * S, static_cast<int>(g.splits), partial)));
    return;
  }
  constexpr int W = k::Vec16<T>::width;
  const bool small = fits_u32(N * C * S);
  if (V == W) {
    if (small)
      launch_stats_planar<T, W, uint32_t>(x, N, C, S, g, partial);
    else
      launch_stats_planar<T, W, uint64_t>(x, N, C, S, g, partial);
  } else {
    if (small)
      launch_stats_planar<T, 1, uint32_t>(x, N, C, S, g, partial);
    else
      launch_stats_planar<T, 1, uint64_t>(x, N, C, S, g, partial);
  }
}

template <class T>
void run_dy_sums(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const ReduceGrid& g, int V,
                 const double* mean, k::DySums* partial) {
  if (!g.planar) {
    HNN_CUDA_CHECK_LAUNCH((k::bn_dy_sums_columns<T><<<g.grid, g.block>>>(
        dy, x, N, C * S, S, static_cast<int>(g.splits), mean, partial)));
    return;
  }
  constexpr int W = k::Vec16<T>::width;
  const int splits = static_cast<int>(g.splits);
  auto launch = [&](auto v_tag, auto index_tag) {
    constexpr int VV = decltype(v_tag)::value;
    using Index = decltype(index_tag);
    HNN_CUDA_CHECK_LAUNCH((k::bn_dy_sums_planar<T, VV, Index><<<g.grid, g.block>>>(
        dy, x, static_cast<Index>(N), static_cast<Index>(C), static_cast<Index>(S), splits, mean, partial)));
  };
  const bool small = fits_u32(N * C * S);
  if (V == W) {
    if (small)
      launch(std::integral_constant<int, W>{}, uint32_t{});
    else
      launch(std::integral_constant<int, W>{}, uint64_t{});
  } else {
    if (small)
      launch(std::integral_constant<int, 1>{}, uint32_t{});
    else
      launch(std::integral_constant<int, 1>{}, uint64_t{});
  }
}

/// y = (x - consts[c]) * consts[C + c] + consts[2C + c] over all N*C*S elements.
template <class T>
void run_affine(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* consts) {
  constexpr int W = k::Vec16<T>::width;
  const int V = vector_width<T>(S, {x, y});
  const int64_t vectors = N * C * S / V, per_plane = S / V;
  const unsigned blocks = elementwise_blocks(vectors, 4);
  auto launch = [&](auto v_tag, auto index_tag) {
    constexpr int VV = decltype(v_tag)::value;
    using Index = decltype(index_tag);
    HNN_CUDA_CHECK_LAUNCH((k::bn_affine<T, VV, Index><<<blocks, k::block_threads>>>(
        x, y, static_cast<Index>(vectors), static_cast<Index>(per_plane), static_cast<Index>(C), consts)));
  };
  const bool small = fits_u32(N * C * S);
  if (V == W) {
    if (small)
      launch(std::integral_constant<int, W>{}, uint32_t{});
    else
      launch(std::integral_constant<int, W>{}, uint64_t{});
  } else {
    if (small)
      launch(std::integral_constant<int, 1>{}, uint32_t{});
    else
      launch(std::integral_constant<int, 1>{}, uint64_t{});
  }
}

template <class T>
void run_dx(const T* dy, const T* x, T* dx, int64_t N, int64_t C, int64_t S, const T* consts) {
  constexpr int W = k::Vec16<T>::width;
  const int V = vector_width<T>(S, {dy, x, dx});
  const int64_t vectors = N * C * S / V, per_plane = S / V;
  const unsigned blocks = elementwise_blocks(vectors, 4);
  auto launch = [&](auto v_tag, auto index_tag) {
    constexpr int VV = decltype(v_tag)::value;
    using Index = decltype(index_tag);
    HNN_CUDA_CHECK_LAUNCH((k::bn_dx<T, VV, Index><<<blocks, k::block_threads>>>(
        dy, x, dx, static_cast<Index>(vectors), static_cast<Index>(per_plane), static_cast<Index>(C),
        consts)));
  };
  const bool small = fits_u32(N * C * S);
  if (V == W) {
    if (small)
      launch(std::integral_constant<int, W>{}, uint32_t{});
    else
      launch(std::integral_constant<int, W>{}, uint64_t{});
  } else {
    if (small)
      launch(std::integral_constant<int, 1>{}, uint32_t{});
    else
      launch(std::integral_constant<int, 1>{}, uint64_t{});
  }
}

/// One warp per channel, 4 warps per block.
dim3 finalize_blocks(int64_t C) { return dim3(static_cast<unsigned>((C + 3) / 4)); }
constexpr int finalize_threads = 128;

unsigned per_channel_blocks(int64_t C) { return static_cast<unsigned>((C + 127) / 128); }

}  // namespace

template <class T>
void batch_norm_forward_train(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* weight,
                              const T* bias, double eps, double momentum, T* running_mean, T* running_var,
                              double* save_mean, double* save_invstd) {
  if (C <= 0 || N * S <= 0) return;
  const int V = vector_width<T>(S, {x});
  const ReduceGrid g = reduce_grid(N, C, S, V);
  Workspace partial(static_cast<size_t>(C * g.partials_per_channel) * sizeof(k::Welford));
  Workspace consts(static_cast<size_t>(3 * C) * sizeof(T));
  run_stats(x, N, C, S, g, V, partial.as<k::Welford>());
  HNN_CUDA_CHECK_LAUNCH((k::bn_finalize_stats<T><<<finalize_blocks(C), finalize_threads>>>(
      partial.as<k::Welford>(), C, g.partials_per_channel, eps, momentum, weight, bias, running_mean,
      running_var, save_mean, save_invstd, consts.as<T>(), nullptr)));
  run_affine(x, y, N, C, S, consts.as<T>());
}

template <class T>
void batch_norm_stats(const T* x, int64_t N, int64_t C, int64_t S, double* mean, double* m2) {
  if (C <= 0) return;
  if (N * S <= 0) {
    HNN_CUDA_CHECK(cudaMemsetAsync(mean, 0, static_cast<size_t>(C) * sizeof(double), 0));
    HNN_CUDA_CHECK(cudaMemsetAsync(m2, 0, static_cast<size_t>(C) * sizeof(double), 0));
    return;
  }
  const int V = vector_width<T>(S, {x});
  const ReduceGrid g = reduce_grid(N, C, S, V);
  Workspace partial(static_cast<size_t>(C * g.partials_per_channel) * sizeof(k::Welford));
  run_stats(x, N, C, S, g, V, partial.as<k::Welford>());
  HNN_CUDA_CHECK_LAUNCH((k::bn_finalize_stats<T><<<finalize_blocks(C), finalize_threads>>>(
      partial.as<k::Welford>(), C, g.partials_per_channel, 0.0, 0.0, nullptr, nullptr, nullptr, nullptr, mean,
      nullptr, nullptr, m2)));
}

template <class T>
void batch_norm_elemt(const T* x, T* y, int64_t N, int64_t C, int64_t S, const double* mean,
                      const double* invstd, const T* weight, const T* bias) {
  if (C <= 0 || N * S <= 0) return;
  Workspace consts(static_cast<size_t>(3 * C) * sizeof(T));
  HNN_CUDA_CHECK_LAUNCH((k::bn_elemt_constants<T>
                         <<<per_channel_blocks(C), 128>>>(C, mean, invstd, weight, bias, consts.as<T>())));
  run_affine(x, y, N, C, S, consts.as<T>());
}

template <class T>
void batch_norm_update_running(T* running_mean, T* running_var, const double* mean, const double* m2,
                               int64_t C, int64_t count, double momentum) {
  if (C <= 0 || (!running_mean && !running_var)) return;
  HNN_CUDA_CHECK_LAUNCH((k::bn_update_running<T><<<per_channel_blocks(C), 128>>>(
      C, mean, m2, static_cast<double>(count), momentum, running_mean, running_var)));
}

template <class T>
void batch_norm_eval_statistics(const T* running_mean, const T* running_var, int64_t C, double eps,
                                double* mean, double* invstd) {
  if (C <= 0) return;
  HNN_CUDA_CHECK_LAUNCH((k::bn_eval_statistics<T>
                         <<<per_channel_blocks(C), 128>>>(C, running_mean, running_var, eps, mean, invstd)));
}

template <class T>
void batch_norm_backward_reduce(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const double* mean,
                                double* sum_dy, double* sum_dy_xmu) {
  if (C <= 0) return;
  if (N * S <= 0) {
    HNN_CUDA_CHECK(cudaMemsetAsync(sum_dy, 0, static_cast<size_t>(C) * sizeof(double), 0));
    HNN_CUDA_CHECK(cudaMemsetAsync(sum_dy_xmu, 0, static_cast<size_t>(C) * sizeof(double), 0));
    return;
  }
  const int V = vector_width<T>(S, {dy, x});
  const ReduceGrid g = reduce_grid(N, C, S, V);
  Workspace partial(static_cast<size_t>(C * g.partials_per_channel) * sizeof(k::DySums));
  run_dy_sums(dy, x, N, C, S, g, V, mean, partial.as<k::DySums>());
  HNN_CUDA_CHECK_LAUNCH((k::bn_finalize_sums<<<finalize_blocks(C), finalize_threads>>>(
      partial.as<k::DySums>(), C, g.partials_per_channel, sum_dy, sum_dy_xmu)));
}

template <class T>
void batch_norm_backward_elemt(const T* dy, const T* x, T* dx, int64_t N, int64_t C, int64_t S,
                               const double* mean, const double* invstd, const T* weight,
                               const double* sum_dy, const double* sum_dy_xmu, int64_t count) {
  if (C <= 0 || N * S <= 0) return;
  Workspace consts(static_cast<size_t>(4 * C) * sizeof(T));
  HNN_CUDA_CHECK_LAUNCH((k::bn_backward_elemt_constants<T><<<per_channel_blocks(C), 128>>>(
      C, mean, invstd, weight, sum_dy, sum_dy_xmu, static_cast<double>(count), consts.as<T>())));
  run_dx(dy, x, dx, N, C, S, consts.as<T>());
}

template <class T>
void batch_norm_forward_eval(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* running_mean,
                             const T* running_var, const T* weight, const T* bias, double eps) {
  if (C <= 0 || N * S <= 0) return;
  Workspace consts(static_cast<size_t>(3 * C) * sizeof(T));
  HNN_CUDA_CHECK_LAUNCH((k::bn_eval_constants<T><<<per_channel_blocks(C), 128>>>(
      C, running_mean, running_var, weight, bias, eps, consts.as<T>())));
  run_affine(x, y, N, C, S, consts.as<T>());
}

template <class T>
void batch_norm_backward(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const T* weight,
                         const double* save_mean, const double* save_invstd, bool training, T* dx,
                         T* grad_weight, T* grad_bias) {
  if (C <= 0) return;
  if (N * S <= 0) {
    if (grad_weight) fill(grad_weight, C, T(0));
    if (grad_bias) fill(grad_bias, C, T(0));
    return;
  }
  const bool need_sums = grad_weight || grad_bias || (training && dx);
  Workspace consts(static_cast<size_t>(4 * C) * sizeof(T));
  if (!training && dx) {
    // dx = dy * weight * invstd does not depend on the sums.
    HNN_CUDA_CHECK_LAUNCH(
        (k::bn_scale_constants<T><<<per_channel_blocks(C), 128>>>(C, weight, save_invstd, consts.as<T>())));
    run_affine(dy, dx, N, C, S, consts.as<T>());
  }
  if (!need_sums) return;
  const int V = vector_width<T>(S, {dy, x});
  const ReduceGrid g = reduce_grid(N, C, S, V);
  Workspace partial(static_cast<size_t>(C * g.partials_per_channel) * sizeof(k::DySums));
  run_dy_sums(dy, x, N, C, S, g, V, save_mean, partial.as<k::DySums>());
  const bool want_dx = training && dx;
  HNN_CUDA_CHECK_LAUNCH((k::bn_finalize_backward<T><<<finalize_blocks(C), finalize_threads>>>(
      partial.as<k::DySums>(), C, g.partials_per_channel, static_cast<double>(N * S), weight, save_mean,
      save_invstd, want_dx, grad_weight, grad_bias, consts.as<T>())));
  if (want_dx) run_dx(dy, x, dx, N, C, S, consts.as<T>());
}

// ---- explicit instantiations -----------------------------------------------------------------------------

#define HNN_CUDA_INSTANTIATE_GENERIC(T)                                                       \
  template void fill<T>(T*, int64_t, T);                                                      \
  template void binary<T>(BinaryOp, T*, const T*, const T*, int64_t, const StridedGeometry*); \
  template void scalar<T>(ScalarOp, T*, const T*, int64_t, T);                                \
  template void sum_rows<T>(T*, const T*, int64_t, int64_t);                                  \
  template void copy<T, float>(T*, const float*, int64_t, const StridedGeometry*);            \
  template void copy<T, double>(T*, const double*, int64_t, const StridedGeometry*);          \
  template void copy<T, int64_t>(T*, const int64_t*, int64_t, const StridedGeometry*);
HNN_CUDA_INSTANTIATE_GENERIC(float)
HNN_CUDA_INSTANTIATE_GENERIC(double)
HNN_CUDA_INSTANTIATE_GENERIC(int64_t)

#define HNN_CUDA_INSTANTIATE_BN(T)                                                                          \
  template void batch_norm_forward_train<T>(const T*, T*, int64_t, int64_t, int64_t, const T*, const T*,    \
                                            double, double, T*, T*, double*, double*);                      \
  template void batch_norm_forward_eval<T>(const T*, T*, int64_t, int64_t, int64_t, const T*, const T*,     \
                                           const T*, const T*, double);                                     \
  template void batch_norm_backward<T>(const T*, const T*, int64_t, int64_t, int64_t, const T*,             \
                                       const double*, const double*, bool, T*, T*, T*);                     \
  template void batch_norm_stats<T>(const T*, int64_t, int64_t, int64_t, double*, double*);                 \
  template void batch_norm_elemt<T>(const T*, T*, int64_t, int64_t, int64_t, const double*, const double*,  \
                                    const T*, const T*);                                                    \
  template void batch_norm_update_running<T>(T*, T*, const double*, const double*, int64_t, int64_t,        \
                                             double);                                                       \
  template void batch_norm_eval_statistics<T>(const T*, const T*, int64_t, double, double*, double*);       \
  template void batch_norm_backward_reduce<T>(const T*, const T*, int64_t, int64_t, int64_t, const double*, \
                                              double*, double*);                                            \
  template void batch_norm_backward_elemt<T>(const T*, const T*, T*, int64_t, int64_t, int64_t,             \
                                             const double*, const double*, const T*, const double*,         \
                                             const double*, int64_t);
HNN_CUDA_INSTANTIATE_BN(float)
HNN_CUDA_INSTANTIATE_BN(double)

}  // namespace hnn::cuda::launch
