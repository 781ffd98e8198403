// Tests for include/hnn/nn/linear.hpp and ops/linear.hpp: forward and gradients against the PyTorch
// fixtures of tools/references/layers.py in float and double, gradcheck, default initialisation, errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <hnn/nn/linear.hpp>
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

template <class T>
void replay_linear(const hnn::test::ReferenceCase& c) {
  INFO("case " << c.name() << ": " << c.call());
  const double rtol = hnn::test::default_rtol<T>();
  const bool has_bias = c.param<bool>("bias");
  nn::Linear<T> m(c.param<int64_t>("in_features"), c.param<int64_t>("out_features"), has_bias);
  std::ostringstream repr;
  repr << m;
  CHECK(repr.str() == c.param<std::string>("repr"));
  {
    hnn::NoGradGuard guard;
    m.weight().copy_(c.tensor<T>("weight"));
    if (has_bias) m.bias().copy_(c.tensor<T>("bias"));
  }
  CHECK(m.bias().defined() == has_bias);
  auto x = c.tensor<T>("x").requires_grad_(true);
  auto y = m(x);
  expect_close(y, c.tensor<double>("y"), rtol, -1, "output");
  (y * c.tensor<T>("r")).sum().backward();
  expect_close(x.grad(), c.tensor<double>("dx"), rtol, -1, "grad of input");
  expect_close(m.weight().grad(), c.tensor<double>("dweight"), rtol, -1, "grad of weight");
  if (has_bias) expect_close(m.bias().grad(), c.tensor<double>("dbias"), rtol, -1, "grad of bias");
}

}  // namespace

TEST_CASE("Linear matches PyTorch's forward and gradients", "[linear][reference]") {
  auto names = refs().names("linear_");
  REQUIRE(names.size() == 4);
  for (const auto& name : names) {
    SECTION(name + " float") { replay_linear<float>(refs().get(name)); }
    SECTION(name + " double") { replay_linear<double>(refs().get(name)); }
  }
}

TEST_CASE("Linear deduces float on CPU and registers weight then bias", "[linear]") {
  hnn::nn::Linear lin(784, 256);
  static_assert(std::is_same_v<decltype(lin), nn::Linear<float, hnn::CPU>>);
  auto named = lin.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "weight");
  CHECK(named[0].second.shape() == hnn::Shape{256, 784});
  CHECK(named[1].first == "bias");
  CHECK(named[1].second.shape() == hnn::Shape{256});
  CHECK(lin.weight().requires_grad());
  std::ostringstream repr;
  repr << lin;
  CHECK(repr.str() == "Linear(in_features=784, out_features=256, bias=True)");

  nn::Linear<double> no_bias(3, 2, false);
  CHECK(no_bias.parameters().size() == 1);
  CHECK(no_bias.state_dict().size() == 1);
  CHECK(no_bias.state_dict().count("weight") == 1);
}

TEST_CASE("Linear gradcheck in double", "[linear][gradcheck]") {
  hnn::Generator gen(11);
  auto fn = [](const std::vector<hnn::Tensor<double>>& in) {
    return nn::functional::linear(in[0], in[1], in[2]);
  };
  SECTION("2-D input with bias") {
    std::vector<hnn::Tensor<double>> inputs{hnn::randn<double>({4, 5}, gen).requires_grad_(true),
                                            hnn::randn<double>({3, 5}, gen).requires_grad_(true),
                                            hnn::randn<double>({3}, gen).requires_grad_(true)};
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(fn, inputs));
  }
  SECTION("3-D input with bias") {
    std::vector<hnn::Tensor<double>> inputs{hnn::randn<double>({2, 3, 4}, gen).requires_grad_(true),
                                            hnn::randn<double>({2, 4}, gen).requires_grad_(true),
                                            hnn::randn<double>({2}, gen).requires_grad_(true)};
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(fn, inputs));
  }
  SECTION("no bias") {
    auto no_bias = [](const std::vector<hnn::Tensor<double>>& in) {
      return nn::functional::linear(in[0], in[1]);
    };
    std::vector<hnn::Tensor<double>> inputs{hnn::randn<double>({3, 4}, gen).requires_grad_(true),
                                            hnn::randn<double>({5, 4}, gen).requires_grad_(true)};
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(no_bias, inputs));
  }
}

TEST_CASE("Linear's default initialisation is PyTorch's U(-1/sqrt(in), 1/sqrt(in))", "[linear][init]") {
  hnn::manual_seed(7);
  nn::Linear<double> lin(400, 300);
  const double bound = 1.0 / std::sqrt(400.0);
  for (const auto& [name, values] : {std::pair{std::string("weight"), lin.weight().to_vector()},
                                     std::pair{std::string("bias"), lin.bias().to_vector()}}) {
    INFO(name);
    double lo = 1e9, hi = -1e9, sum = 0, sum_sq = 0;
    for (double v : values) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      sum += v;
      sum_sq += v * v;
    }
    const double n = static_cast<double>(values.size());
    CHECK(lo >= -bound);
    CHECK(hi <= bound);
    CHECK(lo < -0.9 * bound);
    CHECK(hi > 0.9 * bound);
    // U(-b, b): mean 0, variance b^2 / 3; tolerances are several standard errors.
    CHECK(std::abs(sum / n) < 6 * bound / std::sqrt(3 * n));
    if (name == "weight") CHECK(sum_sq / n == Approx(bound * bound / 3).epsilon(0.02));
  }
  // manual_seed makes the draw reproducible.
  hnn::manual_seed(7);
  nn::Linear<double> again(400, 300);
  CHECK(again.weight().to_vector() == lin.weight().to_vector());
  CHECK(again.bias().to_vector() == lin.bias().to_vector());
}

TEST_CASE("Linear rejects a wrong feature count naming module, expected and actual", "[linear][errors]") {
  nn::Linear lin(784, 256);
  auto x = hnn::zeros<float>({16, 783});
  CHECK_THROWS_MATCHES(
      lin(x), std::invalid_argument,
      Catch::Message("Linear: expected input with 784 features (last dimension), got shape [16, 783]"));
  CHECK_THROWS_AS(nn::functional::linear(x, lin.weight()), std::invalid_argument);
  CHECK_THROWS_AS(nn::functional::linear(hnn::zeros<float>({2, 784}), lin.weight(), hnn::zeros<float>({255})),
                  std::invalid_argument);
}

TEST_CASE("Linear clone copies parameters into new storage", "[linear]") {
  nn::Linear<float> lin(3, 2);
  auto copy = std::dynamic_pointer_cast<nn::Linear<float>>(lin.clone());
  REQUIRE(copy);
  CHECK(copy->weight().to_vector() == lin.weight().to_vector());
  CHECK(copy->weight().data() != lin.weight().data());
}
