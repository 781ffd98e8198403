// Loss ops with fused forward and closed-form backward, PyTorch's numbers: cross_entropy (class-index or
// probability targets, label_smoothing, ignore_index), nll_loss, mse_loss, binary_cross_entropy (log
// clamped at -100) and binary_cross_entropy_with_logits (stable, optional pos_weight); reduction
// none/mean/sum. Depends on ops/softmax.hpp (stable log-softmax lines), ops/shape.hpp, kernels/cpu/loops.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "hnn/autograd/function.hpp"
#include "hnn/kernels/cpu/loops.hpp"
#include "hnn/ops/creation.hpp"
#include "hnn/ops/shape.hpp"
#include "hnn/ops/softmax.hpp"

namespace hnn {

/// How a loss combines its per-element values: keep them (None), average (Mean, the default) or add (Sum).
enum class Reduction { None, Mean, Sum };

/// PyTorch's reduction strings: "none", "mean", "sum".
inline Reduction reduction_from_string(const std::string& s) {
  if (s == "mean") return Reduction::Mean;
  if (s == "sum") return Reduction::Sum;
  if (s == "none") return Reduction::None;
  throw std::invalid_argument(s +
                              " is not a valid value for reduction (expected \"none\", \"mean\" or \"sum\")");
}

inline const char* reduction_string(Reduction r) {
  switch (r) {
    case Reduction::None:
      return "none";
    case Reduction::Sum:
      return "sum";
    default:
      return "mean";
  }
}

namespace detail {

/// An input (N, C, d1, ...) seen as (outer, classes, inner); a 1-D input (C) is one unbatched sample.
struct ClassLayout {
  int64_t outer = 1, classes = 1, inner = 1;
  int64_t positions() const { return outer * inner; }
  /// Offset of class 0 of position p (p = n * inner + k); classes are `inner` apart.
  int64_t base(int64_t p) const { return (p / inner) * classes * inner + p % inner; }
};

template <class T, class D>
ClassLayout class_layout(const Tensor<T, D>& input, const char* who) {
  HNN_CHECK(input.dim() >= 1, who,
            ": expected input of shape (C), (N, C) or (N, C, d1, ...), got a 0-dim tensor");
  ClassLayout l;
  if (input.dim() == 1) {
    l.classes = input.size(0);
    return l;
  }
  l.outer = input.size(0);
  l.classes = input.size(1);
  for (int64_t d = 2; d < input.dim(); ++d) l.inner *= input.size(d);
  return l;
}

/// The shape of a class-index target (and of the unreduced loss) for an input: input without dim 1.
inline Shape index_target_shape(const Shape& input_shape) {
  std::vector<int64_t> dims;
  for (size_t d = 0; d < input_shape.size(); ++d)
    if (d != 1 || input_shape.size() == 1) dims.push_back(input_shape[d]);
  if (input_shape.size() == 1) dims.clear();
  return Shape(dims);
}

/// Turns per-position losses (double) into the op's output: the tensor itself (None), their sum, or their
/// sum divided by `denominator` (Mean; 0/0 gives nan as in PyTorch).
template <class T, class D>
Tensor<T, D> reduce_loss(const std::vector<double>& losses, const Shape& shape, Reduction reduction,
                         double denominator) {
  if (reduction == Reduction::None) {
    auto out = Tensor<T, D>::empty(shape);
    T* po = out.data();
    for (size_t i = 0; i < losses.size(); ++i) po[i] = static_cast<T>(losses[i]);
    return out;
  }
  double total = 0;
  for (double v : losses) total += v;
  if (reduction == Reduction::Mean) total /= denominator;
  return full<T, D>(Shape{}, static_cast<T>(total));
}

/// The factor d(output) / d(loss_i) times the incoming gradient: g[i] (None), g (Sum) or g / denominator
/// (Mean). Holds a contiguous copy of g when it is per element.
template <class T, class D>
class LossGradScale {
 public:
  LossGradScale(const Tensor<T, D>& g, Reduction reduction, double denominator) {
    if (reduction == Reduction::None) {
      holder_ = g.contiguous();
      per_element_ = holder_.data();
    } else {
      uniform_ = static_cast<T>(reduction == Reduction::Mean ? static_cast<double>(g.item()) / denominator
                                                             : static_cast<double>(g.item()));
    }
  }
  T operator()(int64_t i) const { return per_element_ ? per_element_[i] : uniform_; }

