// Shared pieces of the libFuzzer harnesses: a per-process scratch folder (in /dev/shm when there is one)
// for the readers that take paths, fast file writes, and the rule every harness applies to errors.
// Depends on the standard library and POSIX.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace hnn_fuzz {

/// A folder only this process writes to, removed when the process exits normally (a crash leaves it for
/// the post-mortem). tmpfs (/dev/shm) keeps a write and a read of a small file at a few microseconds,
/// far below the parse itself.
inline const std::filesystem::path& scratch_dir() {
  // Never destroyed, so the exit handler below can still read it after static destructors have run.
  static const std::filesystem::path* const dir = [] {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    auto* made = new fs::path(base / ("hnn-fuzz-" + std::to_string(::getpid())));
    fs::create_directories(*made);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch_dir(), ignored);
    });
    return made;
  }();
  return *dir;
}

/// scratch_dir()/name, created.
inline std::filesystem::path make_scratch_subdir(const char* name) {
  std::filesystem::path dir = scratch_dir() / name;
  std::filesystem::create_directories(dir);
  return dir;
}

/// Writes `size` bytes to `path` (replacing it), then extends the file with `zero_tail` zero bytes
/// through ftruncate: on tmpfs the tail is a hole, so a large all-zero data buffer costs nothing to write.
inline void write_file(const std::filesystem::path& path, const uint8_t* data, size_t size,
                       size_t zero_tail = 0) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) std::abort();  // the harness's own failure, not a finding in hnn
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  if (zero_tail > 0 && ::ftruncate(fd, static_cast<off_t>(size + zero_tail)) != 0) std::abort();
  ::close(fd);
}

/// Little-endian unsigned integer of `bytes` bytes at `p` (harness input framing).
inline uint64_t load_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

/// True when every one of the `n` values at `p` lies in [lo, hi] (NaN fails). The harnesses check every
/// element a parser returns with it; kept free of coverage instrumentation, whose per-comparison callbacks
/// made these loops most of an execution's time and taught the fuzzer nothing about the parsers.
template <class T>
__attribute__((no_sanitize("coverage"))) bool all_in_range(const T* p, int64_t n, T lo, T hi) {
  bool ok = true;
  for (int64_t i = 0; i < n; ++i) ok &= (p[i] >= lo) & (p[i] <= hi);
  return ok;
}

/// Sum of the `n` values at `p`, so that reading every element cannot be optimised away (see above).
template <class T>
__attribute__((no_sanitize("coverage"))) unsigned checksum(const T* p, int64_t n) {
  unsigned sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<unsigned>(p[i]);
  return sum;
}

/// Runs `parse` on one input. A corrupt file must end in the documented errors, std::runtime_error (bad
/// file contents) or std::invalid_argument (bad request): those are swallowed. Anything else (an
/// out_of_range, a nlohmann::json exception, bad_alloc, a crash, a sanitizer report, a hang) escapes and
/// libFuzzer records the input as a finding.
template <class Parse>
int run_expecting_documented_errors(Parse&& parse) {
  try {
    parse();
  } catch (const std::runtime_error&) {
  } catch (const std::invalid_argument&) {
  }
  return 0;
}

}  // namespace hnn_fuzz
