// Tests of include/hnn/ops/reduction.hpp against PyTorch (tests/references/ops.json): sum, mean, var and std
// over everything or over dims (keepdim, negative and unsorted dims), max/min over everything and along a
// dim, argmax/argmin, sum_to; contiguous and non-contiguous inputs, ties, large inputs (the parallel and
// blocked paths), float and double, and gradcheck in double.
#include <catch2/catch.hpp>

#include "op_harness.hpp"

namespace {

using hnn::Shape;
using hnn::Tensor;
using hnn::test::json;
using hnn::test::OpResult;

Shape dims_arg(const json& args) { return Shape(args.at("dims").get<std::vector<int64_t>>()); }

struct ReductionOps {
  template <class T>
  OpResult<T> operator()(const std::string& op, const std::vector<Tensor<T>>& x, const json& args) const {
    const bool keepdim = args.value("keepdim", false);
    const bool unbiased = args.value("unbiased", true);
    if (op == "sum") return x[0].sum();
    if (op == "sum_dims") return hnn::sum(x[0], dims_arg(args), keepdim);
    if (op == "mean") return hnn::mean(x[0]);
    if (op == "mean_dims") return x[0].mean(dims_arg(args), keepdim);
    if (op == "var") return x[0].var(unbiased);
    if (op == "var_dims") return hnn::var(x[0], dims_arg(args), unbiased, keepdim);
    if (op == "std_dims") return x[0].std(dims_arg(args), unbiased, keepdim);
    if (op == "max") return hnn::max(x[0]);
    if (op == "max_dim") return x[0].max(args.at("dim").get<int64_t>(), keepdim);
    if (op == "min") return x[0].min();
    if (op == "min_dim") return x[0].min(args.at("dim").get<int64_t>(), keepdim);
    if (op == "argmax") return hnn::argmax(x[0], args.at("dim").get<int64_t>(), keepdim);
    if (op == "argmax_all") return x[0].argmax();
    if (op == "argmin") return x[0].argmin(args.at("dim").get<int64_t>(), keepdim);
    if (op == "sum_to") return hnn::sum_to(x[0], Shape(args.at("shape").get<std::vector<int64_t>>()));
    FAIL("reduction_test has no op " << op);
    return Tensor<T>();
  }
};

}  // namespace

HNN_OP_REFERENCE_TESTS("sum", ReductionOps)
HNN_OP_REFERENCE_TESTS("sum_dims", ReductionOps)
HNN_OP_REFERENCE_TESTS("mean", ReductionOps)
HNN_OP_REFERENCE_TESTS("mean_dims", ReductionOps)
HNN_OP_REFERENCE_TESTS("var", ReductionOps)
HNN_OP_REFERENCE_TESTS("var_dims", ReductionOps)
HNN_OP_REFERENCE_TESTS("std_dims", ReductionOps)
HNN_OP_REFERENCE_TESTS("max", ReductionOps)
HNN_OP_REFERENCE_TESTS("max_dim", ReductionOps)
HNN_OP_REFERENCE_TESTS("min", ReductionOps)
HNN_OP_REFERENCE_TESTS("min_dim", ReductionOps)
HNN_OP_VALUE_TESTS("argmax", ReductionOps)
HNN_OP_VALUE_TESTS("argmax_all", ReductionOps)
HNN_OP_VALUE_TESTS("argmin", ReductionOps)
HNN_OP_REFERENCE_TESTS("sum_to", ReductionOps)

TEST_CASE("full reductions return 0-dim tensors, as in PyTorch", "[ops]") {
  auto x = hnn::arange<double>(6).reshape({2, 3});
  for (const auto& r : {x.sum(), x.mean(), x.max(), x.min(), x.var()}) {
    REQUIRE(r.dim() == 0);
    REQUIRE(r.numel() == 1);
  }
  REQUIRE(x.sum().item() == 15.0);
  REQUIRE(x.argmax().dim() == 0);
  REQUIRE(x.argmax().item() == 5);
  REQUIRE(x.sum({0, 1}, true).shape() == Shape{1, 1});
}

TEST_CASE("integer sums stay exact in int64", "[ops]") {
  auto x = hnn::arange<int64_t>(100000);
  REQUIRE(x.sum().item() == int64_t(99999) * 100000 / 2);
  REQUIRE(x.reshape({1000, 100}).sum({0}).to_vector()[99] == 99 * 1000 + 100 * (999 * 1000 / 2));
}

TEST_CASE("reductions reject bad dims and empty inputs, naming the shape", "[ops][errors]") {
  using Catch::Matchers::Contains;
  auto x = hnn::zeros<float>({2, 3});
  REQUIRE_THROWS_WITH(x.sum({2}), Contains("Dimension out of range"));
  REQUIRE_THROWS_WITH(x.mean({0, -2}), Contains("multiple times"));
  REQUIRE_THROWS_WITH(hnn::zeros<float>({0, 3}).max(), Contains("[0, 3]"));
  REQUIRE_THROWS_WITH(hnn::zeros<float>({0, 3}).argmax(0), Contains("[0, 3]"));
  REQUIRE_THROWS_AS(x.max(2), std::invalid_argument);
}
