// The precision audit (issue 17): every floating-point op and loss of shared/API.md, float and double,
// against an exact reference, held to  hnn_error <= max(2 * PyTorch's error, 4 * epsilon). Fixtures:
// tools/references/precision.py.
//
// Each case of tests/references/precision.json names an op, a dtype, an input class and PyTorch's own error
// on it (tools/references/precision.py says how errors are measured and how the inputs are generated). The
// inputs are generated here by the same integer formulas; a digest per input proves they are the same values.
// Elementwise cases compute their exact reference here in long double (the C library's expl, logl, ... as
// numpy's long double does); the other cases carry their exact results as double-doubles. With
// HNN_PRECISION_TABLE=<file> set, the test also appends its results there, a tab-separated row per measured
// quantity (scripts/precision_audit.sh makes the table tests/ops/PRECISION.md from them).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <hnn/hnn.hpp>
#include <iomanip>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "reference.hpp"

namespace {

using LD = long double;
using Json = nlohmann::json;

// ---- inputs, as tools/references/precision.py generates them
// -------------------------------------------------

std::vector<double> splitmix_uniform(uint64_t seed, int64_t n) {
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    uint64_t z = seed + static_cast<uint64_t>(i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    out[static_cast<size_t>(i)] = (static_cast<double>(z >> 11) - 0x1p52) * 0x1p-52;
  }
  return out;
}

int64_t numel_of(const Json& shape) {
  int64_t n = 1;
  for (const auto& d : shape) n *= d.get<int64_t>();
  return n;
}

/// An input spec's values rounded to T (returned as doubles, which hold them exactly).
template <class T>
std::vector<double> generate(const Json& spec) {
  const std::string kind = spec.at("kind");
  std::vector<double> x;
  if (kind == "dense" || kind == "grid") {
    const int64_t count = kind == "dense" ? 40001 : spec.at("count").get<int64_t>();
    const double center = kind == "dense" ? 20000.0 : spec.at("center").get<double>();
    const double div = kind == "dense" ? 200.0 : spec.at("div").get<double>();
    for (int64_t i = 0; i < count; ++i) x.push_back((static_cast<double>(i) - center) / div);
  } else if (kind == "magnitudes") {
    for (int e = -100; e < 100; ++e)
      for (int j = 0; j < 8; ++j) {
        const double v = std::ldexp(1.0 + j / 8.0, e);
        x.push_back(v);
        x.push_back(-v);
      }
  } else if (kind == "subnormal") {
    const bool is_float = std::is_same_v<T, float>;
    for (int e = is_float ? -149 : -1074; e <= (is_float ? -127 : -1023); ++e)
      for (int j = 0; j < 8; ++j) x.push_back(std::ldexp(1.0 + j / 8.0, e));
  } else if (kind == "uniform") {
    x = splitmix_uniform(spec.at("seed").get<uint64_t>(), numel_of(spec.at("shape")));
    const double scale = spec.value("scale", 1.0), offset = spec.value("offset", 0.0);
    for (double& v : x) {
      if (scale != 1.0) v = v * scale;
      if (offset != 0.0) v = v + offset;
    }
  } else if (kind == "list") {
    x = spec.at("values").get<std::vector<double>>();
  } else if (kind == "cycle") {
    const auto values = spec.at("values").get<std::vector<double>>();
    for (int64_t i = 0; i < numel_of(spec.at("shape")); ++i)
      x.push_back(values[static_cast<size_t>(i) % values.size()]);
  } else if (kind == "pick") {
    const auto base = generate<T>(spec.at("of"));
    for (int64_t j = 0; j < spec.at("count").get<int64_t>(); ++j)
      x.push_back(base[static_cast<size_t>((j * 7919 + 13) % static_cast<int64_t>(base.size()))]);
  } else {
    FAIL("unknown input kind " << kind);
  }
  for (double& v : x) v = static_cast<double>(static_cast<T>(v));
  if (spec.contains("shape") && kind != "uniform" && kind != "cycle")
    x.resize(static_cast<size_t>(numel_of(spec.at("shape"))));
  return x;
}

hnn::Shape shape_of(const Json& spec, size_t n) {
  if (!spec.contains("shape")) return hnn::Shape{static_cast<int64_t>(n)};
  return hnn::Shape(spec.at("shape").get<std::vector<int64_t>>());
}

double digest(const std::vector<double>& x) {
  // numpy's pairwise sum of |x| in long double, to the double it rounds to: equal up to the sum's rounding.
  LD total = 0;
  for (double v : x) total += std::fabs(static_cast<LD>(v));
  return static_cast<double>(total);
}

template <class T>
hnn::Tensor<T> make_input(const Json& spec, const std::vector<double>& values, bool requires_grad) {
  std::vector<T> typed(values.begin(), values.end());
  auto t = hnn::tensor<T>(typed, shape_of(spec, values.size()));
  if (requires_grad) t.requires_grad_();
  return t;
}

// ---- errors, as tools/references/precision.py measures them
// ------------------------------------------------

struct Elementwise {
  double error = 0;
  int64_t count = 0;
};

template <class T>
Elementwise elementwise_error(const std::vector<T>& got, const std::vector<LD>& exact) {
  REQUIRE(got.size() == exact.size());
  Elementwise out;
  for (size_t i = 0; i < got.size(); ++i) {
    const T rounded = static_cast<T>(exact[i]);
    if (!std::isfinite(rounded) || std::fabs(rounded) < std::numeric_limits<T>::min()) continue;
    ++out.count;
    const double err =
        std::isfinite(got[i])
            ? static_cast<double>(std::fabs(static_cast<LD>(got[i]) - exact[i]) / std::fabs(exact[i]))
            : INFINITY;
    out.error = std::max(out.error, err);
  }
  return out;
}

template <class T>
double normwise_error(const std::vector<T>& got, const std::vector<LD>& exact) {
  REQUIRE(got.size() == exact.size());
  LD diff = 0, norm = 0, got_norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    const LD d = static_cast<LD>(got[i]) - exact[i];
    diff += d * d;
    norm += exact[i] * exact[i];
    got_norm += static_cast<LD>(got[i]) * static_cast<LD>(got[i]);
  }
  return static_cast<double>(norm > 0 ? std::sqrt(diff) / std::sqrt(norm) : std::sqrt(got_norm));
}

