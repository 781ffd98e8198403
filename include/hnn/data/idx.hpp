// IDX files (the MNIST format: a big-endian header `00 00 <type> <ndim>`, ndim uint32 sizes, raw data),
// read whole and validated before anything is allocated from the header. Depends on data/binary_file.hpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "hnn/core/error.hpp"
#include "hnn/data/binary_file.hpp"

namespace hnn::data {

/// An IDX file of unsigned bytes (type code 0x08): its sizes and its bytes; the payload starts at
/// data_offset() and holds exactly numel() bytes.
class IdxFile {
 public:
  /// Reads `path` (plain, or gzip when it ends in .gz and HNN_WITH_ZLIB is defined) and checks the magic
  /// number (type 0x08 and `expected_ndim` dimensions), that the sizes' product fits in int64 and that the
  /// file holds exactly that many bytes after the header. Errors are std::runtime_error naming the file
  /// and the byte offset, e.g. "train-images-idx3-ubyte: truncated image data at byte offset 16: header
  /// declares 10 images of 28x28 (7840 bytes), file has 84". `what` names the data ("image", "label").
  IdxFile(const std::filesystem::path& path, int64_t expected_ndim, const std::string& what)
      : name_(path.string() + (path.extension() == ".gz" ? " (decompressed)" : "")),
        bytes_(detail::read_maybe_gzipped(path)) {
    parse(expected_ndim, what);
  }

  /// Parses bytes already in memory; `name` is used in error messages.
  IdxFile(std::string name, std::vector<unsigned char> bytes, int64_t expected_ndim, const std::string& what)
      : name_(std::move(name)), bytes_(std::move(bytes)) {
    parse(expected_ndim, what);
  }

  const std::vector<int64_t>& sizes() const { return sizes_; }
  int64_t numel() const { return numel_; }
  size_t data_offset() const { return 4 + 4 * sizes_.size(); }
  const unsigned char* data() const { return bytes_.data() + data_offset(); }
  const std::string& name() const { return name_; }

 private:
  void parse(int64_t expected_ndim, const std::string& what) {
    const auto file_size = static_cast<int64_t>(bytes_.size());
    HNN_CHECK_RUNTIME(file_size >= 4, name_,
                      ": truncated header at byte offset 0: an IDX file starts with a ",
                      "4-byte magic number, file has ", file_size, " bytes");
    const unsigned char* b = bytes_.data();
    const uint32_t magic = detail::load_be32(b);
    const uint32_t expected_magic = 0x0800u | static_cast<uint32_t>(expected_ndim);
    HNN_CHECK_RUNTIME(magic == expected_magic, name_, ": bad magic number at byte offset 0: expected 0x",
                      hex(expected_magic), " (unsigned bytes, ", expected_ndim, " dimensions) for ", what,
                      " data, got 0x", hex(magic));
    const int64_t header = 4 + 4 * expected_ndim;
    HNN_CHECK_RUNTIME(file_size >= header, name_, ": truncated header at byte offset 4: ", expected_ndim,
                      " dimensions need a ", header, "-byte header, file has ", file_size, " bytes");
    sizes_.resize(static_cast<size_t>(expected_ndim));
    // The product of the nonzero sizes must fit as well: (0, 2^32-1, 2^32-1) holds no pixel, but a tensor
    // of that shape would need strides past int64.
    int64_t nonzero_product = 1;
    bool empty = false;
    for (int64_t d = 0; d < expected_ndim; ++d) {
      const int64_t size = detail::load_be32(b + 4 + 4 * d);
      sizes_[static_cast<size_t>(d)] = size;
      empty = empty || size == 0;
      HNN_CHECK_RUNTIME(size == 0 || !__builtin_mul_overflow(nonzero_product, size, &nonzero_product), name_,
                        ": dimensions overflow at byte offset ", 4 + 4 * d, ": the product of the sizes ",
                        format_sizes(static_cast<size_t>(d) + 1), " does not fit in a 64-bit integer");
    }
    numel_ = empty ? 0 : nonzero_product;
    const int64_t payload = file_size - header;
    HNN_CHECK_RUNTIME(payload >= numel_, name_, ": truncated ", what, " data at byte offset ", header,
                      ": header declares ", describe(what), " (", numel_, " bytes), file has ", payload);
    HNN_CHECK_RUNTIME(payload == numel_, name_, ": unexpected trailing data at byte offset ", header + numel_,
                      ": header declares ", describe(what), " (", numel_, " bytes), file has ", payload,
                      " bytes of data");
  }

  // "10 images of 28x28" for (10, 28, 28); "10 labels" for (10).
  std::string describe(const std::string& what) const {
    std::string text = std::to_string(sizes_.empty() ? 0 : sizes_[0]) + " " + what + "s";
    if (sizes_.size() > 1) {
      text += " of ";
      for (size_t d = 1; d < sizes_.size(); ++d) text += (d > 1 ? "x" : "") + std::to_string(sizes_[d]);
    }
    return text;
  }
  std::string format_sizes(size_t count) const {
    std::string text = "(";
    for (size_t d = 0; d < count; ++d) text += (d ? ", " : "") + std::to_string(sizes_[d]);
    return text + ")";
  }
  static std::string hex(uint32_t v) {
    static const char* digits = "0123456789abcdef";
    std::string text(8, '0');
    for (int i = 7; i >= 0; --i, v >>= 4) text[static_cast<size_t>(i)] = digits[v & 15];
    return text;
  }

  std::string name_;
  std::vector<unsigned char> bytes_;
  std::vector<int64_t> sizes_;
  int64_t numel_ = 0;
};

}  // namespace hnn::data
