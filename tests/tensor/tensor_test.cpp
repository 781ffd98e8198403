// Tests of include/hnn/tensor/tensor.hpp and ops/copy.hpp: handle semantics (copies share storage, clone
// copies), inspection (shape, dim, size with negative dims, numel, strides, is_contiguous), views sharing
// storage with their base, contiguous(), to_vector() on every layout (transposed, permuted, narrowed,
// selected, expanded, 0-dim, empty), item(), copy_/fill_ into views, cast, and undefined tensors.
#include "hnn/tensor.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <vector>

using Catch::Matchers::Contains;
using hnn::Shape;
using hnn::Tensor;

TEST_CASE("copying a Tensor shares storage; clone() copies", "[tensor]") {
  auto a = hnn::zeros<float>({2, 3});
  Tensor<float> b = a;  // a handle, like torch::Tensor
  b.fill_(4.0f);
  REQUIRE(a.to_vector() == std::vector<float>(6, 4.0f));
  REQUIRE(a.is_same(b));
  auto c = a.clone();
  c.fill_(1.0f);
  REQUIRE(a.to_vector() == std::vector<float>(6, 4.0f));
  REQUIRE(c.storage() != a.storage());
  REQUIRE_FALSE(c.is_same(a));
}

TEST_CASE("inspection: shape, dim, size with negative dims, numel, strides", "[tensor]") {
  auto x = hnn::zeros<double>({2, 3, 4});
  REQUIRE(x.shape() == Shape{2, 3, 4});
  REQUIRE(x.sizes() == x.shape());
  REQUIRE(x.dim() == 3);
  REQUIRE(x.size(0) == 2);
  REQUIRE(x.size(-1) == 4);
  REQUIRE(x.size(-3) == 2);
  REQUIRE(x.numel() == 24);
  REQUIRE(x.strides() == hnn::Strides{12, 4, 1});
  REQUIRE(x.stride(-2) == 4);
  REQUIRE(x.is_contiguous());
  REQUIRE(x.is_floating_point());
  REQUIRE_FALSE(Tensor<int64_t>::is_floating_point());
  REQUIRE_THROWS_WITH(x.size(3), Contains("Dimension out of range"));
  auto s = hnn::full<float>({}, 2.0f);
  REQUIRE(s.dim() == 0);
  REQUIRE(s.numel() == 1);
  // torch.tensor(2.).size(0) raises: a 0-dim tensor has no dimension to ask about.
  REQUIRE_THROWS_WITH(s.size(0), Contains("no dimensions"));
  REQUIRE_THROWS_AS(s.stride(-1), std::invalid_argument);
}

TEST_CASE("views share storage with their base and see its writes", "[tensor]") {
  auto base = hnn::arange<float>(12).reshape({3, 4});
  auto t = base.t();
  auto row = base.select(0, 1);
  auto cols = base.narrow(1, 1, 2);
  auto rep = base.select(1, 0).unsqueeze(1).expand({3, 5});
  for (const auto* v : {&t, &row, &cols, &rep}) REQUIRE(v->storage() == base.storage());
  REQUIRE_FALSE(t.is_contiguous());
  REQUIRE_FALSE(cols.is_contiguous());
  REQUIRE(row.is_contiguous());
  base.data()[4] = 100.0f;  // element (1, 0)
  REQUIRE(t.to_vector()[1] == 100.0f);
  REQUIRE(row.to_vector()[0] == 100.0f);
  REQUIRE(rep.to_vector()[5] == 100.0f);
  cols.fill_(-1.0f);  // a write through a view lands in the base
  REQUIRE(base.to_vector() == std::vector<float>{0, -1, -1, 3, 100, -1, -1, 7, 8, -1, -1, 11});
}

TEST_CASE("contiguous() returns the same tensor when already contiguous, else a packed copy", "[tensor]") {
  auto x = hnn::arange<double>(24).reshape({2, 3, 4});
  REQUIRE(x.contiguous().is_same(x));
  auto p = x.permute({2, 0, 1});
  auto pc = p.contiguous();
  REQUIRE(pc.is_contiguous());
  REQUIRE(pc.storage() != x.storage());
  REQUIRE(pc.shape() == Shape{4, 2, 3});
  REQUIRE(pc.strides() == hnn::Strides{6, 3, 1});
  REQUIRE(pc.to_vector() == p.to_vector());
  // permute(2, 0, 1) of arange: element (k, i, j) = 12 i + 4 j + k.
  std::vector<double> expected;
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) expected.push_back(12 * i + 4 * j + k);
  REQUIRE(pc.to_vector() == expected);
}

