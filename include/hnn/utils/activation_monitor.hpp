// ActivationMonitor: per-step statistics of the activations flowing through a model (mean, std, exact
// percentiles, saturation) and of its parameter gradients, as a tidy CSV and SVG percentile bands.
// Depends on nn/module.hpp, nn/batch_norm.hpp, nn/activation.hpp, autograd/grad_mode.hpp, utils/svg_plot.hpp.
//
// What is recorded. By default every batch norm's input and output and every activation's (Sigmoid,
// Tanh, ReLU) input; with options().modules({...}) the named modules instead (dotted names from
// named_modules(): batch norms input and output, activations input, anything else input and output).
// For each such point and each recorded step:
//   count      number of values in the tensor
//   mean, std  std is torch.std's (unbiased, n - 1); NaN with fewer than two values
//   p<q>       percentiles q (default 1, 15.87, 50, 84.13, 99: the median and +-1 / +-2.33 standard
//              deviations of a normal), exact per batch with torch.quantile's default 'linear'
//              interpolation: position q/100 * (n - 1) between the two neighbouring order statistics,
//              found by selection (a histogram pass narrows large tensors down to a few buckets, then
//              std::nth_element; no sort, no sketch). A NaN anywhere makes every percentile NaN, as in torch.
//   saturated  activation inputs only: the fraction of values with |x| > 4 (Sigmoid, Tanh; the
//              threshold is an option) or x <= 0 (ReLU: the units whose output is zero)
// and, when step() closes a recorded step, the L2 norm of every parameter's gradient.
//
// Steps. Steps count from 0; step() ends one (call it once per optimiser step, after backward). Steps
// 0, k, 2k, ... are recorded (options().every(k)). Within a recorded step the first training forward of
// each module is recorded (module in training mode and grad mode on, so evaluation passes and no-grad
// recalibration do not count unless options().record_eval(true)). On the other steps no hook is
// attached at all, so the model runs exactly as without a monitor. Values are copied out of the tensors
// while the hook runs; the monitor holds no activation tensor and so keeps no graph alive.
//
// CSV (write_csv), one value per row, sorted by step:
//   step,layer,module,point,stat,value
//   0,1,BatchNorm1d,input,mean,0.0123
//   0,0.weight,Linear,grad,l2_norm,0.5310          (point "grad": layer is the parameter's name)
// Read back programmatically with points(), series(layer, point, stat), steps(layer, point) and
// gradient_norms().
//
// The monitor holds a reference to the model, which must outlive it; it is neither copyable nor movable
// (its hooks point at it). Destroying it, or remove(), detaches every hook.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "hnn/autograd/grad_mode.hpp"
#include "hnn/core/atomic_file.hpp"
#include "hnn/core/error.hpp"
#include "hnn/nn/activation.hpp"
#include "hnn/nn/batch_norm.hpp"
#include "hnn/nn/module.hpp"
#include "hnn/utils/svg_plot.hpp"