 private:
  Tensor<T, D> holder_;
  const T* per_element_ = nullptr;
  T uniform_ = 0;
};

/// Calls fn(begin, end) over [0, n) in parallel chunks sized so each chunk does ~parallel_grain work.
template <class Fn>
void loss_parallel_for(int64_t n, int64_t work_per_item, Fn&& fn) {
  parallel_for(n, std::max<int64_t>(1, parallel_grain / std::max<int64_t>(work_per_item, 1)),
               std::forward<Fn>(fn));
}

/// Checks class-index targets: each is ignore_index or in [0, classes). Returns the count not ignored.
inline int64_t check_class_targets(const int64_t* target, int64_t n, int64_t classes, int64_t ignore_index,
                                   const char* who) {
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = target[i];
    if (t == ignore_index) continue;
    HNN_CHECK(t >= 0 && t < classes, who, ": Target ", t, " is out of bounds (number of classes: ", classes,
              "; expected 0 <= target < ", classes, " or target == ignore_index ", ignore_index, ")");
    ++count;
  }
  return count;
}

/// A per-class weight (C) as doubles, empty when undefined; PyTorch's message for any other shape.
template <class T, class D>
std::vector<double> class_weights(const Tensor<T, D>& weight, int64_t classes, const char* who) {
  if (!weight.defined()) return {};
  HNN_CHECK(weight.dim() == 1 && weight.numel() == classes, who,
            ": weight tensor should be defined either for all ", classes,
            " classes or no classes but got weight tensor of shape: ", weight.shape());
  const auto values = weight.detach().contiguous().to_vector();
  return std::vector<double>(values.begin(), values.end());
}

/// The Mean denominator of a class-weighted loss: the sum of the weights of the targets not ignored.
inline double weighted_target_count(const int64_t* target, int64_t n, int64_t ignore_index,
                                    const std::vector<double>& w) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i)
    if (target[i] != ignore_index) total += w[static_cast<size_t>(target[i])];
  return total;
}

/*
 * Cross entropy with class-index targets t and label smoothing eps over C classes, on logp = log_softmax(x):
 *   loss_i = -(1 - eps) * logp[t_i] - (eps / C) * sum_c logp[c]        (0 where t_i == ignore_index)
 *   dloss_i / dx_c = softmax(x)_c - (1 - eps) * [c == t_i] - eps / C
 * Mean divides by the number of targets that are not ignored (as nll_loss and PyTorch's smoothing term do).
 * With a per-class weight w (PyTorch's `weight`):
 *   loss_i = -(1 - eps) * w[t_i] * logp[t_i] - (eps / C) * sum_c w[c] * logp[c]
 *   dloss_i / dx_c = softmax(x)_c * ((1 - eps) * w[t_i] + (eps / C) * sum w) - (1 - eps) * w[t_i] * [c ==
 * t_i]
 *                    - (eps / C) * w[c]
 * and Mean divides by the sum of w[t_i] over the targets not ignored, as PyTorch does for both terms.
 */
