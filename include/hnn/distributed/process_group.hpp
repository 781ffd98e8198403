// hnn::distributed's process group over MPI: init_process_group, get_rank, get_world_size, all_reduce,
// broadcast, barrier, destroy_process_group (PyTorch's names), non-blocking all-reduce handles, and the
// abort-on-failure machinery. Depends on <mpi.h> (needs HNN_WITH_MPI), hnn/tensor.hpp.
#pragma once

#ifndef HNN_WITH_MPI
#error \
    "hnn/distributed/process_group.hpp needs MPI: configure with -DHNN_WITH_MPI=ON (or compile with -DHNN_WITH_MPI and mpicxx's flags)"
#endif

// Only MPI's C API is used: skip the deprecated C++ bindings (they also warn under -Wextra).
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "hnn/core/error.hpp"
#include "hnn/tensor.hpp"
#include "hnn/tensor/any_tensor.hpp"

/*
 * Device tensors. Only CPU tensors are exchanged here (the tested path): every collective passes
 * tensor.data() to MPI. A CUDA build would exchange device tensors in one of two ways:
 *   - CUDA-aware MPI (Open MPI built with UCX/--with-cuda; MPIX_Query_cuda_support() says so): the
 *     same MPI calls take device pointers directly, after a stream synchronisation so the kernels that
 *     wrote the buffer have finished;
 *   - NCCL (what PyTorch uses for GPUs): MPI only distributes the ncclUniqueId (an MPI_Bcast from rank 0
 *     at init), then ncclAllReduce / ncclBroadcast run on a CUDA stream, and DDP's bucket reduction is
 *     ordered after the backward kernels with a CUDA event instead of MPI_Wait.
 * Without either, a device tensor would be staged through host memory (to<CPU>(), collective, copy back).
 *
 * Threads. init_process_group asks for MPI_THREAD_SERIALIZED: every MPI call comes from the thread that
 * runs the training loop (and its backward passes); the DataLoader's prefetch thread never calls MPI.
 *
 * Failure. MPI_COMM_WORLD's error handler is set to MPI_ERRORS_RETURN, so every failing call throws a
 * std::runtime_error naming the call and the rank. A rank that dies with an exception must not leave the
 * others blocked in a collective: init_process_group installs a std::terminate handler that prints the
 * rank and the exception and calls MPI_Abort (mpirun then ends every rank and exits non-zero), and
 * run_or_abort(fn) does the same for an exception escaping fn.
 */

namespace hnn::distributed {

/// The reduction of all_reduce. AVG is SUM divided by the world size (for int64, truncating division).
enum class ReduceOp { SUM, AVG, MAX, MIN };

namespace detail {

struct GroupState {
  bool initialised_here = false;  // MPI_Init_thread was called by init_process_group
  bool atexit_registered = false;
  bool terminate_installed = false;
};
inline GroupState& group_state() {
  static GroupState state;
  return state;
}

inline bool mpi_initialised() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

/// This process's rank in MPI_COMM_WORLD, or -1 when MPI is not running (for messages).
inline int rank_for_messages() {
  if (!mpi_initialised()) return -1;
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

/// Throws std::runtime_error "hnn::distributed: <call> failed on rank R: <MPI's message>" unless rc is
/// MPI_SUCCESS.
inline void check_mpi(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw std::runtime_error(hnn::detail::concat("hnn::distributed: ", call, " failed on rank ",
                                               rank_for_messages(), ": ",
                                               std::string(text, static_cast<size_t>(len))));
}

inline void require_group(const char* function) {
  HNN_CHECK_RUNTIME(
      mpi_initialised(), "hnn::distributed::", function,
      ": the process group is not initialised (call hnn::distributed::init_process_group() first, "
      "and not after destroy_process_group())");
}

template <class T>
MPI_Datatype mpi_type() {
  if constexpr (std::is_same_v<T, float>)
    return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, double>)
    return MPI_DOUBLE;
  else if constexpr (std::is_same_v<T, int64_t>)
    return MPI_INT64_T;
  else if constexpr (std::is_same_v<T, char>)
    return MPI_CHAR;
  else
    static_assert(sizeof(T) == 0, "hnn::distributed exchanges float, double and int64 tensors");
}

inline MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::MAX:
      return MPI_MAX;
    case ReduceOp::MIN:
      return MPI_MIN;
    default:
      return MPI_SUM;  // SUM and AVG (divided afterwards)
  }
}

/// MPI counts are int: larger buffers go in pieces of at most this many elements.
inline constexpr int64_t max_mpi_count = INT_MAX / 2;

/// Divides by the world size after an AVG reduction (truncating for int64).
template <class T>
void divide_by(T* data, int64_t n, int world) {
  if constexpr (std::is_floating_point_v<T>) {
    const T inv = T(1) / static_cast<T>(world);
    for (int64_t i = 0; i < n; ++i) data[i] *= inv;
  } else {
    for (int64_t i = 0; i < n; ++i) data[i] /= world;
  }
}

