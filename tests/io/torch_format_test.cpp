// Tests for include/hnn/io/torch_format.hpp: PyTorch's own torch.save files (fixtures written by Debian's
// python3-torch 1.13 through tools/references/torch_files.py) read with exact values, views and shared
// storages, float16/bfloat16 widening, refusals of everything that is not a state dict (whole models, legacy
// files, foreign globals and opcodes) and of corrupt or hostile files (truncation, bad offsets, short
// storages, huge sizes, pickle bombs), and the writer: round trip, byte equality with the committed files
// that torch.load reads, atomicity.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <hnn/io/torch_format.hpp>
#include <hnn/tensor.hpp>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "reference.hpp"

namespace fs = std::filesystem;
namespace tf = hnn::io::detail::torch_file;
using hnn::AnyTensor;
using hnn::CPU;
using Entries = std::vector<std::pair<std::string, AnyTensor<CPU>>>;
using Records = std::vector<std::pair<std::string, std::string>>;
using namespace std::string_literals;  // "...\x00..."s keeps the NULs of pickle bytes

namespace {

const std::string fixtures = std::string(HNN_TEST_REFERENCES_DIR) + "/torch/";

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out);
}

std::string le(uint64_t value, int bytes) {
  std::string s;
  tf::put_le(s, value, bytes);
  return s;
}

/// Expects read_torch(path) to throw std::runtime_error whose message names the file and every fragment.
void expect_read_error(const std::string& path, const std::vector<std::string>& fragments) {
  try {
    hnn::io::read_torch(path);
    FAIL("reading " << path << " did not throw");
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    INFO("message: " << msg);
    CHECK(msg.find(path) != std::string::npos);
    for (const auto& f : fragments) CHECK(msg.find(f) != std::string::npos);
  }
}

/// A torch.save-shaped archive: archive/data.pkl, an optional byteorder record, storages, version.
std::string archive(const std::string& pickle, const Records& storages = {},
                    const std::string& byteorder = "") {
  Records records = {{"archive/data.pkl", pickle}};
  if (!byteorder.empty()) records.emplace_back("archive/byteorder", byteorder);
  for (const auto& [key, bytes] : storages) records.emplace_back("archive/data/" + key, bytes);
  records.emplace_back("archive/version", "3\n");
  return tf::zip_archive(records);
}

/// One state-dict entry for PickleWriter: `key` -> a tensor viewing storage `storage_key`.
tf::PickledTensor view(const std::string& key, tf::StorageKind kind, const std::string& storage_key,
                       int64_t storage_numel, int64_t offset, std::vector<int64_t> sizes,
                       std::vector<int64_t> strides) {
  tf::PickledTensor t;
  t.key = key;
  t.kind = kind;
  t.storage_key = storage_key;
  t.storage_numel = storage_numel;
  t.storage_offset = offset;
  t.sizes = std::move(sizes);
  t.strides = std::move(strides);
  return t;
}

template <class T>
std::string raw_bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

/// Compares a tensor read by hnn with a fixture's values exactly: same dtype, shape, and each element equal
/// (NaN where NaN, the sign of zeros kept). Integers are compared as int64, floats as the double they widen
/// to.
void expect_exact(const AnyTensor<CPU>& actual, const nlohmann::json& expected, const std::string& what) {
  INFO(what);
  CHECK(hnn::dtype_string(actual.dtype()) == expected["dtype"].get<std::string>());
  REQUIRE(actual.shape().vec() == expected["shape"].get<std::vector<int64_t>>());
  const auto& data = expected["data"];
  REQUIRE(static_cast<size_t>(actual.numel()) == data.size());
  if (actual.dtype() == hnn::Dtype::Int64) {
    const auto values = actual.as<int64_t>().to_vector();
    for (size_t i = 0; i < values.size(); ++i) {
      INFO("element " << i);
      CHECK(values[i] == data[i].get<int64_t>());
    }
    return;
  }
  const auto values = actual.to_vector<double>();
  for (size_t i = 0; i < values.size(); ++i) {
    INFO("element " << i << ": " << values[i] << " vs " << data[i].dump());
    if (data[i].is_string()) {
      const std::string s = data[i].get<std::string>();
      if (s == "nan")
        CHECK(std::isnan(values[i]));
      else
        CHECK(values[i] == (s == "inf" ? INFINITY : -INFINITY));
    } else {
      const double e = data[i].get<double>();
      CHECK(values[i] == e);
      CHECK(std::signbit(values[i]) == std::signbit(e));
    }
  }
}

bool bitwise_equal(const AnyTensor<CPU>& a, const AnyTensor<CPU>& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  switch (a.dtype()) {
    case hnn::Dtype::Float32:
      return raw_bytes(a.as<float>().to_vector()) == raw_bytes(b.as<float>().to_vector());
    case hnn::Dtype::Float64:
      return raw_bytes(a.as<double>().to_vector()) == raw_bytes(b.as<double>().to_vector());
    default:
      return a.as<int64_t>().to_vector() == b.as<int64_t>().to_vector();
  }
}

