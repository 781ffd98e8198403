// hnn::data::TensorDataset, Subset and DataLoader: index order without shuffle, every sample exactly once
// per epoch with shuffle, reproducible by seed, a new permutation each epoch, drop_last, early break,
// destruction mid-epoch, exceptions from the prefetch thread, a sampler.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <hnn/data/dataloader.hpp>
#include <hnn/data/tensor_dataset.hpp>
#include <memory>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using hnn::data::DataLoader;
using hnn::data::DataLoaderOptions;
using hnn::data::TensorDataset;

namespace {

/// n samples: data row i is (i, 10 i, 100 i) as float, target i.
TensorDataset<float, int64_t> numbered(int64_t n) {
  std::vector<float> data;
  std::vector<int64_t> targets;
  for (int64_t i = 0; i < n; ++i) {
    data.insert(data.end(), {float(i), float(10 * i), float(100 * i)});
    targets.push_back(i);
  }
  return TensorDataset(hnn::tensor<float>(data, {n, 3}), hnn::tensor<int64_t>(targets, {n}));
}

/// The targets of every batch of one epoch, in order; checks each batch's data rows match its targets.
template <class Loader>
std::vector<std::vector<int64_t>> epoch(const Loader& loader) {
  std::vector<std::vector<int64_t>> batches;
  for (const auto& batch : loader) {
    REQUIRE(batch.data.dim() == 2);
    REQUIRE(batch.data.size(0) == batch.target.size(0));
    std::vector<int64_t> targets = batch.target.to_vector();
    const auto rows = batch.data.to_vector();
    for (size_t b = 0; b < targets.size(); ++b) {
      REQUIRE(rows[3 * b] == float(targets[b]));
      REQUIRE(rows[3 * b + 2] == float(100 * targets[b]));
    }
    batches.push_back(std::move(targets));
  }
  return batches;
}

std::vector<int64_t> concat(const std::vector<std::vector<int64_t>>& batches) {
  std::vector<int64_t> all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  return all;
}

/// Throws from get_batch when the batch contains `bad_index`; counts get_batch calls.
class FailingDataset : public hnn::data::Dataset<float, int64_t> {
 public:
  FailingDataset(int64_t n, int64_t bad_index) : inner_(numbered(n)), bad_index_(bad_index) {}
  int64_t size() const override { return inner_.size(); }
  hnn::data::Example<float, int64_t> get(int64_t index) const override { return inner_.get(index); }
  hnn::data::Example<float, int64_t> get_batch(std::span<const int64_t> indices) const override {
    ++calls;
    for (int64_t i : indices)
      if (i == bad_index_)
        throw std::runtime_error("FailingDataset: cannot read sample " + std::to_string(i));
    return inner_.get_batch(indices);
  }
  mutable std::atomic<int> calls{0};

 private:
  TensorDataset<float, int64_t> inner_;
  int64_t bad_index_;
};

}  // namespace

TEST_CASE("TensorDataset returns rows and checks its inputs", "[data][loader]") {
  auto dataset = numbered(5);
  CHECK(dataset.size() == 5);
  const auto example = dataset.get(3);
  CHECK(example.data.shape() == hnn::Shape{3});
  CHECK(example.data.to_vector() == std::vector<float>{3, 30, 300});
  CHECK(example.target.item() == 3);
  CHECK_THROWS_AS(dataset.get(5), std::invalid_argument);
  CHECK_THROWS_AS(dataset.get(-1), std::invalid_argument);
  const std::vector<int64_t> picks{4, 0, 4};
  const auto batch = dataset.get_batch(picks);
  CHECK(batch.target.to_vector() == picks);
  CHECK(batch.data.shape() == hnn::Shape{3, 3});
  CHECK_THROWS_WITH(TensorDataset(hnn::zeros<float>({4, 2}), hnn::zeros<int64_t>({3})),
                    Catch::Contains("size mismatch") && Catch::Contains("4") && Catch::Contains("3"));
  // The default get_batch (stacking get()) and Dataset::stack agree with the gather.
  const auto stacked =
      hnn::data::Dataset<float, int64_t>::stack({dataset.get(4), dataset.get(0), dataset.get(4)});
  CHECK(stacked.data.to_vector() == batch.data.to_vector());
  CHECK(stacked.target.to_vector() == batch.target.to_vector());
}

