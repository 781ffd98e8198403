// The special-value table (issue 17, item 3): NaN, +-inf, +-0, subnormals, the largest finite value and exp's
// overflow/underflow thresholds through every elementwise op, reduction, max/argmax, softmax and loss, in
// float and double, against PyTorch's answers and gradients (tests/references/special_values.json, cases
// from tools/references/special_values.py). NaN must be NaN, infinities and zeros must match exactly, sign
// included, and finite values must be within the case's ulp count (4 unless the case says otherwise).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <hnn/hnn.hpp>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "reference.hpp"

namespace {

using hnn::Tensor;
using hnn::test::ReferenceCase;
using json = nlohmann::json;

const hnn::test::References& special_references() {
  static const hnn::test::References refs("special_values.json");
  return refs;
}

/*
 * Elements where hnn deliberately gives another answer than PyTorch, each with the answer hnn gives (asserted
 * instead of PyTorch's) and why. A case pattern is a case name whose dtype segment may be "*" (both dtypes);
 * elements are flat indices into the compared tensor ("out" or "grad_<input>").
 */
struct Deviation {
  const char* case_pattern;
  const char* what;
  std::vector<int64_t> elements;
  double hnn_value;
  const char* reason;
};

const std::vector<Deviation>& deviations() {
  // Element indices name inputs of tools/references/special_values.py: reduction_rows().
  // clang-format off
  static const std::vector<Deviation> list = {
      {"reduction/var_dims/float64/rows_biased", "out", {7}, INFINITY,
       "var of [max, -max, 0] overflows to inf (two-pass); PyTorch's Welford update gives inf - inf = nan"},
      {"reduction/var_dims/float64/rows_unbiased", "out", {7}, INFINITY,
       "var of [max, -max, 0] overflows to inf (two-pass); PyTorch's Welford update gives inf - inf = nan"},
  };
  // clang-format on
  return list;
}

/// Whether a case name matches a pattern whose segments may be "*".
bool matches_pattern(const std::string& name, const std::string& pattern) {
  size_t n = 0, p = 0;
  while (true) {
    const size_t n_end = std::min(name.find('/', n), name.size()),
                 p_end = std::min(pattern.find('/', p), pattern.size());
    const std::string segment = pattern.substr(p, p_end - p);
    if (segment != "*" && segment != name.substr(n, n_end - n)) return false;
    if (n_end == name.size() || p_end == pattern.size())
      return n_end == name.size() && p_end == pattern.size();
    n = n_end + 1;
    p = p_end + 1;
  }
}

const Deviation* deviation(const std::string& case_name, const std::string& what, int64_t element) {
  for (const auto& entry : deviations()) {
    if (what != entry.what || !matches_pattern(case_name, entry.case_pattern)) continue;
    if (entry.elements.empty()) return &entry;
    for (int64_t e : entry.elements)
      if (e == element) return &entry;
  }
  return nullptr;
}

// ---- reading the fixture
// -----------------------------------------------------------------------------------

/// A scalar argument: a number, or "nan" / "inf" / "-inf" as the generator writes non-finite floats.
double scalar_arg(const json& v) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    return s == "nan"   ? std::numeric_limits<double>::quiet_NaN()
           : s == "inf" ? std::numeric_limits<double>::infinity()
                        : -std::numeric_limits<double>::infinity();
  }
  return v.get<double>();
}

std::optional<double> optional_arg(const json& args, const char* key) {
  if (!args.contains(key) || args[key].is_null()) return std::nullopt;
  return scalar_arg(args[key]);
}

const json& params_of(const ReferenceCase& c) { return c.json().at("params"); }

/// The case's inputs in type T; class-index targets stay int64.
template <class T>
struct CaseInputs {
  std::map<std::string, Tensor<T>> floating;
  std::map<std::string, Tensor<int64_t>> indices;

  explicit CaseInputs(const ReferenceCase& c) {
    for (const auto& name : params_of(c).at("inputs").get<std::vector<std::string>>()) {
      if (c.json()["tensors"][name]["dtype"] == "int64")
        indices.emplace(name, c.tensor<int64_t>(name));
      else
        floating.emplace(name, c.tensor<T>(name));
    }
    for (const auto& name : params_of(c).at("grad").get<std::vector<std::string>>())
      floating.at(name).requires_grad_(true);
  }
  const Tensor<T>& operator[](const std::string& name) const { return floating.at(name); }
};

