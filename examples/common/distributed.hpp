// Data-parallel training for the example trainers (lenet, mlp): started under mpirun (or with
// --distributed) every rank trains a copy of the model on its share of each epoch, gradients averaged by
// DistributedDataParallel, batch norm synchronised across ranks with SyncBatchNorm unless --no-sync-bn.
// The global batch (--batch-size) is split evenly: each rank's batch is global / world size. Rank 0 alone
// prints, writes metrics and saves checkpoints; evaluation is sharded and its sums all-reduced, so every
// rank reports the same numbers. In a build without MPI (HNN_WITH_MPI undefined) everything here is the
// single-process path, and asking for --distributed (or starting several ranks) is an error.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <hnn/hnn.hpp>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>
#ifdef HNN_WITH_MPI
#include <hnn/distributed.hpp>
#endif

#include "trainer.hpp"

namespace examples {

/// The number of ranks an MPI launcher started, from its environment (Open MPI, MPICH/Hydra and
/// MVAPICH name it differently); 0 when the process was not started by one.
inline int launcher_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE"})
    if (const char* value = std::getenv(name)) return std::atoi(value);
  return 0;
}

/// This process's place in the job: rank and world size, 0 and 1 when training alone.
class World {
 public:
  /// Joins the process group when --distributed was given or an MPI launcher started more than one
  /// rank; trains alone otherwise.
  explicit World(bool requested) {
    const int launched = launcher_world_size();
    if (!requested && launched <= 1) return;
#ifdef HNN_WITH_MPI
    hnn::distributed::init_process_group();
    rank_ = hnn::distributed::get_rank();
    size_ = hnn::distributed::get_world_size();
    active_ = true;
#else
    throw std::invalid_argument(
        (requested
             ? std::string("--distributed was given")
             : "the process was started by an MPI launcher with " + std::to_string(launched) + " ranks") +
        ", but this build has no MPI support (configure hnn with -DHNN_WITH_MPI=ON; without it every rank "
        "would train alone on the whole data set)");
#endif
  }

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool distributed() const { return active_; }
  /// Rank 0: the one that prints, writes files and saves checkpoints.
  bool is_main() const { return rank_ == 0; }

  /// Element-wise sums over ranks, in place (nothing to do alone).
  void sum(std::vector<double>& values) const {
#ifdef HNN_WITH_MPI
    if (!active_ || values.empty()) return;
    auto t = hnn::tensor<double>(values, {static_cast<int64_t>(values.size())});
    hnn::distributed::all_reduce(t, hnn::distributed::ReduceOp::SUM);
    values = t.to_vector();
#else
    (void)values;
#endif
  }

  /// The largest of every rank's value (the slowest rank's epoch time is the job's).
  double max(double value) const {
#ifdef HNN_WITH_MPI
    if (!active_) return value;
    auto t = hnn::tensor<double>({value}, {1});
    hnn::distributed::all_reduce(t, hnn::distributed::ReduceOp::MAX);
    return t.item();
#else
    return value;
#endif
  }

  /// Combines every rank's epoch statistics into the job's: samples and correct predictions summed, the
  /// loss averaged with sample weights, the time of the slowest rank.
  EpochStats reduce(const EpochStats& mine) const {
    if (!active_) return mine;
    const double n = static_cast<double>(mine.samples);
    const bool has_acc = !std::isnan(mine.accuracy);
    std::vector<double> sums{n, mine.loss * n, has_acc ? mine.accuracy * n : 0.0};
    sum(sums);
    EpochStats all;
    all.samples = static_cast<int64_t>(std::llround(sums[0]));
    all.loss = sums[0] > 0 ? sums[1] / sums[0] : 0.0;
    all.accuracy = has_acc && sums[0] > 0 ? sums[2] / sums[0] : std::nan("");
    all.seconds = max(mine.seconds);
    return all;
  }

  /// This rank's share of an evaluation set: samples rank, rank + size, ... (no padding, so the summed
  /// statistics count every sample exactly once).
  template <class DS>
  auto shard(DS& dataset) const {
    std::vector<int64_t> indices;
    for (int64_t i = rank_; i < dataset.size(); i += size_) indices.push_back(i);
    return hnn::data::Subset(dataset, std::move(indices));
  }

 private:
  int rank_ = 0, size_ = 1;
  bool active_ = false;
};

