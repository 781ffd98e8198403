// What the example trainers (lenet, mlp, tabular) share: the common command-line flags, a train-one-epoch
// and an evaluate loop with a progress bar and per-epoch timing, the per-run outputs (metrics CSV, SVG
// curves, best checkpoint) and the closing summary lines. Depends on <hnn/hnn.hpp> and CLI11.
#pragma once

#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <hnn/hnn.hpp>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace examples {

/// Flags every trainer has; each trainer fills in its own defaults before parsing.
struct CommonOptions {
  int epochs = 10;
  int64_t batch_size = 256;
  double lr = 0.1;
  uint64_t seed = 0;
  std::string data = "/usr/share/datasets/fashion-mnist";
  int threads = 2;
  int64_t limit_train = 0;  // 0 = the whole set; the test suite trains on 512 samples
  int64_t limit_test = 0;
  std::string out =
      "";  // folder for metrics.csv, curves.svg and the best model and checkpoint; "" = <name>-run
  bool quiet = false;  // no progress bar (the per-epoch lines stay)
  bool no_checkpoint = false;
  bool monitor = false;        // --monitor: activation statistics (activations.csv, activations.svg) in --out
  int64_t monitor_every = 10;  // ... recorded every this many steps
  bool detect_anomaly = false;  // hnn::autograd anomaly mode: a NaN/Inf in backward names the op that made it
  bool distributed = false;     // data-parallel over MPI; also on when started by mpirun with several ranks
  bool no_sync_bn = false;      // distributed: per-rank batch statistics instead of SyncBatchNorm
};

/// CLI11's PositiveNumber / NonNegativeNumber with a message that reads "--epochs: must be positive, got -3"
/// rather than a range up to 1.8e308; text that is not a number is left to the conversion's own error.
inline CLI::Validator positive_number(bool zero_allowed = false) {
  return CLI::Validator(
      [zero_allowed](std::string& text) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0') return "";
        if (value > 0 || (zero_allowed && value == 0)) return "";
        return std::string(zero_allowed ? "must be >= 0" : "must be positive") + ", got " + text;
      },
      zero_allowed ? "NONNEGATIVE" : "POSITIVE");
}

inline void add_common_options(CLI::App& app, CommonOptions& o) {
  app.add_option("--epochs", o.epochs, "Training epochs")->capture_default_str()->check(positive_number());
  app.add_option("--batch-size", o.batch_size, "Samples per training batch")
      ->capture_default_str()
      ->check(positive_number());
  app.add_option("--lr", o.lr, "Learning rate")->capture_default_str()->check(positive_number());
  app.add_option("--seed", o.seed, "Seed of hnn's default generator (initialisation, shuffling, dropout)")
      ->capture_default_str();
  app.add_option("--data", o.data, "Folder with the data set's files")->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads (OpenMP)")
      ->capture_default_str()
      ->check(positive_number());
  app.add_option("--limit-train", o.limit_train, "Train on the first N samples only (0 = all)")
      ->capture_default_str()
      ->check(positive_number(/*zero_allowed=*/true));
  app.add_option("--limit-test", o.limit_test, "Evaluate on the first N test samples only (0 = all)")
      ->capture_default_str()
      ->check(positive_number(/*zero_allowed=*/true));
  app.add_option("--out", o.out,
                 "Output folder for metrics.csv, curves.svg, best_model.pt and best_checkpoint.safetensors");
  app.add_flag("--quiet", o.quiet, "No progress bar");
  app.add_flag("--no-checkpoint", o.no_checkpoint, "Do not save the best model and checkpoint");
  app.add_flag("--detect-anomaly", o.detect_anomaly,
               "Check every gradient for NaN/Inf and name the op that produced it (slow; for debugging)");
}

/// --monitor and --monitor-every (the trainers that record activation statistics: lenet, mlp).
inline void add_monitor_options(CLI::App& app, CommonOptions& o) {
  app.add_flag("--monitor", o.monitor,
               "Record activation statistics (hnn::utils::ActivationMonitor: batch-norm inputs and outputs, "
               "activation inputs, gradient norms) to activations.csv and activations.svg in --out");
  app.add_option("--monitor-every", o.monitor_every, "With --monitor: record every N training steps")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
}

