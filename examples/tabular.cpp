// An MLP on tabular data with k-fold cross-validation and early stopping, the seed tutorials' recipe:
// regression with MSE, or binary classification with BCE on a sigmoid output and Dropout (the Sonar seed).
// With no --csv it makes polynomial regression data (y = 0.5x^3 - x^2 + 2x + 1 + noise), so it runs
// out of the box. Features are standardised with each training fold's statistics; each fold trains
// with early stopping on a validation slice of its training part and restores the best weights.
//
//   tabular [--csv FILE --label COLUMN --task regression|classification] [--folds 5] [--epochs 200]
//
// Ends with `test_mse=...` (regression) or `test_acc=...` (classification): the mean over folds.
#include <cmath>

#include "common/trainer.hpp"

namespace nn = hnn::nn;

namespace {

struct Table {
  hnn::Tensor<float> x;  // (n, d)
  hnn::Tensor<float> y;  // (n)
  std::string description;
};

Table synthetic(int64_t n, uint64_t seed) {
  hnn::Generator gen(seed);
  auto x = hnn::rand<float>({n, 1}, gen) * 4.0f - 2.0f;
  auto noise = hnn::randn<float>({n, 1}, gen) * 0.3f;
  auto y = x.pow(3.0f) * 0.5f - x.pow(2.0f) + x * 2.0f + 1.0f + noise;
  return {x, y.reshape({n}), "synthetic polynomial regression (" + std::to_string(n) + " samples)"};
}

Table from_csv(const std::string& path, const std::string& label) {
  hnn::data::CSVOptions options;
  if (!label.empty()) {
    try {
      size_t used = 0;
      const long index = std::stol(label, &used);
      if (used == label.size())
        options.label_column(static_cast<int64_t>(index));
      else
        options.label_column(label);
    } catch (const std::invalid_argument&) {
      options.label_column(label);
    }
  }
  hnn::data::CSVDataset<float, float> dataset(path, options);
  std::vector<int64_t> all(static_cast<size_t>(dataset.size()));
  std::iota(all.begin(), all.end(), int64_t(0));
  auto batch = dataset.get_batch(all);
  return {batch.data, batch.target,
          path + " (" + std::to_string(dataset.size()) + " rows, " + std::to_string(batch.data.size(1)) +
              " features)"};
}

/// The rows `index` of t (torch.index_select along dim 0).
hnn::Tensor<float> rows(const hnn::Tensor<float>& t, const std::vector<int64_t>& index) {
  return t.index_select(0, hnn::tensor<int64_t>(index));
}

nn::Sequential<float> make_model(int64_t inputs, bool classification) {
  if (classification)  // the Sonar seed: 60-60-30-1 with dropout, sigmoid output
    return nn::Sequential<float>{nn::Linear(inputs, 60), nn::ReLU(),   nn::Dropout(0.2),
                                 nn::Linear(60, 30),     nn::ReLU(),   nn::Dropout(0.2),
                                 nn::Linear(30, 1),      nn::Sigmoid()};
  return nn::Sequential<float>{nn::Linear(inputs, 64), nn::ReLU(), nn::Linear(64, 32), nn::ReLU(),
                               nn::Linear(32, 1)};
}

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{"Cross-validated MLP on tabular data (CSV or synthetic) with early stopping"};
  examples::CommonOptions o;
  o.epochs = 200;
  o.batch_size = 32;
  o.lr = 1e-3;
  o.data = "";
  std::string csv, label, task = "auto";
  int folds = 5, patience = 10;
  double min_delta = 0.0, val_fraction = 0.2;
  int64_t samples = 1000;
  examples::add_common_options(app, o);
  app.add_option("--csv", csv, "CSV file (numeric feature columns and a label column); none = synthetic data")
      ->check(CLI::ExistingFile);
  app.add_option("--label", label,
                 "Label column: name or index (negative counts from the end; default the last)");
  app.add_option("--task", task, "What the label is")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "regression", "classification"}));
  app.add_option("--folds", folds, "Folds of cross-validation")
      ->capture_default_str()
      ->check(CLI::Range(2, 50));
  app.add_option("--patience", patience, "Early stopping: epochs without improvement")->capture_default_str();
  app.add_option("--min-delta", min_delta, "Early stopping: smallest improvement that counts")
      ->capture_default_str();
  app.add_option("--val-fraction", val_fraction, "Validation slice of each training fold")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 0.5));
  app.add_option("--samples", samples, "Synthetic data: number of samples")->capture_default_str();
  if (auto status = examples::parse_command_line(app, argc, argv, o, "tabular")) return *status;

  hnn::set_num_threads(o.threads);
  hnn::manual_seed(o.seed);
  Table table = csv.empty() ? synthetic(samples, o.seed + 11) : from_csv(csv, label);
  if (o.limit_train > 0 && o.limit_train < table.x.size(0)) {
    std::vector<int64_t> first(static_cast<size_t>(o.limit_train));
    std::iota(first.begin(), first.end(), int64_t(0));
    table.x = rows(table.x, first);
    table.y = rows(table.y, first);
  }
  bool classification = task == "classification";
  if (task == "auto") {  // a 0/1 label is a classification target
    const auto y = table.y.to_vector();
    classification = std::all_of(y.begin(), y.end(), [](float v) { return v == 0.0f || v == 1.0f; });
  }
  const int64_t n = table.x.size(0), d = table.x.size(1);
  std::printf("%s: %s, %d-fold cross-validation\n", table.description.c_str(),
              classification ? "binary classification (BCE)" : "regression (MSE)", folds);

  std::vector<int64_t> labels;
  for (float v : table.y.to_vector()) labels.push_back(static_cast<int64_t>(v));
  const auto splits = classification ? hnn::data::StratifiedKFold(folds, true, o.seed).split(labels)
                                     : hnn::data::KFold(folds, true, o.seed).split(n);
  std::vector<double> scores;
  for (size_t fold = 0; fold < splits.size(); ++fold) {
    const auto& [train_index, test_index] = splits[fold];
    // Validation: the tail of the (shuffled) training part; the rest trains.
    const auto n_val =
        static_cast<size_t>(std::llround(val_fraction * static_cast<double>(train_index.size())));
    std::vector<int64_t> fit(train_index.begin(), train_index.end() - static_cast<std::ptrdiff_t>(n_val));
    std::vector<int64_t> val(train_index.end() - static_cast<std::ptrdiff_t>(n_val), train_index.end());
    // Standardise with the fitting rows' statistics only.
    auto x_fit = rows(table.x, fit);
    auto mean = x_fit.mean({0}, true), std = x_fit.std({0}, false, true) + 1e-8f;
    auto prepare = [&](const std::vector<int64_t>& idx) { return (rows(table.x, idx) - mean) / std; };
    hnn::data::TensorDataset<float, float> fit_set(prepare(fit), rows(table.y, fit).reshape({-1, 1}));
    hnn::data::TensorDataset<float, float> val_set(prepare(val), rows(table.y, val).reshape({-1, 1}));
    hnn::data::TensorDataset<float, float> test_set(prepare(test_index),
                                                    rows(table.y, test_index).reshape({-1, 1}));
    hnn::data::DataLoader fit_loader(
        fit_set, hnn::data::DataLoaderOptions().batch_size(o.batch_size).shuffle(true).seed(o.seed + fold));
    hnn::data::DataLoader val_loader(val_set, hnn::data::DataLoaderOptions().batch_size(1024));
    hnn::data::DataLoader test_loader(test_set, hnn::data::DataLoaderOptions().batch_size(1024));

    auto model = make_model(d, classification);
    hnn::optim::Adam optimizer(model.parameters(), hnn::optim::AdamOptions(o.lr));
    hnn::optim::EarlyStopping stopper(patience, min_delta, /*restore_best_weights=*/true);
    nn::MSELoss mse;
    nn::BCELoss bce;
    auto loss_of = [&](const hnn::Tensor<float>& out, const auto& batch) {
      return classification ? bce(out, batch.target) : mse(out, batch.target);
    };
    auto correct_of = [&](const hnn::Tensor<float>& out, const auto& batch) -> int64_t {
      if (!classification) return -1;
      const auto p = out.to_vector(), t = batch.target.to_vector();
      int64_t c = 0;
      for (size_t i = 0; i < p.size(); ++i) c += (p[i] >= 0.5f) == (t[i] >= 0.5f);
      return c;
    };
    int epochs_run = 0;
    for (int epoch = 1; epoch <= o.epochs; ++epoch) {
      // Names the place in errors; no progress bar (quiet).
      const std::string label = "fold " + std::to_string(fold + 1) + "/" + std::to_string(splits.size()) +
                                ", epoch " + std::to_string(epoch);
      examples::train_epoch(model, fit_loader, optimizer, loss_of, correct_of, label, /*quiet=*/true);
      const auto val_stats = examples::evaluate(model, val_loader, loss_of, correct_of);
      epochs_run = epoch;
      if (stopper.step(val_stats.loss, model)) break;
    }
    stopper.restore_best(model);
    const auto test = examples::evaluate(model, test_loader, loss_of, correct_of);
    const double score = classification ? test.accuracy : test.loss;
    scores.push_back(score);
    std::printf("fold %zu/%zu  epochs %3d (best val_loss %.4f)  test_%s %.4f\n", fold + 1, splits.size(),
                epochs_run, stopper.best_loss(), classification ? "acc" : "mse", score);
    std::fflush(stdout);
  }
  double mean = 0, var = 0;
  for (double s : scores) mean += s / static_cast<double>(scores.size());
  for (double s : scores) var += (s - mean) * (s - mean) / static_cast<double>(scores.size() - 1);
  std::printf("cross-validated test_%s: %.4f +- %.4f (mean +- std over %zu folds)\n",
              classification ? "acc" : "mse", mean, std::sqrt(var), scores.size());
  std::printf("test_%s=%.4f\n", classification ? "acc" : "mse", mean);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "tabular: %s\n", e.what());
  return 1;
}
