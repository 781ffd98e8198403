// Formatting helpers for PyTorch-identical reprs: Python's repr() of a float ("1e-05", "0.1", "1.0").
// Depends on the standard library only.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <system_error>

namespace hnn::detail {

/// Python's repr() of a float ("1.0", "-0.1", "0.0001", "1e-05", "1e+16"), so reprs and error messages read
/// as PyTorch's: the shortest digits that round-trip (std::to_chars), positional for exponents in
/// [-4, 16), scientific with at least two exponent digits otherwise, and ".0" after an integer.
inline std::string py_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[400];  // the longest positional double (denormals excluded by the exponent test) fits
  const auto [sci_end, sci_ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, sci_ec == std::errc() ? sci_end : buf);
  const auto e_pos = sci.find('e');
  const int exponent = e_pos == std::string::npos ? 0 : std::atoi(sci.c_str() + e_pos + 1);
  if (v != 0.0 && (exponent < -4 || exponent >= 16)) return sci;
  const auto [fixed_end, fixed_ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  if (fixed_ec != std::errc()) return sci;
  std::string fixed(buf, fixed_end);
  if (fixed.find('.') == std::string::npos) fixed += ".0";
  return fixed;
}

inline const char* py_bool(bool b) { return b ? "True" : "False"; }

}  // namespace hnn::detail