/// The tensors written to tests/references/torch/written_by_hnn*.pt; tools/references/torch_files.py's
/// hnn_written() holds the same values and checks that torch.load(weights_only=True) reads them back.
Entries hnn_written_tensors() {
  std::vector<float> conv(8);
  for (int i = 0; i < 8; ++i) conv[static_cast<size_t>(i)] = static_cast<float>(i) * 0.25f - 1.0f;
  const float inf = std::numeric_limits<float>::infinity();
  return {{"conv.weight", hnn::tensor<float>(conv, {2, 1, 2, 2})},
          {"conv.bias",
           hnn::tensor<float>({std::numeric_limits<float>::quiet_NaN(), inf, -inf, -0.0f,
                               std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max()},
                              {6})},
          {"bn.running_var", hnn::tensor<double>({1.5, 2.25, 1e-300, -0.0}, {4})},
          {"bn.num_batches_tracked", hnn::tensor<int64_t>({7}, hnn::Shape{})},
          {"big", hnn::tensor<int64_t>({INT64_MIN, INT64_MAX, 0, -1}, {4})},
          {"empty", hnn::zeros<float>({0, 3})},
          {"transposed", hnn::tensor<float>({1, 2, 3, 4, 5, 6}, {2, 3}).transpose(0, 1)},
          {"scalar", hnn::tensor<double>({0.5}, hnn::Shape{})}};
}

}  // namespace

TEST_CASE("read_torch reads PyTorch's fixtures with exact keys, dtypes, shapes and values", "[io][torch]") {
  const hnn::test::References refs("torch/torch_files.json");
  const std::vector<std::string> names = {"lenet_bn",
                                          "named_submodules",
                                          "float64",
                                          "half_bfloat16",
                                          "integer_types",
                                          "views",
                                          "no_num_batches_tracked",
                                          "parameter",
                                          "protocol4",
                                          "written_by_hnn",
                                          "written_by_hnn_zip64"};
  for (const auto& name : names) {
    const auto c = refs.get(name);
    const std::string path = fixtures + c.param<std::string>("file");
    INFO(name << ": " << c.call());
    CHECK(hnn::io::is_torch_zip(path));
    CHECK_FALSE(hnn::io::is_legacy_torch_file(path));
    const auto content = hnn::io::read_torch(path);
    CHECK(content.metadata.empty());
    const auto keys = c.param<std::vector<std::string>>("keys");
    REQUIRE(content.tensors.size() == keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      CHECK(content.tensors[i].first == keys[i]);  // the dict's order
      expect_exact(content.tensors[i].second, c.json()["tensors"][keys[i]], name + " '" + keys[i] + "'");
    }
  }
}

TEST_CASE("state dicts of real models: BatchNorm buffers and submodule names", "[io][torch]") {
  const auto lenet = hnn::io::read_torch(fixtures + "lenet_bn.pt");
  CHECK(lenet.at("0.weight").shape() == hnn::Shape{6, 1, 5, 5});
  CHECK(lenet.at("1.running_var").dtype() == hnn::Dtype::Float32);
  const auto tracked = lenet.at("1.num_batches_tracked");
  CHECK(tracked.dtype() == hnn::Dtype::Int64);
  CHECK(tracked.dim() == 0);
  CHECK(tracked.as<int64_t>().to_vector() == std::vector<int64_t>{3});  // three training steps

  const auto named = hnn::io::read_torch(fixtures + "named_submodules.pt");
  CHECK(named.contains("features.0.weight"));
  CHECK(named.contains("classifier.fc1.bias"));
  CHECK(named.contains("classifier.bn.num_batches_tracked"));

  const auto plain = hnn::io::read_torch(fixtures + "no_num_batches_tracked.pt");
  for (const auto& [key, t] : plain.tensors) CHECK(key.find("num_batches_tracked") == std::string::npos);
  CHECK(plain.tensors.size() == 4);
}

TEST_CASE("views and shared storages each get their own tensor with the elements they address",
          "[io][torch]") {
  const auto c = hnn::io::read_torch(fixtures + "views.pt");
  const auto base = c.at("base").as<float>();
  auto at = [&](int64_t r, int64_t col) { return base.to_vector()[static_cast<size_t>(r * 6 + col)]; };
  const auto row_slice = c.at("row_slice").as<float>().to_vector();  // base[1:3], storage offset 6
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t col = 0; col < 6; ++col)
      CHECK(row_slice[static_cast<size_t>(r * 6 + col)] == at(r + 1, col));
  const auto transposed = c.at("transposed").as<float>();  // strides (1, 6)
  CHECK(transposed.shape() == hnn::Shape{6, 4});
  CHECK(transposed.is_contiguous());
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t col = 0; col < 4; ++col)
      CHECK(transposed.to_vector()[static_cast<size_t>(r * 4 + col)] == at(col, r));
  const auto column = c.at("column").as<float>().to_vector();  // base[:, 2]
  for (int64_t r = 0; r < 4; ++r) CHECK(column[static_cast<size_t>(r)] == at(r, 2));
  CHECK(c.at("element").dim() == 0);
  CHECK(c.at("element").to_vector()[0] == at(2, 3));
  CHECK(c.at("empty_view").shape() == hnn::Shape{4, 0});
  CHECK(c.at("expanded").to_vector() == std::vector<double>{1.5, -2.0, 1.5, -2.0, 1.5, -2.0});
  CHECK(c.at("long_strided").as<int64_t>().to_vector() == std::vector<int64_t>{1000003, 4000012, 7000021});

  // Keys that shared a storage in the file (even one tensor under two keys) own separate storages here.
  const auto same = c.at("same_tensor").as<float>();
  CHECK(bitwise_equal(c.at("same_tensor"), c.at("base")));
  CHECK_FALSE(same.storage() == base.storage());
  same.data()[0] = 1000.0f;
  CHECK(base.data()[0] == -3.0f);
}