/// What an op gives back: values (every op but argmax/argmin) and indices (argmax/argmin, max(dim)).
template <class T>
struct Outcome {
  Outcome() = default;
  Outcome(Tensor<T> v, Tensor<int64_t> i = {})
      : values(std::move(v)), indices(std::move(i)) {}  // NOLINT: implicit
  Tensor<T> values;
  Tensor<int64_t> indices;
};

// ---- the ops, hnn side
// ---------------------------------------------------------------------------------------

hnn::Reduction reduction_arg(const json& args) {
  return hnn::reduction_from_string(args.at("reduction").get<std::string>());
}

template <class T>
Outcome<T> run_loss(const std::string& op, const CaseInputs<T>& x, const json& args) {
  const hnn::Reduction reduction = reduction_arg(args);
  const int64_t ignore_index = args.value("ignore_index", int64_t{-100});
  if (op == "cross_entropy")
    return {hnn::nn::CrossEntropyLoss<T>(hnn::nn::CrossEntropyLossOptions(reduction).ignore_index(
        ignore_index))(x["input"], x.indices.at("target"))};
  if (op == "cross_entropy_probabilities")
    return {
        hnn::nn::CrossEntropyLoss<T>(hnn::nn::CrossEntropyLossOptions(reduction))(x["input"], x["target"])};
  if (op == "nll_loss")
    return {hnn::nn::NLLLoss<T>(hnn::nn::NLLLossOptions(reduction).ignore_index(ignore_index))(
        x["input"], x.indices.at("target"))};
  if (op == "mse_loss")
    return {hnn::nn::MSELoss<T>(hnn::nn::MSELossOptions(reduction))(x["input"], x["target"])};
  if (op == "binary_cross_entropy")
    return {hnn::nn::BCELoss<T>(hnn::nn::BCELossOptions(reduction))(x["input"], x["target"])};
  if (op == "binary_cross_entropy_with_logits")
    return {
        hnn::nn::BCEWithLogitsLoss<T>(hnn::nn::BCEWithLogitsLossOptions(reduction))(x["input"], x["target"])};
  FAIL("special_values_test has no loss " << op);
  return {};
}

/// Runs the case's op the way a user would write it (operators, methods, free functions, loss modules).
template <class T>
Outcome<T> run_op(const std::string& op, const CaseInputs<T>& x, const json& args) {
  const T s = args.contains("s") ? static_cast<T>(scalar_arg(args["s"])) : T(0);
  // elementwise, one input
  if (op == "exp") return {hnn::exp(x["a"])};
  if (op == "log") return {x["a"].log()};
  if (op == "sqrt") return {hnn::sqrt(x["a"])};
  if (op == "tanh") return {x["a"].tanh()};
  if (op == "sigmoid") return {hnn::sigmoid(x["a"])};
  if (op == "relu") return {x["a"].relu()};
  if (op == "neg") return {-x["a"]};
  if (op == "abs") return {hnn::abs(x["a"])};
  if (op == "pow") return {x["a"].pow(scalar_arg(args.at("p")))};
  if (op == "clamp") return {hnn::clamp(x["a"], optional_arg(args, "min"), optional_arg(args, "max"))};
  // elementwise, two tensors
  if (op == "add") return {x["a"] + x["b"]};
  if (op == "sub") return {x["a"] - x["b"]};
  if (op == "mul") return {x["a"] * x["b"]};
  if (op == "div") return {x["a"] / x["b"]};
  if (op == "maximum") return {hnn::maximum(x["a"], x["b"])};
  if (op == "minimum") return {hnn::minimum(x["a"], x["b"])};
  // a tensor and a scalar of its type
  if (op == "add_scalar") return {x["a"] + s};
  if (op == "sub_scalar") return {x["a"] - s};
  if (op == "rsub_scalar") return {s - x["a"]};
  if (op == "mul_scalar") return {x["a"] * s};
  if (op == "div_scalar") return {x["a"] / s};
  if (op == "rdiv_scalar") return {s / x["a"]};
  // reductions
  const auto dims = [&] { return hnn::Shape(args.at("dims").get<std::vector<int64_t>>()); };
  if (op == "sum") return {x["a"].sum()};
  if (op == "sum_dims") return {x["a"].sum(dims(), args.at("keepdim").get<bool>())};
  if (op == "mean_dims") return {x["a"].mean(dims(), args.at("keepdim").get<bool>())};
  if (op == "var_dims")
    return {x["a"].var(dims(), args.at("unbiased").get<bool>(), args.at("keepdim").get<bool>())};
  // max / min / argmax / argmin
  if (op == "max") return {x["a"].max()};
  if (op == "min") return {x["a"].min()};
  if (op == "max_dim" || op == "min_dim") {
    const int64_t dim = args.at("dim").get<int64_t>();
    const bool keepdim = args.at("keepdim").get<bool>();
    if (op == "max_dim") return {x["a"].max(dim, keepdim), x["a"].argmax(dim, keepdim)};
    return {x["a"].min(dim, keepdim), x["a"].argmin(dim, keepdim)};
  }
  if (op == "argmax")
    return {Tensor<T>(), hnn::argmax(x["a"], args.at("dim").get<int64_t>(), args.at("keepdim").get<bool>())};
  if (op == "argmin")
    return {Tensor<T>(), x["a"].argmin(args.at("dim").get<int64_t>(), args.at("keepdim").get<bool>())};
  // softmax
  if (op == "softmax") return {hnn::softmax(x["a"], args.at("dim").get<int64_t>())};
  if (op == "log_softmax") return {x["a"].log_softmax(args.at("dim").get<int64_t>())};
  return run_loss(op, x, args);
}