namespace hnn::utils {

/// Which side of a module a statistic describes.
enum class MonitorPoint { input, output };

inline const char* to_string(MonitorPoint point) { return point == MonitorPoint::input ? "input" : "output"; }

/// What a monitored module is: decides its default points and what "saturated" means.
enum class MonitoredKind { batch_norm, sigmoid, tanh, relu, other };

inline bool is_activation(MonitoredKind kind) {
  return kind == MonitoredKind::sigmoid || kind == MonitoredKind::tanh || kind == MonitoredKind::relu;
}

/// Options of ActivationMonitor. Setters chain; getters share the name. All are read at construction.
class ActivationMonitorOptions {
 public:
  /// Record steps 0, k, 2k, ...; k >= 1. Default 1 (every step).
  ActivationMonitorOptions& every(int64_t k) {
    HNN_CHECK(k >= 1, "ActivationMonitorOptions::every: expected a step interval >= 1, got ", k);
    every_ = k;
    return *this;
  }
  int64_t every() const { return every_; }
  /// Monitor only these modules (dotted names as named_modules() gives them, "" for the model itself).
  /// Default empty: every batch norm and every activation.
  ActivationMonitorOptions& modules(std::vector<std::string> names) {
    modules_ = std::move(names);
    return *this;
  }
  const std::vector<std::string>& modules() const { return modules_; }
  /// Percentiles to record, strictly increasing, in [0, 100]. Default {1, 15.87, 50, 84.13, 99}.
  ActivationMonitorOptions& percentiles(std::vector<double> values) {
    HNN_CHECK(!values.empty(), "ActivationMonitorOptions::percentiles: expected at least one percentile");
    for (size_t i = 0; i < values.size(); ++i) {
      HNN_CHECK(values[i] >= 0 && values[i] <= 100,
                "ActivationMonitorOptions::percentiles: expected values in [0, 100], got ", values[i],
                " at position ", i);
      HNN_CHECK(i == 0 || values[i] > values[i - 1],
                "ActivationMonitorOptions::percentiles: expected strictly increasing values, got ",
                values[i - 1], " then ", values[i]);
    }
    percentiles_ = std::move(values);
    return *this;
  }
  const std::vector<double>& percentiles() const { return percentiles_; }
  /// |x| above this counts as a saturated Sigmoid / Tanh input. Default 4 (sigmoid'(4) = 0.018).
  ActivationMonitorOptions& saturation_threshold(double v) {
    HNN_CHECK(v > 0, "ActivationMonitorOptions::saturation_threshold: expected a positive threshold, got ",
              v);
    saturation_threshold_ = v;
    return *this;
  }
  double saturation_threshold() const { return saturation_threshold_; }
  /// Also record forwards in eval mode or without grad recording. Default false.
  ActivationMonitorOptions& record_eval(bool v) {
    record_eval_ = v;
    return *this;
  }
  bool record_eval() const { return record_eval_; }
  /// Record the L2 norm of each parameter's gradient when step() closes a recorded step. Default true.
  ActivationMonitorOptions& gradient_norms(bool v) {
    gradient_norms_ = v;
    return *this;
  }
  bool gradient_norms() const { return gradient_norms_; }

 private:
  int64_t every_ = 1;
  std::vector<std::string> modules_;
  std::vector<double> percentiles_{1, 15.87, 50, 84.13, 99};
  double saturation_threshold_ = 4.0;
  bool record_eval_ = false;
  bool gradient_norms_ = true;
};

/// The statistics of one tensor at one step.
struct ActivationStats {
  int64_t step = 0;
  int64_t count = 0;
  double mean = std::numeric_limits<double>::quiet_NaN();
  double std = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> percentiles;                              // one per options().percentiles()
  double saturated = std::numeric_limits<double>::quiet_NaN();  // activation inputs only
};

/// One monitored (module, point) and its history, in step order.
struct MonitoredSeries {
  std::string layer;   // dotted module name, "3" or "features.1"
  std::string module;  // its class name, "Sigmoid"
  MonitoredKind kind = MonitoredKind::other;
  MonitorPoint point = MonitorPoint::input;
  std::vector<ActivationStats> history;
};

/// The gradient L2 norms of one parameter over the recorded steps.
struct GradientNormSeries {
  std::string parameter;  // dotted name, "3.weight"
  std::string module;     // class name of the module that owns it
  std::vector<int64_t> steps;
  std::vector<double> l2_norm;
};

namespace detail {

/// "p15.87" for 15.87, "p50" for 50: the stat name of a percentile.
inline std::string percentile_name(double q) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "p%g", q);
  return buf;
}

/// The tensor's values, contiguous, in `out` (reusing its capacity on the CPU).
template <class T, class D>
void copy_values(const Tensor<T, D>& t, std::vector<T>& out) {
  if constexpr (std::is_same_v<D, CPU>) {
    if (t.is_contiguous()) {
      out.assign(t.data(), t.data() + t.numel());
      return;
    }
  }
  out = t.to_vector();
}

/// torch.lerp's formula, which torch.quantile uses between the two order statistics around a rank.
inline double lerp(double below, double above, double weight) {
  return weight < 0.5 ? below + weight * (above - below) : above - (above - below) * (1.0 - weight);
}

/// The fraction of saturated values for an activation of `kind`; NaN for anything else.
template <class T>
double saturated_fraction(const T* values, int64_t n, MonitoredKind kind, double threshold) {
  if (!is_activation(kind) || n == 0) return std::numeric_limits<double>::quiet_NaN();
  int64_t saturated = 0;
  if (kind == MonitoredKind::relu) {
    for (int64_t i = 0; i < n; ++i) saturated += values[i] <= T(0);
  } else {
    for (int64_t i = 0; i < n; ++i) saturated += std::abs(static_cast<double>(values[i])) > threshold;
  }
  return static_cast<double>(saturated) / static_cast<double>(n);
}

