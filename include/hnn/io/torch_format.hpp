// PyTorch's torch.save files of state dicts (the zip format, PyTorch's default since 1.6): read_torch,
// write_torch. A zip of stored entries <archive>/data.pkl (a protocol-2 pickle of the dict),
// <archive>/data/<key> (raw storages, 64-byte aligned), <archive>/byteorder and <archive>/version. The pickle
// is interpreted, never executed: only the opcodes and globals a state dict uses are accepted, and every size
// and offset is checked against the file. Depends on io/safetensors.hpp (SafetensorsContent,
// write_fault_hook), core/atomic_file.hpp, POSIX (pread).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hnn/core/atomic_file.hpp"
#include "hnn/core/error.hpp"
#include "hnn/io/safetensors.hpp"
#include "hnn/tensor.hpp"
#include "hnn/tensor/any_tensor.hpp"

namespace hnn::io {

namespace detail::torch_file {

// ---- limits on untrusted input ----------------------------------------------------------------------------

// The tensors read from a file may take at most this many times the file's size (plus the slack) in memory: a
// state dict's tensors take about its size (int8/bool storages widen 8x to int64), while a crafted file whose
// thousands of keys view one large storage, or address it with stride 0, would otherwise multiply it.
inline constexpr uint64_t max_output_expansion = 16;
inline constexpr uint64_t output_slack_bytes = uint64_t(1) << 20;
inline constexpr uint64_t per_tensor_overhead_bytes = 256;  // charged per tensor, so empty tensors count too
// The pickle machine's bounds; each is far above what a state dict of any real model needs.
inline constexpr size_t max_mark_depth = 1000;
inline constexpr size_t max_stack_items = size_t(1) << 24;
inline constexpr size_t max_memo_entries = size_t(1) << 24;
inline constexpr size_t max_objects = size_t(1) << 26;
inline constexpr size_t max_dims = 64;
inline constexpr uint64_t zip_alignment = 64;  // PyTorch's kFieldAlignment: storages start 64-byte aligned

// ---- little-endian fields and CRC-32 ----------------------------------------------------------------------

inline uint16_t load_le16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t load_le32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
inline uint64_t load_le64(const unsigned char* p) {
  return static_cast<uint64_t>(load_le32(p)) | (static_cast<uint64_t>(load_le32(p + 4)) << 32);
}
inline const unsigned char* bytes_of(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

inline void put_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

/// CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320, as zip and zlib compute it), slicing by 8 bytes.
inline const std::array<std::array<uint32_t, 256>, 8>& crc32_tables() {
  static const auto tables = [] {
    std::array<std::array<uint32_t, 256>, 8> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (size_t k = 1; k < 8; ++k)
      for (uint32_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
    return t;
  }();
  return tables;
}

/// The CRC-32 of `crc`'s data followed by `n` more bytes (start with crc = 0).
inline uint32_t crc32_update(uint32_t crc, const void* data, size_t n) {
  const auto& t = crc32_tables();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (; n >= 8; n -= 8, p += 8) {
    const uint32_t one = load_le32(p) ^ crc, two = load_le32(p + 4);
    crc = t[7][one & 0xff] ^ t[6][(one >> 8) & 0xff] ^ t[5][(one >> 16) & 0xff] ^ t[4][one >> 24] ^
          t[3][two & 0xff] ^ t[2][(two >> 8) & 0xff] ^ t[1][(two >> 16) & 0xff] ^ t[0][two >> 24];
  }
  for (; n > 0; --n, ++p) crc = t[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
  return ~crc;
}

// ---- storage kinds ----------------------------------------------------------------------------------------

/// The storage classes a state dict pickles (torch.FloatStorage, ...), by the dtype of their elements.
enum class StorageKind : uint8_t { Float, Double, Half, BFloat16, Long, Int, Short, Char, Byte, Bool };
inline constexpr size_t storage_kind_count = 10;

struct StorageKindInfo {
  const char* class_name;  // in module "torch"
  const char* dtype;       // torch's name of the element type
  size_t element_size;
};

inline const StorageKindInfo& storage_info(StorageKind kind) {
  static constexpr std::array<StorageKindInfo, storage_kind_count> info = {
      {{"FloatStorage", "float32", 4},
       {"DoubleStorage", "float64", 8},
       {"HalfStorage", "float16", 2},
       {"BFloat16Storage", "bfloat16", 2},
       {"LongStorage", "int64", 8},
       {"IntStorage", "int32", 4},
       {"ShortStorage", "int16", 2},
       {"CharStorage", "int8", 1},
       {"ByteStorage", "uint8", 1},
       {"BoolStorage", "bool", 1}}};
  return info[static_cast<size_t>(kind)];
}

/// float16 bits to float, exactly (subnormals, infinities and NaN payloads included).
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

/// bfloat16 bits to float: the top half of a float.
inline float bfloat16_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

// ---- the file ---------------------------------------------------------------------------------------------

/// A file read at offsets (pread); every read is checked against the file's size first.
class InputFile {
 public:
  InputFile(const std::string& path, std::string where) : where_(std::move(where)) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    HNN_CHECK_RUNTIME(fd_ >= 0, where_, "cannot open the file: ", hnn::detail::errno_text());
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || st.st_size < 0) {
      ::close(fd_);
      throw std::runtime_error(where_ + "cannot read the file's size: " + hnn::detail::errno_text());
    }
    size_ = static_cast<uint64_t>(st.st_size);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile() { ::close(fd_); }

  uint64_t size() const { return size_; }
  const std::string& where() const { return where_; }

  /// Reads bytes [offset, offset + n) into dst; `what` names them in the error when the file is shorter.
  void read_at(uint64_t offset, void* dst, uint64_t n, const std::string& what) const {
    HNN_CHECK_RUNTIME(offset <= size_ && n <= size_ - offset, where_, what, " (bytes ", offset, " to ",
                      offset + n, ") runs past the end of the file, which has ", size_,
                      " bytes (truncated?)");
    auto* out = static_cast<unsigned char*>(dst);
    while (n > 0) {
      const size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, uint64_t(1) << 30));
      const ssize_t got = ::pread(fd_, out, chunk, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      HNN_CHECK_RUNTIME(got > 0, where_, "reading ", what, " at byte offset ", offset, " failed: ",
                        got < 0 ? hnn::detail::errno_text() : std::string("unexpected end of file"));
      out += got;
      offset += static_cast<uint64_t>(got);
      n -= static_cast<uint64_t>(got);
    }
  }
  std::string read_string(uint64_t offset, uint64_t n, const std::string& what) const {
    HNN_CHECK_RUNTIME(offset <= size_ && n <= size_ - offset, where_, what, " (bytes ", offset, " to ",
                      offset + n, ") runs past the end of the file, which has ", size_,
                      " bytes (truncated?)");
    std::string bytes(static_cast<size_t>(n), '\0');
    read_at(offset, bytes.data(), n, what);
    return bytes;
  }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string where_;
};

// ---- zip (stored entries) ---------------------------------------------------------------------------------

inline constexpr uint32_t zip_local_signature = 0x04034b50, zip_central_signature = 0x02014b50,
                          zip_end_signature = 0x06054b50, zip64_end_signature = 0x06064b50,
                          zip64_locator_signature = 0x07064b50;

struct ZipEntry {
  std::string name;
  uint64_t header_offset = 0;  // of the local header
  uint64_t compressed_size = 0, size = 0;
  uint32_t crc32 = 0;
  uint16_t flags = 0, method = 0;
  uint64_t central_offset = 0;  // of the central directory record, for error messages
};

/// The central directory of a zip file: names, sizes and local-header offsets come from there (PyTorch sets
/// the data-descriptor flag, so its local headers carry zero sizes), ZIP64 fields included.
class ZipReader {
 public:
  explicit ZipReader(const InputFile& file) : file_(file) {
    const std::string& where = file.where();
    const uint64_t size = file.size();
    HNN_CHECK_RUNTIME(size >= 22, where, "the file has ", size,
                      " bytes, too few for a zip archive's 22-byte end record (truncated?)");
    // The end record is the last 22 bytes plus its comment (at most 65535 bytes).
    const uint64_t tail_size = std::min<uint64_t>(size, 22 + 65535);
    const std::string tail = file.read_string(size - tail_size, tail_size, "the zip archive's end");
    const auto* t = bytes_of(tail);
    uint64_t end_pos = UINT64_MAX;
    for (size_t i = tail.size() - 22 + 1; i-- > 0;) {
      if (load_le32(t + i) == zip_end_signature && i + 22 + load_le16(t + i + 20) == tail.size()) {
        end_pos = size - tail_size + i;
        break;
      }
    }
    HNN_CHECK_RUNTIME(
        end_pos != UINT64_MAX, where,
        "no zip end-of-central-directory record in the file's last bytes: not a zip archive, or "
        "truncated");
    const unsigned char* e = t + (end_pos - (size - tail_size));
    uint64_t count = load_le16(e + 10), cd_size = load_le32(e + 12), cd_offset = load_le32(e + 16);
    HNN_CHECK_RUNTIME(load_le16(e + 4) == 0 && load_le16(e + 6) == 0 && load_le16(e + 8) == load_le16(e + 10),
                      where, "the zip end record at byte offset ", end_pos,
                      " describes a multi-disk archive");
    uint64_t cd_limit = end_pos;  // the central directory ends before the end records
    // A ZIP64 locator right before the end record points to the ZIP64 end record (PyTorch always writes one).
    bool zip64 = false;
    if (end_pos >= 20) {
      unsigned char loc[20];
      file.read_at(end_pos - 20, loc, 20, "the ZIP64 end locator");
      if (load_le32(loc) == zip64_locator_signature) {
        const uint64_t at = load_le64(loc + 8);
        HNN_CHECK_RUNTIME(at <= end_pos - 20 && end_pos - 20 - at >= 56, where,
                          "the ZIP64 locator at byte offset ", end_pos - 20, " points to byte offset ", at,
                          ", where no ZIP64 end record fits before the locator");
        unsigned char rec[56];
        file.read_at(at, rec, 56, "the ZIP64 end record");
        HNN_CHECK_RUNTIME(load_le32(rec) == zip64_end_signature, where, "no ZIP64 end record at byte offset ",
                          at, " (where the locator points)");
        HNN_CHECK_RUNTIME(load_le32(rec + 16) == 0 && load_le32(rec + 20) == 0 &&
                              load_le64(rec + 24) == load_le64(rec + 32),
                          where, "the ZIP64 end record at byte offset ", at,
                          " describes a multi-disk archive");
        count = load_le64(rec + 32);
        cd_size = load_le64(rec + 40);
        cd_offset = load_le64(rec + 48);
        cd_limit = at;
        zip64 = true;
      }
    }
    HNN_CHECK_RUNTIME(zip64 || (cd_size != 0xFFFFFFFFu && cd_offset != 0xFFFFFFFFu), where,
                      "the zip end record at byte offset ", end_pos,
                      " defers to a ZIP64 end record, but there is no ZIP64 locator before it");
    HNN_CHECK_RUNTIME(cd_offset <= cd_limit && cd_size <= cd_limit - cd_offset, where,
                      "the central directory (", cd_size, " bytes at byte offset ", cd_offset,
                      ") does not end before the end records at byte ", cd_limit, " (truncated or corrupt)");
    HNN_CHECK_RUNTIME(count <= cd_size / 46, where, "the end record promises ", count,
                      " entries, more than a central directory of ", cd_size, " bytes can hold");
    const std::string cd = file.read_string(cd_offset, cd_size, "the central directory");
    const auto* c = bytes_of(cd);
    entries_.reserve(static_cast<size_t>(count));
    uint64_t p = 0;
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t at = cd_offset + p;
      HNN_CHECK_RUNTIME(cd.size() - p >= 46 && load_le32(c + p) == zip_central_signature, where,
                        "central directory entry ", i, " at byte offset ", at,
                        " is not a central file header");
      const unsigned char* h = c + p;
      const size_t name_len = load_le16(h + 28), extra_len = load_le16(h + 30),
                   comment_len = load_le16(h + 32);
      HNN_CHECK_RUNTIME(cd.size() - p - 46 >= name_len + extra_len + comment_len, where,
                        "central directory entry ", i, " at byte offset ", at,
                        " runs past the directory's end");
      ZipEntry entry;
      entry.flags = load_le16(h + 8);
      entry.method = load_le16(h + 10);
      entry.crc32 = load_le32(h + 16);
      entry.compressed_size = load_le32(h + 20);
      entry.size = load_le32(h + 24);
      entry.header_offset = load_le32(h + 42);
      entry.central_offset = at;
      entry.name.assign(reinterpret_cast<const char*>(h + 46), name_len);
      read_zip64_extra(entry, h + 46 + name_len, extra_len, load_le16(h + 34));
      HNN_CHECK_RUNTIME(index_.emplace(entry.name, entries_.size()).second, where, "the zip archive holds '",
                        entry.name, "' twice (central directory entry ", i, " at byte offset ", at, ")");
      entries_.push_back(std::move(entry));
      p += 46 + name_len + extra_len + comment_len;
    }
  }

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second];
  }

