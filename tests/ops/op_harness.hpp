// Test support for the op tests (tests/ops/*_test.cpp) and the printer test: rebuilds the inputs of an op
// case of tests/references/ops.json (written by tools/references/ops.py) - contiguous bases, then the view
// steps that make them transposed / permuted / narrowed / expanded - runs the op in float and double, and
// compares values and input gradients with PyTorch's; runs hnn::autograd::gradcheck on the same cases.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "reference.hpp"

namespace hnn::test {

using json = nlohmann::json;

inline const References& ops_references() {
  static const References refs("ops.json");
  return refs;
}

/// Applies the fixture's view steps (["transpose", d0, d1], ["permute", [dims]], ["narrow", dim, start,
/// length], ["expand", [sizes]], ["select", dim, index]) to a tensor.
template <class T>
Tensor<T> apply_view(Tensor<T> t, const json& steps) {
  for (const auto& step : steps) {
    const std::string kind = step.at(0).get<std::string>();
    if (kind == "transpose")
      t = t.transpose(step.at(1).get<int64_t>(), step.at(2).get<int64_t>());
    else if (kind == "permute")
      t = t.permute(Shape(step.at(1).get<std::vector<int64_t>>()));
    else if (kind == "narrow")
      t = t.narrow(step.at(1).get<int64_t>(), step.at(2).get<int64_t>(), step.at(3).get<int64_t>());
    else if (kind == "expand")
      t = t.expand(Shape(step.at(1).get<std::vector<int64_t>>()));
    else if (kind == "select")
      t = t.select(step.at(1).get<int64_t>(), step.at(2).get<int64_t>());
    else
      FAIL("unknown view step " << kind);
  }
  return t;
}

/// A large fixture input stored as a formula: element i = ((i * mult + add) % mod - shift) / div.
template <class T>
Tensor<T> pattern_tensor(const json& p) {
  Shape shape(p.at("shape").get<std::vector<int64_t>>());
  const int64_t mult = p.at("mult"), add = p.at("add"), mod = p.at("mod"), shift = p.at("shift"),
                div = p.at("div");
  std::vector<T> values(static_cast<size_t>(shape.numel()));
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = static_cast<T>(static_cast<double>((static_cast<int64_t>(i) * mult + add) % mod - shift) /
                               static_cast<double>(div));
  return hnn::tensor<T>(values, shape);
}

inline const json& case_params(const ReferenceCase& c) { return c.json().at("params"); }

inline std::vector<std::string> case_input_names(const ReferenceCase& c) {
  return case_params(c).at("inputs").get<std::vector<std::string>>();
}

/// The contiguous base of every input, in argument order.
template <class T>
std::vector<Tensor<T>> case_bases(const ReferenceCase& c) {
  const json& params = case_params(c);
  std::vector<Tensor<T>> bases;
  for (const auto& name : case_input_names(c)) {
    if (params.contains("patterns") && params["patterns"].contains(name))
      bases.push_back(pattern_tensor<T>(params["patterns"][name]));
    else
      bases.push_back(c.tensor<T>(name));
  }
  return bases;
}

/// The inputs the op sees: each base through its view steps.
template <class T>
std::vector<Tensor<T>> case_views(const std::vector<Tensor<T>>& bases, const ReferenceCase& c) {
  const json& params = case_params(c);
  const auto names = case_input_names(c);
  std::vector<Tensor<T>> views;
  for (size_t i = 0; i < bases.size(); ++i) {
    const bool has_steps = params.contains("views") && params["views"].contains(names[i]);
    views.push_back(has_steps ? apply_view(bases[i], params["views"][names[i]]) : bases[i]);
  }
  return views;
}

inline bool case_has_views(const ReferenceCase& c) {
  const json& params = case_params(c);
  return params.contains("views") && !params["views"].empty();
}

/// What an op returns: a tensor of the input's type, or an int64 one (eq, argmax).
template <class T>
struct OpResult {
  Tensor<T> value;
  Tensor<int64_t> index;
  OpResult(Tensor<T> v) : value(std::move(v)) {}        // NOLINT: implicit on purpose
  OpResult(Tensor<int64_t> i) : index(std::move(i)) {}  // NOLINT
};

template <class T>
const char* type_label() {
  return std::is_same_v<T, float> ? "float" : "double";
}

/// Forward values and (for differentiable cases) gradients of one case in one dtype against PyTorch.
/// Dispatch: `template <class T> OpResult<T> operator()(const std::string& op, const std::vector<Tensor<T>>&
/// inputs, const json& args) const`.
template <class T, class Dispatch>
void check_reference_case(const ReferenceCase& c, const Dispatch& dispatch) {
  const json& params = case_params(c);
  const std::string label = c.name() + " [" + type_label<T>() + "]";
  INFO(label << ": " << c.call());
  const bool grad = params.value("grad", false);
  auto bases = case_bases<T>(c);
  if (grad)
    for (auto& b : bases) b.requires_grad_(true);
  OpResult<T> result = dispatch(params.at("op").get<std::string>(), case_views(bases, c), params.at("args"));
  if (result.index.defined()) {
    Tensor<int64_t> expected = c.tensor<int64_t>("out");
    REQUIRE(result.index.shape() == expected.shape());
    REQUIRE(result.index.to_vector() == expected.to_vector());
    return;
  }
  expect_close(result.value, c.tensor<double>("out"), default_rtol<T>(), -1.0, label + " forward");
  if (grad) {
    REQUIRE(result.value.requires_grad());
    result.value.backward(c.tensor<T>("grad_out"));
    const auto names = case_input_names(c);
    for (size_t i = 0; i < bases.size(); ++i)
      expect_close(bases[i].grad(), c.tensor<double>("grad_" + names[i]), default_rtol<T>(), -1.0,
                   label + " gradient of " + names[i]);
  } else {
    REQUIRE_FALSE(result.value.requires_grad());
  }
  // The op and its backward left the inputs alone.
  const auto fresh = case_bases<T>(c);
  for (size_t i = 0; i < bases.size(); ++i) REQUIRE(bases[i].to_vector() == fresh[i].to_vector());
}

/// Every case of `op` in ops.json, in float and double. Requires at least one case on non-contiguous
/// (view) inputs.
template <class Dispatch>
void run_reference_cases(const std::string& op, const Dispatch& dispatch) {
  const auto names = ops_references().names(op + "/");
  REQUIRE(!names.empty());
  bool any_views = false;
  for (const auto& name : names) any_views = any_views || case_has_views(ops_references().get(name));
  INFO(op << " needs a case on a non-contiguous input");
  REQUIRE(any_views);
  for (const auto& name : names) {
    DYNAMIC_SECTION(name) {
      const ReferenceCase c = ops_references().get(name);
      check_reference_case<float>(c, dispatch);
      check_reference_case<double>(c, dispatch);
    }
  }
}

/// Central-difference gradcheck in double for every case of `op` that asks for it; the view steps run
/// inside the checked function, so gradients flow through them as in real use.
template <class Dispatch>
void run_gradcheck_cases(const std::string& op, const Dispatch& dispatch) {
  int checked = 0;
  for (const auto& name : ops_references().names(op + "/")) {
    const ReferenceCase c = ops_references().get(name);
    if (!case_params(c).value("gradcheck", false)) continue;
    ++checked;
    DYNAMIC_SECTION(name) {
      INFO(name << ": " << c.call());
      auto bases = case_bases<double>(c);
      for (auto& b : bases) b.requires_grad_(true);
      const std::string op_name = case_params(c).at("op").get<std::string>();
      const json& args = case_params(c).at("args");
      auto fn = [&](const std::vector<Tensor<double>>& inputs) {
        return dispatch(op_name, case_views(inputs, c), args).value;
      };
      REQUIRE(hnn::autograd::gradcheck<CPU>(fn, bases));
    }
  }
  REQUIRE(checked > 0);
}

}  // namespace hnn::test

/// Two test cases per op: reference values (float and double, forward and backward) and gradcheck.
#define HNN_OP_REFERENCE_TESTS(OP, DISPATCH)                                                            \
  TEST_CASE(OP ": forward and gradients match PyTorch (float, double, views, broadcasting)", "[ops]") { \
    hnn::test::run_reference_cases(OP, DISPATCH{});                                                     \
  }                                                                                                     \
  TEST_CASE(OP ": finite-difference gradcheck in double", "[ops][gradcheck]") {                         \
    hnn::test::run_gradcheck_cases(OP, DISPATCH{});                                                     \
  }

/// Only the reference test (ops without gradients: comparisons, argmax).
#define HNN_OP_VALUE_TESTS(OP, DISPATCH)                                                 \
  TEST_CASE(OP ": values match PyTorch (float, double, views, broadcasting)", "[ops]") { \
    hnn::test::run_reference_cases(OP, DISPATCH{});                                      \
  }
