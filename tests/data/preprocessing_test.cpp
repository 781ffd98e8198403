// Tests for include/hnn/data/preprocessing.hpp against scikit-learn 1.2 (tools/references/preprocessing.py):
// StandardScaler and MinMaxScaler fitted on a training table and applied to a held-out one (attributes,
// transforms, inverse transforms) in float (against scikit-learn's float32 run) and double (float64),
// NaN cells, constant columns, a column at 1e6; SimpleImputer's four strategies (ties, even counts);
// LabelEncoder; and the errors.
#include "hnn/data/preprocessing.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "reference.hpp"

using hnn::Tensor;
using hnn::test::expect_close;

namespace {

const hnn::test::References& refs() {
  static hnn::test::References r("preprocessing.json");
  return r;
}

template <class T>
std::string suffix() {
  return std::is_same_v<T, float> ? "_32" : "_64";
}

/// Per column: |a - e| <= tol * (|e| + column scale), the column scale being max |e| in that column (a 1e6
/// column must not loosen the others), NaN matching NaN.
template <class T>
void expect_columns(const Tensor<T>& actual, const Tensor<double>& expected, double tol,
                    const std::string& what) {
  INFO(what);
  REQUIRE(actual.shape() == expected.shape());
  const int64_t cols = expected.dim() == 2 ? expected.size(1) : expected.numel();
  const auto a = actual.template cast<double>().to_vector();
  const auto e = expected.to_vector();
  std::vector<double> scale(static_cast<size_t>(cols), 0.0);
  for (size_t i = 0; i < e.size(); ++i)
    if (!std::isnan(e[i])) scale[i % size_t(cols)] = std::max(scale[i % size_t(cols)], std::abs(e[i]));
  for (size_t i = 0; i < e.size(); ++i) {
    INFO("element " << i << ": actual " << a[i] << " expected " << e[i]);
    if (std::isnan(e[i])) {
      CHECK(std::isnan(a[i]));
      continue;
    }
    const double bound = tol * (std::abs(e[i]) + (expected.dim() == 2 ? scale[i % size_t(cols)] : 0.0));
    CHECK(std::abs(a[i] - e[i]) <= bound);
  }
}

template <class T>
double tolerance() {
  return std::is_same_v<T, float> ? 2e-7 : 1e-13;
}

}  // namespace

TEMPLATE_TEST_CASE("StandardScaler matches scikit-learn fitted on one table and applied to another",
                   "[data][preprocessing][reference]", float, double) {
  using T = TestType;
  for (const std::string name : {"standard", "standard_nan"}) {
    SECTION(name) {
      const auto c = refs().get(name);
      INFO(c.call());
      const auto s = suffix<T>();
      const auto train = c.tensor<T>("train"), test = c.tensor<T>("test");
      hnn::data::StandardScaler<T> scaler;
      const auto z_train = scaler.fit_transform(train);
      expect_columns(scaler.mean(), c.tensor<double>("mean_" + s), tolerance<T>(), "mean_");
      expect_columns(scaler.var(), c.tensor<double>("var_" + s), 1e3 * tolerance<T>(), "var_");
      expect_columns(scaler.scale(), c.tensor<double>("scale_" + s), 1e3 * tolerance<T>(), "scale_");
      expect_columns(z_train, c.tensor<double>("z_train" + s), 10 * tolerance<T>(), "z_train");
      const auto z_test = scaler.transform(test);
      expect_columns(z_test, c.tensor<double>("z_test" + s), 10 * tolerance<T>(), "z_test");
      expect_columns(scaler.inverse_transform(z_test), c.tensor<double>("inverse" + s), 10 * tolerance<T>(),
                     "inverse");
      // The constant column (3.7) gets scale 1.
      CHECK(scaler.scale().to_vector()[2] == T(1));
    }
  }
}

