// hnn training utilities: ProgressBar (utils/progress.hpp), accuracy / RunningMean / Stopwatch /
// MetricsLogger (utils/metrics.hpp) and the SVG curve plotter (utils/svg_plot.hpp).
#pragma once

#include "hnn/utils/metrics.hpp"
#include "hnn/utils/progress.hpp"
#include "hnn/utils/svg_plot.hpp"
#if __has_include("hnn/utils/activation_monitor.hpp")
#include "hnn/utils/activation_monitor.hpp"
#endif
