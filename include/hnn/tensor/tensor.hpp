// The Tensor<T, Device> handle: shape, strides and offset over shared Storage, plus the autograd fields
// (requires_grad, grad, grad_fn). Copying a Tensor shares its storage, as torch::Tensor does.
// Op methods are declared here and defined with their ops in hnn/ops/*.hpp (hnn/tensor.hpp includes both).
// Depends on core/*, autograd/node.hpp, autograd/grad_mode.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "hnn/autograd/grad_mode.hpp"
#include "hnn/autograd/node.hpp"
#include "hnn/core/config.hpp"
#include "hnn/core/device.hpp"
#include "hnn/core/error.hpp"
#include "hnn/core/scalar.hpp"
#include "hnn/core/shape.hpp"
#include "hnn/core/storage.hpp"

namespace hnn {

template <class T = float, class Device = CPU>
class Tensor;

namespace detail {

template <class T, class Device>
struct TensorImpl {
  std::shared_ptr<Storage<T, Device>> storage;
  Shape shape;
  Strides strides;
  int64_t offset = 0;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;                // leaves only: the accumulated gradient
  std::shared_ptr<autograd::Node> grad_fn;         // non-leaves: the node of the op that made it
  std::weak_ptr<autograd::Node> grad_accumulator;  // leaves: created on first use by an op
  // leaves: fn() run by AccumulateGrad right after a gradient was added into `grad` during backward
  // (torch's register_post_accumulate_grad_hook), keyed by an id for removal. DDP's reducer uses them.
  std::vector<std::pair<int, std::function<void()>>> post_accumulate_grad_hooks;
  int next_hook_id = 0;
};

}  // namespace detail

template <class T, class Device>
class Tensor {
  static_assert(is_supported_scalar_v<T>, "hnn::Tensor holds float, double or int64_t");

 public:
  using value_type = T;
  using device_type = Device;
  using Impl = detail::TensorImpl<T, Device>;

