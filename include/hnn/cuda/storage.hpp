// Device memory for Tensor<T, hnn::CUDA>: the CUDA caching allocator (cudaMalloc once per size bucket,
// blocks reused after free, everything released at exit) and the Storage<T, CUDA> specialisation.
// Depends on core/storage.hpp, cuda/error.hpp (CUDA builds only).
#pragma once

#ifndef HNN_WITH_CUDA
#error "hnn/cuda/storage.hpp is part of the CUDA backend: build with HNN_WITH_CUDA"
#endif

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "hnn/core/storage.hpp"
#include "hnn/cuda/error.hpp"

namespace hnn {

/// A size-bucketed cache of device blocks, like PyTorch's CUDA caching allocator without streams: a
/// training loop that allocates the same shapes every step calls cudaMalloc only in its first step
/// (cudaMalloc/cudaFree synchronise the device and cost tens of microseconds each). All work runs on
/// the legacy default stream, so a block freed by the host can be handed out again at once: any
/// kernel still reading it is ordered before whatever the next owner launches.
class CudaCachingAllocator {
 public:
  /// cudaMalloc returns 256-byte aligned blocks; buckets are multiples of 512 bytes.
  static constexpr size_t granularity = 512;

  static CudaCachingAllocator& instance() {
    // Static (not leaked) so the destructor returns every cached block at exit; storage destroyed
    // after it (a static Tensor) falls back to cudaFree in deallocate().
    static CudaCachingAllocator allocator;
    return allocator;
  }

  void* allocate(size_t bytes) {
    const size_t size = bucket_size(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_blocks_.find(size);
      if (it != free_blocks_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_bytes_ -= size;
        return p;
      }
    }
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, size);
    if (status == cudaErrorMemoryAllocation) {
      // Out of memory: give the cached blocks back and try once more.
      (void)cudaGetLastError();
      empty_cache();
      status = cudaMalloc(&p, size);
    }
    if (status != cudaSuccess) cuda::detail::throw_cuda_error(status, "cudaMalloc", __FILE__, __LINE__);
    std::lock_guard<std::mutex> lock(mutex_);
    ++malloc_calls_;
    return p;
  }

  void deallocate(void* p, size_t bytes) noexcept {
    if (p == nullptr) return;
    const size_t size = bucket_size(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    if (destroyed_) {
      (void)cudaFree(p);
      return;
    }
    free_blocks_[size].push_back(p);
    cached_bytes_ += size;
  }

  /// Returns every cached block to the driver (cudaFree).
  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_locked();
  }

  size_t cached_bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_bytes_;
  }
  /// How many times cudaMalloc was called (tests check that a training loop stops calling it).
  size_t malloc_calls() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return malloc_calls_;
  }

  CudaCachingAllocator(const CudaCachingAllocator&) = delete;
  CudaCachingAllocator& operator=(const CudaCachingAllocator&) = delete;

 private:
  CudaCachingAllocator() = default;
  ~CudaCachingAllocator() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_locked();
    destroyed_ = true;
  }

  void release_locked() noexcept {
    // At exit the driver may already be shutting down (cudaErrorCudartUnloading): nothing to report then.
    for (auto& [size, blocks] : free_blocks_)
      for (void* p : blocks) (void)cudaFree(p);
    free_blocks_.clear();
    cached_bytes_ = 0;
  }

  // Multiples of 512 bytes up to 1 MiB, above that one of four steps per power of two (at most 25 % waste).
  static size_t bucket_size(size_t bytes) {
    size_t size = (bytes + granularity - 1) / granularity * granularity;
    if (size == 0) size = granularity;
    if (size <= (size_t(1) << 20)) return size;
    size_t pow2 = 1;
    while (pow2 * 2 <= size) pow2 *= 2;
    const size_t step = pow2 / 4;
    return (size + step - 1) / step * step;
  }

  mutable std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_blocks_;
  size_t cached_bytes_ = 0;
  size_t malloc_calls_ = 0;
  bool destroyed_ = false;
};

/// Releases the CUDA caching allocator's unused blocks (torch.cuda.empty_cache()).
inline void cuda_empty_cache() { CudaCachingAllocator::instance().empty_cache(); }

template <class T>
class Storage<T, CUDA> {
 public:
  explicit Storage(int64_t numel) : numel_(numel) {
    if (numel_ > 0) data_ = static_cast<T*>(CudaCachingAllocator::instance().allocate(bytes()));
  }
  ~Storage() { CudaCachingAllocator::instance().deallocate(data_, bytes()); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  /// A device pointer: never dereference it on the host.
  T* data() { return data_; }
  const T* data() const { return data_; }
  int64_t numel() const { return numel_; }
  size_t bytes() const { return static_cast<size_t>(numel_) * sizeof(T); }

 private:
  int64_t numel_ = 0;
  T* data_ = nullptr;
};

}  // namespace hnn
