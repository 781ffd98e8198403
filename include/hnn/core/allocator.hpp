// The CPU caching allocator: 64-byte aligned blocks, freed blocks kept in size buckets and handed out
// again, so a training loop that allocates the same shapes every step stops page-faulting (glibc returns
// large blocks to the OS on free). Depends on the standard library only.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace hnn {

class CpuCachingAllocator {
 public:
  static constexpr size_t alignment = 64;
  /// The largest request served (2^62 bytes, more than any machine has): bucket_size's rounding stays
  /// far from overflow and larger requests fail with a message instead of wrapping.
  static constexpr int64_t max_bytes = int64_t(1) << 62;

  static CpuCachingAllocator& instance() {
    // Leaked on purpose: storage freed during static destruction must still find the allocator.
    static auto* allocator = new CpuCachingAllocator();
    return *allocator;
  }

  /// Throws std::runtime_error naming the size when the system has no memory for it (torch's
  /// "DefaultCPUAllocator: not enough memory: you tried to allocate N bytes").
  void* allocate(size_t bytes) {
    if (bytes > static_cast<size_t>(max_bytes)) throw out_of_memory(bytes);
    size_t size = bucket_size(bytes);
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
    void* p = std::aligned_alloc(alignment, size);
    if (p == nullptr) {
      empty_cache();
      p = std::aligned_alloc(alignment, size);
      if (p == nullptr) throw out_of_memory(bytes);
    }
    return p;
  }

  void deallocate(void* p, size_t bytes) {
    if (p == nullptr) return;
    size_t size = bucket_size(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    if (size < min_cached_bytes || cached_bytes_ + size > cache_limit_) {
      std::free(p);
      return;
    }
    free_blocks_[size].push_back(p);
    cached_bytes_ += size;
  }

  /// Returns every cached block to the system.
  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_blocks_)
      for (void* p : blocks) std::free(p);
    free_blocks_.clear();
    cached_bytes_ = 0;
  }

  size_t cached_bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_bytes_;
  }

  /// Upper bound on memory kept in the cache (default 1 GiB).
  void set_cache_limit(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    cache_limit_ = bytes;
  }

 private:
  // Blocks under 16 KiB come from malloc's own fast bins; caching them buys nothing.
  static constexpr size_t min_cached_bytes = size_t{16} * 1024;

  // Sizes round up to a multiple of 64 bytes, and above 64 KiB to one of four steps per power of two
  // (at most 25 % waste), so slightly different shapes share a bucket.
  static size_t bucket_size(size_t bytes) {
    size_t size = (bytes + alignment - 1) / alignment * alignment;
    if (size == 0) size = alignment;
    if (size <= size_t{64} * 1024) return size;
    size_t pow2 = 1;
    while (pow2 * 2 <= size) pow2 *= 2;
    size_t step = pow2 / 4;
    return (size + step - 1) / step * step;
  }

  static std::runtime_error out_of_memory(size_t bytes) {
    return std::runtime_error("hnn::CpuCachingAllocator: not enough memory: tried to allocate " +
                              std::to_string(bytes) + " bytes (" + std::to_string(bytes >> 20) + " MiB)");
  }

  CpuCachingAllocator() = default;
  mutable std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_blocks_;
  size_t cached_bytes_ = 0;
  size_t cache_limit_ = size_t(1) << 30;
};

/// Releases the CPU caching allocator's unused blocks (like torch.cuda.empty_cache for CPU memory).
inline void empty_cache() { CpuCachingAllocator::instance().empty_cache(); }

}  // namespace hnn
