// Folding eval-mode batch norm into its neighbouring Linear / Conv2d for inference (PyTorch's
// torch.nn.utils.fuse_conv_bn_eval / fuse_linear_bn_eval, plus fold_batch_norm over a whole Sequential).
// Depends on nn/linear.hpp, nn/conv.hpp, nn/flatten.hpp, nn/dropout.hpp, nn/batch_norm.hpp,
// nn/sequential.hpp, and batch_norm_math from ops/batch_norm.hpp (through nn/batch_norm.hpp).
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "hnn/nn/batch_norm.hpp"
#include "hnn/nn/batch_norm_variants.hpp"
#include "hnn/nn/conv.hpp"
#include "hnn/nn/dropout.hpp"
#include "hnn/nn/flatten.hpp"
#include "hnn/nn/linear.hpp"
#include "hnn/nn/sequential.hpp"
#include "hnn/ops/batch_norm.hpp"

namespace hnn::nn::utils {

/// Batch norm in eval mode is an affine map per channel (ATen's alpha/beta form,
/// batch_norm_math::alpha_beta):
///   y = (x - mean) / sqrt(var + eps) * gamma + beta = x * scale[c] + shift[c],
///   scale = gamma * invstd,  invstd = 1 / sqrt(var + eps),  shift = beta - mean * scale.
/// Computed in double from the module's running statistics (gamma = 1, beta = 0 when affine is off).
struct BatchNormAffine {
  std::vector<double> scale, shift;
};

namespace detail {

template <class T, class D>
std::vector<double> as_doubles(const Tensor<T, D>& t) {
  const auto v = t.to_vector();
  return std::vector<double>(v.begin(), v.end());
}

/// The eval-mode affine map of any BatchNorm1d/2d/3d, GhostBatchNorm1d/2d or FrozenBatchNorm1d/2d/3d
/// (nullptr-safe: nullopt for other modules). `kind` gets the BatchNormNd the module folds as.
template <class T, class D>
std::optional<BatchNormAffine> batch_norm_affine(const Module<T, D>* module, std::string* kind = nullptr) {
  auto from = [&](const auto& bn) -> BatchNormAffine {
    if (!bn.options().track_running_stats())
      throw std::invalid_argument(
          bn.name() +
          ": cannot fold a batch norm built with track_running_stats=False: "
          "in eval mode it normalises with batch statistics, which no fixed affine map equals");
    const auto mean = as_doubles(bn.running_mean()), var = as_doubles(bn.running_var());
    const size_t c = mean.size();
    BatchNormAffine a{std::vector<double>(c), std::vector<double>(c)};
    const auto gamma = bn.weight().defined() ? as_doubles(bn.weight()) : std::vector<double>(c, 1.0);
    const auto beta = bn.bias().defined() ? as_doubles(bn.bias()) : std::vector<double>(c, 0.0);
    for (size_t i = 0; i < c; ++i) {
      const auto k = batch_norm_math::alpha_beta(
          mean[i], batch_norm_math::invstd_from_var(var[i], bn.options().eps()), gamma[i], beta[i]);
      a.scale[i] = k.alpha;
      a.shift[i] = k.beta;
    }
    if (kind) *kind = bn.name();
    return a;
  };
  if (auto* bn = dynamic_cast<const BatchNorm1d<T, D>*>(module)) return from(*bn);
  if (auto* bn = dynamic_cast<const BatchNorm2d<T, D>*>(module)) return from(*bn);
  if (auto* bn = dynamic_cast<const BatchNorm3d<T, D>*>(module)) return from(*bn);
  // Ghost batch norm's eval is BatchNorm's: it folds as the BatchNormNd of its rank.
  if (auto* bn = dynamic_cast<const GhostBatchNorm1d<T, D>*>(module)) {
    auto a = from(*bn);
    if (kind) *kind = "BatchNorm1d";
    return a;
  }
  if (auto* bn = dynamic_cast<const GhostBatchNorm2d<T, D>*>(module)) {
    auto a = from(*bn);
    if (kind) *kind = "BatchNorm2d";
    return a;
  }
  // A frozen batch norm is the same map in train and eval; it folds as the BatchNormNd of its rank.
  auto frozen = [&](const auto& f, const char* as) -> BatchNormAffine {
    const auto mean = as_doubles(f.running_mean()), var = as_doubles(f.running_var());
    const auto gamma = as_doubles(f.weight()), beta = as_doubles(f.bias());
    BatchNormAffine a{std::vector<double>(mean.size()), std::vector<double>(mean.size())};
    for (size_t i = 0; i < mean.size(); ++i) {
      const auto k = batch_norm_math::alpha_beta(mean[i], batch_norm_math::invstd_from_var(var[i], f.eps()),
                                                 gamma[i], beta[i]);
      a.scale[i] = k.alpha;
      a.shift[i] = k.beta;
    }
    if (kind) *kind = as;
    return a;
  };
  if (auto* f = dynamic_cast<const FrozenBatchNorm1d<T, D>*>(module)) return frozen(*f, "BatchNorm1d");
  if (auto* f = dynamic_cast<const FrozenBatchNorm2d<T, D>*>(module)) return frozen(*f, "BatchNorm2d");
  if (auto* f = dynamic_cast<const FrozenBatchNorm3d<T, D>*>(module)) return frozen(*f, "BatchNorm3d");
  return std::nullopt;
}

template <class T, class D>
void write(Tensor<T, D> dst, const std::vector<double>& values) {
  std::vector<T> cast(values.begin(), values.end());
  NoGradGuard guard;
  dst.copy_(tensor<T>(cast, dst.shape()).template to<D>());
}

/// out[o, j] = w[o, j] * scale[o]  (fold after: per output channel).
inline std::vector<double> scale_rows(std::vector<double> w, int64_t rows, const std::vector<double>& scale) {
  const int64_t cols = static_cast<int64_t>(w.size()) / rows;
  for (int64_t o = 0; o < rows; ++o)
    for (int64_t j = 0; j < cols; ++j) w[o * cols + j] *= scale[o];
  return w;
}

}  // namespace detail

/// A Linear equal to `bn(linear(x))` with `bn` in eval mode: W' = diag(scale) W, b' = scale * b + shift.
template <class T, class D, class BN>
Linear<T, D> fuse_linear_bn_eval(const Linear<T, D>& linear, const BN& bn) {
  auto affine = detail::batch_norm_affine<T, D>(&bn);
  if (!affine) throw std::invalid_argument("fuse_linear_bn_eval: the second module is not a batch norm");
  const int64_t out = linear.out_features();
  if (static_cast<int64_t>(affine->scale.size()) != out)
    throw std::invalid_argument("fuse_linear_bn_eval: Linear has " + std::to_string(out) + " outputs but " +
                                bn.name() + " has " + std::to_string(affine->scale.size()) + " features");
  Linear<T, D> fused(linear.in_features(), out, /*bias=*/true);
  detail::write(fused.weight(), detail::scale_rows(detail::as_doubles(linear.weight()), out, affine->scale));
  std::vector<double> b =
      linear.bias().defined() ? detail::as_doubles(linear.bias()) : std::vector<double>(out, 0.0);
  for (int64_t o = 0; o < out; ++o) b[o] = b[o] * affine->scale[o] + affine->shift[o];
  detail::write(fused.bias(), b);
  fused.eval();
  return fused;
}

/// A Conv2d equal to `bn(conv(x))` with `bn` in eval mode: each output channel's filter scaled by
/// scale[o], bias' = scale * bias + shift.
template <class T, class D, class BN>
Conv2d<T, D> fuse_conv_bn_eval(const Conv2d<T, D>& conv, const BN& bn) {
  auto affine = detail::batch_norm_affine<T, D>(&bn);
  if (!affine) throw std::invalid_argument("fuse_conv_bn_eval: the second module is not a batch norm");
  const int64_t out = conv.options().out_channels();
  if (static_cast<int64_t>(affine->scale.size()) != out)
    throw std::invalid_argument("fuse_conv_bn_eval: Conv2d has " + std::to_string(out) +
                                " output channels but " + bn.name() + " has " +
                                std::to_string(affine->scale.size()) + " features");
  auto options = conv.options();
  options.bias(true);
  Conv2d<T, D> fused(options);
  detail::write(fused.weight(), detail::scale_rows(detail::as_doubles(conv.weight()), out, affine->scale));
  std::vector<double> b =
      conv.bias().defined() ? detail::as_doubles(conv.bias()) : std::vector<double>(out, 0.0);
  for (int64_t o = 0; o < out; ++o) b[o] = b[o] * affine->scale[o] + affine->shift[o];
  detail::write(fused.bias(), b);
  fused.eval();
  return fused;
}

/// A Linear equal to `linear(bn(x))` (batch norm *before* the Linear, as in Linear-ReLU-BN-Linear), where
/// x has `channels` channels of `per_channel` features each once flattened (1 for BatchNorm1d on (N, C)):
///   W'[:, j] = W[:, j] * scale[c(j)],  b' = b + sum_j W[:, j] * shift[c(j)],  c(j) = j / per_channel.
template <class T, class D>
Linear<T, D> fuse_bn_linear_eval(const BatchNormAffine& affine, const Linear<T, D>& linear) {
  const int64_t in = linear.in_features(), out = linear.out_features();
  const auto channels = static_cast<int64_t>(affine.scale.size());
  if (channels == 0 || in % channels != 0)
    throw std::invalid_argument("fuse_bn_linear_eval: Linear has " + std::to_string(in) +
                                " inputs, not a multiple of the batch norm's " + std::to_string(channels) +
                                " channels");
  const int64_t per_channel = in / channels;
  auto w = detail::as_doubles(linear.weight());
  std::vector<double> b =
      linear.bias().defined() ? detail::as_doubles(linear.bias()) : std::vector<double>(out, 0.0);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t j = 0; j < in; ++j) {
      const int64_t c = j / per_channel;
      b[o] += w[o * in + j] * affine.shift[c];
      w[o * in + j] *= affine.scale[c];
    }
  Linear<T, D> fused(in, out, /*bias=*/true);
  detail::write(fused.weight(), w);
  detail::write(fused.bias(), b);
  fused.eval();
  return fused;
}