/// The order statistics `ranks` (strictly increasing, each in [0, n)) of values[0..n), by selection: each
/// found by nth_element in the part after the previous one (the selected index holds its order statistic
/// and all values after it are >= it). Reorders `values`.
template <class T>
std::vector<double> select_ranks(T* values, int64_t n, const std::vector<int64_t>& ranks) {
  std::vector<double> out;
  int64_t next = 0;  // values[next..n) are >= every order statistic selected so far
  for (int64_t k : ranks) {
    std::nth_element(values + next, values + k, values + n);
    out.push_back(static_cast<double>(values[k]));
    next = k + 1;
  }
  return out;
}

/// The same order statistics of a large array without reordering it: a histogram of 4096 equal-width
/// buckets over [lo, hi] says which bucket holds each rank and at which offset; a second pass gathers the
/// values of just those buckets, and a selection inside each gives the exact value. Both passes compute a
/// value's bucket with the same arithmetic, so the counts and the gathered values agree. Three passes
/// over the data in all instead of one nth_element per rank; a bucket holding most values (a very skewed
/// batch) costs one selection over it, no more than without buckets.
template <class T>
std::vector<double> select_ranks_bucketed(const T* values, int64_t n, double lo, double hi,
                                          const std::vector<int64_t>& ranks) {
  constexpr int64_t kBuckets = 4096;
  const double scale = static_cast<double>(kBuckets) / (hi - lo);
  auto bucket_of = [&](T v) {
    return std::min<int64_t>(static_cast<int64_t>((static_cast<double>(v) - lo) * scale), kBuckets - 1);
  };
  std::vector<int64_t> counts(kBuckets, 0);
  for (int64_t i = 0; i < n; ++i) ++counts[static_cast<size_t>(bucket_of(values[i]))];
  // Bucket and offset of each rank; the buckets needed get a slot in `gathered`.
  std::vector<int> slot(kBuckets, -1);
  std::vector<std::vector<T>> gathered;
  std::vector<std::pair<int, int64_t>> where;  // (slot, offset in the bucket) per rank
  int64_t bucket = 0, below = 0;               // values in buckets before `bucket`
  for (int64_t rank : ranks) {
    while (below + counts[static_cast<size_t>(bucket)] <= rank)
      below += counts[static_cast<size_t>(bucket++)];
    auto& s = slot[static_cast<size_t>(bucket)];
    if (s < 0) {
      s = static_cast<int>(gathered.size());
      gathered.emplace_back();
      gathered.back().reserve(static_cast<size_t>(counts[static_cast<size_t>(bucket)]));
    }
    where.emplace_back(s, rank - below);
  }
  for (int64_t i = 0; i < n; ++i) {
    const int s = slot[static_cast<size_t>(bucket_of(values[i]))];
    if (s >= 0) gathered[static_cast<size_t>(s)].push_back(values[i]);
  }
  std::vector<double> out;
  for (const auto& [s, offset] : where) {
    auto& part = gathered[static_cast<size_t>(s)];
    std::nth_element(part.begin(), part.begin() + offset, part.end());
    out.push_back(static_cast<double>(part[static_cast<size_t>(offset)]));
  }
  return out;
}

