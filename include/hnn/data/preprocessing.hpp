// scikit-learn's preprocessing for tabular data, with its names and the semantics of scikit-learn 1.2
// (Debian bookworm's python3-sklearn): StandardScaler, MinMaxScaler and SimpleImputer over the columns of a
// 2-D tensor (rows = samples), fitted on one fold and applied to others, and LabelEncoder for text labels.
// Depends on hnn/tensor.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "hnn/core/format.hpp"
#include "hnn/tensor.hpp"

namespace hnn::data {

namespace detail {

/// The (rows, columns) of a 2-D tensor, or a message naming the estimator and the shape.
template <class T, class D>
void check_table(const Tensor<T, D>& x, const char* who, const char* call) {
  HNN_CHECK(x.dim() == 2, who, ".", call, ": expected a 2-D tensor (samples, features), got shape ",
            x.shape());
}

[[noreturn]] inline void not_fitted(const char* who) {
  throw std::runtime_error(hnn::detail::concat("This ", who,
                                               " instance is not fitted yet. Call 'fit' with appropriate "
                                               "arguments before using this estimator."));
}

inline void check_features(int64_t got, size_t expected, const char* who) {
  HNN_CHECK(got == static_cast<int64_t>(expected), "X has ", got, " features, but ", who, " is expecting ",
            expected, " features as input.");
}

/// x as host values, row-major, rejecting infinities (scikit-learn's check_array with allow-nan).
template <class T, class D>
std::vector<T> finite_or_nan(const Tensor<T, D>& x, const char* who, const char* call) {
  auto values = x.detach().contiguous().template to<CPU>().to_vector();
  const int64_t cols = x.size(1);
  for (size_t i = 0; i < values.size(); ++i)
    HNN_CHECK(!std::isinf(values[i]), who, ".", call, ": input contains infinity at [",
              static_cast<int64_t>(i) / std::max<int64_t>(cols, 1), ", ",
              static_cast<int64_t>(i) % std::max<int64_t>(cols, 1), "]");
  return values;
}

template <class T, class D>
Tensor<T, D> table_like(std::vector<T> values, const Shape& shape) {
  return tensor<T>(values, shape).template to<D>();
}

}  // namespace detail

/// sklearn.preprocessing.StandardScaler (with_mean and with_std): z = (x - mean) / scale per column, with
/// the column's mean and population standard deviation over the rows fitted on. As scikit-learn 1.2:
///  - mean and variance are accumulated in double whatever T; NaN values are ignored when fitting (each
///    column counts its own samples) and stay NaN when transforming;
///  - a (near-)constant column gets scale 1, by scikit-learn's test var <= n eps var + (n mean eps)^2
///    (eps of double), so it maps to x - mean instead of dividing by ~0;
///  - transform rounds to T after the subtraction and after the division, as numpy's in-place
///    `X -= mean_; X /= scale_` on a float32 array does.
/// Infinite values are refused, as scikit-learn's check_array does.
template <class T = float>
class StandardScaler {
 public:
  /// Fits mean and scale to the columns of x (samples, features).
  template <class D>
  StandardScaler& fit(const Tensor<T, D>& x) {
    detail::check_table(x, "StandardScaler", "fit");
    const auto values = detail::finite_or_nan(x, "StandardScaler", "fit");
    const int64_t rows = x.size(0), cols = x.size(1);
    HNN_CHECK(rows > 0, "StandardScaler.fit: Found array with 0 sample(s) (shape=", x.shape(),
              ") while a minimum of 1 is required.");
    fitted_ = true;
    mean_.assign(static_cast<size_t>(cols), 0.0);
    var_.assign(static_cast<size_t>(cols), 0.0);
    scale_.assign(static_cast<size_t>(cols), 1.0);
    count_.assign(static_cast<size_t>(cols), 0);
    for (int64_t c = 0; c < cols; ++c) {
      double sum = 0;
      int64_t n = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const double v = static_cast<double>(values[static_cast<size_t>(r * cols + c)]);
        if (std::isnan(v)) continue;
        sum += v;
        ++n;
      }
      const double mean = n ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
      // Two passes with scikit-learn's correction term: sum (x - mean)^2 - (sum (x - mean))^2 / n.
      double correction = 0, squares = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const double v = static_cast<double>(values[static_cast<size_t>(r * cols + c)]);
        if (std::isnan(v)) continue;
        correction += v - mean;
        squares += (v - mean) * (v - mean);
      }
      const double var =
          n ? (squares - correction * correction / static_cast<double>(n)) / static_cast<double>(n)
            : std::numeric_limits<double>::quiet_NaN();
      const auto k = static_cast<size_t>(c);
      mean_[k] = mean;
      var_[k] = var;
      count_[k] = n;
      const double eps = std::numeric_limits<double>::epsilon();
      const double nd = static_cast<double>(n);
      const bool constant = var <= nd * eps * var + (nd * mean * eps) * (nd * mean * eps);
      scale_[k] = constant ? 1.0 : std::sqrt(var);
    }
    return *this;
  }

  /// (x - mean) / scale, column by column; NaN stays NaN.
  template <class D>
  Tensor<T, D> transform(const Tensor<T, D>& x) const {
    check_ready(x, "transform");
    auto values = detail::finite_or_nan(x, "StandardScaler", "transform");
    const auto cols = static_cast<size_t>(x.size(1));
    for (size_t i = 0; i < values.size(); ++i) {
      const size_t c = i % cols;
      const T centred = static_cast<T>(static_cast<double>(values[i]) - mean_[c]);
      values[i] = static_cast<T>(static_cast<double>(centred) / scale_[c]);
    }
    return detail::table_like<T, D>(std::move(values), x.shape());
  }

  template <class D>
  Tensor<T, D> fit_transform(const Tensor<T, D>& x) {
    return fit(x).transform(x);
  }

  /// z * scale + mean: back to the original units.
  template <class D>
  Tensor<T, D> inverse_transform(const Tensor<T, D>& z) const {
    check_ready(z, "inverse_transform");
    auto values = z.detach().contiguous().template to<CPU>().to_vector();
    const auto cols = static_cast<size_t>(z.size(1));
    for (size_t i = 0; i < values.size(); ++i) {
      const size_t c = i % cols;
      const T scaled = static_cast<T>(static_cast<double>(values[i]) * scale_[c]);
      values[i] = static_cast<T>(static_cast<double>(scaled) + mean_[c]);
    }
    return detail::table_like<T, D>(std::move(values), z.shape());
  }

  bool fitted() const { return fitted_; }
  /// Per-column mean, population variance and scale (1 for constant columns), and samples counted.
  Tensor<T> mean() const { return as_tensor(mean_); }
  Tensor<T> var() const { return as_tensor(var_); }
  Tensor<T> scale() const { return as_tensor(scale_); }
  const std::vector<int64_t>& n_samples_seen() const { return count_; }

 private:
  template <class D>
  void check_ready(const Tensor<T, D>& x, const char* call) const {
    if (!fitted_) detail::not_fitted("StandardScaler");
    detail::check_table(x, "StandardScaler", call);
    detail::check_features(x.size(1), mean_.size(), "StandardScaler");
  }
  Tensor<T> as_tensor(const std::vector<double>& v) const {
    if (!fitted_) detail::not_fitted("StandardScaler");
    return tensor<T>(std::vector<T>(v.begin(), v.end()), {static_cast<int64_t>(v.size())});
  }

  std::vector<double> mean_, var_, scale_;
  std::vector<int64_t> count_;
  bool fitted_ = false;
};