// ---- comparing
// -----------------------------------------------------------------------------------------------

/// Distance in units in the last place between two finite values of one type (+0 and -0 are 0 apart).
template <class T>
uint64_t ulp_distance(T a, T b) {
  using Bits = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  auto ordered = [](T v) {
    Bits bits;
    std::memcpy(&bits, &v, sizeof v);
    // Sign-magnitude to a line: negative values count down from 0.
    const int64_t magnitude = static_cast<int64_t>(bits & std::numeric_limits<Bits>::max());
    return bits < 0 ? -static_cast<long double>(magnitude) : static_cast<long double>(magnitude);
  };
  const long double d = ordered(a) - ordered(b);
  return static_cast<uint64_t>(d < 0 ? -d : d);
}

/// PyTorch's special values exactly, finite values within `ulp`; a nonzero finite value must not become 0.
template <class T>
bool agrees(T expected, T actual, uint64_t ulp) {
  if (std::isnan(expected)) return std::isnan(actual);
  if (std::isinf(expected) || expected == T(0))
    return actual == expected && std::signbit(actual) == std::signbit(expected);
  return std::isfinite(actual) && actual != T(0) && ulp_distance(expected, actual) <= ulp;
}

template <class T>
std::string show(T v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == T(0)) return std::signbit(v) ? "-0" : "0";
  std::ostringstream os;
  os.precision(std::numeric_limits<T>::max_digits10);
  os << v;
  return os.str();
}

template <class T>
std::string show_values(const std::vector<T>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + show(values[i]);
  return out + "]";
}

/// Line `line` of a 2-D tensor along `dim` (row `line` for dim 1, column `line` for dim 0).
template <class T>
std::vector<T> line_through(const Tensor<T>& t, int64_t dim, int64_t line) {
  const std::vector<T> all = t.to_vector();
  if (t.dim() != 2) return all;
  std::vector<T> out;
  const int64_t rows = t.size(0), cols = t.size(1);
  if (dim == 1)
    for (int64_t j = 0; j < cols; ++j) out.push_back(all[static_cast<size_t>(line * cols + j)]);
  else
    for (int64_t i = 0; i < rows; ++i) out.push_back(all[static_cast<size_t>(i * cols + line)]);
  return out;
}

