// DataLoader: iterates a dataset in batches (range-for yields Example batches with .data and .target),
// with seeded shuffling (a new permutation at every begin()), drop_last and an optional sampler (anything
// with indices(), e.g. DistributedSampler). Batches are assembled on the calling thread, as PyTorch's
// default (num_workers=0) does; prefetch(k) assembles them ahead on a background thread while the caller
// computes. Depends on data/dataset.hpp, core/random.hpp and the standard thread library.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <span>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "hnn/core/random.hpp"
#include "hnn/data/dataset.hpp"

namespace hnn::data {

/// Options of a DataLoader, with chainable setters (libtorch style). Defaults are PyTorch's.
class DataLoaderOptions {
 public:
  DataLoaderOptions() = default;
  explicit DataLoaderOptions(int64_t batch_size) { this->batch_size(batch_size); }

  /// Samples per batch (default 1).
  DataLoaderOptions& batch_size(int64_t value) {
    HNN_CHECK(value > 0,
              "hnn::data::DataLoaderOptions: batch_size should be a positive integer value, but got ",
              "batch_size=", value);
    batch_size_ = value;
    return *this;
  }
  int64_t batch_size() const { return batch_size_; }

  /// Draw a new random permutation of the samples at every epoch (default false: index order).
  DataLoaderOptions& shuffle(bool value) {
    shuffle_ = value;
    return *this;
  }
  bool shuffle() const { return shuffle_; }

  /// Drop the last batch when it is smaller than batch_size (default false).
  DataLoaderOptions& drop_last(bool value) {
    drop_last_ = value;
    return *this;
  }
  bool drop_last() const { return drop_last_; }

  /// Seed of the loader's own generator; unset, the seed is drawn from the default generator when the
  /// loader is built (so hnn::manual_seed makes the run reproducible, as torch.manual_seed does).
  DataLoaderOptions& seed(uint64_t value) {
    seed_ = value;
    return *this;
  }
  std::optional<uint64_t> seed() const { return seed_; }

  /// Batches assembled ahead of the caller on a background thread (started at each begin()). Default 0:
  /// each batch is assembled on the calling thread when the loop reaches it, PyTorch's default
  /// (num_workers=0); a thread per epoch and a hand-over per batch made small tabular epochs 2-3x slower.
  /// Worth it when a step takes far longer than gathering its batch and a processor is free meanwhile.
  /// The batches and their order are the same either way.
  DataLoaderOptions& prefetch(int64_t batches) {
    HNN_CHECK(batches >= 0, "hnn::data::DataLoaderOptions: prefetch must be >= 0, got ", batches);
    prefetch_ = batches;
    return *this;
  }
  int64_t prefetch() const { return prefetch_; }

 private:
  int64_t batch_size_ = 1;
  bool shuffle_ = false;
  bool drop_last_ = false;
  std::optional<uint64_t> seed_;
  int64_t prefetch_ = 0;
};

template <class T = float, class Target = int64_t>
class DataLoader {
 public:
  using Batch = Example<T, Target>;

  /// Holds `dataset` by reference when it is an lvalue (keep it alive) and takes it over when it is an
  /// rvalue.
  /// (Constrained to datasets, so it never hides DataLoader's own copy and move constructors.)
  template <class DS>
  requires std::is_base_of_v<Dataset<T, Target>, std::decay_t<DS>>
  // NOLINTNEXTLINE(bugprone-forwarding-reference-overload): the requires-clause excludes DataLoader
  explicit DataLoader(DS&& dataset, DataLoaderOptions options = DataLoaderOptions())
      : dataset_(detail::hold_dataset(std::forward<DS>(dataset))),
        options_(options),
        generator_(initial_seed(options)) {}

