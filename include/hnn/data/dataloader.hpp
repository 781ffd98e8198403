// DataLoader: iterates a dataset in batches (range-for yields Example batches with .data and .target), with
// seeded shuffling (a new permutation at every begin()), drop_last, an optional sampler (anything with
// indices(), e.g. DistributedSampler). Batches are assembled on the calling thread, as PyTorch's default
// (num_workers=0) does; prefetch(k) adds one persistent worker thread that assembles up to k batches ahead.
// Depends on data/dataset.hpp, core/random.hpp and the standard thread library.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
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

/// Options of a DataLoader, with chainable setters (libtorch style). Defaults are PyTorch's (prefetch 0 is
/// its num_workers=0).
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

  /// Batches assembled ahead of the caller by a worker thread (default 0: every batch is assembled on the
  /// calling thread when the loop reaches it, PyTorch's num_workers=0). With k > 0 the loader starts one
  /// worker thread at the first epoch that needs it and keeps it until the loader is destroyed; the worker
  /// holds at most k finished batches beyond the one in hand, and leaves a batch to the calling thread
  /// when the loop comes back for it within about 0.1 ms (a trivial loop body) or when it is late. Worth it
  /// when a step takes much longer than assembling a batch and a processor is free during the step; with
  /// every processor busy (2 OpenMP threads on 2 vCPUs) it measured within noise of 0 (benchmarks/README.md,
  /// "DataLoader"). The batches and their order are the same for every value.
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

namespace detail {

/// Tells the processor the caller is busy-waiting (x86 PAUSE, Arm YIELD).
inline void cpu_relax() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_ia32_pause();
#elif defined(__GNUC__) && (defined(__aarch64__) || defined(__arm__))
  asm volatile("yield");
#endif
}

/// Waits for `ready()` without sleeping: busy for `spin`, then yielding the processor until `yield`
/// has passed (so a thread it waits for that shares its core can run); returns ready(). The loader's
/// threads do this before they block, because waking a blocked thread (a futex round trip, tens of
/// microseconds in a VM) costs more than assembling a small batch.
template <class Ready>
bool spin_until(Ready ready, std::chrono::nanoseconds spin, std::chrono::nanoseconds yield) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    for (int i = 0; i < 32; ++i) {
      if (ready()) return true;
      cpu_relax();
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    if (waited >= yield) return ready();
    if (waited >= spin) std::this_thread::yield();
  }
}

/// One epoch's batches, shared by the thread that iterates (the consumer) and, with prefetch, the loader's
/// worker thread. Batch k is claimed once, in order, by one of the two:
///   - the consumer claims the batch it needs when nobody has and assembles it itself, so it never waits
///     for a batch nobody is working on, and an epoch the worker has left finishes on its own;
///   - the worker claims batches ahead, at most `depth` beyond those the consumer has taken, and leaves
///     batch k (or its exception) in ring slot k % depth. When batches are small (the consumer assembled
///     its first one in less than kSmallBatch), it claims the batch the consumer needs next only when the
///     consumer is still on the batch before after a sleep of kGrace (about 0.1 ms with Linux's timer
///     slack): a consumer that comes back sooner (a trivial loop body) would only wait for a hand-over
///     costing more than the batch.
/// The worker may be descheduled while it holds a claim (a busy machine): the consumer then waits about
/// as long as assembling a batch itself takes, and past that assembles the batch again on its own thread
/// (the worker's copy is dropped; datasets are immutable, so both copies are the same batch).
/// Claims, takes and the stop flag share one atomic word, so the consumer pays one read-modify-write per
/// batch; the consumer never sleeps in take(). The worker sleeps when the ring is full: it sets its
/// "waiting" flag and re-reads the word under the mutex, and the consumer reads the flag after each
/// read-modify-write, so one of the two always sees the other and no wake-up is lost (close() waits for
/// the worker's last batch the same way).
template <class T, class Target>
class EpochBatches {
 public:
  using Batch = Example<T, Target>;

  EpochBatches(std::shared_ptr<const Dataset<T, Target>> dataset, std::vector<int64_t> order,
               int64_t batch_size, bool drop_last, int64_t depth)
      : dataset_(std::move(dataset)),
        order_(std::move(order)),
        batch_size_(batch_size),
        depth_(depth),
        ring_(static_cast<size_t>(depth)) {
    const auto n = static_cast<int64_t>(order_.size());
    num_batches_ = drop_last ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
    HNN_CHECK(num_batches_ <= kMaxBatches, "hnn::data::DataLoader: at most ", kMaxBatches,
              " batches per epoch, got ", num_batches_, " (raise batch_size)");
  }
  EpochBatches(const EpochBatches&) = delete;
  EpochBatches& operator=(const EpochBatches&) = delete;