template <class T, class D>
Tensor<T, D> cross_entropy_indices(const Tensor<T, D>& input_in, const Tensor<int64_t, D>& target_in,
                                   Reduction reduction, int64_t ignore_index, double label_smoothing,
                                   const char* who, const Tensor<T, D>& weight = {}) {
  require_cpu_kernel<"cross_entropy", D>();
  static_assert(std::is_floating_point_v<T>, "cross_entropy needs floating point logits");
  const ClassLayout l = class_layout(input_in, who);
  const Shape target_shape = index_target_shape(input_in.shape());
  HNN_CHECK(target_in.shape() == target_shape, who, ": expected target of shape ", target_shape,
            " (class indices) or ", input_in.shape(), " (probabilities), got ", target_in.shape());
  HNN_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, who,
            ": label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  const Tensor<T, D> input = input_in.detach().contiguous();
  const Tensor<int64_t, D> target = target_in.contiguous();
  const int64_t P = l.positions(), C = l.classes, inner = l.inner;
  const int64_t* pt = target.data();
  double count = static_cast<double>(check_class_targets(pt, P, C, ignore_index, who));
  // Class weights (empty: none), their sum, and the weighted Mean denominator.
  const auto w = std::make_shared<const std::vector<double>>(class_weights(weight, C, who));
  const bool weighted = !w->empty();
  double weight_sum = 0;
  for (const double v : *w) weight_sum += v;
  if (weighted) count = weighted_target_count(pt, P, ignore_index, *w);

  auto logp = Tensor<T, D>::empty(input.shape());
  const T* px = input.data();
  T* plp = logp.data();
  std::vector<double> losses(static_cast<size_t>(P));
  const double eps = label_smoothing, keep = 1.0 - label_smoothing,
               smooth = label_smoothing / static_cast<double>(C);
  loss_parallel_for(P, 3 * C, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int64_t base = l.base(p);
      hnn::detail::softmax_line<T, true>(px + base, plp + base, C, inner);
      const int64_t t = pt[p];
      if (t == ignore_index) {
        losses[static_cast<size_t>(p)] = 0.0;
        continue;
      }
      const double wt = weighted ? (*w)[static_cast<size_t>(t)] : 1.0;
      double loss = -keep * wt * static_cast<double>(plp[base + t * inner]);
      if (eps > 0) {
        double total = 0;
        for (int64_t c = 0; c < C; ++c)
          total +=
              (weighted ? (*w)[static_cast<size_t>(c)] : 1.0) * static_cast<double>(plp[base + c * inner]);
        loss -= smooth * total;
      }
      losses[static_cast<size_t>(p)] = loss;
    }
  });
  Tensor<T, D> out = reduce_loss<T, D>(losses, target_shape, reduction, count);
  if (autograd::any_requires_grad(input_in))
    autograd::record<T, D>(
        "NllLossBackward0", out, {input_in},
        [logp, target, l, reduction, ignore_index, keep, smooth, count, w, weight_sum](
            const Tensor<T, D>& g, const std::vector<bool>&) {
          LossGradScale<T, D> scale(g, reduction, count);
          auto dx = Tensor<T, D>::empty(logp.shape());
          const T* plp = logp.data();
          const int64_t* pt = target.data();
          T* pd = dx.data();
          const int64_t C = l.classes, inner = l.inner;
          loss_parallel_for(l.positions(), 2 * C, [&](int64_t b, int64_t e) {
            for (int64_t p = b; p < e; ++p) {
              const int64_t base = l.base(p), t = pt[p];
              if (t == ignore_index) {
                // PyTorch's log_softmax backward gives 0 - exp(logp) * 0 here: 0, or nan
                // where the row's log-probabilities are nan (a nan or +inf logit), even
                // though the row is ignored.
                for (int64_t c = 0; c < C; ++c)
                  pd[base + c * inner] = T(0) - std::exp(plp[base + c * inner]) * T(0);
                continue;
              }
              const T s = scale(p);
              if (w->empty()) {
                for (int64_t c = 0; c < C; ++c)
                  pd[base + c * inner] = s * static_cast<T>(std::exp(plp[base + c * inner]) - smooth);
                pd[base + t * inner] -= s * static_cast<T>(keep);
                continue;
              }
              const double wt = (*w)[static_cast<size_t>(t)];
              const double mass = keep * wt + smooth * weight_sum;
              for (int64_t c = 0; c < C; ++c)
                pd[base + c * inner] =
                    s * static_cast<T>(static_cast<double>(std::exp(plp[base + c * inner])) * mass -
                                       smooth * (*w)[static_cast<size_t>(c)]);
              pd[base + t * inner] -= s * static_cast<T>(keep * wt);
            }
          });
          return Grads<T, D>{dx};
        });
  return out;
}

