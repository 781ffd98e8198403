// Tests for include/hnn/nn/pooling.hpp, ops/pooling.hpp and kernels/cpu/pooling.hpp: forward and input
// gradients against the PyTorch fixtures of tools/references/layers.py (overlapping windows, padding,
// non-square windows, ties for max, unbatched inputs) in float and double, gradcheck, reprs, errors.
#include <catch2/catch.hpp>
#include <hnn/nn/pooling.hpp>
#include <sstream>
#include <type_traits>

#include "reference.hpp"

namespace nn = hnn::nn;
using hnn::test::expect_close;

namespace {

const hnn::test::References& refs() {
  static hnn::test::References r("layers.json");
  return r;
}

/// The size as the case gave it to PyTorch: an int or a pair.
nn::IntPair size_of(const hnn::test::ReferenceCase& c, const std::string& key) {
  auto v = c.param<std::vector<int64_t>>(key);
  if (c.param<bool>(key + "_is_int")) return nn::IntPair(v[0]);
  return nn::IntPair({v[0], v[1]});
}

template <class Module, class T>
void replay_pool(const hnn::test::ReferenceCase& c) {
  INFO("case " << c.name() << ": " << c.call());
  const double rtol = hnn::test::default_rtol<T>();
  Module m(size_of(c, "kernel"), size_of(c, "stride"), size_of(c, "padding"));
  std::ostringstream repr;
  repr << m;
  CHECK(repr.str() == c.param<std::string>("repr"));
  auto x = c.tensor<T>("x").requires_grad_(true);
  auto y = m(x);
  expect_close(y, c.tensor<double>("y"), rtol, -1, "output");
  (y * c.tensor<T>("r")).sum().backward();
  expect_close(x.grad(), c.tensor<double>("dx"), rtol, -1, "grad of input");
}

}  // namespace

TEST_CASE("AvgPool2d matches PyTorch's forward and gradients", "[pooling][reference]") {
  auto names = refs().names("avgpool_");
  REQUIRE(names.size() == 4);
  for (const auto& name : names) {
    SECTION(name + " float") { replay_pool<nn::AvgPool2d<float>, float>(refs().get(name)); }
    SECTION(name + " double") { replay_pool<nn::AvgPool2d<double>, double>(refs().get(name)); }
  }
}

TEST_CASE("MaxPool2d matches PyTorch's forward and gradients, ties included", "[pooling][reference]") {
  auto names = refs().names("maxpool_");
  REQUIRE(names.size() == 6);
  for (const auto& name : names) {
    SECTION(name + " float") { replay_pool<nn::MaxPool2d<float>, float>(refs().get(name)); }
    SECTION(name + " double") { replay_pool<nn::MaxPool2d<double>, double>(refs().get(name)); }
  }
}

TEST_CASE("MaxPool2d routes the gradient to the first maximum of a window", "[pooling]") {
  // One 2x2 window of equal values: the whole gradient goes to element (0, 0).
  auto x = hnn::full<double>({1, 1, 2, 2}, 3.0).requires_grad_(true);
  auto y = nn::functional::max_pool2d(x, 2);
  y.backward(hnn::full<double>({1, 1, 1, 1}, 5.0));
  CHECK(x.grad().to_vector() == std::vector<double>{5.0, 0.0, 0.0, 0.0});
}

TEST_CASE("Pooling gradcheck in double", "[pooling][gradcheck]") {
  hnn::Generator gen(9);
  struct Config {
    std::array<int64_t, 2> kernel, stride, padding;
    hnn::Shape x;
  };
  const Config configs[] = {
      {{2, 2}, {2, 2}, {0, 0}, {2, 2, 4, 4}},
      {{2, 2}, {2, 2}, {0, 0}, {1, 2, 5, 7}},  // odd sizes: the 2x2 fast path leaves a row and column out
      {{3, 3}, {2, 2}, {0, 0}, {1, 2, 7, 5}},
      {{3, 2}, {1, 2}, {1, 1}, {2, 1, 4, 5}},
      {{2, 2}, {1, 1}, {0, 0}, {2, 3, 3}},
  };
  for (const auto& cfg : configs) {
    INFO("input " << cfg.x << " kernel " << cfg.kernel[0] << "x" << cfg.kernel[1]);
    auto avg = [&cfg](const std::vector<hnn::Tensor<double>>& in) {
      return hnn::avg_pool2d(in[0], cfg.kernel, cfg.stride, cfg.padding);
    };
    auto max = [&cfg](const std::vector<hnn::Tensor<double>>& in) {
      return hnn::max_pool2d(in[0], cfg.kernel, cfg.stride, cfg.padding);
    };
    // randn values are distinct, so no window has a tie that finite differences would straddle.
    auto x = hnn::randn<double>(cfg.x, gen).requires_grad_(true);
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(avg, {x}));
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(max, {x}));
  }
}

TEST_CASE("Pooling modules: CTAD, default stride and reprs", "[pooling]") {
  nn::AvgPool2d avg(2, 2);
  static_assert(std::is_same_v<decltype(avg), nn::AvgPool2d<float, hnn::CPU>>);
  nn::MaxPool2d max(2);
  std::ostringstream a, m;
  a << avg;
  m << max;
  CHECK(a.str() == "AvgPool2d(kernel_size=2, stride=2, padding=0)");
  CHECK(m.str() == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  CHECK(max(hnn::zeros<float>({2, 3, 24, 24})).shape() == hnn::Shape{2, 3, 12, 12});
  nn::AvgPool2d<double> odd({2, 3}, {1, 2});
  std::ostringstream o;
  o << odd;
  CHECK(o.str() == "AvgPool2d(kernel_size=(2, 3), stride=(1, 2), padding=0)");
  CHECK(odd(hnn::zeros<double>({1, 5, 7})).shape() == hnn::Shape{1, 4, 3});
}

TEST_CASE("Pooling rejects bad inputs naming module, expected and actual", "[pooling][errors]") {
  nn::AvgPool2d avg(2, 2);
  nn::MaxPool2d max(2, 2);
  CHECK_THROWS_MATCHES(
      avg(hnn::zeros<float>({4, 28})), std::invalid_argument,
      Catch::Message("AvgPool2d: expected 3D (C, H, W) or 4D (N, C, H, W) input, got shape [4, 28]"));
  CHECK_THROWS_MATCHES(
      max(hnn::zeros<float>({1, 2, 3, 4, 5})), std::invalid_argument,
      Catch::Message("MaxPool2d: expected 3D (C, H, W) or 4D (N, C, H, W) input, got shape [1, 2, 3, 4, 5]"));
  CHECK_THROWS_WITH(hnn::max_pool2d(hnn::zeros<float>({1, 1, 1, 1}), {2, 2}, {2, 2}),
                    Catch::Contains("output size is too small"));
  CHECK_THROWS_WITH(hnn::avg_pool2d(hnn::zeros<float>({1, 1, 4, 4}), {2, 2}, {2, 2}, {2, 2}),
                    Catch::Contains("pad should be at most half of kernel size"));
}