/// The training loader of one rank: the whole (shuffled) set alone; a DistributedSampler's share with
/// the per-rank batch (global batch / world size) in a job. Call start_epoch(e) before each epoch.
/// `prefetch` batches are assembled ahead on the loader's worker thread (0: on the training thread).
template <class T, class Target>
class TrainLoader {
 public:
  template <class DS>
  TrainLoader(DS& dataset, const World& world, int64_t global_batch, uint64_t seed, int64_t prefetch = 0) {
    if (!world.distributed()) {
      const auto options =
          hnn::data::DataLoaderOptions().batch_size(global_batch).shuffle(true).seed(seed).prefetch(prefetch);
      loader_ = std::make_unique<hnn::data::DataLoader<T, Target>>(dataset, options);
      return;
    }
    if (global_batch < world.size())
      throw std::invalid_argument("--batch-size " + std::to_string(global_batch) +
                                  " is the global batch; it must be at "
                                  "least the number of ranks (" +
                                  std::to_string(world.size()) + ")");
    sampler_ = std::make_unique<hnn::data::DistributedSampler>(dataset.size(), world.size(), world.rank(),
                                                               /*shuffle=*/true, seed);
    loader_ = std::make_unique<hnn::data::DataLoader<T, Target>>(
        dataset, hnn::data::DataLoaderOptions().batch_size(global_batch / world.size()).prefetch(prefetch),
        *sampler_);
  }

  void start_epoch(int epoch) {
    if (sampler_) sampler_->set_epoch(epoch);
  }
  hnn::data::DataLoader<T, Target>& loader() { return *loader_; }

 private:
  std::unique_ptr<hnn::data::DistributedSampler> sampler_;  // referenced by loader_: declared first
  std::unique_ptr<hnn::data::DataLoader<T, Target>> loader_;
};

template <class DS>
TrainLoader(DS&, const World&, int64_t, uint64_t, int64_t = 0)
    -> TrainLoader<typename DS::data_type, typename DS::target_type>;

/// What the training loop calls: the model itself alone, DistributedDataParallel around it in a job
/// (after swapping its batch norms for SyncBatchNorm when sync_bn). Conversion and DDP keep the model's
/// parameter tensors, so an optimiser built on module.parameters() before or after works the same.
template <class T = float>
class DataParallel {
 public:
  DataParallel(hnn::nn::Module<T>& module, const World& world, bool sync_bn)
      : module_(module), world_(world) {
#ifdef HNN_WITH_MPI
    if (world.distributed()) {
      if (sync_bn) hnn::nn::convert_sync_batchnorm(module_);
      ddp_ = std::make_unique<hnn::nn::parallel::DistributedDataParallel<T>>(module_);
    }
#else
    (void)sync_bn;
#endif
  }

  hnn::Tensor<T> operator()(const hnn::Tensor<T>& input) {
#ifdef HNN_WITH_MPI
    if (ddp_) return (*ddp_)(input);
#endif
    return module_(input);
  }
  void train(bool on = true) { module_.train(on); }
  void eval() { module_.eval(); }
  bool is_training() const { return module_.is_training(); }
  hnn::nn::Module<T>& module() { return module_; }

  /// Copies rank 0's buffers (running statistics) to every rank, so all evaluate the same model (after
  /// a per-rank recalibration, for example).
  void sync_buffers() {
#ifdef HNN_WITH_MPI
    if (!world_.distributed()) return;
    hnn::NoGradGuard no_grad;
    for (const auto& [name, buffer] : module_.named_buffers()) hnn::distributed::broadcast(buffer, 0);
#endif
  }

 private:
  hnn::nn::Module<T>& module_;
  const World& world_;
#ifdef HNN_WITH_MPI
  std::unique_ptr<hnn::nn::parallel::DistributedDataParallel<T>> ddp_;
#endif
};

/// The trainers' last word on an exception: one line "<program>: <what>" on stderr and exit status 1. In a
/// job with several ranks the failing rank ends them all (MPI_Abort, naming the rank), so no other rank
/// waits forever in a collective and mpirun exits non-zero.
inline int fail(const char* program, const std::exception& e) {
#ifdef HNN_WITH_MPI
  if (hnn::distributed::is_initialized() && hnn::distributed::get_world_size() > 1)
    hnn::distributed::detail::abort_job((std::string(program) + ": " + e.what()).c_str());
#endif
  std::fprintf(stderr, "%s: %s\n", program, e.what());
  return 1;
}

}  // namespace examples
