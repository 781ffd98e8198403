// Tests for include/hnn/ops/loss.hpp, nn/functional/loss.hpp and nn/loss.hpp: the PyTorch fixture matrix of
// tools/references/losses.py (every loss x reduction x target kind) in float and double through the modules
// and the functional forms, gradchecks in double for every loss, error messages and reprs.
#include <catch2/catch.hpp>
#include <hnn/nn/functional/loss.hpp>
#include <hnn/nn/loss.hpp>
#include <hnn/tensor.hpp>
#include <sstream>

#include "reference.hpp"

namespace nn = hnn::nn;
namespace F = hnn::nn::functional;
using hnn::test::expect_close;

namespace {

const hnn::test::References& refs() {
  static hnn::test::References r("losses.json");
  return r;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

/// Runs the loss a case names through its module (and its functional form, which must agree exactly).
template <class T>
hnn::Tensor<T> evaluate(const hnn::test::ReferenceCase& c, const hnn::Tensor<T>& x) {
  const std::string name = c.name();
  const auto reduction = hnn::reduction_from_string(c.param<std::string>("reduction"));
  hnn::Tensor<T> out, functional;
  // Class weights (cross_entropy, nll_loss) or element weights (binary_cross_entropy), when the case has
  // them.
  const hnn::Tensor<T> weight = c.has("weight") ? c.tensor<T>("weight") : hnn::Tensor<T>();
  if (starts_with(name, "ce_")) {
    auto options = nn::CrossEntropyLossOptions().reduction(reduction).label_smoothing(
        c.param<double>("label_smoothing"));
    if (c.param<std::string>("kind") == "indices") {
      options.ignore_index(c.param<int64_t>("ignore_index"));
      auto target = c.tensor<int64_t>("target");
      out = nn::CrossEntropyLoss<T>(options, weight)(x, target);
      functional = F::cross_entropy(x.detach(), target, options, weight);
    } else {
      auto target = c.tensor<T>("target");
      out = nn::CrossEntropyLoss<T>(options, weight)(x, target);
      functional = F::cross_entropy(x.detach(), target, options, weight);
    }
  } else if (starts_with(name, "nll_")) {
    auto options = nn::NLLLossOptions(reduction).ignore_index(c.param<int64_t>("ignore_index"));
    auto target = c.tensor<int64_t>("target");
    out = nn::NLLLoss<T>(options, weight)(x, target);
    functional = F::nll_loss(x.detach(), target, options, weight);
  } else if (starts_with(name, "mse_")) {
    auto target = c.tensor<T>("target");
    out = nn::MSELoss(reduction)(x, target);
    functional = F::mse_loss(x.detach(), target, reduction);
  } else if (starts_with(name, "bce_logits")) {
    auto target = c.tensor<T>("target");
    hnn::Tensor<T> pos_weight = c.has("pos_weight") ? c.tensor<T>("pos_weight") : hnn::Tensor<T>();
    out = nn::BCEWithLogitsLoss<T>(reduction, pos_weight)(x, target);
    functional = F::binary_cross_entropy_with_logits(x.detach(), target, reduction, pos_weight);
  } else if (starts_with(name, "bce_")) {
    auto target = c.tensor<T>("target");
    out = nn::BCELoss<T>(reduction, weight)(x, target);
    functional = F::binary_cross_entropy(x.detach(), target, reduction, weight);
  } else {
    FAIL("unknown loss case " << name);
  }
  REQUIRE(functional.shape() == out.shape());
  CHECK(functional.to_vector() == out.to_vector());
  return out;
}

template <class T>
void replay(const std::string& name) {
  auto c = refs().get(name);
  INFO("case " << name << ": " << c.call());
  auto x = c.tensor<T>("input").requires_grad_(true);
  auto out = evaluate<T>(c, x);
  expect_close(out, c.tensor<double>("output"), hnn::test::default_rtol<T>(), -1, "loss");
  if (c.param<std::string>("reduction") == "none")
    (out * c.tensor<T>("r")).sum().backward();
  else
    out.backward();
  expect_close(x.grad(), c.tensor<double>("grad_input"), hnn::test::default_rtol<T>(), -1, "grad of input");
}

}  // namespace

TEST_CASE("losses match PyTorch for every reduction and target kind (double, 1e-10)", "[loss][reference]") {
  const auto names = refs().names();
  REQUIRE(names.size() == 78);
  for (const auto& name : names) {
    DYNAMIC_SECTION(name) { replay<double>(name); }
  }
}

TEST_CASE("losses match PyTorch for every reduction and target kind (float, 1e-5)", "[loss][reference]") {
  for (const auto& name : refs().names()) {
    DYNAMIC_SECTION(name) { replay<float>(name); }
  }
}

TEST_CASE("one-hot targets give the class-index loss", "[loss]") {
  hnn::Generator gen(7);
  auto logits = hnn::randn<float>({16, 10}, gen);
  std::vector<int64_t> labels(16);
  auto onehot = hnn::zeros<float>({16, 10});
  for (int i = 0; i < 16; ++i) {
    labels[static_cast<size_t>(i)] = (i * 7) % 10;
    onehot.data()[i * 10 + labels[static_cast<size_t>(i)]] = 1.0f;
  }
  auto target = hnn::tensor<int64_t>(labels, {16});
  nn::CrossEntropyLoss ce;
  for (auto r : {hnn::Reduction::Mean, hnn::Reduction::Sum, hnn::Reduction::None}) {
    ce.options().reduction(r);
    auto a = logits.detach().requires_grad_(true), b = logits.detach().clone().requires_grad_(true);
    auto la = ce(a, target), lb = ce(b, onehot);
    expect_close(la, lb, 1e-6, -1, "loss");
    (r == hnn::Reduction::None ? la.sum() : la).backward();
    (r == hnn::Reduction::None ? lb.sum() : lb).backward();
    expect_close(a.grad(), b.grad(), 1e-6, -1, "grad");
  }
}

TEST_CASE("gradcheck in double for every loss and reduction", "[loss][gradcheck]") {
  hnn::Generator gen(11);
  using TD = hnn::Tensor<double>;
  auto logits = hnn::randn<double>({4, 5}, gen);
  auto logits_kdim = hnn::randn<double>({2, 3, 2}, gen);
  auto labels = hnn::tensor<int64_t>({1, 4, 0, -100}, {4});
  auto labels_kdim = hnn::tensor<int64_t>({0, 2, 1, 1}, {2, 2});
  auto probs = hnn::rand<double>({4, 5}, gen);
  auto values = hnn::randn<double>({3, 4}, gen);
  auto targets01 = hnn::rand<double>({3, 4}, gen);
  auto probabilities = hnn::rand<double>({3, 4}, gen) * 0.8 + 0.1;  // away from the clamp at 0 and 1
  auto pos_weight = hnn::rand<double>({4}, gen) + 0.5;
  for (auto r : {hnn::Reduction::Mean, hnn::Reduction::Sum, hnn::Reduction::None}) {
    INFO("reduction " << hnn::reduction_string(r));
    auto ce_idx = nn::CrossEntropyLossOptions(r).label_smoothing(0.15);
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(
        [&](const std::vector<TD>& in) { return F::cross_entropy(in[0], labels, ce_idx); },
        {logits.clone().requires_grad_(true)}));
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(
        [&](const std::vector<TD>& in) { return F::cross_entropy(in[0], labels_kdim, ce_idx); },
        {logits_kdim.clone().requires_grad_(true)}));
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(
        [&](const std::vector<TD>& in) { return F::cross_entropy(in[0], probs, ce_idx); },
        {logits.clone().requires_grad_(true)}));
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(
        [&](const std::vector<TD>& in) { return F::nll_loss(in[0], labels, nn::NLLLossOptions(r)); },
        {logits.clone().requires_grad_(true)}));
    // mse_loss also differentiates its target.
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(
        [&](const std::vector<TD>& in) { return F::mse_loss(in[0], in[1], r); },
        {values.clone().requires_grad_(true), targets01.clone().requires_grad_(true)}));
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(
        [&](const std::vector<TD>& in) { return F::binary_cross_entropy(in[0], targets01, r); },
        {probabilities.clone().requires_grad_(true)}));
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(
        [&](const std::vector<TD>& in) {
          return F::binary_cross_entropy_with_logits(in[0], targets01, r, pos_weight);
        },
        {(values * 4.0).requires_grad_(true)}));
  }
}

