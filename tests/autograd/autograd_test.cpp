// Tests of the autograd engine (include/hnn/autograd/*.hpp): gradients accumulate across backward() calls
// until zeroed, backward(grad) on non-scalars, shared subexpressions (diamonds) sum their gradients,
// retain_graph, requires_grad_ on leaves and non-leaves, detach, NoGradGuard and InferenceMode (scoped,
// nested), the leaf's grad tensor updated in place, and the errors PyTorch raises: backward through a
// freed graph, backward() on a non-scalar, backward on a tensor that does not require grad.
#include <catch2/catch.hpp>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "hnn/tensor.hpp"

using Catch::Matchers::Contains;
using hnn::Tensor;

namespace {

Tensor<double> leaf(std::vector<double> v) {
  const auto n = static_cast<int64_t>(v.size());
  return hnn::tensor<double>(std::move(v), {n}).requires_grad_();
}

}  // namespace

TEST_CASE("gradients accumulate across backward calls until zero_grad", "[autograd]") {
  auto x = leaf({1, -2, 3});
  (x * x).sum().backward();
  REQUIRE(x.grad().to_vector() == std::vector<double>{2, -4, 6});
  (x * 3.0).sum().backward();  // a second graph adds into the same .grad
  REQUIRE(x.grad().to_vector() == std::vector<double>{5, -1, 9});
  x.zero_grad(/*set_to_none=*/false);
  REQUIRE(x.grad().defined());
  REQUIRE(x.grad().to_vector() == std::vector<double>{0, 0, 0});
  x.zero_grad();
  REQUIRE_FALSE(x.grad().defined());
  x.sum().backward();
  REQUIRE(x.grad().to_vector() == std::vector<double>{1, 1, 1});
}

TEST_CASE("the leaf's grad tensor is updated in place once it exists", "[autograd]") {
  auto x = leaf({1, 2});
  x.sum().backward();
  Tensor<double> held = x.grad();  // what an optimiser holds
  (x * 2.0).sum().backward();
  REQUIRE(held.to_vector() == std::vector<double>{3, 3});
  REQUIRE(x.grad().storage() == held.storage());
}

