// Shape ops: reshape/view (one -1 allowed), flatten, transpose, permute, unsqueeze, squeeze, expand,
// select, narrow (views sharing storage where the strides allow), index_select (a copy), cat and stack. Each
// op's backward sits beside its forward. Depends on ops/copy.hpp, ops/creation.hpp.
#pragma once

#include <algorithm>
#include <memory>
#include <numeric>
#include <vector>

#include "hnn/autograd/function.hpp"
#include "hnn/ops/copy.hpp"
#include "hnn/ops/creation.hpp"
#include "hnn/tensor/tensor.hpp"

namespace hnn {

template <class T, class D>
Tensor<T, D> sum_to(const Tensor<T, D>& t, const Shape& shape);

namespace detail {

/// Resolves one -1 in `requested` against numel; throws with both shapes when the sizes disagree.
inline Shape infer_shape(const Shape& requested, int64_t numel, const Shape& from) {
  Shape out = requested;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      HNN_CHECK(infer_at < 0, "only one dimension can be inferred in shape ", requested);
      infer_at = static_cast<int64_t>(i);
    } else {
      HNN_CHECK(out[i] >= 0, "invalid shape dimension ", out[i], " in shape ", requested);
      known *= out[i];
    }
  }
  if (infer_at >= 0) {
    HNN_CHECK(known != 0 && numel % known == 0, "shape '", requested, "' is invalid for input of size ",
              numel, " (shape ", from, ")");
    out[static_cast<size_t>(infer_at)] = numel / known;
  } else {
    HNN_CHECK(known == numel, "shape '", requested, "' is invalid for input of size ", numel, " (shape ",
              from, ")");
  }
  return out;
}

/// Strides for viewing `t` as `shape` without copying, or nullopt when the layout does not allow it.
template <class T, class D>
std::optional<Strides> view_strides(const Tensor<T, D>& t, const Shape& shape) {
  if (t.is_contiguous()) return contiguous_strides(shape);
  // Split the old shape into runs of dims that are contiguous among themselves (ATen's computeStride).
  const Shape& old_shape = t.shape();
  const Strides& old_strides = t.strides();
  Strides new_strides(shape.size());
  if (t.numel() == 0) return contiguous_strides(shape);
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.empty() ? 1 : old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = static_cast<int64_t>(old_shape.size()) - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= old_shape[static_cast<size_t>(tensor_d)];
    if (tensor_d == 0 ||
        (old_shape[static_cast<size_t>(tensor_d - 1)] != 1 &&
         old_strides[static_cast<size_t>(tensor_d - 1)] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[static_cast<size_t>(view_d)] == 1)) {
        new_strides[static_cast<size_t>(view_d)] = view_numel * chunk_base_stride;
        view_numel *= shape[static_cast<size_t>(view_d)];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = old_strides[static_cast<size_t>(tensor_d - 1)];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return new_strides;
}

/// A view of `input` with new geometry, linked to the graph with the given backward.
template <class T, class D, class Backward>
Tensor<T, D> make_view(const Tensor<T, D>& input, const Shape& shape, const Strides& strides, int64_t offset,
                       const char* name, Backward backward) {
  Tensor<T, D> out = input.as_strided_view(shape, strides, offset);
  if (autograd::any_requires_grad(input))
    autograd::record<T, D>(name, out, {input}, [backward](const Tensor<T, D>& g, const std::vector<bool>&) {
      return std::vector<Tensor<T, D>>{backward(g)};
    });
  return out;
}

}  // namespace detail