TEMPLATE_TEST_CASE("MinMaxScaler matches scikit-learn fitted on one table and applied to another",
                   "[data][preprocessing][reference]", float, double) {
  using T = TestType;
  for (const std::string name : {"minmax", "minmax_nan"}) {
    SECTION(name) {
      const auto c = refs().get(name);
      INFO(c.call());
      const auto s = suffix<T>();
      const auto train = c.tensor<T>("train"), test = c.tensor<T>("test");
      hnn::data::MinMaxScaler<T> scaler;
      const auto z_train = scaler.fit_transform(train);
      expect_columns(scaler.data_min(), c.tensor<double>("data_min_" + s), 0.0, "data_min_");
      expect_columns(scaler.data_max(), c.tensor<double>("data_max_" + s), 0.0, "data_max_");
      expect_columns(scaler.scale(), c.tensor<double>("scale_" + s), tolerance<T>(), "scale_");
      expect_columns(scaler.min(), c.tensor<double>("min_" + s), tolerance<T>(), "min_");
      expect_columns(z_train, c.tensor<double>("z_train" + s), 10 * tolerance<T>(), "z_train");
      const auto z_test = scaler.transform(test);
      expect_columns(z_test, c.tensor<double>("z_test" + s), 10 * tolerance<T>(), "z_test");
      expect_columns(scaler.inverse_transform(z_test), c.tensor<double>("inverse" + s), 10 * tolerance<T>(),
                     "inverse");
    }
  }
}

TEMPLATE_TEST_CASE("SimpleImputer matches scikit-learn for every strategy",
                   "[data][preprocessing][reference]", float, double) {
  using T = TestType;
  for (const std::string strategy : {"mean", "median", "most_frequent", "constant"}) {
    SECTION(strategy) {
      const auto c = refs().get("imputer_" + strategy);
      INFO(c.call());
      const auto s = suffix<T>();
      const auto train = c.tensor<T>("train"), test = c.tensor<T>("test");
      hnn::data::SimpleImputer<T> imputer(strategy,
                                          strategy == "constant" ? c.param<double>("fill_value") : 0.0);
      CHECK(imputer.strategy() == strategy);
      const auto z_train = imputer.fit_transform(train);
      expect_columns(imputer.statistics(), c.tensor<double>("statistics" + s), tolerance<T>(), "statistics_");
      expect_columns(z_train, c.tensor<double>("z_train" + s), tolerance<T>(), "z_train");
      expect_columns(imputer.transform(test), c.tensor<double>("z_test" + s), tolerance<T>(), "z_test");
    }
  }
}

TEST_CASE("SimpleImputer refuses what it cannot do, naming it", "[data][preprocessing][errors]") {
  REQUIRE_THROWS_WITH(
      hnn::data::SimpleImputer<float>("mode"),
      Catch::Contains("Can only use these strategies") && Catch::Contains("got strategy=mode"));
  hnn::data::SimpleImputer<double> imputer("median");
  REQUIRE_THROWS_WITH(imputer.transform(hnn::zeros<double>({2, 3})),
                      Catch::Contains("This SimpleImputer instance is not fitted yet"));
  auto empty_column = hnn::zeros<double>({3, 2});
  for (int64_t r = 0; r < 3; ++r) empty_column.data()[r * 2 + 1] = NAN;
  REQUIRE_THROWS_WITH(imputer.fit(empty_column),
                      Catch::Contains("column 1 has no value but NaN in all 3 rows"));
  REQUIRE_THROWS_WITH(imputer.statistics(), Catch::Contains("not fitted yet"));
  // "constant" needs no values; the fill is exact.
  hnn::data::SimpleImputer<double> constant("constant", 2.5);
  CHECK(constant.fit_transform(empty_column).to_vector() == std::vector<double>{0, 2.5, 0, 2.5, 0, 2.5});
  imputer.fit(hnn::tensor<double>({1.0, 2.0, 3.0, 4.0}, {2, 2}));
  REQUIRE_THROWS_WITH(
      imputer.transform(hnn::zeros<double>({2, 3})),
      Catch::Contains("X has 3 features, but SimpleImputer is expecting 2 features as input."));
}