TEST_CASE("loss modules print like PyTorch and accept reductions as enums or strings", "[loss]") {
  auto repr = [](const auto& m) {
    std::ostringstream os;
    os << m;
    return os.str();
  };
  CHECK(repr(nn::CrossEntropyLoss()) == "CrossEntropyLoss()");
  CHECK(repr(nn::NLLLoss()) == "NLLLoss()");
  CHECK(repr(nn::MSELoss()) == "MSELoss()");
  CHECK(repr(nn::BCELoss()) == "BCELoss()");
  CHECK(repr(nn::BCEWithLogitsLoss()) == "BCEWithLogitsLoss()");
  CHECK(nn::CrossEntropyLoss().options().reduction() == nn::Reduction::Mean);
  CHECK(nn::CrossEntropyLoss().options().ignore_index() == -100);
  CHECK(nn::CrossEntropyLoss().options().label_smoothing() == 0.0);
  CHECK(nn::MSELoss("sum").options().reduction() == nn::Reduction::Sum);
  CHECK(nn::CrossEntropyLoss(nn::CrossEntropyLossOptions().reduction("none")).options().reduction() ==
        nn::Reduction::None);
  CHECK_THROWS_WITH(nn::MSELoss("avg"), Catch::Contains("avg is not a valid value for reduction"));

  // One module serves float and double inputs; reductions give 0-dim results.
  nn::MSELoss mse(nn::Reduction::Sum);
  auto xd = hnn::tensor<double>({1.0, 2.0}, {2});
  auto xf = hnn::tensor<float>({1.0f, 2.0f}, {2});
  CHECK(mse(xd, xd * 2.0).item() == 5.0);
  CHECK(mse(xf, xf * 2.0f).item() == 5.0f);
  CHECK(mse(xf, xf).dim() == 0);
  CHECK(nn::MSELoss("none")(xf, xf).shape() == hnn::Shape{2});
}

