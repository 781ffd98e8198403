// Tests of include/hnn/ops/softmax.hpp against PyTorch (tests/references/ops.json): softmax and log_softmax
// along every dim, negative dims, 0-dim and 1-D inputs, transposed / permuted / narrowed / expanded inputs,
// large logits (max subtraction), -inf logits, long strided lines; values and gradients in float and
// double, gradcheck in double.
#include <catch2/catch.hpp>
#include <cmath>

#include "op_harness.hpp"

namespace {

using hnn::Tensor;
using hnn::test::json;
using hnn::test::OpResult;

struct SoftmaxOps {
  template <class T>
  OpResult<T> operator()(const std::string& op, const std::vector<Tensor<T>>& x, const json& args) const {
    const int64_t dim = args.at("dim").get<int64_t>();
    if (op == "softmax") return hnn::softmax(x[0], dim);
    if (op == "log_softmax") return x[0].log_softmax(dim);
    FAIL("softmax_test has no op " << op);
    return Tensor<T>();
  }
};

}  // namespace

HNN_OP_REFERENCE_TESTS("softmax", SoftmaxOps)
HNN_OP_REFERENCE_TESTS("log_softmax", SoftmaxOps)

TEST_CASE("softmax rows sum to one and log_softmax is its log, in float on wide rows", "[ops]") {
  hnn::Generator gen(7);
  auto x = hnn::randn<float>({64, 1000}, gen) * 20.0f;
  auto s = x.softmax(1);
  auto sums = s.sum({1}).to_vector();
  for (float v : sums) REQUIRE(std::abs(v - 1.0f) < 1e-5f);
  hnn::test::expect_close(x.log_softmax(1).exp(), s, 1e-5, 1e-7, "exp(log_softmax) vs softmax");
}

TEST_CASE("softmax rejects a dim out of range", "[ops][errors]") {
  auto x = hnn::zeros<float>({2, 3});
  REQUIRE_THROWS_WITH(x.softmax(2), Catch::Matchers::Contains("Dimension out of range"));
  REQUIRE_THROWS_AS(hnn::log_softmax(x, -3), std::invalid_argument);
}