TEST_CASE("Subset maps positions and gathers through the underlying dataset", "[data][loader]") {
  auto dataset = numbered(6);
  hnn::data::Subset subset(dataset, {5, 1, 3});
  CHECK(subset.size() == 3);
  CHECK(subset.get(0).target.item() == 5);
  const std::vector<int64_t> picks{2, 0};
  CHECK(subset.get_batch(picks).target.to_vector() == std::vector<int64_t>{3, 5});
  CHECK_THROWS_AS(subset.get(3), std::invalid_argument);
  CHECK_THROWS_AS(hnn::data::Subset(dataset, {0, 6}), std::invalid_argument);
  // An rvalue dataset is owned by the subset.
  hnn::data::Subset owning(numbered(4), {3, 2});
  CHECK(owning.get(1).target.item() == 2);
}

TEST_CASE("An unshuffled DataLoader yields samples in index order", "[data][loader]") {
  auto dataset = numbered(10);
  DataLoader loader(dataset, DataLoaderOptions().batch_size(4));
  CHECK(loader.size() == 3);
  const auto batches = epoch(loader);
  REQUIRE(batches.size() == 3);
  CHECK(batches[0] == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(batches[2] == std::vector<int64_t>{8, 9});
  // PyTorch's default loads on the calling thread; with the prefetch thread the batches are the same, and
  // a second epoch is the same again.
  CHECK(DataLoaderOptions().prefetch() == 0);
  CHECK(loader.options().prefetch() == 0);
  DataLoader ahead(dataset, DataLoaderOptions().batch_size(4).prefetch(1));
  CHECK(epoch(ahead) == batches);
  CHECK(epoch(loader) == batches);
}

TEST_CASE("drop_last drops the short final batch", "[data][loader]") {
  auto dataset = numbered(10);
  DataLoader loader(dataset, DataLoaderOptions().batch_size(4).drop_last(true).shuffle(true).seed(3));
  CHECK(loader.size() == 2);
  for (int e = 0; e < 3; ++e) {
    const auto batches = epoch(loader);
    REQUIRE(batches.size() == 2);
    for (const auto& b : batches) CHECK(b.size() == 4);
    auto all = concat(batches);
    std::sort(all.begin(), all.end());
    CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
  }
  DataLoader exact(dataset, DataLoaderOptions().batch_size(5).drop_last(true));
  CHECK(epoch(exact).size() == 2);
  DataLoader too_big(dataset, DataLoaderOptions().batch_size(11).drop_last(true));
  CHECK(epoch(too_big).empty());
}

TEST_CASE("A shuffled DataLoader covers every sample once per epoch, reproducibly by seed",
          "[data][loader]") {
  auto dataset = numbered(103);
  auto options = DataLoaderOptions().batch_size(16).shuffle(true).seed(42);
  DataLoader a(dataset, options), b(dataset, options);
  DataLoader other_seed(dataset, DataLoaderOptions().batch_size(16).shuffle(true).seed(43));
  std::vector<int64_t> identity(103);
  std::iota(identity.begin(), identity.end(), int64_t(0));

  std::vector<std::vector<int64_t>> orders;
  for (int e = 0; e < 3; ++e) {
    const auto batches = epoch(a);
    CHECK(batches.size() == 7);
    CHECK(batches.back().size() == 103 - 6 * 16);
    auto order = concat(batches);
    auto sorted = order;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == identity);  // every sample exactly once
    CHECK(order != identity);
    CHECK(concat(epoch(b)) == order);  // same seed, same epoch: same order
    orders.push_back(order);
  }
  CHECK(orders[0] != orders[1]);  // a new permutation each epoch
  CHECK(orders[1] != orders[2]);
  CHECK(concat(epoch(other_seed)) != orders[0]);
}

TEST_CASE("Without a seed the loader's order follows hnn::manual_seed", "[data][loader]") {
  auto dataset = numbered(50);
  hnn::manual_seed(7);
  DataLoader a(dataset, DataLoaderOptions().batch_size(8).shuffle(true));
  hnn::manual_seed(7);
  DataLoader b(dataset, DataLoaderOptions().batch_size(8).shuffle(true));
  CHECK(concat(epoch(a)) == concat(epoch(b)));
}

