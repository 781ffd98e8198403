// Tests for include/hnn/utils/svg_plot.hpp: the document is well-formed XML (balanced tags, escaped text),
// has one polyline per finite run of each series and one polygon per band run, finite coordinates inside
// the canvas, nice ticks, side-by-side panels, and a file written through write_svg.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <fstream>
#include <hnn/utils/svg_plot.hpp>
#include <sstream>
#include <string>
#include <vector>

using namespace hnn::utils;

namespace {

size_t count_of(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = s.find(needle); pos != std::string::npos; pos = s.find(needle, pos + 1)) ++n;
  return n;
}

/// A small tag matcher: every <name ...> is closed by </name> in order or self-closed; no stray '&'.
void expect_well_formed(const std::string& svg) {
  std::vector<std::string> stack;
  size_t pos = svg.find("<svg");
  REQUIRE(pos != std::string::npos);
  REQUIRE(svg.rfind("<?xml", 0) == 0);
  while ((pos = svg.find('<', pos)) != std::string::npos) {
    size_t end = svg.find('>', pos);
    REQUIRE(end != std::string::npos);
    std::string tag = svg.substr(pos + 1, end - pos - 1);
    REQUIRE(tag.find('<') == std::string::npos);
    if (tag[0] == '/') {
      REQUIRE_FALSE(stack.empty());
      CHECK(stack.back() == tag.substr(1));
      stack.pop_back();
    } else if (tag.back() != '/') {
      stack.push_back(tag.substr(0, tag.find(' ')));
    }
    pos = end + 1;
  }
  CHECK(stack.empty());
  for (size_t amp = svg.find('&'); amp != std::string::npos; amp = svg.find('&', amp + 1)) {
    bool entity = false;
    for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"})
      entity |= svg.compare(amp, std::strlen(e), e) == 0;
    INFO("stray '&' at " << amp);
    CHECK(entity);
  }
}

/// Every number inside points="..." and x/y attributes is finite and within the canvas.
void expect_finite_coordinates(const std::string& svg, double width, double height) {
  size_t numbers = 0;
  std::vector<std::string> attribute_values;
  for (const std::string name : {" points=\"", " x1=\"", " y1=\"", " x2=\"", " y2=\"", " cx=\"", " cy=\""})
    for (size_t at = svg.find(name); at != std::string::npos; at = svg.find(name, at + 1)) {
      const size_t begin = at + name.size();
      attribute_values.push_back(svg.substr(begin, svg.find('"', begin) - begin));
    }
  for (std::string values : attribute_values) {
    for (char& c : values)
      if (c == ',') c = ' ';
    std::istringstream in(values);
    for (std::string token; in >> token;) {
      INFO("token " << token);
      double v = std::stod(token);
      CHECK(std::isfinite(v));
      CHECK(v >= -1e-9);
      CHECK(v <= std::max(width, height) + 1e-9);
      ++numbers;
    }
  }
  CHECK(numbers > 0);
}

}  // namespace

TEST_CASE("a loss | accuracy figure is well-formed SVG with one polyline per series", "[utils][svg]") {
  PlotPanel loss{"Loss", "epoch", "loss", {}, {}};
  loss.series.push_back({"train", {0.9, 0.6, 0.45, 0.4, 0.38}, {1, 2, 3, 4, 5}, "", false});
  loss.series.push_back({"test", {1.0, 0.7, 0.55, 0.5, 0.49}, {1, 2, 3, 4, 5}, "", true});
  PlotPanel acc{"Accuracy", "epoch", "accuracy", {}, {}};
  acc.series.push_back({"train & <val>", {0.7, 0.8, 0.85, 0.87, 0.88}, {}, "#000000", false});
  PlotOptions options;
  options.title = "LeNet \"BN\"";
  std::string svg = render_svg({loss, acc}, options);
  expect_well_formed(svg);
  CHECK(count_of(svg, "<polyline") == 3);
  CHECK(count_of(svg, "class=\"panel\"") == 2);
  CHECK(count_of(svg, "stroke-dasharray") == 1);
  CHECK(svg.find("train &amp; &lt;val&gt;") != std::string::npos);
  CHECK(svg.find("LeNet &quot;BN&quot;") != std::string::npos);
  CHECK(svg.find("width=\"960.00\"") != std::string::npos);
  expect_finite_coordinates(svg, 960, 388);
  // Nice ticks on the loss axis: 0.2 .. 1.0 in steps of 0.2, printed with the step's one decimal.
  CHECK(svg.find(">0.4<") != std::string::npos);
  CHECK(svg.find(">1.0<") != std::string::npos);
  CHECK(svg.find(">5<") != std::string::npos);  // epochs are integers
}

