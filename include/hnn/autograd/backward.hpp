// Tensor::backward(), Tensor::zero_grad(). Depends on autograd/engine.hpp, ops/creation.hpp.
#pragma once

#include "hnn/autograd/engine.hpp"
#include "hnn/ops/creation.hpp"

namespace hnn {

template <class T, class D>
void Tensor<T, D>::backward() const {
  HNN_CHECK_RUNTIME(numel() == 1,
                    "grad can be implicitly created only for scalar outputs: backward() was called on ",
                    "a tensor of shape ", shape(), "; pass a gradient of that shape: backward(grad)");
  backward(ones<T, D>(shape()));
}

template <class T, class D>
void Tensor<T, D>::backward(const Tensor& gradient, bool retain_graph) const {
  if constexpr (!is_differentiable_v<T>) {
    (void)gradient;
    (void)retain_graph;
    throw std::runtime_error("backward() on an int64 tensor: only floating point tensors carry gradients");
  } else {
    autograd::run_backward(*this, gradient, retain_graph);
  }
}

template <class T, class D>
void Tensor<T, D>::zero_grad(bool set_to_none) {
  if (!defined() || !impl_->grad) return;
  if (set_to_none)
    impl_->grad.reset();
  else
    Tensor(impl_->grad).fill_(T(0));
}

}  // namespace hnn