TEST_CASE("LabelEncoder matches scikit-learn's classes and codes", "[data][preprocessing][reference]") {
  const auto c = refs().get("label_encoder");
  const auto labels = c.param<std::vector<std::string>>("labels");
  hnn::data::LabelEncoder encoder;
  const auto codes = encoder.fit_transform(labels);
  CHECK(encoder.classes() == c.param<std::vector<std::string>>("classes"));
  CHECK(codes.to_vector() == c.tensor<int64_t>("codes").to_vector());
  CHECK(encoder.inverse_transform(codes) == labels);
}

TEST_CASE("preprocessing errors name the estimator, the shape and the value",
          "[data][preprocessing][errors]") {
  hnn::data::StandardScaler<double> scaler;
  REQUIRE_THROWS_WITH(scaler.transform(hnn::zeros<double>({2, 3})),
                      Catch::Contains("This StandardScaler instance is not fitted yet"));
  REQUIRE_THROWS_AS(scaler.transform(hnn::zeros<double>({2, 3})), std::runtime_error);
  REQUIRE_THROWS_WITH(
      scaler.fit(hnn::zeros<double>({6})),
      Catch::Contains("StandardScaler.fit: expected a 2-D tensor (samples, features), got shape [6]"));
  REQUIRE_THROWS_WITH(scaler.fit(hnn::zeros<double>({0, 3})),
                      Catch::Contains("Found array with 0 sample(s)"));
  auto bad = hnn::zeros<double>({3, 2});
  bad.data()[3] = INFINITY;
  REQUIRE_THROWS_WITH(scaler.fit(bad), Catch::Contains("input contains infinity at [1, 1]"));
  scaler.fit(hnn::randn<double>({5, 3}));
  REQUIRE_THROWS_WITH(
      scaler.transform(hnn::zeros<double>({2, 4})),
      Catch::Contains("X has 4 features, but StandardScaler is expecting 3 features as input."));
  hnn::data::MinMaxScaler<float> minmax;
  REQUIRE_THROWS_WITH(minmax.inverse_transform(hnn::zeros<float>({2, 3})),
                      Catch::Contains("This MinMaxScaler instance is not fitted yet"));
  minmax.fit(hnn::randn<float>({4, 2}));
  REQUIRE_THROWS_WITH(
      minmax.transform(hnn::zeros<float>({4, 3})),
      Catch::Contains("X has 3 features, but MinMaxScaler is expecting 2 features as input."));
  hnn::data::LabelEncoder encoder;
  REQUIRE_THROWS_WITH(encoder.transform({"a"}),
                      Catch::Contains("This LabelEncoder instance is not fitted yet"));
  encoder.fit({"cat", "dog"});
  REQUIRE_THROWS_WITH(encoder.transform({"dog", "emu", "ant", "emu"}),
                      Catch::Contains("y contains previously unseen labels: ['ant', 'emu']"));
  REQUIRE_THROWS_WITH(encoder.inverse_transform(hnn::tensor<int64_t>({1, 2})),
                      Catch::Contains("y contains previously unseen labels: [2] (2 classes)"));
}

TEST_CASE("a scaler fitted on a training fold leaves the held-out fold's statistics alone",
          "[data][preprocessing]") {
  // The k-fold rule: fit on the training rows only, apply the same map to the validation rows.
  auto x = hnn::arange<double>(12).reshape({6, 2});
  auto fit_rows = x.index_select(0, hnn::tensor<int64_t>({0, 1, 2, 3}));
  auto held_out = x.index_select(0, hnn::tensor<int64_t>({4, 5}));
  hnn::data::StandardScaler<double> scaler;
  scaler.fit(fit_rows);
  CHECK(scaler.mean().to_vector() == std::vector<double>{3, 4});  // rows 0..3: columns 0,2,4,6 and 1,3,5,7
  const auto z = scaler.transform(held_out).to_vector();
  const double sd = std::sqrt(5.0);  // population variance of 0, 2, 4, 6
  CHECK(z[0] == Approx((8 - 3) / sd));
  CHECK(z[3] == Approx((11 - 4) / sd));
}