/// sklearn.preprocessing.MinMaxScaler with feature_range (0, 1): z = x * scale + min per column, scale =
/// 1 / (data_max - data_min), min = -data_min * scale, so each fitted column spans [0, 1]. As
/// scikit-learn 1.2, the attributes and the arithmetic are in T (a column whose range is below 10 eps of
/// T gets scale 1), NaN is ignored when fitting and kept when transforming, and values outside the
/// fitted range map outside [0, 1] (no clipping).
template <class T = float>
class MinMaxScaler {
 public:
  template <class D>
  MinMaxScaler& fit(const Tensor<T, D>& x) {
    detail::check_table(x, "MinMaxScaler", "fit");
    const auto values = detail::finite_or_nan(x, "MinMaxScaler", "fit");
    const int64_t rows = x.size(0), cols = x.size(1);
    HNN_CHECK(rows > 0, "MinMaxScaler.fit: Found array with 0 sample(s) (shape=", x.shape(),
              ") while a minimum of 1 is required.");
    fitted_ = true;
    const T nan = std::numeric_limits<T>::quiet_NaN();
    data_min_.assign(static_cast<size_t>(cols), nan);
    data_max_.assign(static_cast<size_t>(cols), nan);
    scale_.assign(static_cast<size_t>(cols), T(1));
    min_.assign(static_cast<size_t>(cols), T(0));
    for (int64_t c = 0; c < cols; ++c) {
      const auto k = static_cast<size_t>(c);
      for (int64_t r = 0; r < rows; ++r) {
        const T v = values[static_cast<size_t>(r * cols + c)];
        if (std::isnan(v)) continue;
        if (std::isnan(data_min_[k]) || v < data_min_[k]) data_min_[k] = v;
        if (std::isnan(data_max_[k]) || v > data_max_[k]) data_max_[k] = v;
      }
      T range = static_cast<T>(data_max_[k] - data_min_[k]);
      if (range < T(10) * std::numeric_limits<T>::epsilon()) range = T(1);
      scale_[k] = static_cast<T>(T(1) / range);
      min_[k] = static_cast<T>(T(0) - data_min_[k] * scale_[k]);
    }
    return *this;
  }