  /// Takes the sample order of every epoch from `sampler.indices()` (called at each begin(); a sampler
  /// such as DistributedSampler changes it with set_epoch). An lvalue sampler is referenced, so later
  /// set_epoch calls are seen; an rvalue one is kept. Shuffling is the sampler's job: shuffle must be off.
  template <class DS, class Sampler>
  requires std::is_base_of_v<Dataset<T, Target>, std::decay_t<DS>> &&
      requires(const std::decay_t<Sampler>& s) {
    { s.indices() } -> std::convertible_to<std::vector<int64_t>>;
  }
  DataLoader(DS&& dataset, DataLoaderOptions options, Sampler&& sampler)
      : DataLoader(std::forward<DS>(dataset), options) {
    HNN_CHECK(!options.shuffle(), "hnn::data::DataLoader: sampler option is mutually exclusive with shuffle");
    if constexpr (std::is_lvalue_reference_v<Sampler>) {
      const auto* s = &sampler;
      sampler_ = [s] { return std::vector<int64_t>(s->indices()); };
    } else {
      auto s = std::make_shared<const std::decay_t<Sampler>>(std::forward<Sampler>(sampler));
      sampler_ = [s] { return std::vector<int64_t>(s->indices()); };
    }
  }

  /// Batches per epoch: ceil(n / batch_size), or floor with drop_last (len(DataLoader) in PyTorch).
  int64_t size() const {
    return batch_count(sampler_ ? static_cast<int64_t>(sampler_().size()) : dataset_->size());
  }
  const Dataset<T, Target>& dataset() const { return *dataset_; }
  const DataLoaderOptions& options() const { return options_; }

  class iterator;
  /// Starts an epoch: draws the sample order (a fresh permutation when shuffling) and, with prefetch,
  /// starts the thread that assembles batches ahead. Leaving the loop early stops that thread.
  iterator begin() const { return iterator(std::make_shared<Epoch>(dataset_, epoch_order(), options_)); }
  iterator end() const { return iterator(); }

 private:
  // One pass over the data: the sample order, the batch in hand and, with prefetch, the producer thread
  // with its queue of finished batches (or the exception that stopped it).
  class Epoch {
   public:
    Epoch(std::shared_ptr<const Dataset<T, Target>> dataset, std::vector<int64_t> order,
          const DataLoaderOptions& options)
        : dataset_(std::move(dataset)), order_(std::move(order)), batch_size_(options.batch_size()) {
      const auto n = static_cast<int64_t>(order_.size());
      num_batches_ = options.drop_last() ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
      depth_ = options.prefetch();
      if (depth_ > 0 && num_batches_ > 1) worker_ = std::thread([this] { produce(); });
      try {
        advance();
      } catch (...) {
        // The destructor does not run for a throwing constructor: stop the worker here, or the
        // joinable std::thread would terminate the program.
        stop_worker();
        throw;
      }
    }
    ~Epoch() { stop_worker(); }
    Epoch(const Epoch&) = delete;
    Epoch& operator=(const Epoch&) = delete;

    bool done() const { return done_; }
    const Batch& current() const { return current_; }

