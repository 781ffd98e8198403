// Tests of include/hnn/ops/creation.hpp: zeros, ones, full, arange (count and range forms) against PyTorch
// (tests/references/ops.json) in float, double and int64; tensor(values, shape); the *_like forms; rand,
// randn, randint, randperm (ranges, moments, determinism under a seed, manual_seed); and their errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>

#include "op_harness.hpp"

namespace {

using hnn::Shape;
using hnn::Tensor;
using hnn::test::json;

template <class T>
Tensor<T> create(const std::string& op, const json& args) {
  auto shape = [&] { return Shape(args.at("shape").get<std::vector<int64_t>>()); };
  if (op == "zeros") return hnn::zeros<T>(shape());
  if (op == "ones") return hnn::ones<T>(shape());
  if (op == "full") return hnn::full<T>(shape(), static_cast<T>(args.at("value").get<double>()));
  if (op == "arange") return hnn::arange<T>(args.at("n").get<int64_t>());
  if (op == "arange_range")
    return hnn::arange<T>(args.at("start").get<double>(), args.at("end").get<double>(),
                          args.at("step").get<double>());
  FAIL("creation_test has no op " << op);
  return Tensor<T>();
}

template <class T>
void check_creation(const std::string& op) {
  const auto& refs = hnn::test::ops_references();
  const auto names = refs.names(op + "/");
  REQUIRE(!names.empty());
  for (const auto& name : names) {
    const auto c = refs.get(name);
    INFO(name << ": " << c.call());
    const json& params = hnn::test::case_params(c);
    auto expected = c.tensor<double>("out");
    auto actual = create<T>(params.at("op").get<std::string>(), params.at("args"));
    if constexpr (std::is_same_v<T, int64_t>) {
      // Integer creation is exact wherever the values are integers.
      REQUIRE(actual.shape() == expected.shape());
      for (double v : expected.to_vector())
        if (v != std::floor(v)) return;
      REQUIRE(actual.template cast<double>().to_vector() == expected.to_vector());
    } else {
      hnn::test::expect_close(actual, expected, hnn::test::default_rtol<T>(), 1e-12, name);
      REQUIRE(actual.is_contiguous());
      REQUIRE_FALSE(actual.requires_grad());
    }
  }
}

}  // namespace

TEST_CASE("zeros, ones, full and arange match PyTorch in float, double and int64", "[creation]") {
  for (const char* op : {"zeros", "ones", "full", "arange", "arange_range"}) {
    DYNAMIC_SECTION(op) {
      check_creation<float>(op);
      check_creation<double>(op);
      if (std::string(op) != "arange_range") check_creation<int64_t>(op);
    }
  }
}

TEST_CASE("tensor(values, shape) is row-major; the 1-D and 0-dim forms", "[creation]") {
  auto t = hnn::tensor<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  REQUIRE(t.shape() == Shape{2, 3});
  REQUIRE(t.size(-1) == 3);
  REQUIRE(t.numel() == 6);
  REQUIRE(t.data()[4] == 5.0f);
  REQUIRE(hnn::tensor<double>({1.5, 2.5}).shape() == Shape{2});
  auto s = hnn::scalar_tensor<double>(3.5);
  REQUIRE(s.dim() == 0);
  REQUIRE(s.item() == 3.5);
  REQUIRE(hnn::tensor<int64_t>({7}, Shape{}).item() == 7);
}

TEST_CASE("the *_like forms copy the shape only", "[creation]") {
  auto x = hnn::arange<double>(6).reshape({2, 3}).t();
  REQUIRE(hnn::zeros_like(x).shape() == Shape{3, 2});
  REQUIRE(hnn::ones_like(x).to_vector() == std::vector<double>(6, 1.0));
  REQUIRE(hnn::full_like(x, 2.5).to_vector() == std::vector<double>(6, 2.5));
  REQUIRE(hnn::empty_like(x).is_contiguous());
  REQUIRE_FALSE(hnn::zeros_like(x.requires_grad_()).requires_grad());
}

TEST_CASE("rand, randn, randint, randperm: ranges and moments", "[creation][random]") {
  hnn::Generator gen(123);
  auto u = hnn::rand<double>({20000}, gen).to_vector();
  REQUIRE(*std::min_element(u.begin(), u.end()) >= 0.0);
  REQUIRE(*std::max_element(u.begin(), u.end()) < 1.0);
  double mean = 0, sq = 0;
  for (double v : u) mean += v / static_cast<double>(u.size());
  REQUIRE(std::abs(mean - 0.5) < 0.01);
  auto uf = hnn::rand<float>({20000}, gen).to_vector();
  REQUIRE(*std::max_element(uf.begin(), uf.end()) < 1.0f);
  auto n = hnn::randn<double>({20000}, gen).to_vector();
  mean = 0;
  for (double v : n) mean += v / static_cast<double>(n.size());
  for (double v : n) sq += (v - mean) * (v - mean) / static_cast<double>(n.size());
  REQUIRE(std::abs(mean) < 0.03);
  REQUIRE(std::abs(sq - 1.0) < 0.03);
  auto r = hnn::randint(-3, 4, {5000}, gen).to_vector();
  REQUIRE(*std::min_element(r.begin(), r.end()) == -3);
  REQUIRE(*std::max_element(r.begin(), r.end()) == 3);
  auto p = hnn::randperm(50, gen).to_vector();
  std::sort(p.begin(), p.end());
  REQUIRE(p == hnn::arange<int64_t>(50).to_vector());
}

TEST_CASE("creation errors name the shape or the bad value", "[creation][errors]") {
  using Catch::Matchers::Contains;
  REQUIRE_THROWS_WITH(hnn::tensor<float>({1, 2, 3}, {2, 2}), Contains("[2, 2]") && Contains("3 values"));
  REQUIRE_THROWS_WITH(hnn::zeros<float>({2, -1}), Contains("[2, -1]"));
  REQUIRE_THROWS_AS(hnn::arange<float>(-1), std::invalid_argument);
  REQUIRE_THROWS_AS(hnn::arange<float>(0.0, 1.0, 0.0), std::invalid_argument);
  REQUIRE_THROWS_AS(hnn::arange<float>(0.0, 1.0, -1.0), std::invalid_argument);
  hnn::Generator gen(1);
  REQUIRE_THROWS_WITH(hnn::randint(3, 3, {2}, gen), Contains("low=3") && Contains("high=3"));
}