TEST_CASE("float16 and bfloat16 widen to float exactly", "[io][torch]") {
  // Every float16: zero/subnormal m * 2^-24, normal (1024 + m) * 2^(e - 25), e == 31 infinity or NaN.
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = tf::half_to_float(static_cast<uint16_t>(h));
    const uint32_t e = (h >> 10) & 31, m = h & 1023;
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    INFO("half bits " << h);
    if (e == 31) {
      CHECK((m == 0 ? std::isinf(f) : std::isnan(f)));
      CHECK(std::signbit(f) == (sign < 0));
    } else {
      const double expected =
          sign * (e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, static_cast<int>(e) - 25));
      CHECK(static_cast<double>(f) == expected);
      CHECK(std::signbit(f) == (sign < 0));
    }
  }
  // bfloat16 is the top half of a float.
  for (uint32_t b = 0; b < 65536; b += 7) {
    const float f = tf::bfloat16_to_float(static_cast<uint16_t>(b));
    CHECK(std::bit_cast<uint32_t>(f) == b << 16);
  }
  const auto c = hnn::io::read_torch(fixtures + "half_bfloat16.pt");
  const auto half = c.at("half").as<float>().to_vector();
  CHECK(half[4] == 65504.0f);               // float16's max
  CHECK(half[6] == std::ldexp(1.0f, -24));  // its smallest subnormal
  CHECK(std::signbit(half[1]));             // -0
  const auto bf16 = c.at("bf16").as<float>().to_vector();
  CHECK(bf16[6] == std::bit_cast<float>(uint32_t(0x00010000)));  // a bfloat16 subnormal
  CHECK(c.at("half_t").shape() == hnn::Shape{4, 3});             // a transposed float16 view
}

TEST_CASE("storages in big-endian byte order read as their values", "[io][torch]") {
  const std::vector<float> floats = {1.5f, -2.25f, 3e-38f, std::numeric_limits<float>::infinity()};
  const std::vector<int64_t> longs = {INT64_MIN, -2, 0x0102030405060708};
  const std::vector<uint16_t> halves = {0x3c00, 0xc000, 0x0001};  // 1, -2, 2^-24
  auto swapped = [](std::string bytes, size_t width) {
    for (size_t i = 0; i < bytes.size(); i += width)
      std::reverse(bytes.begin() + i, bytes.begin() + i + width);
    return bytes;
  };
  const std::string pickle = tf::PickleWriter().state_dict({
      view("f", tf::StorageKind::Float, "0", 4, 0, {2, 2}, {1, 2}),  // transposed, through the decoder
      view("f_contiguous", tf::StorageKind::Float, "0", 4, 0, {4}, {1}),
      view("l", tf::StorageKind::Long, "1", 3, 0, {3}, {1}),
      view("h", tf::StorageKind::Half, "2", 3, 1, {2}, {1}),
  });
  for (const std::string order : {"little", "big", ""}) {
    const bool big = order == "big";
    const std::string path = "byteorder_" + (order.empty() ? std::string("absent") : order) + ".pt";
    write_bytes(path, archive(pickle,
                              {{"0", big ? swapped(raw_bytes(floats), 4) : raw_bytes(floats)},
                               {"1", big ? swapped(raw_bytes(longs), 8) : raw_bytes(longs)},
                               {"2", big ? swapped(raw_bytes(halves), 2) : raw_bytes(halves)}},
                              order));
    INFO(path);
    const auto c = hnn::io::read_torch(path);
    CHECK(c.at("f").as<float>().to_vector() == std::vector<float>{1.5f, 3e-38f, -2.25f, floats[3]});
    CHECK(c.at("f_contiguous").as<float>().to_vector() == floats);
    CHECK(c.at("l").as<int64_t>().to_vector() == longs);
    CHECK(c.at("h").as<float>().to_vector() == std::vector<float>{-2.0f, std::ldexp(1.0f, -24)});
  }
  write_bytes("byteorder_bad.pt", archive(pickle, {}, "middle"));
  expect_read_error("byteorder_bad.pt", {"archive/byteorder", "\"little\" or \"big\""});
}

