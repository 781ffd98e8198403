// hnn::data::random_split (sizes, fractions, disjointness, reproducibility) and KFold / StratifiedKFold,
// whose unshuffled folds equal scikit-learn's (fixture tests/references/kfold.json from
// tools/references/kfold.py) and whose shuffled folds are deterministic by seed.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <hnn/data/split.hpp>
#include <hnn/data/tensor_dataset.hpp>
#include <map>
#include <numeric>
#include <set>
#include <vector>

#include "reference.hpp"

using hnn::data::KFold;
using hnn::data::StratifiedKFold;

namespace {

const hnn::test::References& refs() {
  static hnn::test::References r("kfold.json");
  return r;
}

hnn::data::TensorDataset<float, int64_t> numbered(int64_t n) {
  std::vector<int64_t> targets(static_cast<size_t>(n));
  std::iota(targets.begin(), targets.end(), int64_t(0));
  return hnn::data::TensorDataset(hnn::zeros<float>({n, 1}), hnn::tensor<int64_t>(targets, {n}));
}

void check_folds_match(const std::vector<hnn::data::Fold>& folds, const hnn::test::ReferenceCase& c) {
  INFO("case " << c.name() << ": " << c.call());
  REQUIRE(static_cast<int64_t>(folds.size()) == c.param<int64_t>("n_splits"));
  for (size_t k = 0; k < folds.size(); ++k) {
    INFO("fold " << k);
    CHECK(folds[k].train == c.tensor<int64_t>("train" + std::to_string(k)).to_vector());
    CHECK(folds[k].test == c.tensor<int64_t>("test" + std::to_string(k)).to_vector());
  }
}

/// Every position is in exactly one test fold and train = complement of test, both ascending.
void check_partition(const std::vector<hnn::data::Fold>& folds, int64_t n) {
  std::vector<int> in_test(static_cast<size_t>(n), 0);
  for (const auto& fold : folds) {
    CHECK(std::is_sorted(fold.train.begin(), fold.train.end()));
    CHECK(std::is_sorted(fold.test.begin(), fold.test.end()));
    CHECK(static_cast<int64_t>(fold.train.size() + fold.test.size()) == n);
    std::vector<int64_t> all = fold.train;
    all.insert(all.end(), fold.test.begin(), fold.test.end());
    std::sort(all.begin(), all.end());
    for (int64_t i = 0; i < n; ++i) CHECK(all[static_cast<size_t>(i)] == i);
    for (int64_t i : fold.test) ++in_test[static_cast<size_t>(i)];
  }
  CHECK(std::all_of(in_test.begin(), in_test.end(), [](int v) { return v == 1; }));
}

}  // namespace

TEST_CASE("random_split by lengths gives disjoint subsets covering the dataset", "[data][split]") {
  auto dataset = numbered(10);
  hnn::Generator gen(3);
  auto parts = hnn::data::random_split(dataset, {7, 3}, gen);
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].size() == 7);
  CHECK(parts[1].size() == 3);
  std::vector<int64_t> all = parts[0].indices();
  all.insert(all.end(), parts[1].indices().begin(), parts[1].indices().end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> identity(10);
  std::iota(identity.begin(), identity.end(), int64_t(0));
  CHECK(all == identity);
  // Samples come from the dataset at those indices.
  CHECK(parts[1].get(2).target.item() == parts[1].indices()[2]);

  hnn::Generator same(3), other(4);
  CHECK(hnn::data::random_split(dataset, {7, 3}, same)[0].indices() == parts[0].indices());
  CHECK(hnn::data::random_split(dataset, {7, 3}, other)[0].indices() != parts[0].indices());
  CHECK_THROWS_WITH(hnn::data::random_split(dataset, {7, 4}, gen),
                    Catch::Contains("sum of input lengths (11)") && Catch::Contains("(10)"));
  CHECK_THROWS_AS(hnn::data::random_split(dataset, {11, -1}, gen), std::invalid_argument);
}

TEST_CASE("random_split by fractions sizes the parts as PyTorch does", "[data][split]") {
  auto dataset = numbered(10);
  hnn::Generator gen(0);
  // torch.utils.data.random_split(range(10), [0.25, 0.25, 0.5]): floors 2, 2, 5, the leftover 1 to the
  // first part -> lengths 3, 2, 5.
  auto parts = hnn::data::random_split(dataset, {0.25, 0.25, 0.5}, gen);
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].size() == 3);
  CHECK(parts[1].size() == 2);
  CHECK(parts[2].size() == 5);
  // [0.3, 0.3, 0.4] of 11: floors 3, 3, 4, the leftover 1 to the first part.
  auto eleven = numbered(11);
  auto uneven = hnn::data::random_split(eleven, std::vector<double>{0.3, 0.3, 0.4}, gen);
  CHECK(uneven[0].size() == 4);
  CHECK(uneven[1].size() == 3);
  CHECK(uneven[2].size() == 4);
  CHECK_THROWS_WITH(hnn::data::random_split(dataset, {0.5, 0.6}, gen), Catch::Contains("sum to 1"));
  // An rvalue dataset is kept alive by the parts.
  hnn::manual_seed(1);
  auto owned = hnn::data::random_split(numbered(6), {4, 2});
  CHECK(owned[1].get(0).target.item() == owned[1].indices()[0]);
}

