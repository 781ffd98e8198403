// Crash safety of include/hnn/io/safetensors.hpp's atomic writes, seen through save_checkpoint
// (include/hnn/io/checkpoint.hpp): a child process that saves a checkpoint of a few MB again and again is
// SIGKILLed at random moments (200 times on tmpfs, 25 more on the disk), and after every kill the file loads
// and holds the last checkpoint the child finished or the one it was writing, never a mix; the temp files
// killed writers leave ("<file>.tmp.<pid>") are removed by the next save. Saving past RLIMIT_FSIZE (a full
// disk, as far as write(2) can tell) throws a clear error and keeps the previous file.
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <hnn/io/checkpoint.hpp>
#include <hnn/io/safetensors.hpp>
#include <hnn/nn/activation.hpp>
#include <hnn/nn/linear.hpp>
#include <hnn/nn/sequential.hpp>
#include <hnn/optim/sgd.hpp>
#include <hnn/tensor.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
namespace nn = hnn::nn;

namespace {

/// 1024*640 + 640 + 640*10 + 10 floats: a 2.6 MB checkpoint.
nn::Sequential<float> make_net() {
  return nn::Sequential<float>{nn::Linear<float>(1024, 640), nn::ReLU<float>(), nn::Linear<float>(640, 10)};
}

/// Version `v` of the checkpoint: every parameter value is v (and epoch is v), so a file mixing two
/// versions, or a short one, cannot pass for either. Writes through data() rather than tensor ops, since
/// the forked child must not start OpenMP threads.
void set_version(nn::Sequential<float>& net, int64_t v) {
  for (auto& p : net.parameters()) std::fill(p.data(), p.data() + p.numel(), static_cast<float>(v));
}

/// Loads `path` and returns its version, failing the test unless every value agrees with the epoch.
int64_t loaded_version(const std::string& path) {
  // One model to load into, reused: a fresh one per trial would spend more time initialising than loading.
  static auto net = make_net();
  static hnn::optim::SGD optimizer(net.parameters(), hnn::optim::SGDOptions(0.1));
  set_version(net, -1);
  const hnn::CheckpointInfo info = hnn::load_checkpoint(path, net, optimizer);
  for (const auto& [name, p] : net.named_parameters()) {
    const float* values = p.data();
    const bool all_equal =
        std::all_of(values, values + p.numel(), [&](float x) { return x == static_cast<float>(info.epoch); });
    INFO("parameter " << name << " of checkpoint epoch " << info.epoch);
    REQUIRE(all_equal);
  }
  return info.epoch;
}

/// Stray temp files next to `target`: "<name>.tmp.<pid>", as pids.
std::set<long> temp_file_pids(const std::string& target) {
  const std::string prefix = fs::path(target).filename().string() + ".tmp.";
  std::set<long> pids;
  for (const auto& entry : fs::directory_iterator(fs::path(target).parent_path())) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) == 0) pids.insert(std::stol(name.substr(prefix.size())));
  }
  return pids;
}

size_t files_in(const fs::path& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

/// In a forked child: saves versions first, first + 1, ... forever, writing each finished version to
/// `report_fd`. The model was built before the fork, and one thread keeps the child out of OpenMP, whose
/// GNU runtime does not survive a fork once its thread pool exists.
template <class Optimizer>
[[noreturn]] void save_forever(const std::string& path, nn::Sequential<float>& net,
                               const Optimizer& optimizer, int64_t first, int report_fd) {
  try {
    hnn::set_num_threads(1);
    for (int64_t v = first;; ++v) {
      set_version(net, v);
      hnn::CheckpointInfo info;
      info.epoch = v;
      hnn::save_checkpoint(path, net, optimizer, info);
      if (::write(report_fd, &v, sizeof v) != static_cast<ssize_t>(sizeof v)) ::_exit(3);
    }
  } catch (...) {
    ::_exit(2);
  }
}

/// Kills and reaps a forked child if the test fails before it has done so itself.
struct ReapOnExit {
  pid_t pid = 0;
  ~ReapOnExit() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
};

/// Resets RLIMIT_FSIZE and the SIGXFSZ disposition when the test leaves, however it leaves.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved_limit_) == 0);
    // Past the limit the kernel sends SIGXFSZ (default: terminate with a core); ignored, write(2) returns
    // EFBIG instead, which is what a library can report.
    saved_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_limit_;
    limit.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_limit_);
    std::signal(SIGXFSZ, saved_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_limit_{};
  void (*saved_handler_)(int) = SIG_DFL;
};