/// --distributed and --no-sync-bn (the trainers that run data-parallel under mpirun: lenet, mlp).
inline void add_distributed_options(CLI::App& app, CommonOptions& o) {
  app.add_flag(
      "--distributed", o.distributed,
      "Train data-parallel over MPI (automatic when started by mpirun with several ranks): --batch-size "
      "is the global batch, split evenly over the ranks; rank 0 prints and writes the files");
  app.add_flag(
      "--no-sync-bn", o.no_sync_bn,
      "Distributed: normalise with each rank's own batch statistics (PyTorch DDP's default) instead of "
      "SyncBatchNorm's global ones");
}

/// Parses the command line like CLI11_PARSE, except that bad usage (an unknown flag, a value a check
/// rejects such as --epochs -3, a --data folder that does not exist) prints one line "<program>: <what>" on
/// stderr and gives exit status 2, the command-line convention; --help prints the help and gives 0. Returns
/// the status when main should stop, nothing when it should go on. Also switches on --detect-anomaly.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, const CommonOptions& o,
                                             const char* program) {
  std::string problem;
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    problem = e.what();
  }
  if (problem.empty() && !o.data.empty() && !std::filesystem::is_directory(o.data))
    problem = "--data: no such folder '" + o.data + "'";
  if (problem.empty()) {
    hnn::autograd::AnomalyMode::set_enabled(o.detect_anomaly);
    return std::nullopt;
  }
  std::replace(problem.begin(), problem.end(), '\n', ' ');
  std::fprintf(stderr, "%s: %s (see %s --help)\n", program, problem.c_str(), program);
  return 2;
}

/// The first `limit` samples of `dataset` (all of them when limit is 0 or too large).
template <class DS>
auto first_samples(DS& dataset, int64_t limit) {
  const int64_t n = limit > 0 ? std::min<int64_t>(limit, dataset.size()) : dataset.size();
  std::vector<int64_t> indices(static_cast<size_t>(n));
  std::iota(indices.begin(), indices.end(), int64_t(0));
  return hnn::data::Subset(dataset, std::move(indices));
}

inline double peak_rss_mb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

struct EpochStats {
  double loss = 0;      // mean over batches of the batch loss
  double accuracy = 0;  // NaN for regression
  double seconds = 0;   // wall time of the loop (prefetching loader included)
  int64_t samples = 0;
};

/// One epoch of training: zero_grad, forward, loss, backward, step for every batch. `loss_of(output,
/// batch)` returns the loss tensor; `correct_of(output, batch)` the number of correct predictions (or
/// -1 when accuracy does not apply).
template <class Model, class Loader, class Optimizer, class LossOf, class CorrectOf>
EpochStats train_epoch(Model& model, Loader& loader, Optimizer& optimizer, LossOf loss_of,
                       CorrectOf correct_of, const std::string& label, bool quiet,
                       const std::function<void()>& after_step = {}) {
  model.train();
  hnn::utils::ProgressBar bar(loader.size(), label, !quiet && !label.empty());
  EpochStats stats;
  double loss_sum = 0;
  int64_t batches = 0, correct = 0;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& batch : loader) {
    optimizer.zero_grad();
    auto output = model(batch.data);
    auto loss = loss_of(output, batch);
    const double value = static_cast<double>(loss.item());
    // Stop before a NaN/Inf loss reaches the weights, rather than training on garbage.
    if (!std::isfinite(value))
      throw std::runtime_error((label.empty() ? std::string("training") : label) + ", batch " +
                               std::to_string(batches + 1) + " of " + std::to_string(loader.size()) +
                               ": the loss is " + (std::isnan(value) ? "nan" : "inf") +
                               "; stopped training (lower --lr, or rerun with --detect-anomaly to find "
                               "the op that produced it)");
    loss.backward();
    optimizer.step();
    if (after_step) after_step();  // e.g. ActivationMonitor::step()
    loss_sum += value;
    ++batches;
    stats.samples += batch.data.size(0);
    const int64_t c = correct_of(output, batch);
    correct = c < 0 || correct < 0 ? -1 : correct + c;
    bar.set_postfix("loss", loss_sum / static_cast<double>(batches));
    bar.update(1);
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  bar.close();
  stats.loss = batches ? loss_sum / static_cast<double>(batches) : 0.0;
  stats.accuracy = correct < 0 || stats.samples == 0
                       ? std::nan("")
                       : static_cast<double>(correct) / static_cast<double>(stats.samples);
  return stats;
}

