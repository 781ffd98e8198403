// The bad-input catalogue (issue #8): one table of malformed inputs across the public surface - tensor ops,
// modules, losses, optimisers, data files, checkpoints, PyTorch's torch.save files - each run in a forked
// child under a memory cap. A case passes when it throws the expected exception type with a message that
// names the offending thing (shape, file and byte offset, key) and stays within the memory its input
// justifies: the child's address space is capped with RLIMIT_AS (a header claiming 2^31 images cannot be
// honoured, it must be refused) and its peak RSS growth is measured (VmHWM after resetting it through
// /proc/self/clear_refs). The example programs' command lines are checked by ctest tests in
// examples/CMakeLists.txt (same label).
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <hnn/hnn.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

namespace fs = std::filesystem;

#if defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer an allocation the system cannot serve (4 TiB, or past the child's address-space
// cap) aborts the process by default; with allocator_may_return_null it returns null as glibc's malloc
// does, so hnn's allocator reports it as it would in a normal build. Leak detection stays on.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#endif
using hnn::Tensor;
namespace tf = hnn::io::detail::torch_file;
using namespace std::string_literals;  // "...\x00..."s keeps the NULs of pickle bytes

namespace {

// ---- the isolation harness -----------------------------------------------------------------------------

/// What a case may use on top of what the process had when it started: address space (RLIMIT_AS; glibc's
/// per-thread arenas are limited to one so threads do not reserve 64 MiB each) and resident memory.
constexpr long address_space_budget_kib = 256 * 1024;
constexpr long rss_budget_kib = 16 * 1024;
constexpr unsigned case_timeout_s = 30;

enum class Throws { InvalidArgument, RuntimeError };

const char* to_string(Throws t) {
  return t == Throws::InvalidArgument ? "std::invalid_argument" : "std::runtime_error";
}

struct Outcome {
  std::string kind;  // "std::invalid_argument", "std::runtime_error", "nothing", "std::bad_alloc", "killed by
                     // signal N", ...
  std::string message;
  long rss_growth_kib = -1;  // -1: the peak could not be reset, so it was not measured
};

/// A field of /proc/self/status in KiB ("VmSize", "VmRSS", "VmHWM"); -1 when absent.
long status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) return std::stol(line.substr(prefix.size()));
  return -1;
}

/// Resets VmHWM to the current RSS (Linux >= 4.0); false when /proc does not allow it.
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

void write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

/// Runs fn in a forked child under the memory caps and reports how it ended. The parent never runs hnn
/// code itself, so no OpenMP pool exists at fork time.
Outcome run_isolated(const std::function<void()>& fn) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    ::alarm(case_timeout_s);  // a case that hangs dies of SIGALRM and is reported
    mallopt(M_ARENA_MAX, 1);
    const long rss_before = status_kib("VmRSS");
    const bool peak_reset = reset_peak_rss();
    const long limit_kib = status_kib("VmSize") + address_space_budget_kib;
    const rlimit limit{static_cast<rlim_t>(limit_kib) * 1024, static_cast<rlim_t>(limit_kib) * 1024};
    ::setrlimit(RLIMIT_AS, &limit);
    std::string kind, message;
    try {
      fn();
      kind = "nothing";
    } catch (const std::invalid_argument& e) {
      kind = "std::invalid_argument";
      message = e.what();
    } catch (const std::runtime_error& e) {
      kind = "std::runtime_error";
      message = e.what();
    } catch (const std::bad_alloc& e) {
      kind = "std::bad_alloc (the case asked for more memory than its budget)";
    } catch (const std::exception& e) {
      kind = std::string("another exception type (") + typeid(e).name() + ")";
      message = e.what();
    } catch (...) {
      kind = "an exception not derived from std::exception";
    }
    const long growth = peak_reset ? status_kib("VmHWM") - rss_before : -1;
    write_all(fds[1], kind + '\0' + message + '\0' + std::to_string(growth));
    ::close(fds[1]);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string report;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;)
    report.append(buffer, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  Outcome outcome;
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    outcome.kind = "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
    return outcome;
  }
  const size_t a = report.find('\0'), b = a == std::string::npos ? a : report.find('\0', a + 1);
  if (b == std::string::npos) {
    outcome.kind = "no report from the child (exit status " + std::to_string(WEXITSTATUS(status)) + ")";
    return outcome;
  }
  outcome.kind = report.substr(0, a);
  outcome.message = report.substr(a + 1, b - a - 1);
  outcome.rss_growth_kib = std::stol(report.substr(b + 1));
  return outcome;
}

// ---- file builders ------------------------------------------------------------------------------------

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

/// An IDX file of unsigned bytes: magic 0x0000080<ndim>, the sizes, then `payload` bytes (pattern).
std::string idx(std::vector<uint32_t> sizes, size_t payload, uint32_t magic = 0) {
  std::string bytes = be32(magic ? magic : 0x0800u | static_cast<uint32_t>(sizes.size()));
  for (uint32_t s : sizes) bytes += be32(s);
  for (size_t i = 0; i < payload; ++i) bytes += static_cast<char>(i % 10);
  return bytes;
}