// ---- the rule, and the table of results
// ----------------------------------------------------------------------

struct Row {
  std::string op, dtype, input_class, quantity;
  double hnn, torch, bound;
};

std::vector<Row>& rows() {
  static std::vector<Row> all;
  return all;
}

void write_table() {
  const char* path = std::getenv("HNN_PRECISION_TABLE");
  if (!path || rows().empty()) return;
  std::ofstream out(path, std::ios::app);
  out << std::setprecision(2) << std::scientific;
  for (const auto& r : rows())
    out << r.op << '\t' << r.dtype << '\t' << r.input_class << '\t' << r.quantity << '\t' << r.hnn << '\t'
        << r.torch << '\t' << (r.hnn <= r.bound ? "ok" : "WORSE") << '\n';
  rows().clear();
}

template <class T>
void check_rule(const hnn::test::ReferenceCase& c, const std::string& quantity, double hnn_error,
                double torch_error) {
  const auto& p = c.json()["params"];
  const double bound =
      std::max(2.0 * torch_error, 4.0 * static_cast<double>(std::numeric_limits<T>::epsilon()));
  rows().push_back({p.at("op"), p.at("dtype"), p.at("class"), quantity, hnn_error, torch_error, bound});
  INFO(c.name() << " (" << c.call() << "), " << quantity << ": hnn's error " << hnn_error << ", PyTorch's "
                << torch_error << ", allowed " << bound);
  CHECK(hnn_error <= bound);
}

/// Inputs of a case, generated and checked against the fixture's digests.
template <class T>
std::map<std::string, std::vector<double>> case_inputs(const hnn::test::ReferenceCase& c) {
  const auto& p = c.json()["params"];
  std::map<std::string, std::vector<double>> out;
  for (auto it = p.at("inputs").begin(); it != p.at("inputs").end(); ++it) {
    out[it.key()] = generate<T>(it.value());
    const double expected = p.at("digests").at(it.key()).get<double>();
    INFO(c.name() << ": input " << it.key() << " is not the one PyTorch was given");
    REQUIRE(digest(out[it.key()]) == Approx(expected).epsilon(1e-14));
  }
  return out;
}