  /// The byte offset of a stored entry's data, after checking its local header and that the data lies in the
  /// file.
  uint64_t data_offset(const ZipEntry& e) const {
    const std::string& where = file_.where();
    HNN_CHECK_RUNTIME(e.method == 0, where, "zip entry '", e.name, "' is compressed (method ", e.method,
                      "); PyTorch stores its entries uncompressed (method 0), and hnn reads only those");
    HNN_CHECK_RUNTIME((e.flags & 1) == 0, where, "zip entry '", e.name, "' is encrypted");
    HNN_CHECK_RUNTIME(e.compressed_size == e.size, where, "zip entry '", e.name,
                      "' is stored (method 0) but its ", "compressed size ", e.compressed_size,
                      " differs from its size ", e.size);
    unsigned char h[30];
    file_.read_at(e.header_offset, h, 30, "the local header of '" + e.name + "'");
    HNN_CHECK_RUNTIME(load_le32(h) == zip_local_signature, where, "no local file header for '", e.name,
                      "' at byte offset ", e.header_offset, " (where its central directory entry points)");
    const uint64_t name_len = load_le16(h + 26), extra_len = load_le16(h + 28);
    const std::string local_name =
        file_.read_string(e.header_offset + 30, name_len, "the local header name of '" + e.name + "'");
    HNN_CHECK_RUNTIME(local_name == e.name, where, "the local header at byte offset ", e.header_offset,
                      " names '", local_name, "', but its central directory entry names '", e.name, "'");
    const uint64_t data = e.header_offset + 30 + name_len + extra_len;
    HNN_CHECK_RUNTIME(data <= file_.size() && e.size <= file_.size() - data, where, "the data of '", e.name,
                      "' (", e.size, " bytes at byte offset ", data,
                      ") runs past the end of the file, which has ", file_.size(), " bytes (truncated?)");
    return data;
  }

  /// A whole stored entry (its size is at most the file's).
  std::string read(const ZipEntry& e) const {
    return file_.read_string(data_offset(e), e.size, "the data of '" + e.name + "'");
  }

 private:
  /// Sizes and offset at 0xFFFFFFFF (disk 0xFFFF) are in the ZIP64 extra field (id 1), in this order.
  void read_zip64_extra(ZipEntry& entry, const unsigned char* extra, size_t extra_len, uint16_t disk) {
    const bool need_size = entry.size == 0xFFFFFFFFu, need_compressed = entry.compressed_size == 0xFFFFFFFFu,
               need_offset = entry.header_offset == 0xFFFFFFFFu;
    const auto fail = [&](const char* what) {
      throw std::runtime_error(hnn::detail::concat(file_.where(), "the central directory entry of '",
                                                   entry.name, "' at byte offset ", entry.central_offset,
                                                   ": ", what));
    };
    if (disk != 0 && disk != 0xFFFF) fail("the entry lies on another disk of a multi-disk archive");
    if (!need_size && !need_compressed && !need_offset) return;
    size_t p = 0;
    while (extra_len - p >= 4) {
      const uint16_t id = load_le16(extra + p), len = load_le16(extra + p + 2);
      if (extra_len - p - 4 < len) break;
      if (id == 1) {
        const unsigned char* f = extra + p + 4;
        size_t left = len;
        auto take = [&](uint64_t& field) {
          if (left < 8) fail("its ZIP64 extra field is too short for the values marked 0xFFFFFFFF");
          field = load_le64(f);
          f += 8;
          left -= 8;
        };
        if (need_size) take(entry.size);
        if (need_compressed) take(entry.compressed_size);
        if (need_offset) take(entry.header_offset);
        return;
      }
      p += 4 + static_cast<size_t>(len);
    }
    fail("sizes or offset are 0xFFFFFFFF but there is no ZIP64 extra field");
  }

