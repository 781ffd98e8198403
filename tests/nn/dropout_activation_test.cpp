// Tests for include/hnn/nn/dropout.hpp, activation.hpp and flatten.hpp: activations and Flatten against the
// PyTorch fixtures of tools/references/layers.py in float and double, gradchecks (dropout with a fixed
// mask), dropout statistics, eval identity, seeding, and PyTorch's reprs and errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <hnn/nn/activation.hpp>
#include <hnn/nn/dropout.hpp>
#include <hnn/nn/flatten.hpp>
#include <memory>
#include <sstream>

#include "reference.hpp"

namespace nn = hnn::nn;
using hnn::test::expect_close;

namespace {

const hnn::test::References& refs() {
  static hnn::test::References r("layers.json");
  return r;
}

template <class T>
std::shared_ptr<nn::Module<T>> activation_for(const std::string& name) {
  if (name == "act_relu") return std::make_shared<nn::ReLU<T>>();
  if (name == "act_sigmoid") return std::make_shared<nn::Sigmoid<T>>();
  if (name == "act_tanh") return std::make_shared<nn::Tanh<T>>();
  if (name == "act_softmax_dim1") return std::make_shared<nn::Softmax<T>>(1);
  if (name == "act_log_softmax_dim1") return std::make_shared<nn::LogSoftmax<T>>(1);
  if (name == "act_softmax_dim-1") return std::make_shared<nn::Softmax<T>>(-1);
  if (name == "act_flatten") return std::make_shared<nn::Flatten<T>>();
  if (name == "act_flatten_1_2") return std::make_shared<nn::Flatten<T>>(1, 2);
  FAIL("no module for case " << name);
  return nullptr;
}

template <class T>
void replay_activation(const hnn::test::ReferenceCase& c) {
  INFO("case " << c.name() << ": " << c.call());
  const double rtol = hnn::test::default_rtol<T>();
  auto m = activation_for<T>(c.name());
  CHECK(m->repr() == c.param<std::string>("repr"));
  auto x = c.tensor<T>("x").requires_grad_(true);
  auto y = (*m)(x);
  expect_close(y, c.tensor<double>("y"), rtol, -1, "output");
  (y * c.tensor<T>("r")).sum().backward();
  expect_close(x.grad(), c.tensor<double>("dx"), rtol, -1, "grad of input");
}

}  // namespace

TEST_CASE("Activations and Flatten match PyTorch's forward and gradients", "[activation][reference]") {
  auto names = refs().names("act_");
  REQUIRE(names.size() == 8);
  for (const auto& name : names) {
    SECTION(name + " float") { replay_activation<float>(refs().get(name)); }
    SECTION(name + " double") { replay_activation<double>(refs().get(name)); }
  }
}

TEST_CASE("Activations and Flatten gradcheck in double", "[activation][gradcheck]") {
  hnn::Generator gen(21);
  using Fn = std::function<hnn::Tensor<double>(const std::vector<hnn::Tensor<double>>&)>;
  const std::vector<std::pair<std::string, Fn>> fns{
      {"relu", [](const auto& in) { return nn::functional::relu(in[0]); }},
      {"sigmoid", [](const auto& in) { return nn::functional::sigmoid(in[0]); }},
      {"tanh", [](const auto& in) { return nn::functional::tanh(in[0]); }},
      {"softmax", [](const auto& in) { return nn::functional::softmax(in[0], 1); }},
      {"log_softmax", [](const auto& in) { return nn::functional::log_softmax(in[0], 1); }},
      {"flatten", [](const auto& in) { return nn::Flatten<double>()(in[0]); }},
  };
  for (const auto& [name, fn] : fns) {
    INFO(name);
    // Keep relu's inputs away from its kink at 0, where finite differences disagree with any subgradient.
    auto x = hnn::randn<double>({3, 4, 2}, gen);
    for (int64_t i = 0; i < x.numel(); ++i)
      if (std::abs(x.data()[i]) < 0.05) x.data()[i] = 0.5;
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(fn, {x.requires_grad_(true)}));
  }
}