/// What the kill trials saw, to check they hit both inside and between saves.
struct KillStats {
  int kills_mid_save = 0;           // the child left its temp file
  int trials_with_new_version = 0;  // the file moved on during the trial
  size_t most_stray_temps = 0;
};

/// `trials` times: fork a child that saves a checkpoint into `dir` again and again, SIGKILL it after a
/// random delay of 0-20 ms (or of up to four saves, when a save takes longer), and check the file and the
/// temp files it left.
KillStats kill_trials(const fs::path& dir, int trials, uint32_t seed) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "checkpoint.safetensors").string();
  auto net = make_net();
  hnn::optim::SGD optimizer(net.parameters(), hnn::optim::SGDOptions(0.1));
  set_version(net, 0);
  // Kill delays span a few saves: 0-20 ms, or 0-4 saves where one takes longer (a sanitizer build, a busy
  // machine), so that kills land both inside and between saves whatever the speed of this build.
  const auto save_start = std::chrono::steady_clock::now();
  hnn::save_checkpoint(path, net, optimizer);
  const auto save_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - save_start)
          .count();
  REQUIRE(fs::file_size(path) > 2'000'000);

  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> delay_us(0, static_cast<int>(std::max<int64_t>(20'000, 4 * save_us)));
  int64_t version = 0;
  KillStats stats;
  std::set<long> children;
  for (int trial = 0; trial < trials; ++trial) {
    int report[2];
    REQUIRE(::pipe(report) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(report[0]);
      save_forever(path, net, optimizer, version + 1, report[1]);
    }
    ReapOnExit reap{child};
    ::close(report[1]);
    children.insert(child);
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    REQUIRE(::kill(child, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    reap.pid = 0;
    INFO("trial " << trial << ": child " << child << " exit status " << status);
    REQUIRE(WIFSIGNALED(status));  // a child that exited by itself (2, 3) hit an error while saving
    REQUIRE(WTERMSIG(status) == SIGKILL);

    int64_t finished = version, v = 0;  // the last version the child reported as saved
    while (::read(report[0], &v, sizeof v) == static_cast<ssize_t>(sizeof v)) finished = v;
    ::close(report[0]);

    // The rename may have landed just before the kill and the report not: then the file is one ahead.
    const int64_t on_disk = loaded_version(path);
    INFO("the child finished version " << finished << ", the file holds version " << on_disk);
    REQUIRE((on_disk == finished || on_disk == finished + 1));
    if (on_disk > version) ++stats.trials_with_new_version;

    // Stray temps belong to killed children only. A child clears the dead writers' temps before it
    // creates its own, so when this child left one, it is the only one.
    const std::set<long> strays = temp_file_pids(path);
    for (long pid : strays) {
      INFO("stray temp file of pid " << pid);
      REQUIRE(children.count(pid) == 1);
    }
    if (strays.count(child)) {
      ++stats.kills_mid_save;
      REQUIRE(strays.size() == 1);
    }
    stats.most_stray_temps = std::max(stats.most_stray_temps, strays.size());
    version = on_disk;
  }

  // The next save, from a live process, removes every leftover and the directory holds the one file.
  set_version(net, version + 1);
  hnn::CheckpointInfo info;
  info.epoch = version + 1;
  hnn::save_checkpoint(path, net, optimizer, info);
  CHECK(loaded_version(path) == version + 1);
  CHECK(temp_file_pids(path).empty());
  CHECK(files_in(dir) == 1);
  fs::remove_all(dir);
  return stats;
}

/// A scratch directory on tmpfs when there is one: a SIGKILL cannot undo what rename(2) put in the page
/// cache, so a RAM file system tests the same guarantee, and without fsync's disk latency (~10-20 ms per
/// save here) 200 trials take about 2 s instead of 9. The test on the real disk is the one below.
fs::path fast_scratch_dir(const std::string& name) {
  std::error_code ec;
  if (fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0)
    return fs::path("/dev/shm") / (name + "." + std::to_string(::getpid()));
  return name;
}

}  // namespace

TEST_CASE("a saver SIGKILLed at random moments always leaves the previous or the new checkpoint",
          "[io][crash]") {
  constexpr int trials = 200;
  const KillStats stats = kill_trials(fast_scratch_dir("crash_kill"), trials, 2024);
  // The random delays must have hit both inside and between saves, or the test proved little.
  INFO(stats.kills_mid_save << " of " << trials << " kills left a temp file, "
                            << stats.trials_with_new_version << " trials advanced the checkpoint, at most "
                            << stats.most_stray_temps << " stray temps");
  CHECK(stats.kills_mid_save > 0);
  CHECK(stats.trials_with_new_version > 0);
}

TEST_CASE("SIGKILLed saves on the disk, fsync included, leave the previous or the new checkpoint",
          "[io][crash]") {
  kill_trials("crash_kill_disk", 25, 7);
}

TEST_CASE("the next save removes temp files of dead writers and keeps those of live ones", "[io][crash]") {
  const fs::path dir = "crash_stale";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "model.safetensors").string();

  // A pid that surely exists and is not ours (the parent), and one that surely does not (a reaped child).
  const pid_t live = ::getppid();
  const pid_t dead = ::fork();
  REQUIRE(dead >= 0);
  if (dead == 0) ::_exit(0);
  REQUIRE(::waitpid(dead, nullptr, 0) == dead);

  const std::string dead_temp = hnn::io::detail::temp_path_for(path, dead);
  const std::string live_temp = hnn::io::detail::temp_path_for(path, live);
  const std::string other_file = path + ".tmp.notapid";
  const std::string other_target_temp = (dir / "other.safetensors").string() + ".tmp." + std::to_string(dead);
  for (const auto& name : {dead_temp, live_temp, other_file, other_target_temp})
    std::ofstream(name) << "partial";

  hnn::io::write_safetensors(path, {{"w", hnn::AnyTensor<hnn::CPU>(hnn::ones<float>({4}))}});
  CHECK_FALSE(fs::exists(dead_temp));
  CHECK(fs::exists(live_temp));          // maybe a concurrent save: not ours to remove
  CHECK(fs::exists(other_file));         // not a temp name of ours
  CHECK(fs::exists(other_target_temp));  // another target's temp is that target's business
  CHECK(hnn::io::read_safetensors(path).tensors.size() == 1);
}

TEST_CASE("saving onto a full file system throws a clear error and keeps the previous checkpoint",
          "[io][crash]") {
  const fs::path dir = "crash_full";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "checkpoint.safetensors").string();
  auto net = make_net();
  hnn::optim::SGD optimizer(net.parameters(), hnn::optim::SGDOptions(0.1));
  set_version(net, 1);
  hnn::CheckpointInfo info;
  info.epoch = 1;
  hnn::save_checkpoint(path, net, optimizer, info);
  const auto size_before = fs::file_size(path);

  set_version(net, 2);
  info.epoch = 2;
  {
    // No file of this process may grow past 1 MB: the 2.6 MB save runs out of room part-way.
    FileSizeLimit limit(1'000'000);
    try {
      hnn::save_checkpoint(path, net, optimizer, info);
      FAIL("save_checkpoint past RLIMIT_FSIZE did not throw");
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      INFO(message);
      CHECK_THAT(message, Catch::Contains(std::strerror(EFBIG)));  // "File too large"
      CHECK_THAT(message, Catch::Contains(hnn::io::detail::temp_path_for(path, ::getpid())));
      CHECK_THAT(message, Catch::Contains("'" + path + "' is left as it was"));
    }
  }
  CHECK(fs::file_size(path) == size_before);
  CHECK(loaded_version(path) == 1);
  CHECK(files_in(dir) == 1);  // the failed save removed its temp file

  // With room again, the same save goes through.
  hnn::save_checkpoint(path, net, optimizer, info);
  CHECK(loaded_version(path) == 2);
  CHECK(files_in(dir) == 1);
}