TEST_CASE("NaN points break a line and are never drawn", "[utils][svg]") {
  PlotPanel p;
  const double nan = std::nan("");
  p.series.push_back({"gappy", {1, 2, nan, 4, 5, nan, 7}, {}, "", false});  // runs [0,1], [3,4], [6]
  p.series.push_back({"all missing", {nan, nan}, {}, "", false});
  std::string svg = render_svg({p});
  expect_well_formed(svg);
  CHECK(count_of(svg, "<polyline") == 3);
  CHECK(count_of(svg, "<circle") == 1);  // the lone last point
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("inf") == std::string::npos);
  expect_finite_coordinates(svg, 480, 360);
}

TEST_CASE("shaded bands become polygons between lower and upper", "[utils][svg]") {
  PlotPanel p{"Percentiles", "step", "value", {}, {}};
  p.bands.push_back({"p10-p90", {0, 1, 2, 3}, {2, 3, 4, 5}, {}, "", 0.2});
  p.bands.push_back({"", {0, std::nan(""), 1, 1}, {1, 1, 2, 2}, {}, "#888888", 0.1});  // two runs
  p.series.push_back({"median", {1, 2, 3, 4}, {}, "", false});
  std::string svg = render_svg({p});
  expect_well_formed(svg);
  CHECK(count_of(svg, "<polygon") == 3);
  CHECK(count_of(svg, "<polyline") == 1);
  CHECK(count_of(svg, "fill-opacity=\"0.20\"") == 1);
  // Legend entries: the labelled band and the series.
  CHECK(svg.find(">p10-p90<") != std::string::npos);
  CHECK(svg.find(">median<") != std::string::npos);
  expect_finite_coordinates(svg, 480, 360);
}

TEST_CASE("columns lay panels out in a grid, row by row", "[utils][svg]") {
  std::vector<PlotPanel> panels(5);
  for (size_t i = 0; i < panels.size(); ++i) {
    panels[i].title = "panel " + std::to_string(i);
    panels[i].series.push_back({"s", {1, 2, 3}, {}, "", false});
  }
  PlotOptions options;
  options.columns = 2;  // 3 rows: (0 1) (2 3) (4 _)
  options.title = "grid";
  std::string svg = render_svg(panels, options);
  expect_well_formed(svg);
  CHECK(count_of(svg, "class=\"panel\"") == 5);
  CHECK(svg.find("width=\"960.00\" height=\"1108.00\"") != std::string::npos);  // 2 x 480, 3 x 360 + 28
  expect_finite_coordinates(svg, 960, 1108);
  // Panel titles sit centred over their column, 20 px below the top of their row.
  auto title_at = [&](const std::string& x, const std::string& y, const std::string& text) {
    return svg.find("x=\"" + x + "\" y=\"" + y + "\" text-anchor=\"middle\" font-size=\"14\">" + text +
                    "<") != std::string::npos;
  };
  CHECK(title_at("264.00", "48.00", "panel 0"));
  CHECK(title_at("744.00", "408.00", "panel 3"));
  CHECK(title_at("264.00", "768.00", "panel 4"));
  options.columns = 10;  // more columns than panels: one row, as wide as the panels
  CHECK(render_svg(panels, options).find("width=\"2400.00\" height=\"388.00\"") != std::string::npos);
}

TEST_CASE("degenerate data and bad input", "[utils][svg]") {
  PlotPanel flat;
  flat.series.push_back({"constant", {3, 3, 3}, {}, "", false});
  std::string svg = render_svg({flat});
  expect_well_formed(svg);
  expect_finite_coordinates(svg, 480, 360);
  PlotPanel empty;
  expect_well_formed(render_svg({empty}));
  CHECK_THROWS_AS(render_svg({}), std::invalid_argument);
  PlotPanel mismatched;
  mismatched.series.push_back({"bad", {1, 2, 3}, {1, 2}, "", false});
  CHECK_THROWS_WITH(render_svg({mismatched}), Catch::Contains("'bad' has 3 values but 2 x coordinates"));
}

TEST_CASE("write_svg writes the rendered document", "[utils][svg]") {
  PlotPanel p;
  p.series.push_back({"loss", {1, 0.5, 0.25}, {}, "", false});
  write_svg("curves.svg", {p});
  std::ifstream in("curves.svg");
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK(ss.str() == render_svg({p}));
  std::ifstream temp(hnn::detail::temp_path_for("curves.svg", ::getpid()));
  CHECK_FALSE(temp.good());
}