TEST_CASE("to_vector() gives row-major values on every layout", "[tensor]") {
  auto x = hnn::arange<int64_t>(12).reshape({3, 4});
  REQUIRE(x.to_vector() == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  REQUIRE(x.t().to_vector() == std::vector<int64_t>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  REQUIRE(x.narrow(1, 1, 2).to_vector() == std::vector<int64_t>{1, 2, 5, 6, 9, 10});
  REQUIRE(x.narrow(0, 1, 2).t().to_vector() == std::vector<int64_t>{4, 8, 5, 9, 6, 10, 7, 11});
  REQUIRE(x.select(1, 3).to_vector() == std::vector<int64_t>{3, 7, 11});
  REQUIRE(x.select(0, 2).select(0, 1).to_vector() == std::vector<int64_t>{9});
  REQUIRE(x.select(0, 0).unsqueeze(0).expand({2, 4}).to_vector() ==
          std::vector<int64_t>{0, 1, 2, 3, 0, 1, 2, 3});
  REQUIRE(x.narrow(1, 0, 0).to_vector().empty());
  REQUIRE(hnn::zeros<float>({0, 3}).to_vector().empty());
}

TEST_CASE("item() reads the one element of any one-element tensor", "[tensor]") {
  REQUIRE(hnn::full<double>({}, 2.5).item() == 2.5);
  REQUIRE(hnn::full<float>({1, 1, 1}, -1.0f).item() == -1.0f);
  auto x = hnn::arange<int64_t>(6).reshape({2, 3});
  REQUIRE(x.select(0, 1).select(0, 2).item() == 5);
  REQUIRE(x.narrow(1, 2, 1).narrow(0, 0, 1).item() == 2);
  REQUIRE_THROWS_WITH(x.item(), Contains("6 elements") && Contains("[2, 3]"));
  REQUIRE_THROWS_AS(hnn::zeros<float>({0}).item(), std::invalid_argument);
}

TEST_CASE("copy_ broadcasts into any layout; fill_ fills views; cast converts dtypes", "[tensor]") {
  auto dst = hnn::zeros<float>({3, 4});
  dst.t().narrow(0, 1, 2).copy_(hnn::tensor<float>({7, 8, 9}, {3}));  // columns 1 and 2 of dst
  REQUIRE(dst.to_vector() == std::vector<float>{0, 7, 7, 0, 0, 8, 8, 0, 0, 9, 9, 0});
  dst.select(1, 3).fill_(5.0f);
  REQUIRE(dst.to_vector()[11] == 5.0f);
  dst.zero_();
  REQUIRE(dst.to_vector() == std::vector<float>(12, 0.0f));
  auto d = hnn::tensor<double>({1.75, -2.5, 3.0}, {3});
  REQUIRE(d.cast<float>().to_vector() == std::vector<float>{1.75f, -2.5f, 3.0f});
  REQUIRE(d.cast<int64_t>().to_vector() == std::vector<int64_t>{1, -2, 3});  // truncation, like .long()
  REQUIRE(hnn::arange<int64_t>(6).reshape({2, 3}).t().cast<double>().to_vector() ==
          std::vector<double>{0, 3, 1, 4, 2, 5});
}

TEST_CASE("t() transposes matrices, returns vectors and scalars as they are, and refuses 3-D", "[tensor]") {
  auto v = hnn::arange<float>(3);
  REQUIRE(v.t().shape() == Shape{3});
  REQUIRE(v.t().to_vector() == v.to_vector());
  REQUIRE(hnn::full<float>({}, 1.0f).t().dim() == 0);
  REQUIRE_THROWS_WITH(hnn::zeros<float>({2, 3, 4}).t(), Contains("<= 2 dimensions") && Contains("[2, 3, 4]"));
}

TEST_CASE("an undefined tensor reports itself instead of crashing", "[tensor][errors]") {
  Tensor<float> u;
  REQUIRE_FALSE(u.defined());
  REQUIRE_FALSE(u.requires_grad());
  REQUIRE_FALSE(u.grad().defined());
  REQUIRE_THROWS_WITH(u.shape(), Contains("undefined"));
  REQUIRE_THROWS_AS(u.numel(), std::runtime_error);
}