  int64_t num_batches() const { return num_batches_; }

  // ---- the consumer's side

  /// Batch k, where k batches have been taken before: assembled here when nobody has claimed it, else the
  /// worker's (or assembled here after all, when the worker is late). Rethrows the dataset's exception.
  Batch take(int64_t k) {
    uint64_t state = state_.load();
    while (claimed(state) == k) {
      // Nobody has it: claim and take it at once (the stop flag is kept).
      if (state_.compare_exchange_weak(state, state + kOneClaim + 1)) {
        wake_worker_if_waiting();
        return make_own_batch(k);
      }
    }
    Slot& slot = ring_[static_cast<size_t>(k % depth_)];
    const bool delivered = spin_until([&] { return slot.ready.load() == k + 1; }, kConsumerSpin,
                                      std::max<std::chrono::nanoseconds>(kConsumerWait, own_batch_time()));
    if (!delivered) {
      state_.fetch_add(1);
      wake_worker_if_waiting();
      return make_own_batch(k);
    }
    Batch batch = std::move(slot.batch);
    std::exception_ptr error = std::exchange(slot.error, nullptr);
    state_.fetch_add(1);  // from here on the worker may refill the slot
    wake_worker_if_waiting();
    if (error) std::rethrow_exception(error);
    return batch;
  }

  /// The consumer is gone: no batch is claimed any more, and this returns once the worker has finished the
  /// batch it may be assembling, so the dataset is not read on the epoch's behalf afterwards.
  void close() {
    state_.fetch_or(kStopped);
    wake_worker_if_waiting();
    auto idle = [this] { return assembling_.load() == 0; };
    if (idle() || spin_until(idle, kConsumerSpin, kConsumerWait)) return;
    std::unique_lock<std::mutex> lock(mutex_);
    consumer_waiting_.store(true);
    consumer_cv_.wait(lock, idle);
    consumer_waiting_.store(false);
  }

  // ---- the worker's side

  /// The worker claims no more batches (a newer epoch was started, or the loader is being destroyed); the
  /// consumer finishes the epoch on its own thread. Does not wait.
  void stop() {
    state_.fetch_or(kStopped);
    wake_worker_if_waiting();
  }

  /// Run by the worker: claims and assembles batches in order until none is left to claim, the epoch is
  /// stopped, or one throws. A batch it claims, it always delivers.
  void work() {
    int64_t watched = -1;  // the consumer's next batch when this thread last looked
    for (;;) {
      uint64_t state = state_.load();
      const int64_t claim = claimed(state);
      if ((state & kStopped) || claim >= num_batches_) return;
      if (claim >= taken(state) + depth_) {
        wait_for_room();
        continue;
      }
      if (claim == taken(state) && claim != watched && own_batch_time() < kSmallBatch) {
        // The consumer's next batch, and a small one: take it up only if the consumer is still on the
        // batch before after kGrace. Sleeping, not spinning: a loop of tiny batches (it takes one every
        // microsecond) runs at full speed only with this thread off the processor and off the state
        // word's cache line.
        watched = claim;
        std::this_thread::sleep_for(kGrace);
        continue;
      }
      // Announced before the claim, so that close(), which stops claims first and reads this second, sees
      // every batch the worker is assembling.
      assembling_.store(claim + 1);
      if (!state_.compare_exchange_weak(state, state + kOneClaim)) {
        finish_assembling();
        continue;
      }
      Slot& slot = ring_[static_cast<size_t>(claim % depth_)];
      bool failed = false;
      try {
        slot.batch = make_batch(claim);
        slot.error = nullptr;
      } catch (...) {
        slot.batch = Batch();
        slot.error = std::current_exception();
        failed = true;
      }
      slot.ready.store(claim + 1);
      finish_assembling();
      if (failed) return;
    }
  }

 private:
  // The state word: bit 63 stopped, bits 32-62 batches claimed (by either side), bits 0-31 batches the
  // consumer has taken. Claims are made in order, so the next batch to claim is the number claimed.
  static constexpr uint64_t kStopped = uint64_t(1) << 63;
  static constexpr uint64_t kOneClaim = uint64_t(1) << 32;
  static constexpr int64_t kMaxBatches = (int64_t(1) << 31) - 1;
  static int64_t claimed(uint64_t state) { return static_cast<int64_t>((state & ~kStopped) >> 32); }
  static int64_t taken(uint64_t state) { return static_cast<int64_t>(state & 0xffffffffu); }