[[noreturn]] inline void abort_job(const char* what) {
  std::fprintf(stderr, "hnn::distributed: rank %d failed: %s; aborting every rank (MPI_Abort)\n",
               rank_for_messages(), what);
  std::fflush(stderr);
  if (mpi_initialised()) MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();
}

/// The terminate handler: names the rank and the exception, then MPI_Abort so no rank hangs.
[[noreturn]] inline void terminate_handler() {
  std::string what = "std::terminate called";
  if (auto e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = std::string("uncaught exception: ") + ex.what();
    } catch (...) {
      what = "uncaught exception of unknown type";
    }
  }
  abort_job(what.c_str());
}

inline void finalize_at_exit() {
  if (mpi_initialised()) MPI_Finalize();
}

template <class T>
void bcast_raw(T* data, int64_t n, int src) {
  for (int64_t done = 0; done < n; done += max_mpi_count) {
    const int count = static_cast<int>(std::min(max_mpi_count, n - done));
    check_mpi(MPI_Bcast(data + done, count, mpi_type<T>(), src, MPI_COMM_WORLD), "MPI_Bcast");
  }
}

template <class T>
void allreduce_raw(T* data, int64_t n, MPI_Op op) {
  for (int64_t done = 0; done < n; done += max_mpi_count) {
    const int count = static_cast<int>(std::min(max_mpi_count, n - done));
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, data + done, count, mpi_type<T>(), op, MPI_COMM_WORLD),
              "MPI_Allreduce");
  }
}

/// Every rank's `n` doubles, rank after rank: recv has n * world_size entries.
inline std::vector<double> allgather_doubles(const double* send, int n) {
  int world = 0;
  check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &world), "MPI_Comm_size");
  std::vector<double> recv(static_cast<size_t>(n) * static_cast<size_t>(world));
  check_mpi(MPI_Allgather(send, n, MPI_DOUBLE, recv.data(), n, MPI_DOUBLE, MPI_COMM_WORLD), "MPI_Allgather");
  return recv;
}

/// Rank src's string on every rank.
inline std::string broadcast_string(std::string s, int src) {
  int64_t size = static_cast<int64_t>(s.size());
  bcast_raw(&size, 1, src);
  s.resize(static_cast<size_t>(size));
  bcast_raw(s.data(), size, src);
  return s;
}

}  // namespace detail

