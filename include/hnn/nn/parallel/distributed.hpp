// DistributedDataParallel: data-parallel training of one module over MPI ranks, PyTorch's reducer in
// small: rank 0's parameters and buffers broadcast at construction, gradients averaged during backward
// in ~25 MB flat buckets whose all-reduces overlap the rest of backward, buffers re-broadcast before each
// training forward, and no_sync() for gradient accumulation.
// Depends on nn/module.hpp, distributed/process_group.hpp, autograd/engine.hpp (needs HNN_WITH_MPI).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "hnn/autograd/engine.hpp"
#include "hnn/distributed/process_group.hpp"
#include "hnn/nn/module.hpp"

namespace hnn::nn::parallel {

/// Options of DistributedDataParallel (PyTorch's keyword arguments of the same names).
struct DistributedDataParallelOptions {
  /// Bucket size in MiB: gradients are all-reduced in flat buffers of about this size.
  double bucket_cap_mb = 25.0;
  /// Re-broadcast rank 0's buffers (running statistics) before every training forward.
  bool broadcast_buffers = true;
};

namespace detail {

/*
 * The reducer. Parameters are cut into buckets in reverse registration order (backward produces the
 * last layers' gradients first), each a flat buffer of at most bucket_cap_mb. A post-accumulate hook on
 * every parameter copies its fresh gradient into its bucket; when a bucket holds all its gradients it
 * is handed to MPI_Iallreduce, strictly in bucket order so every rank issues the same collectives in
 * the same sequence whatever order its hooks fire in. Each hook also calls MPI_Testall on the buckets
 * in flight, which is what drives Open MPI's progress engine while the rest of backward computes. The
 * first hook of a pass queues a callback on the autograd engine; it runs when backward's last node is
 * done, launches any bucket still incomplete (a parameter without a gradient contributes zeros), waits
 * for all of them and writes grad = sum / world_size back into every parameter's grad, before
 * backward() returns.
 */
template <class T, class D>
class Reducer {
 public:
  Reducer(std::vector<Tensor<T, D>> params, double bucket_cap_mb) : params_(std::move(params)) {
    const auto cap = static_cast<int64_t>(bucket_cap_mb * 1024.0 * 1024.0 / static_cast<double>(sizeof(T)));
    slot_.resize(params_.size());
    for (size_t k = params_.size(); k-- > 0;) {
      const int64_t n = params_[k].numel();
      if (buckets_.empty() || (buckets_.back().size > 0 && buckets_.back().size + n > cap))
        buckets_.emplace_back();
      Bucket& b = buckets_.back();
      slot_[k] = {buckets_.size() - 1, b.size};
      b.params.push_back(k);
      b.size += n;
    }
    for (auto& b : buckets_) b.flat.assign(static_cast<size_t>(b.size), T(0));
    ready_.assign(params_.size(), false);
    reset();
  }

  bool sync_enabled = true;

  /// The hook of parameter k: its grad has just been accumulated.
  void mark_ready(size_t k) {
    if (!sync_enabled) return;
    if (!pass_active_) {
      pass_active_ = true;
      std::weak_ptr<Reducer> weak = self_;
      autograd::queue_callback([weak] {
        if (auto r = weak.lock()) r->finalize();
      });
    }
    if (ready_[k]) return;
    ready_[k] = true;
    const auto [bi, offset] = slot_[k];
    Bucket& b = buckets_[bi];
    const Tensor<T, D> g = params_[k].grad();
    Tensor<T, D> gc = g.is_contiguous() ? g : g.contiguous();
    std::memcpy(b.flat.data() + offset, gc.data(), static_cast<size_t>(gc.numel()) * sizeof(T));
    --b.pending;
    launch_ready();
    for (size_t i = 0; i < next_launch_; ++i) buckets_[i].work.test();
  }

  void set_self(const std::shared_ptr<Reducer>& self) { self_ = self; }

  size_t num_buckets() const { return buckets_.size(); }
  /// Seconds spent waiting for all-reduces in the last finalize (for the benchmark's share of step time).
  double last_wait_seconds = 0;