TEST_CASE("is_torch_zip and is_legacy_torch_file tell the formats apart", "[io][torch]") {
  CHECK(hnn::io::is_torch_zip(fixtures + "lenet_bn.pt"));
  CHECK_FALSE(hnn::io::is_legacy_torch_file(fixtures + "lenet_bn.pt"));
  CHECK(hnn::io::is_legacy_torch_file(fixtures + "legacy.pt"));
  CHECK_FALSE(hnn::io::is_torch_zip(fixtures + "legacy.pt"));
  CHECK_FALSE(hnn::io::is_torch_zip("no_such_file.pt"));
  CHECK_FALSE(hnn::io::is_legacy_torch_file("no_such_file.pt"));
  write_bytes("safetensors_like.pt", std::string(8, '\0') + "{}");
  CHECK_FALSE(hnn::io::is_torch_zip("safetensors_like.pt"));
  CHECK_FALSE(hnn::io::is_legacy_torch_file("safetensors_like.pt"));
}

TEST_CASE("files that are not state dicts are refused with what to do instead", "[io][torch]") {
  SECTION("a whole model (torch.save(model))") {
    expect_read_error(fixtures + "whole_model.pt", {"__main__.Net", "save model.state_dict() instead",
                                                    "data.pkl byte offset 2", "GLOBAL"});
  }
  SECTION("the legacy (pre-1.6) format") {
    expect_read_error(fixtures + "legacy.pt",
                      {"legacy (pre-1.6) serialization format", "torch.save(model.state_dict(), path)",
                       "_use_new_zipfile_serialization=True"});
  }
  SECTION("a torch.nn module class") {
    write_bytes("nn_class.pt", archive("\x80\x02"
                                       "ctorch.nn.modules.linear\nLinear\nq\x00)\x81."s));
    expect_read_error("nn_class.pt", {"torch.nn.modules.linear.Linear", "state_dict()"});
  }
  SECTION("an arbitrary global: os.system") {
    write_bytes("os_system.pt", archive("\x80\x02"
                                        "cos\nsystem\nX\x02\x00\x00\x00lsR."s));
    expect_read_error("os_system.pt", {"'os.system' is not allowed", "data.pkl byte offset 2",
                                       "nothing in a file is ever run"});
  }
  SECTION("builtins.eval through STACK_GLOBAL") {
    write_bytes("eval.pt", archive("\x80\x04\x8c\x08"
                                   "builtins\x8c\x04"
                                   "eval\x93."));
    expect_read_error("eval.pt", {"'builtins.eval' is not allowed", "STACK_GLOBAL"});
  }
  SECTION("an unknown opcode") {
    write_bytes("unknown_op.pt", archive("\x80\x02}\xff."s));
    expect_read_error("unknown_op.pt", {"data.pkl byte offset 3", "0xff", "unknown pickle opcode"});
  }
  SECTION("opcodes that build objects: INST, OBJ, NEWOBJ, EXT1") {
    for (const std::string op : {"i", "o", "\x81", "\x82"}) {
      write_bytes("object_op.pt", archive("\x80\x02(" + op + "."));
      expect_read_error("object_op.pt", {"data.pkl byte offset 3", "not allowed"});
    }
  }
  SECTION("a TorchScript archive") {
    write_bytes("scripted.pt", tf::zip_archive({{"archive/data.pkl", "\x80\x02}."},
                                                {"archive/constants.pkl", "\x80\x02)."},
                                                {"archive/code/__torch__.py", "class Net: pass"},
                                                {"archive/version", "3\n"}}));
    expect_read_error("scripted.pt", {"TorchScript", "model.state_dict()"});
  }
  SECTION("a checkpoint dict with non-tensor values") {
    write_bytes("checkpoint_dict.pt", archive("\x80\x02}(X\x05\x00\x00\x00"
                                              "epochK\x03u."s));
    expect_read_error("checkpoint_dict.pt", {"the value of 'epoch' has type int, not tensor"});
  }
  SECTION("a list instead of a dict") {
    write_bytes("list.pt", archive("\x80\x02]."));
    expect_read_error("list.pt", {"holds a value of type list, not a state dict"});
  }
  SECTION("not a zip file at all") {
    write_bytes("text.pt", "hello, this is not a model");
    expect_read_error("text.pt", {"not a PyTorch file"});
  }
  SECTION("a zip without data.pkl") {
    write_bytes("no_pkl.pt", tf::zip_archive({{"archive/version", "3\n"}}));
    expect_read_error("no_pkl.pt", {"no data.pkl entry"});
  }
  SECTION("a missing file") { expect_read_error("no_such_file.pt", {"cannot open"}); }
}

