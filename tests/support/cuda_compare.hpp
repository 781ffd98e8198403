// CPU-versus-CUDA agreement of a batch-norm function, for the CUDA tests: the same random data on the host
// and on the device, a few steps of the function on each side, and every output, running statistic and
// gradient of the device run compared with the host run. Used by tests/cuda/batch_norm_cuda_test.cpp
// (nn::functional::batch_norm) and tests/cuda/sync_batch_norm_cuda_test.cpp (distributed::sync_batch_norm).
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <hnn/autograd/backward.hpp>
#include <hnn/cuda.hpp>
#include <hnn/tensor.hpp>

#include "reference.hpp"

namespace hnn::test {

template <class T>
Tensor<T, CUDA> dev(const Tensor<T, CPU>& t) {
  return t.template to<CUDA>();
}
template <class T>
Tensor<T, CPU> host(const Tensor<T, CUDA>& t) {
  return t.template to<CPU>();
}

/// `normalise(x, running_mean, running_var, weight, bias, step)` (a generic lambda, called once with host
/// and once with device tensors per step) over `steps` steps on an input of `shape` offset by `offset`;
/// the device results must match the host's to the dtype's default tolerance.
template <class T, class Normalise>
void compare_cpu_cuda(const Shape& shape, double offset, uint64_t seed, int steps, Normalise normalise) {
  INFO("shape " << shape << ", offset " << offset);
  Generator gen(seed);
  const int64_t C = shape[1];
  auto x_cpu = add(randn<T>(shape, gen), static_cast<T>(offset));
  auto dy_cpu = randn<T>(shape, gen);
  auto weight_cpu = add(rand<T>({C}, gen), T(0.5));
  auto bias_cpu = randn<T>({C}, gen);
  auto mean_cpu = randn<T>({C}, gen);
  auto var_cpu = add(rand<T>({C}, gen), T(0.5));
  auto x_gpu = dev(x_cpu), dy_gpu = dev(dy_cpu), weight_gpu = dev(weight_cpu), bias_gpu = dev(bias_cpu),
       mean_gpu = dev(mean_cpu), var_gpu = dev(var_cpu);
  for (auto* t : {&x_cpu, &weight_cpu, &bias_cpu}) t->requires_grad_(true);
  for (auto* t : {&x_gpu, &weight_gpu, &bias_gpu}) t->requires_grad_(true);
  const double rtol = default_rtol<T>();
  for (int step = 0; step < steps; ++step) {
    INFO("step " << step);
    for (auto* t : {&x_cpu, &weight_cpu, &bias_cpu}) t->zero_grad();
    for (auto* t : {&x_gpu, &weight_gpu, &bias_gpu}) t->zero_grad();
    auto y_cpu = normalise(x_cpu, mean_cpu, var_cpu, weight_cpu, bias_cpu, step);
    auto y_gpu = normalise(x_gpu, mean_gpu, var_gpu, weight_gpu, bias_gpu, step);
    expect_close(host(y_gpu), y_cpu.template cast<double>(), rtol, -1, "y");
    expect_close(host(mean_gpu), mean_cpu.template cast<double>(), rtol, -1, "running_mean");
    expect_close(host(var_gpu), var_cpu.template cast<double>(), rtol, -1, "running_var");
    y_cpu.backward(dy_cpu);
    y_gpu.backward(dy_gpu);
    expect_close(host(x_gpu.grad()), x_cpu.grad().template cast<double>(), rtol, -1, "dx");
    expect_close(host(weight_gpu.grad()), weight_cpu.grad().template cast<double>(), rtol, -1, "dweight");
    expect_close(host(bias_gpu.grad()), bias_cpu.grad().template cast<double>(), rtol, -1, "dbias");
  }
}

}  // namespace hnn::test