/// Starts MPI (MPI_Init_thread with MPI_THREAD_SERIALIZED) unless it already runs, sets MPI_COMM_WORLD
/// to return errors (every call here is checked), installs the abort-on-terminate handler, and arranges
/// MPI_Finalize at exit in case destroy_process_group() is forgotten. Calling it again is a no-op.
inline void init_process_group() {
  int fin = 0;
  MPI_Finalized(&fin);
  HNN_CHECK_RUNTIME(!fin,
                    "hnn::distributed::init_process_group: MPI was already finalised "
                    "(destroy_process_group() ends MPI for the life of the process)");
  auto& state = detail::group_state();
  int init = 0;
  MPI_Initialized(&init);
  if (!init) {
    int provided = 0;
    detail::check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
    state.initialised_here = true;
    HNN_CHECK_RUNTIME(provided >= MPI_THREAD_FUNNELED,
                      "hnn::distributed::init_process_group: MPI provides thread level ", provided,
                      ", expected at least MPI_THREAD_FUNNELED (", MPI_THREAD_FUNNELED, ")");
  }
  detail::check_mpi(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  if (!state.terminate_installed) {
    std::set_terminate(&detail::terminate_handler);
    state.terminate_installed = true;
  }
  if (!state.atexit_registered) {
    std::atexit(&detail::finalize_at_exit);
    state.atexit_registered = true;
  }
}

/// True between init_process_group() and destroy_process_group() (torch.distributed.is_initialized).
inline bool is_initialized() { return detail::mpi_initialised(); }

inline int get_rank() {
  detail::require_group("get_rank");
  int rank = 0;
  detail::check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
  return rank;
}

inline int get_world_size() {
  detail::require_group("get_world_size");
  int size = 0;
  detail::check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
  return size;
}

/// MPI_Finalize (collective: every rank calls it). MPI cannot be started again in this process.
inline void destroy_process_group() {
  if (detail::mpi_initialised()) detail::check_mpi(MPI_Finalize(), "MPI_Finalize");
}

inline void barrier() {
  detail::require_group("barrier");
  detail::check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

/// Runs fn(); an exception escaping it ends the whole job (MPI_Abort) with a message naming this rank,
/// instead of leaving the other ranks waiting in a collective. Returns fn's result.
template <class F>
decltype(auto) run_or_abort(F&& fn) {
  try {
    return std::forward<F>(fn)();
  } catch (const std::exception& e) {
    detail::abort_job(e.what());
  } catch (...) {
    detail::abort_job("an exception of unknown type");
  }
}

/// Reduces `tensor` over all ranks in place (every rank ends with the result). Collective: every rank
/// calls it with a tensor of the same shape and dtype. A non-contiguous tensor is reduced through a copy.
template <class T, class D>
void all_reduce(Tensor<T, D>& tensor, ReduceOp op = ReduceOp::SUM) {
  static_assert(is_cpu_v<D>, "hnn::distributed exchanges CPU tensors (see the header for device tensors)");
  detail::require_group("all_reduce");
  HNN_CHECK(tensor.defined(), "hnn::distributed::all_reduce: the tensor is undefined");
  const int64_t n = tensor.numel();
  if (n == 0) return;
  NoGradGuard guard;
  Tensor<T, D> buf = tensor.is_contiguous() ? tensor.detach() : tensor.contiguous();
  detail::allreduce_raw(buf.data(), n, detail::mpi_op(op));
  if (op == ReduceOp::AVG) detail::divide_by(buf.data(), n, get_world_size());
  if (!tensor.is_contiguous()) tensor.detach().copy_(buf);
}

/// all_reduce of an rvalue handle (a view such as model.weight()).
template <class T, class D>
void all_reduce(Tensor<T, D>&& tensor, ReduceOp op = ReduceOp::SUM) {
  all_reduce(tensor, op);
}

/// Copies rank src's values into `tensor` on every rank, in place. Collective, same shape everywhere.
template <class T, class D>
void broadcast(Tensor<T, D>& tensor, int src) {
  static_assert(is_cpu_v<D>, "hnn::distributed exchanges CPU tensors (see the header for device tensors)");
  detail::require_group("broadcast");
  HNN_CHECK(tensor.defined(), "hnn::distributed::broadcast: the tensor is undefined");
  const int world = get_world_size();
  HNN_CHECK(src >= 0 && src < world, "hnn::distributed::broadcast: src must be a rank in [0, ", world,
            "), got ", src);
  const int64_t n = tensor.numel();
  if (n == 0) return;
  NoGradGuard guard;
  Tensor<T, D> buf = tensor.is_contiguous() ? tensor.detach() : tensor.contiguous();
  detail::bcast_raw(buf.data(), n, src);
  if (!tensor.is_contiguous()) tensor.detach().copy_(buf);
}

template <class T, class D>
void broadcast(Tensor<T, D>&& tensor, int src) {
  broadcast(tensor, src);
}

/// A tensor of any dtype (a module buffer).
template <class D>
void broadcast(const AnyTensor<D>& tensor, int src) {
  switch (tensor.dtype()) {
    case Dtype::Float32:
      broadcast(tensor.template as<float>(), src);
      break;
    case Dtype::Float64:
      broadcast(tensor.template as<double>(), src);
      break;
    default:
      broadcast(tensor.template as<int64_t>(), src);
      break;
  }
}

/// A non-blocking all-reduce in flight (torch's Work): wait() blocks until it is done; test() makes
/// progress and says whether it is. The buffer must stay alive and untouched until then.
class Work {
 public:
  Work() = default;
  Work(Work&& other) noexcept : requests_(std::move(other.requests_)) { other.requests_.clear(); }
  Work& operator=(Work&& other) noexcept {
    if (this != &other) {
      requests_ = std::move(other.requests_);
      other.requests_.clear();
    }
    return *this;
  }
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;
  ~Work() {
    // An abandoned request cannot be cancelled for collectives: complete it (errors are ignored here).
    if (!requests_.empty() && detail::mpi_initialised())
      MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
  }

  void wait() {
    if (requests_.empty()) return;
    detail::check_mpi(MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE),
                      "MPI_Waitall");
    requests_.clear();
  }
  bool test() {
    if (requests_.empty()) return true;
    int done = 0;
    detail::check_mpi(
        MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &done, MPI_STATUSES_IGNORE),
        "MPI_Testall");
    if (done) requests_.clear();
    return done != 0;
  }
  bool pending() const { return !requests_.empty(); }

  /// Starts MPI_Iallreduce (SUM, MAX or MIN) of data[0, n) in place.
  template <class T>
  static Work iallreduce(T* data, int64_t n, ReduceOp op) {
    HNN_CHECK(op != ReduceOp::AVG,
              "hnn::distributed::Work::iallreduce: AVG is SUM followed by a division by the "
              "world size, done by the caller once the reduction is complete");
    detail::require_group("iallreduce");
    Work work;
    for (int64_t done = 0; done < n; done += detail::max_mpi_count) {
      const int count = static_cast<int>(std::min(detail::max_mpi_count, n - done));
      MPI_Request request;
      detail::check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data + done, count, detail::mpi_type<T>(),
                                       detail::mpi_op(op), MPI_COMM_WORLD, &request),
                        "MPI_Iallreduce");
      work.requests_.push_back(request);
    }
    return work;
  }

 private:
  std::vector<MPI_Request> requests_;
};

}  // namespace hnn::distributed