/// An MNIST folder with training images and labels as given.
fs::path mnist_dir(const fs::path& dir, const std::string& images, const std::string& labels) {
  write_file(dir / "train-images-idx3-ubyte", images);
  write_file(dir / "train-labels-idx1-ubyte", labels);
  return dir;
}

/// A safetensors file: the 8-byte little-endian header length (`length` when given, else the header's
/// size), the JSON header and `data` zero bytes.
fs::path safetensors(const fs::path& path, const std::string& header, size_t data,
                     std::optional<uint64_t> length = std::nullopt) {
  const uint64_t n = length.value_or(header.size());
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes += static_cast<char>(n >> (8 * i));
  write_file(path, bytes + header + std::string(data, '\0'));
  return path;
}

/// The header of a Linear(3, 2) state dict, F32: weight [2, 3] (24 bytes) then bias [2] (8 bytes).
const char* linear_header = R"({"weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                            R"("bias":{"dtype":"F32","shape":[2],"data_offsets":[24,32]}})";

/// A torch.save-shaped archive (archive/data.pkl, storages under archive/data/, archive/version).
fs::path torch_file(const fs::path& path, const std::string& pickle,
                    const std::vector<std::pair<std::string, std::string>>& storages = {}) {
  std::vector<std::pair<std::string, std::string>> records = {{"archive/data.pkl", pickle}};
  for (const auto& [key, bytes] : storages) records.emplace_back("archive/data/" + key, bytes);
  records.emplace_back("archive/version", "3\n");
  write_file(path, tf::zip_archive(records));
  return path;
}

/// A state dict of one float32 tensor `key` viewing storage "0" of `storage_numel` elements (the storage
/// entry holds four floats).
fs::path torch_view(const fs::path& path, const std::string& key, int64_t storage_numel, int64_t offset,
                    std::vector<int64_t> sizes, std::vector<int64_t> strides) {
  tf::PickledTensor t;
  t.key = key;
  t.kind = tf::StorageKind::Float;
  t.storage_key = "0";
  t.storage_numel = storage_numel;
  t.storage_offset = offset;
  t.sizes = std::move(sizes);
  t.strides = std::move(strides);
  return torch_file(path, tf::PickleWriter().state_dict({t}), {{"0", std::string(16, '\0')}});
}