TEST_CASE("loss errors name the loss, the expected and the actual value", "[loss][errors]") {
  hnn::Generator gen(5);
  auto logits = hnn::randn<float>({16, 10}, gen);
  nn::CrossEntropyLoss ce;
  CHECK_THROWS_AS(ce(logits, hnn::zeros<int64_t>({15})), std::invalid_argument);
  CHECK_THROWS_WITH(ce(logits, hnn::zeros<int64_t>({15})),
                    "CrossEntropyLoss: expected target of shape [16] (class indices) or [16, 10] "
                    "(probabilities), got [15]");
  CHECK_THROWS_WITH(ce(logits, hnn::zeros<float>({16, 9})),
                    "CrossEntropyLoss: expected target of shape [16] (class indices) or [16, 10] "
                    "(probabilities), got [16, 9]");
  auto labels = hnn::zeros<int64_t>({16});
  labels.data()[3] = 12;
  CHECK_THROWS_WITH(ce(logits, labels), Catch::Contains("Target 12 is out of bounds") &&
                                            Catch::Contains("number of classes: 10"));
  labels.data()[3] = -1;
  CHECK_THROWS_WITH(ce(logits, labels), Catch::Contains("Target -1 is out of bounds"));
  labels.data()[3] = -100;  // the default ignore_index is fine
  CHECK_NOTHROW(ce(logits, labels));
  auto probs = hnn::zeros<float>({16, 10});
  probs.data()[7] = -0.5f;
  CHECK_THROWS_WITH(ce(logits, probs),
                    Catch::Contains("CrossEntropyLoss: target probabilities must be non-negative") &&
                        Catch::Contains("-0.5"));
  CHECK_THROWS_WITH(
      nn::CrossEntropyLoss(nn::CrossEntropyLossOptions().label_smoothing(1.5))(logits, probs.abs()),
      Catch::Contains("label_smoothing must be between 0.0 and 1.0, got 1.5"));
  CHECK_THROWS_WITH(F::cross_entropy(logits, hnn::zeros<int64_t>({4})),
                    Catch::StartsWith("cross_entropy: expected target of shape [16]"));
  CHECK_THROWS_WITH(nn::NLLLoss()(logits, hnn::full<int64_t>({16}, 10)),
                    Catch::Contains("NLLLoss: Target 10 is out of bounds"));

  auto p = hnn::full<float>({2, 3}, 0.5f);
  p.data()[4] = 1.5f;
  CHECK_THROWS_WITH(
      nn::BCELoss()(p, hnn::zeros<float>({2, 3})),
      Catch::Contains("BCELoss: all elements of input should be between 0 and 1") && Catch::Contains("1.5"));
  CHECK_THROWS_WITH(nn::MSELoss()(p, hnn::zeros<float>({3, 2})),
                    "MSELoss: expected target of the input's shape [2, 3], got [3, 2]");
  CHECK_THROWS_WITH(nn::BCEWithLogitsLoss()(p, hnn::zeros<float>({2})),
                    Catch::StartsWith("BCEWithLogitsLoss: expected target"));
  CHECK_THROWS_WITH(
      F::binary_cross_entropy_with_logits(p, p, {}, hnn::ones<float>({2})),
      Catch::Contains("pos_weight of shape [2] does not broadcast to the input's shape [2, 3]"));
}

