// A small dependency-free SVG line-plot writer: panels side by side (loss | accuracy) or in a grid, each
// with several series, "nice" axis ticks, labels, a legend and optional shaded bands between two curves;
// NaN points break a line rather than corrupting it. Depends on the standard library only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "hnn/core/atomic_file.hpp"
#include "hnn/core/error.hpp"

namespace hnn::utils {

/// One curve: y over x (x empty means 0, 1, 2, ...). Empty color picks the next palette color.
struct PlotSeries {
  std::string label;
  std::vector<double> y;
  std::vector<double> x;
  std::string color;
  bool dashed = false;
};

/// A shaded region between lower and upper (e.g. 10th-90th percentile bands).
struct PlotBand {
  std::string label;
  std::vector<double> lower, upper;
  std::vector<double> x;
  std::string color;
  double opacity = 0.2;
};

struct PlotPanel {
  std::string title, xlabel, ylabel;
  std::vector<PlotSeries> series;
  std::vector<PlotBand> bands;
};

struct PlotOptions {
  double panel_width = 480, panel_height = 360;
  std::string title;   // above all panels
  size_t columns = 0;  // panels per row, filled left to right then top to bottom; 0 = all in one row
};

namespace detail {

inline std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// Heckbert's "nice numbers": 1, 2, 5 or 10 times a power of ten, rounded or not.
inline double nice_number(double range, bool round) {
  const double exponent = std::floor(std::log10(range));
  const double fraction = range / std::pow(10.0, exponent);
  double nice;
  if (round)
    nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  else
    nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * std::pow(10.0, exponent);
}

struct Axis {
  double lo, hi, step;
  std::vector<double> ticks() const {
    std::vector<double> out;
    for (double v = lo; v <= hi + step * 1e-9; v += step) out.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
    return out;
  }
};

/// Axis bounds on tick multiples around [lo, hi] with about `target` ticks; degenerate ranges widen.
inline Axis nice_axis(double lo, double hi, int target = 5) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(hi))) {
    const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.5;
    lo -= pad;
    hi += pad;
  }
  const double range = nice_number(hi - lo, false);
  const double step = nice_number(range / (target - 1), true);
  return {std::floor(lo / step) * step, std::ceil(hi / step) * step, step};
}

inline std::string format_tick(double v, double step) {
  char buf[32];
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  std::snprintf(buf, sizeof(buf), "%.*f", std::min(decimals, 10), v);
  return buf;
}

inline std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

inline const char* palette(size_t i) {
  static const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return colors[i % 10];
}

inline double x_at(const std::vector<double>& x, size_t i) {
  return x.empty() ? static_cast<double>(i) : x[i];
}

inline void check_lengths(const std::vector<double>& x, size_t n, const std::string& what) {
  HNN_CHECK(x.empty() || x.size() == n, "hnn::utils::svg_plot: ", what, " has ", n, " values but ", x.size(),
            " x coordinates");
}

}  // namespace detail