std::vector<LD> stored_exact(const hnn::test::ReferenceCase& c, const std::string& prefix) {
  auto hi = c.tensor<double>(prefix + "hi").to_vector();
  std::vector<LD> out(hi.begin(), hi.end());
  if (c.has(prefix + "lo")) {
    auto lo = c.tensor<double>(prefix + "lo").to_vector();
    for (size_t i = 0; i < out.size(); ++i) out[i] += static_cast<LD>(lo[i]);
  }
  return out;
}

template <class T>
std::vector<T> values(const hnn::Tensor<T>& t) {
  return t.contiguous().to_vector();
}

// ---- elementwise ops: exact values and derivatives in long double
// -------------------------------------------

struct Exact {
  std::function<LD(LD)> f, df;
};

LD pow_exponent(const std::string& op) { return std::stold(op.substr(4)); }

template <class T>
Exact unary_exact(const std::string& op, LD s) {
  if (op == "exp") return {[](LD x) { return std::exp(x); }, [](LD x) { return std::exp(x); }};
  if (op == "log") return {[](LD x) { return std::log(x); }, [](LD x) { return 1 / x; }};
  if (op == "sqrt") return {[](LD x) { return std::sqrt(x); }, [](LD x) { return 1 / (2 * std::sqrt(x)); }};
  if (op == "tanh")
    return {[](LD x) { return std::tanh(x); },
            [](LD x) {
              const LD c = std::cosh(x);
              return 1 / (c * c);
            }};
  if (op == "sigmoid")
    return {[](LD x) { return 1 / (1 + std::exp(-x)); },
            [](LD x) {
              const LD e = std::exp(-std::fabs(x));
              return e / ((1 + e) * (1 + e));
            }};
  if (op == "relu")
    return {[](LD x) { return x > 0 ? x : LD(0); }, [](LD x) { return x > 0 ? LD(1) : LD(0); }};
  if (op == "neg") return {[](LD x) { return -x; }, [](LD) { return LD(-1); }};
  if (op == "abs")
    return {[](LD x) { return std::fabs(x); }, [](LD x) { return x > 0 ? LD(1) : x < 0 ? LD(-1) : LD(0); }};
  if (op.rfind("pow_", 0) == 0) {
    const LD p = pow_exponent(op);
    return {[p](LD x) { return std::pow(x, p); }, [p](LD x) { return p * std::pow(x, p - 1); }};
  }
  if (op == "add_scalar") return {[s](LD x) { return x + s; }, [](LD) { return LD(1); }};
  if (op == "sub_scalar") return {[s](LD x) { return x - s; }, [](LD) { return LD(1); }};
  if (op == "mul_scalar") return {[s](LD x) { return x * s; }, [s](LD) { return s; }};
  if (op == "div_scalar") return {[s](LD x) { return x / s; }, [s](LD) { return 1 / s; }};
  if (op == "rsub_scalar") return {[s](LD x) { return s - x; }, [](LD) { return LD(-1); }};
  if (op == "rdiv_scalar") return {[s](LD x) { return s / x; }, [s](LD x) { return -s / (x * x); }};
  FAIL("no exact form for " << op);
  return {};
}

template <class T>
hnn::Tensor<T> apply_unary(const std::string& op, const hnn::Tensor<T>& x, T s) {
  if (op == "exp") return hnn::exp(x);
  if (op == "log") return hnn::log(x);
  if (op == "sqrt") return hnn::sqrt(x);
  if (op == "tanh") return hnn::tanh(x);
  if (op == "sigmoid") return hnn::sigmoid(x);
  if (op == "relu") return hnn::relu(x);
  if (op == "neg") return -x;
  if (op == "abs") return x.abs();
  if (op.rfind("pow_", 0) == 0) return hnn::pow(x, static_cast<double>(pow_exponent(op)));
  if (op == "add_scalar") return x + s;
  if (op == "sub_scalar") return x - s;
  if (op == "mul_scalar") return x * s;
  if (op == "div_scalar") return x / s;
  if (op == "rsub_scalar") return s - x;
  if (op == "rdiv_scalar") return s / x;
  FAIL("unknown unary op " << op);
  return {};
}