 private:
  struct Bucket {
    std::vector<size_t> params;
    int64_t size = 0;
    int64_t pending = 0;
    std::vector<T> flat;
    distributed::Work work;
  };
  struct Slot {
    size_t bucket = 0;
    int64_t offset = 0;
  };

  void reset() {
    for (auto& b : buckets_) b.pending = static_cast<int64_t>(b.params.size());
    std::fill(ready_.begin(), ready_.end(), false);
    next_launch_ = 0;
    pass_active_ = false;
  }

  void launch_ready() {
    while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
      Bucket& b = buckets_[next_launch_++];
      b.work = distributed::Work::iallreduce(b.flat.data(), b.size, distributed::ReduceOp::SUM);
    }
  }

  void finalize() {
    // Parameters that got no gradient in this pass contribute zeros (every rank must reduce every bucket).
    for (size_t k = 0; k < params_.size(); ++k)
      if (!ready_[k]) {
        const auto [bi, offset] = slot_[k];
        std::fill_n(buckets_[bi].flat.data() + offset, params_[k].numel(), T(0));
        --buckets_[bi].pending;
      }
    launch_ready();
    const double start = MPI_Wtime();
    for (auto& b : buckets_) b.work.wait();
    last_wait_seconds = MPI_Wtime() - start;
    const T inv = T(1) / static_cast<T>(distributed::get_world_size());
    for (size_t k = 0; k < params_.size(); ++k) {
      const auto [bi, offset] = slot_[k];
      const T* src = buckets_[bi].flat.data() + offset;
      Tensor<T, D> g = params_[k].grad();
      if (!g.defined() || !g.is_contiguous()) {
        g = Tensor<T, D>::empty(params_[k].shape());
        params_[k].set_grad(g);
      }
      T* dst = g.data();
      for (int64_t i = 0, n = g.numel(); i < n; ++i) dst[i] = src[i] * inv;
    }
    reset();
  }

  std::vector<Tensor<T, D>> params_;
  std::vector<Bucket> buckets_;
  std::vector<Slot> slot_;
  std::vector<bool> ready_;
  size_t next_launch_ = 0;
  bool pass_active_ = false;
  std::weak_ptr<Reducer> self_;
};

}  // namespace detail

/// Wraps `module` (held by reference: it must outlive this object) for data-parallel training, like
/// torch.nn.parallel.DistributedDataParallel. Construction is collective: it checks that every rank has
/// the same parameter names and shapes (std::invalid_argument naming the first mismatch, on every rank)
/// and copies rank 0's parameters and buffers to all ranks. ddp(x) runs module's forward (re-broadcasting
/// rank 0's buffers first in training mode); when backward() returns, every parameter's grad is the average
/// over ranks. Every rank must run the same number of forwards and backwards.
template <class T = float, class D = CPU>
class DistributedDataParallel {
 public:
  using Options = DistributedDataParallelOptions;

  explicit DistributedDataParallel(Module<T, D>& module, Options options = {})
      : module_(module), options_(options) {
    distributed::detail::require_group("DistributedDataParallel");
    HNN_CHECK(options_.bucket_cap_mb > 0, "DistributedDataParallel: bucket_cap_mb must be positive, got ",
              options_.bucket_cap_mb);
    check_same_parameters();
    NoGradGuard guard;
    std::vector<Tensor<T, D>> params;
    for (auto& [name, p] : module_.named_parameters()) {
      distributed::broadcast(p, 0);
      if (p.requires_grad()) params.push_back(p);
    }
    broadcast_buffers();
    reducer_ = std::make_shared<detail::Reducer<T, D>>(params, options_.bucket_cap_mb);
    reducer_->set_self(reducer_);
    std::weak_ptr<detail::Reducer<T, D>> weak = reducer_;
    for (size_t k = 0; k < params.size(); ++k) {
      const int id = params[k].register_post_accumulate_grad_hook([weak, k] {
        if (auto r = weak.lock()) r->mark_ready(k);
      });
      hooks_.emplace_back(params[k], id);
    }
  }
  DistributedDataParallel(const DistributedDataParallel&) = delete;
  DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;
  ~DistributedDataParallel() {
    for (auto& [p, id] : hooks_) p.remove_post_accumulate_grad_hook(id);
  }

