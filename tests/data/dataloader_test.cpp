// hnn::data::TensorDataset, Subset and DataLoader: index order without shuffle, every sample exactly once
// per epoch with shuffle, reproducible by seed, a new permutation each epoch, drop_last, early break,
// destruction mid-epoch, exceptions from the prefetch worker, a sampler; batches on the calling thread by
// default, and with prefetch the same batches from one worker thread kept across epochs, two live epochs,
// copies and moves of a prefetching loader, a late worker.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <hnn/data/dataloader.hpp>
#include <hnn/data/tensor_dataset.hpp>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
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

/// numbered(n), recording the thread of every get_batch call.
class ThreadRecordingDataset : public hnn::data::Dataset<float, int64_t> {
 public:
  explicit ThreadRecordingDataset(int64_t n) : inner_(numbered(n)) {}
  int64_t size() const override { return inner_.size(); }
  hnn::data::Example<float, int64_t> get(int64_t index) const override { return inner_.get(index); }
  hnn::data::Example<float, int64_t> get_batch(std::span<const int64_t> indices) const override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      threads_.push_back(std::this_thread::get_id());
    }
    return inner_.get_batch(indices);
  }
  /// The threads seen since the last call, other than `caller`.
  std::set<std::thread::id> others_since(std::thread::id caller) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::set<std::thread::id> others;
    for (auto id : threads_)
      if (id != caller) others.insert(id);
    threads_.clear();
    return others;
  }

 private:
  TensorDataset<float, int64_t> inner_;
  mutable std::mutex mutex_;
  mutable std::vector<std::thread::id> threads_;
};