/// A Linear(3, 2) saved by hnn::save in torch.save's format, read back as bytes.
std::string linear_pt(const fs::path& path) {
  hnn::nn::Linear lin(3, 2);
  hnn::save(lin, path.string());
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// ---- the catalogue ----------------------------------------------------------------------------------

struct BadInput {
  std::string area;  // "tensor", "nn", "loss", "optim", "data", "checkpoint", "torch", "harness"
  std::string name;  // what is wrong
  Throws expected;
  std::vector<std::string> mentions;             // what the message must name
  std::function<void(const fs::path& dir)> run;  // dir: an empty scratch folder for the case's files
};

std::vector<BadInput> catalogue() {
  const Throws ia = Throws::InvalidArgument, rt = Throws::RuntimeError;
  std::vector<BadInput> c;
  auto add = [&](std::string area, std::string name, Throws expected, std::vector<std::string> mentions,
                 std::function<void(const fs::path&)> run) {
    c.push_back({std::move(area), std::move(name), expected, std::move(mentions), std::move(run)});
  };

  // ---- tensor ops ----
  add("tensor", "add with shapes that do not broadcast", ia, {"[2, 3]", "[4, 2]", "must match"}, [](auto&) {
    (void)(hnn::zeros<float>({2, 3}) + hnn::zeros<float>({4, 2}));
  });
  add("tensor", "broadcast failing in a middle dimension", ia, {"[2, 3, 4]", "[5, 1]", "dimension 1"},
      [](auto&) {
        (void)(hnn::zeros<double>({2, 3, 4}) * hnn::zeros<double>({5, 1}));
      });
  add("tensor", "reshape to a wrong size", ia, {"[4, 2]", "input of size 6"}, [](auto&) {
    (void)hnn::zeros<float>({2, 3}).reshape({4, 2});
  });
  add("tensor", "view with two inferred dimensions", ia, {"only one dimension can be inferred", "[-1, -1]"},
      [](auto&) {
        (void)hnn::zeros<float>({2, 3}).view({-1, -1});
      });
  add("tensor", "matmul with mismatched inner dimensions", ia, {"cannot be multiplied", "2x3", "4x5"},
      [](auto&) {
        (void)hnn::matmul(hnn::zeros<float>({2, 3}), hnn::zeros<float>({4, 5}));
      });
  add("tensor", "negative size", ia, {"negative dimension", "[2, -3]"}, [](auto&) {
    (void)hnn::zeros<float>({2, -3});
  });
  add("tensor", "sizes whose product overflows int64", ia, {"[4294967296, 4294967296, 4294967296]", "int64"},
      [](auto&) {
        (void)hnn::zeros<float>({int64_t(1) << 32, int64_t(1) << 32, int64_t(1) << 32});
      });
  add("tensor", "element count whose byte size overflows", ia, {"[2147483648, 2147483648]", "bytes"},
      [](auto&) {
        (void)hnn::zeros<float>({int64_t(1) << 31, int64_t(1) << 31});
      });
  // 2^63 bytes used to spin forever in the allocator's bucket rounding (its power of two wrapped to 0).
  add("tensor", "byte size of exactly 2^63", ia, {"[2305843009213693952]", "2^62 bytes"},
      [](auto&) { (void)hnn::zeros<float>({int64_t(1) << 61}); });
  add("tensor", "more memory than exists (4 TiB)", rt, {"not enough memory", "4398046511104 bytes"},
      [](auto&) { (void)hnn::empty<float>({int64_t(1) << 40}); });
  add("tensor", "tensor() with a value count that does not fill the shape", ia, {"3", "[2, 2]"}, [](auto&) {
    (void)hnn::tensor<float>({1, 2, 3}, {2, 2});
  });
  add("tensor", "item() on many elements", ia, {"6 elements", "[2, 3]", "item()"}, [](auto&) {
    (void)hnn::zeros<float>({2, 3}).item();
  });
  add("tensor", "dimension out of range", ia, {"Dimension out of range", "[-2, 1]", "got 5"}, [](auto&) {
    (void)hnn::zeros<float>({2, 3}).sum({5});
  });
  add("tensor", "cat of tensors whose sizes differ", ia, {"[2, 3]", "[2, 4]", "dimension 0"}, [](auto&) {
    (void)hnn::cat<float, hnn::CPU>({hnn::zeros<float>({2, 3}), hnn::zeros<float>({2, 4})}, 0);
  });
  add("tensor", "permute with a repeated dimension", ia, {"repeated dim", "[1, 1]"}, [](auto&) {
    (void)hnn::zeros<float>({2, 3}).permute({1, 1});
  });
  add("tensor", "backward twice through a freed graph", rt, {"second time", "SumBackward", "retain_graph"},
      [](auto&) {
        auto x = hnn::ones<double>({3}).requires_grad_();
        auto loss = (x * x).sum();
        loss.backward();
        loss.backward();
      });
  add("tensor", "backward() on a non-scalar without a gradient", rt, {"scalar outputs", "[2, 3]"}, [](auto&) {
    (hnn::ones<float>({2, 3}).requires_grad_() * 2.0f).backward();
  });
  add("tensor", "backward with a gradient of the wrong shape", ia, {"[3]", "[2, 3]"}, [](auto&) {
    (hnn::ones<float>({2, 3}).requires_grad_() * 2.0f).backward(hnn::ones<float>({3}));
  });
  add("tensor", "requires_grad on an int64 tensor", ia, {"int64"},
      [](auto&) { (void)hnn::zeros<int64_t>({2}).requires_grad_(); });

  // ---- modules ----
  add("nn", "BatchNorm1d with the wrong channel count", ia,
      {"running_mean should contain 5 elements not 3", "[4, 5]"}, [](auto&) {
        hnn::nn::BatchNorm1d bn(3);
        (void)bn(hnn::ones<float>({4, 5}));
      });
  add("nn", "BatchNorm2d given a 3-D input", ia, {"expected 4D input (got 3D input)"}, [](auto&) {
    hnn::nn::BatchNorm2d bn(3);
    (void)bn(hnn::ones<float>({2, 3, 4}));
  });
  add("nn", "BatchNorm1d training on one value per channel", ia,
      {"Expected more than 1 value per channel when training", "[1, 3]"}, [](auto&) {
        hnn::nn::BatchNorm1d bn(3);
        (void)bn(hnn::ones<float>({1, 3}));
      });
  add("nn", "BatchNorm with zero features", ia, {"num_features", "0"},
      [](auto&) { hnn::nn::BatchNorm1d bn(0); });
  add("nn", "Linear given the wrong in-features", ia, {"4 features", "[3, 5]"}, [](auto&) {
    hnn::nn::Linear lin(4, 2);
    (void)lin(hnn::ones<float>({3, 5}));
  });
  add("nn", "Conv2d input smaller than its kernel", ia, {"[1, 1, 3, 3]", "smaller than the kernel", "(5, 5)"},
      [](auto&) {
        hnn::nn::Conv2d conv(hnn::nn::Conv2dOptions(1, 6, 5));
        (void)conv(hnn::ones<float>({1, 1, 3, 3}));
      });
  add("nn", "Conv2d with the wrong channel count", ia, {"3 channels", "[2, 1, 8, 8]"}, [](auto&) {
    hnn::nn::Conv2d conv(hnn::nn::Conv2dOptions(3, 4, 3));
    (void)conv(hnn::ones<float>({2, 1, 8, 8}));
  });
  add("nn", "Conv2d with a zero kernel", ia, {"kernel_size must be positive", "(0, 0)"},
      [](auto&) { hnn::nn::Conv2d conv(hnn::nn::Conv2dOptions(1, 1, 0)); });
  add("nn", "MaxPool2d on an input smaller than its window", ia, {"[1, 1, 1, 1]", "output size is too small"},
      [](auto&) {
        hnn::nn::MaxPool2d pool(2, 2);
        (void)pool(hnn::ones<float>({1, 1, 1, 1}));
      });
  add("nn", "AvgPool2d on a 2-D input", ia, {"AvgPool2d", "[4, 4]"}, [](auto&) {
    hnn::nn::AvgPool2d pool(2, 2);
    (void)pool(hnn::ones<float>({4, 4}));
  });
  add("nn", "Dropout probability above 1", ia, {"between 0 and 1", "1.5"},
      [](auto&) { hnn::nn::Dropout drop(1.5); });
  add("nn", "Sequential index out of range", ia, {"index 5", "2 modules"}, [](auto&) {
    hnn::nn::Sequential<float> seq{hnn::nn::ReLU(), hnn::nn::Tanh()};
    (void)seq[5];
  });

  // ---- losses ----
  add("loss", "CrossEntropyLoss target with the wrong shape", ia, {"[4]", "[5]"}, [](auto&) {
    hnn::nn::CrossEntropyLoss ce;
    (void)ce(hnn::zeros<float>({4, 3}), hnn::zeros<int64_t>({5}));
  });
  add("loss", "CrossEntropyLoss class index out of range", ia,
      {"Target 7 is out of bounds", "number of classes: 3"}, [](auto&) {
        hnn::nn::CrossEntropyLoss ce;
        (void)ce(hnn::zeros<float>({2, 3}), hnn::tensor<int64_t>({0, 7}, {2}));
      });
  add("loss", "NLLLoss negative class index", ia, {"Target -1 is out of bounds"}, [](auto&) {
    hnn::nn::NLLLoss nll;
    (void)nll(hnn::zeros<float>({2, 3}), hnn::tensor<int64_t>({-1, 0}, {2}));
  });
  add("loss", "CrossEntropyLoss negative target probabilities", ia, {"non-negative", "-0.5", "flat index 1"},
      [](auto&) {
        hnn::nn::CrossEntropyLoss ce;
        (void)ce(hnn::zeros<float>({1, 3}), hnn::tensor<float>({1.0f, -0.5f, 0.5f}, {1, 3}));
      });
  add("loss", "MSELoss target shape differs", ia, {"[4, 1]", "[4]"}, [](auto&) {
    hnn::nn::MSELoss mse;
    (void)mse(hnn::zeros<float>({4, 1}), hnn::zeros<float>({4}));
  });
  add("loss", "BCELoss input outside [0, 1]", ia, {"between 0 and 1", "1.5"}, [](auto&) {
    hnn::nn::BCELoss bce;
    (void)bce(hnn::tensor<float>({0.5f, 1.5f}, {2}), hnn::zeros<float>({2}));
  });

  // ---- optimisers ----
  auto params = [] { return std::vector<Tensor<float>>{hnn::zeros<float>({2}).requires_grad_()}; };
  add("optim", "SGD with a negative learning rate", ia, {"Invalid learning rate: -0.1"},
      [=](auto&) { hnn::optim::SGD opt(params(), hnn::optim::SGDOptions(-0.1)); });
  add("optim", "SGD with negative momentum", ia, {"Invalid momentum value: -0.5"},
      [=](auto&) { hnn::optim::SGD opt(params(), hnn::optim::SGDOptions(0.1).momentum(-0.5)); });
  add("optim", "SGD nesterov without momentum", ia, {"Nesterov momentum requires a momentum"},
      [=](auto&) { hnn::optim::SGD opt(params(), hnn::optim::SGDOptions(0.1).nesterov(true)); });
  add("optim", "Adam with a negative learning rate", ia, {"Invalid learning rate: -1.0"},
      [=](auto&) { hnn::optim::Adam opt(params(), hnn::optim::AdamOptions(-1.0)); });
  add("optim", "Adam with beta1 = 1", ia, {"Invalid beta parameter at index 0: 1.0"}, [=](auto&) {
    hnn::optim::Adam opt(params(), hnn::optim::AdamOptions(1e-3).betas({1.0, 0.999}));
  });
  add("optim", "AdamW with a negative beta2", ia, {"Invalid beta parameter at index 1: -0.1"}, [=](auto&) {
    hnn::optim::AdamW opt(params(), hnn::optim::AdamWOptions(1e-3).betas({0.9, -0.1}));
  });
  add("optim", "Adam with a negative epsilon", ia, {"Invalid epsilon value: -1e-08"},
      [=](auto&) { hnn::optim::Adam opt(params(), hnn::optim::AdamOptions(1e-3).eps(-1e-8)); });
  add("optim", "AdamW with a negative weight decay", ia, {"Invalid weight_decay value: -0.01"},
      [=](auto&) { hnn::optim::AdamW opt(params(), hnn::optim::AdamWOptions(1e-3).weight_decay(-0.01)); });
  add("optim", "an optimizer over a non-leaf tensor", ia, {"non-leaf"}, [](auto&) {
    auto leaf = hnn::zeros<float>({2}).requires_grad_();
    hnn::optim::SGD opt(std::vector<Tensor<float>>{leaf * 2.0f}, hnn::optim::SGDOptions(0.1));
  });
  add("optim", "StepLR with step_size 0", ia, {"step_size must be positive, got 0"}, [=](auto&) {
    hnn::optim::SGD opt(params(), hnn::optim::SGDOptions(0.1));
    hnn::optim::StepLR sched(opt, 0);
  });
  add("optim", "ReduceLROnPlateau with factor 1", ia, {"Factor should be < 1.0", "1.0"}, [=](auto&) {
    hnn::optim::SGD opt(params(), hnn::optim::SGDOptions(0.1));
    hnn::optim::ReduceLROnPlateau sched(opt, hnn::optim::ReduceLROnPlateauOptions().factor(1.0));
  });

  // ---- data files ----
  add("data", "IDX bad magic number", rt,
      {"train-images-idx3-ubyte", "bad magic number at byte offset 0", "0x00000803"},
      [](const fs::path& dir) {
        mnist_dir(dir, idx({2, 2, 2}, 8, 0x00000804), idx({2}, 2));
        hnn::data::MNIST<float> set(dir.string(), true);
      });
  add("data", "IDX truncated header", rt,
      {"train-images-idx3-ubyte", "truncated header at byte offset 4", "10 bytes"}, [](const fs::path& dir) {
        mnist_dir(dir, idx({2, 2, 2}, 0).substr(0, 10), idx({2}, 2));
        hnn::data::MNIST<float> set(dir.string(), true);
      });
  add("data", "IDX truncated image data", rt,
      {"train-images-idx3-ubyte", "truncated image data at byte offset 16", "2 images of 28x28", "100"},
      [](const fs::path& dir) {
        mnist_dir(dir, idx({2, 28, 28}, 100), idx({2}, 2));
        hnn::data::MNIST<float> set(dir.string(), true);
      });
  add("data", "IDX header claiming 2^31 images in a 1 KB file", rt,
      {"train-images-idx3-ubyte", "byte offset 16", "2147483648 images of 28x28"}, [](const fs::path& dir) {
        mnist_dir(dir, idx({uint32_t(1) << 31, 28, 28}, 1000), idx({2}, 2));
        hnn::data::MNIST<float> set(dir.string(), true);
      });
  add("data", "IDX sizes whose product overflows", rt, {"dimensions overflow at byte offset", "4294967295"},
      [](const fs::path& dir) {
        mnist_dir(dir, idx({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, 16), idx({2}, 2));
        hnn::data::MNIST<float> set(dir.string(), true);
      });
  add("data", "IDX trailing data", rt,
      {"train-labels-idx1-ubyte", "unexpected trailing data at byte offset 10"}, [](const fs::path& dir) {
        mnist_dir(dir, idx({2, 2, 2}, 8), idx({2}, 3));
        hnn::data::MNIST<float> set(dir.string(), true);
      });
  add("data", "MNIST label/image count mismatch", rt,
      {"count mismatch", "train-labels-idx1-ubyte", "declares 3 labels", "train-images-idx3-ubyte",
       "2 images"},
      [](const fs::path& dir) {
        mnist_dir(dir, idx({2, 2, 2}, 8), idx({3}, 3));
        hnn::data::MNIST<float> set(dir.string(), true);
      });
  add("data", "MNIST folder that does not exist", rt, {"train-images-idx3-ubyte", "hnn-no-such-folder"},
      [](const fs::path& dir) { hnn::data::MNIST<float> set((dir / "hnn-no-such-folder").string(), true); });
  add("data", "gzip labels that are not gzip", rt, {"train-labels-idx1-ubyte.gz", "gzip"},
      [](const fs::path& dir) {
        write_file(dir / "train-images-idx3-ubyte", idx({2, 2, 2}, 8));
        write_file(dir / "train-labels-idx1-ubyte.gz", idx({2}, 2) + std::string(20, 'x'));
        hnn::data::MNIST<float> set(dir.string(), true);
      });
  add("data", "CIFAR-10 truncated record", rt,
      {"test_batch.bin", "truncated record at byte offset 3073", "3173 bytes"}, [](const fs::path& dir) {
        write_file(dir / "test_batch.bin", std::string(3073 + 100, '\1'));
        hnn::data::CIFAR10<float> set(dir.string(), false);
      });
  add("data", "CIFAR-10 label outside 0..9", rt,
      {"test_batch.bin", "bad label 12 at byte offset 3073", "record 1"}, [](const fs::path& dir) {
        std::string bytes(2 * 3073, '\1');
        bytes[3073] = 12;
        write_file(dir / "test_batch.bin", bytes);
        hnn::data::CIFAR10<float> set(dir.string(), false);
      });
  add("data", "CSV ragged row", rt, {"rows.csv", "ragged row at line 3", "2 fields, expected 3"},
      [](const fs::path& dir) {
        write_file(dir / "rows.csv", "a,b,label\n1,2,0\n3,4\n");
        hnn::data::CSVDataset<float> set((dir / "rows.csv").string());
      });
  add("data", "CSV non-numeric cell", rt, {"cells.csv", "non-numeric value 'abc' at line 3, column 1", "'b'"},
      [](const fs::path& dir) {
        write_file(dir / "cells.csv", "a,b,label\n1,2,0\n3,abc,1\n");
        hnn::data::CSVDataset<float> set((dir / "cells.csv").string());
      });
  add("data", "CSV missing label column", ia,
      {"label.csv", "no label column named 'target'", "'a', 'b', 'label'"}, [](const fs::path& dir) {
        write_file(dir / "label.csv", "a,b,label\n1,2,0\n");
        hnn::data::CSVDataset<float> set((dir / "label.csv").string(),
                                         hnn::data::CSVOptions().label_column("target"));
      });
  add("data", "CSV label column index out of range", ia, {"index.csv", "label column index 5", "3 columns"},
      [](const fs::path& dir) {
        write_file(dir / "index.csv", "1,2,0\n3,4,1\n");
        hnn::data::CSVDataset<float> set((dir / "index.csv").string(),
                                         hnn::data::CSVOptions().label_column(5));
      });
  add("data", "CSV empty file", rt, {"empty.csv", "empty file"}, [](const fs::path& dir) {
    write_file(dir / "empty.csv", "\n\n");
    hnn::data::CSVDataset<float> set((dir / "empty.csv").string());
  });
  add("data", "CSV unterminated quote", rt, {"quote.csv", "line 2", "unterminated quoted field"},
      [](const fs::path& dir) {
        write_file(dir / "quote.csv", "1,2,0\n3,\"4,1\n");
        hnn::data::CSVDataset<float> set((dir / "quote.csv").string());
      });
  add("data", "TensorDataset with fewer targets than samples", ia, {"4 samples", "[4, 2]", "[3]"}, [](auto&) {
    hnn::data::TensorDataset<float, int64_t> set(hnn::zeros<float>({4, 2}), hnn::zeros<int64_t>({3}));
  });
  add("data", "DataLoader batch size 0", ia, {"batch_size", "got batch_size=0"},
      [](auto&) { (void)hnn::data::DataLoaderOptions().batch_size(0); });

  // ---- checkpoints ----
  add("checkpoint", "header length beyond the file", rt,
      {"len.safetensors", "header length 4096", "byte offset 0"}, [](const fs::path& dir) {
        hnn::io::read_safetensors(safetensors(dir / "len.safetensors", "{}", 0, 4096).string());
      });
  add("checkpoint", "header length of 2^63 in a small file", rt,
      {"huge.safetensors", "header length 9223372036854775808"}, [](const fs::path& dir) {
        hnn::io::read_safetensors(
            safetensors(dir / "huge.safetensors", "{}", 64, uint64_t(1) << 63).string());
      });
  add("checkpoint", "file shorter than the length field", rt, {"tiny.safetensors", "3 bytes"},
      [](const fs::path& dir) {
        write_file(dir / "tiny.safetensors", "abc");
        hnn::io::read_safetensors((dir / "tiny.safetensors").string());
      });
  add("checkpoint", "header that is not JSON", rt, {"json.safetensors", "invalid JSON header at byte offset"},
      [](const fs::path& dir) {
        hnn::io::read_safetensors(safetensors(dir / "json.safetensors", "{not json!", 0).string());
      });
  add("checkpoint", "overlapping data_offsets", rt,
      {"overlap.safetensors", "tensor 'b'", "[4, 12]", "overlaps"}, [](const fs::path& dir) {
        hnn::io::read_safetensors(safetensors(dir / "overlap.safetensors",
                                              R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                              12)
                                      .string());
      });
  add("checkpoint", "data_offsets past the end of the file", rt,
      {"range.safetensors", "tensor 'a'", "[0, 16]", "8 bytes", "file byte offset"}, [](const fs::path& dir) {
        hnn::io::read_safetensors(safetensors(dir / "range.safetensors",
                                              R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8)
                                      .string());
      });
  add("checkpoint", "unknown dtype", rt, {"dtype.safetensors", "tensor 'a'", "unknown dtype \"Q7\""},
      [](const fs::path& dir) {
        hnn::io::read_safetensors(safetensors(dir / "dtype.safetensors",
                                              R"({"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", 8)
                                      .string());
      });
  add("checkpoint", "shape x dtype does not match the byte span", rt,
      {"span.safetensors", "tensor 'a'", "[3]", "F64", "needs 24 bytes", "span 16"}, [](const fs::path& dir) {
        hnn::io::read_safetensors(safetensors(dir / "span.safetensors",
                                              R"({"a":{"dtype":"F64","shape":[3],"data_offsets":[0,16]}})",
                                              16)
                                      .string());
      });
  add("checkpoint", "shape claiming 2^80 elements", rt, {"big.safetensors", "tensor 'a'", "more than 2^64"},
      [](const fs::path& dir) {
        hnn::io::read_safetensors(
            safetensors(dir / "big.safetensors",
                        R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}})",
                        8)
                .string());
      });
  add("checkpoint", "missing key under strict load", rt,
      {"missing.safetensors", "Missing key(s)", "\"bias\""}, [](const fs::path& dir) {
        hnn::nn::Linear lin(3, 2);
        hnn::load(lin, safetensors(dir / "missing.safetensors",
                                   R"({"weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})", 24)
                           .string());
      });
  add("checkpoint", "unexpected key under strict load", rt,
      {"extra.safetensors", "Unexpected key(s)", "\"extra\""}, [](const fs::path& dir) {
        hnn::nn::Linear lin(3, 2);
        hnn::load(lin, safetensors(dir / "extra.safetensors",
                                   R"({"weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                                   R"("bias":{"dtype":"F32","shape":[2],"data_offsets":[24,32]},)"
                                   R"("extra":{"dtype":"F32","shape":[1],"data_offsets":[32,36]}})",
                                   36)
                           .string());
      });
  add("checkpoint", "tensor of the wrong shape", rt,
      {"shape.safetensors", "size mismatch for weight", "[3, 2]", "[2, 3]"}, [](const fs::path& dir) {
        hnn::nn::Linear lin(3, 2);
        hnn::load(lin, safetensors(dir / "shape.safetensors",
                                   R"({"weight":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]},)"
                                   R"("bias":{"dtype":"F32","shape":[2],"data_offsets":[24,32]}})",
                                   32)
                           .string());
      });
  add("checkpoint", "integer tensor for a float parameter", rt,
      {"int.safetensors", "dtype mismatch for bias"}, [](const fs::path& dir) {
        hnn::nn::Linear lin(3, 2);
        hnn::load(lin, safetensors(dir / "int.safetensors",
                                   R"({"weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                                   R"("bias":{"dtype":"I64","shape":[2],"data_offsets":[24,40]}})",
                                   40)
                           .string());
      });
  add("checkpoint", "model file loaded as a training checkpoint", rt,
      {"plain.safetensors", "no \"format\"", "save_checkpoint"}, [](const fs::path& dir) {
        hnn::nn::Linear lin(3, 2);
        const auto path = safetensors(dir / "plain.safetensors", linear_header, 32).string();
        hnn::optim::SGD opt(lin.parameters(), hnn::optim::SGDOptions(0.1));
        (void)hnn::load_checkpoint(path, lin, opt);
      });
  add("checkpoint", "file that does not exist", rt, {"absent.safetensors", "cannot open"},
      [](const fs::path& dir) {
        hnn::nn::Linear lin(3, 2);
        hnn::load(lin, (dir / "absent.safetensors").string());
      });

  // ---- PyTorch's torch.save files (issue 21): read through hnn::load, as a user does ----
  auto load_linear = [](const fs::path& path) {
    hnn::nn::Linear lin(3, 2);
    hnn::load(lin, path.string());
  };
  add("torch", "zip cut short (end records lost)", rt, {"cut.pt", "end-of-central-directory"},
      [=](const fs::path& dir) {
        const std::string good = linear_pt(dir / "cut.pt");
        write_file(dir / "cut.pt", good.substr(0, good.size() - 30));
        load_linear(dir / "cut.pt");
      });
  add("torch", "local header offset past the end of the file", rt,
      {"offset.pt", "local header of", "bytes 2147483632", "runs past the end"}, [=](const fs::path& dir) {
        std::string bad = linear_pt(dir / "offset.pt");
        const size_t central = bad.find("PK\x01\x02"s);
        bad.replace(central + 42, 4, "\xf0\xff\xff\x7f"s);
        write_file(dir / "offset.pt", bad);
        load_linear(dir / "offset.pt");
      });
  add("torch", "storage shorter than the tensor", rt,
      {"short.pt", "tensor 'weight'", "addresses element 4", "storage is shorter than the tensor"},
      [=](const fs::path& dir) {
        load_linear(torch_view(dir / "short.pt", "weight", 4, 1, {2, 2}, {2, 1}));
      });
  add("torch", "sizes whose product overflows int64", rt, {"sizes.pt", "tensor 'weight'", "overflows int64"},
      [=](const fs::path& dir) {
        load_linear(
            torch_view(dir / "sizes.pt", "weight", 4, 0, {int64_t(1) << 40, int64_t(1) << 40}, {0, 0}));
      });
  add("torch", "stride-0 view of 2^32 elements over four floats", rt,
      {"expand.pt", "tensor 'weight'", "16 times the file's"}, [=](const fs::path& dir) {
        load_linear(torch_view(dir / "expand.pt", "weight", 4, 0, {int64_t(1) << 32}, {0}));
      });
  add("torch", "pickle bomb: 2^60 leaves through the memo", rt, {"laughs.pt", "holds a value of type tuple"},
      [=](const fs::path& dir) {
        std::string pickle = "\x80\x02)q\x00"s;
        for (int k = 0; k < 60; ++k)
          pickle +=
              "h"s + static_cast<char>(k) + "h" + static_cast<char>(k) + "\x86q" + static_cast<char>(k + 1);
        load_linear(torch_file(dir / "laughs.pt", pickle + "."));
      });
  add("torch", "MARKs nested 100000 deep", rt, {"marks.pt", "MARKs nested deeper than 1000"},
      [=](const fs::path& dir) {
        load_linear(torch_file(dir / "marks.pt", "\x80\x02" + std::string(100000, '(') + "."));
      });
  add("torch", "a whole model (torch.save(model))", rt,
      {"model.pt", "__main__.Net", "save model.state_dict() instead"}, [=](const fs::path& dir) {
        load_linear(torch_file(dir / "model.pt",
                               "\x80\x02"
                               "c__main__\nNet\nq\x00)\x81q\x01."s));
      });
  add("torch", "an arbitrary global: os.system", rt,
      {"system.pt", "'os.system' is not allowed", "nothing in a file is ever run"}, [=](const fs::path& dir) {
        load_linear(torch_file(dir / "system.pt",
                               "\x80\x02"
                               "cos\nsystem\nX\x02\x00\x00\x00lsR."s));
      });
  add("torch", "an unknown pickle opcode", rt,
      {"opcode.pt", "data.pkl byte offset 3", "unknown pickle opcode"},
      [=](const fs::path& dir) { load_linear(torch_file(dir / "opcode.pt", "\x80\x02}\xff."s)); });
  add("torch", "the legacy (pre-1.6) format", rt,
      {"legacy.pt", "legacy (pre-1.6)", "torch.save(model.state_dict(), path)"}, [=](const fs::path& dir) {
        write_file(dir / "legacy.pt", "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."s);
        load_linear(dir / "legacy.pt");
      });
  return c;
}

