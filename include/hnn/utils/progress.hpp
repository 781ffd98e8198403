// ProgressBar: a tqdm-like progress line ("epoch 3/10 |█████     | 120/235 [00:02<00:02, 52.1 batch/s,
// loss=0.4312]") redrawn in place (throttled) on a terminal, printed as occasional plain lines otherwise.
// Depends on the standard library and POSIX isatty only.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace hnn::utils {

struct ProgressBarOptions {
  /// Text before the bar ("epoch 3/10").
  std::string description;
  /// Number of steps; <= 0 means unknown (no bar, no ETA).
  int64_t total = 0;
  /// Unit in the rate ("52.1 batch/s").
  std::string unit = "batch";
  /// false: prints nothing at all (for quiet runs and non-zero MPI ranks).
  bool enabled = true;
  /// Stream to write to; nullptr means std::cerr.
  std::ostream* stream = nullptr;
  /// Redraw in place with '\r'; unset: only when the stream is std::cerr and stderr is a terminal.
  std::optional<bool> terminal;
  /// Minimum seconds between terminal redraws (~10 Hz); the last step always draws.
  double min_interval = 0.1;
  /// Plain mode prints a line each time this fraction of the total is crossed (every 10 %).
  double plain_fraction = 0.1;
  /// Width of the bar in characters.
  int bar_width = 10;
  /// Seconds since start; unset: a steady clock. Tests inject a fake clock here.
  std::function<double()> clock;
};

class ProgressBar {
 public:
  explicit ProgressBar(ProgressBarOptions options) : options_(std::move(options)) {
    if (!options_.stream) options_.stream = &std::cerr;
    if (!options_.terminal)
      options_.terminal = options_.stream == &std::cerr && ::isatty(::fileno(stderr)) == 1;
    if (!options_.clock) {
      auto start = std::chrono::steady_clock::now();
      options_.clock = [start] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      };
    }
  }
  ProgressBar(int64_t total, std::string description = "", bool enabled = true)
      : ProgressBar(make_options(total, std::move(description), enabled)) {}
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  ~ProgressBar() { close(); }

  /// Advances by n steps and redraws when due.
  void update(int64_t n = 1) {
    count_ += n;
    if (!options_.enabled || closed_) return;
    const double now = options_.clock();
    if (*options_.terminal) {
      if (now - last_draw_ >= options_.min_interval || finished()) draw(now);
    } else if (options_.total > 0) {
      // One plain line per crossed plain_fraction of the total (and at the end).
      const int64_t steps =
          std::max<int64_t>(1, static_cast<int64_t>(std::llround(1.0 / options_.plain_fraction)));
      const int64_t bucket = count_ * steps / options_.total;
      if (bucket > last_bucket_) {
        last_bucket_ = bucket;
        draw(now);
      }
    }
  }

  /// Sets a "key=value" entry shown after the rate (replacing an earlier one with the same key); numbers
  /// get four decimals as tqdm's postfix does.
  void set_postfix(const std::string& key, double value) {
    std::ostringstream os;
    os.setf(std::ios::fixed);
    os.precision(4);
    os << value;
    set_postfix(key, os.str());
  }
  void set_postfix(const std::string& key, const std::string& value) {
    for (auto& [k, v] : postfix_)
      if (k == key) {
        v = value;
        return;
      }
    postfix_.emplace_back(key, value);
  }

  /// Draws the final state and ends the line; further updates print nothing.
  void close() {
    if (closed_) return;
    closed_ = true;
    if (!options_.enabled) return;
    const double now = options_.clock();
    if (*options_.terminal) {
      draw(now);
      *options_.stream << '\n';
    } else if (last_drawn_count_ != count_) {  // the final state, unless its line is already out
      draw(now);
    }
    options_.stream->flush();
  }

  int64_t count() const { return count_; }
  double elapsed() const { return options_.clock(); }

  /// The progress line for `count` steps after `elapsed` seconds, without '\r' or newline.
  std::string render(int64_t count, double elapsed) const {
    std::ostringstream os;
    if (!options_.description.empty()) os << options_.description << ' ';
    const double rate = elapsed > 0 ? static_cast<double>(count) / elapsed : 0.0;
    if (options_.total > 0) {
      const double fraction = std::min(1.0, static_cast<double>(count) / static_cast<double>(options_.total));
      const int filled = static_cast<int>(fraction * options_.bar_width);
      os << '|';
      for (int i = 0; i < options_.bar_width; ++i) os << (i < filled ? "\u2588" : " ");
      os << "| " << count << '/' << options_.total << " [" << format_time(elapsed) << '<';
      if (rate > 0)
        os << format_time(static_cast<double>(std::max<int64_t>(0, options_.total - count)) / rate);
      else
        os << '?';
    } else {
      os << count << ' ' << options_.unit << " [" << format_time(elapsed);
    }
    os << ", ";
    os.setf(std::ios::fixed);
    os.precision(1);
    if (rate <= 0)
      os << "? " << options_.unit << "/s";
    else if (rate >= 1)
      os << rate << ' ' << options_.unit << "/s";
    else
      os << 1.0 / rate << " s/" << options_.unit;
    for (const auto& [k, v] : postfix_) os << ", " << k << '=' << v;
    os << ']';
    return os.str();
  }

  /// "mm:ss", or "h:mm:ss" from an hour on, as tqdm prints.
  static std::string format_time(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    auto s = static_cast<int64_t>(seconds);
    char buf[32];
    if (s >= 3600)
      std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                    static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
    else
      std::snprintf(buf, sizeof(buf), "%02lld:%02lld", static_cast<long long>(s / 60),
                    static_cast<long long>(s % 60));
    return buf;
  }

 private:
  static ProgressBarOptions make_options(int64_t total, std::string description, bool enabled) {
    ProgressBarOptions o;
    o.total = total;
    o.description = std::move(description);
    o.enabled = enabled;
    return o;
  }
  bool finished() const { return options_.total > 0 && count_ >= options_.total; }

  void draw(double now) {
    std::string line = render(count_, now);
    if (*options_.terminal) {
      // Pad over the previous, possibly longer, line.
      std::string padded = line;
      if (padded.size() < last_width_) padded.append(last_width_ - padded.size(), ' ');
      last_width_ = line.size();
      *options_.stream << '\r' << padded << std::flush;
    } else {
      *options_.stream << line << '\n';
    }
    last_draw_ = now;
    last_drawn_count_ = count_;
  }

  ProgressBarOptions options_;
  std::vector<std::pair<std::string, std::string>> postfix_;
  int64_t count_ = 0;
  int64_t last_bucket_ = 0;
  int64_t last_drawn_count_ = -1;
  double last_draw_ = -1e300;
  size_t last_width_ = 0;
  bool closed_ = false;
};

}  // namespace hnn::utils