template <class T>
void run_unary(const hnn::test::ReferenceCase& c) {
  const auto& p = c.json()["params"];
  const std::string op = p.at("op");
  const T s = static_cast<T>(p.at("scalar").get<double>());
  auto inputs = case_inputs<T>(c);
  const auto& xs = inputs.at("x");
  auto x = make_input<T>(p.at("inputs").at("x"), xs, true);
  auto y = apply_unary(op, x, s);
  y.backward(hnn::ones<T>(y.shape()));
  const Exact exact = unary_exact<T>(op, static_cast<LD>(s));
  std::vector<LD> ex(xs.size()), dex(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    ex[i] = exact.f(static_cast<LD>(xs[i]));
    dex[i] = exact.df(static_cast<LD>(xs[i]));
  }
  const auto out = elementwise_error(values(y), ex);
  const auto grad = elementwise_error(values(x.grad()), dex);
  INFO(c.name() << ": the judged elements differ from PyTorch's side (a different exact reference?)");
  CHECK(out.count == p.at("count").get<int64_t>());
  CHECK(grad.count == p.at("grad_counts").at("x").get<int64_t>());
  check_rule<T>(c, "out", out.error, p.at("torch_error"));
  check_rule<T>(c, "grad x", grad.error, p.at("grad_torch_errors").at("x"));
}

template <class T>
void run_binary(const hnn::test::ReferenceCase& c) {
  const auto& p = c.json()["params"];
  const std::string op = p.at("op");
  auto inputs = case_inputs<T>(c);
  const auto &as = inputs.at("a"), &bs = inputs.at("b");
  auto a = make_input<T>(p.at("inputs").at("a"), as, true);
  auto b = make_input<T>(p.at("inputs").at("b"), bs, true);
  hnn::Tensor<T> y = op == "add" ? a + b : op == "sub" ? a - b : op == "mul" ? a * b : a / b;
  y.backward(hnn::ones<T>(y.shape()));
  const size_t cols = bs.size();
  std::vector<LD> ex(as.size()), grad_a(as.size()), grad_b(cols, 0);
  for (size_t i = 0; i < as.size(); ++i) {
    const LD av = as[i], bv = bs[i % cols];
    ex[i] = op == "add" ? av + bv : op == "sub" ? av - bv : op == "mul" ? av * bv : av / bv;
    grad_a[i] = op == "mul" ? bv : op == "div" ? 1 / bv : LD(1);
    grad_b[i % cols] += op == "add" ? LD(1) : op == "sub" ? LD(-1) : op == "mul" ? av : -av / (bv * bv);
  }
  const auto out = elementwise_error(values(y), ex);
  CHECK(out.count == p.at("count").get<int64_t>());
  check_rule<T>(c, "out", out.error, p.at("torch_error"));
  if (p.contains("grad_torch_errors")) {
    const auto ga = elementwise_error(values(a.grad()), grad_a);
    CHECK(ga.count == p.at("grad_counts").at("a").get<int64_t>());
    check_rule<T>(c, "grad a", ga.error, p.at("grad_torch_errors").at("a"));
    check_rule<T>(c, "grad b", normwise_error(values(b.grad()), grad_b), p.at("grad_torch_errors").at("b"));
  }
}

// ---- the other ops: exact results stored in the fixture
// ------------------------------------------------------

template <class T>
struct Outcome {
  hnn::Tensor<T> out;
  std::map<std::string, hnn::Tensor<T>> grads;  // name -> the input whose .grad() is judged
};

hnn::Tensor<int64_t> class_targets(int64_t n, int64_t classes) {
  std::vector<int64_t> t;
  for (int64_t i = 0; i < n; ++i) t.push_back((i * 7) % classes);
  return hnn::tensor<int64_t>(t, hnn::Shape{n});
}

