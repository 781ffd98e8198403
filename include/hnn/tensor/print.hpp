// std::ostream << Tensor, formatted as PyTorch prints (precision 4, fixed or scientific chosen from the
// value range, integer-valued floats as "1.", columns right-aligned, 80-column wrapping, "..." summaries
// past 1000 elements, dtype / requires_grad / grad_fn suffixes). Depends on ops/copy.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "hnn/ops/copy.hpp"
#include "hnn/ops/shape.hpp"

namespace hnn {

namespace detail {

/// PyTorch's _Formatter: the mode (integer-valued "1.", fixed "%.4f" or scientific "%.4e") and the column
/// width come from the nonzero finite values only (zeros, nan and inf never widen a column); integer
/// tensors use the widest value.
class ElementFormatter {
 public:
  template <class T>
  explicit ElementFormatter(const std::vector<T>& values) {
    if constexpr (std::is_floating_point_v<T>) {
      floating_ = true;
      double max_abs = 0, min_abs = INFINITY;
      std::vector<double> shown;
      for (T v : values) {
        const double d = static_cast<double>(v);
        if (!std::isfinite(d) || d == 0) continue;
        shown.push_back(d);
        max_abs = std::max(max_abs, std::abs(d));
        min_abs = std::min(min_abs, std::abs(d));
        if (std::ceil(d) != d) int_mode_ = false;
      }
      if (shown.empty()) return;  // width stays 1, integer mode: "0.", "nan", "inf"
      if (int_mode_)
        sci_mode_ = max_abs / min_abs > 1000.0 || max_abs > 1e8;
      else
        sci_mode_ = max_abs / min_abs > 1000.0 || max_abs > 1e8 || min_abs < 1e-4;
      for (double d : shown) width_ = std::max(width_, format(d, d).size());
    } else {
      for (T v : values) width_ = std::max(width_, format(static_cast<double>(v), v).size());
    }
  }

  template <class T>
  std::string operator()(T v) const {
    std::string s = format(static_cast<double>(v), v);
    return std::string(width_ > s.size() ? width_ - s.size() : 0, ' ') + s;
  }
  size_t width() const { return width_; }

 private:
  template <class T>
  std::string format(double d, T raw) const {
    char buf[64];
    if (!floating_) {
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(raw));
      return buf;
    }
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    if (sci_mode_)
      std::snprintf(buf, sizeof buf, "%.4e", d);
    else if (int_mode_)
      std::snprintf(buf, sizeof buf, "%.0f.", d);
    else
      std::snprintf(buf, sizeof buf, "%.4f", d);
    return buf;
  }

  bool floating_ = false, int_mode_ = true, sci_mode_ = false;
  size_t width_ = 1;
};

constexpr int64_t print_threshold = 1000, print_edgeitems = 3, print_linewidth = 80;

template <class T, class D>
std::string tensor_body(const Tensor<T, D>& t, const ElementFormatter& fmt, size_t indent, bool summarize) {
  if (t.dim() == 0) return fmt(t.item());
  const int64_t n = t.size(0);
  std::vector<int64_t> rows;
  bool ellipsis = summarize && n > 2 * print_edgeitems;
  if (ellipsis) {
    for (int64_t i = 0; i < print_edgeitems; ++i) rows.push_back(i);
    rows.push_back(-1);
    for (int64_t i = n - print_edgeitems; i < n; ++i) rows.push_back(i);
  } else {
    for (int64_t i = 0; i < n; ++i) rows.push_back(i);
  }
  if (t.dim() == 1) {
    const size_t element_length = fmt.width() + 2;
    const size_t per_line = std::max<size_t>(
        1, (static_cast<size_t>(print_linewidth) - std::min<size_t>(indent, 79)) / element_length);
    std::string out = "[";
    for (size_t k = 0; k < rows.size(); ++k) {
      if (k > 0) {
        if (k % per_line == 0)
          out.append(",\n").append(indent + 1, ' ');
        else
          out += ", ";
      }
      out += rows[k] < 0 ? " ..." : fmt(t.select(0, rows[k]).item());  // PyTorch's vector ellipsis is " ..."
    }
    return out + "]";
  }
  // Appended rather than "," + std::string(...): GCC 12 at -O3 warns (-Wrestrict, GCC bug 105651) on
  // a literal plus a temporary string.
  std::string sep = ",";
  sep.append(static_cast<size_t>(t.dim() - 1), '\n').append(indent + 1, ' ');
  std::string out = "[";
  for (size_t k = 0; k < rows.size(); ++k) {
    if (k > 0) out += sep;
    out += rows[k] < 0 ? "..." : tensor_body(t.select(0, rows[k]), fmt, indent + 1, summarize);
  }
  return out + "]";
}

/// The values the formatter must fit: all of them, or the edges of a summarised tensor.
template <class T, class D>
void collect_printed(const Tensor<T, D>& t, bool summarize, std::vector<T>& out) {
  if (t.dim() == 0) {
    out.push_back(t.item());
    return;
  }
  const int64_t n = t.size(0);
  for (int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * print_edgeitems && i == print_edgeitems) i = n - print_edgeitems;
    collect_printed(t.select(0, i), summarize, out);
  }
}

}  // namespace detail

template <class T, class D>
std::ostream& operator<<(std::ostream& os, const Tensor<T, D>& t) {
  if (!t.defined()) return os << "[ Tensor (undefined) ]";
  NoGradGuard guard;
  Tensor<T, CPU> host = t.template to<CPU>();
  const bool summarize = host.numel() > detail::print_threshold;
  std::string text = "tensor(";
  const size_t indent = text.size();
  std::vector<std::string> suffixes;
  constexpr bool default_dtype = std::is_same_v<T, float>;
  if (host.numel() == 0) {
    text += "[]";
    if (host.dim() != 1) {
      std::string size = "size=(";
      for (int64_t i = 0; i < host.dim(); ++i) size += (i ? ", " : "") + std::to_string(host.size(i));
      suffixes.push_back(size + (host.dim() == 1 ? ",)" : ")"));
    }
    if (!default_dtype)
      suffixes.push_back(std::string("dtype=") + dtype_name<T>());  // int64 too: no values to tell
  } else {
    std::vector<T> shown;
    detail::collect_printed(host, summarize, shown);
    detail::ElementFormatter fmt(shown);
    text += detail::tensor_body(host, fmt, indent, summarize);
    if (!default_dtype && !std::is_same_v<T, int64_t>)
      suffixes.push_back(std::string("dtype=") + dtype_name<T>());
  }
#ifdef HNN_WITH_CUDA
  if constexpr (!is_cpu_v<D>) suffixes.push_back("device='cuda:0'");
#endif
  if (t.requires_grad()) {
    if (t.grad_fn())
      suffixes.push_back(std::string("grad_fn=<") + t.grad_fn()->name() + ">");
    else
      suffixes.push_back("requires_grad=True");
  }
  // PyTorch's _add_suffixes: a suffix goes on its own line when the current line would pass 80 columns.
  // (last_line counts as torch does: len(text) - text.rfind("\n") + 1, with rfind = -1 when there is none.)
  const size_t newline = text.rfind('\n');
  size_t last_line = text.size() + 1 - (newline == std::string::npos ? size_t(0) : newline + 1) + 1;
  for (const auto& suffix : suffixes) {
    if (last_line + suffix.size() + 2 > static_cast<size_t>(detail::print_linewidth)) {
      text += ",\n" + std::string(indent, ' ') + suffix;
      last_line = indent + suffix.size();
    } else {
      text += ", " + suffix;
      last_line += suffix.size() + 2;
    }
  }
  return os << text << ")";
}

}  // namespace hnn