TEST_CASE("ignoring every target gives nan under mean, 0 under sum, as PyTorch", "[loss]") {
  auto logits = hnn::zeros<double>({2, 3}).requires_grad_(true);
  auto ignored = hnn::full<int64_t>({2}, -100);
  CHECK(std::isnan(nn::CrossEntropyLoss()(logits, ignored).item()));
  auto sum = nn::CrossEntropyLoss(nn::CrossEntropyLossOptions("sum"))(logits, ignored);
  CHECK(sum.item() == 0.0);
  sum.backward();
  CHECK(logits.grad().to_vector() == std::vector<double>(6, 0.0));
}

TEST_CASE("large inputs (the parallel path under OpenMP) agree with the composite formulas", "[loss]") {
  hnn::Generator gen(9);
  const int64_t N = 6000, C = 12;
  auto logits = hnn::randn<double>({N, C}, gen).requires_grad_(true);
  std::vector<int64_t> labels(static_cast<size_t>(N));
  auto onehot = hnn::zeros<double>({N, C});
  for (int64_t i = 0; i < N; ++i) {
    labels[static_cast<size_t>(i)] = (i * 5 + 3) % C;
    onehot.data()[i * C + labels[static_cast<size_t>(i)]] = 1.0;
  }
  auto target = hnn::tensor<int64_t>(labels, {N});
  // cross_entropy = mean over rows of -sum(onehot * log_softmax(x)); composite ops give the reference.
  auto composite_input = logits.detach().requires_grad_(true);
  auto composite = (composite_input.log_softmax(1) * onehot).sum() * (-1.0 / static_cast<double>(N));
  composite.backward();
  auto fused = F::cross_entropy(logits, target);
  fused.backward();
  expect_close(fused, composite.detach(), 1e-12, -1, "cross_entropy");
  expect_close(logits.grad(), composite_input.grad(), 1e-10, -1, "grad of cross_entropy");

  auto a = hnn::randn<double>({N, C}, gen).requires_grad_(true), b = hnn::rand<double>({N, C}, gen);
  auto a2 = a.detach().requires_grad_(true);
  auto sig = a2.sigmoid();
  // binary_cross_entropy_with_logits = mean of -(b log s + (1 - b) log(1 - s)) for moderate logits.
  auto composite_bce = ((b * sig.log() + (1.0 - b) * (1.0 - sig).log()).mean()) * -1.0;
  composite_bce.backward();
  auto fused_bce = F::binary_cross_entropy_with_logits(a, b);
  fused_bce.backward();
  expect_close(fused_bce, composite_bce.detach(), 1e-12, -1, "bce_with_logits");
  expect_close(a.grad(), a2.grad(), 1e-9, -1, "grad of bce_with_logits");
}

