// Storage<T, Device>: a reference-counted flat buffer of elements. Tensors are views into one.
// The CPU specialisation draws from the caching allocator; the CUDA one is registered by the CUDA
// backend (hnn/cuda/storage.hpp, included by hnn/cuda.hpp), so core/ includes no backend header. Depends on
// core/allocator.hpp, core/device.hpp.
#pragma once

#include <cstring>
#include <memory>

#include "hnn/core/allocator.hpp"
#include "hnn/core/device.hpp"

namespace hnn {

template <class T, class Device>
class Storage;

template <class T>
class Storage<T, CPU> {
 public:
  explicit Storage(int64_t numel) : numel_(numel) {
    if (numel_ > 0) data_ = static_cast<T*>(CpuCachingAllocator::instance().allocate(bytes()));
  }
  ~Storage() { CpuCachingAllocator::instance().deallocate(data_, bytes()); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  int64_t numel() const { return numel_; }
  size_t bytes() const { return static_cast<size_t>(numel_) * sizeof(T); }

 private:
  int64_t numel_ = 0;
  T* data_ = nullptr;
};

}  // namespace hnn
