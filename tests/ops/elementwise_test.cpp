// Tests of include/hnn/ops/elementwise.hpp against PyTorch (tests/references/ops.json, cases from
// tools/references/ops.py): + - * / between tensors (broadcasting) and with scalars on either side,
// maximum/minimum, neg, exp, log, sqrt, abs, pow, relu, sigmoid, tanh, clamp, eq; forward and gradients in
// float and double on contiguous, broadcast and non-contiguous inputs, and gradcheck in double.
#include <catch2/catch.hpp>
#include <optional>

#include "op_harness.hpp"

namespace {

using hnn::Tensor;
using hnn::test::json;
using hnn::test::OpResult;

std::optional<double> optional_arg(const json& args, const char* key) {
  if (!args.contains(key) || args[key].is_null()) return std::nullopt;
  return args[key].get<double>();
}

struct ElementwiseOps {
  template <class T>
  OpResult<T> operator()(const std::string& op, const std::vector<Tensor<T>>& x, const json& args) const {
    const T s = args.contains("s") ? args["s"].get<T>() : T(0);
    // Binary ops: operators and free functions.
    if (op == "add") return x[0] + x[1];
    if (op == "sub") return x[0] - x[1];
    if (op == "mul") return x[0] * x[1];
    if (op == "div") return x[0] / x[1];
    if (op == "maximum") return hnn::maximum(x[0], x[1]);
    if (op == "minimum") return hnn::minimum(x[0], x[1]);
    // Scalars of the tensor's type on either side.
    if (op == "add_scalar") return x[0] + s;
    if (op == "radd_scalar") return s + x[0];
    if (op == "sub_scalar") return x[0] - s;
    if (op == "rsub_scalar") return s - x[0];
    if (op == "mul_scalar") return x[0] * s;
    if (op == "rmul_scalar") return s * x[0];
    if (op == "div_scalar") return x[0] / s;
    if (op == "rdiv_scalar") return s / x[0];
    // Unary: methods and free functions alternate so both spellings are exercised.
    if (op == "neg") return -x[0];
    if (op == "exp") return hnn::exp(x[0]);
    if (op == "log") return x[0].log();
    if (op == "sqrt") return hnn::sqrt(x[0]);
    if (op == "abs") return x[0].abs();
    if (op == "relu") return hnn::relu(x[0]);
    if (op == "sigmoid") return x[0].sigmoid();
    if (op == "tanh") return hnn::tanh(x[0]);
    if (op == "pow") return x[0].pow(args.at("p").get<double>());
    if (op == "clamp") return hnn::clamp(x[0], optional_arg(args, "min"), optional_arg(args, "max"));
    if (op == "eq") return hnn::eq(x[0], x[1]);
    if (op == "eq_scalar") return x[0].eq(s);
    FAIL("elementwise_test has no op " << op);
    return Tensor<T>();
  }
};

}  // namespace

HNN_OP_REFERENCE_TESTS("add", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("sub", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("mul", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("div", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("maximum", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("minimum", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("add_scalar", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("radd_scalar", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("sub_scalar", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("rsub_scalar", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("mul_scalar", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("rmul_scalar", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("div_scalar", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("rdiv_scalar", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("neg", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("exp", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("log", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("sqrt", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("abs", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("relu", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("sigmoid", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("tanh", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("pow", ElementwiseOps)
HNN_OP_REFERENCE_TESTS("clamp", ElementwiseOps)
HNN_OP_VALUE_TESTS("eq", ElementwiseOps)
HNN_OP_VALUE_TESTS("eq_scalar", ElementwiseOps)

TEST_CASE("eq on int64 tensors broadcasts and returns 0/1", "[ops]") {
  auto a = hnn::tensor<int64_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto b = hnn::tensor<int64_t>({1, 5, 6}, {3});
  auto e = a.eq(b);
  REQUIRE(e.shape() == hnn::Shape{2, 3});
  REQUIRE(e.to_vector() == std::vector<int64_t>{1, 0, 0, 0, 1, 1});
  REQUIRE(a.t().eq(int64_t(4)).to_vector() == std::vector<int64_t>{0, 1, 0, 0, 0, 0});
}

TEST_CASE("int64 arithmetic with tensors and scalars", "[ops]") {
  auto a = hnn::tensor<int64_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto b = hnn::tensor<int64_t>({10, 20, 30}, {3});
  REQUIRE((a + b).to_vector() == std::vector<int64_t>{11, 22, 33, 14, 25, 36});
  REQUIRE((a * int64_t(2) - int64_t(1)).to_vector() == std::vector<int64_t>{1, 3, 5, 7, 9, 11});
  REQUIRE((int64_t(7) - a.t()).to_vector() == std::vector<int64_t>{6, 3, 5, 2, 4, 1});
  REQUIRE((a / int64_t(2)).to_vector() ==
          std::vector<int64_t>{0, 1, 1, 2, 2, 3});  // truncation like torch.div(rounding_mode='trunc')
  REQUIRE(a.neg().abs().to_vector() == a.to_vector());
}

TEST_CASE("elementwise ops record a graph only when an input requires grad", "[ops]") {
  auto x = hnn::tensor<double>({1, 2, 3}, {3});
  auto w = hnn::tensor<double>({1, 2, 3}, {3}).requires_grad_();
  REQUIRE_FALSE((x * x + 1.0).exp().requires_grad());
  REQUIRE_FALSE((x * x + 1.0).exp().grad_fn());
  auto y = (x * w + 1.0).exp();
  REQUIRE(y.requires_grad());
  REQUIRE(y.grad_fn() != nullptr);
  REQUIRE_FALSE(y.is_leaf());
  REQUIRE(w.is_leaf());
}