TEST_CASE("weighted losses: gradcheck in double, a weight of ones changes nothing, errors",
          "[loss][gradcheck][errors]") {
  hnn::Generator gen(19);
  auto x = hnn::randn<double>({5, 4}, gen).requires_grad_(true);
  auto target = hnn::tensor<int64_t>({0, 3, 1, 3, 2});
  auto w = hnn::rand<double>({4}, gen) + 0.3;
  auto probs = hnn::softmax(hnn::randn<double>({5, 4}, gen), 1);
  auto p = hnn::rand<double>({5, 4}, gen) * 0.8 + 0.1;
  auto y = hnn::rand<double>({5, 4}, gen);
  for (auto reduction : {hnn::Reduction::Mean, hnn::Reduction::Sum, hnn::Reduction::None}) {
    INFO("reduction " << static_cast<int>(reduction));
    auto r = hnn::randn<double>({5}, gen);
    auto reduce = [&](const hnn::Tensor<double>& out) {
      return reduction == hnn::Reduction::None ? out * r : out;
    };
    auto ce = [&](const std::vector<hnn::Tensor<double>>& in) {
      return reduce(F::cross_entropy(
          in[0], target, nn::CrossEntropyLossOptions(reduction).label_smoothing(0.2).ignore_index(1), w));
    };
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(ce, {x}));
    auto ce_prob = [&](const std::vector<hnn::Tensor<double>>& in) {
      return reduce(
          F::cross_entropy(in[0], probs, nn::CrossEntropyLossOptions(reduction).label_smoothing(0.1), w));
    };
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(ce_prob, {x}));
    auto nll = [&](const std::vector<hnn::Tensor<double>>& in) {
      return reduce(F::nll_loss(in[0], target, nn::NLLLossOptions(reduction), w));
    };
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(nll, {x}));
    auto r2 = hnn::randn<double>({5, 4}, gen);
    auto bce = [&](const std::vector<hnn::Tensor<double>>& in) {
      auto out = F::binary_cross_entropy(in[0], y, nn::BCELossOptions(reduction), w);
      return reduction == hnn::Reduction::None ? out * r2 : out;
    };
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(bce, {p.detach().requires_grad_(true)}));
  }
  // A weight of ones is no weight (class indices, smoothing and ignore_index included).
  auto ones = hnn::ones<double>({4});
  auto options = nn::CrossEntropyLossOptions().label_smoothing(0.1).ignore_index(3);
  hnn::test::expect_close(F::cross_entropy(x.detach(), target, options, ones),
                          F::cross_entropy(x.detach(), target, options), 1e-15, 1e-15, "ones");
  // Errors: PyTorch's message for a wrongly sized class weight; a BCE weight that does not broadcast.
  REQUIRE_THROWS_WITH(
      nn::CrossEntropyLoss<double>({}, hnn::ones<double>({3}))(x, target),
      Catch::Contains("weight tensor should be defined either for all 4 classes or no classes but got "
                      "weight tensor of shape: [3]"));
  REQUIRE_THROWS_WITH(F::nll_loss(x, target, {}, hnn::ones<double>({2, 2})),
                      Catch::Contains("weight tensor should be defined either for all 4 classes"));
  REQUIRE_THROWS_WITH(F::binary_cross_entropy(p, y, {}, hnn::ones<double>({3})),
                      Catch::Contains("weight of shape [3] does not broadcast to the input's shape [5, 4]"));
  CHECK(nn::CrossEntropyLoss<double>({}, w).weight().to_vector() == w.to_vector());
}