TEST_CASE("an empty state dict and Python's dict semantics for repeated keys", "[io][torch]") {
  write_bytes("empty_dict.pt", archive("\x80\x02}."));
  CHECK(hnn::io::read_torch("empty_dict.pt").tensors.empty());
  // {'a': t0, 'b': t1, 'a': t2}: 'a' keeps its first position and takes the last value, as a Python dict
  // does.
  const std::vector<float> values = {1, 2, 3};
  const std::string pickle =
      tf::PickleWriter().state_dict({view("a", tf::StorageKind::Float, "0", 3, 0, {1}, {1}),
                                     view("b", tf::StorageKind::Float, "0", 3, 1, {1}, {1}),
                                     view("a", tf::StorageKind::Float, "0", 3, 2, {1}, {1})});
  write_bytes("repeated_key.pt", archive(pickle, {{"0", raw_bytes(values)}}));
  const auto c = hnn::io::read_torch("repeated_key.pt");
  REQUIRE(c.tensors.size() == 2);
  CHECK(c.tensors[0].first == "a");
  CHECK(c.tensors[0].second.to_vector() == std::vector<double>{3});
  CHECK(c.tensors[1].first == "b");
}

TEST_CASE("corrupt zip structure gives errors naming the file and the offset", "[io][torch]") {
  const std::string good = read_bytes(fixtures + "views.pt");
  SECTION("every truncation of a file is an error, never a crash") {
    for (size_t n = 0; n < good.size(); n += 7) {
      write_bytes("truncated.pt", good.substr(0, n));
      CHECK_THROWS_AS(hnn::io::read_torch("truncated.pt"), std::runtime_error);
    }
    write_bytes("truncated.pt", good.substr(0, good.size() - 30));
    expect_read_error("truncated.pt", {"end-of-central-directory", "truncated"});
  }
  SECTION("a file whose end records survive but whose storages were cut out") {
    // Drop 64 bytes of views/data/0 and keep everything else: offsets now point past the data they name.
    const size_t data0 = good.find("views/data/0");
    REQUIRE(data0 != std::string::npos);
    std::string cut = good.substr(0, data0 + 200) + good.substr(data0 + 264);
    write_bytes("cut.pt", cut);
    CHECK_THROWS_AS(hnn::io::read_torch("cut.pt"), std::runtime_error);
  }
  const size_t cd = good.find(std::string("PK\x01\x02", 4));
  REQUIRE(cd != std::string::npos);
  SECTION("a local header offset past the end of the file") {
    std::string bad = good;
    bad.replace(cd + 42, 4, le(0x7ffffff0, 4));
    write_bytes("bad_offset.pt", bad);
    expect_read_error("bad_offset.pt",
                      {"local header of 'views/data.pkl'", "bytes 2147483632", "runs past the end"});
  }
  SECTION("a local header offset that points at no local header") {
    std::string bad = good;
    bad.replace(cd + 42, 4, le(1, 4));
    write_bytes("bad_local.pt", bad);
    expect_read_error("bad_local.pt", {"no local file header for 'views/data.pkl' at byte offset 1"});
  }
  SECTION("an entry size past the end of the file") {
    std::string bad = good;
    const size_t entry = good.find(std::string("PK\x01\x02", 4), cd + 4);  // views/data/0
    bad.replace(entry + 20, 8, le(0x10000000, 4) + le(0x10000000, 4));
    write_bytes("bad_size.pt", bad);
    expect_read_error("bad_size.pt", {"views/data/0", "runs past the end of the file"});
  }
  SECTION("a central directory offset past its end") {
    std::string bad = good;
    const size_t end = good.rfind(std::string("PK\x05\x06", 4));
    bad.replace(end + 16, 4, le(good.size() + 100, 4));
    bad.replace(good.rfind(std::string("PK\x06\x06", 4)) + 48, 8, le(good.size() + 100, 8));  // and ZIP64's
    write_bytes("bad_cd.pt", bad);
    expect_read_error("bad_cd.pt", {"central directory", "byte offset"});
  }
  SECTION("a compressed entry") {
    std::string bad = good;
    bad.replace(cd + 10, 2, le(8, 2));  // deflate
    write_bytes("deflated.pt", bad);
    expect_read_error("deflated.pt", {"'views/data.pkl' is compressed (method 8)"});
  }
  SECTION("a central directory naming an entry twice") {
    const std::string twice =
        tf::zip_archive({{"archive/data.pkl", "\x80\x02}."}, {"archive/data.pkl", "x"}});
    write_bytes("twice.pt", twice);
    expect_read_error("twice.pt", {"holds 'archive/data.pkl' twice"});
  }
  SECTION("a missing storage entry") {
    const std::string pickle =
        tf::PickleWriter().state_dict({view("w", tf::StorageKind::Float, "7", 2, 0, {2}, {1})});
    write_bytes("missing_storage.pt", archive(pickle));
    expect_read_error("missing_storage.pt",
                      {"names storage 'archive/data/7', which the archive lacks", "BINPERSID"});
  }
}

