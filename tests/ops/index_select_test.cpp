// Tests for Tensor::index_select / hnn::index_select (ops/shape.hpp): values against torch.index_select's
// (computed by PyTorch 1.13 for arange(24).reshape(2, 3, 4)), every dim, repeats and an empty index, int64
// tensors, non-contiguous input, gradients (repeats add up) with a gradcheck in double, and the errors.
#include <catch2/catch.hpp>
#include <hnn/hnn.hpp>
#include <vector>

using hnn::Shape;
using hnn::Tensor;

TEMPLATE_TEST_CASE("index_select picks entries along any dim, in the index's order", "[ops][index_select]",
                   float, double) {
  using T = TestType;
  auto x = hnn::arange<T>(24).reshape({2, 3, 4});
  // torch.arange(24.).reshape(2, 3, 4).index_select(1, torch.tensor([2, 0, 2]))
  auto y = x.index_select(1, hnn::tensor<int64_t>({2, 0, 2}));
  CHECK(y.shape() == Shape{2, 3, 4});
  CHECK(y.to_vector() == std::vector<T>{8,  9,  10, 11, 0,  1,  2,  3,  8,  9,  10, 11,
                                        20, 21, 22, 23, 12, 13, 14, 15, 20, 21, 22, 23});
  auto z = hnn::index_select(x, -1, hnn::tensor<int64_t>({3, 0}));
  CHECK(z.shape() == Shape{2, 3, 2});
  CHECK(z.to_vector() == std::vector<T>{3, 0, 7, 4, 11, 8, 15, 12, 19, 16, 23, 20});
  auto rows = x.index_select(0, hnn::tensor<int64_t>({1}));
  CHECK(rows.to_vector() == x.narrow(0, 1, 1).contiguous().to_vector());
  // A 0-D index keeps the dim with size 1; an empty index gives size 0.
  CHECK(x.index_select(2, hnn::tensor<int64_t>({1}, Shape{})).shape() == Shape{2, 3, 1});
  CHECK(x.index_select(1, Tensor<int64_t>::empty({0})).shape() == Shape{2, 0, 4});
  // Not a view: writing the result leaves x alone.
  {
    hnn::NoGradGuard guard;
    y.fill_(T(-1));
  }
  CHECK(x.to_vector()[8] == T(8));
  // Non-contiguous input.
  auto t = x.transpose(0, 2);  // (4, 3, 2)
  CHECK(t.index_select(0, hnn::tensor<int64_t>({1})).to_vector() == std::vector<T>{1, 13, 5, 17, 9, 21});
  // 0-D input, as PyTorch: stays 0-D.
  auto s = hnn::tensor<T>({T(5)}, Shape{});
  CHECK(s.index_select(0, hnn::tensor<int64_t>({0})).shape() == Shape{});
  CHECK(s.index_select(0, hnn::tensor<int64_t>({0})).item() == T(5));
}

TEST_CASE("index_select on int64 tensors", "[ops][index_select]") {
  auto labels = hnn::tensor<int64_t>({7, 8, 9, 10});
  CHECK(labels.index_select(0, hnn::tensor<int64_t>({3, 3, 0})).to_vector() ==
        std::vector<int64_t>{10, 10, 7});
}

TEST_CASE("index_select gradients add up over repeated indices; gradcheck in double",
          "[ops][index_select][gradcheck]") {
  auto x = hnn::arange<double>(6).reshape({3, 2}).requires_grad_(true);
  auto y = x.index_select(0, hnn::tensor<int64_t>({2, 0, 2}));
  y.sum().backward();
  CHECK(x.grad().to_vector() == std::vector<double>{1, 1, 0, 0, 2, 2});

  hnn::Generator gen(5);
  for (int64_t dim : {0, 1, 2}) {
    INFO("dim " << dim);
    auto a = hnn::randn<double>({3, 4, 2}, gen).requires_grad_(true);
    auto index = hnn::tensor<int64_t>({1, 0, 1});
    auto r = hnn::randn<double>(a.index_select(dim, index).shape(), gen);
    auto fn = [&](const std::vector<Tensor<double>>& in) { return in[0].index_select(dim, index) * r; };
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(fn, {a}));
  }
}

TEST_CASE("index_select errors name the index, the dim and the shape", "[ops][index_select][errors]") {
  auto x = hnn::zeros<float>({2, 3, 4});
  REQUIRE_THROWS_WITH(x.index_select(1, hnn::tensor<int64_t>({0, 3})),
                      Catch::Contains("index out of range in self: index[1] = 3 for dimension 1 of size 3"));
  REQUIRE_THROWS_WITH(x.index_select(1, hnn::tensor<int64_t>({-1})),
                      Catch::Contains("index[0] = -1 for dimension 1 of size 3 (shape [2, 3, 4])"));
  REQUIRE_THROWS_WITH(x.index_select(1, hnn::zeros<int64_t>({1, 1})),
                      Catch::Contains("Index is supposed to be a vector"));
  REQUIRE_THROWS_WITH(x.index_select(3, hnn::tensor<int64_t>({0})),
                      Catch::Contains("Dimension out of range"));
  REQUIRE_THROWS_AS(x.index_select(3, hnn::tensor<int64_t>({0})), std::invalid_argument);
}
