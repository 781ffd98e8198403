// Tests of include/hnn/ops/matmul.hpp against PyTorch (tests/references/ops.json): matmul over every rank
// combination PyTorch accepts (dot, vector-matrix, matrix-vector, matrix-matrix, batched, broadcast
// batches), on transposed / narrowed / expanded / permuted / selected inputs, large GEMMs, an empty inner
// dimension; values and gradients in float and double, gradcheck in double, and the shape errors.
#include <catch2/catch.hpp>

#include "op_harness.hpp"

namespace {

using hnn::Tensor;
using hnn::test::json;
using hnn::test::OpResult;

struct MatmulOps {
  template <class T>
  OpResult<T> operator()(const std::string& op, const std::vector<Tensor<T>>& x, const json&) const {
    if (op == "matmul") return hnn::matmul(x[0], x[1]);
    FAIL("matmul_test has no op " << op);
    return Tensor<T>();
  }
};

}  // namespace

HNN_OP_REFERENCE_TESTS("matmul", MatmulOps)

TEST_CASE("the method, mm and the free function agree; vector-vector gives a 0-dim tensor", "[ops]") {
  auto a = hnn::arange<double>(6).reshape({2, 3});
  auto b = hnn::arange<double>(12).reshape({3, 4});
  REQUIRE(a.matmul(b).to_vector() == hnn::matmul(a, b).to_vector());
  REQUIRE(a.mm(b).to_vector() == hnn::mm(a, b).to_vector());
  auto v = hnn::arange<double>(3);
  auto dot = v.matmul(v);
  REQUIRE(dot.dim() == 0);
  REQUIRE(dot.item() == 5.0);
}

TEST_CASE("matmul shape errors name both shapes", "[ops][errors]") {
  using Catch::Matchers::Contains;
  auto a = hnn::zeros<float>({2, 3});
  REQUIRE_THROWS_WITH(hnn::matmul(a, hnn::zeros<float>({4, 5})), Contains("2x3") && Contains("4x5"));
  REQUIRE_THROWS_WITH(hnn::matmul(hnn::zeros<float>({7, 2, 3}), hnn::zeros<float>({7, 4, 5})),
                      Contains("[7, 2, 3]") && Contains("[7, 4, 5]"));
  REQUIRE_THROWS_WITH(hnn::matmul(hnn::zeros<float>({3}), hnn::zeros<float>({4})),
                      Contains("3") && Contains("4"));
  REQUIRE_THROWS_WITH(hnn::matmul(hnn::zeros<float>({2, 2, 3}), hnn::zeros<float>({3, 3, 2})),
                      Contains("[2]") && Contains("[3]"));
  REQUIRE_THROWS_WITH(hnn::matmul(hnn::zeros<float>({}), a), Contains("at least 1D"));
  REQUIRE_THROWS_AS(hnn::matmul(a, hnn::zeros<float>({2})), std::invalid_argument);
}