  /// x * scale + min, column by column.
  template <class D>
  Tensor<T, D> transform(const Tensor<T, D>& x) const {
    check_ready(x, "transform");
    auto values = detail::finite_or_nan(x, "MinMaxScaler", "transform");
    const auto cols = static_cast<size_t>(x.size(1));
    for (size_t i = 0; i < values.size(); ++i) {
      const size_t c = i % cols;
      const T scaled = static_cast<T>(values[i] * scale_[c]);
      values[i] = static_cast<T>(scaled + min_[c]);
    }
    return detail::table_like<T, D>(std::move(values), x.shape());
  }

  template <class D>
  Tensor<T, D> fit_transform(const Tensor<T, D>& x) {
    return fit(x).transform(x);
  }

  /// (z - min) / scale.
  template <class D>
  Tensor<T, D> inverse_transform(const Tensor<T, D>& z) const {
    check_ready(z, "inverse_transform");
    auto values = z.detach().contiguous().template to<CPU>().to_vector();
    const auto cols = static_cast<size_t>(z.size(1));
    for (size_t i = 0; i < values.size(); ++i) {
      const size_t c = i % cols;
      const T shifted = static_cast<T>(values[i] - min_[c]);
      values[i] = static_cast<T>(shifted / scale_[c]);
    }
    return detail::table_like<T, D>(std::move(values), z.shape());
  }

  Tensor<T> data_min() const { return as_tensor(data_min_); }
  Tensor<T> data_max() const { return as_tensor(data_max_); }
  Tensor<T> scale() const { return as_tensor(scale_); }
  Tensor<T> min() const { return as_tensor(min_); }

 private:
  template <class D>
  void check_ready(const Tensor<T, D>& x, const char* call) const {
    if (!fitted_) detail::not_fitted("MinMaxScaler");
    detail::check_table(x, "MinMaxScaler", call);
    detail::check_features(x.size(1), scale_.size(), "MinMaxScaler");
  }
  Tensor<T> as_tensor(const std::vector<T>& v) const {
    if (!fitted_) detail::not_fitted("MinMaxScaler");
    return tensor<T>(v, {static_cast<int64_t>(v.size())});
  }

  std::vector<T> data_min_, data_max_, scale_, min_;
  bool fitted_ = false;
};

/// sklearn.impute.SimpleImputer for NaN cells: fit learns one statistic per column from its non-missing
/// values, transform replaces NaN with it. Strategies as scikit-learn 1.2 names them: "mean", "median"
/// (the mean of the two middle values for an even count), "most_frequent" (the smallest of tied values)
/// and "constant" (fill_value, default 0). Statistics are computed in double. One difference, on purpose:
/// a column with no value at all is refused when fitting (scikit-learn 1.2 drops it from transform's
/// output, which silently changes the table's width).
template <class T = float>
class SimpleImputer {
 public:
  explicit SimpleImputer(std::string strategy = "mean", double fill_value = 0)
      : strategy_(std::move(strategy)), fill_value_(fill_value) {
    HNN_CHECK(
        strategy_ == "mean" || strategy_ == "median" || strategy_ == "most_frequent" ||
            strategy_ == "constant",
        "SimpleImputer: Can only use these strategies: ['mean', 'median', 'most_frequent', 'constant'] ",
        "got strategy=", strategy_);
  }

  template <class D>
  SimpleImputer& fit(const Tensor<T, D>& x) {
    detail::check_table(x, "SimpleImputer", "fit");
    const auto values = detail::finite_or_nan(x, "SimpleImputer", "fit");
    const int64_t rows = x.size(0), cols = x.size(1);
    HNN_CHECK(rows > 0, "SimpleImputer.fit: Found array with 0 sample(s) (shape=", x.shape(),
              ") while a minimum of 1 is required.");
    statistics_.assign(static_cast<size_t>(cols), fill_value_);
    fitted_ = true;
    if (strategy_ == "constant") return *this;
    std::vector<double> column;
    for (int64_t c = 0; c < cols; ++c) {
      column.clear();
      for (int64_t r = 0; r < rows; ++r) {
        const auto v = static_cast<double>(values[static_cast<size_t>(r * cols + c)]);
        if (!std::isnan(v)) column.push_back(v);
      }
      if (column.empty()) {
        fitted_ = false;
        throw std::invalid_argument(hnn::detail::concat("SimpleImputer.fit: column ", c,
                                                        " has no value but NaN in all ", rows,
                                                        " rows, so the '", strategy_,
                                                        "' strategy has nothing to learn from (scikit-learn "
                                                        "1.2 would drop the column); remove it, or use ",
                                                        "strategy 'constant'"));
      }
      statistics_[static_cast<size_t>(c)] = statistic(column);
    }
    return *this;
  }