/*
 * Cross entropy with probability targets y (shaped like the logits), smoothed as y' = (1 - eps) y + eps / C:
 *   loss_i = -sum_c y'_c * logp_c,    dloss_i / dx_c = softmax(x)_c * sum_c' y'_c' - y'_c
 * Mean divides by the number of positions (N * d1 * ...), as PyTorch does. With a per-class weight w:
 *   loss_i = -sum_c w_c y'_c logp_c,  dloss_i / dx_c = softmax(x)_c * sum_c' w_c' y'_c' - w_c y'_c,
 * and Mean still divides by the number of positions (PyTorch's rule for probability targets).
 */
template <class T, class D>
Tensor<T, D> cross_entropy_probabilities(const Tensor<T, D>& input_in, const Tensor<T, D>& target_in,
                                         Reduction reduction, double label_smoothing, const char* who,
                                         const Tensor<T, D>& weight = {}) {
  require_cpu_kernel<"cross_entropy", D>();
  static_assert(std::is_floating_point_v<T>, "cross_entropy needs floating point logits");
  const ClassLayout l = class_layout(input_in, who);
  HNN_CHECK(target_in.shape() == input_in.shape(), who, ": expected target of shape ",
            index_target_shape(input_in.shape()), " (class indices) or ", input_in.shape(),
            " (probabilities), got ", target_in.shape());
  HNN_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, who,
            ": label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  const Tensor<T, D> input = input_in.detach().contiguous();
  const Tensor<T, D> target = target_in.detach().contiguous();
  const int64_t P = l.positions(), C = l.classes, inner = l.inner;
  const T* py = target.data();
  // NaN passes (PyTorch checks nothing; the loss is then nan).
  for (int64_t i = 0; i < target.numel(); ++i)
    HNN_CHECK(!(py[i] < T(0)), who, ": target probabilities must be non-negative, got ", py[i],
              " at flat index ", i);

  const auto w = std::make_shared<const std::vector<double>>(class_weights(weight, C, who));
  auto class_weight = [w](int64_t c) { return w->empty() ? 1.0 : (*w)[static_cast<size_t>(c)]; };
  auto logp = Tensor<T, D>::empty(input.shape());
  const T* px = input.data();
  T* plp = logp.data();
  std::vector<double> losses(static_cast<size_t>(P));
  const double keep = 1.0 - label_smoothing, smooth = label_smoothing / static_cast<double>(C);
  loss_parallel_for(P, 3 * C, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int64_t base = l.base(p);
      hnn::detail::softmax_line<T, true>(px + base, plp + base, C, inner);
      double loss = 0;
      for (int64_t c = 0; c < C; ++c) {
        const int64_t at = base + c * inner;
        loss -=
            class_weight(c) * (keep * static_cast<double>(py[at]) + smooth) * static_cast<double>(plp[at]);
      }
      losses[static_cast<size_t>(p)] = loss;
    }
  });
  Tensor<T, D> out =
      reduce_loss<T, D>(losses, index_target_shape(input.shape()), reduction, static_cast<double>(P));
  if (autograd::any_requires_grad(input_in))
    autograd::record<T, D>(
        "CrossEntropyLossBackward0", out, {input_in},
        [logp, target, l, reduction, keep, smooth, class_weight](const Tensor<T, D>& g,
                                                                 const std::vector<bool>&) {
          LossGradScale<T, D> scale(g, reduction, static_cast<double>(l.positions()));
          auto dx = Tensor<T, D>::empty(logp.shape());
          const T* plp = logp.data();
          const T* py = target.data();
          T* pd = dx.data();
          const int64_t C = l.classes, inner = l.inner;
          loss_parallel_for(l.positions(), 2 * C, [&](int64_t b, int64_t e) {
            for (int64_t p = b; p < e; ++p) {
              const int64_t base = l.base(p);
              double mass = 0;
              for (int64_t c = 0; c < C; ++c)
                mass += class_weight(c) * (keep * static_cast<double>(py[base + c * inner]) + smooth);
              const double w = static_cast<double>(scale(p));
              for (int64_t c = 0; c < C; ++c) {
                const int64_t at = base + c * inner;
                const double smoothed = class_weight(c) * (keep * static_cast<double>(py[at]) + smooth);
                // softmax in T, as PyTorch and the class-index backward have it: where it is exactly the
                // target (a row of ties against a matching target) the gradient is exactly 0.
                const double probability = static_cast<double>(std::exp(plp[at]));
                pd[at] = static_cast<T>(w * (probability * mass - smoothed));
              }
            }
          });
          return Grads<T, D>{dx};
        });
  return out;
}