/// The dim along which one output element reads a whole line of a 2-D input: the reduction's or softmax's
/// dim, the class dim of a loss; -1 for elementwise ops and reductions over everything.
int64_t line_dim(const ReferenceCase& c) {
  const json& args = params_of(c).at("args");
  if (args.contains("dim")) return args.at("dim").get<int64_t>();
  if (args.contains("dims")) return args.at("dims").at(0).get<int64_t>();
  return c.name().rfind("loss/", 0) == 0 ? 1 : -1;
}

/// What produced element `element` of a compared tensor of `numel` elements (the output, or a gradient
/// shaped like its input): each input's matching element, the line of a 2-D input the element depends on,
/// or the whole input.
template <class T>
std::string describe_inputs(const ReferenceCase& c, const CaseInputs<T>& x, int64_t element, int64_t numel) {
  std::ostringstream os;
  for (const auto& name : params_of(c).at("inputs").get<std::vector<std::string>>()) {
    os << " " << name << "=";
    if (x.indices.count(name)) {
      const auto v = x.indices.at(name).to_vector();
      if (static_cast<int64_t>(v.size()) == numel)
        os << v[static_cast<size_t>(element)];
      else
        os << "(class indices) " << show_values(std::vector<double>(v.begin(), v.end()));
      continue;
    }
    const Tensor<T>& t = x[name];
    const std::vector<T> all = t.to_vector();
    const int64_t dim = line_dim(c);
    const bool same_shape = t.numel() == numel;
    if (dim >= 0 && t.dim() == 2) {
      // An element of an input-shaped tensor sits on a line; an element of a reduced output is one line.
      const int64_t line = !same_shape ? element : dim == 1 ? element / t.size(1) : element % t.size(1);
      os << "line " << show_values(line_through(t, dim, line));
      if (same_shape) os << " at " << show(all[static_cast<size_t>(element)]);
    } else if (same_shape) {
      os << show(all[static_cast<size_t>(element)]);
    } else {
      os << show_values(all);
    }
  }
  return os.str();
}

struct Tally {
  int64_t checked = 0;  // elements (and raising calls) compared
};

/// Compares one tensor of the outcome with PyTorch's, element by element (with hnn's documented answer where
/// deviations() lists the element).
template <class T>
void compare_tensor(const ReferenceCase& c, const CaseInputs<T>& x, const std::string& what,
                    const Tensor<T>& actual, Tally& tally) {
  const std::string label = c.name() + " " + what;
  const Tensor<T> expected = c.tensor<T>(what);
  INFO(label << ": PyTorch call " << c.call());
  REQUIRE(actual.defined());
  REQUIRE(actual.shape() == expected.shape());
  const auto e = expected.to_vector(), a = actual.to_vector();
  const uint64_t ulp = params_of(c).value("ulp", uint64_t{4});
  for (size_t i = 0; i < e.size(); ++i) {
    const int64_t index = static_cast<int64_t>(i);
    ++tally.checked;
    if (const Deviation* documented = deviation(c.name(), what, index)) {
      INFO(label << " element " << i << ": hnn's documented answer, not PyTorch's: " << documented->reason);
      CHECK(agrees(static_cast<T>(documented->hnn_value), a[i], ulp));
      continue;
    }
    if (agrees(e[i], a[i], ulp)) continue;
    FAIL_CHECK(label << " element " << i << ":"
                     << describe_inputs(c, x, index, static_cast<int64_t>(e.size())) << " -> PyTorch "
                     << show(e[i]) << ", hnn " << show(a[i])
                     << (std::isfinite(e[i]) && std::isfinite(a[i]) && e[i] != T(0) && a[i] != T(0)
                             ? " (" + std::to_string(ulp_distance(e[i], a[i])) + " ulp apart, " +
                                   std::to_string(ulp) + " allowed)"
                             : std::string()));
  }
}

template <class T>
void compare_indices(const ReferenceCase& c, const CaseInputs<T>& x, const std::string& what,
                     const Tensor<int64_t>& actual, Tally& tally) {
  const Tensor<int64_t> expected = c.tensor<int64_t>(what);
  INFO(c.name() << " " << what << ": PyTorch call " << c.call());
  REQUIRE(actual.defined());
  REQUIRE(actual.shape() == expected.shape());
  const auto e = expected.to_vector(), a = actual.to_vector();
  for (size_t i = 0; i < e.size(); ++i) {
    ++tally.checked;
    if (e[i] != a[i])
      FAIL_CHECK(c.name() << " " << what << " element " << i << ":"
                          << describe_inputs(c, x, static_cast<int64_t>(i), static_cast<int64_t>(e.size()))
                          << " -> PyTorch " << e[i] << ", hnn " << a[i]);
  }
}