TEST_CASE("Breaking out of the loop early and destroying a loader mid-epoch join cleanly", "[data][loader]") {
  auto dataset = numbered(1000);
  DataLoader loader(dataset, DataLoaderOptions().batch_size(7).shuffle(true).seed(1).prefetch(3));
  for (int e = 0; e < 20; ++e) {
    int seen = 0;
    for (const auto& batch : loader) {
      CHECK(batch.target.size(0) == 7);
      if (++seen == 2) break;
    }
    CHECK(seen == 2);
  }
  // An iterator held past its loop, then the loader and the iterator both go away mid-epoch.
  {
    auto owning =
        std::make_unique<DataLoader<float, int64_t>>(numbered(100), DataLoaderOptions().batch_size(3));
    auto it = owning->begin();
    ++it;
    CHECK(it->target.to_vector() == std::vector<int64_t>{3, 4, 5});
    owning.reset();  // the epoch keeps the dataset alive through the iterator
    ++it;
    CHECK(it->target.to_vector() == std::vector<int64_t>{6, 7, 8});
  }
  // A full epoch still works after all that.
  CHECK(concat(epoch(loader)).size() == 1000);
}

TEST_CASE("An exception on the prefetch thread is rethrown in the caller", "[data][loader]") {
  FailingDataset dataset(20, 13);
  for (int64_t prefetch : {0, 1, 4}) {
    DataLoader loader(dataset, DataLoaderOptions().batch_size(4).prefetch(prefetch));
    std::vector<int64_t> seen;
    auto consume = [&] {
      for (const auto& batch : loader) {
        const auto t = batch.target.to_vector();
        seen.insert(seen.end(), t.begin(), t.end());
      }
    };
    CHECK_THROWS_WITH(consume(), Catch::Contains("cannot read sample 13"));
    // The batches before the failing one arrived, in order.
    CHECK(seen == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  }
  // A failure in the very first batch throws from begin() and still joins the worker.
  FailingDataset first(20, 0);
  DataLoader loader(first, DataLoaderOptions().batch_size(4));
  CHECK_THROWS_WITH(loader.begin(), Catch::Contains("cannot read sample 0"));
}

TEST_CASE("The loader prefetches at most `prefetch` batches ahead", "[data][loader]") {
  FailingDataset dataset(40, -1);
  DataLoader loader(dataset, DataLoaderOptions().batch_size(4).prefetch(2));
  {
    auto it = loader.begin();  // batch 0 in hand, at most 2 more assembled
    for (int spin = 0; spin < 200 && dataset.calls.load() < 3; ++spin)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(dataset.calls.load() <= 3);
  }
}

TEST_CASE("A DataLoader takes its order from a sampler", "[data][loader]") {
  struct Reversed {
    int64_t n;
    std::vector<int64_t> indices() const {
      std::vector<int64_t> order(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = n - 1 - i;
      return order;
    }
  };
  auto dataset = numbered(7);
  DataLoader loader(dataset, DataLoaderOptions().batch_size(3), Reversed{7});
  CHECK(loader.size() == 3);
  CHECK(concat(epoch(loader)) == std::vector<int64_t>{6, 5, 4, 3, 2, 1, 0});
  CHECK_THROWS_WITH(DataLoader(dataset, DataLoaderOptions().shuffle(true), Reversed{7}),
                    Catch::Contains("mutually exclusive"));
  DataLoader out_of_range(dataset, DataLoaderOptions(), Reversed{8});
  CHECK_THROWS_WITH(out_of_range.begin(), Catch::Contains("out of range"));
}

TEST_CASE("DataLoaderOptions reject bad values", "[data][loader]") {
  CHECK_THROWS_WITH(DataLoaderOptions().batch_size(0), Catch::Contains("batch_size"));
  CHECK_THROWS_AS(DataLoaderOptions().prefetch(-1), std::invalid_argument);
  auto empty = numbered(0);
  DataLoader loader(empty, DataLoaderOptions().batch_size(2));
  CHECK(loader.size() == 0);
  CHECK(epoch(loader).empty());
}
