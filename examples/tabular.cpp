// An MLP on tabular data with k-fold cross-validation and early stopping, the recipe of the PyTorch +
// scikit-learn tutorials: regression with MSE, or binary classification with BCE on a sigmoid output, with
// Dropout or BatchNorm1d in the hidden layers, Adam or SGD with momentum. Each fold fits its imputer
// (--impute) and StandardScaler on its training rows only, trains with early stopping on a validation
// slice of them, restores the best weights and scores its held-out rows.
//
// Data, one of:
//   (nothing)                      synthetic y = 0.5x^3 - x^2 + 2x + 1 + noise, so it runs out of the box;
//   --sklearn breast_cancer|diabetes|iris|wine   scikit-learn's bundled files as Debian's python3-sklearn
//                                  ships them (count line, gzip, space-separated, features and targets in
//                                  two files), read from --sklearn-dir;
//   --csv FILE [--targets FILE] [--label COLUMN] with --delimiter (space: blank runs), --skip-rows,
//   --comment, --na-values,
//                                  --one-hot (text columns, pandas.get_dummies) and --impute median.
//
//   tabular --sklearn breast_cancer --norm batchnorm --optimizer sgd --momentum 0.9 --lr 0.01
//   tabular --sklearn diabetes --norm batchnorm --epochs 500 --patience 20
//
// Ends with `test_mse=...` (regression) or `test_acc=...` (classification): the mean over folds.
#include <cmath>

#include "common/trainer.hpp"

namespace nn = hnn::nn;