/// Runs every case of `area` and checks type, message and memory.
void check_area(const std::string& area) {
  const fs::path root =
      fs::temp_directory_path() / ("hnn_bad_input_" + std::to_string(::getpid()) + "_" + area);
  fs::remove_all(root);
  int ran = 0;
  for (const auto& bad : catalogue()) {
    if (bad.area != area) continue;
    const fs::path dir = root / std::to_string(ran++);
    fs::create_directories(dir);
    const Outcome outcome = run_isolated([&] { bad.run(dir); });
    INFO("case: " << bad.name << "\nthrew: " << outcome.kind << "\nmessage: " << outcome.message
                  << "\npeak RSS growth: " << outcome.rss_growth_kib << " KiB");
    CHECK(outcome.kind == to_string(bad.expected));
    for (const auto& part : bad.mentions) CHECK_THAT(outcome.message, Catch::Matchers::Contains(part));
    if (outcome.rss_growth_kib >= 0) CHECK(outcome.rss_growth_kib <= rss_budget_kib);
  }
  fs::remove_all(root);
  CHECK(ran > 0);
}

}  // namespace

TEST_CASE("the catalogue covers at least 40 bad inputs across the public surface", "[robustness]") {
  const auto cases = catalogue();
  CHECK(cases.size() >= 40);
  for (const char* area : {"tensor", "nn", "loss", "optim", "data", "checkpoint", "torch"}) {
    INFO(area);
    CHECK(std::count_if(cases.begin(), cases.end(), [&](const BadInput& c) { return c.area == area; }) >= 5);
  }
}