/// The SVG document for `panels` laid out left to right.
inline std::string render_svg(const std::vector<PlotPanel>& panels, const PlotOptions& options = {}) {
  using detail::num;
  HNN_CHECK(!panels.empty(), "hnn::utils::render_svg: expected at least one panel");
  const double W = options.panel_width, H = options.panel_height;
  const double top_extra = options.title.empty() ? 0 : 28;
  const double left = 64, right = 16, top = 32, bottom = 48;
  const size_t columns = options.columns == 0 ? panels.size() : std::min(options.columns, panels.size());
  const size_t rows = (panels.size() + columns - 1) / columns;
  const double width = W * static_cast<double>(columns), height = H * static_cast<double>(rows) + top_extra;
  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(width) << "\" height=\"" << num(height)
      << "\" viewBox=\"0 0 " << num(width) << ' ' << num(height)
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect x=\"0\" y=\"0\" width=\"" << num(width) << "\" height=\"" << num(height)
      << "\" fill=\"white\"/>\n";
  if (!options.title.empty())
    svg << "<text x=\"" << num(width / 2) << "\" y=\"20\" text-anchor=\"middle\" font-size=\"16\">"
        << detail::xml_escape(options.title) << "</text>\n";

  for (size_t p = 0; p < panels.size(); ++p) {
    const auto& panel = panels[p];
    const double ox = W * static_cast<double>(p % columns);
    const size_t row = p / columns;
    const double oy = top_extra + H * static_cast<double>(row);
    const double px0 = ox + left, px1 = ox + W - right, py0 = oy + top, py1 = oy + H - bottom;
    // Data range over every finite point of series and bands.
    double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
    auto extend = [&](double x, double y) {
      if (!std::isfinite(x) || !std::isfinite(y)) return;
      xlo = std::min(xlo, x), xhi = std::max(xhi, x), ylo = std::min(ylo, y), yhi = std::max(yhi, y);
    };
    for (const auto& s : panel.series) {
      detail::check_lengths(s.x, s.y.size(), "series '" + s.label + "'");
      for (size_t i = 0; i < s.y.size(); ++i) extend(detail::x_at(s.x, i), s.y[i]);
    }
    for (const auto& b : panel.bands) {
      HNN_CHECK(b.lower.size() == b.upper.size(), "hnn::utils::svg_plot: band '", b.label, "' has ",
                b.lower.size(), " lower and ", b.upper.size(), " upper values");
      detail::check_lengths(b.x, b.lower.size(), "band '" + b.label + "'");
      for (size_t i = 0; i < b.lower.size(); ++i) {
        extend(detail::x_at(b.x, i), b.lower[i]);
        extend(detail::x_at(b.x, i), b.upper[i]);
      }
    }
    const auto xa = detail::nice_axis(xlo, xhi), ya = detail::nice_axis(ylo, yhi);
    auto sx = [&](double x) { return px0 + (x - xa.lo) / (xa.hi - xa.lo) * (px1 - px0); };
    auto sy = [&](double y) { return py1 - (y - ya.lo) / (ya.hi - ya.lo) * (py1 - py0); };

    svg << "<g class=\"panel\">\n";
    if (!panel.title.empty())
      svg << "<text x=\"" << num((px0 + px1) / 2) << "\" y=\"" << num(oy + 20)
          << "\" text-anchor=\"middle\" font-size=\"14\">" << detail::xml_escape(panel.title) << "</text>\n";
    // Grid and ticks.
    for (double t : xa.ticks()) {
      svg << "<line x1=\"" << num(sx(t)) << "\" y1=\"" << num(py0) << "\" x2=\"" << num(sx(t)) << "\" y2=\""
          << num(py1) << "\" stroke=\"#e0e0e0\"/>\n"
          << "<text x=\"" << num(sx(t)) << "\" y=\"" << num(py1 + 16) << "\" text-anchor=\"middle\">"
          << detail::format_tick(t, xa.step) << "</text>\n";
    }
    for (double t : ya.ticks()) {
      svg << "<line x1=\"" << num(px0) << "\" y1=\"" << num(sy(t)) << "\" x2=\"" << num(px1) << "\" y2=\""
          << num(sy(t)) << "\" stroke=\"#e0e0e0\"/>\n"
          << "<text x=\"" << num(px0 - 6) << "\" y=\"" << num(sy(t) + 4) << "\" text-anchor=\"end\">"
          << detail::format_tick(t, ya.step) << "</text>\n";
    }
    svg << "<rect x=\"" << num(px0) << "\" y=\"" << num(py0) << "\" width=\"" << num(px1 - px0)
        << "\" height=\"" << num(py1 - py0) << "\" fill=\"none\" stroke=\"black\"/>\n";
    if (!panel.xlabel.empty())
      svg << "<text x=\"" << num((px0 + px1) / 2) << "\" y=\"" << num(oy + H - 12)
          << "\" text-anchor=\"middle\">" << detail::xml_escape(panel.xlabel) << "</text>\n";
    if (!panel.ylabel.empty())
      svg << "<text x=\"" << num(ox + 16) << "\" y=\"" << num((py0 + py1) / 2) << "\" text-anchor=\"middle\" "
          << "transform=\"rotate(-90 " << num(ox + 16) << ' ' << num((py0 + py1) / 2) << ")\">"
          << detail::xml_escape(panel.ylabel) << "</text>\n";

    // Bands first so curves draw over them; one polygon per run of finite points.
    size_t color_index = 0;
    std::vector<std::pair<std::string, std::string>> legend;  // label, color
    for (const auto& b : panel.bands) {
      const std::string color = b.color.empty() ? detail::palette(color_index++) : b.color;
      size_t i = 0;
      while (i < b.lower.size()) {
        auto finite = [&](size_t k) {
          return std::isfinite(detail::x_at(b.x, k)) && std::isfinite(b.lower[k]) &&
                 std::isfinite(b.upper[k]);
        };
        while (i < b.lower.size() && !finite(i)) ++i;
        size_t j = i;
        while (j < b.lower.size() && finite(j)) ++j;
        if (j > i) {
          svg << "<polygon fill=\"" << color << "\" fill-opacity=\"" << num(b.opacity)
              << "\" stroke=\"none\" points=\"";
          for (size_t k = i; k < j; ++k)
            svg << num(sx(detail::x_at(b.x, k))) << ',' << num(sy(b.upper[k])) << ' ';
          for (size_t k = j; k-- > i;)
            svg << num(sx(detail::x_at(b.x, k))) << ',' << num(sy(b.lower[k])) << ' ';
          svg << "\"/>\n";
        }
        i = j;
      }
      if (!b.label.empty()) legend.emplace_back(b.label, color);
    }
    for (const auto& s : panel.series) {
      const std::string color = s.color.empty() ? detail::palette(color_index++) : s.color;
      size_t i = 0;
      while (i < s.y.size()) {
        auto finite = [&](size_t k) { return std::isfinite(detail::x_at(s.x, k)) && std::isfinite(s.y[k]); };
        while (i < s.y.size() && !finite(i)) ++i;
        size_t j = i;
        while (j < s.y.size() && finite(j)) ++j;
        if (j > i) {
          svg << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\""
              << (s.dashed ? " stroke-dasharray=\"6 4\"" : "") << " points=\"";
          for (size_t k = i; k < j; ++k)
            svg << (k > i ? " " : "") << num(sx(detail::x_at(s.x, k))) << ',' << num(sy(s.y[k]));
          svg << "\"/>\n";
          if (j == i + 1)  // a lone point would be invisible as a polyline
            svg << "<circle cx=\"" << num(sx(detail::x_at(s.x, i))) << "\" cy=\"" << num(sy(s.y[i]))
                << "\" r=\"2.5\" fill=\"" << color << "\"/>\n";
        }
        i = j;
      }
      if (!s.label.empty()) legend.emplace_back(s.label, color);
    }
    // Legend in the top-right corner of the plot area.
    for (size_t k = 0; k < legend.size(); ++k) {
      const double ly = py0 + 14 + 16 * static_cast<double>(k), lx = px1 - 120;
      svg << "<line x1=\"" << num(lx) << "\" y1=\"" << num(ly - 4) << "\" x2=\"" << num(lx + 18) << "\" y2=\""
          << num(ly - 4) << "\" stroke=\"" << legend[k].second << "\" stroke-width=\"3\"/>\n"
          << "<text x=\"" << num(lx + 24) << "\" y=\"" << num(ly) << "\">"
          << detail::xml_escape(legend[k].first) << "</text>\n";
    }
    svg << "</g>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

/// Writes render_svg(panels) to `path` (through a temp file renamed over it, so readers never see half a
/// plot).
inline void write_svg(const std::string& path, const std::vector<PlotPanel>& panels,
                      const PlotOptions& options = {}) {
  hnn::detail::write_file_atomically(path, render_svg(panels, options), "hnn::utils::write_svg");
}

}  // namespace hnn::utils
