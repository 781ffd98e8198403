// Test support: reads the reference fixtures that tools/make_references.py writes with PyTorch
// (tests/references/<area>.json) and compares hnn tensors with them. Tests never need Python.
//
// Fixture format: {"cases": {"<case>": {"call": "<the PyTorch call>", "params": {...},
//                   "tensors": {"<name>": {"dtype": "float64", "shape": [...], "data": [...]}}}}}
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <hnn/tensor.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#ifndef HNN_TEST_REFERENCES_DIR
#define HNN_TEST_REFERENCES_DIR "tests/references"
#endif

namespace hnn::test {

class ReferenceCase {
 public:
  ReferenceCase(std::string name, nlohmann::json json) : name_(std::move(name)), json_(std::move(json)) {}

  const std::string& name() const { return name_; }
  /// The PyTorch expression that produced the case (for failure messages).
  std::string call() const { return json_.value("call", ""); }
  bool has(const std::string& tensor) const { return json_["tensors"].contains(tensor); }
  bool has_param(const std::string& key) const {
    return json_.contains("params") && json_["params"].contains(key);
  }

  template <class T>
  Tensor<T> tensor(const std::string& key) const {
    INFO("reference case " << name_ << " has no tensor '" << key << "'");
    REQUIRE(has(key));
    const auto& t = json_["tensors"][key];
    std::vector<int64_t> shape = t["shape"].get<std::vector<int64_t>>();
    std::vector<T> values;
    for (const auto& v : t["data"]) {
      if (v.is_string()) {  // "nan", "inf", "-inf"
        std::string s = v.get<std::string>();
        values.push_back(s == "nan"   ? static_cast<T>(NAN)
                         : s == "inf" ? static_cast<T>(INFINITY)
                                      : static_cast<T>(-INFINITY));
      } else {
        values.push_back(v.get<T>());
      }
    }
    return hnn::tensor<T>(values, Shape(shape));
  }
  template <class V>
  V param(const std::string& key) const {
    INFO("reference case " << name_ << " has no param '" << key << "'");
    REQUIRE(has_param(key));
    return json_["params"][key].get<V>();
  }
  const nlohmann::json& json() const { return json_; }

 private:
  std::string name_;
  nlohmann::json json_;
};

class References {
 public:
  /// Loads tests/references/<file>.
  explicit References(const std::string& file) {
    std::string path = std::string(HNN_TEST_REFERENCES_DIR) + "/" + file;
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open reference fixture " + path);
    in >> json_;
  }
  ReferenceCase get(const std::string& name) const {
    if (!json_["cases"].contains(name)) throw std::runtime_error("no reference case '" + name + "'");
    return ReferenceCase(name, json_["cases"][name]);
  }
  std::vector<std::string> names(const std::string& prefix = "") const {
    std::vector<std::string> out;
    for (auto it = json_["cases"].begin(); it != json_["cases"].end(); ++it)
      if (it.key().rfind(prefix, 0) == 0) out.push_back(it.key());
    return out;
  }

 private:
  nlohmann::json json_;
};

/// Default relative tolerance by dtype: 1e-10 for double, 1e-5 for float.
template <class T>
constexpr double default_rtol() {
  return std::is_same_v<T, double> ? 1e-10 : 1e-5;
}

/// Elementwise |actual - expected| <= rtol * (|expected| + scale), where scale = max |expected| over the
/// tensor (a norm-wise floor, so elements that cancel to ~0 are judged against the tensor's magnitude),
/// or atol when given. Shapes must match exactly. Reports the worst element on failure.
template <class A, class E>
void expect_close(const Tensor<A>& actual, const Tensor<E>& expected, double rtol = default_rtol<A>(),
                  double atol = -1.0, const std::string& what = "") {
  INFO("comparing " << what << ": actual shape " << (actual.defined() ? actual.shape().str() : "undefined")
                    << ", expected shape " << expected.shape());
  REQUIRE(actual.defined());
  REQUIRE(actual.shape() == expected.shape());
  auto a = actual.template cast<double>().to_vector();
  auto e = expected.template cast<double>().to_vector();
  double scale = 0;
  for (double v : e) scale = std::max(scale, std::abs(v));
  if (atol < 0) atol = rtol * scale;
  size_t worst = 0;
  double worst_excess = -INFINITY;
  bool ok = true;
  for (size_t i = 0; i < a.size(); ++i) {
    bool both_nan = std::isnan(a[i]) && std::isnan(e[i]);
    bool same_inf = std::isinf(a[i]) && a[i] == e[i];
    if (both_nan || same_inf) continue;
    double err = std::abs(a[i] - e[i]), bound = atol + rtol * std::abs(e[i]);
    if (!(err <= bound)) ok = false;
    if (!(err - bound <= worst_excess)) {
      worst_excess = err - bound;
      worst = i;
    }
  }
  if (!ok) {
    std::ostringstream os;
    os.precision(17);
    os << what << ": element " << worst << " differs: actual " << a[worst] << " expected " << e[worst]
       << " (rtol " << rtol << ", atol " << atol << ")";
    FAIL(os.str());
  }
  SUCCEED();
}

}  // namespace hnn::test