/// A copy of `model` in eval mode with every batch norm folded into a neighbouring layer:
///  - into the Linear / Conv2d directly before it (Conv-BN, Linear-BN: always exact);
///  - else into the Linear directly after it, possibly across Flatten / Dropout modules (BN-Linear,
///    BN-Dropout-Linear as in the seed MLP, BN2d-Flatten-Linear),
///    which is exact too. A BatchNorm1d directly before a Linear is taken to see (N, C) input, as it does
///    in an MLP. (Folding into a following Conv2d is not done: with zero padding the shift
///    would wrongly reach the padded border.)
/// A batch norm with neither neighbour stays, in eval mode. Nested Sequentials are folded recursively.
/// `model` itself is untouched; the result equals `model.eval()` on every input up to rounding.
template <class T, class D>
Sequential<T, D> fold_batch_norm(const Sequential<T, D>& model) {
  using ModulePtr = std::shared_ptr<Module<T, D>>;
  std::vector<ModulePtr> in;
  for (size_t i = 0; i < model.size(); ++i) in.push_back(model[i].clone());
  std::vector<ModulePtr> out;
  for (size_t i = 0; i < in.size(); ++i) {
    auto& m = in[i];
    if (auto* seq = dynamic_cast<Sequential<T, D>*>(m.get())) {
      out.push_back(std::make_shared<Sequential<T, D>>(fold_batch_norm(*seq)));
      continue;
    }
    std::string kind;
    auto affine = detail::batch_norm_affine<T, D>(m.get(), &kind);
    if (!affine) {
      out.push_back(m);
      continue;
    }
    Module<T, D>* prev = out.empty() ? nullptr : out.back().get();
    if (auto* lin = dynamic_cast<Linear<T, D>*>(prev); lin && kind == "BatchNorm1d") {
      out.back() = std::make_shared<Linear<T, D>>(fuse_linear_bn_eval(*lin, *m));
      continue;
    }
    if (auto* conv = dynamic_cast<Conv2d<T, D>*>(prev); conv && kind == "BatchNorm2d") {
      out.back() = std::make_shared<Conv2d<T, D>>(fuse_conv_bn_eval(*conv, *m));
      continue;
    }
    // Fold forward into the next Linear, across Flatten and (eval-mode, hence identity) Dropout modules,
    // which stay in place.
    size_t next = i + 1;
    bool flatten = false;
    for (; next < in.size(); ++next) {
      if (dynamic_cast<Flatten<T, D>*>(in[next].get()))
        flatten = true;
      else if (!dynamic_cast<Dropout<T, D>*>(in[next].get()))
        break;
    }
    if (next < in.size()) {
      const auto channels = static_cast<int64_t>(affine->scale.size());
      if (auto* lin = dynamic_cast<Linear<T, D>*>(in[next].get());
          lin && (flatten ? lin->in_features() % channels == 0
                          : kind == "BatchNorm1d" && lin->in_features() == channels)) {
        for (size_t k = i + 1; k < next; ++k) out.push_back(in[k]);
        out.push_back(std::make_shared<Linear<T, D>>(fuse_bn_linear_eval(*affine, *lin)));
        i = next;
        continue;
      }
    }
    out.push_back(m);
  }
  Sequential<T, D> folded;
  for (auto& m : out) folded.push_back_ptr(m);
  folded.eval();
  return folded;
}

}  // namespace hnn::nn::utils