TEST_CASE("tensors that do not fit their storage, or the file, are refused", "[io][torch]") {
  const std::vector<float> four = {1, 2, 3, 4};
  auto write_one = [&](const std::string& path, tf::PickledTensor t, const Records& storages) {
    write_bytes(path, archive(tf::PickleWriter().state_dict({std::move(t)}), storages));
  };
  SECTION("a storage shorter than the tensor") {
    write_one("short_storage.pt", view("fc.weight", tf::StorageKind::Float, "0", 4, 1, {2, 2}, {2, 1}),
              {{"0", raw_bytes(four)}});
    expect_read_error("short_storage.pt", {"tensor 'fc.weight'", "addresses element 4",
                                           "holds 4 float32 elements", "storage is shorter than the tensor"});
  }
  SECTION("a storage entry shorter than its persistent id's numel") {
    write_one("short_entry.pt", view("w", tf::StorageKind::Double, "0", 4, 0, {4}, {1}),
              {{"0", raw_bytes(four)}});
    expect_read_error("short_entry.pt",
                      {"holds 16 bytes, fewer than its persistent id's 4 float64 elements"});
  }
  SECTION("sizes whose product overflows") {
    write_one("overflow.pt",
              view("w", tf::StorageKind::Float, "0", 4, 0, {int64_t(1) << 40, int64_t(1) << 40}, {0, 0}),
              {{"0", raw_bytes(four)}});
    expect_read_error("overflow.pt", {"tensor 'w'", "overflows int64"});
  }
  SECTION("strides whose addresses overflow") {
    write_one("stride_overflow.pt", view("w", tf::StorageKind::Float, "0", 4, 0, {3}, {int64_t(1) << 62}),
              {{"0", raw_bytes(four)}});
    expect_read_error("stride_overflow.pt", {"tensor 'w'", "overflow int64"});
  }
  SECTION("a huge stride-0 expansion of a tiny storage") {
    write_one("expanded.pt", view("w", tf::StorageKind::Float, "0", 4, 0, {int64_t(1) << 32}, {0}),
              {{"0", raw_bytes(four)}});
    expect_read_error("expanded.pt", {"tensor 'w'", "16 times the file's"});
  }
  SECTION("thousands of keys viewing one storage") {
    const std::vector<float> big(1 << 16, 0.5f);  // 256 KiB; 300 full views would take 75 MiB
    std::vector<tf::PickledTensor> views;
    for (int i = 0; i < 300; ++i)
      views.push_back(view("v" + std::to_string(i), tf::StorageKind::Float, "0", 1 << 16, 0, {1 << 16}, {1}));
    write_bytes("many_views.pt", archive(tf::PickleWriter().state_dict(views), {{"0", raw_bytes(big)}}));
    expect_read_error("many_views.pt", {"16 times the file's"});
  }
  SECTION("a negative storage offset, size or numel") {
    write_bytes(
        "negative.pt",
        archive("\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
                "ctorch\nFloatStorage\nX\x01\x00\x00\x00"
                "0X\x03\x00\x00\x00"
                "cpuK\x04tQJ\xff\xff\xff\xff"
                "K\x01\x85K\x01\x85\x89}tRs."s,
                {{"0", raw_bytes(four)}}));
    expect_read_error("negative.pt", {"negative storage offset -1", "REDUCE"});
  }
}

TEST_CASE("pickle bombs and deep nesting end in errors, with bounded work and memory", "[io][torch]") {
  SECTION("MARKs nested past the limit") {
    write_bytes("marks.pt", archive("\x80\x02" + std::string(100000, '(') + "."));
    expect_read_error("marks.pt", {"MARKs nested deeper than 1000"});
  }
  SECTION("tuples nested as deep as MARKs allow") {
    write_bytes("tuples.pt", archive("\x80\x02" + std::string(999, '(') + std::string(999, 't') + "."));
    expect_read_error("tuples.pt", {"holds a value of type tuple, not a state dict"});
  }
  SECTION("lists nested 200000 deep (no recursion, not even in destruction)") {
    std::string pickle = "\x80\x02]r" + le(0, 4);
    for (uint32_t k = 0; k < 200000; ++k) pickle += "]r" + le(k + 1, 4) + "aj" + le(k + 1, 4);
    write_bytes("lists.pt", archive(pickle + "."));
    expect_read_error("lists.pt", {"holds a value of type list"});
  }
  SECTION("a list that contains itself") {
    write_bytes("cycle.pt", archive("\x80\x02]q\x00h\x00h\x00"
                                    "aa."s));
    expect_read_error("cycle.pt", {"holds a value of type list"});
  }
  SECTION("a billion laughs: 2^60 leaves through the memo") {
    std::string pickle = "\x80\x02)q\x00"s;
    for (int k = 0; k < 60; ++k) pickle += "h" + le(k, 1) + "h" + le(k, 1) + "\x86q" + le(k + 1, 1);
    write_bytes("laughs.pt", archive(pickle + "."));
    expect_read_error("laughs.pt", {"holds a value of type tuple"});
  }
  SECTION("100000 SETITEMs of one memoized key and tensor make one entry, read once") {
    const std::vector<float> one = {1};
    const std::string written =
        tf::PickleWriter().state_dict({view("w", tf::StorageKind::Float, "0", 1, 0, {}, {})});
    const std::string key = "X\x01\x00\x00\x00w"s;
    const size_t at = written.find(key);
    REQUIRE(at != std::string::npos);
    const std::string tensor_ops = written.substr(at + key.size(), written.size() - 2 - (at + key.size()));
    std::string pickle =
        written.substr(0, at) + "(" + key + "r" + le(1000, 4) + tensor_ops + "r" + le(1001, 4);
    for (int i = 0; i < 100000; ++i) pickle += "j" + le(1000, 4) + "j" + le(1001, 4);
    write_bytes("repeated.pt", archive(pickle + "u.", {{"0", raw_bytes(one)}}));
    const auto c = hnn::io::read_torch("repeated.pt");
    REQUIRE(c.tensors.size() == 1);
    CHECK(c.tensors[0].first == "w");
    CHECK(c.tensors[0].second.dim() == 0);
  }
  SECTION("memo keys up to 2^32 - 1 allocate nothing in proportion") {
    write_bytes("memo_key.pt", archive("\x80\x02}r\xff\xff\xff\xffj\xff\xff\xff\xff."));
    CHECK(hnn::io::read_torch("memo_key.pt").tensors.empty());
  }
  SECTION("a memo key never stored") {
    write_bytes("memo_missing.pt", archive("\x80\x02h\x05."));
    expect_read_error("memo_missing.pt", {"memo key 5 was never stored", "BINGET"});
  }
  SECTION("a stack underflow") {
    write_bytes("underflow.pt", archive("\x80\x02(s."));
    expect_read_error("underflow.pt", {"stack is empty", "SETITEM"});
  }
  SECTION("a pickle without STOP") {
    write_bytes("no_stop.pt", archive("\x80\x02}"));
    expect_read_error("no_stop.pt", {"without a STOP opcode"});
  }
  SECTION("a string longer than data.pkl") {
    write_bytes("long_string.pt", archive("\x80\x02X\xff\xff\xff\x7f"));
    expect_read_error("long_string.pt", {"BINUNICODE", "more bytes"});
  }
  SECTION("an integer beyond 64 bits") {
    write_bytes("long1.pt", archive("\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01."s));
    expect_read_error("long1.pt", {"does not fit in 64 bits"});
  }
}