TEST_CASE("the memory guard is real: oversized requests are caught", "[robustness]") {
  // 1 GiB of address space is over the cap: refused by the allocator, reported as out of memory.
  const auto big = run_isolated([] { (void)hnn::empty<float>({int64_t(1) << 28}); });
  CHECK(big.kind == "std::runtime_error");
  CHECK_THAT(big.message, Catch::Matchers::Contains("not enough memory"));
  // 64 MiB fits the address space but touching it exceeds the resident-memory budget.
  const auto touched = run_isolated([] { (void)hnn::ones<float>({int64_t(16) << 20}); });
  CHECK(touched.kind == "nothing");
  if (touched.rss_growth_kib >= 0)
    CHECK(touched.rss_growth_kib > rss_budget_kib);
  else
    WARN("/proc/self/clear_refs is not writable here: peak RSS growth is not measured");
}

TEST_CASE("bad input: tensor ops", "[robustness]") { check_area("tensor"); }
TEST_CASE("bad input: modules", "[robustness]") { check_area("nn"); }
TEST_CASE("bad input: losses", "[robustness]") { check_area("loss"); }
TEST_CASE("bad input: optimisers", "[robustness]") { check_area("optim"); }
TEST_CASE("bad input: data files", "[robustness]") { check_area("data"); }
TEST_CASE("bad input: checkpoints", "[robustness]") { check_area("checkpoint"); }
TEST_CASE("bad input: PyTorch's torch.save files", "[robustness]") { check_area("torch"); }