  /// An undefined tensor (defined() == false), like torch::Tensor().
  Tensor() = default;
  explicit Tensor(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

  /// A new contiguous tensor of the given shape with uninitialised values.
  static Tensor empty(const Shape& shape) {
    auto impl = std::make_shared<Impl>();
    int64_t n = checked_numel(shape);
    // numel * sizeof(T) must not wrap (a wrapped size would allocate a few bytes and write far past them).
    HNN_CHECK(n <= CpuCachingAllocator::max_bytes / static_cast<int64_t>(sizeof(T)), "shape ", shape, " has ",
              n, " elements of ", sizeof(T), " bytes: more than the 2^62 bytes a tensor can hold");
    impl->storage = std::make_shared<Storage<T, Device>>(n);
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    return Tensor(std::move(impl));
  }

  /// A view sharing this tensor's storage with the given geometry (no autograd link).
  Tensor as_strided_view(const Shape& shape, const Strides& strides, int64_t offset) const {
    auto impl = std::make_shared<Impl>();
    impl->storage = impl_->storage;
    impl->shape = shape;
    impl->strides = strides;
    impl->offset = offset;
    return Tensor(std::move(impl));
  }

  // ---- inspection -------------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return checked().shape; }
  const Shape& sizes() const { return shape(); }
  const Strides& strides() const { return checked().strides; }
  int64_t storage_offset() const { return checked().offset; }
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t ndimension() const { return dim(); }
  int64_t size(int64_t d) const {
    HNN_CHECK(dim() > 0, "size(): dimension specified as ", d, " but tensor has no dimensions");
    return shape()[static_cast<size_t>(wrap_dim(d, dim()))];
  }
  int64_t stride(int64_t d) const {
    HNN_CHECK(dim() > 0, "stride(): dimension specified as ", d, " but tensor has no dimensions");
    return strides()[static_cast<size_t>(wrap_dim(d, dim()))];
  }
  int64_t numel() const { return shape().numel(); }
  bool is_contiguous() const {
    const auto& s = shape();
    const auto& st = strides();
    int64_t expected = 1;
    for (size_t i = s.size(); i-- > 0;) {
      if (s[i] == 1) continue;
      if (st[i] != expected) return false;
      expected *= s[i];
    }
    return true;
  }
  /// Pointer to the first element (offset applied). Element i of a contiguous tensor is data()[i].
  T* data() const { return checked().storage->data() + impl_->offset; }
  T* data_ptr() const { return data(); }
  const std::shared_ptr<Storage<T, Device>>& storage() const { return checked().storage; }
  Impl* unsafe_impl() const { return impl_.get(); }
  const std::shared_ptr<Impl>& impl_ptr() const { return impl_; }
  /// True when both handles view the same storage (like torch's is_same storage check).
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  static constexpr bool is_floating_point() { return std::is_floating_point_v<T>; }

  std::vector<T> to_vector() const;
  T item() const;

  // ---- autograd ---------------------------------------------------------------------------------
  bool requires_grad() const { return defined() && impl_->requires_grad; }
  Tensor& requires_grad_(bool on = true) {
    static_assert(is_differentiable_v<T> || true);
    if constexpr (!is_differentiable_v<T>) {
      HNN_CHECK(!on, "only floating point tensors can require gradients (this one holds int64)");
    }
    HNN_CHECK(on || !checked().grad_fn,
              "you can only change requires_grad flags of leaf variables; use detach() for a non-leaf");
    checked().requires_grad = on;
    return *this;
  }
  bool is_leaf() const { return !defined() || !impl_->grad_fn; }
  const std::shared_ptr<autograd::Node>& grad_fn() const { return checked().grad_fn; }
  /// The accumulated gradient of a leaf; undefined until a gradient arrives.
  Tensor grad() const { return defined() && impl_->grad ? Tensor(impl_->grad) : Tensor(); }
  void set_grad(const Tensor& g) { checked().grad = g.impl_; }
  /// fn() runs each time backward has accumulated a gradient into this leaf's grad() (torch's
  /// register_post_accumulate_grad_hook); returns an id for remove_post_accumulate_grad_hook.
  int register_post_accumulate_grad_hook(std::function<void()> fn) {
    auto& impl = checked();
    impl.post_accumulate_grad_hooks.emplace_back(impl.next_hook_id, std::move(fn));
    return impl.next_hook_id++;
  }
  void remove_post_accumulate_grad_hook(int id) {
    auto& hooks = checked().post_accumulate_grad_hooks;
    hooks.erase(std::remove_if(hooks.begin(), hooks.end(), [id](const auto& h) { return h.first == id; }),
                hooks.end());
  }
  /// Sets the gradient to undefined (set_to_none=true, PyTorch's default) or to zeros.
  void zero_grad(bool set_to_none = true);
  void backward() const;
  void backward(const Tensor& gradient, bool retain_graph = false) const;
  /// A tensor sharing storage with this one, outside any graph.
  Tensor detach() const { return as_strided_view(shape(), strides(), storage_offset()); }
  Tensor& detach_() {
    checked().grad_fn.reset();
    impl_->requires_grad = false;
    return *this;
  }

  // ---- copies and conversions -------------------------------------------------------------------
  Tensor contiguous() const;
  Tensor clone() const;
  template <class U>
  Tensor<U, Device> cast() const;
  template <class D2>
  Tensor<T, D2> to() const;
  /// Copies src into this tensor's elements in place (broadcasting src), outside autograd.
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(T value);
  Tensor& zero_() { return fill_(T(0)); }

  // ---- shape ops (views where possible) ---------------------------------------------------------
  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  /// Transpose of a matrix; 0-D and 1-D tensors come back as they are (as torch.t does).
  Tensor t() const {
    HNN_CHECK(dim() <= 2, "t() expects a tensor with <= 2 dimensions, but self is ", dim(), "D (shape ",
              shape(), ")");
    return dim() < 2 ? *this : transpose(0, 1);
  }
  Tensor permute(const Shape& dims) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor squeeze() const;
  Tensor expand(const Shape& shape) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  /// torch.index_select: a new tensor of the entries at `index` (1-D or 0-D) along `dim`, with autograd.
  Tensor index_select(int64_t dim, const Tensor<int64_t, Device>& index) const;
  Tensor operator[](int64_t index) const { return select(0, index); }

  // ---- elementwise ------------------------------------------------------------------------------
  Tensor neg() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor pow(double exponent) const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor clamp(std::optional<double> min, std::optional<double> max = std::nullopt) const;
  Tensor<int64_t, Device> eq(const Tensor& other) const;
  Tensor<int64_t, Device> ne(const Tensor& other) const;
  Tensor<int64_t, Device> gt(const Tensor& other) const;
  Tensor<int64_t, Device> lt(const Tensor& other) const;
  Tensor<int64_t, Device> ge(const Tensor& other) const;
  Tensor<int64_t, Device> le(const Tensor& other) const;
  Tensor<int64_t, Device> eq(T value) const;

  // ---- reductions -------------------------------------------------------------------------------
  Tensor sum() const;
  Tensor sum(const Shape& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const Shape& dims, bool keepdim = false) const;
  Tensor var(bool unbiased = true) const;
  Tensor var(const Shape& dims, bool unbiased = true, bool keepdim = false) const;
  Tensor std(const Shape& dims, bool unbiased = true, bool keepdim = false) const;
  Tensor max() const;
  Tensor max(int64_t dim, bool keepdim = false) const;
  Tensor min() const;
  Tensor min(int64_t dim, bool keepdim = false) const;
  Tensor<int64_t, Device> argmax(int64_t dim, bool keepdim = false) const;
  Tensor<int64_t, Device> argmax() const;
  Tensor<int64_t, Device> argmin(int64_t dim, bool keepdim = false) const;

  // ---- linear algebra and activations -----------------------------------------------------------
  Tensor matmul(const Tensor& other) const;
  Tensor mm(const Tensor& other) const { return matmul(other); }
  Tensor softmax(int64_t dim) const;
  Tensor log_softmax(int64_t dim) const;

 private:
  Impl& checked() const {
    HNN_CHECK_RUNTIME(impl_ != nullptr,
                      "the tensor is undefined (default-constructed or an absent gradient)");
    return *impl_;
  }
  std::shared_ptr<Impl> impl_;
};

}  // namespace hnn
