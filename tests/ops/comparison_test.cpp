// Tests of the comparison ops of include/hnn/ops/elementwise.hpp against PyTorch (tests/references/ops.json):
// ne, gt, lt, ge, le between tensors with broadcasting (0-dim included), on transposed, narrowed and
// expanded inputs, with ties; results are int64 0/1 tensors (PyTorch's bool, stored as 0/1), never
// differentiable. eq is tested with the other elementwise ops (elementwise_test.cpp).
#include <catch2/catch.hpp>

#include "op_harness.hpp"

namespace {

using hnn::Tensor;
using hnn::test::json;
using hnn::test::OpResult;

struct ComparisonOps {
  template <class T>
  OpResult<T> operator()(const std::string& op, const std::vector<Tensor<T>>& x, const json&) const {
    if (op == "ne") return x[0].ne(x[1]);
    if (op == "gt") return x[0].gt(x[1]);
    if (op == "lt") return x[0].lt(x[1]);
    if (op == "ge") return x[0].ge(x[1]);
    if (op == "le") return x[0].le(x[1]);
    FAIL("comparison_test has no op " << op);
    return Tensor<T>();
  }
};

}  // namespace

HNN_OP_VALUE_TESTS("ne", ComparisonOps)
HNN_OP_VALUE_TESTS("gt", ComparisonOps)
HNN_OP_VALUE_TESTS("lt", ComparisonOps)
HNN_OP_VALUE_TESTS("ge", ComparisonOps)
HNN_OP_VALUE_TESTS("le", ComparisonOps)

TEST_CASE("comparisons of tensors that require grad are outside the graph", "[ops]") {
  auto a = hnn::tensor<double>({1, 2, 3}, {3}).requires_grad_();
  auto b = hnn::tensor<double>({3, 2, 1}, {3});
  auto m = a.gt(b);
  REQUIRE(m.to_vector() == std::vector<int64_t>{0, 0, 1});
  REQUIRE_FALSE(m.requires_grad());
  // A mask times a float tensor is how accuracy and masking are written; the mask is data, not a leaf.
  auto masked = a * a.ge(b).template cast<double>();
  masked.sum().backward();
  REQUIRE(a.grad().to_vector() == std::vector<double>{0, 1, 1});
}

TEST_CASE("comparisons with incompatible shapes name both shapes", "[ops][errors]") {
  using Catch::Matchers::Contains;
  auto a = hnn::zeros<float>({2, 3});
  REQUIRE_THROWS_WITH(a.lt(hnn::zeros<float>({4})), Contains("[2, 3]") && Contains("[4]"));
  REQUIRE_THROWS_WITH(a.ne(hnn::zeros<float>({3, 2})), Contains("[2, 3]") && Contains("[3, 2]"));
}