/// Loss and accuracy over a loader in eval mode, under InferenceMode (no graph, no autograd bookkeeping).
template <class Model, class Loader, class LossOf, class CorrectOf>
EpochStats evaluate(Model& model, Loader& loader, LossOf loss_of, CorrectOf correct_of) {
  model.eval();
  hnn::InferenceMode inference;
  EpochStats stats;
  double loss_sum = 0;
  int64_t correct = 0;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& batch : loader) {
    auto output = model(batch.data);
    const int64_t n = batch.data.size(0);
    loss_sum += static_cast<double>(loss_of(output, batch).item()) * static_cast<double>(n);
    const int64_t c = correct_of(output, batch);
    correct = c < 0 || correct < 0 ? -1 : correct + c;
    stats.samples += n;
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stats.loss = stats.samples ? loss_sum / static_cast<double>(stats.samples) : 0.0;
  stats.accuracy = correct < 0 || stats.samples == 0
                       ? std::nan("")
                       : static_cast<double>(correct) / static_cast<double>(stats.samples);
  return stats;
}

/// Correct class predictions of logits (B, K) against class-index targets (B).
template <class Batch, class Out>
int64_t count_correct(const Out& logits, const Batch& batch) {
  const auto predicted = logits.argmax(1).to_vector();
  const auto target = batch.target.to_vector();
  int64_t correct = 0;
  for (size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == target[i];
  return correct;
}

/// One-hot float targets (B, K) from class indices (B), as the seed MLP feeds CrossEntropyLoss.
template <class T = float>
hnn::Tensor<T> one_hot(const hnn::Tensor<int64_t>& labels, int64_t classes) {
  auto out = hnn::zeros<T>({labels.size(0), classes});
  const auto values = labels.to_vector();
  T* p = out.data();
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < 0 || values[i] >= classes)
      throw std::invalid_argument("one_hot: label " + std::to_string(values[i]) + " at position " +
                                  std::to_string(i) + " is outside [0, " + std::to_string(classes) + ")");
    p[static_cast<int64_t>(i) * classes + values[i]] = T(1);
  }
  return out;
}

/// The output folder of a run (created), `default_name` when --out was not given.
inline std::filesystem::path output_dir(const CommonOptions& o, const std::string& default_name) {
  std::filesystem::path dir =
      o.out.empty() ? std::filesystem::path(default_name) : std::filesystem::path(o.out);
  std::filesystem::create_directories(dir);
  return dir;
}

/// With --monitor, an ActivationMonitor on `model` recording every --monitor-every steps; else null.
template <class T, class D>
std::unique_ptr<hnn::utils::ActivationMonitor<T, D>> make_monitor(hnn::nn::Module<T, D>& model,
                                                                  const CommonOptions& o) {
  if (!o.monitor) return nullptr;
  return std::make_unique<hnn::utils::ActivationMonitor<T, D>>(
      model, hnn::utils::ActivationMonitorOptions().every(o.monitor_every));
}

/// Writes the monitor's activations.csv and activations.svg to `dir` (nothing without a monitor).
template <class Monitor>
void write_activations(const Monitor* monitor, const std::filesystem::path& dir, const std::string& title) {
  if (!monitor) return;
  monitor->write_csv((dir / "activations.csv").string());
  monitor->write_svg((dir / "activations.svg").string(), title);
  std::printf("wrote %s and %s\n", (dir / "activations.csv").c_str(), (dir / "activations.svg").c_str());
}