/// nll_loss on log-probabilities: loss_i = -w[t_i] x[t_i] (0 where ignored; w = 1 without a weight);
/// dloss_i / dx[t_i] = -w[t_i]; Mean divides by the sum of w[t_i] over the targets not ignored.
template <class T, class D>
Tensor<T, D> nll_loss_impl(const Tensor<T, D>& input_in, const Tensor<int64_t, D>& target_in,
                           Reduction reduction, int64_t ignore_index, const char* who,
                           const Tensor<T, D>& weight = {}) {
  require_cpu_kernel<"nll_loss", D>();
  static_assert(std::is_floating_point_v<T>, "nll_loss needs floating point log-probabilities");
  const ClassLayout l = class_layout(input_in, who);
  const Shape target_shape = index_target_shape(input_in.shape());
  HNN_CHECK(target_in.shape() == target_shape, who, ": expected target of shape ", target_shape,
            " (class indices), got ", target_in.shape());
  const Tensor<T, D> input = input_in.detach().contiguous();
  const Tensor<int64_t, D> target = target_in.contiguous();
  const int64_t P = l.positions();
  const int64_t* pt = target.data();
  double count = static_cast<double>(check_class_targets(pt, P, l.classes, ignore_index, who));
  const auto w = class_weights(weight, l.classes, who);
  if (!w.empty()) count = weighted_target_count(pt, P, ignore_index, w);
  // The weight of each position's target (1 without a weight, 0 where ignored).
  auto target_weight = std::make_shared<std::vector<double>>(static_cast<size_t>(P), 0.0);
  for (int64_t p = 0; p < P; ++p)
    if (pt[p] != ignore_index)
      (*target_weight)[static_cast<size_t>(p)] = w.empty() ? 1.0 : w[static_cast<size_t>(pt[p])];
  const T* px = input.data();
  std::vector<double> losses(static_cast<size_t>(P));
  for (int64_t p = 0; p < P; ++p)
    losses[static_cast<size_t>(p)] = pt[p] == ignore_index
                                         ? 0.0
                                         : -(*target_weight)[static_cast<size_t>(p)] *
                                               static_cast<double>(px[l.base(p) + pt[p] * l.inner]);
  Tensor<T, D> out = reduce_loss<T, D>(losses, target_shape, reduction, count);
  if (autograd::any_requires_grad(input_in))
    autograd::record<T, D>("NllLossBackward0", out, {input_in},
                           [shape = input.shape(), target, l, reduction, ignore_index, count, target_weight](
                               const Tensor<T, D>& g, const std::vector<bool>&) {
                             LossGradScale<T, D> scale(g, reduction, count);
                             auto dx = zeros<T, D>(shape);
                             T* pd = dx.data();
                             const int64_t* pt = target.data();
                             for (int64_t p = 0; p < l.positions(); ++p)
                               if (pt[p] != ignore_index)
                                 pd[l.base(p) + pt[p] * l.inner] =
                                     -scale(p) * static_cast<T>((*target_weight)[static_cast<size_t>(p)]);
                             return Grads<T, D>{dx};
                           });
  return out;
}