  const InputFile& file_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// ---- the pickle machine -----------------------------------------------------------------------------------

/// Every pickle opcode (protocols 0-5) by name, for error messages.
inline const char* pickle_opcode_name(unsigned char op) {
  struct Named {
    unsigned char op;
    const char* name;
  };
  static constexpr Named names[] = {{'(', "MARK"},
                                    {'.', "STOP"},
                                    {'0', "POP"},
                                    {'1', "POP_MARK"},
                                    {'2', "DUP"},
                                    {'F', "FLOAT"},
                                    {'I', "INT"},
                                    {'J', "BININT"},
                                    {'K', "BININT1"},
                                    {'L', "LONG"},
                                    {'M', "BININT2"},
                                    {'N', "NONE"},
                                    {'P', "PERSID"},
                                    {'Q', "BINPERSID"},
                                    {'R', "REDUCE"},
                                    {'S', "STRING"},
                                    {'T', "BINSTRING"},
                                    {'U', "SHORT_BINSTRING"},
                                    {'V', "UNICODE"},
                                    {'X', "BINUNICODE"},
                                    {'a', "APPEND"},
                                    {'b', "BUILD"},
                                    {'c', "GLOBAL"},
                                    {'d', "DICT"},
                                    {'}', "EMPTY_DICT"},
                                    {'e', "APPENDS"},
                                    {'g', "GET"},
                                    {'h', "BINGET"},
                                    {'i', "INST"},
                                    {'j', "LONG_BINGET"},
                                    {'l', "LIST"},
                                    {']', "EMPTY_LIST"},
                                    {'o', "OBJ"},
                                    {'p', "PUT"},
                                    {'q', "BINPUT"},
                                    {'r', "LONG_BINPUT"},
                                    {'s', "SETITEM"},
                                    {'t', "TUPLE"},
                                    {')', "EMPTY_TUPLE"},
                                    {'u', "SETITEMS"},
                                    {'G', "BINFLOAT"},
                                    {'B', "BINBYTES"},
                                    {'C', "SHORT_BINBYTES"},
                                    {0x80, "PROTO"},
                                    {0x81, "NEWOBJ"},
                                    {0x82, "EXT1"},
                                    {0x83, "EXT2"},
                                    {0x84, "EXT4"},
                                    {0x85, "TUPLE1"},
                                    {0x86, "TUPLE2"},
                                    {0x87, "TUPLE3"},
                                    {0x88, "NEWTRUE"},
                                    {0x89, "NEWFALSE"},
                                    {0x8a, "LONG1"},
                                    {0x8b, "LONG4"},
                                    {0x8c, "SHORT_BINUNICODE"},
                                    {0x8d, "BINUNICODE8"},
                                    {0x8e, "BINBYTES8"},
                                    {0x8f, "EMPTY_SET"},
                                    {0x90, "ADDITEMS"},
                                    {0x91, "FROZENSET"},
                                    {0x92, "NEWOBJ_EX"},
                                    {0x93, "STACK_GLOBAL"},
                                    {0x94, "MEMOIZE"},
                                    {0x95, "FRAME"},
                                    {0x96, "BYTEARRAY8"},
                                    {0x97, "NEXT_BUFFER"},
                                    {0x98, "READONLY_BUFFER"}};
  for (const auto& n : names)
    if (n.op == op) return n.name;
  return nullptr;
}

enum class Kind : uint8_t { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Storage, Tensor };

inline const char* kind_name(Kind k) {
  static constexpr std::array<const char*, 11> names = {"None", "bool", "int",    "float",   "str",   "tuple",
                                                        "list", "dict", "global", "storage", "tensor"};
  return names[static_cast<size_t>(k)];
}

/// The allow-listed globals: collections.OrderedDict, two torch._utils rebuild functions, the storage
/// classes.
enum class GlobalKind : uint32_t { OrderedDict, RebuildTensorV2, RebuildParameter, Storage };

/// One value of the pickle machine. Objects live in the machine's arena and refer to each other by index, so
/// a self-referencing or deeply nested structure costs neither recursion nor reference cycles.
struct Object {
  Kind kind = Kind::None;
  uint32_t index = 0;  // Tuple: first item in tuple_items_; List/Dict: container; Global: GlobalKind;
                       // Storage, Tensor: record; String: length
  int64_t value =
      0;  // Int, Bool; Float's bits; String: offset in data.pkl; Tuple: item count; Global: StorageKind
};

/// A storage a persistent id names: ('storage', torch.<Kind>Storage, key, location, numel).
struct StorageRecord {
  std::string key;
  StorageKind kind = StorageKind::Float;
  int64_t numel = 0;
  uint64_t data_offset = 0;  // in the file
  uint64_t pid_offset = 0;   // of the BINPERSID in data.pkl
};

/// _rebuild_tensor_v2(storage, storage_offset, size, stride, ...): sizes and strides are tuples in the arena.
struct TensorRecord {
  uint32_t storage = 0;
  int64_t storage_offset = 0;
  uint32_t sizes = 0, strides = 0;
  uint64_t reduce_offset = 0;  // of the REDUCE in data.pkl
};

/// Interprets the subset of pickle that torch.save(state_dict) writes (protocol 2; protocol 4's FRAME,
/// MEMOIZE, SHORT_BINUNICODE and STACK_GLOBAL too). Nothing is ever imported or called: GLOBAL accepts only
/// the allow list, REDUCE only builds an OrderedDict, a tensor record or a parameter (the tensor itself).
/// Work and memory are linear in data.pkl's size: no opcode copies a collection that memo references could
/// make arbitrarily large.
class Unpickler {
 public:
  /// Resolves a persistent id to a storage: checks the zip entry exists and holds numel elements.
  using StorageResolver =
      std::function<StorageRecord(StorageKind, std::string_view key, int64_t numel, uint64_t pid_offset)>;

  Unpickler(std::string_view pickle, std::string where, StorageResolver resolve)
      : data_(pickle), where_(std::move(where)), resolve_(std::move(resolve)) {
    objects_.push_back({Kind::None, 0, 0});
    objects_.push_back({Kind::Bool, 0, 0});
    objects_.push_back({Kind::Bool, 0, 1});
    objects_.push_back({Kind::Tuple, 0, 0});
  }

