// Formatting helpers for PyTorch-identical reprs: Python's repr() of a float ("1e-05", "0.1", "1.0").
// Depends on the standard library only.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace hnn::detail {

/// The shortest decimal that round-trips, written as Python's repr(float) writes it: positional for
/// exponents in [-4, 16), scientific with a two-digit exponent otherwise, and "1.0" for integers.
inline std::string py_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  int precision = 0;
  for (; precision < 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*e", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s(buf);
  size_t e_pos = s.find('e');
  int exponent = std::atoi(s.c_str() + e_pos + 1);
  std::string mantissa = s.substr(0, e_pos);
  bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa)
    if (c != '.') digits += c;
  std::string out;
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out = "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    } else {
      auto point = static_cast<size_t>(exponent + 1);
      if (digits.size() <= point)
        out = digits + std::string(point - digits.size(), '0') + ".0";
      else
        out = digits.substr(0, point) + "." + digits.substr(point);
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp_buf;
  }
  return negative ? "-" + out : out;
}

inline const char* py_bool(bool b) { return b ? "True" : "False"; }

}  // namespace hnn::detail