template <class T, class D>
void check_same_shape(const Tensor<T, D>& input, const Tensor<T, D>& target, const char* who) {
  HNN_CHECK(input.shape() == target.shape(), who, ": expected target of the input's shape ", input.shape(),
            ", got ", target.shape());
}

/*
 * Element-wise losses share one shape: loss_i = f(x_i, y_i) computed in double, reduced; the backward
 * multiplies df/dx_i (and df/dy_i when the target needs a gradient) by the reduction's scale.
 */
template <class T, class D, class Forward, class Backward>
Tensor<T, D> pointwise_loss(const char* node_name, const Tensor<T, D>& input_in,
                            const Tensor<T, D>& target_in, Reduction reduction, bool target_differentiable,
                            Forward forward, Backward backward) {
  require_cpu_kernel<"mse_loss or binary_cross_entropy", D>();
  const Tensor<T, D> input = input_in.detach().contiguous();
  const Tensor<T, D> target = target_in.detach().contiguous();
  const int64_t n = input.numel();
  const T* px = input.data();
  const T* py = target.data();
  std::vector<double> losses(static_cast<size_t>(n));
  loss_parallel_for(n, 8, [&](int64_t b, int64_t e) {
    // Each element's loss is rounded to T, as PyTorch's elementwise loss tensor is: one that overflows T is
    // inf in the mean and the sum as well.
    for (int64_t i = b; i < e; ++i)
      losses[static_cast<size_t>(i)] = static_cast<double>(
          static_cast<T>(forward(static_cast<double>(px[i]), static_cast<double>(py[i]), i)));
  });
  Tensor<T, D> out = reduce_loss<T, D>(losses, input.shape(), reduction, static_cast<double>(n));
  const bool target_grad = target_differentiable && target_in.requires_grad();
  if (autograd::any_requires_grad(input_in) || (target_grad && autograd::any_requires_grad(target_in)))
    autograd::record<T, D>(
        node_name, out, {input_in, target_grad ? target_in : Tensor<T, D>()},
        [input, target, reduction, backward](const Tensor<T, D>& g, const std::vector<bool>& need) {
          LossGradScale<T, D> scale(g, reduction, static_cast<double>(input.numel()));
          const int64_t n = input.numel();
          const T* px = input.data();
          const T* py = target.data();
          Tensor<T, D> dx = need[0] ? Tensor<T, D>::empty(input.shape()) : Tensor<T, D>();
          Tensor<T, D> dy = need.size() > 1 && need[1] ? Tensor<T, D>::empty(input.shape()) : Tensor<T, D>();
          T* pdx = dx.defined() ? dx.data() : nullptr;
          T* pdy = dy.defined() ? dy.data() : nullptr;
          loss_parallel_for(n, 8, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) {
              double gx = 0, gy = 0;
              backward(static_cast<double>(px[i]), static_cast<double>(py[i]), i, gx, gy);
              const double w = static_cast<double>(scale(i));
              if (pdx) pdx[i] = static_cast<T>(w * gx);
              if (pdy) pdy[i] = static_cast<T>(w * gy);
            }
          });
          return Grads<T, D>{dx, dy};
        });
  return out;
}

}  // namespace detail

/// torch.nn.functional.cross_entropy with class-index targets (input (N, C[, d...]) or (C), target
/// (N[, d...]) or ()).
template <class T, class D>
Tensor<T, D> cross_entropy(const Tensor<T, D>& input, const Tensor<int64_t, D>& target,
                           Reduction reduction = Reduction::Mean, int64_t ignore_index = -100,
                           double label_smoothing = 0.0) {
  return detail::cross_entropy_indices(input, target, reduction, ignore_index, label_smoothing,
                                       "cross_entropy");
}

