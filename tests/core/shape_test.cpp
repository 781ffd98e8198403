// Tests of include/hnn/core/shape.hpp: Shape construction (braced list, std::vector, iterator range),
// indexing, numel, printing, contiguous strides, checked_numel, wrap_dim, and broadcast_shapes under
// PyTorch's rules (torch.broadcast_shapes gives the same results), with its error naming both shapes.
#include "hnn/core/shape.hpp"

#include <array>
#include <catch2/catch.hpp>
#include <limits>
#include <stdexcept>
#include <vector>

using Catch::Matchers::Contains;
using hnn::Shape;

TEST_CASE("Shape builds from a braced list, a vector and an iterator range", "[core]") {
  Shape a{2, 3, 4};
  Shape b(std::vector<int64_t>{2, 3, 4});
  std::array<int64_t, 3> arr{2, 3, 4};
  Shape c(arr.begin(), arr.end());
  REQUIRE(a == b);
  REQUIRE(a == c);
  REQUIRE(a.size() == 3);
  REQUIRE(a[1] == 3);
  REQUIRE(a.back() == 4);
  REQUIRE(a.numel() == 24);
  REQUIRE(Shape{}.numel() == 1);  // a 0-dim tensor holds one element
  REQUIRE(Shape{}.empty());
  REQUIRE(Shape{3, 0}.numel() == 0);
  a[1] = 5;
  REQUIRE(a != b);
  a.insert(0, 7);
  a.erase(3);
  REQUIRE(a == Shape{7, 2, 5});
  a.push_back(1);
  REQUIRE(a.vec() == std::vector<int64_t>{7, 2, 5, 1});
}

TEST_CASE("Shape prints like a Python list", "[core]") {
  REQUIRE(Shape{2, 3}.str() == "[2, 3]");
  REQUIRE(Shape{}.str() == "[]");
  REQUIRE(Shape{5}.str() == "[5]");
}

TEST_CASE("contiguous strides are row-major; zero sizes count as one", "[core]") {
  REQUIRE(hnn::contiguous_strides({2, 3, 4}) == hnn::Strides{12, 4, 1});
  REQUIRE(hnn::contiguous_strides({}) == hnn::Strides{});
  REQUIRE(hnn::contiguous_strides({5}) == hnn::Strides{1});
  REQUIRE(hnn::contiguous_strides({2, 0, 3}) == hnn::Strides{3, 3, 1});  // torch.zeros(2, 0, 3).stride()
}

TEST_CASE("checked_numel rejects negative sizes and int64 overflow", "[core][errors]") {
  REQUIRE(hnn::checked_numel({2, 3}) == 6);
  REQUIRE_THROWS_WITH(hnn::checked_numel({2, -3}), Contains("[2, -3]"));
  const int64_t big = std::numeric_limits<int64_t>::max() / 2;
  REQUIRE_THROWS_AS(hnn::checked_numel({big, 3}), std::invalid_argument);
  // Zero elements, but the nonzero sizes' product (a stride) overflows: torch.empty(0, 2**40, 2**40) refuses
  // too. Found by tests/fuzz (mnist, safetensors): contiguous_strides overflowed int64.
  REQUIRE(hnn::checked_numel({0, int64_t(1) << 40, int64_t(1) << 20}) == 0);
  REQUIRE_THROWS_WITH(hnn::checked_numel({0, int64_t(1) << 40, int64_t(1) << 40}),
                      Contains("[0, 1099511627776, 1099511627776]") && Contains("ignoring its zero sizes"));
  REQUIRE_THROWS_AS(hnn::checked_numel({int64_t(1) << 40, int64_t(1) << 40, 0}), std::invalid_argument);
}

TEST_CASE("wrap_dim maps negative dims and rejects out-of-range ones like PyTorch", "[core]") {
  REQUIRE(hnn::wrap_dim(-1, 3) == 2);
  REQUIRE(hnn::wrap_dim(-3, 3) == 0);
  REQUIRE(hnn::wrap_dim(2, 3) == 2);
  REQUIRE(hnn::wrap_dim(0, 0) == 0);  // a 0-dim tensor accepts dim 0 and -1
  REQUIRE(hnn::wrap_dim(-1, 0) == 0);
  REQUIRE_THROWS_WITH(hnn::wrap_dim(3, 3), Contains("[-3, 2]") && Contains("got 3"));
  REQUIRE_THROWS_AS(hnn::wrap_dim(-4, 3), std::invalid_argument);
  REQUIRE_THROWS_AS(hnn::wrap_dim(1, 0), std::invalid_argument);
}

TEST_CASE("broadcast_shapes follows PyTorch's rules", "[core]") {
  // Each row: a, b, torch.broadcast_shapes(a, b).
  struct Case {
    Shape a, b, out;
  };
  const std::vector<Case> cases = {
      {{2, 3}, {2, 3}, {2, 3}},
      {{2, 3}, {3}, {2, 3}},
      {{4, 1}, {1, 5}, {4, 5}},
      {{2, 1, 4}, {3, 1}, {2, 3, 4}},
      {{}, {2, 3}, {2, 3}},
      {{2, 3}, {}, {2, 3}},
      {{}, {}, {}},
      {{1}, {}, {1}},
      {{0, 1}, {1, 3}, {0, 3}},
      {{5, 1, 1, 2}, {7, 1}, {5, 1, 7, 2}},
      {{1, 1}, {1}, {1, 1}},
      {{3, 0}, {1}, {3, 0}},
  };
  for (const auto& c : cases) {
    INFO(c.a << " with " << c.b);
    REQUIRE(hnn::broadcast_shapes(c.a, c.b) == c.out);
    REQUIRE(hnn::broadcast_shapes(c.b, c.a) == c.out);
  }
}

TEST_CASE("broadcast_shapes names both shapes when they do not broadcast", "[core][errors]") {
  REQUIRE_THROWS_WITH(hnn::broadcast_shapes({2, 3}, {4}),
                      Contains("[2, 3]") && Contains("[4]") && Contains("The size of tensor a (3)"));
  REQUIRE_THROWS_AS(hnn::broadcast_shapes({2, 3, 4}, {3, 1, 4}), std::invalid_argument);
  REQUIRE_THROWS_AS(hnn::broadcast_shapes({0}, {2}), std::invalid_argument);
}