template <class T>
Outcome<T> run_stored_op(const std::string& op, std::map<std::string, hnn::Tensor<T>>& in, const Json& args) {
  namespace F = hnn::nn::functional;
  auto backward = [](hnn::Tensor<T> out, const hnn::Tensor<T>& grad_out) {
    out.backward(grad_out.detach());
    return out;
  };
  auto scalar_backward = [](hnn::Tensor<T> out) {
    out.backward();
    return out;
  };
  const bool has_dim = args.contains("dim");
  const int64_t dim = has_dim ? args.at("dim").get<int64_t>() : 0;
  const bool grad_case = in.count("g") > 0;
  auto& x = in.count("x") ? in.at("x") : in.begin()->second;
  if (op == "sum") return {has_dim ? x.sum(hnn::Shape{dim}) : x.sum(), {}};
  if (op == "mean") {
    if (grad_case) return {backward(x.mean(hnn::Shape{dim}), in.at("g")), {{"x", x}}};
    return {has_dim ? x.mean(hnn::Shape{dim}) : x.mean(), {}};
  }
  if (op == "var") {
    if (grad_case) return {backward(x.var(hnn::Shape{dim}), in.at("g")), {{"x", x}}};
    return {has_dim ? x.var(hnn::Shape{dim}) : x.var(), {}};
  }
  if (op == "matmul") {
    auto &a = in.at("a"), &b = in.at("b");
    if (grad_case) return {backward(hnn::matmul(a, b), in.at("g")), {{"a", a}, {"b", b}}};
    return {hnn::matmul(a, b), {}};
  }
  if (op == "softmax") return {backward(hnn::softmax(x, 1), in.at("g")), {{"x", x}}};
  if (op == "log_softmax") return {backward(hnn::log_softmax(x, 1), in.at("g")), {{"x", x}}};
  if (op == "cross_entropy_index")
    return {scalar_backward(F::cross_entropy(x, class_targets(x.size(0), x.size(1)))), {{"x", x}}};
  if (op == "cross_entropy_index_none")
    return {hnn::cross_entropy(x, class_targets(x.size(0), x.size(1)), hnn::Reduction::None), {}};
  if (op == "cross_entropy_prob")
    return {scalar_backward(F::cross_entropy(x, in.at("w").detach())), {{"x", x}}};
  if (op == "nll_loss")
    return {scalar_backward(F::nll_loss(x, class_targets(x.size(0), x.size(1)))), {{"x", x}}};
  if (op == "mse_loss") return {scalar_backward(F::mse_loss(x, in.at("y"))), {{"x", x}, {"y", in.at("y")}}};
  if (op == "binary_cross_entropy")
    return {scalar_backward(F::binary_cross_entropy(in.at("p"), in.at("y").detach())), {{"p", in.at("p")}}};
  if (op == "binary_cross_entropy_with_logits")
    return {scalar_backward(F::binary_cross_entropy_with_logits(x, in.at("y").detach())), {{"x", x}}};
  if (op == "linear")
    return {backward(F::linear(x, in.at("w"), in.at("b")), in.at("g")),
            {{"x", x}, {"w", in.at("w")}, {"b", in.at("b")}}};
  if (op == "conv2d")
    return {backward(hnn::conv2d(x, in.at("w"), in.at("b"), {1, 1}, {1, 1}), in.at("g")),
            {{"x", x}, {"w", in.at("w")}, {"b", in.at("b")}}};
  if (op == "avg_pool2d") return {backward(F::avg_pool2d(x, 2, 2), in.at("g")), {{"x", x}}};
  if (op == "batch_norm")
    return {backward(F::batch_norm(x, hnn::Tensor<T>(), hnn::Tensor<T>(), in.at("w"), in.at("b"), true),
                     in.at("g")),
            {{"x", x}, {"w", in.at("w")}, {"b", in.at("b")}}};
  FAIL("unknown op " << op);
  return {};
}