/// torch.nn.functional.cross_entropy with probability (or one-hot) targets shaped like the input.
template <class T, class D>
Tensor<T, D> cross_entropy(const Tensor<T, D>& input, const Tensor<T, D>& target,
                           Reduction reduction = Reduction::Mean, double label_smoothing = 0.0) {
  return detail::cross_entropy_probabilities(input, target, reduction, label_smoothing, "cross_entropy");
}

/// torch.nn.functional.nll_loss: input holds log-probabilities.
template <class T, class D>
Tensor<T, D> nll_loss(const Tensor<T, D>& input, const Tensor<int64_t, D>& target,
                      Reduction reduction = Reduction::Mean, int64_t ignore_index = -100) {
  return detail::nll_loss_impl(input, target, reduction, ignore_index, "nll_loss");
}

namespace detail {

template <class T, class D>
Tensor<T, D> mse_loss_impl(const Tensor<T, D>& input, const Tensor<T, D>& target, Reduction reduction,
                           const char* who) {
  check_same_shape(input, target, who);
  // loss = (x - y)^2;  dloss/dx = 2 (x - y) = -dloss/dy. The difference is rounded to T, as PyTorch computes
  // it in T: it overflows to inf (and so do the loss and its gradient) exactly where PyTorch's does.
  const auto difference = [](double x, double y) { return static_cast<double>(static_cast<T>(x - y)); };
  return pointwise_loss(
      "MseLossBackward0", input, target, reduction, true,
      [difference](double x, double y, int64_t) { return difference(x, y) * difference(x, y); },
      [difference](double x, double y, int64_t, double& gx, double& gy) {
        gx = 2.0 * difference(x, y);
        gy = -gx;
      });
}

/// weight (optional) broadcast to the input's shape, contiguous; the message names `what`.
template <class T, class D>
Tensor<T, D> broadcast_weight(const Tensor<T, D>& weight, const Tensor<T, D>& input, const char* what,
                              const char* who) {
  if (!weight.defined()) return {};
  bool broadcasts = weight.dim() <= input.dim();
  for (int64_t d = 1; broadcasts && d <= weight.dim(); ++d)
    broadcasts = weight.size(-d) == 1 || weight.size(-d) == input.size(-d);
  HNN_CHECK(broadcasts, who, ": ", what, " of shape ", weight.shape(),
            " does not broadcast to the input's shape ", input.shape());
  return weight.detach().expand(input.shape()).contiguous();
}

template <class T, class D>
Tensor<T, D> binary_cross_entropy_impl(const Tensor<T, D>& input, const Tensor<T, D>& target,
                                       Reduction reduction, const char* who,
                                       const Tensor<T, D>& weight = {}) {
  check_same_shape(input, target, who);
  // weight rescales each element's loss (and gradient); Mean stays over the elements.
  const Tensor<T, D> wt = broadcast_weight(weight, input, "weight", who);
  const T* pw = wt.defined() ? wt.data() : nullptr;
  {
    const Tensor<T, D> x = input.detach().contiguous();
    const T* px = x.data();
    for (int64_t i = 0; i < x.numel(); ++i)
      HNN_CHECK(px[i] >= T(0) && px[i] <= T(1), who,
                ": all elements of input should be between 0 and 1 (got ", px[i], " at flat index ", i, ")");
  }
  // loss = (y - 1) * max(log(1 - x), -100) - y * max(log x, -100)   (PyTorch clamps the logs)
  // dloss/dx = (x - y) / max(x (1 - x), EPSILON)   (PyTorch's EPSILON is the float 1e-12f = 9.99999996e-13)
  // The loss is written in PyTorch's order so that its zeros carry PyTorch's sign (-0 at x = y = 1, +0 at
  // x = y = 0) whether or not the compiler fuses it into FMAs: -(a + b) fused as -a - b turns -0 into +0.
  return pointwise_loss(
      "BinaryCrossEntropyBackward0", input, target, reduction, false,
      [pw](double x, double y, int64_t i) {
        const double log_x = std::max(std::log(x), -100.0), log_1mx = std::max(std::log1p(-x), -100.0);
        const double loss = (y - 1.0) * log_1mx - y * log_x;
        return pw ? static_cast<double>(pw[i]) * loss : loss;
      },
      // wt (the tensor) is captured by value so its storage outlives the forward call.
      [wt, pw](double x, double y, int64_t i, double& gx, double&) {
        gx = (x - y) / std::max(x * (1.0 - x), static_cast<double>(1e-12f));
        if (pw) gx *= static_cast<double>(pw[i]);
      });
}

template <class T, class D>
Tensor<T, D> bce_with_logits_impl(const Tensor<T, D>& input, const Tensor<T, D>& target,
                                  const Tensor<T, D>& pos_weight, Reduction reduction, const char* who) {
  check_same_shape(input, target, who);
  // With log_weight = 1 + (pos_weight - 1) y and softplus(-x) = max(-x, 0) + log1p(exp(-|x|)):
  //   loss = (1 - y) x + log_weight * softplus(-x)          (= max(x,0) - x y + log1p(exp(-|x|)) for pw = 1)
  //   dloss/dx = log_weight * sigmoid(x) - pos_weight * y
  const Tensor<T, D> pw = broadcast_weight(pos_weight, input, "pos_weight", who);
  const T* ppw = pw.defined() ? pw.data() : nullptr;
  auto softplus_neg = [](double x) { return std::max(-x, 0.0) + std::log1p(std::exp(-std::abs(x))); };
  auto sigmoid = [](double x) {
    return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
  };
  return pointwise_loss(
      "BinaryCrossEntropyWithLogitsBackward0", input, target, reduction, false,
      [ppw, softplus_neg](double x, double y, int64_t i) {
        const double p = ppw ? static_cast<double>(ppw[i]) : 1.0;
        return (1.0 - y) * x + (1.0 + (p - 1.0) * y) * softplus_neg(x);
      },
      // pw (the tensor) is captured by value so its storage outlives the forward call.
      [pw, ppw, sigmoid](double x, double y, int64_t i, double& gx, double&) {
        const double p = ppw ? static_cast<double>(ppw[i]) : 1.0;
        gx = (1.0 + (p - 1.0) * y) * sigmoid(x) - p * y;
      });
}

}  // namespace detail

