// Tests of include/hnn/ops/shape.hpp (and clone/contiguous from ops/copy.hpp) against PyTorch
// (tests/references/ops.json): reshape, view, flatten, transpose, t, permute, unsqueeze, squeeze, expand,
// select, narrow, cat, stack, clone, contiguous - values and gradients through the views in float and
// double, on contiguous and non-contiguous inputs, and gradcheck in double; plus which results are views.
#include <catch2/catch.hpp>

#include "op_harness.hpp"

namespace {

using hnn::Shape;
using hnn::Tensor;
using hnn::test::json;
using hnn::test::OpResult;

Shape shape_arg(const json& args, const char* key) { return Shape(args.at(key).get<std::vector<int64_t>>()); }

struct ShapeOps {
  template <class T>
  OpResult<T> operator()(const std::string& op, const std::vector<Tensor<T>>& x, const json& args) const {
    if (op == "reshape") return hnn::reshape(x[0], shape_arg(args, "shape"));
    if (op == "view") return x[0].view(shape_arg(args, "shape"));
    if (op == "flatten")
      return hnn::flatten(x[0], args.at("start").get<int64_t>(), args.at("end").get<int64_t>());
    if (op == "transpose")
      return hnn::transpose(x[0], args.at("d0").get<int64_t>(), args.at("d1").get<int64_t>());
    if (op == "t") return x[0].t();
    if (op == "permute") return hnn::permute(x[0], shape_arg(args, "dims"));
    if (op == "unsqueeze") return x[0].unsqueeze(args.at("dim").get<int64_t>());
    if (op == "squeeze_dim") return x[0].squeeze(args.at("dim").get<int64_t>());
    if (op == "squeeze") return x[0].squeeze();
    if (op == "expand") return x[0].expand(shape_arg(args, "shape"));
    if (op == "select") return x[0].select(args.at("dim").get<int64_t>(), args.at("index").get<int64_t>());
    if (op == "narrow")
      return x[0].narrow(args.at("dim").get<int64_t>(), args.at("start").get<int64_t>(),
                         args.at("length").get<int64_t>());
    if (op == "cat") return hnn::cat(x, args.at("dim").get<int64_t>());
    if (op == "stack") return hnn::stack(x, args.at("dim").get<int64_t>());
    if (op == "clone") return x[0].clone();
    if (op == "contiguous") return x[0].contiguous();
    FAIL("shape_test has no op " << op);
    return Tensor<T>();
  }
};

bool shares_storage(const Tensor<float>& a, const Tensor<float>& b) { return a.storage() == b.storage(); }

}  // namespace

HNN_OP_REFERENCE_TESTS("reshape", ShapeOps)
HNN_OP_REFERENCE_TESTS("view", ShapeOps)
HNN_OP_REFERENCE_TESTS("flatten", ShapeOps)
HNN_OP_REFERENCE_TESTS("transpose", ShapeOps)
HNN_OP_REFERENCE_TESTS("t", ShapeOps)
HNN_OP_REFERENCE_TESTS("permute", ShapeOps)
HNN_OP_REFERENCE_TESTS("unsqueeze", ShapeOps)
HNN_OP_REFERENCE_TESTS("squeeze_dim", ShapeOps)
HNN_OP_REFERENCE_TESTS("squeeze", ShapeOps)
HNN_OP_REFERENCE_TESTS("expand", ShapeOps)
HNN_OP_REFERENCE_TESTS("select", ShapeOps)
HNN_OP_REFERENCE_TESTS("narrow", ShapeOps)
HNN_OP_REFERENCE_TESTS("cat", ShapeOps)
HNN_OP_REFERENCE_TESTS("stack", ShapeOps)
HNN_OP_REFERENCE_TESTS("clone", ShapeOps)
HNN_OP_REFERENCE_TESTS("contiguous", ShapeOps)

TEST_CASE("view ops share storage; reshape copies only when it must; clone never shares", "[ops]") {
  auto x = hnn::arange<float>(24).reshape({2, 3, 4});
  REQUIRE(shares_storage(x.view({6, 4}), x));
  REQUIRE(shares_storage(x.transpose(0, 2), x));
  REQUIRE(shares_storage(x.permute({1, 2, 0}), x));
  REQUIRE(shares_storage(x.narrow(2, 1, 2), x));
  REQUIRE(shares_storage(x.select(1, 2), x));
  REQUIRE(shares_storage(x.unsqueeze(1).squeeze(1), x));
  REQUIRE(shares_storage(x.select(0, 0).unsqueeze(0).expand({5, 3, 4}), x));
  REQUIRE(shares_storage(x.reshape({4, 6}), x));                      // contiguous: a view
  REQUIRE_FALSE(shares_storage(x.transpose(0, 1).reshape({-1}), x));  // not viewable: a copy
  REQUIRE_FALSE(shares_storage(x.clone(), x));
  REQUIRE(shares_storage(x.contiguous(), x));
  auto m = hnn::arange<float>(6).reshape({2, 3});
  REQUIRE_FALSE(shares_storage(m.t().contiguous(), m));
  REQUIRE(m.t().contiguous().is_contiguous());
  // Strides and offsets of the views are PyTorch's.
  REQUIRE(x.transpose(0, 2).strides() == hnn::Strides{1, 4, 12});
  REQUIRE(x.narrow(2, 1, 2).storage_offset() == 1);
  REQUIRE(x.select(1, 2).storage_offset() == 8);
  REQUIRE(x.select(0, 0).unsqueeze(0).expand({5, 3, 4}).strides() == hnn::Strides{0, 4, 1});
  // A write through a view is seen by the base.
  x.select(1, 2).fill_(-1.0f);
  REQUIRE(x.to_vector()[8] == -1.0f);
  REQUIRE(x.to_vector()[20] == -1.0f);
}

