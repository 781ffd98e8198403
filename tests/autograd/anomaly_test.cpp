// hnn::autograd::DetectAnomalyGuard (torch.autograd.detect_anomaly): a NaN or Inf that a backward node
// returns throws, naming the node and where its forward op was created (op number, module path, input
// shapes, whether the forward output was already non-finite); off, nothing is checked or recorded;
// guards nest; check_nan=false only records; other backward errors carry the same note.
#include <catch2/catch.hpp>
#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>

#include "hnn/nn.hpp"
#include "hnn/tensor.hpp"

using Catch::Matchers::Contains;
using hnn::autograd::AnomalyMode;
using hnn::autograd::DetectAnomalyGuard;

namespace {

/// The message of the std::runtime_error that fn throws (fails the test if it throws nothing or another
/// type).
template <class Fn>
std::string runtime_error_message(Fn fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  FAIL("expected std::runtime_error");
  return "";
}

/// sqrt(x) as a module, so the failing op sits inside a module path.
class SqrtLayer : public hnn::nn::Cloneable<SqrtLayer, double> {
 public:
  hnn::Tensor<double> forward(const hnn::Tensor<double>& input) override { return input.sqrt(); }
  std::string name() const override { return "SqrtLayer"; }
};

}  // namespace

TEST_CASE("without the guard a NaN gradient passes silently and nothing is recorded", "[anomaly]") {
  REQUIRE_FALSE(AnomalyMode::is_enabled());
  auto x = hnn::tensor<double>({-1.0, 4.0}, {2}).requires_grad_();
  auto y = x.sqrt();
  CHECK(y.grad_fn()->creation_context.empty());  // zero bookkeeping when off
  REQUIRE_NOTHROW(y.sum().backward());
  const auto g = x.grad().to_vector();
  CHECK(std::isnan(g[0]));  // torch: d sqrt(x)/dx at -1 is nan
  CHECK(g[1] == Approx(0.25));
}

TEST_CASE("sqrt of a negative number: the guard names SqrtBackward0 and the forward op", "[anomaly]") {
  DetectAnomalyGuard guard;
  auto x = hnn::tensor<double>({4.0, -1.0, 9.0}, {3}).requires_grad_();
  auto loss = (x.sqrt() * 2.0).sum();
  const auto msg = runtime_error_message([&] { loss.backward(); });
  // torch: "Function 'SqrtBackward0' returned nan values in its 0th output."
  CHECK_THAT(msg, Contains("Function 'SqrtBackward0' returned nan values in its 0th output"));
  CHECK_THAT(msg, Contains("shape [3]") && Contains("flat index 1"));
  CHECK_THAT(msg, Contains("(Sqrt) called at top level") && Contains("on inputs of shape [3]"));
  CHECK_THAT(msg, Contains("forward output already held nan or inf"));  // the NaN was born in forward
  CHECK_FALSE(x.grad().defined());                                      // nothing reached the leaf
}

TEST_CASE("log(0): the Inf born in forward is reported by LogBackward0", "[anomaly]") {
  DetectAnomalyGuard guard;
  auto x = hnn::tensor<float>({1.0f, 0.0f}, {2}).requires_grad_();
  auto loss = x.log().sum();
  CHECK(std::isinf(loss.item()));
  const auto msg = runtime_error_message([&] { loss.backward(); });
  CHECK_THAT(msg, Contains("Function 'LogBackward0' returned inf values") && Contains("(Log)"));
  CHECK_THAT(msg, Contains("forward output already held nan or inf"));
}

TEST_CASE("an Inf that appears only in backward is caught too (sqrt at 0)", "[anomaly]") {
  DetectAnomalyGuard guard;
  auto x = hnn::zeros<double>({2, 2}).requires_grad_();
  auto loss = x.sqrt().sum();
  CHECK(loss.item() == 0.0);  // forward is clean
  const auto msg = runtime_error_message([&] { loss.backward(); });
  CHECK_THAT(msg, Contains("Function 'SqrtBackward0' returned inf values") && Contains("shape [2, 2]"));
  CHECK_THAT(msg, !Contains("forward output already held"));
}