  Tensor<T, D> operator()(const Tensor<T, D>& input) { return forward(input); }
  Tensor<T, D> forward(const Tensor<T, D>& input) {
    if (module_.is_training() && options_.broadcast_buffers) broadcast_buffers();
    return module_(input);
  }

  Module<T, D>& module() { return module_; }
  const Module<T, D>& module() const { return module_; }
  void train(bool on = true) { module_.train(on); }
  void eval() { module_.eval(); }
  size_t num_buckets() const { return reducer_->num_buckets(); }
  /// Seconds the last backward waited for its all-reduces after its last node (not overlapped).
  double last_allreduce_wait_seconds() const { return reducer_->last_wait_seconds; }

  /// While alive, backward passes accumulate local gradients without communicating (PyTorch's
  /// no_sync()); the first backward after it averages the accumulated gradients.
  class NoSyncGuard {
   public:
    explicit NoSyncGuard(detail::Reducer<T, D>& r) : reducer_(r), previous_(r.sync_enabled) {
      r.sync_enabled = false;
    }
    ~NoSyncGuard() { reducer_.sync_enabled = previous_; }
    NoSyncGuard(const NoSyncGuard&) = delete;
    NoSyncGuard& operator=(const NoSyncGuard&) = delete;

   private:
    detail::Reducer<T, D>& reducer_;
    bool previous_;
  };
  [[nodiscard]] NoSyncGuard no_sync() { return NoSyncGuard(*reducer_); }

 private:
  void broadcast_buffers() {
    NoGradGuard guard;
    for (const auto& [name, b] : module_.named_buffers()) distributed::broadcast(b, 0);
  }

  /// Compares every rank's "name shape" list with rank 0's; all ranks throw the lowest mismatching
  /// rank's description of its first difference.
  void check_same_parameters() {
    const auto named = module_.named_parameters();
    std::vector<std::string> mine;
    std::string joined;
    for (const auto& [name, p] : named) {
      std::ostringstream os;
      os << "'" << name << "' of shape " << p.shape();
      mine.push_back(os.str());
      joined += os.str() + '\n';
    }
    const std::string reference = distributed::detail::broadcast_string(joined, 0);
    std::vector<std::string> theirs;
    std::istringstream in(reference);
    for (std::string line; std::getline(in, line);) theirs.push_back(line);
    const int rank = distributed::get_rank();
    std::string problem;
    for (size_t i = 0; i < std::max(mine.size(), theirs.size()) && problem.empty(); ++i) {
      if (i < mine.size() && i < theirs.size() && mine[i] == theirs[i]) continue;
      std::ostringstream os;
      os << "DistributedDataParallel: parameter " << i << " differs across ranks: rank " << rank << " has "
         << (i < mine.size() ? mine[i] : "no such parameter") << ", rank 0 has "
         << (i < theirs.size() ? theirs[i] : "no such parameter")
         << " (every rank must build the same model)";
      problem = os.str();
    }
    int64_t first_bad = problem.empty() ? int64_t{1} << 40 : rank;
    distributed::detail::allreduce_raw(&first_bad, 1, MPI_MIN);
    if (first_bad == (int64_t{1} << 40)) return;
    problem = distributed::detail::broadcast_string(problem, static_cast<int>(first_bad));
    throw std::invalid_argument(problem);
  }

  Module<T, D>& module_;
  Options options_;
  std::shared_ptr<detail::Reducer<T, D>> reducer_;
  std::vector<std::pair<Tensor<T, D>, int>> hooks_;
};

template <class M>
DistributedDataParallel(M&) -> DistributedDataParallel<typename M::value_type, typename M::device_type>;
template <class M>
DistributedDataParallel(M&, DistributedDataParallelOptions)
    -> DistributedDataParallel<typename M::value_type, typename M::device_type>;

}  // namespace hnn::nn::parallel