TEST_CASE("Dropout gradcheck in double with a fixed mask", "[dropout][gradcheck]") {
  auto fn = [](const std::vector<hnn::Tensor<double>>& in) {
    hnn::Generator gen(1234);  // the same mask on every evaluation
    return nn::functional::dropout(in[0], 0.3, true, gen);
  };
  hnn::Generator gen(2);
  CHECK(hnn::autograd::gradcheck<hnn::CPU>(fn, {hnn::randn<double>({4, 6}, gen).requires_grad_(true)}));
}

TEST_CASE("Dropout zeroes a fraction p, scales by 1/(1-p) and preserves the mean", "[dropout]") {
  hnn::manual_seed(0);
  nn::Dropout drop(0.25);
  auto x = hnn::ones<float>({200, 500});
  auto y = drop(x).to_vector();
  double zeros = 0, sum = 0, wrongly_scaled = 0;
  for (float v : y) {
    if (v == 0.0f)
      ++zeros;
    else if (v != static_cast<float>(1.0 / 0.75))
      ++wrongly_scaled;
    sum += v;
  }
  CHECK(wrongly_scaled == 0);
  const double n = static_cast<double>(y.size());
  // Binomial(n, 0.25): standard deviation of the fraction is sqrt(0.25 * 0.75 / n) ~ 0.002.
  CHECK(std::abs(zeros / n - 0.25) < 0.01);
  CHECK(std::abs(sum / n - 1.0) < 0.015);

  SECTION("the gradient uses the same mask") {
    auto xg = hnn::ones<double>({50, 40}).requires_grad_(true);
    nn::Dropout<double> d(0.5);
    auto out = d(xg);
    out.sum().backward();
    CHECK(xg.grad().to_vector() == out.detach().to_vector());
  }
  SECTION("eval mode is the identity") {
    drop.eval();
    auto r = hnn::rand<float>({7, 9});
    CHECK(drop(r).to_vector() == r.to_vector());
  }
  SECTION("manual_seed makes the mask reproducible") {
    hnn::manual_seed(99);
    auto a = drop(x).to_vector();
    hnn::manual_seed(99);
    auto b = drop(x).to_vector();
    auto c = drop(x).to_vector();
    CHECK(a == b);
    CHECK(a != c);
  }
  SECTION("p = 0 keeps and p = 1 drops everything") {
    CHECK(nn::Dropout(0.0)(x).to_vector() == x.to_vector());
    CHECK(nn::Dropout(1.0)(x).to_vector() == std::vector<float>(static_cast<size_t>(x.numel()), 0.0f));
  }
}

TEST_CASE("Dropout rejects p outside [0, 1] with PyTorch's message", "[dropout][errors]") {
  CHECK_THROWS_MATCHES(nn::Dropout(1.5), std::invalid_argument,
                       Catch::Message("dropout probability has to be between 0 and 1, but got 1.5"));
  CHECK_THROWS_MATCHES(nn::functional::dropout(hnn::ones<float>({2}), -0.1), std::invalid_argument,
                       Catch::Message("dropout probability has to be between 0 and 1, but got -0.1"));
}

TEST_CASE("Activation, Dropout and Flatten reprs are PyTorch's", "[activation]") {
  auto repr = [](const auto& m) {
    std::ostringstream os;
    os << m;
    return os.str();
  };
  CHECK(repr(nn::ReLU()) == "ReLU()");
  CHECK(repr(nn::Sigmoid()) == "Sigmoid()");
  CHECK(repr(nn::Tanh()) == "Tanh()");
  CHECK(repr(nn::Softmax(1)) == "Softmax(dim=1)");
  CHECK(repr(nn::LogSoftmax(1)) == "LogSoftmax(dim=1)");
  CHECK(repr(nn::Flatten()) == "Flatten(start_dim=1, end_dim=-1)");
  CHECK(repr(nn::Dropout(0.25)) == "Dropout(p=0.25, inplace=False)");
  CHECK(repr(nn::Dropout()) == "Dropout(p=0.5, inplace=False)");
  CHECK(nn::Flatten()(hnn::zeros<float>({16, 1, 28, 28})).shape() == hnn::Shape{16, 784});
}