namespace {

struct Table {
  hnn::Tensor<float> x;  // (n, d), NaN where a cell was missing
  hnn::Tensor<float> y;  // (n)
  std::string description;
  std::string task;  // "regression", "classification" or "" (decide from the labels)
};

Table synthetic(int64_t n, uint64_t seed) {
  hnn::Generator gen(seed);
  auto x = hnn::rand<float>({n, 1}, gen) * 4.0f - 2.0f;
  auto noise = hnn::randn<float>({n, 1}, gen) * 0.3f;
  auto y = x.pow(3.0f) * 0.5f - x.pow(2.0f) + x * 2.0f + 1.0f + noise;
  return {x, y.reshape({n}), "synthetic polynomial regression (" + std::to_string(n) + " samples)", ""};
}

Table from_dataset(const hnn::data::CSVDataset<float, float>& dataset, const std::string& what,
                   std::string task) {
  const auto [x, y] = hnn::data::to_tensors(dataset);
  std::string description = what + " (" + std::to_string(dataset.size()) + " rows, " +
                            std::to_string(dataset.num_features()) + " features";
  if (!dataset.classes().empty()) description += ", " + std::to_string(dataset.classes().size()) + " classes";
  return {x, y, description + ")", std::move(task)};
}

void set_label(hnn::data::CSVOptions& options, const std::string& label) {
  if (label.empty()) return;
  try {
    size_t used = 0;
    const long index = std::stol(label, &used);
    if (used == label.size()) {
      options.label_column(static_cast<int64_t>(index));
      return;
    }
  } catch (const std::invalid_argument&) {
  }
  options.label_column(label);
}

/// scikit-learn's bundled datasets, read as shipped: load_breast_cancer, load_diabetes(scaled=False),
/// load_iris and load_wine read these files the same way.
Table from_sklearn(const std::string& name, const std::filesystem::path& dir) {
  using hnn::data::CSVDataset;
  using hnn::data::CSVOptions;
  const auto in = [&](const char* file) { return (dir / file).string(); };
  if (name == "diabetes")  // space-separated, gzipped, targets in their own file
    return from_dataset(CSVDataset<float, float>(in("diabetes_data_raw.csv.gz"), in("diabetes_target.csv.gz"),
                                                 CSVOptions().delimiter(' ')),
                        "scikit-learn diabetes", "regression");
  const char* file = name == "breast_cancer" ? "breast_cancer.csv"
                     : name == "iris"        ? "iris.csv"
                                             : "wine_data.csv";
  // A count line ("569,30,malignant,benign"), then rows of features and a class index.
  return from_dataset(CSVDataset<float, float>(in(file), CSVOptions().skip_rows(1)), "scikit-learn " + name,
                      "classification");
}

/// The rows `index` of t (torch.index_select along dim 0).
hnn::Tensor<float> rows(const hnn::Tensor<float>& t, const std::vector<int64_t>& index) {
  return t.index_select(0, hnn::tensor<int64_t>(index));
}

/// Hidden layers Linear -> [BatchNorm1d] -> ReLU -> [Dropout(0.2)], then `outputs` (a sigmoid for one
/// binary output). Classification: inputs-60-30-outputs (the Sonar tutorial's); regression: inputs-64-32-1.
nn::Sequential<float> make_model(int64_t inputs, int64_t outputs, bool classification,
                                 const std::string& norm) {
  nn::Sequential<float> model;
  int64_t width = inputs;
  for (const int64_t hidden : classification ? std::vector<int64_t>{60, 30} : std::vector<int64_t>{64, 32}) {
    model.push_back(nn::Linear(width, hidden));
    if (norm == "batchnorm") model.push_back(nn::BatchNorm1d(hidden));
    model.push_back(nn::ReLU());
    if (norm == "dropout") model.push_back(nn::Dropout(0.2));
    width = hidden;
  }
  model.push_back(nn::Linear(width, outputs));
  if (classification && outputs == 1) model.push_back(nn::Sigmoid());
  return model;
}

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{
      "Cross-validated MLP on tabular data (scikit-learn's files, a CSV, or synthetic) with early stopping"};
  examples::CommonOptions o;
  o.epochs = 200;
  o.batch_size = 32;
  o.lr = 1e-3;
  o.data = "";
  std::string csv, targets, label, task = "auto", sklearn, norm = "auto", optimizer_name = "adam", impute;
  std::string sklearn_dir = "/usr/lib/python3/dist-packages/sklearn/datasets/data", na_values;
  std::string delimiter = ",", comment;
  int folds = 5, patience = 10;
  int64_t skip_rows = 0;
  bool one_hot = false;
  double min_delta = 0.0, val_fraction = 0.2, momentum = 0.9;
  int64_t samples = 1000;
  examples::add_common_options(app, o);
  app.add_option("--sklearn", sklearn, "One of scikit-learn's bundled datasets, read from --sklearn-dir")
      ->check(CLI::IsMember({"breast_cancer", "diabetes", "iris", "wine"}));
  app.add_option("--sklearn-dir", sklearn_dir, "Where scikit-learn's data files are")->capture_default_str();
  app.add_option("--csv", csv, "CSV file (feature columns and a label column); none = synthetic data")
      ->check(CLI::ExistingFile);
  app.add_option("--targets", targets, "Targets in their own file (then every --csv column is a feature)")
      ->check(CLI::ExistingFile);
  app.add_option("--label", label,
                 "Label column: name or index (negative counts from the end; default the last)");
  app.add_option("--delimiter", delimiter, "Field separator: a character, 'space' (runs of blanks) or 'tab'")
      ->capture_default_str();
  app.add_option("--skip-rows", skip_rows, "Lines skipped before the table (1 for a count line)")
      ->check(examples::positive_number(/*zero_allowed=*/true));
  app.add_option("--comment", comment, "Text after this character is ignored");
  app.add_option("--na-values", na_values, "Comma-separated cells read as missing, e.g. 'NA,?' (empty: '')");
  app.add_flag("--one-hot", one_hot, "One-hot encode text feature columns (pandas.get_dummies)");
  app.add_option("--impute", impute, "Fill missing feature cells, fitted per fold (SimpleImputer)")
      ->check(CLI::IsMember({"mean", "median", "most_frequent"}));
  app.add_option("--task", task, "What the label is")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "regression", "classification"}));
  app.add_option("--norm", norm, "Hidden-layer regulariser (auto: dropout to classify, none to regress)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "none", "dropout", "batchnorm"}));
  app.add_option("--optimizer", optimizer_name, "Optimiser")
      ->capture_default_str()
      ->check(CLI::IsMember({"adam", "sgd"}));
  app.add_option("--momentum", momentum, "SGD momentum")->capture_default_str();
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
  if (delimiter == "space") delimiter = " ";
  if (delimiter == "tab") delimiter = "\t";
  if (delimiter.size() != 1 || comment.size() > 1)
    throw std::invalid_argument("--delimiter and --comment take one character, got '" + delimiter +
                                "' and '" + comment + "'");

  hnn::set_num_threads(o.threads);
  hnn::manual_seed(o.seed);
  Table table;
  if (!sklearn.empty()) {
    table = from_sklearn(sklearn, sklearn_dir);
  } else if (!csv.empty()) {
    hnn::data::CSVOptions options;
    options.delimiter(delimiter[0]).skip_rows(skip_rows).one_hot(one_hot);
    if (!comment.empty()) options.comment(comment[0]);
    if (app.count("--na-values")) {
      std::vector<std::string> markers;
      for (size_t begin = 0;;) {
        const size_t end = na_values.find(',', begin);
        markers.push_back(
            na_values.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
        if (end == std::string::npos) break;
        begin = end + 1;
      }
      options.na_values(markers);
    }
    set_label(options, label);
    table = targets.empty()
                ? from_dataset(hnn::data::CSVDataset<float, float>(csv, options), csv, "")
                : from_dataset(hnn::data::CSVDataset<float, float>(csv, targets, options), csv, "");
  } else {
    table = synthetic(samples, o.seed + 11);
  }
  if (o.limit_train > 0 && o.limit_train < table.x.size(0)) {
    std::vector<int64_t> first(static_cast<size_t>(o.limit_train));
    std::iota(first.begin(), first.end(), int64_t(0));
    table.x = rows(table.x, first);
    table.y = rows(table.y, first);
  }
  const auto y_values = table.y.to_vector();
  bool classification = task == "classification" || (task == "auto" && table.task == "classification");
  if (task == "auto" && table.task.empty())  // a 0/1 label is a classification target
    classification =
        std::all_of(y_values.begin(), y_values.end(), [](float v) { return v == 0.0f || v == 1.0f; });
  int64_t classes = 0;
  std::vector<int64_t> labels;
  if (classification) {
    for (float v : y_values) {
      if (!(v >= 0 && v == std::floor(v)))
        throw std::invalid_argument("classification needs class indices 0, 1, ... as labels, got " +
                                    std::to_string(v) + " (use --task regression for a numeric target)");
      labels.push_back(static_cast<int64_t>(v));
      classes = std::max<int64_t>(classes, labels.back() + 1);
    }
  }
  const bool binary = classification && classes <= 2;
  if (norm == "auto") norm = classification ? "dropout" : "none";
  bool missing = false;
  for (float v : table.x.to_vector()) missing = missing || std::isnan(v);
  if (missing && impute.empty())
    throw std::invalid_argument(table.description +
                                " has missing feature cells: fill them with --impute median " +
                                "(or mean, most_frequent)");
  const int64_t n = table.x.size(0), d = table.x.size(1);
  std::printf("%s: %s, %s, %s, %d-fold cross-validation\n", table.description.c_str(),
              !classification ? "regression (MSE)"
              : binary        ? "binary classification (BCE)"
                              : (std::to_string(classes) + "-class classification (cross-entropy)").c_str(),
              norm.c_str(), optimizer_name.c_str(), folds);

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
    // Impute and standardise with the fitting rows' statistics only.
    hnn::data::SimpleImputer<float> imputer(impute.empty() ? "mean" : impute);
    hnn::data::StandardScaler<float> scaler;
    const auto x_fit = rows(table.x, fit);
    scaler.fit(missing ? imputer.fit_transform(x_fit) : x_fit);
    auto prepare = [&](const std::vector<int64_t>& idx) {
      const auto x = rows(table.x, idx);
      return scaler.transform(missing ? imputer.transform(x) : x);
    };
    hnn::data::TensorDataset<float, float> fit_set(prepare(fit), rows(table.y, fit).reshape({-1, 1}));
    hnn::data::TensorDataset<float, float> val_set(prepare(val), rows(table.y, val).reshape({-1, 1}));
    hnn::data::TensorDataset<float, float> test_set(prepare(test_index),
                                                    rows(table.y, test_index).reshape({-1, 1}));
    hnn::data::DataLoader fit_loader(
        fit_set, hnn::data::DataLoaderOptions().batch_size(o.batch_size).shuffle(true).seed(o.seed + fold));
    hnn::data::DataLoader val_loader(val_set, hnn::data::DataLoaderOptions().batch_size(1024));
    hnn::data::DataLoader test_loader(test_set, hnn::data::DataLoaderOptions().batch_size(1024));

    auto model = make_model(d, binary || !classification ? 1 : classes, classification, norm);
    hnn::optim::EarlyStopping stopper(patience, min_delta, /*restore_best_weights=*/true);
    nn::MSELoss mse;
    nn::BCELoss bce;
    nn::CrossEntropyLoss cross_entropy;
    auto loss_of = [&](const hnn::Tensor<float>& out, const auto& batch) {
      if (!classification) return mse(out, batch.target);
      if (binary) return bce(out, batch.target);
      return cross_entropy(out, batch.target.reshape({-1}).template cast<int64_t>());
    };
    auto correct_of = [&](const hnn::Tensor<float>& out, const auto& batch) -> int64_t {
      if (!classification) return -1;
      const auto p = out.to_vector(), t = batch.target.to_vector();
      int64_t c = 0;
      if (binary) {
        for (size_t i = 0; i < p.size(); ++i) c += (p[i] >= 0.5f) == (t[i] >= 0.5f);
        return c;
      }
      for (size_t i = 0; i < t.size(); ++i) {
        const auto row = p.begin() + static_cast<std::ptrdiff_t>(i) * classes;
        c += std::max_element(row, row + classes) - row == static_cast<std::ptrdiff_t>(t[i]);
      }
      return c;
    };
    int epochs_run = 0;
    auto train = [&](auto& optimizer) {
      for (int epoch = 1; epoch <= o.epochs; ++epoch) {
        // Names the place in errors; no progress bar (quiet).
        const std::string where = "fold " + std::to_string(fold + 1) + "/" + std::to_string(splits.size()) +
                                  ", epoch " + std::to_string(epoch);
        examples::train_epoch(model, fit_loader, optimizer, loss_of, correct_of, where, /*quiet=*/true);
        const auto val_stats = examples::evaluate(model, val_loader, loss_of, correct_of);
        epochs_run = epoch;
        if (stopper.step(val_stats.loss, model)) break;
      }
    };
    if (optimizer_name == "sgd") {
      hnn::optim::SGD optimizer(model.parameters(), hnn::optim::SGDOptions(o.lr).momentum(momentum));
      train(optimizer);
    } else {
      hnn::optim::Adam optimizer(model.parameters(), hnn::optim::AdamOptions(o.lr));
      train(optimizer);
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
  std::printf("peak_rss_mb=%.1f\n", examples::peak_rss_mb());
  std::printf("test_%s=%.4f\n", classification ? "acc" : "mse", mean);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "tabular: %s\n", e.what());
  return 1;
}