  // How long the worker sleeps before it looks again whether the consumer is still on the same batch, for
  // batches the consumer assembles in less than kSmallBatch (larger ones it takes up at once: handing one
  // over costs a few microseconds).
  static constexpr std::chrono::microseconds kGrace{20}, kSmallBatch{20};
  // Waits: busy for the first, then yielding until the second. The consumer waits for the worker's batch
  // at most kConsumerWait or the time its own first batch took, whichever is longer; the worker waits for
  // room for as long as a training step lasts, so it soon sleeps.
  static constexpr std::chrono::microseconds kConsumerSpin{5}, kConsumerWait{50};
  static constexpr std::chrono::microseconds kWorkerSpin{2}, kWorkerYield{10};

  struct Slot {
    Batch batch;
    std::exception_ptr error;
    std::atomic<int64_t> ready{0};  // k + 1 once batch k (or its exception) is in the slot
  };

  Batch make_batch(int64_t k) const {
    const int64_t begin = k * batch_size_;
    const int64_t end = std::min<int64_t>(begin + batch_size_, static_cast<int64_t>(order_.size()));
    return dataset_->get_batch(
        std::span<const int64_t>(order_.data() + begin, static_cast<size_t>(end - begin)));
  }

  void wait_for_room() {
    auto room = [this] {
      const uint64_t state = state_.load();
      return (state & kStopped) || claimed(state) < taken(state) + depth_;
    };
    if (spin_until(room, kWorkerSpin, kWorkerYield)) return;
    std::unique_lock<std::mutex> lock(mutex_);
    worker_waiting_.store(true);
    worker_cv_.wait(lock, room);
    worker_waiting_.store(false);
  }

  Batch make_own_batch(int64_t k) {
    if (own_batch_ns_.load(std::memory_order_relaxed) > 0) return make_batch(k);
    const auto start = std::chrono::steady_clock::now();
    Batch batch = make_batch(k);
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start);
    own_batch_ns_.store(std::max<int64_t>(1, ns.count()), std::memory_order_relaxed);
    return batch;
  }

  std::chrono::nanoseconds own_batch_time() const {
    return std::chrono::nanoseconds(own_batch_ns_.load(std::memory_order_relaxed));
  }

  void finish_assembling() {
    assembling_.store(0);
    if (!consumer_waiting_.load()) return;
    std::lock_guard<std::mutex> lock(mutex_);
    consumer_cv_.notify_all();
  }

  void wake_worker_if_waiting() {
    if (!worker_waiting_.load()) return;
    std::lock_guard<std::mutex> lock(mutex_);
    worker_cv_.notify_one();
  }

  std::shared_ptr<const Dataset<T, Target>> dataset_;
  std::vector<int64_t> order_;
  int64_t batch_size_ = 1;
  int64_t num_batches_ = 0;
  int64_t depth_ = 0;
  std::vector<Slot> ring_;  // depth_ slots; none without prefetch

  std::atomic<uint64_t> state_{0};
  std::atomic<int64_t> own_batch_ns_{0};       // how long the consumer's first batch of its own took
  std::atomic<int64_t> assembling_{0};         // k + 1 while the worker may be assembling batch k
  std::atomic<bool> consumer_waiting_{false};  // in close()
  std::atomic<bool> worker_waiting_{false};
  std::mutex mutex_;
  std::condition_variable consumer_cv_, worker_cv_;
};

/// The loader's prefetch worker: one thread, started by the first submit() and joined by the destructor,
/// that serves one epoch at a time. submit() queues a new epoch and stops the one in progress (an older
/// iterator still alive finishes its epoch on its own thread). A copy starts its own thread when it first
/// needs one; a move takes the thread along.
/// Between epochs the thread sleeps on the condition variable.
template <class T, class Target>
class PrefetchWorker {
 public:
  using Batches = EpochBatches<T, Target>;

  PrefetchWorker() = default;
  PrefetchWorker(const PrefetchWorker&) noexcept {}
  PrefetchWorker& operator=(const PrefetchWorker&) noexcept { return *this; }
  PrefetchWorker(PrefetchWorker&& other) noexcept
      : state_(std::move(other.state_)), thread_(std::move(other.thread_)) {}
  PrefetchWorker& operator=(PrefetchWorker&& other) noexcept {
    if (this != &other) {
      shut_down();
      state_ = std::move(other.state_);
      thread_ = std::move(other.thread_);
    }
    return *this;
  }
  ~PrefetchWorker() { shut_down(); }