/// One epoch's targets, sleeping `pause` in the loop body of every batch (a slow training step, so that
/// the prefetch worker runs ahead).
template <class Loader>
std::vector<std::vector<int64_t>> slow_epoch(const Loader& loader, std::chrono::microseconds pause) {
  std::vector<std::vector<int64_t>> batches;
  for (const auto& batch : loader) {
    batches.push_back(batch.target.to_vector());
    std::this_thread::sleep_for(pause);
  }
  return batches;
}

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
  for (int64_t prefetch : {0, 1, 4}) {
    auto owning = std::make_unique<DataLoader<float, int64_t>>(
        numbered(100), DataLoaderOptions().batch_size(3).prefetch(prefetch));
    auto it = owning->begin();
    ++it;
    CHECK(it->target.to_vector() == std::vector<int64_t>{3, 4, 5});
    owning.reset();  // the epoch keeps the dataset alive through the iterator; the worker is joined
    ++it;
    CHECK(it->target.to_vector() == std::vector<int64_t>{6, 7, 8});
    // The rest of the epoch comes from the calling thread, in order.
    int64_t expected = 9, batches = 0;
    for (++it; it != DataLoader<float, int64_t>::iterator(); ++it, ++batches) {
      for (int64_t t : it->target.to_vector()) CHECK(t == expected++);
    }
    CHECK(expected == 100);
    CHECK(batches == 31);
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
  // After the exception, the next epoch starts again (and fails again at the same batch).
  DataLoader again(dataset, DataLoaderOptions().batch_size(4).prefetch(2));
  for (int e = 0; e < 3; ++e) {
    int64_t batches = 0;
    auto consume = [&] {
      for (const auto& batch : again) batches += batch.target.size(0) > 0;
    };
    CHECK_THROWS_WITH(consume(), Catch::Contains("cannot read sample 13"));
    CHECK(batches == 3);
  }
  // A failure in the very first batch throws from begin(), with or without the worker.
  FailingDataset first(20, 0);
  for (int64_t prefetch : {0, 2}) {
    DataLoader loader(first, DataLoaderOptions().batch_size(4).prefetch(prefetch));
    CHECK_THROWS_WITH(loader.begin(), Catch::Contains("cannot read sample 0"));
    CHECK_THROWS_WITH(loader.begin(), Catch::Contains("cannot read sample 0"));
  }
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

namespace {
/// A sampler that yields n - 1, ..., 0.
struct Reversed {
  int64_t n;
  std::vector<int64_t> indices() const {
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = n - 1 - i;
    return order;
  }
};
}  // namespace

TEST_CASE("A DataLoader takes its order from a sampler", "[data][loader]") {
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

TEST_CASE("By default the loader assembles batches on the calling thread, as PyTorch's num_workers=0",
          "[data][loader]") {
  CHECK(DataLoaderOptions().prefetch() == 0);
  ThreadRecordingDataset dataset(50);
  DataLoader loader(dataset, DataLoaderOptions().batch_size(4).shuffle(true).seed(5));
  CHECK(loader.options().prefetch() == 0);
  const auto caller = std::this_thread::get_id();
  for (int e = 0; e < 2; ++e) {
    CHECK(concat(slow_epoch(loader, std::chrono::microseconds(200))).size() == 50);
    CHECK(dataset.others_since(caller).empty());
  }
}

TEST_CASE("prefetch(k) yields exactly the batches of prefetch(0), epoch after epoch", "[data][loader]") {
  auto dataset = numbered(450);
  for (bool drop_last : {false, true}) {
    const auto options = DataLoaderOptions().batch_size(16).shuffle(true).drop_last(drop_last).seed(11);
    DataLoader inline_loader(dataset, DataLoaderOptions(options).prefetch(0));
    DataLoader one(dataset, DataLoaderOptions(options).prefetch(1));
    DataLoader two(dataset, DataLoaderOptions(options).prefetch(2));
    DataLoader many(dataset, DataLoaderOptions(options).prefetch(100));
    for (int e = 0; e < 6; ++e) {
      const auto reference = epoch(inline_loader);
      CHECK(reference.size() == (drop_last ? 28u : 29u));
      // A fast consumer (the calling thread assembles some batches itself) and a slow one (the worker
      // runs ahead): the same batches either way.
      const auto pause = std::chrono::microseconds(e % 2 ? 300 : 0);
      CHECK(slow_epoch(one, pause) == reference);
      CHECK(slow_epoch(two, pause) == reference);
      CHECK(slow_epoch(many, pause) == reference);
    }
  }
  // Through a sampler, too.
  DataLoader sampled(dataset, DataLoaderOptions().batch_size(7).prefetch(3), Reversed{450});
  auto all = concat(slow_epoch(sampled, std::chrono::microseconds(100)));
  CHECK(all.size() == 450);
  CHECK(all.front() == 449);
  CHECK(std::is_sorted(all.rbegin(), all.rend()));
}

TEST_CASE("The prefetch worker is one thread, kept from epoch to epoch", "[data][loader]") {
  ThreadRecordingDataset dataset(200);
  DataLoader loader(dataset, DataLoaderOptions().batch_size(10).shuffle(true).seed(2).prefetch(2));
  const auto caller = std::this_thread::get_id();
  // The worker runs only when the processor lets it, so on a loaded machine an epoch may pass without
  // it: run epochs (with a slow loop body, so it has time to work ahead) until it has served three.
  std::set<std::thread::id> workers;
  int served = 0;
  for (int e = 0; e < 100 && served < 3; ++e) {
    CHECK(concat(slow_epoch(loader, std::chrono::milliseconds(1))).size() == 200);
    const auto others = dataset.others_since(caller);
    CHECK(others.size() <= 1);  // the worker and nobody else
    served += others.empty() ? 0 : 1;
    workers.insert(others.begin(), others.end());
    // An early break between epochs does not end the worker either.
    if (e == 1)
      for (const auto& batch : loader) {
        (void)batch;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        break;
      }
  }
  CHECK(served == 3);
  CHECK(workers.size() == 1);  // the same thread in every epoch
  // A copy runs its own worker.
  DataLoader copy = loader;
  std::set<std::thread::id> copy_workers;
  for (int e = 0; e < 100 && copy_workers.empty(); ++e) {
    CHECK(concat(slow_epoch(copy, std::chrono::milliseconds(1))).size() == 200);
    copy_workers = dataset.others_since(caller);
  }
  REQUIRE(copy_workers.size() == 1);
  CHECK(*copy_workers.begin() != *workers.begin());
}

TEST_CASE("A late prefetch worker does not hold the loop up: the loop assembles that batch itself",
          "[data][loader]") {
  // get_batch takes 20 ms off the calling thread: the worker is always late.
  class SlowElsewhere : public hnn::data::Dataset<float, int64_t> {
   public:
    explicit SlowElsewhere(int64_t n) : inner_(numbered(n)), owner_(std::this_thread::get_id()) {}
    int64_t size() const override { return inner_.size(); }
    hnn::data::Example<float, int64_t> get(int64_t index) const override { return inner_.get(index); }
    hnn::data::Example<float, int64_t> get_batch(std::span<const int64_t> indices) const override {
      ++calls;
      if (std::this_thread::get_id() != owner_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return inner_.get_batch(indices);
    }
    mutable std::atomic<int> calls{0};

   private:
    TensorDataset<float, int64_t> inner_;
    std::thread::id owner_;
  };
  SlowElsewhere dataset(64);
  DataLoader loader(dataset, DataLoaderOptions().batch_size(8).shuffle(true).seed(6).prefetch(1));
  DataLoader reference(numbered(64), DataLoaderOptions().batch_size(8).shuffle(true).seed(6));
  bool assembled_twice = false;
  for (int e = 0; e < 20 && !assembled_twice; ++e) {
    const int before = dataset.calls.load();
    // A loop body of 1 ms: the worker takes the next batch up, and is still at it when the loop wants it.
    CHECK(slow_epoch(loader, std::chrono::milliseconds(1)) == epoch(reference));
    assembled_twice = dataset.calls.load() - before > 8;
  }
  CHECK(assembled_twice);
}

TEST_CASE("Leaving a prefetching epoch early stops its production before the loop is left",
          "[data][loader]") {
  FailingDataset dataset(400, -1);
  DataLoader loader(dataset, DataLoaderOptions().batch_size(4).shuffle(true).seed(9).prefetch(3));
  DataLoader reference(dataset, DataLoaderOptions().batch_size(4).shuffle(true).seed(9));
  for (int e = 0; e < 10; ++e) {
    int seen = 0;
    for (const auto& batch : loader) {
      CHECK(batch.target.size(0) == 4);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (++seen == 3) break;
    }
    // The worker has left the epoch: no get_batch runs after the loop.
    const int calls = dataset.calls.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(dataset.calls.load() == calls);
    (void)epoch(reference);  // keep the two loaders' generators in step
  }
  // Destroying an iterator that was never advanced, and one right after begin(), is clean too.
  { auto it = loader.begin(); }
  (void)loader.begin();
  (void)epoch(reference);
  (void)epoch(reference);
  // And the next full epoch is the reference's.
  CHECK(epoch(loader) == epoch(reference));
}

TEST_CASE("begin() while an earlier epoch is still iterated: both epochs stay whole", "[data][loader]") {
  auto dataset = numbered(300);
  const auto options = DataLoaderOptions().batch_size(8).shuffle(true).seed(21);
  for (int64_t prefetch : {1, 3}) {
    DataLoader loader(dataset, DataLoaderOptions(options).prefetch(prefetch));
    DataLoader reference(dataset, options);
    auto r1 = reference.begin();
    auto r2 = reference.begin();
    auto r3 = reference.begin();
    const DataLoader<float, int64_t>::iterator end;
    auto a = loader.begin();
    ++a;
    ++r1;
    auto b = loader.begin();  // the worker moves to b; a finishes on this thread
    std::vector<int64_t> got_a, want_a, got_b, want_b, got_c, want_c;
    int step = 0;
    std::optional<DataLoader<float, int64_t>::iterator> c;
    while (a != end || b != end || !c || *c != end) {
      if (step == 7) c = loader.begin();  // a third epoch while the first two are live
      if (a != end) {
        REQUIRE(r1 != end);
        auto t = a->target.to_vector(), u = r1->target.to_vector();
        got_a.insert(got_a.end(), t.begin(), t.end());
        want_a.insert(want_a.end(), u.begin(), u.end());
        ++a;
        ++r1;
      }
      if (b != end && step % 2 == 0) {
        REQUIRE(r2 != end);
        auto t = b->target.to_vector(), u = r2->target.to_vector();
        got_b.insert(got_b.end(), t.begin(), t.end());
        want_b.insert(want_b.end(), u.begin(), u.end());
        ++b;
        ++r2;
      }
      if (c && *c != end) {
        REQUIRE(r3 != end);
        auto t = (*c)->target.to_vector(), u = r3->target.to_vector();
        got_c.insert(got_c.end(), t.begin(), t.end());
        want_c.insert(want_c.end(), u.begin(), u.end());
        ++*c;
        ++r3;
      }
      ++step;
    }
    CHECK(r1 == end);
    CHECK(r2 == end);
    CHECK(r3 == end);
    CHECK(got_a == want_a);
    CHECK(got_b == want_b);
    CHECK(got_c == want_c);
    CHECK(got_c.size() == 300);
    // The loader goes on normally afterwards.
    CHECK(epoch(loader) == epoch(reference));
  }
}

TEST_CASE("A prefetching loader can be copied, moved and destroyed at any point", "[data][loader]") {
  auto dataset = numbered(120);
  const auto options = DataLoaderOptions().batch_size(5).shuffle(true).seed(4).prefetch(2);
  DataLoader reference(dataset, DataLoaderOptions(options).prefetch(0));
  auto original = std::make_unique<DataLoader<float, int64_t>>(dataset, options);
  CHECK(epoch(*original) == epoch(reference));  // the worker is running now
  // A copy has the same generator state, so the same next epochs, and its own worker.
  DataLoader<float, int64_t> copy = *original;
  const auto next = epoch(reference);
  CHECK(epoch(copy) == next);
  CHECK(epoch(*original) == next);
  // A move takes the worker along; the moved-from loader is destroyed while the new one is mid-epoch.
  DataLoader<float, int64_t> moved = std::move(*original);
  auto it = moved.begin();
  auto ref = reference.begin();
  original.reset();
  std::vector<int64_t> got, want;
  for (const DataLoader<float, int64_t>::iterator end; it != end; ++it, ++ref) {
    auto t = it->target.to_vector(), u = ref->target.to_vector();
    got.insert(got.end(), t.begin(), t.end());
    want.insert(want.end(), u.begin(), u.end());
  }
  CHECK(got == want);
  // Assignments: the target keeps (or starts) a worker of its own.
  copy = moved;
  CHECK(epoch(copy) == epoch(moved));
  moved = std::move(copy);
  CHECK(concat(epoch(moved)).size() == 120);
}

TEST_CASE("Many short prefetching epochs with random early exits stay in step with prefetch(0)",
          "[data][loader]") {
  auto dataset = numbered(64);
  const auto options = DataLoaderOptions().batch_size(2).shuffle(true).seed(8);
  DataLoader loader(dataset, DataLoaderOptions(options).prefetch(1));
  DataLoader reference(dataset, options);
  hnn::Generator gen(3);
  for (int e = 0; e < 300; ++e) {
    const auto stop_after = static_cast<int64_t>(gen.random_below(40));  // 32 and more: the whole epoch
    std::vector<int64_t> got, want;
    auto r = reference.begin();
    int64_t seen = 0;
    for (const auto& batch : loader) {
      if (seen++ == stop_after) break;
      auto t = batch.target.to_vector(), u = r->target.to_vector();
      got.insert(got.end(), t.begin(), t.end());
      want.insert(want.end(), u.begin(), u.end());
      ++r;
    }
    REQUIRE(got == want);
  }
}
