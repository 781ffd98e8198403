// Training metrics: accuracy (class indices, one-hot / probability targets, binary probabilities),
// RunningMean, Stopwatch and MetricsLogger (a tidy per-epoch CSV, flushed per row).
// Depends on hnn/tensor.hpp and the standard library.
#pragma once

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "hnn/core/error.hpp"
#include "hnn/tensor.hpp"

namespace hnn::utils {

namespace detail {

/// Row-wise argmax of a contiguous (rows, cols) buffer; ties pick the first, as torch.argmax does.
template <class T>
int64_t row_argmax(const T* row, int64_t cols) {
  int64_t best = 0;
  for (int64_t c = 1; c < cols; ++c)
    if (row[c] > row[best] ||
        (std::isnan(static_cast<double>(row[c])) && !std::isnan(static_cast<double>(row[best]))))
      best = c;
  return best;
}

template <class T, class D>
std::vector<T> values(const Tensor<T, D>& t) {
  return t.to_vector();
}

}  // namespace detail

/// Number of rows of `logits` (N, C) whose argmax equals the class index in `targets` (N).
template <class T, class D>
int64_t count_correct(const Tensor<T, D>& logits, const Tensor<int64_t, D>& targets) {
  HNN_CHECK(logits.dim() == 2, "hnn::utils::accuracy: expected logits of shape (N, C), got ", logits.shape());
  HNN_CHECK(targets.dim() == 1 && targets.size(0) == logits.size(0),
            "hnn::utils::accuracy: expected class-index targets of shape (", logits.size(0), "), got ",
            targets.shape());
  const int64_t n = logits.size(0), c = logits.size(1);
  auto scores = detail::values(logits);
  auto labels = detail::values(targets);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) correct += detail::row_argmax(scores.data() + i * c, c) == labels[i];
  return correct;
}

/// With float targets shaped like the predictions: one-hot or probability rows (N, C > 1) compare argmaxes;
/// binary probabilities (N) or (N, 1) compare `prediction >= threshold` with `target >= 0.5`.
template <class T, class D>
int64_t count_correct(const Tensor<T, D>& predictions, const Tensor<T, D>& targets, double threshold = 0.5) {
  HNN_CHECK(predictions.shape() == targets.shape(), "hnn::utils::accuracy: expected targets shaped like the ",
            "predictions ", predictions.shape(), ", got ", targets.shape());
  auto p = detail::values(predictions);
  auto t = detail::values(targets);
  const bool binary = predictions.dim() == 1 || (predictions.dim() == 2 && predictions.size(1) == 1);
  HNN_CHECK(binary || predictions.dim() == 2,
            "hnn::utils::accuracy: expected (N), (N, 1) or (N, C) predictions, got ", predictions.shape());
  int64_t correct = 0;
  if (binary) {
    for (size_t i = 0; i < p.size(); ++i) correct += (p[i] >= threshold) == (t[i] >= 0.5);
    return correct;
  }
  const int64_t n = predictions.size(0), c = predictions.size(1);
  for (int64_t i = 0; i < n; ++i)
    correct += detail::row_argmax(p.data() + i * c, c) == detail::row_argmax(t.data() + i * c, c);
  return correct;
}

/// Fraction of correct predictions (0 for an empty batch).
template <class T, class D>
double accuracy(const Tensor<T, D>& logits, const Tensor<int64_t, D>& targets) {
  const int64_t n = logits.dim() > 0 ? logits.size(0) : 0;
  const int64_t correct = count_correct(logits, targets);
  return n > 0 ? static_cast<double>(correct) / static_cast<double>(n) : 0.0;
}
template <class T, class D>
double accuracy(const Tensor<T, D>& predictions, const Tensor<T, D>& targets, double threshold = 0.5) {
  const int64_t n = predictions.dim() > 0 ? predictions.size(0) : 0;
  const int64_t correct = count_correct(predictions, targets, threshold);
  return n > 0 ? static_cast<double>(correct) / static_cast<double>(n) : 0.0;
}

/// Weighted running mean (weight = batch size gives the per-sample epoch mean).
class RunningMean {
 public:
  void add(double value, double weight = 1.0) {
    sum_ += value * weight;
    weight_ += weight;
  }
  double mean() const { return weight_ > 0 ? sum_ / weight_ : std::nan(""); }
  double total_weight() const { return weight_; }
  void reset() { sum_ = weight_ = 0; }

 private:
  double sum_ = 0, weight_ = 0;
};

/// Wall time since construction or the last reset(); lap() returns the time since the last lap.
class Stopwatch {
 public:
  using clock = std::chrono::steady_clock;
  Stopwatch() : start_(clock::now()), lap_(start_) {}
  double seconds() const { return std::chrono::duration<double>(clock::now() - start_).count(); }
  double lap() {
    auto now = clock::now();
    double s = std::chrono::duration<double>(now - lap_).count();
    lap_ = now;
    return s;
  }
  void reset() { start_ = lap_ = clock::now(); }

 private:
  clock::time_point start_, lap_;
};

/// A CSV with a fixed header; each log() writes and flushes one row, so a killed run keeps every finished
/// epoch. Missing columns are left empty; integers print without a decimal point, others in shortest form.
class MetricsLogger {
 public:
  static std::vector<std::string> default_columns() {
    return {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds"};
  }

  explicit MetricsLogger(std::string path, std::vector<std::string> columns = default_columns())
      : path_(std::move(path)), columns_(std::move(columns)) {
    HNN_CHECK(!columns_.empty(), "hnn::utils::MetricsLogger: expected at least one column");
    file_ = std::fopen(path_.c_str(), "w");
    HNN_CHECK_RUNTIME(file_ != nullptr, "hnn::utils::MetricsLogger: cannot create '", path_, "'");
    std::string header;
    for (size_t i = 0; i < columns_.size(); ++i) header += (i ? "," : "") + columns_[i];
    write_line(header);
  }
  MetricsLogger(const MetricsLogger&) = delete;
  MetricsLogger& operator=(const MetricsLogger&) = delete;
  ~MetricsLogger() {
    if (file_) std::fclose(file_);
  }

  /// One row from named values; a name that is not a column throws std::invalid_argument.
  void log(const std::map<std::string, double>& row) {
    for (const auto& [name, value] : row) {
      bool known = false;
      for (const auto& c : columns_) known |= c == name;
      HNN_CHECK(known, "hnn::utils::MetricsLogger('", path_, "'): unknown column '", name, "'");
    }
    std::string line;
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (i) line += ',';
      auto it = row.find(columns_[i]);
      if (it != row.end()) line += format(it->second);
    }
    write_line(line);
  }
  /// One row from values in column order.
  void log(const std::vector<double>& row) {
    HNN_CHECK(row.size() == columns_.size(), "hnn::utils::MetricsLogger('", path_, "'): expected ",
              columns_.size(), " values, got ", row.size());
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) line += (i ? "," : "") + format(row[i]);
    write_line(line);
  }

  const std::vector<std::string>& columns() const { return columns_; }
  const std::string& path() const { return path_; }

  static std::string format(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (v == std::floor(v) && std::abs(v) < 1e15) return std::to_string(static_cast<long long>(v));
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
  }

 private:
  void write_line(const std::string& line) {
    HNN_CHECK_RUNTIME(std::fputs((line + "\n").c_str(), file_) >= 0 && std::fflush(file_) == 0,
                      "hnn::utils::MetricsLogger: writing '", path_, "' failed");
  }

  std::string path_;
  std::vector<std::string> columns_;
  std::FILE* file_ = nullptr;
};

}  // namespace hnn::utils