    void advance() {
      if (next_ >= num_batches_) {
        done_ = true;
        current_ = Batch();
        return;
      }
      if (!worker_.joinable()) {
        current_ = make_batch(next_++);
        return;
      }
      Slot slot;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return !queue_.empty(); });
        slot = std::move(queue_.front());
        queue_.pop_front();
      }
      cv_.notify_all();
      ++next_;
      if (slot.error) {
        done_ = true;
        std::rethrow_exception(slot.error);
      }
      current_ = std::move(slot.batch);
    }

   private:
    void stop_worker() {
      if (!worker_.joinable()) return;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
      }
      cv_.notify_all();
      worker_.join();
    }

    struct Slot {
      Batch batch;
      std::exception_ptr error;
    };

    Batch make_batch(int64_t k) const {
      const int64_t begin = k * batch_size_;
      const int64_t end = std::min<int64_t>(begin + batch_size_, static_cast<int64_t>(order_.size()));
      return dataset_->get_batch(
          std::span<const int64_t>(order_.data() + begin, static_cast<size_t>(end - begin)));
    }

    // Producer: batches in order 0, 1, ..., at most depth_ of them waiting, so memory stays bounded and
    // the sequence is exactly what the synchronous path yields.
    void produce() {
      for (int64_t k = 0; k < num_batches_; ++k) {
        {
          std::unique_lock<std::mutex> lock(mutex_);
          cv_.wait(lock, [this] { return stop_ || static_cast<int64_t>(queue_.size()) < depth_; });
          if (stop_) return;
        }
        Slot slot;
        try {
          slot.batch = make_batch(k);
        } catch (...) {
          slot.error = std::current_exception();
        }
        bool failed = slot.error != nullptr;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          queue_.push_back(std::move(slot));
        }
        cv_.notify_all();
        if (failed) return;
      }
    }

    std::shared_ptr<const Dataset<T, Target>> dataset_;
    std::vector<int64_t> order_;
    int64_t batch_size_ = 1;
    int64_t num_batches_ = 0;
    int64_t depth_ = 0;
    int64_t next_ = 0;
    bool done_ = false;
    Batch current_;

    std::thread worker_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<Slot> queue_;
    bool stop_ = false;
  };

 public:
  /// An input iterator over one epoch; copies share the epoch.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = const Batch*;
    using reference = const Batch&;

    iterator() = default;
    reference operator*() const { return epoch_->current(); }
    pointer operator->() const { return &epoch_->current(); }
    iterator& operator++() {
      epoch_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    /// Only "finished or not" is compared: enough for range-for against end().
    friend bool operator==(const iterator& a, const iterator& b) { return a.finished() == b.finished(); }

   private:
    friend class DataLoader;
    explicit iterator(std::shared_ptr<Epoch> epoch) : epoch_(std::move(epoch)) {}
    bool finished() const { return !epoch_ || epoch_->done(); }
    std::shared_ptr<Epoch> epoch_;
  };

 private:
  static uint64_t initial_seed(const DataLoaderOptions& options) {
    return options.seed() ? *options.seed() : default_generator().next_u64();
  }

  int64_t batch_count(int64_t n) const {
    const int64_t b = options_.batch_size();
    return options_.drop_last() ? n / b : (n + b - 1) / b;
  }

  std::vector<int64_t> epoch_order() const {
    const int64_t n = dataset_->size();
    std::vector<int64_t> order;
    if (sampler_) {
      order = sampler_();
      for (size_t i = 0; i < order.size(); ++i)
        HNN_CHECK(order[i] >= 0 && order[i] < n, "hnn::data::DataLoader: the sampler's index ", order[i],
                  " (position ", i, ") is out of range for a dataset of ", n, " samples");
      return order;
    }
    order.resize(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), int64_t(0));
    if (options_.shuffle()) {
      // Fisher-Yates with the loader's generator: epoch k's order depends only on the seed and k.
      for (int64_t i = n - 1; i > 0; --i)
        std::swap(order[static_cast<size_t>(i)],
                  order[static_cast<size_t>(generator_.random_below(static_cast<uint64_t>(i + 1)))]);
    }
    return order;
  }

  std::shared_ptr<const Dataset<T, Target>> dataset_;
  DataLoaderOptions options_;
  mutable Generator generator_;
  std::function<std::vector<int64_t>()> sampler_;
};

template <detail::AnyDataset DS>
DataLoader(DS&&, DataLoaderOptions = DataLoaderOptions())
    -> DataLoader<typename std::decay_t<DS>::data_type, typename std::decay_t<DS>::target_type>;

template <detail::AnyDataset DS, class Sampler>
DataLoader(DS&&, DataLoaderOptions, Sampler&&)
    -> DataLoader<typename std::decay_t<DS>::data_type, typename std::decay_t<DS>::target_type>;

}  // namespace hnn::data
