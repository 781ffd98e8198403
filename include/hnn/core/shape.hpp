// hnn::Shape (sizes of a tensor) and stride helpers: contiguous strides, numel, broadcasting of two
// shapes, and the "[2, 3]" printing used in every error message. Depends on core/error.hpp.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "hnn/core/error.hpp"

namespace hnn {

/// A small vector of int64_t sizes, built from a braced list, a std::vector or an iterator range.
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  Shape(const std::vector<int64_t>& dims) : dims_(dims) {}        // NOLINT: implicit like torch::IntArrayRef
  Shape(std::vector<int64_t>&& dims) : dims_(std::move(dims)) {}  // NOLINT
  template <class It, class = decltype(*std::declval<It>())>
  Shape(It first, It last) : dims_(first, last) {}

  size_t size() const { return dims_.size(); }
  bool empty() const { return dims_.empty(); }
  int64_t& operator[](size_t i) { return dims_[i]; }
  int64_t operator[](size_t i) const { return dims_[i]; }
  int64_t back() const { return dims_.back(); }
  auto begin() const { return dims_.begin(); }
  auto end() const { return dims_.end(); }
  auto begin() { return dims_.begin(); }
  auto end() { return dims_.end(); }
  void push_back(int64_t d) { dims_.push_back(d); }
  void insert(size_t pos, int64_t d) { dims_.insert(dims_.begin() + static_cast<std::ptrdiff_t>(pos), d); }
  void erase(size_t pos) { dims_.erase(dims_.begin() + static_cast<std::ptrdiff_t>(pos)); }
  const std::vector<int64_t>& vec() const { return dims_; }

  /// Product of the sizes; 1 for a 0-dim shape.
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : dims_) n *= d;
    return n;
  }

  friend bool operator==(const Shape& a, const Shape& b) { return a.dims_ == b.dims_; }
  friend bool operator!=(const Shape& a, const Shape& b) { return a.dims_ != b.dims_; }
  friend std::ostream& operator<<(std::ostream& os, const Shape& s) {
    os << '[';
    for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
    return os << ']';
  }
  std::string str() const { return detail::concat(*this); }

 private:
  std::vector<int64_t> dims_;
};

using Strides = std::vector<int64_t>;

/// Row-major strides of a shape.
inline Strides contiguous_strides(const Shape& shape) {
  Strides strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i] > 0 ? shape[i] : 1;
  }
  return strides;
}

/// Validates sizes (non-negative, product fits in int64) and returns the element count. The product of the
/// nonzero sizes must fit too, as in PyTorch (c10::safe_multiplies_u64): contiguous strides are products of
/// trailing sizes, so (0, 2^40, 2^40) would overflow a stride although it holds no element.
inline int64_t checked_numel(const Shape& shape) {
  int64_t nonzero = 1;
  bool empty = false;
  for (int64_t d : shape) {
    HNN_CHECK(d >= 0, "negative dimension in shape ", shape);
    if (d == 0) {
      empty = true;
      continue;
    }
    if (nonzero > std::numeric_limits<int64_t>::max() / d)
      throw std::invalid_argument(detail::concat("shape ", shape, " has more elements than int64 can count",
                                                 empty ? " (ignoring its zero sizes, as strides must)" : ""));
    nonzero *= d;
  }
  return empty ? 0 : nonzero;
}

/// Wraps a possibly negative dimension index into [0, ndim).
inline int64_t wrap_dim(int64_t dim, int64_t ndim) {
  int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  HNN_CHECK(dim >= lo && dim <= hi, "Dimension out of range (expected to be in range of [", lo, ", ", hi,
            "], but got ", dim, ")");
  return dim < 0 ? dim + (ndim == 0 ? 1 : ndim) : dim;
}

/// The broadcast shape of a and b under NumPy/PyTorch rules.
inline Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument(detail::concat(
          "The size of tensor a (", da, ") must match the size of tensor b (", db,
          ") at non-singleton dimension ", i, ": shapes ", a, " and ", b, " cannot be broadcast"));
    out[i] = da == 1 ? db : da;
  }
  return Shape(std::move(out));
}

}  // namespace hnn