/// Count, mean, unbiased std, the (ascending) percentiles and, for an activation input of `kind`, the
/// saturated fraction of values[0..n). Small arrays are copied into `scratch` and selected in place;
/// large ones are read without copying (select_ranks_bucketed).
template <class T>
ActivationStats describe(const T* values, int64_t n, const std::vector<double>& percentiles,
                         MonitoredKind kind, double threshold, std::vector<T>& scratch) {
  ActivationStats stats;
  stats.count = n;
  stats.percentiles.assign(percentiles.size(), std::numeric_limits<double>::quiet_NaN());
  if (n == 0) return stats;
  // One pass: sums shifted by the first value (so the variance does not cancel when |mean| >> std),
  // range and NaN; saturation in a loop of its own, only for activation inputs.
  const double shift = static_cast<double>(values[0]);
  double sum = 0, squares = 0, lo = shift, hi = shift;
  bool has_nan = false;
  for (int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(values[i]);
    const double d = v - shift;
    sum += d;
    squares += d * d;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    has_nan |= std::isnan(v);
  }
  const double count = static_cast<double>(n);
  stats.mean = shift + sum / count;
  // std::max(variance, 0.0) keeps a NaN variance NaN (and clamps a rounding-negative one to 0).
  if (n > 1) stats.std = std::sqrt(std::max((squares - sum * sum / count) / (count - 1), 0.0));
  stats.saturated = saturated_fraction(values, n, kind, threshold);
  if (has_nan) return stats;  // mean and std are NaN already
  // torch.quantile's ranks: q/100 * (n - 1), between order statistics floor(rank) and floor(rank) + 1.
  std::vector<int64_t> ranks;
  std::vector<double> weights;
  for (double q : percentiles) {
    const double rank = q / 100.0 * (count - 1);
    const auto below = std::min<int64_t>(static_cast<int64_t>(rank), n - 1);
    ranks.push_back(below);
    ranks.push_back(std::min<int64_t>(below + 1, n - 1));
    weights.push_back(rank - static_cast<double>(below));
  }
  std::vector<int64_t> unique_ranks = ranks;  // close percentiles share order statistics
  std::sort(unique_ranks.begin(), unique_ranks.end());
  unique_ranks.erase(std::unique(unique_ranks.begin(), unique_ranks.end()), unique_ranks.end());
  std::vector<double> order;
  if (lo == hi) {
    order.assign(unique_ranks.size(), lo);
  } else if (n < 2048 || !std::isfinite(hi - lo)) {
    scratch.assign(values, values + n);
    order = select_ranks(scratch.data(), n, unique_ranks);
  } else {
    order = select_ranks_bucketed(values, n, lo, hi, unique_ranks);
  }
  auto order_statistic = [&](int64_t rank) {
    return order[static_cast<size_t>(std::lower_bound(unique_ranks.begin(), unique_ranks.end(), rank) -
                                     unique_ranks.begin())];
  };
  for (size_t i = 0; i < percentiles.size(); ++i)
    stats.percentiles[i] = lerp(order_statistic(ranks[2 * i]), order_statistic(ranks[2 * i + 1]), weights[i]);
  return stats;
}

template <class T, class D>
MonitoredKind classify(nn::Module<T, D>& module) {
  if (dynamic_cast<nn::BatchNormInterface<T, D>*>(&module)) return MonitoredKind::batch_norm;
  if (dynamic_cast<nn::Sigmoid<T, D>*>(&module)) return MonitoredKind::sigmoid;
  if (dynamic_cast<nn::Tanh<T, D>*>(&module)) return MonitoredKind::tanh;
  if (dynamic_cast<nn::ReLU<T, D>*>(&module)) return MonitoredKind::relu;
  return MonitoredKind::other;
}

inline std::string format_value(double v) {
  if (std::isnan(v)) return "nan";
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

/// A panel of percentile bands over steps: the outermost pair palest, the middle percentile (or the
/// mean, for an even count) as a line.
inline PlotPanel percentile_panel(const MonitoredSeries& series, const std::vector<double>& percentiles,
                                  const std::string& title, const std::string& color) {
  PlotPanel panel{title, "step", series.module + " " + to_string(series.point), {}, {}};
  std::vector<double> x;
  for (const auto& s : series.history) x.push_back(static_cast<double>(s.step));
  auto column = [&](size_t i) {
    std::vector<double> out;
    for (const auto& s : series.history) out.push_back(s.percentiles[i]);
    return out;
  };
  const size_t m = percentiles.size();
  for (size_t i = 0; i + 1 < m - i; ++i) {
    const double opacity = 0.15 + 0.2 * static_cast<double>(i);
    panel.bands.push_back(
        PlotBand{percentile_name(percentiles[i]) + "-" + percentile_name(percentiles[m - 1 - i]), column(i),
                 column(m - 1 - i), x, color, std::min(opacity, 0.6)});
  }
  if (m % 2 == 1) {
    panel.series.push_back(PlotSeries{percentile_name(percentiles[m / 2]), column(m / 2), x, color, false});
  } else {
    std::vector<double> mean;
    for (const auto& s : series.history) mean.push_back(s.mean);
    panel.series.push_back(PlotSeries{"mean", mean, x, color, false});
  }
  return panel;
}

}  // namespace detail

