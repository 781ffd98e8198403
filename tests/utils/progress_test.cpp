// Tests for include/hnn/utils/progress.hpp: the rendered line (bar, counts, elapsed<ETA, rate, postfix),
// plain-mode output every 10 %, terminal-mode throttling with '\r' redraws, and the disabled bar.
#include <algorithm>
#include <catch2/catch.hpp>
#include <hnn/utils/progress.hpp>
#include <sstream>
#include <string>
#include <vector>

using hnn::utils::ProgressBar;
using hnn::utils::ProgressBarOptions;

namespace {

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

ProgressBarOptions options(std::ostream& os, double& now, int64_t total, bool terminal) {
  ProgressBarOptions o;
  o.description = "epoch 3/10";
  o.total = total;
  o.stream = &os;
  o.terminal = terminal;
  o.clock = [&now] { return now; };
  return o;
}

}  // namespace

TEST_CASE("the progress line reads like tqdm's", "[utils][progress]") {
  std::ostringstream os;
  double now = 0;
  ProgressBar bar(options(os, now, 235, false));
  bar.set_postfix("loss", 0.43121);
  // 120 of 235 after 2.3 s: 52.2 batch/s, 115 left -> 2.2 s.
  CHECK(bar.render(120, 2.3) ==
        "epoch 3/10 |\u2588\u2588\u2588\u2588\u2588     | 120/235 [00:02<00:02, 52.2 batch/s, loss=0.4312]");
  CHECK(bar.render(0, 0.0) == "epoch 3/10 |          | 0/235 [00:00<?, ? batch/s, loss=0.4312]");
  bar.set_postfix("loss", 0.25);
  bar.set_postfix("acc", std::string("0.91"));
  CHECK(bar.render(235, 4000.0) ==
        "epoch 3/10 |\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588| 235/235 [1:06:40<00:00, "
        "17.0 s/batch, loss=0.2500, acc=0.91]");
  CHECK(ProgressBar::format_time(59.9) == "00:59");
  CHECK(ProgressBar::format_time(3600) == "1:00:00");
}

TEST_CASE("plain mode prints one line per 10 % and the final state once", "[utils][progress]") {
  std::ostringstream os;
  double now = 0;
  {
    ProgressBar bar(options(os, now, 50, false));
    for (int i = 0; i < 50; ++i) {
      now += 0.01;
      bar.set_postfix("loss", 1.0 / (i + 1));
      bar.update();
    }
  }  // the destructor closes without repeating the 50/50 line
  auto lines = lines_of(os.str());
  REQUIRE(lines.size() == 10);
  CHECK(lines.front().find("| 5/50 [") != std::string::npos);
  CHECK(lines.back().find("| 50/50 [00:00<00:00, 100.0 batch/s, loss=0.0200]") != std::string::npos);
  CHECK(os.str().find('\r') == std::string::npos);
}

TEST_CASE("plain mode with an unknown total prints the count at close", "[utils][progress]") {
  std::ostringstream os;
  double now = 0;
  ProgressBar bar(options(os, now, 0, false));
  bar.update(7);
  now = 2;
  bar.close();
  bar.update();  // after close: silent
  CHECK(os.str() == "epoch 3/10 7 batch [00:02, 3.5 batch/s]\n");
}

TEST_CASE("terminal mode redraws in place at most ~10 times a second", "[utils][progress]") {
  std::ostringstream os;
  double now = 0;
  ProgressBar bar(options(os, now, 100, true));
  for (int i = 0; i < 100; ++i) {
    now += 0.005;  // 0.5 s in all -> draws at 0.005, ~0.105, ... and the last step
    bar.update();
  }
  bar.close();
  const std::string out = os.str();
  const auto redraws = std::count(out.begin(), out.end(), '\r');
  CHECK(redraws >= 5);
  CHECK(redraws <= 8);
  CHECK(out.back() == '\n');
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  CHECK(out.find("100/100") != std::string::npos);
}

TEST_CASE("a disabled progress bar writes nothing", "[utils][progress]") {
  std::ostringstream os;
  double now = 0;
  auto o = options(os, now, 10, true);
  o.enabled = false;
  {
    ProgressBar bar(o);
    for (int i = 0; i < 10; ++i) bar.update();
    CHECK(bar.count() == 10);
  }
  CHECK(os.str().empty());
}
