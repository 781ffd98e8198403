// Low-level safetensors I/O: an 8-byte little-endian header length N, N bytes of JSON
// ({"key": {"dtype", "shape", "data_offsets"}, "__metadata__": {...}}, space-padded to a multiple of 8), then
// the raw little-endian data. Writes are atomic (temp file + fsync + rename); reads validate everything.
// Depends on tensor/any_tensor.hpp, core/atomic_file.hpp, nlohmann/json.
#pragma once

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "hnn/core/atomic_file.hpp"
#include "hnn/core/error.hpp"
#include "hnn/tensor.hpp"
#include "hnn/tensor/any_tensor.hpp"

namespace hnn::io {

/// Named tensors in file order, and the string-to-string "__metadata__" table.
struct SafetensorsContent {
  std::vector<std::pair<std::string, AnyTensor<CPU>>> tensors;
  std::map<std::string, std::string> metadata;

  bool contains(const std::string& key) const {
    return std::any_of(tensors.begin(), tensors.end(), [&](const auto& e) { return e.first == key; });
  }
  const AnyTensor<CPU>& at(const std::string& key) const {
    for (const auto& e : tensors)
      if (e.first == key) return e.second;
    throw std::out_of_range("safetensors: no tensor named '" + key + "'");
  }
};

namespace detail {

/// The safetensors dtype string for an hnn dtype.
inline const char* safetensors_dtype(Dtype d) {
  switch (d) {
    case Dtype::Float32:
      return "F32";
    case Dtype::Float64:
      return "F64";
    default:
      return "I64";
  }
}

/// Every dtype the format defines; hnn reads F32, F64 and I64 and names the others as unsupported.
inline bool is_known_safetensors_dtype(const std::string& s) {
  static const std::set<std::string> known = {"BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
                                              "BF16", "I32", "U32", "F32",     "F64",     "I64", "U64"};
  return known.count(s) > 0;
}

/// Hard cap on the JSON header, as the reference implementation has (100 MB): a corrupt length can never
/// make us allocate more than this, nor more than the file holds.
inline constexpr uint64_t max_header_bytes = 100'000'000;

/// Test hook for fault injection: when set, called with each key just before its bytes are written;
/// a throw from it aborts the save like any I/O error would.
inline std::function<void(const std::string&)>& write_fault_hook() {
  static std::function<void(const std::string&)> hook;
  return hook;
}

template <class T>
void to_little_endian(T* values, size_t n) {
  if constexpr (std::endian::native == std::endian::big) {
    for (size_t i = 0; i < n; ++i) {
      auto* bytes = reinterpret_cast<unsigned char*>(values + i);
      std::reverse(bytes, bytes + sizeof(T));
    }
  } else {
    (void)values;
    (void)n;
  }
}

using hnn::detail::errno_text;
using hnn::detail::remove_stale_temp_files;
using hnn::detail::temp_path_for;

template <class T>
void write_tensor_bytes(hnn::detail::AtomicFile& out, const Tensor<T, CPU>& t) {
  if (t.numel() == 0) return;
  if (t.is_contiguous() && std::endian::native == std::endian::little) {
    out.write(t.data(), static_cast<size_t>(t.numel()) * sizeof(T));
    return;
  }
  std::vector<T> values = t.to_vector();
  to_little_endian(values.data(), values.size());
  out.write(values.data(), values.size() * sizeof(T));
}

/// Reads exactly n bytes at the current position or throws naming the file and offset.
inline void read_exact(std::FILE* f, void* dst, size_t n, const std::string& path, uint64_t offset) {
  if (n == 0) return;
  HNN_CHECK_RUNTIME(std::fread(dst, 1, n, f) == n, "hnn::io::read_safetensors: '", path, "': short read of ",
                    n, " bytes at byte offset ", offset);
}

struct RawEntry {
  std::string key;
  std::string dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

/// Validates the parsed header against the data-buffer size and returns the entries sorted by offset.
inline std::vector<RawEntry> validate_header(const nlohmann::json& header, uint64_t buffer_bytes,
                                             const std::string& path,
                                             std::map<std::string, std::string>& metadata) {
  const std::string where = "hnn::io::read_safetensors: '" + path + "': ";
  HNN_CHECK_RUNTIME(header.is_object(), where, "the header at byte offset 8 must be a JSON object, got ",
                    header.type_name());
  std::vector<RawEntry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      HNN_CHECK_RUNTIME(value.is_object(), where, "__metadata__ must be an object of strings, got ",
                        value.type_name());
      for (const auto& [mk, mv] : value.items()) {
        HNN_CHECK_RUNTIME(mv.is_string(), where, "__metadata__ value for '", mk, "' must be a string, got ",
                          mv.type_name());
        metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    const std::string at = hnn::detail::concat(where, "tensor '", key, "': ");
    HNN_CHECK_RUNTIME(value.is_object() && value.contains("dtype") && value.contains("shape") &&
                          value.contains("data_offsets"),
                      at, "expected an object with dtype, shape and data_offsets, got ", value.dump());
    const auto& dtype = value["dtype"];
    HNN_CHECK_RUNTIME(dtype.is_string(), at, "dtype must be a string, got ", dtype.dump());
    RawEntry e;
    e.key = key;
    e.dtype = dtype.get<std::string>();
    HNN_CHECK_RUNTIME(is_known_safetensors_dtype(e.dtype), at, "unknown dtype \"", e.dtype, "\"");
    HNN_CHECK_RUNTIME(e.dtype == "F32" || e.dtype == "F64" || e.dtype == "I64", at, "unsupported dtype \"",
                      e.dtype, "\" (hnn reads F32, F64 and I64)");
    const auto& shape = value["shape"];
    HNN_CHECK_RUNTIME(shape.is_array(), at, "shape must be an array, got ", shape.dump());
    // numel is bounded by the buffer size below, so an overflowing product is caught before it wraps.
    uint64_t numel = 1, nonzero_product = 1;
    bool overflow = false;
    for (const auto& s : shape) {
      HNN_CHECK_RUNTIME(s.is_number_unsigned() || (s.is_number_integer() && s.get<int64_t>() >= 0), at,
                        "shape entries must be non-negative integers, got ", shape.dump());
      uint64_t d = s.get<uint64_t>();
      HNN_CHECK_RUNTIME(d <= static_cast<uint64_t>(INT64_MAX), at, "dimension ", d, " is too large");
      if (d != 0 && numel > UINT64_MAX / 8 / d)
        overflow = true;
      else
        numel *= d;
      if (d != 0)  // saturates once past INT64_MAX
        nonzero_product = nonzero_product > uint64_t(INT64_MAX) / d ? UINT64_MAX : nonzero_product * d;
      e.shape.push_back(static_cast<int64_t>(d));
    }
    // A zero size makes numel 0, but the other sizes' product is still a stride and must fit in int64
    // (as in PyTorch): [0, 2^40, 2^40] holds nothing, yet no tensor can have that shape.
    HNN_CHECK_RUNTIME(overflow || numel != 0 || nonzero_product <= static_cast<uint64_t>(INT64_MAX), at,
                      "shape ", shape.dump(),
                      " is too large: the product of its nonzero sizes overflows int64");
    const uint64_t item = e.dtype == "F32" ? 4 : 8;
    const auto& offsets = value["data_offsets"];
    HNN_CHECK_RUNTIME(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                          offsets[1].is_number_unsigned(),
                      at, "data_offsets must be two non-negative integers, got ", offsets.dump());
    e.begin = offsets[0].get<uint64_t>();
    e.end = offsets[1].get<uint64_t>();
    HNN_CHECK_RUNTIME(e.begin <= e.end, at, "data_offsets [", e.begin, ", ", e.end, "] are reversed");
    HNN_CHECK_RUNTIME(e.end <= buffer_bytes, at, "data_offsets [", e.begin, ", ", e.end,
                      "] run past the data buffer of ", buffer_bytes, " bytes (file byte offset ", 8 + e.end,
                      ")");
    HNN_CHECK_RUNTIME(!overflow && numel * item == e.end - e.begin, at, "shape ", shape.dump(),
                      " with dtype ", e.dtype, " needs ",
                      overflow ? std::string("more than 2^64") : std::to_string(numel * item),
                      " bytes but data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin);
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const RawEntry& a, const RawEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  // The tensors must tile the buffer exactly: no overlap, no gap, nothing left over.
  uint64_t expected = 0;
  for (const auto& e : entries) {
    HNN_CHECK_RUNTIME(e.begin >= expected, where, "tensor '", e.key, "' at data_offsets [", e.begin, ", ",
                      e.end, "] overlaps the previous tensor, which ends at ", expected,
                      " (file byte offset ", 8 + e.begin, ")");
    HNN_CHECK_RUNTIME(e.begin == expected, where, "gap in the data buffer: bytes [", expected, ", ", e.begin,
                      ") before tensor '", e.key, "' belong to no tensor");
    expected = e.end;
  }
  HNN_CHECK_RUNTIME(expected == buffer_bytes, where, "the tensors cover ", expected,
                    " bytes but the data buffer holds ", buffer_bytes, " (trailing bytes)");
  return entries;
}

}  // namespace detail

/// Writes `tensors` (in the given order) and `metadata` to `path` atomically: the bytes go to
/// "<path>.tmp.<pid>", are fsync'ed and renamed over `path`, so a crash or exception mid-save leaves any
/// previous file untouched. An exception removes the temp file; a killed process cannot, and the next save
/// to the same path removes the temp files of writers that are no longer running.
inline void write_safetensors(const std::string& path,
                              const std::vector<std::pair<std::string, AnyTensor<CPU>>>& tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  uint64_t offset = 0;
  std::set<std::string> seen;
  for (const auto& [key, t] : tensors) {
    HNN_CHECK(key != "__metadata__", "hnn::io::write_safetensors('", path, "'): '__metadata__' is reserved");
    HNN_CHECK(seen.insert(key).second, "hnn::io::write_safetensors('", path, "'): duplicate key '", key, "'");
    HNN_CHECK(t.defined(), "hnn::io::write_safetensors('", path, "'): tensor '", key, "' is undefined");
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * (t.dtype() == Dtype::Float32 ? 4 : 8);
    nlohmann::ordered_json entry;
    entry["dtype"] = detail::safetensors_dtype(t.dtype());
    entry["shape"] = std::vector<int64_t>(t.shape().begin(), t.shape().end());
    entry["data_offsets"] = {offset, offset + bytes};
    header[key] = std::move(entry);
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data buffer starts 8-byte aligned
  uint64_t n = text.size();
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(n >> (8 * i));

  hnn::detail::AtomicFile out(path, "hnn::io::write_safetensors");
  out.write(length, 8);
  out.write(text.data(), text.size());
  auto& hook = detail::write_fault_hook();
  for (const auto& [key, t] : tensors) {
    if (hook) hook(key);
    switch (t.dtype()) {
      case Dtype::Float32:
        detail::write_tensor_bytes(out, t.template as<float>());
        break;
      case Dtype::Float64:
        detail::write_tensor_bytes(out, t.template as<double>());
        break;
      default:
        detail::write_tensor_bytes(out, t.template as<int64_t>());
        break;
    }
  }
  out.commit();
}

/// Reads and validates a safetensors file. Errors (std::runtime_error) name the file, the key and the byte
/// offset; no allocation ever exceeds the file's size.
inline SafetensorsContent read_safetensors(const std::string& path) {
  const std::string where = "hnn::io::read_safetensors: '" + path + "': ";
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  HNN_CHECK_RUNTIME(file != nullptr, "hnn::io::read_safetensors: cannot open '", path,
                    "': ", detail::errno_text());
  std::FILE* f = file.get();
  HNN_CHECK_RUNTIME(std::fseek(f, 0, SEEK_END) == 0, where, "cannot seek");
  const long end = std::ftell(f);
  HNN_CHECK_RUNTIME(end >= 0, where, "cannot tell the file size");
  const uint64_t file_size = static_cast<uint64_t>(end);
  std::rewind(f);
  HNN_CHECK_RUNTIME(file_size >= 8, where, "file of ", file_size,
                    " bytes is too small for the 8-byte header length at byte offset 0");
  unsigned char length[8];
  detail::read_exact(f, length, 8, path, 0);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(length[i]) << (8 * i);
  HNN_CHECK_RUNTIME(n <= file_size - 8, where, "header length ", n, " (byte offset 0) is larger than the ",
                    file_size - 8, " bytes that follow it");
  HNN_CHECK_RUNTIME(n <= detail::max_header_bytes, where, "header length ", n, " exceeds the ",
                    detail::max_header_bytes, "-byte limit");
  std::string text(n, '\0');
  detail::read_exact(f, text.data(), n, path, 8);

  // nlohmann keeps the last of duplicate keys silently; a parser callback sees every top-level key first.
  std::string duplicate;
  std::set<std::string> keys;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(
        text, [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
          if (event == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string() &&
              !keys.insert(parsed.get<std::string>()).second && duplicate.empty())
            duplicate = parsed.get<std::string>();
          return true;
        });
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error(where + "invalid JSON header at byte offset " + std::to_string(8 + e.byte) +
                             ": " + e.what());
  } catch (const nlohmann::json::exception& e) {  // e.g. out_of_range 406: a number such as 1e400 overflows
    throw std::runtime_error(where + "invalid JSON header: " + e.what());
  }
  HNN_CHECK_RUNTIME(duplicate.empty(), where, "duplicate key '", duplicate, "' in the header");

  SafetensorsContent content;
  const uint64_t buffer_start = 8 + n;
  auto entries = detail::validate_header(header, file_size - buffer_start, path, content.metadata);
  // Entries tile the buffer in order, so the file is read front to back with no seeks.
  for (const auto& e : entries) {
    const uint64_t at = buffer_start + e.begin;
    if (e.dtype == "F32") {
      auto t = Tensor<float, CPU>::empty(e.shape);
      detail::read_exact(f, t.data(), e.end - e.begin, path, at);
      detail::to_little_endian(t.data(), static_cast<size_t>(t.numel()));
      content.tensors.emplace_back(e.key, AnyTensor<CPU>(t));
    } else if (e.dtype == "F64") {
      auto t = Tensor<double, CPU>::empty(e.shape);
      detail::read_exact(f, t.data(), e.end - e.begin, path, at);
      detail::to_little_endian(t.data(), static_cast<size_t>(t.numel()));
      content.tensors.emplace_back(e.key, AnyTensor<CPU>(t));
    } else {
      auto t = Tensor<int64_t, CPU>::empty(e.shape);
      detail::read_exact(f, t.data(), e.end - e.begin, path, at);
      detail::to_little_endian(t.data(), static_cast<size_t>(t.numel()));
      content.tensors.emplace_back(e.key, AnyTensor<CPU>(t));
    }
  }
  return content;
}

}  // namespace hnn::io