  /// x with every NaN cell replaced by its column's statistic.
  template <class D>
  Tensor<T, D> transform(const Tensor<T, D>& x) const {
    if (!fitted_) detail::not_fitted("SimpleImputer");
    detail::check_table(x, "SimpleImputer", "transform");
    detail::check_features(x.size(1), statistics_.size(), "SimpleImputer");
    auto values = detail::finite_or_nan(x, "SimpleImputer", "transform");
    const auto cols = static_cast<size_t>(x.size(1));
    for (size_t i = 0; i < values.size(); ++i)
      if (std::isnan(values[i])) values[i] = static_cast<T>(statistics_[i % cols]);
    return detail::table_like<T, D>(std::move(values), x.shape());
  }

  template <class D>
  Tensor<T, D> fit_transform(const Tensor<T, D>& x) {
    return fit(x).transform(x);
  }

  /// The fill value of each column (statistics_).
  Tensor<T> statistics() const {
    if (!fitted_) detail::not_fitted("SimpleImputer");
    return tensor<T>(std::vector<T>(statistics_.begin(), statistics_.end()),
                     {static_cast<int64_t>(statistics_.size())});
  }
  const std::string& strategy() const { return strategy_; }

 private:
  double statistic(std::vector<double>& v) const {
    const size_t n = v.size();
    if (strategy_ == "mean") {
      double sum = 0;
      for (double value : v) sum += value;
      return sum / static_cast<double>(n);
    }
    std::sort(v.begin(), v.end());
    if (strategy_ == "median") return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    // most_frequent: the longest run in sorted order, the first (smallest) on a tie.
    double best = v[0];
    size_t best_count = 0;
    for (size_t i = 0; i < n;) {
      size_t j = i;
      while (j < n && v[j] == v[i]) ++j;
      if (j - i > best_count) {
        best_count = j - i;
        best = v[i];
      }
      i = j;
    }
    return best;
  }

  std::string strategy_;
  double fill_value_ = 0;
  std::vector<double> statistics_;
  bool fitted_ = false;
};

/// sklearn.preprocessing.LabelEncoder for text labels: classes() are the distinct labels sorted (byte
/// order, numpy.unique's for ASCII), transform maps each label to its index there, inverse_transform
/// maps indices back. Unseen labels and out-of-range codes are refused, naming them.
class LabelEncoder {
 public:
  LabelEncoder& fit(const std::vector<std::string>& labels) {
    classes_ = labels;
    std::sort(classes_.begin(), classes_.end());
    classes_.erase(std::unique(classes_.begin(), classes_.end()), classes_.end());
    return *this;
  }

  Tensor<int64_t> transform(const std::vector<std::string>& labels) const {
    if (classes_.empty()) detail::not_fitted("LabelEncoder");
    std::vector<int64_t> codes;
    codes.reserve(labels.size());
    std::vector<std::string> unseen;
    for (const auto& label : labels) {
      const auto it = std::lower_bound(classes_.begin(), classes_.end(), label);
      if (it == classes_.end() || *it != label) {
        if (std::find(unseen.begin(), unseen.end(), label) == unseen.end()) unseen.push_back(label);
        continue;
      }
      codes.push_back(static_cast<int64_t>(it - classes_.begin()));
    }
    if (!unseen.empty()) {
      std::sort(unseen.begin(), unseen.end());
      std::string list;
      for (const auto& u : unseen) list += (list.empty() ? "'" : ", '") + u + "'";
      throw std::invalid_argument("LabelEncoder.transform: y contains previously unseen labels: [" + list +
                                  "]");
    }
    return tensor<int64_t>(codes, {static_cast<int64_t>(codes.size())});
  }

  Tensor<int64_t> fit_transform(const std::vector<std::string>& labels) {
    return fit(labels).transform(labels);
  }

  std::vector<std::string> inverse_transform(const Tensor<int64_t>& codes) const {
    if (classes_.empty()) detail::not_fitted("LabelEncoder");
    HNN_CHECK(codes.dim() <= 1, "LabelEncoder.inverse_transform: expected a 1-D tensor of codes, got shape ",
              codes.shape());
    std::vector<std::string> out;
    for (const int64_t code : codes.contiguous().to_vector()) {
      HNN_CHECK(code >= 0 && code < static_cast<int64_t>(classes_.size()),
                "LabelEncoder.inverse_transform: y contains previously unseen labels: [", code, "] (",
                classes_.size(), " classes)");
      out.push_back(classes_[static_cast<size_t>(code)]);
    }
    return out;
  }

  const std::vector<std::string>& classes() const { return classes_; }

 private:
  std::vector<std::string> classes_;
};

}  // namespace hnn::data