/// Per-run outputs: metrics.csv (one row per epoch), curves.svg (loss and accuracy curves) and the best
/// checkpoint (model + optimiser + metadata, by evaluation accuracy or, with best_by_loss, by loss).
class RunRecorder {
 public:
  RunRecorder(std::filesystem::path dir, bool checkpoint, bool best_by_loss = false,
              std::string eval_name = "test")
      : dir_(std::move(dir)),
        checkpoint_(checkpoint),
        best_by_loss_(best_by_loss),
        eval_name_(std::move(eval_name)),
        logger_((dir_ / "metrics.csv").string(), {"epoch", "train_loss", "train_acc", eval_name_ + "_loss",
                                                  eval_name_ + "_acc", "lr", "seconds"}) {}

  template <class Model, class Optimizer>
  void record(int epoch, const EpochStats& train, const EpochStats& eval, double lr, const Model& model,
              const Optimizer& optimizer) {
    logger_.log(std::vector<double>{static_cast<double>(epoch), train.loss, train.accuracy, eval.loss,
                                    eval.accuracy, lr, train.seconds});
    epochs_.push_back(epoch);
    train_loss_.push_back(train.loss);
    eval_loss_.push_back(eval.loss);
    train_acc_.push_back(train.accuracy);
    eval_acc_.push_back(eval.accuracy);
    info_.lr_history.push_back(lr);
    const double score = best_by_loss_ ? eval.loss : -eval.accuracy;
    if (checkpoint_ && score < best_score_) {
      best_score_ = score;
      info_.epoch = epoch;
      info_.best_loss = eval.loss;
      info_.extra["best_" + eval_name_ + "_acc"] = eval.accuracy;
      // The checkpoint (model, optimiser, metadata) resumes training with hnn::load_checkpoint; the plain
      // model file is the state dict alone, which hnn::load and PyTorch's torch.load(weights_only=True) read.
      hnn::save_checkpoint((dir_ / "best_checkpoint.safetensors").string(), model, optimizer, info_);
      hnn::save(model, (dir_ / "best_model.pt").string());
    }
  }

  const std::filesystem::path& dir() const { return dir_; }

  /// Draws the curves and says where everything went.
  void finish(const std::string& title) {
    using hnn::utils::PlotPanel;
    using hnn::utils::PlotSeries;
    PlotPanel loss{title + ": loss", "epoch", "loss", {}, {}};
    loss.series.push_back(PlotSeries{"train", train_loss_, epochs_, "", false});
    loss.series.push_back(PlotSeries{eval_name_, eval_loss_, epochs_, "", true});
    PlotPanel acc{title + ": accuracy", "epoch", "accuracy", {}, {}};
    acc.series.push_back(PlotSeries{"train", train_acc_, epochs_, "", false});
    acc.series.push_back(PlotSeries{eval_name_, eval_acc_, epochs_, "", true});
    hnn::utils::write_svg((dir_ / "curves.svg").string(), {loss, acc});
    std::printf("wrote %s, %s", (dir_ / "metrics.csv").c_str(), (dir_ / "curves.svg").c_str());
    if (checkpoint_ && info_.epoch > 0)
      std::printf(", %s and %s (epoch %lld)", (dir_ / "best_model.pt").c_str(),
                  (dir_ / "best_checkpoint.safetensors").c_str(), static_cast<long long>(info_.epoch));
    std::printf("\n");
  }

 private:
  std::filesystem::path dir_;
  bool checkpoint_, best_by_loss_;
  std::string eval_name_;
  hnn::utils::MetricsLogger logger_;
  hnn::CheckpointInfo info_;
  double best_score_ = std::numeric_limits<double>::infinity();
  std::vector<double> epochs_, train_loss_, eval_loss_, train_acc_, eval_acc_;
};

/// The closing lines every trainer prints: the speed summary scripts/compare_trainers.sh reads, then
/// `test_acc=0.XXXX` as the very last line.
inline void print_summary(const std::vector<double>& samples_per_s, double test_acc) {
  std::printf("median_samples_per_s=%.0f peak_rss_mb=%.1f test_acc=%.4f\n", median(samples_per_s),
              peak_rss_mb(), test_acc);
  std::printf("test_acc=%.4f\n", test_acc);
  std::fflush(stdout);
}

}  // namespace examples