/// Records activation and gradient statistics of `model` per training step; see the top of this file.
template <class T = float, class D = CPU>
class ActivationMonitor {
 public:
  using ModuleType = nn::Module<T, D>;

  explicit ActivationMonitor(nn::Module<T, D>& model, ActivationMonitorOptions options = {})
      : options_(std::move(options)) {
    auto modules = model.named_modules();
    if (options_.modules().empty()) {
      for (auto& [name, module] : modules) {
        const auto kind = detail::classify(*module);
        if (kind != MonitoredKind::other) add_target(name, *module, kind);
      }
    } else {
      for (const auto& wanted : options_.modules()) {
        auto it =
            std::find_if(modules.begin(), modules.end(), [&](const auto& m) { return m.first == wanted; });
        if (it == modules.end()) {
          std::string known;
          for (const auto& [name, module] : modules)
            if (!name.empty()) known += (known.empty() ? "'" : ", '") + name + "' (" + module->name() + ")";
          throw std::invalid_argument(hnn::detail::concat(
              "ActivationMonitor: the model has no module named '", wanted, "'; its modules are ", known));
        }
        add_target(it->first, *it->second, detail::classify(*it->second));
      }
    }
    for (auto& [module_name, module] : modules)
      for (auto& [name, parameter] : module->named_parameters(/*recurse=*/false)) {
        gradients_.push_back(
            GradientNormSeries{module_name.empty() ? name : hnn::detail::concat(module_name, ".", name),
                               module->name(),
                               {},
                               {}});
        parameters_.push_back(parameter);
      }
    attach();
  }
  ~ActivationMonitor() { remove(); }
  ActivationMonitor(const ActivationMonitor&) = delete;
  ActivationMonitor& operator=(const ActivationMonitor&) = delete;

  /// Ends the current step: records the gradient norms if it was a recorded step, then moves on and
  /// attaches or detaches the hooks for the next one.
  void step() {
    if (removed_) return;
    if (recording() && options_.gradient_norms()) record_gradient_norms();
    ++step_;
    seen_.clear();
    if (recording())
      attach();
    else
      detach();
  }
  /// Detaches every hook for good; what was recorded stays readable.
  void remove() {
    detach();
    removed_ = true;
  }

  /// The step the next forward belongs to (0 before the first step()).
  int64_t current_step() const { return step_; }
  /// Whether the current step is one that gets recorded.
  bool recording() const { return !removed_ && step_ % options_.every() == 0; }
  /// Whether the hooks are on the model now (during recorded steps only).
  bool attached() const { return !handles_.empty(); }
  const ActivationMonitorOptions& options() const { return options_; }

  /// Every monitored (module, point), in named_modules() order, input before output.
  const std::vector<MonitoredSeries>& points() const { return series_; }
  /// One monitored point; std::invalid_argument naming the monitored points when it is not one.
  const MonitoredSeries& point(const std::string& layer, MonitorPoint point) const {
    for (const auto& s : series_)
      if (s.layer == layer && s.point == point) return s;
    std::string known;
    for (const auto& s : series_) known += (known.empty() ? "" : ", ") + s.layer + ":" + to_string(s.point);
    throw std::invalid_argument("ActivationMonitor: '" + layer + "' " + to_string(point) +
                                " is not monitored; monitored points are " +
                                (known.empty() ? "none" : known));
  }
  /// The recorded steps of a point.
  std::vector<int64_t> steps(const std::string& layer, MonitorPoint where) const {
    std::vector<int64_t> out;
    for (const auto& s : point(layer, where).history) out.push_back(s.step);
    return out;
  }
  /// One statistic of a point over its recorded steps: "count", "mean", "std", "saturated" or a
  /// percentile's name ("p50", "p15.87": see stat_names()).
  std::vector<double> series(const std::string& layer, MonitorPoint where, const std::string& stat) const {
    const auto& s = point(layer, where);
    const auto names = stat_names();
    const auto it = std::find(names.begin(), names.end(), stat);
    if (it == names.end()) {
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      throw std::invalid_argument("ActivationMonitor::series: unknown statistic '" + stat +
                                  "'; expected one of " + known);
    }
    const auto index = static_cast<size_t>(it - names.begin());
    std::vector<double> out;
    for (const auto& record : s.history) out.push_back(stat_value(record, index));
    return out;
  }
  /// The statistic names in CSV order: count, mean, std, one per percentile, saturated.
  std::vector<std::string> stat_names() const {
    std::vector<std::string> names{"count", "mean", "std"};
    for (double q : options_.percentiles()) names.push_back(detail::percentile_name(q));
    names.push_back("saturated");
    return names;
  }
  /// Gradient L2 norms per parameter (in named_parameters() order).
  const std::vector<GradientNormSeries>& gradient_norms() const { return gradients_; }