TEST_CASE("backward(grad) on non-scalar outputs is a vector-Jacobian product", "[autograd]") {
  auto a = hnn::tensor<double>({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_();
  auto y = a.exp() * 2.0;
  auto g = hnn::tensor<double>({1, 0, -1, 0.5, 2, 0}, {2, 3});
  y.backward(g);
  auto expected = (a.detach().exp() * 2.0 * g).to_vector();
  REQUIRE(a.grad().to_vector() == expected);
  // Broadcasting in the forward sums the gradient back to each input's shape.
  auto w = leaf({1, 2, 3});
  auto b = hnn::tensor<double>({2}, hnn::Shape{}).requires_grad_();
  auto z = a.detach() * w + b;  // (2, 3)
  z.backward(hnn::ones<double>({2, 3}));
  REQUIRE(w.grad().to_vector() == std::vector<double>{5, 7, 9});
  REQUIRE(b.grad().shape() == hnn::Shape{});
  REQUIRE(b.grad().item() == 6.0);
}

TEST_CASE("a tensor used twice gets the sum of both paths' gradients", "[autograd]") {
  auto x = leaf({2, 3});
  auto y = x * x;              // dy/dx = 2x
  auto z = (y + x * y).sum();  // d/dx (x^2 + x^3) = 2x + 3x^2
  z.backward();
  REQUIRE(x.grad().to_vector() == std::vector<double>{2 * 2 + 3 * 4, 2 * 3 + 3 * 9});
  REQUIRE_FALSE(y.grad().defined());  // non-leaves keep no .grad
  REQUIRE_FALSE(y.is_leaf());
  REQUIRE(y.grad_fn() != nullptr);
}

TEST_CASE("retain_graph allows a second backward; without it the graph is freed", "[autograd][errors]") {
  auto x = leaf({1, 2});
  auto y = (x.exp() * x).sum();
  y.backward(hnn::ones<double>({}), /*retain_graph=*/true);
  auto once = x.grad().to_vector();
  y.backward();
  auto twice = x.grad().to_vector();
  for (size_t i = 0; i < once.size(); ++i) REQUIRE(twice[i] == Approx(2 * once[i]));
  REQUIRE_THROWS_WITH(y.backward(), Contains("Trying to backward through the graph a second time"));
  REQUIRE_THROWS_AS(y.backward(), std::runtime_error);
}

TEST_CASE("backward() needs a one-element output or an explicit gradient of the output's shape",
          "[autograd][errors]") {
  auto x = hnn::tensor<double>({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_();
  auto y = x * 2.0;
  REQUIRE_THROWS_WITH(
      y.backward(), Contains("grad can be implicitly created only for scalar outputs") && Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(y.backward(hnn::ones<double>({3, 2})), Contains("[3, 2]") && Contains("[2, 3]"));
  // A one-element tensor of any rank works without a gradient.
  auto s = x.sum({0, 1}, /*keepdim=*/true);
  REQUIRE(s.shape() == hnn::Shape{1, 1});
  s.backward();
  REQUIRE(x.grad().to_vector() == std::vector<double>(6, 1.0));
}

TEST_CASE("backward on a tensor that does not require grad names the tensor's shape", "[autograd][errors]") {
  auto x = hnn::tensor<double>({1, 2, 3, 4}, {2, 2});
  REQUIRE_THROWS_WITH((x * 2.0).sum().backward(), Contains("does not require grad"));
  REQUIRE_THROWS_WITH((x * 2.0).backward(hnn::ones<double>({2, 2})),
                      Contains("does not require grad") && Contains("[2, 2]"));
  REQUIRE_THROWS_AS(hnn::arange<int64_t>(3).backward(hnn::ones<int64_t>({3})), std::runtime_error);
}

TEST_CASE("requires_grad_ works on leaves and returns the tensor; non-leaves and int64 refuse",
          "[autograd][errors]") {
  auto x = hnn::zeros<float>({2});
  REQUIRE_FALSE(x.requires_grad());
  Tensor<float>& same = x.requires_grad_();
  REQUIRE(&same == &x);
  REQUIRE(x.requires_grad());
  REQUIRE(x.is_leaf());
  x.requires_grad_(false);
  REQUIRE_FALSE(x.requires_grad());
  x.requires_grad_();
  auto y = x + 1.0f;
  REQUIRE(y.requires_grad());
  REQUIRE_THROWS_WITH(y.requires_grad_(false), Contains("leaf"));
  REQUIRE_THROWS_AS(hnn::zeros<int64_t>({2}).requires_grad_(), std::invalid_argument);
}

TEST_CASE("detach() shares storage and cuts the graph", "[autograd]") {
  auto x = leaf({1, 2, 3});
  auto y = x * 2.0;
  auto d = y.detach();
  REQUIRE_FALSE(d.requires_grad());
  REQUIRE(d.is_leaf());
  REQUIRE(d.storage() == y.storage());
  auto z = (y + d * d).sum();  // only the y path carries gradient
  z.backward();
  REQUIRE(x.grad().to_vector() == std::vector<double>{2, 2, 2});
  auto w = y * 1.0;
  w.detach_();
  REQUIRE_FALSE(w.requires_grad());
  REQUIRE(w.grad_fn() == nullptr);
}

TEST_CASE("NoGradGuard stops recording in its scope and restores the mode, nested", "[autograd]") {
  auto x = leaf({1, 2});
  REQUIRE(hnn::is_grad_enabled());
  {
    hnn::NoGradGuard guard;
    REQUIRE_FALSE(hnn::is_grad_enabled());
    auto y = x * x;
    REQUIRE_FALSE(y.requires_grad());
    REQUIRE(y.grad_fn() == nullptr);
    {
      hnn::NoGradGuard inner;
      REQUIRE_FALSE(hnn::is_grad_enabled());
    }
    REQUIRE_FALSE(hnn::is_grad_enabled());
    REQUIRE(x.requires_grad());  // the leaf keeps its flag
  }
  REQUIRE(hnn::is_grad_enabled());
  REQUIRE((x * x).requires_grad());
}

TEST_CASE("InferenceMode behaves like no_grad and reports itself", "[autograd]") {
  auto x = leaf({1, 2});
  REQUIRE_FALSE(hnn::InferenceMode::is_enabled());
  {
    hnn::InferenceMode guard;
    REQUIRE(hnn::InferenceMode::is_enabled());
    REQUIRE_FALSE(hnn::is_grad_enabled());
    auto y = x.exp().sum();
    REQUIRE_FALSE(y.requires_grad());
    REQUIRE_THROWS_AS(y.backward(), std::runtime_error);
    {
      hnn::InferenceMode off(false);  // InferenceMode(false) leaves the mode as it is
      REQUIRE(hnn::InferenceMode::is_enabled());
    }
  }
  REQUIRE_FALSE(hnn::InferenceMode::is_enabled());
  REQUIRE(hnn::is_grad_enabled());
  REQUIRE(x.exp().sum().requires_grad());
}

TEST_CASE("a long chain backpropagates exactly, and gradcheck passes on a composite",
          "[autograd][gradcheck]") {
  auto x = leaf({0.5});
  Tensor<double> y = x;
  for (int i = 0; i < 2000; ++i) y = y * 1.0005 + 0.0;  // deep graph: the engine must not recurse
  y.sum().backward();
  REQUIRE(x.grad().item() == Approx(std::pow(1.0005, 2000)).epsilon(1e-12));
  auto fn = [](const std::vector<Tensor<double>>& in) {
    auto h = (in[0].matmul(in[1]) + in[2]).tanh();
    return (h.log_softmax(1) * h.sigmoid()).mean({0}) / (h.pow(2.0).sum() + 1.0);
  };
  hnn::Generator gen(3);
  std::vector<Tensor<double>> inputs = {hnn::randn<double>({3, 4}, gen).requires_grad_(),
                                        hnn::randn<double>({4, 5}, gen).requires_grad_(),
                                        hnn::randn<double>({5}, gen).requires_grad_()};
  REQUIRE(hnn::autograd::gradcheck<hnn::CPU>(fn, inputs));
}