  /// Runs to STOP and returns the object it leaves.
  uint32_t run() {
    while (true) {
      HNN_CHECK_RUNTIME(pos_ < data_.size(), where_, "data.pkl ends at byte ", data_.size(),
                        " without a STOP opcode (truncated?)");
      op_at_ = pos_;
      op_ = static_cast<unsigned char>(data_[pos_++]);
      switch (op_) {
        case 0x80: {  // PROTO
          const unsigned proto = read_u(1);
          if (proto > 5) fail("pickle protocol ", proto, " is unknown (at most 5)");
          break;
        }
        case 0x95: {  // FRAME: a length prefix for the bytes that follow; nothing to do
          const uint64_t len = read_u(8);
          if (len > data_.size() - pos_) fail("FRAME of ", len, " bytes runs past the end of data.pkl");
          break;
        }
        case '.':  // STOP
          return pop();
        case '(':  // MARK
          if (marks_.size() >= max_mark_depth)
            fail("MARKs nested deeper than ", max_mark_depth, " (a state dict nests a few levels)");
          marks_.push_back(stack_.size());
          break;
        case 'N':
          push(0);
          break;
        case 0x89:  // NEWFALSE
          push(1);
          break;
        case 0x88:  // NEWTRUE
          push(2);
          break;
        case ')':  // EMPTY_TUPLE
          push(3);
          break;
        case ']':
          push(make_container(Kind::List));
          break;
        case '}':
          push(make_container(Kind::Dict));
          break;
        case 'J':  // BININT
          push(make(Kind::Int, 0, static_cast<int32_t>(read_u(4))));
          break;
        case 'K':  // BININT1
          push(make(Kind::Int, 0, static_cast<int64_t>(read_u(1))));
          break;
        case 'M':  // BININT2
          push(make(Kind::Int, 0, static_cast<int64_t>(read_u(2))));
          break;
        case 0x8a:  // LONG1
          push(make(Kind::Int, 0, read_long1()));
          break;
        case 'G': {  // BINFLOAT: big-endian
          uint64_t bits = 0;
          need(8);
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<unsigned char>(data_[pos_ + i]);
          pos_ += 8;
          push(make(Kind::Float, 0, static_cast<int64_t>(bits)));
          break;
        }
        case 'X':  // BINUNICODE
          push(read_string(read_u(4)));
          break;
        case 0x8c:  // SHORT_BINUNICODE
          push(read_string(read_u(1)));
          break;
        case 0x8d:  // BINUNICODE8
          push(read_string(read_u(8)));
          break;
        case 'U':  // SHORT_BINSTRING (Python 2's str)
          push(read_string(read_u(1)));
          break;
        case 'T': {  // BINSTRING
          const int32_t len = static_cast<int32_t>(read_u(4));
          if (len < 0) fail("negative string length ", len);
          push(read_string(static_cast<uint64_t>(len)));
          break;
        }
        case 't': {  // TUPLE
          const size_t mark = pop_mark();
          const uint32_t t =
              make_tuple(std::span<const uint32_t>(stack_.data() + mark, stack_.size() - mark));
          stack_.resize(mark);
          push(t);
          break;
        }
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          const size_t n = static_cast<size_t>(op_ - 0x84);
          if (stack_.size() - frame_base() < n) fail("needs ", n, " items on the stack");
          const uint32_t t = make_tuple(std::span<const uint32_t>(stack_.data() + stack_.size() - n, n));
          stack_.resize(stack_.size() - n);
          push(t);
          break;
        }
        case 'q':  // BINPUT
          memo_put(read_u(1));
          break;
        case 'r':  // LONG_BINPUT
          memo_put(read_u(4));
          break;
        case 0x94:  // MEMOIZE
          memo_put(memo_.size());
          break;
        case 'h':  // BINGET
          memo_get(read_u(1));
          break;
        case 'j':  // LONG_BINGET
          memo_get(read_u(4));
          break;
        case 's': {  // SETITEM
          const uint32_t value = pop(), key = pop();
          auto& dict = container_of(top(), Kind::Dict);
          dict.push_back(key);
          dict.push_back(value);
          break;
        }
        case 'u': {  // SETITEMS
          const size_t mark = pop_mark();
          if ((stack_.size() - mark) % 2 != 0) fail("an odd number of items (keys and values alternate)");
          if (mark == 0 || mark <= frame_base()) fail("no dict below the MARK");
          auto& dict = container_of(stack_[mark - 1], Kind::Dict);
          dict.insert(dict.end(), stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
          stack_.resize(mark);
          break;
        }
        case 'a': {  // APPEND
          const uint32_t value = pop();
          container_of(top(), Kind::List).push_back(value);
          break;
        }
        case 'e': {  // APPENDS
          const size_t mark = pop_mark();
          if (mark == 0 || mark <= frame_base()) fail("no list below the MARK");
          auto& list = container_of(stack_[mark - 1], Kind::List);
          list.insert(list.end(), stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
          stack_.resize(mark);
          break;
        }
        case 'c': {  // GLOBAL "module\nname\n"
          const std::string_view module = read_line(), name = read_line();
          push(make_global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const uint32_t name = pop(), module = pop();
          if (objects_[name].kind != Kind::String || objects_[module].kind != Kind::String)
            fail("module and name must be strings, got ", kind_name(objects_[module].kind), " and ",
                 kind_name(objects_[name].kind));
          push(make_global(string(module), string(name)));
          break;
        }
        case 'R':
          reduce();
          break;
        case 'b': {  // BUILD: an OrderedDict's state (torch.save sets a state dict's _metadata this way)
          const uint32_t state = pop();
          (void)state;
          const Kind target = objects_[top()].kind;
          if (target != Kind::Dict)
            fail("BUILD sets the state of a value of type ", kind_name(target),
                 "; only an OrderedDict's (a state dict's _metadata) is accepted");
          break;
        }
        case 'Q':
          persistent_id();
          break;
        default:
          if (pickle_opcode_name(op_) == nullptr) fail("unknown pickle opcode");
          fail(
              "this opcode is not allowed: hnn reads state dicts of tensors (the opcodes torch.save writes "
              "for one), and never builds Python objects or runs code from a file");
      }
    }
  }

  const Object& object(uint32_t id) const { return objects_[id]; }
  std::string_view string(uint32_t id) const {
    return data_.substr(static_cast<size_t>(objects_[id].value), objects_[id].index);
  }
  /// Items of a tuple, list or dict (a dict's keys and values alternate).
  std::span<const uint32_t> items(uint32_t id) const {
    const Object& o = objects_[id];
    if (o.kind == Kind::Tuple) return {tuple_items_.data() + o.index, static_cast<size_t>(o.value)};
    return {containers_[o.index].data(), containers_[o.index].size()};
  }
  const TensorRecord& tensor(uint32_t id) const { return tensors_[objects_[id].index]; }
  const StorageRecord& storage(uint32_t index) const { return storages_[index]; }

 private:
  template <class... Args>
  [[noreturn]] void fail(Args&&... args) const {
    const char* name = pickle_opcode_name(op_);
    throw std::runtime_error(hnn::detail::concat(where_, "data.pkl byte offset ", op_at_, ", opcode ",
                                                 name ? name : "", name ? " (0x" : "0x", hex(op_),
                                                 name ? ")" : "", ": ", std::forward<Args>(args)...));
  }
  static std::string hex(unsigned v) {
    const char* digits = "0123456789abcdef";
    return {digits[(v >> 4) & 15], digits[v & 15]};
  }

  void need(uint64_t n) {
    if (n > data_.size() - pos_) fail("needs ", n, " more bytes, but data.pkl ends at byte ", data_.size());
  }
  uint64_t read_u(int bytes) {
    need(static_cast<uint64_t>(bytes));
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= static_cast<uint64_t>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    pos_ += static_cast<size_t>(bytes);
    return v;
  }
  int64_t read_long1() {
    const size_t n = static_cast<size_t>(read_u(1));
    need(n);
    const auto* p = reinterpret_cast<const unsigned char*>(data_.data() + pos_);
    pos_ += n;
    if (n == 0) return 0;
    // Two's complement, little-endian; bytes past the eighth may only extend the sign.
    const bool negative = (p[n - 1] & 0x80) != 0;
    if (n > 8) {
      bool fits = ((p[7] & 0x80) != 0) == negative;
      for (size_t i = 8; i < n; ++i) fits = fits && p[i] == (negative ? 0xff : 0x00);
      if (!fits) fail("the integer of ", n, " bytes does not fit in 64 bits");
    }
    uint64_t v = 0;
    for (size_t i = 0; i < std::min<size_t>(n, 8); ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    if (n < 8 && negative) v |= ~uint64_t(0) << (8 * n);
    return static_cast<int64_t>(v);
  }
  std::string_view read_line() {
    const size_t end = data_.find('\n', pos_);
    if (end == std::string_view::npos) fail("no newline ends the GLOBAL's module or name");
    std::string_view line = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return line;
  }
  uint32_t read_string(uint64_t len) {
    need(len);
    if (len > UINT32_MAX) fail("string of ", len, " bytes");
    const uint32_t id = make(Kind::String, static_cast<uint32_t>(len), static_cast<int64_t>(pos_));
    pos_ += static_cast<size_t>(len);
    return id;
  }

  uint32_t make(Kind kind, uint32_t index, int64_t value) {
    if (objects_.size() >= max_objects) fail("more than ", max_objects, " objects");
    objects_.push_back({kind, index, value});
    return static_cast<uint32_t>(objects_.size() - 1);
  }
  uint32_t make_container(Kind kind) {
    containers_.emplace_back();
    return make(kind, static_cast<uint32_t>(containers_.size() - 1), 0);
  }
  uint32_t make_tuple(std::span<const uint32_t> items) {
    if (items.empty()) return 3;
    if (tuple_items_.size() + items.size() > UINT32_MAX) fail("too many tuple items");
    const auto first = static_cast<uint32_t>(tuple_items_.size());
    tuple_items_.insert(tuple_items_.end(), items.begin(), items.end());
    return make(Kind::Tuple, first, static_cast<int64_t>(items.size()));
  }
  std::vector<uint32_t>& container_of(uint32_t id, Kind kind) {
    if (objects_[id].kind != kind)
      fail("expects a ", kind_name(kind), " to add to, got a value of type ", kind_name(objects_[id].kind));
    return containers_[objects_[id].index];
  }

  size_t frame_base() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(uint32_t id) {
    if (stack_.size() >= max_stack_items) fail("more than ", max_stack_items, " items on the stack");
    stack_.push_back(id);
  }
  uint32_t pop() {
    if (stack_.size() <= frame_base()) fail("the stack is empty (since the last MARK)");
    const uint32_t id = stack_.back();
    stack_.pop_back();
    return id;
  }
  uint32_t top() {
    if (stack_.size() <= frame_base()) fail("the stack is empty (since the last MARK)");
    return stack_.back();
  }
  /// Removes the innermost MARK and returns the stack position it marked (the items above it are its items).
  size_t pop_mark() {
    if (marks_.empty()) fail("no MARK before it");
    const size_t mark = marks_.back();
    marks_.pop_back();
    return mark;
  }
  void memo_put(uint64_t key) {
    const uint32_t value = top();
    if (memo_.size() >= max_memo_entries && !memo_.count(static_cast<uint32_t>(key)))
      fail("more than ", max_memo_entries, " memo entries");
    memo_[static_cast<uint32_t>(key)] = value;
  }
  void memo_get(uint64_t key) {
    auto it = memo_.find(static_cast<uint32_t>(key));
    if (it == memo_.end()) fail("memo key ", key, " was never stored");
    push(it->second);
  }

  uint32_t make_global(std::string_view module, std::string_view name) {
    const auto qualified = [&] { return std::string(module) + "." + std::string(name); };
    if (module == "collections" && name == "OrderedDict")
      return make(Kind::Global, static_cast<uint32_t>(GlobalKind::OrderedDict), 0);
    if (module == "torch._utils" && name == "_rebuild_tensor_v2")
      return make(Kind::Global, static_cast<uint32_t>(GlobalKind::RebuildTensorV2), 0);
    if (module == "torch._utils" && name == "_rebuild_parameter")
      return make(Kind::Global, static_cast<uint32_t>(GlobalKind::RebuildParameter), 0);
    if (module == "torch")
      for (size_t k = 0; k < storage_kind_count; ++k)
        if (name == storage_info(static_cast<StorageKind>(k)).class_name)
          return make(Kind::Global, static_cast<uint32_t>(GlobalKind::Storage), static_cast<int64_t>(k));
    // A class (a capitalised name, a torch.nn module, anything of __main__) means a pickled object: most
    // often a whole model from torch.save(model), which only Python with the model's code could rebuild.
    const bool looks_like_class = (!name.empty() && name[0] >= 'A' && name[0] <= 'Z') ||
                                  module.rfind("__main__", 0) == 0 || module.rfind("torch.nn", 0) == 0;
    if (looks_like_class)
      fail("the file pickles an object of class '", qualified(),
           "', not a state dict of tensors: a whole model (torch.save(model)) cannot be read without running "
           "its "
           "Python code; save model.state_dict() instead (torch.save(model.state_dict(), path))");
    fail("global '", qualified(),
         "' is not allowed: hnn reads state dicts of tensors, whose pickles name only "
         "collections.OrderedDict, "
         "torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and torch.<dtype>Storage; nothing "
         "in a "
         "file is ever run");
  }

  int64_t int_arg(uint32_t id, const char* what) {
    if (objects_[id].kind != Kind::Int)
      fail(what, " must be an int, got type ", kind_name(objects_[id].kind));
    return objects_[id].value;
  }

  void reduce() {
    const uint32_t args = pop();
    const uint32_t callable = top();
    const Object f = objects_[callable];  // a copy: make() below may move the arena
    if (f.kind != Kind::Global)
      fail("REDUCE calls a value of type ", kind_name(f.kind), ", not an allowed global");
    if (objects_[args].kind != Kind::Tuple)
      fail("REDUCE's arguments must be a tuple, got type ", kind_name(objects_[args].kind));
    const auto a = items(args);
    switch (static_cast<GlobalKind>(f.index)) {
      case GlobalKind::OrderedDict:
        if (!a.empty())
          fail("collections.OrderedDict is called with ", a.size(), " arguments; a pickle passes none");
        stack_.back() = make_container(Kind::Dict);
        return;
      case GlobalKind::RebuildParameter:  // (data, requires_grad, backward_hooks): the tensor itself
        if (a.size() != 3 || objects_[a[0]].kind != Kind::Tensor)
          fail("torch._utils._rebuild_parameter expects (tensor, requires_grad, backward_hooks)");
        stack_.back() = a[0];
        return;
      case GlobalKind::RebuildTensorV2: {
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (a.size() != 6 && a.size() != 7)
          fail("torch._utils._rebuild_tensor_v2 expects 6 or 7 arguments, got ", a.size());
        if (objects_[a[0]].kind != Kind::Storage)
          fail(
              "torch._utils._rebuild_tensor_v2's first argument must be a storage (a persistent id), got "
              "type ",
              kind_name(objects_[a[0]].kind));
        TensorRecord t;
        t.storage = objects_[a[0]].index;
        t.storage_offset = int_arg(a[1], "the storage offset");
        if (t.storage_offset < 0) fail("negative storage offset ", t.storage_offset);
        t.sizes = a[2];
        t.strides = a[3];
        for (uint32_t id : {a[2], a[3]}) {
          if (objects_[id].kind != Kind::Tuple)
            fail("the tensor's size and stride must be tuples, got type ", kind_name(objects_[id].kind));
          const auto dims = items(id);
          if (dims.size() > max_dims)
            fail("a tensor of ", dims.size(), " dimensions (at most ", max_dims, ")");
          for (uint32_t d : dims)
            if (int_arg(d, "a size or stride") < 0) fail("negative size or stride ", objects_[d].value);
        }
        if (items(a[2]).size() != items(a[3]).size())
          fail("the tensor has ", items(a[2]).size(), " sizes but ", items(a[3]).size(), " strides");
        if (objects_[a[4]].kind != Kind::Bool) fail("requires_grad must be a bool");
        t.reduce_offset = op_at_;
        tensors_.push_back(t);
        stack_.back() = make(Kind::Tensor, static_cast<uint32_t>(tensors_.size() - 1), 0);
        return;
      }
      case GlobalKind::Storage:
        fail("a storage class is called; storages come only from persistent ids");
    }
  }

  /// BINPERSID with ('storage', torch.<Kind>Storage, key, location, numel), as torch.save's persistent_id
  /// writes.
  void persistent_id() {
    const uint32_t pid = pop();
    if (objects_[pid].kind != Kind::Tuple || items(pid).size() != 5)
      fail("the persistent id must be a 5-tuple ('storage', storage type, key, location, numel)");
    const auto p = items(pid);
    if (objects_[p[0]].kind != Kind::String || string(p[0]) != "storage")
      fail("the persistent id does not start with 'storage'");
    const Object type = objects_[p[1]];
    if (type.kind != Kind::Global || static_cast<GlobalKind>(type.index) != GlobalKind::Storage)
      fail("the persistent id's storage type is not a torch.<dtype>Storage class");
    if (objects_[p[2]].kind != Kind::String || objects_[p[3]].kind != Kind::String)
      fail("the persistent id's key and location must be strings");
    const int64_t numel = int_arg(p[4], "the storage's numel");
    if (numel < 0) fail("negative storage numel ", numel);
    const auto kind = static_cast<StorageKind>(type.value);
    // Resolved once per key string object and once per key text, so repeated references cost no lookups.
    uint32_t record;
    if (auto it = storage_by_object_.find(p[2]); it != storage_by_object_.end()) {
      record = it->second;
    } else {
      const std::string_view key = string(p[2]);
      if (auto by_text = storage_by_key_.find(key); by_text != storage_by_key_.end()) {
        record = by_text->second;
      } else {
        storages_.push_back(resolve_(kind, key, numel, op_at_));
        record = static_cast<uint32_t>(storages_.size() - 1);
        storage_by_key_.emplace(key, record);
        storage_objects_.push_back(make(Kind::Storage, record, 0));
      }
      storage_by_object_.emplace(p[2], record);
    }
    const StorageRecord& s = storages_[record];
    if (s.kind != kind || s.numel != numel)
      fail("storage '", s.key, "' is named as ", storage_info(kind).class_name, " of ", numel,
           " elements here but as ", storage_info(s.kind).class_name, " of ", s.numel,
           " elements at data.pkl byte offset ", s.pid_offset);
    push(storage_objects_[record]);
  }

  std::string_view data_;
  std::string where_;
  StorageResolver resolve_;
  size_t pos_ = 0, op_at_ = 0;
  unsigned char op_ = 0;
  std::vector<Object> objects_;
  std::vector<uint32_t> tuple_items_;
  std::vector<std::vector<uint32_t>> containers_;
  std::vector<uint32_t> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, uint32_t> memo_;
  std::vector<StorageRecord> storages_;
  std::vector<uint32_t> storage_objects_;
  std::unordered_map<uint32_t, uint32_t> storage_by_object_;
  std::unordered_map<std::string_view, uint32_t> storage_by_key_;
  std::vector<TensorRecord> tensors_;
};

// ---- tensors from storages --------------------------------------------------------------------------------

/// The bits of the Width-byte element at p, stored in the file's byte order.
template <size_t Width>
uint64_t load_element_bits(const unsigned char* p, bool big_endian) {
  uint64_t v = 0;
  if (big_endian)
    for (size_t i = 0; i < Width; ++i) v = (v << 8) | p[i];
  else
    for (size_t i = 0; i < Width; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

/// Copies the strided elements at `base` (element 0 is the tensor's first) into `out`, in row-major order.
template <class Dst, class Decode>
void gather(const unsigned char* base, size_t element_size, const std::vector<int64_t>& sizes,
            const std::vector<int64_t>& strides, int64_t numel, Dst* out, Decode decode) {
  const size_t dims = sizes.size();
  std::vector<int64_t> index(dims, 0);
  int64_t pos = 0;
  for (int64_t i = 0; i < numel; ++i) {
    out[i] = static_cast<Dst>(decode(base + static_cast<size_t>(pos) * element_size));
    for (size_t d = dims; d-- > 0;) {
      if (++index[d] < sizes[d]) {
        pos += strides[d];
        break;
      }
      pos -= (sizes[d] - 1) * strides[d];
      index[d] = 0;
    }
  }
}

template <class Dst>
void decode_elements(StorageKind kind, bool big_endian, const unsigned char* base,
                     const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides, int64_t numel,
                     Dst* out) {
  const size_t el = storage_info(kind).element_size;
  const bool be = big_endian;
  switch (kind) {
    case StorageKind::Float:
      return gather(base, el, sizes, strides, numel, out, [be](const unsigned char* p) {
        return std::bit_cast<float>(static_cast<uint32_t>(load_element_bits<4>(p, be)));
      });
    case StorageKind::Double:
      return gather(base, el, sizes, strides, numel, out, [be](const unsigned char* p) {
        return std::bit_cast<double>(load_element_bits<8>(p, be));
      });
    case StorageKind::Half:
      return gather(base, el, sizes, strides, numel, out, [be](const unsigned char* p) {
        return half_to_float(static_cast<uint16_t>(load_element_bits<2>(p, be)));
      });
    case StorageKind::BFloat16:
      return gather(base, el, sizes, strides, numel, out, [be](const unsigned char* p) {
        return bfloat16_to_float(static_cast<uint16_t>(load_element_bits<2>(p, be)));
      });
    case StorageKind::Long:
      return gather(base, el, sizes, strides, numel, out, [be](const unsigned char* p) {
        return static_cast<int64_t>(load_element_bits<8>(p, be));
      });
    case StorageKind::Int:
      return gather(base, el, sizes, strides, numel, out, [be](const unsigned char* p) {
        return static_cast<int64_t>(static_cast<int32_t>(load_element_bits<4>(p, be)));
      });
    case StorageKind::Short:
      return gather(base, el, sizes, strides, numel, out, [be](const unsigned char* p) {
        return static_cast<int64_t>(static_cast<int16_t>(load_element_bits<2>(p, be)));
      });
    case StorageKind::Char:
      return gather(base, el, sizes, strides, numel, out,
                    [](const unsigned char* p) { return static_cast<int64_t>(static_cast<int8_t>(p[0])); });
    case StorageKind::Byte:
      return gather(base, el, sizes, strides, numel, out,
                    [](const unsigned char* p) { return static_cast<int64_t>(p[0]); });
    case StorageKind::Bool:
      return gather(base, el, sizes, strides, numel, out,
                    [](const unsigned char* p) { return static_cast<int64_t>(p[0] != 0); });
  }
}

/// The storage kind whose elements are Dst's bytes exactly (float, double, int64), for the direct-read path.
template <class Dst>
constexpr StorageKind native_storage_kind() {
  if constexpr (std::is_same_v<Dst, float>)
    return StorageKind::Float;
  else if constexpr (std::is_same_v<Dst, double>)
    return StorageKind::Double;
  else
    return StorageKind::Long;
}

/// Builds the tensors of the root dict's values: each gets its own storage with the elements its sizes,
/// strides and storage offset address, checked to lie inside the storage, converted to float, double or
/// int64.
class TensorLoader {
 public:
  TensorLoader(const InputFile& file, bool big_endian)
      : file_(file),
        big_endian_(big_endian),
        budget_(max_output_expansion * file.size() + output_slack_bytes) {}

  AnyTensor<CPU> load(const std::string& key, const StorageRecord& storage, const TensorRecord& t,
                      std::vector<int64_t> sizes, std::vector<int64_t> strides) {
    const std::string& where = file_.where();
    const auto describe = [&] {
      return hnn::detail::concat("tensor '", key, "' (size ", Shape(sizes), ", stride ", Shape(strides),
                                 ", storage offset ", t.storage_offset, ", data.pkl byte offset ",
                                 t.reduce_offset, ")");
    };
    charge(per_tensor_overhead_bytes + 16 * sizes.size(), key);
    int64_t nonzero = 1;
    bool has_zero = false;
    for (int64_t s : sizes) {
      if (s == 0) {
        has_zero = true;
        continue;
      }
      HNN_CHECK_RUNTIME(!__builtin_mul_overflow(nonzero, s, &nonzero), where, describe(),
                        ": the product of its sizes overflows int64");
    }
    const int64_t numel = has_zero ? 0 : nonzero;
    int64_t last = t.storage_offset;  // the highest element it addresses
    if (numel > 0) {
      for (size_t d = 0; d < sizes.size(); ++d) {
        int64_t step = 0;
        HNN_CHECK_RUNTIME(!__builtin_mul_overflow(sizes[d] - 1, strides[d], &step) &&
                              !__builtin_add_overflow(last, step, &last),
                          where, describe(), ": the element addresses overflow int64");
      }
      HNN_CHECK_RUNTIME(last < storage.numel, where, describe(), " addresses element ", last, " of storage '",
                        storage.key, "', which holds ", storage.numel, " ", storage_info(storage.kind).dtype,
                        " elements: the storage is shorter than the tensor");
    }
    switch (storage.kind) {
      case StorageKind::Float:
      case StorageKind::Half:
      case StorageKind::BFloat16:
        return read_as<float>(key, storage, t, sizes, strides, numel, last);
      case StorageKind::Double:
        return read_as<double>(key, storage, t, sizes, strides, numel, last);
      default:
        return read_as<int64_t>(key, storage, t, sizes, strides, numel, last);
    }
  }

 private:
  void charge(uint64_t bytes, const std::string& key) {
    HNN_CHECK_RUNTIME(
        bytes <= budget_, file_.where(), "tensor '", key, "' would take the state dict past ",
        max_output_expansion, " times the file's ", file_.size(),
        " bytes in memory (many keys viewing one storage, stride-0 expansion, or a crafted file); "
        "refusing");
    budget_ -= bytes;
  }

  template <class Dst>
  Tensor<Dst, CPU> read_as(const std::string& key, const StorageRecord& storage, const TensorRecord& t,
                           const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides,
                           int64_t numel, int64_t last) {
    HNN_CHECK_RUNTIME(static_cast<uint64_t>(numel) <= budget_ / sizeof(Dst), file_.where(), "tensor '", key,
                      "' of size ", Shape(sizes), " would take the state dict past ", max_output_expansion,
                      " times the file's ", file_.size(), " bytes in memory; refusing");
    charge(static_cast<uint64_t>(numel) * sizeof(Dst), key);
    auto out = Tensor<Dst, CPU>::empty(Shape(sizes));
    if (numel == 0) return out;
    const size_t el = storage_info(storage.kind).element_size;
    // offset and last are below storage.numel, whose bytes lie in the file: no overflow below.
    const uint64_t first_byte = storage.data_offset + static_cast<uint64_t>(t.storage_offset) * el;
    const std::string what = "the data of tensor '" + key + "' in storage '" + storage.key + "'";
    bool contiguous = true;
    for (int64_t d = static_cast<int64_t>(sizes.size()) - 1, expected = 1; d >= 0; --d) {
      if (sizes[static_cast<size_t>(d)] == 1) continue;
      contiguous = contiguous && strides[static_cast<size_t>(d)] == expected;
      expected *= sizes[static_cast<size_t>(d)];
    }
    if (contiguous && storage.kind == native_storage_kind<Dst>() &&
        big_endian_ == (std::endian::native == std::endian::big)) {
      file_.read_at(first_byte, out.data(), static_cast<uint64_t>(numel) * el, what);
      return out;
    }
    const uint64_t span = static_cast<uint64_t>(last - t.storage_offset + 1) * el;
    charge(span, key);
    std::vector<unsigned char> bytes(static_cast<size_t>(span));
    file_.read_at(first_byte, bytes.data(), span, what);
    decode_elements(storage.kind, big_endian_, bytes.data(), sizes, strides, numel, out.data());
    return out;
  }

  const InputFile& file_;
  bool big_endian_;
  uint64_t budget_;
};

inline std::string read_where(const std::string& path) { return "hnn::io::read_torch: '" + path + "': "; }

/// The first bytes of a file (fewer when it is shorter or cannot be read).
inline std::string file_prefix(const std::string& path, size_t n) {
  std::string bytes(n, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, bytes.data() + got, n - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  bytes.resize(got);
  return bytes;
}

// ---- writing: a protocol-2 pickle and a zip of stored, 64-byte aligned entries ----------------------------

/// One tensor of a pickled state dict: its storage (data/<storage_key>, storage_numel elements of `kind`) and
/// its geometry. write_torch gives each tensor its own contiguous storage; tests build views and odd files
/// with it.
struct PickledTensor {
  std::string key;
  StorageKind kind = StorageKind::Float;
  std::string storage_key;
  int64_t storage_numel = 0;
  int64_t storage_offset = 0;
  std::vector<int64_t> sizes, strides;
};

/// The pickle torch.save(OrderedDict) writes at protocol 2 (one SETITEM per entry, the globals memoized, no
/// _metadata), which torch.load(path, weights_only=True) accepts.
class PickleWriter {
 public:
  std::string state_dict(const std::vector<PickledTensor>& tensors) {
    out_.clear();
    memo_.clear();
    op(0x80);
    out_.push_back(2);  // PROTO 2
    global("collections", "OrderedDict");
    op(')');
    op('R');
    for (const auto& t : tensors) {
      string(t.key);
      global("torch._utils", "_rebuild_tensor_v2");
      op('(');
      op('(');  // the persistent id ('storage', torch.<Kind>Storage, key, 'cpu', numel)
      string("storage");
      global("torch", storage_info(t.kind).class_name);
      string(t.storage_key);
      string("cpu");
      integer(t.storage_numel);
      op('t');
      op('Q');
      integer(t.storage_offset);
      tuple(t.sizes);
      tuple(t.strides);
      op(0x89);                              // requires_grad = False
      global("collections", "OrderedDict");  // backward_hooks = OrderedDict()
      op(')');
      op('R');
      op('t');
      op('R');
      op('s');
    }
    op('.');
    return out_;
  }

 private:
  void op(unsigned char c) { out_.push_back(static_cast<char>(c)); }
  void string(const std::string& s) {
    op('X');
    put_le(out_, s.size(), 4);
    out_ += s;
  }
  /// Python's pickler's choice: BININT1, BININT2, BININT, else LONG1 (minimal two's complement).
  void integer(int64_t v) {
    if (v >= 0 && v <= 0xff) {
      op('K');
      put_le(out_, static_cast<uint64_t>(v), 1);
    } else if (v >= 0 && v <= 0xffff) {
      op('M');
      put_le(out_, static_cast<uint64_t>(v), 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      put_le(out_, static_cast<uint64_t>(v), 4);
    } else {
      std::string bytes;
      put_le(bytes, static_cast<uint64_t>(v), 8);
      while (bytes.size() > 1) {
        const auto hi = static_cast<unsigned char>(bytes.back()),
                   next = static_cast<unsigned char>(bytes[bytes.size() - 2]);
        if ((hi == 0x00 && !(next & 0x80)) || (hi == 0xff && (next & 0x80)))
          bytes.pop_back();
        else
          break;
      }
      op(0x8a);
      out_.push_back(static_cast<char>(bytes.size()));
      out_ += bytes;
    }
  }
  void tuple(const std::vector<int64_t>& values) {
    if (values.empty()) return op(')');
    if (values.size() > 3) op('(');
    for (int64_t v : values) integer(v);
    op(values.size() > 3 ? static_cast<unsigned char>('t')
                         : static_cast<unsigned char>(0x84 + values.size()));
  }
  void global(const std::string& module, const std::string& name) {
    const std::string qualified = module + "\n" + name + "\n";
    auto it = memo_.find(qualified);
    if (it != memo_.end()) {
      op('h');
      out_.push_back(static_cast<char>(it->second));
      return;
    }
    op('c');
    out_ += qualified;
    const auto index = static_cast<unsigned char>(memo_.size());  // a handful of globals: BINPUT suffices
    memo_.emplace(qualified, index);
    op('q');
    out_.push_back(static_cast<char>(index));
  }

  std::string out_;
  std::unordered_map<std::string, unsigned char> memo_;
};

/// Writes a zip of stored entries to a sink with write(const void*, size_t): each entry's data starts on a
/// 64-byte boundary (an "FB" extra field of 'Z' padding, as PyTorch's writer pads), sizes and CRC-32 in the
/// local header (no data descriptors), a fixed DOS date (1980-01-01 00:00) so equal input gives equal bytes,
/// and ZIP64 fields where sizes or offsets need them (or everywhere, with force_zip64, to test readers).
template <class Sink>
class ZipWriter {
 public:
  explicit ZipWriter(Sink& sink, bool force_zip64 = false) : sink_(sink), force_zip64_(force_zip64) {}

  void begin_entry(const std::string& name, uint64_t size, uint32_t crc) {
    HNN_CHECK(name.size() <= 0xffff, "zip entry names have at most 65535 bytes, got ", name.size());
    entries_.push_back({name, pos_, size, crc});
    const bool zip64 = force_zip64_ || size >= 0xFFFFFFFFu;
    std::string extra;
    if (zip64) {  // the local header's ZIP64 field holds both sizes
      put_le(extra, 1, 2);
      put_le(extra, 16, 2);
      put_le(extra, size, 8);
      put_le(extra, size, 8);
    }
    const uint64_t unpadded = pos_ + 30 + name.size() + extra.size() + 4;
    const uint64_t padding = (zip_alignment - unpadded % zip_alignment) % zip_alignment;
    extra += "FB";
    put_le(extra, padding, 2);
    extra.append(static_cast<size_t>(padding), 'Z');
    std::string h;
    put_le(h, zip_local_signature, 4);
    put_le(h, zip64 ? 45 : 20, 2);  // version needed to extract
    put_le(h, 0x0800, 2);           // flags: names are UTF-8
    put_le(h, 0, 2);                // method: stored
    put_le(h, 0, 2);                // time 00:00
    put_le(h, dos_date, 2);
    put_le(h, crc, 4);
    put_le(h, zip64 ? 0xFFFFFFFFu : size, 4);
    put_le(h, zip64 ? 0xFFFFFFFFu : size, 4);
    put_le(h, name.size(), 2);
    put_le(h, extra.size(), 2);
    h += name;
    h += extra;
    put(h.data(), h.size());
    left_ = size;
  }
  void write(const void* data, size_t n) {
    HNN_CHECK(n <= left_, "ZipWriter: ", n, " bytes written to an entry with ", left_, " bytes left");
    put(data, n);
    left_ -= n;
  }
  void end_entry() { HNN_CHECK(left_ == 0, "ZipWriter: the entry lacks ", left_, " bytes"); }
  void add(const std::string& name, const std::string& bytes) {
    begin_entry(name, bytes.size(), crc32_update(0, bytes.data(), bytes.size()));
    write(bytes.data(), bytes.size());
    end_entry();
  }

  /// The central directory and the end records.
  void finish() {
    const uint64_t cd_offset = pos_;
    for (const auto& e : entries_) {
      const bool size64 = force_zip64_ || e.size >= 0xFFFFFFFFu,
                 offset64 = force_zip64_ || e.offset >= 0xFFFFFFFFu;
      std::string extra;
      if (size64 || offset64) {
        put_le(extra, 1, 2);
        put_le(extra, (size64 ? 16 : 0) + (offset64 ? 8 : 0), 2);
        if (size64) {
          put_le(extra, e.size, 8);
          put_le(extra, e.size, 8);
        }
        if (offset64) put_le(extra, e.offset, 8);
      }
      const bool zip64 = size64 || offset64;
      std::string h;
      put_le(h, zip_central_signature, 4);
      put_le(h, zip64 ? 45 : 20, 2);  // version made by (MS-DOS attributes)
      put_le(h, zip64 ? 45 : 20, 2);  // version needed
      put_le(h, 0x0800, 2);
      put_le(h, 0, 2);
      put_le(h, 0, 2);
      put_le(h, dos_date, 2);
      put_le(h, e.crc, 4);
      put_le(h, size64 ? 0xFFFFFFFFu : e.size, 4);
      put_le(h, size64 ? 0xFFFFFFFFu : e.size, 4);
      put_le(h, e.name.size(), 2);
      put_le(h, extra.size(), 2);
      put_le(h, 0, 2);  // comment length
      put_le(h, 0, 2);  // disk
      put_le(h, 0, 2);  // internal attributes
      put_le(h, 0, 4);  // external attributes
      put_le(h, offset64 ? 0xFFFFFFFFu : e.offset, 4);
      h += e.name;
      h += extra;
      put(h.data(), h.size());
    }
    const uint64_t cd_size = pos_ - cd_offset, count = entries_.size();
    const bool zip64 = force_zip64_ || count >= 0xFFFF || cd_size >= 0xFFFFFFFFu || cd_offset >= 0xFFFFFFFFu;
    std::string end;
    if (zip64) {
      const uint64_t record = pos_;
      put_le(end, zip64_end_signature, 4);
      put_le(end, 44, 8);  // size of the rest of the record
      put_le(end, 45, 2);
      put_le(end, 45, 2);
      put_le(end, 0, 4);
      put_le(end, 0, 4);
      put_le(end, count, 8);
      put_le(end, count, 8);
      put_le(end, cd_size, 8);
      put_le(end, cd_offset, 8);
      put_le(end, zip64_locator_signature, 4);
      put_le(end, 0, 4);
      put_le(end, record, 8);
      put_le(end, 1, 4);
    }
    put_le(end, zip_end_signature, 4);
    put_le(end, 0, 2);
    put_le(end, 0, 2);
    put_le(end, zip64 ? 0xFFFF : count, 2);
    put_le(end, zip64 ? 0xFFFF : count, 2);
    put_le(end, zip64 ? 0xFFFFFFFFu : cd_size, 4);
    put_le(end, zip64 ? 0xFFFFFFFFu : cd_offset, 4);
    put_le(end, 0, 2);
    put(end.data(), end.size());
  }

 private:
  static constexpr uint16_t dos_date = (0 << 9) | (1 << 5) | 1;  // 1980-01-01
  struct Written {
    std::string name;
    uint64_t offset, size;
    uint32_t crc;
  };
  void put(const void* data, size_t n) {
    sink_.write(data, n);
    pos_ += n;
  }

  Sink& sink_;
  bool force_zip64_;
  uint64_t pos_ = 0, left_ = 0;
  std::vector<Written> entries_;
};

/// A sink that appends to a string (for archives built in memory: tests, fuzz harnesses).
struct StringSink {
  std::string& bytes;
  void write(const void* data, size_t n) { bytes.append(static_cast<const char*>(data), n); }
};

/// A zip archive in memory from (name, bytes) records, in order.
inline std::string zip_archive(const std::vector<std::pair<std::string, std::string>>& records,
                               bool force_zip64 = false) {
  std::string bytes;
  StringSink sink{bytes};
  ZipWriter<StringSink> zip(sink, force_zip64);
  for (const auto& [name, data] : records) zip.add(name, data);
  zip.finish();
  return bytes;
}

/// PyTorch's archive folder for a file: its name without folders and extension ("model" for "out/model.pt"),
/// as PyTorchStreamWriter names it; "archive" when that is empty.
inline std::string archive_name_for(const std::string& path) {
  const size_t slash = path.find_last_of("/\\");
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = name.find_last_of('.');
  if (dot != std::string::npos) name.resize(dot);
  return name.empty() ? "archive" : name;
}

inline bool is_valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1fu;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0fu;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (s.size() - i - 1 < n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    const uint32_t smallest[] = {0, 0x80, 0x800, 0x10000};
    if (cp < smallest[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;  // overlong, surrogate
    i += n + 1;
  }
  return true;
}

/// PyTorch's strides for a contiguous tensor (a size-0 dimension counts as 1, as torch does).
inline std::vector<int64_t> torch_contiguous_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

template <class T>
void write_storage(ZipWriter<hnn::detail::AtomicFile>& zip, const std::string& name,
                   const Tensor<T, CPU>& t) {
  const uint64_t bytes = static_cast<uint64_t>(t.numel()) * sizeof(T);
  if (t.numel() == 0) {
    zip.begin_entry(name, 0, 0);
    zip.end_entry();
    return;
  }
  if (t.is_contiguous() && std::endian::native == std::endian::little) {
    zip.begin_entry(name, bytes, crc32_update(0, t.data(), static_cast<size_t>(bytes)));
    zip.write(t.data(), static_cast<size_t>(bytes));
  } else {
    std::vector<T> values = t.to_vector();
    io::detail::to_little_endian(values.data(), values.size());
    zip.begin_entry(name, bytes, crc32_update(0, values.data(), static_cast<size_t>(bytes)));
    zip.write(values.data(), static_cast<size_t>(bytes));
  }
  zip.end_entry();
}

/// write_torch with the test-only option of ZIP64 records on every entry.
inline void write_torch_file(const std::string& path,
                             const std::vector<std::pair<std::string, AnyTensor<CPU>>>& tensors,
                             bool force_zip64) {
  const std::string who = "hnn::io::write_torch('" + path + "')";
  std::vector<PickledTensor> pickled;
  std::set<std::string> seen;
  for (const auto& [key, t] : tensors) {
    HNN_CHECK(seen.insert(key).second, who, ": duplicate key '", key, "'");
    HNN_CHECK(t.defined(), who, ": tensor '", key, "' is undefined");
    HNN_CHECK(is_valid_utf8(key), who, ": key '", key, "' is not valid UTF-8 (Python could not read it)");
    PickledTensor p;
    p.key = key;
    p.kind = t.dtype() == Dtype::Float32   ? StorageKind::Float
             : t.dtype() == Dtype::Float64 ? StorageKind::Double
                                           : StorageKind::Long;
    p.storage_key = std::to_string(pickled.size());
    p.storage_numel = t.numel();
    p.sizes = t.shape().vec();
    p.strides = torch_contiguous_strides(t.shape());
    pickled.push_back(std::move(p));
  }
  const std::string prefix = archive_name_for(path) + "/";
  const std::string pickle = PickleWriter().state_dict(pickled);

  hnn::detail::AtomicFile out(path, "hnn::io::write_torch");
  ZipWriter<hnn::detail::AtomicFile> zip(out, force_zip64);
  zip.add(prefix + "data.pkl", pickle);
  zip.add(prefix + "byteorder", "little");
  auto& hook = io::detail::write_fault_hook();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [key, t] = tensors[i];
    if (hook) hook(key);
    const std::string name = prefix + "data/" + pickled[i].storage_key;
    switch (t.dtype()) {
      case Dtype::Float32:
        write_storage(zip, name, t.template as<float>());
        break;
      case Dtype::Float64:
        write_storage(zip, name, t.template as<double>());
        break;
      default:
        write_storage(zip, name, t.template as<int64_t>());
        break;
    }
  }
  zip.add(prefix + "version", "3\n");
  zip.finish();
  out.commit();
}

}  // namespace detail::torch_file

/// True when the file starts with a zip local-file header ("PK\x03\x04"), as torch.save's files (since
/// PyTorch 1.6) do. False when it does not, or cannot be read.
inline bool is_torch_zip(const std::string& path) {
  return detail::torch_file::file_prefix(path, 4) == std::string("PK\x03\x04", 4);
}

/// True when the file is in PyTorch's legacy (pre-1.6) format: a pickle (PROTO) whose first value is the
/// magic number 0x1950a86a20f9469cfc6c (LONG1 of 10 bytes).
inline bool is_legacy_torch_file(const std::string& path) {
  static const std::string magic("\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 12);
  const std::string head = detail::torch_file::file_prefix(path, 14);
  return head.size() == 14 && static_cast<unsigned char>(head[0]) == 0x80 && head[1] >= 1 && head[1] <= 5 &&
         head.compare(2, 12, magic) == 0;
}

/// Reads a torch.save file of a state dict (torch.save(model.state_dict(), path), PyTorch >= 1.6) and returns
/// its tensors in the dict's order (metadata is empty; the dict's _metadata versions are accepted and
/// dropped). float32, float16 and bfloat16 become float; float64 double; int64, int32, int16, int8, uint8 and
/// bool int64. Each tensor gets its own storage holding the elements its sizes, strides and storage offset
/// address (views and shared storages read as PyTorch has them), in host byte order whatever the file's
/// byteorder record says.
///
/// Nothing in the file is executed. Anything but a state dict (a whole model from torch.save(model), a
/// TorchScript archive, the legacy format, any global outside the allow list, any other pickle opcode) and
/// any corruption (truncation, bad offsets, a storage shorter than its tensor, sizes that overflow) is a
/// std::runtime_error that names the file and where (byte offset in the file or in data.pkl, entry, key).
/// Memory stays within 16 times the file's size for the tensors plus a few dozen bytes per byte of data.pkl
/// for the pickle machine. Entries' CRC-32s are not checked: PyTorch >= 2.4 can write files without them
/// (torch.serialization.set_crc32_options), which its torch.load still reads.
inline SafetensorsContent read_torch(const std::string& path) {
  namespace tf = detail::torch_file;
  const std::string where = tf::read_where(path);
  if (is_legacy_torch_file(path))
    throw std::runtime_error("hnn::io::read_torch: '" + path +
                             "' is in PyTorch's legacy (pre-1.6) serialization format; re-save it with "
                             "torch.save(model.state_dict(), path) from PyTorch >= 1.6 (the default "
                             "_use_new_zipfile_serialization=True)");
  tf::InputFile file(path, where);
  HNN_CHECK_RUNTIME(is_torch_zip(path), where,
                    "not a PyTorch file: torch.save's zip files start with \"PK\\x03\\x04\" (file of ",
                    file.size(), " bytes)");
  tf::ZipReader zip(file);

  // The archive's folder is whatever precedes data.pkl ("archive/", "model/"): exactly one such entry.
  std::string prefix;
  int found = 0;
  for (const auto& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    const std::string folder = slash == std::string::npos ? "" : e.name.substr(0, slash + 1);
    if (e.name == folder + "data.pkl") {
      prefix = folder;
      ++found;
    }
  }
  HNN_CHECK_RUNTIME(found == 1, where,
                    found == 0 ? "the zip archive has no data.pkl entry (<folder>/data.pkl): "
                                 "not a torch.save file"
                               : "the zip archive has several data.pkl entries");
  bool torchscript = zip.find(prefix + "constants.pkl") != nullptr;
  for (const auto& e : zip.entries()) torchscript = torchscript || e.name.rfind(prefix + "code/", 0) == 0;
  HNN_CHECK_RUNTIME(!torchscript, where,
                    "the file is a TorchScript archive (torch.jit.save), not a state dict: save "
                    "model.state_dict() with torch.save instead");

  bool big_endian = false;
  if (const tf::ZipEntry* order = zip.find(prefix + "byteorder")) {
    const std::string text = order->size <= 16 ? zip.read(*order) : std::string("?");
    HNN_CHECK_RUNTIME(text == "little" || text == "big", where, "the byteorder record '", order->name,
                      "' must say \"little\" or \"big\"");
    big_endian = text == "big";
  }

  const tf::ZipEntry* pkl = zip.find(prefix + "data.pkl");
  HNN_CHECK_RUNTIME(pkl->size < UINT32_MAX, where, "data.pkl of ", pkl->size,
                    " bytes is too large for a state dict");
  const std::string pickle = zip.read(*pkl);

  tf::Unpickler machine(
      pickle, where, [&](tf::StorageKind kind, std::string_view key, int64_t numel, uint64_t pid_offset) {
        const auto fail = [&](auto&&... args) {
          throw std::runtime_error(
              hnn::detail::concat(where, "data.pkl byte offset ", pid_offset, " (BINPERSID): ", args...));
        };
        if (key.size() > 0xffff)
          fail("the storage key has ", key.size(), " bytes; zip entry names have at most 65535");
        const std::string name = prefix + "data/" + std::string(key);
        const tf::ZipEntry* entry = zip.find(name);
        if (!entry) fail("the persistent id names storage '", name, "', which the archive lacks");
        const size_t el = tf::storage_info(kind).element_size;
        if (static_cast<uint64_t>(numel) > entry->size / el)
          fail("storage '", name, "' holds ", entry->size, " bytes, fewer than its persistent id's ", numel,
               " ", tf::storage_info(kind).dtype, " elements of ", el, " bytes");
        tf::StorageRecord record;
        record.key = name;
        record.kind = kind;
        record.numel = numel;
        record.data_offset = zip.data_offset(*entry);
        record.pid_offset = pid_offset;
        return record;
      });
  const uint32_t root = machine.run();
  const tf::Object& dict = machine.object(root);
  HNN_CHECK_RUNTIME(dict.kind == tf::Kind::Dict, where, "data.pkl holds a value of type ",
                    tf::kind_name(dict.kind),
                    ", not a state dict (a dict of tensors, as torch.save(model.state_dict(), path) writes)");

  // Python's dict semantics: a repeated key keeps its first position and takes the last value. Keys are
  // compared once per string object, so memo references to one long key cost nothing more.
  const auto entries = machine.items(root);
  std::vector<std::pair<uint32_t, uint32_t>> slots;  // (key object, value object) per distinct key
  std::unordered_map<uint32_t, size_t> slot_by_object;
  std::unordered_map<std::string_view, size_t> slot_by_text;
  for (size_t i = 0; i + 1 < entries.size(); i += 2) {
    const uint32_t key = entries[i], value = entries[i + 1];
    auto it = slot_by_object.find(key);
    if (it == slot_by_object.end()) {
      HNN_CHECK_RUNTIME(machine.object(key).kind == tf::Kind::String, where,
                        "the state dict has a key of type ", tf::kind_name(machine.object(key).kind),
                        "; state dict keys are strings");
      const auto [text, inserted] = slot_by_text.emplace(machine.string(key), slots.size());
      if (inserted) slots.emplace_back(key, value);
      it = slot_by_object.emplace(key, text->second).first;
    }
    slots[it->second].second = value;
  }

  SafetensorsContent content;
  tf::TensorLoader loader(file, big_endian);
  for (const auto& [key_id, value_id] : slots) {
    std::string key(machine.string(key_id));
    const tf::Object& value = machine.object(value_id);
    HNN_CHECK_RUNTIME(
        value.kind == tf::Kind::Tensor, where, "the value of '", key, "' has type ",
        tf::kind_name(value.kind),
        ", not tensor: hnn reads state dicts (torch.save(model.state_dict(), path)); from a checkpoint "
        "dict, save its model's state dict alone");
    const tf::TensorRecord& t = machine.tensor(value_id);
    std::vector<int64_t> sizes, strides;
    for (uint32_t d : machine.items(t.sizes)) sizes.push_back(machine.object(d).value);
    for (uint32_t d : machine.items(t.strides)) strides.push_back(machine.object(d).value);
    AnyTensor<CPU> tensor =
        loader.load(key, machine.storage(t.storage), t, std::move(sizes), std::move(strides));
    content.tensors.emplace_back(std::move(key), std::move(tensor));
  }
  return content;
}

/// Writes `tensors` as torch.save(OrderedDict) does (PyTorch's zip format): <name>/data.pkl (a protocol-2
/// pickle that torch.load(path, weights_only=True) reads, PyTorch 1.13 included), <name>/byteorder
/// ("little"), <name>/data/<i> (tensor i's elements, contiguous, 64-byte aligned) and <name>/version ("3"),
/// where <name> is the file's name without folders and extension, as PyTorch names it. float, double and
/// int64 tensors become float32, float64 and int64; non-contiguous tensors are written in logical order. The
/// output is deterministic (fixed DOS date), and the write is atomic like write_safetensors: temp file,
/// fsync, rename; write_fault_hook (of io/safetensors.hpp) is called with each key before its data is
/// written. Bad input (duplicate or non-UTF-8 keys, undefined tensors) is std::invalid_argument; I/O failures
/// are std::runtime_error.
inline void write_torch(const std::string& path,
                        const std::vector<std::pair<std::string, AnyTensor<CPU>>>& tensors) {
  detail::torch_file::write_torch_file(path, tensors, /*force_zip64=*/false);
}

}  // namespace hnn::io
