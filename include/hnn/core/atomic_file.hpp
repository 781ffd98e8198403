// hnn's one way to write a file: into "<target>.tmp.<pid>", flushed and fsync'ed, then renamed over the
// target, so a reader (or a crash) never sees half a file and a failed write leaves the target as it was.
// Used by safetensors, checkpoints, plots and the activation monitor's CSV. Depends on core/error.hpp and
// POSIX (fsync, rename, kill).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "hnn/core/error.hpp"

namespace hnn::detail {

inline std::string errno_text() { return std::strerror(errno); }

/// The temp file a save to `target` writes first: "<target>.tmp.<pid>", so concurrent savers in different
/// processes never share one.
inline std::string temp_path_for(const std::string& target, long pid) {
  return target + ".tmp." + std::to_string(pid);
}

/// Removes "<target>.tmp.<pid>" files whose writer process no longer exists (kill(pid, 0) fails with
/// ESRCH): a writer killed mid-save (SIGKILL, OOM killer, power loss) leaves its temp file behind, and
/// without this every crash would leave one more. Temps of live processes (a concurrent save, or a
/// recycled pid) are kept. Best effort: errors are ignored, since the save itself does not depend on it.
inline void remove_stale_temp_files(const std::string& target) {
  namespace fs = std::filesystem;
  const fs::path target_path(target);
  const std::string prefix = target_path.filename().string() + ".tmp.";
  const fs::path dir = target_path.has_parent_path() ? target_path.parent_path() : fs::path(".");
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.size() > 9 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    const auto pid = static_cast<pid_t>(std::stol(digits));
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(pid, 0) == -1 && errno == ESRCH) {
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  }
}

/// A file being written atomically: write() appends to the temp file, commit() makes it the target.
/// Destroyed without commit() (an exception on the way), it closes and removes the temp file and leaves
/// the target untouched. `who` starts every error message ("hnn::io::write_safetensors").
class AtomicFile {
 public:
  AtomicFile(std::string target, std::string who)
      : target_(std::move(target)), temp_(temp_path_for(target_, ::getpid())), who_(std::move(who)) {
    remove_stale_temp_files(target_);
    file_ = std::fopen(temp_.c_str(), "wb");
    HNN_CHECK_RUNTIME(file_ != nullptr, who_, ": cannot create '", temp_, "': ", errno_text());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (file_) std::fclose(file_);
    if (!committed_) std::remove(temp_.c_str());
  }

  void write(const void* bytes, size_t n) {
    if (n == 0) return;
    HNN_CHECK_RUNTIME(std::fwrite(bytes, 1, n, file_) == n, who_, ": writing '", temp_,
                      "' failed: ", errno_text(), " ('", target_, "' is left as it was)");
  }
  void write(const std::string& text) { write(text.data(), text.size()); }

  /// fflush + fsync, rename over the target, then fsync the directory so the rename itself is durable.
  void commit() {
    HNN_CHECK_RUNTIME(std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0, who_, ": flushing '", temp_,
                      "' failed: ", errno_text(), " ('", target_, "' is left as it was)");
    const int rc = std::fclose(file_);
    file_ = nullptr;
    HNN_CHECK_RUNTIME(rc == 0, who_, ": closing '", temp_, "' failed: ", errno_text());
    HNN_CHECK_RUNTIME(std::rename(temp_.c_str(), target_.c_str()) == 0, who_, ": renaming '", temp_, "' to '",
                      target_, "' failed: ", errno_text());
    committed_ = true;
    const auto slash = target_.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : target_.substr(0, slash));
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {  // best effort: some file systems refuse fsync on directories
      (void)::fsync(fd);
      ::close(fd);
    }
  }

  const std::string& temp_path() const { return temp_; }

 private:
  std::string target_, temp_, who_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

/// Writes `text` to `path` atomically (AtomicFile); `who` starts the error messages.
inline void write_file_atomically(const std::string& path, const std::string& text, const std::string& who) {
  AtomicFile file(path, who);
  file.write(text);
  file.commit();
}

}  // namespace hnn::detail