TEST_CASE("write_torch then read_torch gives identical tensors, in order", "[io][torch]") {
  hnn::Generator g(5);
  auto f64 = hnn::randn<double>({2, 3, 2}, g);
  f64.data()[0] = std::numeric_limits<double>::quiet_NaN();
  f64.data()[1] = -0.0;
  const Entries in = {{"layer.weight", hnn::randn<float>({3, 4}, g)},
                      {"double", f64},
                      {"steps", hnn::tensor<int64_t>({INT64_MIN, -1, 0, INT64_MAX}, {2, 2})},
                      {"scalar", hnn::tensor<int64_t>({42}, hnn::Shape{})},
                      {"empty", hnn::zeros<float>({0, 5})},
                      {"t", hnn::randn<float>({4, 3}, g).transpose(0, 1)},
                      {"ünïcode.kéy", hnn::ones<float>({1})}};
  hnn::io::write_torch("round_trip.pt", in);
  CHECK(hnn::io::is_torch_zip("round_trip.pt"));
  const auto out = hnn::io::read_torch("round_trip.pt");
  REQUIRE(out.tensors.size() == in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    INFO(in[i].first);
    CHECK(out.tensors[i].first == in[i].first);
    CHECK(bitwise_equal(out.tensors[i].second, in[i].second));
  }
  hnn::io::write_torch("no_tensors.pt", {});
  CHECK(hnn::io::read_torch("no_tensors.pt").tensors.empty());

  SECTION("the archive: PyTorch's folder name, records, 64-byte aligned storages, correct CRC-32s") {
    CHECK(tf::archive_name_for("dir/sub/my.model.pt") == "my.model");
    CHECK(tf::archive_name_for("noext") == "noext");
    CHECK(tf::archive_name_for("dir/.pt") == "archive");
    CHECK(tf::crc32_update(0, "123456789", 9) == 0xCBF43926u);  // the CRC-32 check value
    tf::InputFile file("round_trip.pt", "round_trip.pt: ");
    tf::ZipReader zip(file);
    std::vector<std::string> names;
    for (const auto& e : zip.entries()) {
      names.push_back(e.name);
      const uint64_t offset = zip.data_offset(e);
      CHECK(offset % 64 == 0);
      const std::string data = zip.read(e);
      CHECK(tf::crc32_update(0, data.data(), data.size()) == e.crc32);
    }
    CHECK(names == std::vector<std::string>{"round_trip/data.pkl", "round_trip/byteorder",
                                            "round_trip/data/0", "round_trip/data/1", "round_trip/data/2",
                                            "round_trip/data/3", "round_trip/data/4", "round_trip/data/5",
                                            "round_trip/data/6", "round_trip/version"});
    CHECK(zip.read(*zip.find("round_trip/byteorder")) == "little");
    CHECK(zip.read(*zip.find("round_trip/version")) == "3\n");
  }
  SECTION("bad input is std::invalid_argument and writes nothing") {
    CHECK_THROWS_AS(
        hnn::io::write_torch("bad.pt", {{"a", hnn::ones<float>({1})}, {"a", hnn::ones<float>({1})}}),
        std::invalid_argument);
    CHECK_THROWS_AS(hnn::io::write_torch("bad.pt", {{"a", AnyTensor<CPU>(hnn::Tensor<float>())}}),
                    std::invalid_argument);
    CHECK_THROWS_WITH(hnn::io::write_torch("bad.pt", {{std::string("\xff\xfe", 2), hnn::ones<float>({1})}}),
                      Catch::Contains("not valid UTF-8"));
    CHECK_FALSE(fs::exists("bad.pt"));
  }
}