  /// The tidy CSV described at the top of this file.
  std::string csv() const {
    struct Row {
      int64_t step;
      std::string text;
    };
    std::vector<Row> rows;
    const auto names = stat_names();
    for (const auto& s : series_)
      for (const auto& record : s.history)
        for (size_t i = 0; i < names.size(); ++i) {
          if (names[i] == "saturated" && (s.point != MonitorPoint::input || !is_activation(s.kind))) continue;
          rows.push_back({record.step, std::to_string(record.step) + "," + s.layer + "," + s.module + "," +
                                           to_string(s.point) + "," + names[i] + "," +
                                           detail::format_value(stat_value(record, i))});
        }
    for (const auto& g : gradients_)
      for (size_t i = 0; i < g.steps.size(); ++i)
        rows.push_back({g.steps[i], std::to_string(g.steps[i]) + "," + g.parameter + "," + g.module +
                                        ",grad,l2_norm," + detail::format_value(g.l2_norm[i])});
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.step < b.step; });
    std::string out = "step,layer,module,point,stat,value\n";
    for (const auto& r : rows) out += r.text + "\n";
    return out;
  }
  void write_csv(const std::string& path) const {
    hnn::detail::write_file_atomically(path, csv(), "ActivationMonitor::write_csv");
  }

  /// Percentile bands over steps, one panel per monitored point (three to a row), and a panel of the
  /// weight gradients' L2 norms.
  void write_svg(const std::string& path, const std::string& title = "") const {
    std::vector<PlotPanel> panels;
    for (const auto& s : series_)
      panels.push_back(detail::percentile_panel(s, options_.percentiles(),
                                                s.layer + " " + s.module + " " + to_string(s.point),
                                                detail::palette(panels.size())));
    PlotPanel gradients{"gradient L2 norm", "step", "||grad||", {}, {}};
    for (const auto& g : gradients_) {
      if (g.steps.empty() || g.parameter.size() < 6 ||
          g.parameter.compare(g.parameter.size() - 6, 6, "weight") != 0)
        continue;
      std::vector<double> x(g.steps.begin(), g.steps.end());
      gradients.series.push_back(PlotSeries{g.parameter, g.l2_norm, x, "", false});
    }
    if (!gradients.series.empty()) panels.push_back(gradients);
    HNN_CHECK(!panels.empty(),
              "ActivationMonitor::write_svg: nothing is monitored, so there is nothing to draw");
    PlotOptions plot;
    plot.title = title;
    plot.columns = 3;
    hnn::utils::write_svg(path, panels, plot);
  }

 private:
  struct Target {
    ModuleType* module;
    size_t input_series = SIZE_MAX, output_series = SIZE_MAX;  // indices into series_
  };
  // The stats of a tensor already described in this step (a batch norm's output is the next
  // activation's input): the same tensor is described once.
  struct Seen {
    std::weak_ptr<const void> tensor;
    ActivationStats stats;
  };

  void add_target(const std::string& name, ModuleType& module, MonitoredKind kind) {
    Target target{&module};
    target.input_series = series_.size();
    series_.push_back(MonitoredSeries{name, module.name(), kind, MonitorPoint::input, {}});
    if (!is_activation(kind)) {
      target.output_series = series_.size();
      series_.push_back(MonitoredSeries{name, module.name(), kind, MonitorPoint::output, {}});
    }
    targets_.push_back(target);
  }

  void attach() {
    if (!handles_.empty() || removed_) return;
    for (const auto& target : targets_)
      handles_.push_back(target.module->register_forward_hook(
          [this, target](ModuleType& module, const Tensor<T, D>& input, Tensor<T, D>& output) {
            if (!options_.record_eval() && (!module.is_training() || !is_grad_enabled())) return;
            if (target.input_series != SIZE_MAX) record(series_[target.input_series], input);
            if (target.output_series != SIZE_MAX) record(series_[target.output_series], output);
          }));
  }
  void detach() {
    for (auto& handle : handles_) handle.remove();
    handles_.clear();
  }

  void record(MonitoredSeries& series, const Tensor<T, D>& tensor) {
    if (!series.history.empty() && series.history.back().step == step_) return;  // first forward wins
    const std::shared_ptr<const void> identity = tensor.impl_ptr();
    ActivationStats stats;
    bool described = false;
    for (const auto& seen : seen_)
      if (seen.tensor.lock() == identity) {
        stats = seen.stats;
        described = true;
        break;
      }
    // Read CPU tensors in place; others (non-contiguous, or on a device) are copied to the host first.
    const bool direct = std::is_same_v<D, CPU> && tensor.is_contiguous();
    if (!direct) detail::copy_values(tensor, values_);
    const T* data = direct ? tensor.data() : values_.data();
    if (!described) {
      stats = detail::describe(data, tensor.numel(), options_.percentiles(), series.kind,
                               options_.saturation_threshold(), scratch_);
      seen_.push_back(Seen{identity, stats});
    } else if (is_activation(series.kind)) {
      stats.saturated =
          detail::saturated_fraction(data, tensor.numel(), series.kind, options_.saturation_threshold());
    }
    if (series.point != MonitorPoint::input || !is_activation(series.kind))
      stats.saturated = std::numeric_limits<double>::quiet_NaN();
    stats.step = step_;
    series.history.push_back(std::move(stats));
  }

  void record_gradient_norms() {
    for (size_t i = 0; i < parameters_.size(); ++i) {
      const auto grad = parameters_[i].grad();
      if (!grad.defined()) continue;
      detail::copy_values(grad, scratch_);
      double squares = 0;
      for (T g : scratch_) squares += static_cast<double>(g) * static_cast<double>(g);
      gradients_[i].steps.push_back(step_);
      gradients_[i].l2_norm.push_back(std::sqrt(squares));
    }
  }

  double stat_value(const ActivationStats& record, size_t index) const {
    const size_t m = options_.percentiles().size();
    if (index == 0) return static_cast<double>(record.count);
    if (index == 1) return record.mean;
    if (index == 2) return record.std;
    if (index < 3 + m) return record.percentiles[index - 3];
    return record.saturated;
  }

  ActivationMonitorOptions options_;
  std::vector<Target> targets_;
  std::vector<MonitoredSeries> series_;
  std::vector<GradientNormSeries> gradients_;
  std::vector<Tensor<T, D>> parameters_;  // handles (shared storage) for reading .grad()
  std::vector<nn::RemovableHandle> handles_;
  std::vector<Seen> seen_;
  std::vector<T> values_, scratch_;  // a host copy of a tensor not read in place; selection workspace
  int64_t step_ = 0;
  bool removed_ = false;
};