/// torch.nn.functional.mse_loss: (input - target)^2; target must have the input's shape.
template <class T, class D>
Tensor<T, D> mse_loss(const Tensor<T, D>& input, const Tensor<T, D>& target,
                      Reduction reduction = Reduction::Mean) {
  return detail::mse_loss_impl(input, target, reduction, "mse_loss");
}

/// torch.nn.functional.binary_cross_entropy: input probabilities in [0, 1], logs clamped at -100.
template <class T, class D>
Tensor<T, D> binary_cross_entropy(const Tensor<T, D>& input, const Tensor<T, D>& target,
                                  Reduction reduction = Reduction::Mean) {
  return detail::binary_cross_entropy_impl(input, target, reduction, "binary_cross_entropy");
}

/// torch.nn.functional.binary_cross_entropy_with_logits, numerically stable for any |x|; pos_weight
/// broadcasts against the input (usually one value per class, shape (C)); undefined = no weighting.
template <class T, class D>
Tensor<T, D> binary_cross_entropy_with_logits(const Tensor<T, D>& input, const Tensor<T, D>& target,
                                              Reduction reduction = Reduction::Mean,
                                              const std::type_identity_t<Tensor<T, D>>& pos_weight = {}) {
  return detail::bce_with_logits_impl(input, target, pos_weight, reduction,
                                      "binary_cross_entropy_with_logits");
}

}  // namespace hnn