TEST_CASE("write_torch's bytes equal the committed files that torch.load reads", "[io][torch][regenerate]") {
  // tools/references/torch_files.py loads written_by_hnn*.pt with torch.load(weights_only=True) and records
  // what PyTorch read; HNN_REGENERATE_TORCH_FIXTURES=1 rewrites them (see that script's docstring).
  const Entries tensors = hnn_written_tensors();
  const bool regenerate = std::getenv("HNN_REGENERATE_TORCH_FIXTURES") != nullptr;
  for (const bool zip64 : {false, true}) {
    const std::string name = zip64 ? "written_by_hnn_zip64.pt" : "written_by_hnn.pt";
    INFO(name);
    tf::write_torch_file(name, tensors, zip64);  // the archive folder comes from the name, as in PyTorch
    if (regenerate) {
      fs::copy_file(name, fixtures + name, fs::copy_options::overwrite_existing);
      WARN("rewrote " << fixtures + name << "; now run /usr/bin/python3 tools/references/torch_files.py");
      continue;
    }
    CHECK(read_bytes(name) == read_bytes(fixtures + name));
    // What PyTorch read from the committed file, recorded by the generator, is what hnn wrote.
    const auto c = hnn::test::References("torch/torch_files.json").get(name.substr(0, name.size() - 3));
    const auto keys = c.param<std::vector<std::string>>("keys");
    REQUIRE(keys.size() == tensors.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      CHECK(keys[i] == tensors[i].first);
      expect_exact(tensors[i].second, c.json()["tensors"][keys[i]],
                   "torch.load of " + name + " '" + keys[i] + "'");
    }
  }
}

TEST_CASE("an interrupted write_torch leaves the previous file intact and no temp file", "[io][torch]") {
  fs::create_directories("atomic_torch");
  const std::string path = "atomic_torch/model.pt";
  hnn::io::write_torch(path, {{"w", hnn::ones<float>({64})}});
  const std::string before = read_bytes(path);
  auto& hook = hnn::io::detail::write_fault_hook();
  hook = [](const std::string& key) {
    if (key == "v") throw std::runtime_error("injected fault before 'v'");
  };
  CHECK_THROWS_WITH(
      hnn::io::write_torch(path, {{"w", hnn::zeros<float>({64})}, {"v", hnn::zeros<double>({999})}}),
      Catch::Contains("injected fault"));
  hook = nullptr;
  CHECK(read_bytes(path) == before);
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator("atomic_torch")) {
    INFO("left behind: " << entry.path());
    CHECK(entry.path().filename() == "model.pt");
    ++files;
  }
  CHECK(files == 1);
  hnn::io::write_torch(path, {{"w", hnn::zeros<float>({64})}, {"v", hnn::zeros<double>({999})}});
  CHECK(hnn::io::read_torch(path).tensors.size() == 2);
}

namespace {

/// tests/fuzz/torch_fuzz.cpp's framing, repeated here to replay its regression inputs: byte 0 even -> the
/// rest is the file; odd -> the rest is a data.pkl, wrapped with storages archive/data/0..15 of 512 patterned
/// bytes and a byteorder record "big" (bit 1) or "little" (bit 2) or none.
std::string fuzz_input_to_file(const std::string& input) {
  if (input.empty()) return input;
  const auto selector = static_cast<unsigned char>(input[0]);
  if (!(selector & 1)) return input.substr(1);
  Records storages;
  for (int k = 0; k < 16; ++k) {
    std::string bytes(512, '\0');
    for (size_t j = 0; j < bytes.size(); ++j)
      bytes[j] = static_cast<char>((k * 31 + static_cast<int>(j) * 7) & 0xff);
    storages.emplace_back(std::to_string(k), bytes);
  }
  return archive(input.substr(1), storages, (selector & 2) ? "big" : (selector & 4) ? "little" : "");
}

}  // namespace

TEST_CASE("fuzz regression inputs give documented errors", "[io][torch]") {
  const fs::path dir = fs::path(HNN_TEST_REFERENCES_DIR) / ".." / "fuzz" / "regressions" / "torch";
  if (!fs::is_directory(dir)) return;
  for (const auto& entry : fs::directory_iterator(dir)) {
    INFO(entry.path());
    write_bytes("regression.pt", fuzz_input_to_file(read_bytes(entry.path().string())));
    try {
      hnn::io::read_torch("regression.pt");
    } catch (const std::runtime_error&) {
    }
  }
}
