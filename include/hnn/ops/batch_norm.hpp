// The batch-norm op: forward in training (batch statistics, running-stat update in the buffers' own
// storage) or evaluation (given running statistics), and its closed-form backward for x, weight and bias.
// The arithmetic lives in kernels chosen at compile time by the device type (BatchNormKernels<Device>,
// kernels/kernel_traits.hpp), whose per-channel formulas are kernels/batch_norm_math.hpp's. Depends on
// hnn/tensor.hpp, kernels/cpu/batch_norm.hpp, kernels/batch_norm_math.hpp.
#pragma once

#include <memory>
#include <sstream>
#include <vector>

#include "hnn/autograd/function.hpp"
#include "hnn/kernels/batch_norm_math.hpp"
#include "hnn/kernels/cpu/batch_norm.hpp"
#include "hnn/kernels/kernel_traits.hpp"
#include "hnn/ops/copy.hpp"
#include "hnn/ops/creation.hpp"

namespace hnn {

/// Batch norm's per-channel formulas (Chan's merge, invstd, running update, alpha/beta), for the layers
/// above the op that combine statistics themselves: SyncBatchNorm across ranks, folding into Linear/Conv.
namespace batch_norm_math = kernels::batch_norm_math;

namespace detail {

/// torch.Size's repr, used in PyTorch's batch-norm messages: "torch.Size([1, 3])".
inline std::string torch_size(const Shape& s) {
  std::ostringstream os;
  os << "torch.Size(" << s << ")";
  return os.str();
}

template <class T, class D>
void check_batch_norm_param(const char* name, const Tensor<T, D>& t, int64_t num_features) {
  if (!t.defined()) return;
  HNN_CHECK(t.numel() == num_features, name, " should contain ", num_features, " elements not ", t.numel());
  HNN_CHECK(t.is_contiguous(), name, " must be contiguous");
}

/// Whether t (N, C, spatial...) is channels-last contiguous: its memory is the contiguous
/// (N, spatial..., C) tensor permuted to (N, C, spatial...), PyTorch's torch.channels_last (4-D) and
/// torch.channels_last_3d (5-D) layouts. Dims of size 1 may have any stride. Such an input is, as
/// memory, an (N * spatial, C) matrix: the kernels' rows layout.
template <class T, class D>
bool channels_last_contiguous(const Tensor<T, D>& t) {
  if (t.dim() < 3) return false;
  int64_t expected = 1;
  auto next = [&](int64_t k) {
    if (t.size(k) != 1 && t.stride(k) != expected) return false;
    expected *= t.size(k);
    return true;
  };
  if (!next(1)) return false;
  for (int64_t k = t.dim() - 1; k >= 2; --k)
    if (!next(k)) return false;
  return next(0);
}

/// The permutation from (N, C, spatial...) to (N, spatial..., C), and its inverse.
inline Shape channels_last_order(int64_t dims) {
  Shape order{0};
  for (int64_t k = 2; k < dims; ++k) order.push_back(k);
  order.push_back(1);
  return order;
}

inline Shape channels_first_order(int64_t dims) {
  Shape order{0, dims - 1};
  for (int64_t k = 1; k < dims - 1; ++k) order.push_back(k);
  return order;
}

/// An uninitialised tensor of `shape` (N, C, spatial...) laid out channels-last.
template <class T, class D>
Tensor<T, D> empty_channels_last(const Shape& shape) {
  Shape permuted;
  for (const int64_t k : channels_last_order(static_cast<int64_t>(shape.size())))
    permuted.push_back(shape[static_cast<size_t>(k)]);
  return Tensor<T, D>::empty(permuted).permute(channels_first_order(static_cast<int64_t>(shape.size())));
}

/// Per-channel statistics kept for backward: the batch mean and 1/sqrt(var + eps) (training) or the
/// running mean and 1/sqrt(running_var + eps) (evaluation), in double.
template <class D>
struct BatchNormSaved {
  Tensor<double, D> mean;
  Tensor<double, D> invstd;
};

}  // namespace detail

/// One run of consecutive samples (dim 0) normalised on its own by batch_norm_chunks: `rows` samples, in
/// training (batch statistics, running statistics updated with `momentum` when defined) or not (the
/// running statistics as they are when this chunk's turn comes).
struct BatchNormChunk {
  int64_t rows = 0;
  bool training = false;
  double momentum = 0.0;
};

/// Batch norm applied to consecutive chunks of the batch in turn, as separate batch_norm calls on
/// input.narrow(0, ...) would be (values, running-statistic updates in order, gradients), with one output,
/// one autograd node and no copies: ghost batch norm's virtual batches, and batch_norm itself (one chunk).
/// The chunks' rows must add up to N. weight/bias gradients are the sums over the chunks.
template <class T, class D>
Tensor<T, D> batch_norm_chunks(const Tensor<T, D>& input, const Tensor<T, D>& running_mean,
                               const Tensor<T, D>& running_var, const Tensor<T, D>& weight,
                               const Tensor<T, D>& bias, const std::vector<BatchNormChunk>& chunks,
                               double eps) {
  static_assert(std::is_floating_point_v<T>, "batch_norm needs a floating point tensor");
  HNN_CHECK(input.dim() >= 2,
            "batch_norm: expected an input with at least 2 dimensions (N, C, ...), got shape ",
            input.shape());
  const int64_t N = input.size(0), C = input.size(1);
  const int64_t S = C == 0 || N == 0 ? 0 : input.numel() / (N * C);
  HNN_CHECK(!chunks.empty(), "batch_norm_chunks: no chunks given for input of shape ", input.shape());
  int64_t covered = 0;
  bool any_training = false;
  for (const auto& chunk : chunks) {
    HNN_CHECK(chunk.rows >= 0, "batch_norm_chunks: a chunk of ", chunk.rows, " rows");
    covered += chunk.rows;
    any_training = any_training || chunk.training;
    if (chunk.training) {
      Shape chunk_shape = input.shape();
      chunk_shape[0] = chunk.rows;
      HNN_CHECK(chunk.rows * S != 1, "Expected more than 1 value per channel when training, got input size ",
                detail::torch_size(chunk_shape));
    }
  }
  HNN_CHECK(covered == N, "batch_norm_chunks: the chunks cover ", covered, " samples, the input has ", N,
            " (shape ", input.shape(), ")");
  detail::check_batch_norm_param("running_mean", running_mean, C);
  detail::check_batch_norm_param("running_var", running_var, C);
  HNN_CHECK(running_mean.defined() == running_var.defined(),
            "running_mean and running_var must both be given or both be undefined");
  for (const auto& chunk : chunks)
    if (!chunk.training) {
      HNN_CHECK(running_mean.defined(), "running_mean must be defined in evaluation mode");
    }
  detail::check_batch_norm_param("weight", weight, C);
  detail::check_batch_norm_param("bias", bias, C);

  // A channels-last input (N, C, H, W) is normalised where it lies, as the (N*H*W, C) rows it is in
  // memory, and gives a channels-last output, as PyTorch's does; any other layout is made contiguous.
  // Either way a chunk of samples is one contiguous block of memory.
  const bool channels_last = !input.is_contiguous() && detail::channels_last_contiguous(input);
  Tensor<T, D> x = input.is_contiguous() || channels_last ? input.detach() : input.detach().contiguous();
  auto out =
      channels_last ? detail::empty_channels_last<T, D>(input.shape()) : Tensor<T, D>::empty(input.shape());
  // The kernels' (N, C, S) view of a chunk of `rows` samples: (rows*S, C, 1) for channels-last.
  const int64_t kS = channels_last ? 1 : S;
  auto kernel_rows = [&](int64_t rows) { return channels_last ? rows * S : rows; };
  const auto K = static_cast<int64_t>(chunks.size());
  auto saved = std::make_shared<detail::BatchNormSaved<D>>();
  const T* weight_data = weight.defined() ? weight.data() : nullptr;
  const T* bias_data = bias.defined() ? bias.data() : nullptr;
  const bool needs_grad = autograd::any_requires_grad(input, weight, bias);

  if (input.numel() > 0) {
    // Training chunks always save their statistics (the kernels compute them anyway); evaluation chunks
    // only when there will be a backward, taken from the running statistics where they live.
    saved->mean = Tensor<double, D>::empty({K * C});
    saved->invstd = Tensor<double, D>::empty({K * C});
    int64_t first = 0;
    for (int64_t k = 0; k < K; ++k) {
      const auto& chunk = chunks[static_cast<size_t>(k)];
      const int64_t offset = first * C * S;
      first += chunk.rows;
      if (chunk.rows == 0) continue;
      double* mean = saved->mean.data() + k * C;
      double* invstd = saved->invstd.data() + k * C;
      if (chunk.training) {
        BatchNormKernels<D>::forward_train(
            x.data() + offset, out.data() + offset, kernel_rows(chunk.rows), C, kS, weight_data, bias_data,
            eps, chunk.momentum, running_mean.defined() ? running_mean.data() : nullptr,
            running_var.defined() ? running_var.data() : nullptr, mean, invstd);
      } else {
        BatchNormKernels<D>::forward_eval(x.data() + offset, out.data() + offset, kernel_rows(chunk.rows), C,
                                          kS, running_mean.data(), running_var.data(), weight_data, bias_data,
                                          eps);
        if (needs_grad)
          BatchNormKernels<D>::eval_statistics(running_mean.data(), running_var.data(), C, eps, mean, invstd);
      }
    }
  }
  // Nothing to normalise in an empty input and no statistics to take; running statistics stay as they are.

  if (needs_grad) {
    const char* node = K == 1 ? "NativeBatchNormBackward0" : "BatchNormChunksBackward";
    autograd::record<T, D>(
        node, out, {input, weight, bias},
        [x, weight = weight.defined() ? weight.detach() : Tensor<T, D>(), saved, chunks, channels_last, C, S,
         kS](const Tensor<T, D>& grad_out, const std::vector<bool>& need) {
          std::vector<Tensor<T, D>> grads(3);
          if (x.numel() == 0) {
            if (need[0]) grads[0] = zeros<T, D>(x.shape());
            if (need[1]) grads[1] = zeros<T, D>({C});
            if (need[2]) grads[2] = zeros<T, D>({C});
            return grads;
          }
          // dy in the layout of x: contiguous, or channels-last (as a contiguous
          // (N, H, W, C) tensor, whose data is the rows the kernels read).
          const int64_t dims = x.dim();
          Tensor<T, D> dy = channels_last ? grad_out.permute(detail::channels_last_order(dims)).contiguous()
                                          : grad_out.contiguous();
          if (need[0])
            grads[0] =
                channels_last ? detail::empty_channels_last<T, D>(x.shape()) : Tensor<T, D>::empty(x.shape());
          // One chunk writes weight and bias gradients directly; several write a row each, summed after.
          const auto K = static_cast<int64_t>(chunks.size());
          if (need[1]) grads[1] = K == 1 ? Tensor<T, D>::empty({C}) : zeros<T, D>({K, C});
          if (need[2]) grads[2] = K == 1 ? Tensor<T, D>::empty({C}) : zeros<T, D>({K, C});
          int64_t first = 0;
          for (int64_t k = 0; k < K; ++k) {
            const auto& chunk = chunks[static_cast<size_t>(k)];
            const int64_t offset = first * C * S;
            first += chunk.rows;
            if (chunk.rows == 0) continue;
            BatchNormKernels<D>::backward(
                dy.data() + offset, x.data() + offset, channels_last ? chunk.rows * S : chunk.rows, C, kS,
                weight.defined() ? weight.data() : nullptr, saved->mean.data() + k * C,
                saved->invstd.data() + k * C, chunk.training, need[0] ? grads[0].data() + offset : nullptr,
                need[1] ? grads[1].data() + k * C : nullptr, need[2] ? grads[2].data() + k * C : nullptr);
          }
          if (K > 1) {
            NoGradGuard guard;
            if (need[1]) grads[1] = grads[1].sum({0});
            if (need[2]) grads[2] = grads[2].sum({0});
          }
          return grads;
        });
  }
  return out;
}

/// Batch normalization over dim 1 of `input` (N, C, *) with PyTorch's semantics.
///   training: y = (x - mean_B) / sqrt(var_B + eps) * weight + bias with the batch mean and biased batch
///             variance; running_mean/var (when defined) become (1 - momentum) * running + momentum * batch,
///             with the unbiased batch variance, updated in place.
///   eval:     the same with running_mean/running_var in place of the batch statistics.
/// weight/bias may be undefined (affine=false). Backward is the closed form:
///   dx = weight * invstd / M * (M dy - sum(dy) - xhat * sum(dy * xhat))      (training, M = N * spatial)
///   dx = weight * invstd * dy                                                (eval)
///   dweight = sum(dy * xhat), dbias = sum(dy)
template <class T, class D>
Tensor<T, D> batch_norm(const Tensor<T, D>& input, const Tensor<T, D>& running_mean,
                        const Tensor<T, D>& running_var, const Tensor<T, D>& weight, const Tensor<T, D>& bias,
                        bool training, double momentum, double eps) {
  HNN_CHECK(input.dim() >= 2,
            "batch_norm: expected an input with at least 2 dimensions (N, C, ...), got shape ",
            input.shape());
  return batch_norm_chunks(input, running_mean, running_var, weight, bias,
                           {BatchNormChunk{input.size(0), training, momentum}}, eps);
}

}  // namespace hnn