TEST_CASE("KFold equals scikit-learn's KFold without shuffle", "[data][split]") {
  const auto names = refs().names("kfold_");
  REQUIRE(names.size() >= 5);
  for (const auto& name : names) {
    const auto c = refs().get(name);
    KFold kfold(c.param<int64_t>("n_splits"));
    const auto folds = kfold.split(c.param<int64_t>("n"));
    check_folds_match(folds, c);
    check_partition(folds, c.param<int64_t>("n"));
  }
}

TEST_CASE("StratifiedKFold equals scikit-learn's StratifiedKFold without shuffle", "[data][split]") {
  const auto names = refs().names("stratified_");
  REQUIRE(names.size() >= 5);
  for (const auto& name : names) {
    const auto c = refs().get(name);
    StratifiedKFold skf(c.param<int64_t>("n_splits"));
    const auto labels = c.tensor<int64_t>("labels");
    const auto folds = skf.split(labels);
    check_folds_match(folds, c);
    check_partition(folds, labels.numel());
  }
}

TEST_CASE("Shuffled KFold and StratifiedKFold are deterministic by seed and keep their guarantees",
          "[data][split]") {
  const int64_t n = 23;
  const auto folds = KFold(4, true, 11).split(n);
  check_partition(folds, n);
  CHECK(KFold(4, true, 11).split(n)[0].test == folds[0].test);
  CHECK(KFold(4, true, 12).split(n)[0].test != folds[0].test);
  CHECK(KFold(4, false).split(n)[0].test != folds[0].test);
  // Fold sizes are those of the unshuffled split: 6, 6, 6, 5.
  for (size_t k = 0; k < folds.size(); ++k) CHECK(folds[k].test.size() == (k < 3 ? 6u : 5u));

  std::vector<int64_t> labels;
  for (int64_t i = 0; i < 30; ++i) labels.push_back(i % 3 == 0 ? 4 : (i % 5 == 0 ? 1 : 2));
  const auto strat = StratifiedKFold(3, true, 5).split(labels);
  check_partition(strat, 30);
  CHECK(StratifiedKFold(3, true, 5).split(labels)[1].test == strat[1].test);
  CHECK(StratifiedKFold(3, true, 6).split(labels)[1].test != strat[1].test);
  // Stratification: per-class counts in each test fold equal the unshuffled ones.
  const auto plain = StratifiedKFold(3, false).split(labels);
  for (size_t k = 0; k < 3; ++k) {
    std::map<int64_t, int> shuffled_counts, plain_counts;
    for (int64_t i : strat[k].test) ++shuffled_counts[labels[static_cast<size_t>(i)]];
    for (int64_t i : plain[k].test) ++plain_counts[labels[static_cast<size_t>(i)]];
    CHECK(shuffled_counts == plain_counts);
  }
}

TEST_CASE("KFold and StratifiedKFold reject impossible splits", "[data][split]") {
  CHECK_THROWS_WITH(KFold(1), Catch::Contains("n_splits=2 or more"));
  CHECK_THROWS_WITH(KFold(5).split(4), Catch::Contains("n_splits=5") && Catch::Contains("n_samples=4"));
  CHECK_THROWS_AS(StratifiedKFold(1), std::invalid_argument);
  CHECK_THROWS_WITH(StratifiedKFold(3).split(std::vector<int64_t>{0, 1}), Catch::Contains("n_samples=2"));
  // sklearn: "n_splits=3 cannot be greater than the number of members in each class."
  CHECK_THROWS_WITH(StratifiedKFold(3).split(std::vector<int64_t>{0, 0, 1, 1, 2, 2}),
                    Catch::Contains("n_splits=3 cannot be greater than the number of members in each class"));
  auto [train, test] = KFold(2).split(4)[1];
  CHECK(train == std::vector<int64_t>{0, 1});
  CHECK(test == std::vector<int64_t>{2, 3});
}

TEST_CASE("to_tensors materialises a subset or a fold as (data, target) tensors", "[data][split]") {
  auto data = hnn::arange<float>(20).reshape({10, 2});
  auto targets = hnn::arange<int64_t>(10);
  hnn::data::TensorDataset<float, int64_t> dataset(data, targets);
  hnn::data::Subset<float, int64_t> subset(dataset, {7, 2, 2, 9});
  const auto all = hnn::data::to_tensors(subset);
  CHECK(all.data.shape() == hnn::Shape{4, 2});
  CHECK(all.data.to_vector() == std::vector<float>{14, 15, 4, 5, 4, 5, 18, 19});
  CHECK(all.target.to_vector() == std::vector<int64_t>{7, 2, 2, 9});
  // The same rows as index_select on the full tensors.
  const auto index = hnn::tensor<int64_t>({7, 2, 2, 9});
  CHECK(all.data.to_vector() == data.index_select(0, index).to_vector());
  // A k-fold's held-out part.
  const auto folds = hnn::data::KFold(5).split(dataset.size());
  hnn::data::Subset<float, int64_t> held_out(dataset, folds[1].test);
  CHECK(hnn::data::to_tensors(held_out).target.to_vector() == std::vector<int64_t>{2, 3});
  hnn::data::Subset<float, int64_t> empty(dataset, {});
  REQUIRE_THROWS_WITH(hnn::data::to_tensors(empty), Catch::Contains("the dataset is empty (0 samples)"));
}
