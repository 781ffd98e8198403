// The replay of tools/references/batch_norm.py's PyTorch fixtures (tests/references/batch_norm.json) on any
// device: the same call sequence of train/eval steps as PyTorch ran, comparing every output, running
// statistic, num_batches_tracked and gradient. tests/nn/batch_norm_test.cpp runs it on hnn::CPU and
// tests/cuda/batch_norm_cuda_test.cpp on hnn::CUDA.
#pragma once

#include <catch2/catch.hpp>
#include <hnn/autograd/backward.hpp>
#include <hnn/nn/batch_norm.hpp>
#include <hnn/tensor.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "reference.hpp"

namespace hnn::test {

inline const References& batch_norm_references() {
  static References r("batch_norm.json");
  return r;
}

inline nn::BatchNormOptions batch_norm_options_of(const ReferenceCase& c, int64_t C) {
  const auto& p = c.json()["params"];
  nn::BatchNormOptions opts(C);
  opts.eps(p["eps"].get<double>())
      .affine(p["affine"].get<bool>())
      .track_running_stats(p["track"].get<bool>());
  if (p["momentum"].is_null())
    opts.momentum(std::nullopt);
  else
    opts.momentum(p["momentum"].get<double>());
  return opts;
}

/// Replays one fixture case with Module (BatchNorm1d/2d/3d<T, D>) on device D.
template <class Module, class T, class D>
void replay_batch_norm_case(const ReferenceCase& c) {
  INFO("case " << c.name() << ": " << c.call());
  auto on_device = [](const Tensor<T, CPU>& t) { return t.template to<D>(); };
  auto on_host = [](const Tensor<T, D>& t) { return t.template to<CPU>(); };
  auto x0 = c.tensor<T>("x0");
  Module bn(batch_norm_options_of(c, x0.size(1)));
  std::ostringstream repr;
  repr << bn;
  CHECK(repr.str() == c.param<std::string>("repr"));
  const bool affine = c.param<bool>("affine"), track = c.param<bool>("track");
  if (affine) {
    NoGradGuard guard;
    bn.weight().copy_(on_device(c.tensor<T>("weight0")));
    bn.bias().copy_(on_device(c.tensor<T>("bias0")));
  } else {
    CHECK_FALSE(bn.weight().defined());
    CHECK(bn.parameters().empty());
  }
  REQUIRE(bn.running_mean().defined() == track);
  const T* running_mean_storage = track ? bn.running_mean().data() : nullptr;
  const auto sequence = c.json()["params"]["sequence"].get<std::vector<std::string>>();
  const double rtol = default_rtol<T>();
  for (size_t k = 0; k < sequence.size(); ++k) {
    const std::string s = std::to_string(k);
    INFO("step " << k << " (" << sequence[k] << ")");
    bn.train(sequence[k] == "train");
    auto x = on_device(c.tensor<T>("x" + s)).requires_grad_(true);
    auto y = bn(x);
    expect_close(on_host(y), c.tensor<double>("y" + s), rtol, -1, "output y" + s);
    (y * on_device(c.tensor<T>("r" + s))).sum().backward();
    REQUIRE(x.grad().defined());
    expect_close(on_host(x.grad()), c.tensor<double>("dx" + s), rtol, -1, "grad of x" + s);
    if (track) {
      expect_close(on_host(bn.running_mean()), c.tensor<double>("running_mean" + s), rtol, -1,
                   "running_mean after step " + s);
      expect_close(on_host(bn.running_var()), c.tensor<double>("running_var" + s), rtol, -1,
                   "running_var after step " + s);
      CHECK(bn.num_batches_tracked() == c.tensor<int64_t>("num_batches_tracked" + s).item());
      CHECK(bn.running_mean().data() == running_mean_storage);  // updated in place, never rebound
    }
  }
  if (affine) {
    expect_close(on_host(bn.weight().grad()), c.tensor<double>("dweight"), rtol, -1, "grad of weight");
    expect_close(on_host(bn.bias().grad()), c.tensor<double>("dbias"), rtol, -1, "grad of bias");
  }
}

/// Replays the named case with the module its layout names (1d, 1dL, 2d, 3d, offset1e3_1d/2d).
template <class T, class D>
void replay_batch_norm_fixture(const std::string& name) {
  const auto c = batch_norm_references().get(name);
  const std::string layout = name.substr(0, name.find('_'));
  if (layout == "1d" || layout == "1dL" || name.find("offset1e3_1d") == 0)
    replay_batch_norm_case<nn::BatchNorm1d<T, D>, T, D>(c);
  else if (layout == "2d" || name.find("offset1e3_2d") == 0)
    replay_batch_norm_case<nn::BatchNorm2d<T, D>, T, D>(c);
  else if (layout == "3d")
    replay_batch_norm_case<nn::BatchNorm3d<T, D>, T, D>(c);
  else
    FAIL("unknown layout in case " << name);
}

}  // namespace hnn::test