TEST_CASE("the error names the module path of the forward that created the op", "[anomaly]") {
  DetectAnomalyGuard guard;
  hnn::nn::Sequential<double> net{hnn::nn::Linear<double>(2, 3), SqrtLayer()};
  {
    hnn::NoGradGuard no_grad;
    auto& linear = net.get<hnn::nn::Linear<double>>(0);
    linear.weight().fill_(-1.0);  // every output negative for positive inputs: sqrt gives nan
    linear.bias().fill_(0.0);
  }
  auto out = net(hnn::ones<double>({4, 2}));
  const auto msg = runtime_error_message([&] { out.sum().backward(); });
  CHECK_THAT(msg, Contains("SqrtBackward0") && Contains("in Sequential/1/SqrtLayer"));
  CHECK_THAT(msg, Contains("on inputs of shape [4, 3]"));
  CHECK_FALSE(net[0].parameters()[0].grad().defined());  // backward stopped before the Linear
}

TEST_CASE("finite gradients are unchanged by the guard", "[anomaly]") {
  auto run = [] {
    auto x = hnn::tensor<double>({0.5, 1.5, 2.5}, {3}).requires_grad_();
    ((x.exp() * x).log().sum() + x.pow(2.0).mean()).backward();
    return x.grad().to_vector();
  };
  const auto plain = run();
  DetectAnomalyGuard guard;
  const auto guarded = run();
  REQUIRE(plain.size() == guarded.size());
  for (size_t i = 0; i < plain.size(); ++i) CHECK(guarded[i] == plain[i]);
}

TEST_CASE("guards nest and restore the previous mode; check_nan=false only records", "[anomaly]") {
  REQUIRE_FALSE(AnomalyMode::is_enabled());
  {
    DetectAnomalyGuard outer;
    CHECK(AnomalyMode::is_enabled());
    CHECK(AnomalyMode::should_check_nan());
    {
      DetectAnomalyGuard inner(/*check_nan=*/false);
      CHECK(AnomalyMode::is_enabled());
      CHECK_FALSE(AnomalyMode::should_check_nan());
      auto x = hnn::tensor<double>({-1.0}, {1}).requires_grad_();
      auto y = x.sqrt();
      CHECK_THAT(y.grad_fn()->creation_context, Contains("(Sqrt)"));  // still recorded
      REQUIRE_NOTHROW(y.sum().backward());
      CHECK(std::isnan(x.grad().item()));
    }
    CHECK(AnomalyMode::is_enabled());
    CHECK(AnomalyMode::should_check_nan());
    auto x = hnn::tensor<double>({-1.0}, {1}).requires_grad_();
    CHECK_THROWS_AS(x.sqrt().sum().backward(), std::runtime_error);
  }
  CHECK_FALSE(AnomalyMode::is_enabled());
  CHECK(AnomalyMode::should_check_nan());
}

TEST_CASE("the guard is per thread, like torch's anomaly mode", "[anomaly]") {
  DetectAnomalyGuard guard;
  bool seen_in_other_thread = true;
  std::thread([&] { seen_in_other_thread = AnomalyMode::is_enabled(); }).join();
  CHECK_FALSE(seen_in_other_thread);
  CHECK(AnomalyMode::is_enabled());
}

TEST_CASE("a graph built before the guard says its origin is unknown", "[anomaly]") {
  auto x = hnn::tensor<double>({-4.0}, {1}).requires_grad_();
  auto loss = x.sqrt().sum();
  DetectAnomalyGuard guard;
  const auto msg = runtime_error_message([&] { loss.backward(); });
  CHECK_THAT(msg, Contains("SqrtBackward0") && Contains("created before anomaly detection was enabled"));
}

TEST_CASE("backward twice through a freed graph names the op and its creation under the guard", "[anomaly]") {
  DetectAnomalyGuard guard;
  auto x = hnn::tensor<double>({1.0, 2.0}, {2}).requires_grad_();
  auto loss = (x * x).sum();
  loss.backward();
  const auto msg = runtime_error_message([&] { loss.backward(); });
  CHECK_THAT(msg, Contains("backward through the graph a second time") && Contains("retain_graph"));
  CHECK_THAT(msg, Contains("the forward op was op #") && Contains("on inputs of shape"));
}

TEST_CASE("forward scopes are popped even when a module's forward throws", "[anomaly]") {
  DetectAnomalyGuard guard;
  hnn::nn::Sequential<double> net{hnn::nn::Linear<double>(2, 3), SqrtLayer()};
  CHECK_THROWS_AS(net(hnn::ones<double>({4, 5})), std::invalid_argument);  // Linear wants 2 features
  auto x = hnn::tensor<double>({-1.0}, {1}).requires_grad_();
  auto y = x.sqrt();
  CHECK_THAT(y.grad_fn()->creation_context, Contains("called at top level"));
}
