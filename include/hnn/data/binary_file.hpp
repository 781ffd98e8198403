// Whole-file readers for the dataset loaders: raw bytes of a plain file, gunzip of a .gz file (zlib,
// only under HNN_WITH_ZLIB), big-endian integers. Depends on the standard library (and zlib when enabled).
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "hnn/core/error.hpp"

#ifdef HNN_WITH_ZLIB
#include <zlib.h>
#endif

namespace hnn::data::detail {

/// True when this build can read gzip files.
inline constexpr bool has_zlib =
#ifdef HNN_WITH_ZLIB
    true;
#else
    false;
#endif

/// Every byte of `path`; throws std::runtime_error naming the file when it cannot be opened or read.
/// The buffer is sized from the file system's size of the file, never from anything inside it.
inline std::vector<unsigned char> read_file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  HNN_CHECK_RUNTIME(in.is_open(), path.string(), ": cannot open the file for reading");
  const std::streamoff size = in.tellg();
  HNN_CHECK_RUNTIME(size >= 0, path.string(), ": cannot determine the file size");
  std::vector<unsigned char> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0) in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  HNN_CHECK_RUNTIME(in.gcount() == static_cast<std::streamsize>(size), path.string(), ": read ", in.gcount(),
                    " of ", size, " bytes");
  return bytes;
}

/// Decompresses a gzip stream (several concatenated members allowed, as gzip writes them). The output
/// grows with what actually inflates, so a lying size trailer cannot cause a huge allocation; corrupt
/// or truncated input throws std::runtime_error with `name` and the compressed byte offset.
inline std::vector<unsigned char> gunzip(const std::vector<unsigned char>& compressed,
                                         const std::string& name) {
#ifdef HNN_WITH_ZLIB
  HNN_CHECK_RUNTIME(compressed.size() >= 18, name, ": truncated gzip file: ", compressed.size(),
                    " bytes, a gzip member needs at least 18");
  HNN_CHECK_RUNTIME(compressed[0] == 0x1f && compressed[1] == 0x8b, name,
                    ": bad gzip magic at byte offset 0: ", "expected 1f 8b, got ",
                    static_cast<int>(compressed[0]), " ", static_cast<int>(compressed[1]));
  // The trailer's ISIZE (uncompressed size mod 2^32) is only a reservation hint, capped by deflate's
  // maximum ratio (about 1032:1) so a forged trailer cannot reserve more than the data could produce.
  // Reserved, not resized: inflate writes into a small scratch buffer that is appended, so untouched
  // reserve costs neither a memset nor page faults when the hint is too large.
  const size_t n = compressed.size();
  const uint64_t isize = uint64_t(compressed[n - 4]) | uint64_t(compressed[n - 3]) << 8 |
                         uint64_t(compressed[n - 2]) << 16 | uint64_t(compressed[n - 1]) << 24;
  std::vector<unsigned char> out;
  out.reserve(static_cast<size_t>(std::min<uint64_t>(isize, uint64_t(n) * 1032)));
  constexpr size_t scratch_size = size_t(1) << 16;
  const std::unique_ptr<unsigned char[]> scratch(new unsigned char[scratch_size]);

  z_stream zs{};
  HNN_CHECK_RUNTIME(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, name, ": zlib inflateInit2 failed");
  size_t in_pos = 0;
  bool stream_end = false;
  try {
    for (;;) {
      const size_t in_chunk = std::min<size_t>(n - in_pos, std::numeric_limits<uInt>::max());
      zs.next_in = const_cast<Bytef*>(compressed.data() + in_pos);
      zs.avail_in = static_cast<uInt>(in_chunk);
      zs.next_out = scratch.get();
      zs.avail_out = static_cast<uInt>(scratch_size);
      const int rc = inflate(&zs, Z_NO_FLUSH);
      in_pos += in_chunk - zs.avail_in;
      out.insert(out.end(), scratch.get(), scratch.get() + (scratch_size - zs.avail_out));
      if (rc == Z_STREAM_END) {
        stream_end = true;
        // Another member may follow (gzip -c a b > ab.gz); trailing zero padding is ignored, as gzip does.
        while (in_pos < n && compressed[in_pos] == 0) ++in_pos;
        if (in_pos == n) break;
        HNN_CHECK_RUNTIME(inflateReset(&zs) == Z_OK, name, ": zlib inflateReset failed");
        stream_end = false;
        continue;
      }
      HNN_CHECK_RUNTIME(rc == Z_OK || rc == Z_BUF_ERROR, name, ": bad gzip data at compressed byte offset ",
                        in_pos, ": ", zs.msg ? zs.msg : "zlib error", " (code ", rc, ")");
      // Each call starts with an empty scratch buffer, so Z_BUF_ERROR (no progress) or output room left
      // over with all input consumed means the stream ended before its end marker.
      HNN_CHECK_RUNTIME(!(rc == Z_BUF_ERROR && in_pos == n) && !(in_pos == n && zs.avail_out > 0), name,
                        ": truncated gzip data at compressed byte offset ", in_pos,
                        ": the stream ends before its ", "end marker (file has ", n, " bytes)");
    }
  } catch (...) {
    inflateEnd(&zs);
    throw;
  }
  inflateEnd(&zs);
  HNN_CHECK_RUNTIME(stream_end, name, ": truncated gzip data");
  out.shrink_to_fit();
  return out;
#else
  (void)compressed;
  throw std::runtime_error(name +
                           ": is gzip-compressed, but hnn was built without zlib; define HNN_WITH_ZLIB and "
                           "link zlib (-lz), or decompress the file with gunzip");
#endif
}

/// A plain file's bytes, or a .gz file's decompressed bytes.
inline std::vector<unsigned char> read_maybe_gzipped(const std::filesystem::path& path) {
  auto bytes = read_file_bytes(path);
  if (path.extension() == ".gz") return gunzip(bytes, path.string());
  return bytes;
}

/// Big-endian unsigned 32-bit integer at `p` (IDX headers).
inline uint32_t load_be32(const unsigned char* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

}  // namespace hnn::data::detail