TEST_CASE("gradients flow through chains of views to the base", "[ops][gradcheck]") {
  auto base = hnn::arange<double>(24).reshape({2, 3, 4}).requires_grad_();
  auto y = base.transpose(0, 2).narrow(0, 1, 2).select(2, 1).unsqueeze(0).expand({3, 2, 3});
  REQUIRE(y.shape() == Shape{3, 2, 3});
  y.sum().backward();
  // y[e, k', j] = base[1, j, k' + 1]: element (i, j, k) of base gets 3 (the expand) where i is 1 and k is
  // 1 or 2, else 0.
  std::vector<double> expected(24, 0.0);
  for (int64_t j = 0; j < 3; ++j)
    for (int64_t k = 1; k < 3; ++k) expected[static_cast<size_t>(1 * 12 + j * 4 + k)] = 3.0;
  REQUIRE(base.grad().to_vector() == expected);
  auto fn = [](const std::vector<Tensor<double>>& in) {
    return hnn::cat(std::vector<Tensor<double>>{in[0].permute({2, 0, 1}).flatten(1), in[1].t()}, 1).pow(2.0);
  };
  auto a = hnn::arange<double>(12).reshape({1, 3, 4}).requires_grad_();
  auto b = hnn::arange<double>(8).reshape({2, 4}).requires_grad_();
  REQUIRE(hnn::autograd::gradcheck<hnn::CPU>(fn, {a, b}));
}

TEST_CASE("shape ops reject bad arguments with the shapes in the message", "[ops][errors]") {
  auto x = hnn::zeros<float>({2, 3, 4});
  using Catch::Matchers::Contains;
  REQUIRE_THROWS_WITH(x.view({5, 5}), Contains("[5, 5]") && Contains("24"));
  REQUIRE_THROWS_WITH(x.transpose(0, 1).view({-1}), Contains("view"));
  REQUIRE_THROWS_WITH(x.reshape({-1, -1}), Contains("only one dimension can be inferred"));
  REQUIRE_THROWS_WITH(x.reshape({5, -1}), Contains("[5, -1]") && Contains("24"));
  REQUIRE_THROWS_AS(x.permute({0, 1}), std::invalid_argument);
  REQUIRE_THROWS_AS(x.permute({0, 1, 1}), std::invalid_argument);
  REQUIRE_THROWS_WITH(x.transpose(0, 3), Contains("Dimension out of range"));
  REQUIRE_THROWS_AS(x.expand({2, 5, 4}), std::invalid_argument);
  REQUIRE_THROWS_AS(x.expand({3, 4}), std::invalid_argument);
  REQUIRE_THROWS_AS(x.narrow(2, 3, 2), std::invalid_argument);
  REQUIRE_THROWS_AS(x.select(1, 3), std::invalid_argument);
  REQUIRE_THROWS_AS(x.select(1, -4), std::invalid_argument);
  REQUIRE_THROWS_AS(hnn::zeros<float>({}).select(0, 0), std::invalid_argument);
  REQUIRE_THROWS_WITH(hnn::cat(std::vector<Tensor<float>>{x, hnn::zeros<float>({2, 4, 4})}, 2),
                      Contains("[2, 3, 4]") && Contains("[2, 4, 4]"));
  REQUIRE_THROWS_AS(hnn::cat(std::vector<Tensor<float>>{}, 0), std::invalid_argument);
  REQUIRE_THROWS_WITH(hnn::stack(std::vector<Tensor<float>>{x, hnn::zeros<float>({2, 3, 5})}, 0),
                      Contains("[2, 3, 4]") && Contains("[2, 3, 5]"));
}

TEST_CASE("int64 tensors have the same shape ops", "[ops]") {
  auto x = hnn::arange<int64_t>(6).reshape({2, 3});
  REQUIRE(x.t().to_vector() == std::vector<int64_t>{0, 3, 1, 4, 2, 5});
  REQUIRE(x.t().contiguous().view({-1}).to_vector() == std::vector<int64_t>{0, 3, 1, 4, 2, 5});
  REQUIRE(hnn::cat(std::vector<Tensor<int64_t>>{x, x.narrow(0, 1, 1)}, 0).to_vector() ==
          std::vector<int64_t>{0, 1, 2, 3, 4, 5, 3, 4, 5});
  REQUIRE(hnn::stack(std::vector<Tensor<int64_t>>{x.select(1, 0), x.select(1, 2)}, 1).to_vector() ==
          std::vector<int64_t>{0, 2, 3, 5});
}