/// One case in its dtype: forward values (and indices), then the gradients the case carries.
template <class T>
void check_case(const ReferenceCase& c, Tally& tally) {
  const json& params = params_of(c);
  const std::string op = params.at("op").get<std::string>();
  CaseInputs<T> x(c);
  if (params.value("raises", false)) {
    ++tally.checked;
    INFO(c.name() << ": PyTorch raises on " << c.call() << "; hnn must throw too");
    CHECK_THROWS(run_op(op, x, params.at("args")));
    return;
  }
  Outcome<T> outcome = run_op(op, x, params.at("args"));
  if (outcome.values.defined())
    compare_tensor(c, x, "out", outcome.values, tally);
  else
    compare_indices(c, x, "out", outcome.indices, tally);
  if (c.has("indices")) compare_indices(c, x, "indices", outcome.indices, tally);
  const auto grads = params.at("grad").get<std::vector<std::string>>();
  if (grads.empty()) return;
  outcome.values.backward(c.tensor<T>("grad_out"));
  for (const auto& name : grads) compare_tensor(c, x, "grad_" + name, x[name].grad(), tally);
}

/// Every case whose name starts with one of `prefixes`, each in the dtype PyTorch computed it in.
Tally check_cases(const std::vector<std::string>& prefixes) {
  Tally tally;
  int64_t cases = 0;
  for (const auto& prefix : prefixes) {
    for (const auto& name : special_references().names(prefix)) {
      const ReferenceCase c = special_references().get(name);
      ++cases;
      try {
        if (params_of(c).at("dtype") == "float32")
          check_case<float>(c, tally);
        else
          check_case<double>(c, tally);
      } catch (const std::exception& error) {  // one case's exception must not hide the cases after it
        FAIL_CHECK(name << ": hnn threw where PyTorch did not (" << c.call() << "): " << error.what());
      }
    }
  }
  INFO("no cases under " << prefixes.front());
  REQUIRE(cases > 0);
  return tally;
}

void check_family(const std::vector<std::string>& prefixes) {
  const Tally tally = check_cases(prefixes);
  REQUIRE(tally.checked > 0);
}

}  // namespace

TEST_CASE("special values: exp, log, sqrt, pow, tanh, sigmoid, relu, neg, abs, clamp and their gradients",
          "[ops][special]") {
  check_family({"unary/"});
}

TEST_CASE(
    "special values: add, sub, mul, div, maximum, minimum of two tensors (0 times inf, inf minus inf, 1 over "
    "0, nan plus 1)",
    "[ops][special]") {
  check_family({"binary/"});
}

TEST_CASE("special values: add, sub, mul, div with a scalar on either side", "[ops][special]") {
  check_family({"scalar/"});
}

TEST_CASE("special values: sum, mean and var of rows holding nan, inf, overflowing and subnormal values",
          "[ops][special]") {
  check_family({"reduction/"});
}

TEST_CASE("special values: max, min, argmax, argmin propagate NaN and point at it, with gradients",
          "[ops][special]") {
  check_family({"extreme/"});
}

TEST_CASE("special values: softmax and log_softmax of rows holding +inf, -inf, only -inf, nan",
          "[ops][special]") {
  check_family({"softmax/"});
}

TEST_CASE("special values: losses on nan and inf inputs and at extreme inputs, with gradients",
          "[ops][special]") {
  check_family({"loss/"});
}

TEST_CASE("special values: every documented deviation from PyTorch names a case of the fixture",
          "[ops][special]") {
  const auto all = special_references().names();
  for (const auto& entry : deviations()) {
    INFO("deviations() entry " << entry.case_pattern << " matches no case of special_values.json");
    CHECK(std::any_of(all.begin(), all.end(),
                      [&](const std::string& n) { return matches_pattern(n, entry.case_pattern); }));
  }
}