template <class T>
void run_stored(const hnn::test::ReferenceCase& c) {
  const auto& p = c.json()["params"];
  auto inputs = case_inputs<T>(c);
  std::map<std::string, hnn::Tensor<T>> tensors;
  for (auto& [name, vals] : inputs) tensors[name] = make_input<T>(p.at("inputs").at(name), vals, name != "g");
  auto outcome = run_stored_op<T>(p.at("op"), tensors, p.value("args", Json::object()));
  auto judge = [&](const std::vector<T>& got, const std::vector<LD>& exact, const std::string& kind) {
    return kind == "elementwise" ? elementwise_error(got, exact).error : normwise_error(got, exact);
  };
  check_rule<T>(c, "out", judge(values(outcome.out), stored_exact(c, "exact_"), p.at("kind")),
                p.at("torch_error"));
  const auto& grad_errors = p.at("grad_torch_errors");
  REQUIRE(outcome.grads.size() == grad_errors.size());
  for (auto& [name, input] : outcome.grads) {
    INFO(c.name() << ": gradient of " << name);
    REQUIRE(grad_errors.contains(name));
    REQUIRE(input.grad().defined());
    check_rule<T>(
        c, "grad " + name,
        judge(values(input.grad()), stored_exact(c, "grad_" + name + "_exact_"), p.at("grad_kinds").at(name)),
        grad_errors.at(name));
  }
}

template <class T>
void run_case(const hnn::test::ReferenceCase& c) {
  const auto& p = c.json()["params"];
  const std::string op = p.at("op");
  if (c.has("exact_hi"))
    run_stored<T>(c);
  else if (op == "add" || op == "sub" || op == "mul" || op == "div")
    run_binary<T>(c);
  else
    run_unary<T>(c);
}

/// Runs every fixture case whose name starts with one of `ops` followed by "/" (all dtypes and classes).
void run_cases(const std::vector<std::string>& ops) {
  static const hnn::test::References refs("precision.json");
  int ran = 0;
  for (const auto& op : ops)
    for (const auto& name : refs.names(op + "/")) {
      const auto c = refs.get(name);
      if (c.json()["params"].at("dtype") == "float32")
        run_case<float>(c);
      else
        run_case<double>(c);
      ++ran;
    }
  CHECK(ran > 0);
  write_table();
}

}  // namespace

TEST_CASE("precision: exp, log, sqrt, pow within 2x PyTorch's error over the whole range", "[precision]") {
  run_cases({"exp", "log", "sqrt", "pow_2", "pow_3", "pow_0.5", "pow_-1", "pow_1.5"});
}

TEST_CASE("precision: tanh, sigmoid, relu, neg, abs within 2x PyTorch's error", "[precision]") {
  run_cases({"tanh", "sigmoid", "relu", "neg", "abs"});
}

TEST_CASE("precision: + - * / with broadcasting and with scalars within 2x PyTorch's error", "[precision]") {
  run_cases({"add", "sub", "mul", "div", "add_scalar", "sub_scalar", "mul_scalar", "div_scalar",
             "rsub_scalar", "rdiv_scalar"});
}

TEST_CASE("precision: sum, mean, var over 1e7 elements and offset data within 2x PyTorch's error",
          "[precision]") {
  run_cases({"sum", "mean", "var"});
}

TEST_CASE("precision: matmul up to K = 4096 within 2x PyTorch's error", "[precision]") {
  run_cases({"matmul"});
}

TEST_CASE("precision: softmax and log_softmax of logits up to 1e4 within 2x PyTorch's error", "[precision]") {
  run_cases({"softmax", "log_softmax"});
}

TEST_CASE("precision: the losses at their extremes within 2x PyTorch's error", "[precision]") {
  run_cases({"cross_entropy_index", "cross_entropy_index_none", "cross_entropy_prob", "nll_loss", "mse_loss",
             "binary_cross_entropy", "binary_cross_entropy_with_logits"});
}

TEST_CASE("precision: linear, conv2d, avg_pool2d and batch norm within 2x PyTorch's error", "[precision]") {
  run_cases({"linear", "conv2d", "avg_pool2d", "batch_norm"});
}