/// With-versus-without figure: for each activation input (matched by order: the i-th activation of
/// `a` against the i-th of `b`), a row of two panels of percentile bands, `a` left, `b` right.
template <class MonitorA, class MonitorB>
void write_comparison_svg(const std::string& path, const MonitorA& a, const std::string& label_a,
                          const MonitorB& b, const std::string& label_b, const std::string& title = "") {
  auto activation_inputs = [](const auto& monitor) {
    std::vector<const MonitoredSeries*> out;
    for (const auto& s : monitor.points())
      if (is_activation(s.kind) && s.point == MonitorPoint::input) out.push_back(&s);
    return out;
  };
  const auto left = activation_inputs(a), right = activation_inputs(b);
  HNN_CHECK(!left.empty() && left.size() == right.size(),
            "write_comparison_svg: expected the same number of "
            "monitored activations on both sides, got ",
            left.size(), " (", label_a, ") and ", right.size(), " (", label_b, ")");
  std::vector<PlotPanel> panels;
  for (size_t i = 0; i < left.size(); ++i) {
    panels.push_back(detail::percentile_panel(
        *left[i], a.options().percentiles(),
        label_a + ": " + left[i]->layer + " " + left[i]->module + " input", detail::palette(0)));
    panels.push_back(detail::percentile_panel(
        *right[i], b.options().percentiles(),
        label_b + ": " + right[i]->layer + " " + right[i]->module + " input", detail::palette(1)));
  }
  PlotOptions plot;
  plot.title = title;
  plot.columns = 2;
  write_svg(path, panels, plot);
}

}  // namespace hnn::utils
