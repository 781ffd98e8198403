// Error helpers: the check macro that throws std::invalid_argument / std::runtime_error with a message
// that says what was expected and what came. Depends on the standard library only.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace hnn::detail {

template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

}  // namespace hnn::detail

/// Throws std::invalid_argument with the concatenated message when `cond` is false.
#define HNN_CHECK(cond, ...)                                                      \
  do {                                                                            \
    if (!(cond)) throw std::invalid_argument(::hnn::detail::concat(__VA_ARGS__)); \
  } while (0)

/// Throws std::runtime_error with the concatenated message when `cond` is false.
#define HNN_CHECK_RUNTIME(cond, ...)                                           \
  do {                                                                         \
    if (!(cond)) throw std::runtime_error(::hnn::detail::concat(__VA_ARGS__)); \
  } while (0)