template <class T, class D>
Tensor<T, D> Tensor<T, D>::view(const Shape& requested) const {
  Shape new_shape = detail::infer_shape(requested, numel(), shape());
  auto strides_opt = detail::view_strides(*this, new_shape);
  HNN_CHECK(strides_opt.has_value(),
            "view size is not compatible with input tensor's size and stride (shape ", shape(), " viewed as ",
            new_shape, "); use .reshape(...) instead");
  Shape old_shape = shape();
  return detail::make_view(*this, new_shape, *strides_opt, storage_offset(), "ViewBackward0",
                           [old_shape](const Tensor& g) { return g.reshape(old_shape); });
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::reshape(const Shape& requested) const {
  Shape new_shape = detail::infer_shape(requested, numel(), shape());
  if (auto strides_opt = detail::view_strides(*this, new_shape)) {
    Shape old_shape = shape();
    return detail::make_view(*this, new_shape, *strides_opt, storage_offset(), "ViewBackward0",
                             [old_shape](const Tensor& g) { return g.reshape(old_shape); });
  }
  return clone().view(new_shape);
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  int64_t s = wrap_dim(start_dim, dim()), e = wrap_dim(end_dim, dim());
  HNN_CHECK(s <= e, "flatten() has invalid args: start_dim cannot come after end_dim");
  std::vector<int64_t> new_shape;
  for (int64_t i = 0; i < s; ++i) new_shape.push_back(size(i));
  int64_t prod = 1;
  for (int64_t i = s; i <= e; ++i) prod *= size(i);
  new_shape.push_back(prod);
  for (int64_t i = e + 1; i < dim(); ++i) new_shape.push_back(size(i));
  return reshape(Shape(new_shape));
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::transpose(int64_t dim0, int64_t dim1) const {
  int64_t a = wrap_dim(dim0, dim()), b = wrap_dim(dim1, dim());
  Shape s = shape();
  Strides st = strides();
  if (dim() > 0) {
    std::swap(s[static_cast<size_t>(a)], s[static_cast<size_t>(b)]);
    std::swap(st[static_cast<size_t>(a)], st[static_cast<size_t>(b)]);
  }
  return detail::make_view(*this, s, st, storage_offset(), "TransposeBackward0",
                           [a, b](const Tensor& g) { return g.transpose(a, b); });
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::permute(const Shape& dims) const {
  HNN_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute(): number of dims don't match: got ", dims,
            " for a tensor of shape ", shape());
  Shape s = shape();
  Strides st(strides().size());
  std::vector<int64_t> inverse(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    auto d = static_cast<size_t>(wrap_dim(dims[i], dim()));
    HNN_CHECK(!seen[d], "permute(): repeated dim in ", dims);
    seen[d] = true;
    s[i] = shape()[d];
    st[i] = strides()[d];
    inverse[d] = static_cast<int64_t>(i);
  }
  Shape inv(inverse);
  return detail::make_view(*this, s, st, storage_offset(), "PermuteBackward0",
                           [inv](const Tensor& g) { return g.permute(inv); });
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::unsqueeze(int64_t d) const {
  int64_t at = wrap_dim(d, dim() + 1);
  Shape s = shape();
  Strides st = strides();
  int64_t new_stride = at < dim() ? st[static_cast<size_t>(at)] * s[static_cast<size_t>(at)] : 1;
  s.insert(static_cast<size_t>(at), 1);
  st.insert(st.begin() + at, new_stride);
  Shape old_shape = shape();
  return detail::make_view(*this, s, st, storage_offset(), "UnsqueezeBackward0",
                           [old_shape](const Tensor& g) { return g.reshape(old_shape); });
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::squeeze(int64_t d) const {
  if (dim() == 0) return *this;
  int64_t at = wrap_dim(d, dim());
  if (size(at) != 1) return *this;
  Shape s = shape();
  Strides st = strides();
  s.erase(static_cast<size_t>(at));
  st.erase(st.begin() + at);
  Shape old_shape = shape();
  return detail::make_view(*this, s, st, storage_offset(), "SqueezeBackward0",
                           [old_shape](const Tensor& g) { return g.reshape(old_shape); });
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::squeeze() const {
  std::vector<int64_t> s;
  for (int64_t v : shape())
    if (v != 1) s.push_back(v);
  return reshape(Shape(s));
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::expand(const Shape& target) const {
  HNN_CHECK(target.size() >= shape().size(), "expand: the number of sizes provided (", target.size(),
            ") must be greater or equal to the number of dimensions in the tensor (", dim(), ")");
  Shape s = target;
  size_t offset = target.size() - shape().size();
  for (size_t i = 0; i < target.size(); ++i)
    if (s[i] == -1) {
      HNN_CHECK(i >= offset, "expand: -1 is not allowed in a leading, non-existing dimension");
      s[i] = shape()[i - offset];
    }
  Strides st = detail::broadcast_strides(*this, s);
  Shape old_shape = shape();
  return detail::make_view(*this, s, st, storage_offset(), "ExpandBackward0",
                           [old_shape](const Tensor& g) { return sum_to(g, old_shape); });
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::narrow(int64_t d, int64_t start, int64_t length) const {
  int64_t at = wrap_dim(d, dim());
  int64_t n = size(at);
  if (start < 0) start += n;
  HNN_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow(): start (", start, ") + length (",
            length, ") exceeds dimension size (", n, ") of dim ", at, " in shape ", shape());
  Shape s = shape();
  s[static_cast<size_t>(at)] = length;
  int64_t offset = storage_offset() + start * strides()[static_cast<size_t>(at)];
  Shape old_shape = shape();
  return detail::make_view(*this, s, strides(), offset, "SliceBackward0",
                           [old_shape, at, start, length](const Tensor& g) {
                             auto full = zeros<T, D>(old_shape);
                             auto slot = full.narrow(at, start, length);
                             slot.copy_(g);
                             return full;
                           });
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::select(int64_t d, int64_t index) const {
  HNN_CHECK(dim() > 0, "select() cannot be applied to a 0-dim tensor");
  int64_t at = wrap_dim(d, dim());
  int64_t n = size(at);
  HNN_CHECK(index >= -n && index < n, "select(): index ", index, " out of range for tensor of size ", shape(),
            " at dimension ", at);
  if (index < 0) index += n;
  Shape s = shape();
  Strides st = strides();
  int64_t offset = storage_offset() + index * st[static_cast<size_t>(at)];
  s.erase(static_cast<size_t>(at));
  st.erase(st.begin() + at);
  Shape old_shape = shape();
  return detail::make_view(*this, s, st, offset, "SelectBackward0", [old_shape, at, index](const Tensor& g) {
    auto full = zeros<T, D>(old_shape);
    full.select(at, index).copy_(g);
    return full;
  });
}

namespace detail {

/// src viewed as (outer, m, inner) around dimension `dim`. select: out[o, k, :] = src[o, index[k], :], with
/// m = index.size(); add: out (outer, n, inner) = 0, then out[o, index[k], :] += src[o, k, :] (repeated
/// indices add up). Each is the other's adjoint. On a device the data goes through the host (there is no
/// device gather kernel yet).
template <class T, class D>
Tensor<T, D> index_blocks(const Tensor<T, D>& src, int64_t dim, const std::vector<int64_t>& index, int64_t n,
                          bool select) {
  Shape shape = src.shape();
  const int64_t m = shape[static_cast<size_t>(dim)], K = static_cast<int64_t>(index.size());
  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < dim; ++k) outer *= shape[static_cast<size_t>(k)];
  for (auto k = static_cast<size_t>(dim) + 1; k < shape.size(); ++k) inner *= shape[k];
  shape[static_cast<size_t>(dim)] = select ? K : n;
  auto host = src.detach().contiguous().template to<CPU>();
  auto out = select ? Tensor<T, CPU>::empty(shape) : zeros<T, CPU>(shape);
  const T* from = host.data();
  T* to = out.data();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < K; ++k) {
      const int64_t i = index[static_cast<size_t>(k)];
      if (select) {
        std::copy_n(from + (o * m + i) * inner, inner, to + (o * K + k) * inner);
      } else {
        T* row = to + (o * n + i) * inner;
        const T* add = from + (o * m + k) * inner;
        for (int64_t j = 0; j < inner; ++j) row[j] += add[j];
      }
    }
  if constexpr (is_cpu_v<D>)
    return out;
  else
    return out.template to<D>();
}

/// index_blocks with autograd (IndexSelectBackward0: the gradient added back at the selected places).
template <class T, class D>
Tensor<T, D> index_blocks_op(const Tensor<T, D>& src, int64_t dim,
                             std::shared_ptr<const std::vector<int64_t>> index, int64_t n, bool select) {
  auto out = index_blocks(src, dim, *index, n, select);
  if constexpr (std::is_floating_point_v<T>) {
    if (autograd::any_requires_grad(src)) {
      const int64_t m = src.size(dim);
      autograd::record<T, D>(
          select ? "IndexSelectBackward0" : "IndexAddBackward0", out, {src},
          [dim, index, m, select](const Tensor<T, D>& grad, const std::vector<bool>&) {
            return std::vector<Tensor<T, D>>{index_blocks_op(grad, dim, index, m, !select)};
          });
    }
  }
  return out;
}

}  // namespace detail

/// torch.index_select: the entries at `index` (a 1-D or 0-D Tensor<int64_t>) along `dim`, in the index's
/// order, repeats allowed; a new tensor (not a view). Gradients add back at the selected places. Negative
/// indices are out of range, as in PyTorch.
template <class T, class D>
Tensor<T, D> Tensor<T, D>::index_select(int64_t d, const Tensor<int64_t, D>& index) const {
  HNN_CHECK(index.dim() <= 1, "index_select(): Index is supposed to be a vector, got an index of shape ",
            index.shape());
  if (dim() == 0) {  // as in PyTorch: a 0-D tensor takes index 0 along dim 0 (or -1) and stays 0-D
    wrap_dim(d, 1);
    HNN_CHECK(index.numel() == 1, "index_select(): a 0-D tensor takes an index of one element, got shape ",
              index.shape());
    return unsqueeze(0).index_select(0, index).reshape(Shape{});
  }
  const int64_t at = wrap_dim(d, dim());
  const int64_t n = size(at);
  auto values = std::make_shared<std::vector<int64_t>>(index.contiguous().to_vector());
  for (size_t k = 0; k < values->size(); ++k) {
    const int64_t i = (*values)[k];
    HNN_CHECK(i >= 0 && i < n, "index_select(): index out of range in self: index[", k, "] = ", i,
              " for dimension ", at, " of size ", n, " (shape ", shape(), ")");
  }
  return detail::index_blocks_op(*this, at, std::shared_ptr<const std::vector<int64_t>>(values), n, true);
}

/// The free-function spelling, torch.index_select(input, dim, index).
template <class T, class D>
Tensor<T, D> index_select(const Tensor<T, D>& input, int64_t dim, const Tensor<int64_t, D>& index) {
  return input.index_select(dim, index);
}

/// Concatenates tensors along an existing dimension.
template <class T, class D>
Tensor<T, D> cat(const std::vector<Tensor<T, D>>& tensors, int64_t dim = 0) {
  HNN_CHECK(!tensors.empty(), "cat(): expected a non-empty list of tensors");
  const Tensor<T, D>& first = tensors.front();
  int64_t at = wrap_dim(dim, first.dim());
  Shape out_shape = first.shape();
  int64_t total = 0;
  for (size_t k = 0; k < tensors.size(); ++k) {
    const auto& t = tensors[k];
    HNN_CHECK(t.dim() == first.dim(), "cat(): tensors must have the same number of dimensions: got ",
              first.shape(), " and ", t.shape());
    for (int64_t i = 0; i < t.dim(); ++i)
      HNN_CHECK(i == at || t.size(i) == first.size(i),
                "cat(): sizes of tensors must match except in dimension ", at, ": expected size ",
                first.size(i), " but got size ", t.size(i), " for tensor number ", k, " in the list (shapes ",
                first.shape(), " and ", t.shape(), ")");
    total += t.size(at);
  }
  out_shape[static_cast<size_t>(at)] = total;
  auto out = Tensor<T, D>::empty(out_shape);
  std::vector<int64_t> sizes;
  int64_t pos = 0;
  {
    NoGradGuard guard;
    for (const auto& t : tensors) {
      out.narrow(at, pos, t.size(at)).copy_(t);
      sizes.push_back(t.size(at));
      pos += t.size(at);
    }
  }
  bool needs = false;
  for (const auto& t : tensors) needs = needs || t.requires_grad();
  if (needs && is_grad_enabled()) {
    auto node = std::make_shared<autograd::FunctionNode<T, D>>(
        "CatBackward0", [sizes, at](const Tensor<T, D>& g, const std::vector<bool>& need) {
          std::vector<Tensor<T, D>> grads(sizes.size());
          int64_t p = 0;
          for (size_t k = 0; k < sizes.size(); ++k) {
            if (need[k]) grads[k] = g.narrow(at, p, sizes[k]).contiguous();
            p += sizes[k];
          }
          return grads;
        });
    for (const auto& t : tensors) node->next_edges.push_back(autograd::edge_for(t));
    if (autograd::detail::anomaly_mode_flag()) autograd::note_creation(*node, out, tensors);
    out.unsafe_impl()->grad_fn = node;
    out.unsafe_impl()->requires_grad = true;
  }
  return out;
}

/// Stacks tensors of equal shape along a new dimension.
template <class T, class D>
Tensor<T, D> stack(const std::vector<Tensor<T, D>>& tensors, int64_t dim = 0) {
  HNN_CHECK(!tensors.empty(), "stack(): expected a non-empty list of tensors");
  std::vector<Tensor<T, D>> expanded;
  expanded.reserve(tensors.size());
  int64_t at = wrap_dim(dim, tensors.front().dim() + 1);
  for (const auto& t : tensors) {
    HNN_CHECK(t.shape() == tensors.front().shape(), "stack expects each tensor to be equal size, but got ",
              tensors.front().shape(), " and ", t.shape());
    expanded.push_back(t.unsqueeze(at));
  }
  return cat(expanded, at);
}

// Free-function spellings of the shape ops.
template <class T, class D>
Tensor<T, D> reshape(const Tensor<T, D>& t, const Shape& s) {
  return t.reshape(s);
}
template <class T, class D>
Tensor<T, D> flatten(const Tensor<T, D>& t, int64_t start_dim = 0, int64_t end_dim = -1) {
  return t.flatten(start_dim, end_dim);
}
template <class T, class D>
Tensor<T, D> transpose(const Tensor<T, D>& t, int64_t a, int64_t b) {
  return t.transpose(a, b);
}
template <class T, class D>
Tensor<T, D> permute(const Tensor<T, D>& t, const Shape& dims) {
  return t.permute(dims);
}

}  // namespace hnn
