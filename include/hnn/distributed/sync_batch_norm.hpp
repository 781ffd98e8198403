// The synchronised batch-norm op (training mode): statistics over the union of every rank's batch, and
// its backward with globally reduced sums. The arithmetic is the CPU batch-norm kernels' (statistics,
// normalise, backward reduce and elementwise passes); this file only adds the two collectives.
// Depends on distributed/process_group.hpp, kernels/cpu/batch_norm.hpp, ops/batch_norm.hpp.
#pragma once

#include <cmath>
#include <memory>
#include <vector>

#include "hnn/autograd/function.hpp"
#include "hnn/distributed/process_group.hpp"
#include "hnn/kernels/cpu/batch_norm.hpp"
#include "hnn/ops/batch_norm.hpp"
#include "hnn/ops/creation.hpp"

namespace hnn::distributed {

/*
 * Forward. Each rank takes its partial statistics (n_r = N_r * S, mean_r, M2_r) per channel with
 * batch_norm_stats (chunked, about a pivot: no sum of squares), one MPI_Allgather of [n_r, mean_r[C],
 * M2_r[C]] gives every rank every partial, and every rank merges them in rank order with Chan's update
 *     n = n_a + n_b,  delta = mean_b - mean_a,  mean = mean_a + delta n_b / n,  M2 = M2_a + M2_b + delta^2
 * n_a n_b / n, so all ranks hold bit-identical global (M, mean, M2). Normalising uses the biased variance M2
 * / M (invstd = 1 / sqrt(M2 / M + eps)); running_var takes the unbiased M2 / (M - 1), as PyTorch's
 * batch_norm_gather_stats_with_counts does. Ranks may hold different (even zero) batch sizes.
 *
 * Backward. With xhat = (x - mean) invstd over the global batch, the gradient of rank r's slice is
 *     dx = weight invstd (dy - sum(dy) / M - (x - mean) invstd^2 sum(dy (x - mean)) / M)
 * where both sums run over all ranks: batch_norm_backward_reduce gives the local sums, one
 * MPI_Allreduce of 2C doubles makes them global, batch_norm_backward_elemt writes dx with count M.
 * grad_weight = invstd * sum(dy (x - mean)) and grad_bias = sum(dy) stay local (before the all-reduce):
 * their sum over ranks is batch norm's, and DistributedDataParallel averages them with the other
 * gradients, as PyTorch's SyncBatchNorm does.
 *
 * Every rank must call forward (and, when an input requires grad, backward) the same number of times:
 * they are collectives.
 */
template <class T, class D>
Tensor<T, D> sync_batch_norm(const Tensor<T, D>& input, const Tensor<T, D>& running_mean,
                             const Tensor<T, D>& running_var, const Tensor<T, D>& weight,
                             const Tensor<T, D>& bias, double momentum, double eps) {
  static_assert(std::is_floating_point_v<T>, "sync_batch_norm needs a floating point tensor");
  static_assert(is_cpu_v<D>,
                "sync_batch_norm runs on CPU tensors (see distributed/process_group.hpp for devices)");
  detail::require_group("sync_batch_norm");
  HNN_CHECK(input.dim() >= 2,
            "sync_batch_norm: expected an input with at least 2 dimensions (N, C, ...), got shape ",
            input.shape());
  const int64_t N = input.size(0), C = input.size(1);
  hnn::detail::check_batch_norm_param("running_mean", running_mean, C);
  hnn::detail::check_batch_norm_param("running_var", running_var, C);
  hnn::detail::check_batch_norm_param("weight", weight, C);
  hnn::detail::check_batch_norm_param("bias", bias, C);
  HNN_CHECK(C > 0, "sync_batch_norm: the input has no channels (shape ", input.shape(), ")");

  // Spatial size from the shape itself, so an empty local batch (N = 0) still knows S.
  int64_t spatial = 1;
  for (int64_t d = 2; d < input.dim(); ++d) spatial *= input.size(d);
  const int64_t local_count = N * spatial;

  Tensor<T, D> x = input.is_contiguous() ? input.detach() : input.detach().contiguous();
  // Partial statistics: [count, mean[C], M2[C]].
  const auto width = static_cast<size_t>(2 * C + 1);
  std::vector<double> partial(width);
  partial[0] = static_cast<double>(local_count);
  kernels::cpu::batch_norm_stats(x.data(), N, C, spatial, partial.data() + 1, partial.data() + 1 + C);
  const std::vector<double> all = detail::allgather_doubles(partial.data(), static_cast<int>(width));
  const size_t world = all.size() / width;

  auto saved = std::make_shared<hnn::detail::BatchNormSaved<D>>();
  saved->mean = Tensor<double, D>::empty({C});
  saved->invstd = Tensor<double, D>::empty({C});
  std::vector<double> m2(static_cast<size_t>(C));
  double total = 0;
  for (int64_t c = 0; c < C; ++c) {
    double n = 0, mu = 0, sq = 0;
    for (size_t r = 0; r < world; ++r) {
      const double* p = all.data() + r * width;
      kernels::cpu::detail::bn_chan_merge(n, mu, sq, p[0], p[1 + c], p[1 + C + c]);
    }
    total = n;
    saved->mean.data()[c] = mu;
    m2[static_cast<size_t>(c)] = sq;
  }
  const auto global_count = static_cast<int64_t>(total);
  // Checked after the gather, so every rank reaches the same verdict.
  HNN_CHECK(global_count > 1,
            "SyncBatchNorm: expected more than 1 value per channel when training over all ranks, "
            "got ",
            global_count, " (this rank's input shape ", input.shape(), ")");
  for (int64_t c = 0; c < C; ++c)
    saved->invstd.data()[c] = kernels::cpu::detail::bn_invstd(m2[static_cast<size_t>(c)], total, eps);

  auto out = Tensor<T, D>::empty(input.shape());
  const T* w = weight.defined() ? weight.data() : nullptr;
  const T* b = bias.defined() ? bias.data() : nullptr;
  kernels::cpu::batch_norm_elemt(x.data(), out.data(), N, C, spatial, saved->mean.data(),
                                 saved->invstd.data(), w, b);
  if (running_mean.defined() || running_var.defined())
    kernels::cpu::batch_norm_update_running(running_mean.defined() ? running_mean.data() : nullptr,
                                            running_var.defined() ? running_var.data() : nullptr,
                                            saved->mean.data(), m2.data(), C, global_count, momentum);

  if (autograd::any_requires_grad(input, weight, bias)) {
    autograd::record<T, D>(
        "SyncBatchNormBackward", out, {input, weight, bias},
        [x, weight = weight.defined() ? weight.detach() : Tensor<T, D>(), saved, N, C, spatial, global_count](
            const Tensor<T, D>& grad_out, const std::vector<bool>& need) {
          std::vector<Tensor<T, D>> grads(3);
          Tensor<T, D> dy = grad_out.contiguous();
          std::vector<double> sums(static_cast<size_t>(2 * C));  // sum dy, sum dy (x - mean)
          kernels::cpu::batch_norm_backward_reduce(dy.data(), x.data(), N, C, spatial, saved->mean.data(),
                                                   sums.data(), sums.data() + C);
          if (need[1]) {
            grads[1] = Tensor<T, D>::empty({C});
            for (int64_t c = 0; c < C; ++c)
              grads[1].data()[c] = static_cast<T>(sums[static_cast<size_t>(C + c)] * saved->invstd.data()[c]);
          }
          if (need[2]) {
            grads[2] = Tensor<T, D>::empty({C});
            for (int64_t c = 0; c < C; ++c) grads[2].data()[c] = static_cast<T>(sums[static_cast<size_t>(c)]);
          }
          if (need[0]) {
            detail::allreduce_raw(sums.data(), 2 * C, MPI_SUM);
            grads[0] = Tensor<T, D>::empty(x.shape());
            kernels::cpu::batch_norm_backward_elemt(
                dy.data(), x.data(), grads[0].data(), N, C, spatial, saved->mean.data(), saved->invstd.data(),
                weight.defined() ? weight.data() : nullptr, sums.data(), sums.data() + C, global_count);
          }
          return grads;
        });
  }
  return out;
}

}  // namespace hnn::distributed