  void submit(const std::shared_ptr<Batches>& epoch) {
    if (!state_) {
      auto state = std::make_unique<State>();
      thread_ = std::thread([s = state.get()] { run(*s); });
      state_ = std::move(state);
    }
    std::shared_ptr<Batches> retired;  // freed here, after the unlock
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      if (state_->current) state_->current->stop();
      if (state_->pending) state_->pending->stop();
      state_->pending = epoch;
      retired = std::move(state_->retired);
    }
    state_->cv.notify_one();
  }

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    std::shared_ptr<Batches> pending, current, retired;  // under mutex; current: the last epoch taken up
    bool shutdown = false;                               // under mutex
  };

  static void run(State& s) {
    for (;;) {
      Batches* epoch = nullptr;
      {
        std::unique_lock<std::mutex> lock(s.mutex);
        s.cv.wait(lock, [&] { return s.pending || s.shutdown; });
        if (s.shutdown) return;
        // `current` keeps the epoch alive while this thread works on it; the epoch before goes to `retired`,
        // for the next submit() to free on the thread that allocated it (a free from this thread would
        // take the allocator's lock of that thread's arena, every epoch).
        s.retired = std::move(s.current);
        s.current = std::move(s.pending);
        epoch = s.current.get();
      }
      epoch->work();
    }
  }

  void shut_down() {
    if (!state_) return;
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->shutdown = true;
      if (state_->current) state_->current->stop();
      if (state_->pending) state_->pending->stop();
      state_->pending.reset();
    }
    state_->cv.notify_all();
    thread_.join();
    state_.reset();
  }

  std::unique_ptr<State> state_;
  std::thread thread_;
};

}  // namespace detail

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
  /// Starts an epoch: draws the sample order (a fresh permutation when shuffling) and, with prefetch, hands
  /// it to the loader's worker thread (started here the first time). Leaving the loop early stops the
  /// worker's work on that epoch (the iterator's destruction waits for the batch it may be assembling);
  /// the worker itself waits for the next epoch. Calling begin() while an earlier epoch is still being
  /// iterated is allowed: the worker moves to the new epoch and the earlier one assembles its remaining
  /// batches on the thread that iterates it (same batches, same order). An iterator may outlive its
  /// loader: the loader's destructor joins the worker, and the epoch finishes on the calling thread.
  iterator begin() const {
    auto order = epoch_order();
    // A worker only where it can run ahead: two batches or more; a ring no longer than the epoch.
    const int64_t count = batch_count(static_cast<int64_t>(order.size()));
    const int64_t depth = count > 1 ? std::min(options_.prefetch(), count) : 0;
    auto batches = std::make_shared<Batches>(dataset_, std::move(order), options_.batch_size(),
                                             options_.drop_last(), depth);
    return iterator(std::make_shared<Epoch>(std::move(batches), depth > 0 ? &worker_ : nullptr));
  }
  iterator end() const { return iterator(); }

 private:
  using Batches = detail::EpochBatches<T, Target>;

  // One pass over the data as an iterator sees it: the batch in hand and the epoch's batches (assembled
  // here, or by the worker ahead of the loop).
  class Epoch {
   public:
    Epoch(std::shared_ptr<Batches> batches, detail::PrefetchWorker<T, Target>* worker)
        : batches_(std::move(batches)) {
      if (worker) worker->submit(batches_);
      try {
        advance();
      } catch (...) {
        // The destructor does not run for a throwing constructor: let the worker go here.
        batches_->close();
        throw;
      }
    }
    ~Epoch() { batches_->close(); }
    Epoch(const Epoch&) = delete;
    Epoch& operator=(const Epoch&) = delete;

    bool done() const { return done_; }
    const Batch& current() const { return current_; }

    void advance() {
      if (next_ >= batches_->num_batches()) {
        done_ = true;
        current_ = Batch();
        return;
      }
      try {
        current_ = batches_->take(next_++);
      } catch (...) {
        done_ = true;
        throw;
      }
    }

   private:
    std::shared_ptr<Batches> batches_;
    int64_t next_ = 0;
    bool done_ = false;
    Batch current_;
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
  // Started by the first begin() that prefetches; a copied loader starts its own.
  mutable detail::PrefetchWorker<T, Target> worker_;
};

template <detail::AnyDataset DS>
DataLoader(DS&&, DataLoaderOptions = DataLoaderOptions())
    -> DataLoader<typename std::decay_t<DS>::data_type, typename std::decay_t<DS>::target_type>;

template <detail::AnyDataset DS, class Sampler>
DataLoader(DS&&, DataLoaderOptions, Sampler&&)
    -> DataLoader<typename std::decay_t<DS>::data_type, typename std::decay_t<DS>::target_type>;

}  // namespace hnn::data
