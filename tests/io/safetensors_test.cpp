// Tests for include/hnn/io/safetensors.hpp (and hnn::save/load from io/checkpoint.hpp on PyTorch-written
// files): bitwise round trips of every dtype, the on-disk layout, atomic writes under injected faults,
// every kind of corrupt file, and interchange with PyTorch (fixtures from tools/safetensors_interop.py).
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <hnn/io/checkpoint.hpp>
#include <hnn/io/safetensors.hpp>
#include <hnn/nn/batch_norm.hpp>
#include <hnn/nn/sequential.hpp>
#include <hnn/tensor.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#if __has_include(<hnn/nn/linear.hpp>) && __has_include(<hnn/nn/conv.hpp>)
#include <hnn/nn/activation.hpp>
#include <hnn/nn/conv.hpp>
#include <hnn/nn/flatten.hpp>
#include <hnn/nn/linear.hpp>
#include <hnn/nn/pooling.hpp>
#define HNN_TEST_HAVE_LAYERS 1
#endif

#include "reference.hpp"

namespace fs = std::filesystem;
using hnn::AnyTensor;
using hnn::CPU;
using Entries = std::vector<std::pair<std::string, AnyTensor<CPU>>>;

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

/// A file with the given header text (padded to 8) followed by `buffer` bytes.
std::string file_with(std::string header, size_t buffer_bytes) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return le64(header.size()) + header + std::string(buffer_bytes, '\x01');
}

template <class T>
bool bitwise_equal(const hnn::Tensor<T>& a, const hnn::Tensor<T>& b) {
  if (a.shape() != b.shape()) return false;
  auto va = a.to_vector(), vb = b.to_vector();
  return va.size() == vb.size() &&
         (va.empty() || std::memcmp(va.data(), vb.data(), va.size() * sizeof(T)) == 0);
}

bool bitwise_equal(const AnyTensor<CPU>& a, const AnyTensor<CPU>& b) {
  if (a.dtype() != b.dtype()) return false;
  switch (a.dtype()) {
    case hnn::Dtype::Float32:
      return bitwise_equal(a.as<float>(), b.as<float>());
    case hnn::Dtype::Float64:
      return bitwise_equal(a.as<double>(), b.as<double>());
    default:
      return bitwise_equal(a.as<int64_t>(), b.as<int64_t>());
  }
}

/// Expects read_safetensors(path) to throw std::runtime_error whose message contains every fragment.
void expect_read_error(const std::string& path, const std::vector<std::string>& fragments) {
  try {
    hnn::io::read_safetensors(path);
    FAIL("reading " << path << " did not throw");
  } catch (const std::runtime_error& e) {
    std::string msg = e.what();
    INFO("message: " << msg);
    CHECK(msg.find(path) != std::string::npos);
    for (const auto& f : fragments) CHECK(msg.find(f) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("safetensors round trip of every dtype is bitwise, with metadata", "[io][safetensors]") {
  hnn::Generator g(7);
  auto f32 = hnn::randn<float>({3, 4}, g);
  auto f64 = hnn::randn<double>({2, 3, 2}, g);
  f64.data()[0] = std::numeric_limits<double>::quiet_NaN();
  f64.data()[1] = -0.0;
  f64.data()[2] = std::numeric_limits<double>::infinity();
  auto i64 = hnn::tensor<int64_t>({INT64_MIN, -1, 0, 1, INT64_MAX}, {5});
  auto scalar = hnn::tensor<int64_t>({42}, hnn::Shape{});
  auto empty = hnn::zeros<float>({0, 3});
  auto transposed = hnn::randn<float>({4, 2}, g).transpose(0, 1);  // non-contiguous: written in logical order
  REQUIRE_FALSE(transposed.is_contiguous());
  Entries in = {{"f32", f32},       {"f64", f64},     {"i64", i64},
                {"scalar", scalar}, {"empty", empty}, {"t", transposed}};
  hnn::io::write_safetensors("all.safetensors", in, {{"format", "pt"}, {"note", "ünïcode \"quoted\""}});

  auto out = hnn::io::read_safetensors("all.safetensors");
  REQUIRE(out.tensors.size() == in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    INFO("key " << in[i].first);
    CHECK(out.tensors[i].first == in[i].first);  // file order is the write order
    CHECK(bitwise_equal(out.at(in[i].first), in[i].second));
  }
  CHECK(out.at("scalar").dim() == 0);
  CHECK(out.at("empty").shape() == hnn::Shape{0, 3});
  CHECK(out.metadata.size() == 2);
  CHECK(out.metadata.at("note") == "ünïcode \"quoted\"");
}

TEST_CASE("safetensors layout: LE length, 8-aligned JSON header, contiguous offsets", "[io][safetensors]") {
  Entries in = {{"b", hnn::tensor<float>({1.0f, 2.0f, 3.0f}, {3})},
                {"a", hnn::tensor<double>({0.5}, {1, 1})}};
  hnn::io::write_safetensors("layout.safetensors", in);
  std::string bytes = read_bytes("layout.safetensors");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  CHECK(n % 8 == 0);
  REQUIRE(bytes.size() == 8 + n + 12 + 8);
  auto header = nlohmann::json::parse(bytes.substr(8, n));
  CHECK_FALSE(header.contains("__metadata__"));  // omitted when empty, as the reference writer does
  CHECK(header["b"]["dtype"] == "F32");
  CHECK(header["b"]["shape"] == nlohmann::json::array({3}));
  CHECK(header["b"]["data_offsets"] == nlohmann::json::array({0, 12}));
  CHECK(header["a"]["dtype"] == "F64");
  CHECK(header["a"]["data_offsets"] == nlohmann::json::array({12, 20}));
  float two;
  std::memcpy(&two, bytes.data() + 8 + n + 4, 4);
  CHECK(two == 2.0f);
}

TEST_CASE("an interrupted save leaves the previous file intact and no temp file", "[io][safetensors]") {
  fs::create_directories("atomic");
  const std::string path = "atomic/model.safetensors";
  Entries first = {{"w", hnn::ones<float>({64})}};
  hnn::io::write_safetensors(path, first);
  const std::string before = read_bytes(path);

  Entries second = {{"w", hnn::zeros<float>({64})}, {"v", hnn::zeros<double>({1000})}};
  auto& hook = hnn::io::detail::write_fault_hook();
  SECTION("an exception after some bytes were written") {
    hook = [](const std::string& key) {
      if (key == "v") throw std::runtime_error("injected fault before 'v'");
    };
    CHECK_THROWS_WITH(hnn::io::write_safetensors(path, second), Catch::Contains("injected fault"));
  }
  SECTION("an undefined tensor is rejected") {
    second.emplace_back("undefined", AnyTensor<CPU>(hnn::Tensor<float>()));
    CHECK_THROWS_WITH(hnn::io::write_safetensors(path, second), Catch::Contains("'undefined' is undefined"));
  }
  SECTION("a duplicate key is rejected") {
    second.emplace_back("w", hnn::ones<float>({1}));
    CHECK_THROWS_AS(hnn::io::write_safetensors(path, second), std::invalid_argument);
  }
  hook = nullptr;
  CHECK(read_bytes(path) == before);
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator("atomic")) {
    INFO("left behind: " << entry.path());
    CHECK(entry.path().filename() == "model.safetensors");
    ++files;
  }
  CHECK(files == 1);
  // And a later save without faults replaces it completely.
  hnn::io::write_safetensors(path, second.size() > 2 ? Entries(second.begin(), second.begin() + 2) : second);
  CHECK(hnn::io::read_safetensors(path).tensors.size() == 2);
}

TEST_CASE("corrupt safetensors files give clear errors", "[io][safetensors]") {
  const std::string good = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  write_bytes("good.safetensors", file_with(good, 8));
  CHECK(hnn::io::read_safetensors("good.safetensors").at("x").numel() == 2);

  SECTION("missing file") {
    CHECK_THROWS_WITH(hnn::io::read_safetensors("nope.safetensors"),
                      Catch::Contains("cannot open 'nope.safetensors'"));
  }
  SECTION("shorter than the length field") {
    write_bytes("short.safetensors", "abc");
    expect_read_error("short.safetensors", {"too small", "byte offset 0"});
  }
  SECTION("header length larger than the file") {
    write_bytes("long.safetensors", le64(1000) + "{}");
    expect_read_error("long.safetensors", {"header length 1000", "larger than the 2 bytes"});
  }
  SECTION("a header length of 2^63 allocates nothing") {
    write_bytes("huge.safetensors", le64(uint64_t(1) << 63) + std::string(16, ' '));
    expect_read_error("huge.safetensors", {"header length 9223372036854775808"});
  }
  SECTION("invalid JSON") {
    write_bytes("json.safetensors", file_with(R"({"x":{"dtype":"F32",)", 0));
    expect_read_error("json.safetensors", {"invalid JSON header at byte offset"});
  }
  SECTION("header not an object") {
    write_bytes("array.safetensors", file_with("[1,2]", 0));
    expect_read_error("array.safetensors", {"must be a JSON object"});
  }
  SECTION("entry without data_offsets") {
    write_bytes("fields.safetensors", file_with(R"({"x":{"dtype":"F32","shape":[2]}})", 8));
    expect_read_error("fields.safetensors", {"tensor 'x'", "data_offsets"});
  }
  SECTION("offsets past the buffer") {
    write_bytes("range.safetensors",
                file_with(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4));
    expect_read_error("range.safetensors", {"tensor 'x'", "run past the data buffer of 4 bytes"});
  }
  SECTION("reversed offsets") {
    write_bytes("rev.safetensors", file_with(R"({"x":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8));
    expect_read_error("rev.safetensors", {"tensor 'x'", "reversed"});
  }
  SECTION("overlapping tensors") {
    write_bytes("overlap.safetensors", file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                                 12));
    expect_read_error("overlap.safetensors", {"tensor 'b'", "overlaps", "file byte offset"});
  }
  SECTION("a gap in the buffer") {
    write_bytes("gap.safetensors", file_with(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8));
    expect_read_error("gap.safetensors", {"gap", "tensor 'a'"});
  }
  SECTION("trailing bytes not covered") {
    write_bytes("trail.safetensors", file_with(good, 16));
    expect_read_error("trail.safetensors", {"cover 8 bytes", "holds 16"});
  }
  SECTION("shape does not match the offsets") {
    write_bytes("size.safetensors",
                file_with(R"({"x":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", 8));
    expect_read_error("size.safetensors", {"tensor 'x'", "needs 16 bytes", "span 8"});
  }
  SECTION("a shape whose element count overflows") {
    write_bytes(
        "overflow.safetensors",
        file_with(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", 8));
    expect_read_error("overflow.safetensors", {"tensor 'x'", "more than 2^64"});
  }
  SECTION("negative dimension") {
    write_bytes("neg.safetensors",
                file_with(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8));
    expect_read_error("neg.safetensors", {"tensor 'x'", "non-negative"});
  }
  SECTION("unknown dtype") {
    write_bytes("dtype.safetensors",
                file_with(R"({"x":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", 8));
    expect_read_error("dtype.safetensors", {"tensor 'x'", "unknown dtype \"F33\""});
  }
  SECTION("a dtype of the format that hnn does not hold") {
    write_bytes("f16.safetensors", file_with(R"({"x":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", 8));
    expect_read_error("f16.safetensors", {"tensor 'x'", "unsupported dtype \"F16\""});
  }
  SECTION("duplicate keys") {
    write_bytes("dup.safetensors", file_with(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                             R"("x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                             8));
    expect_read_error("dup.safetensors", {"duplicate key 'x'"});
  }
  SECTION("non-string metadata") {
    write_bytes("meta.safetensors", file_with(R"({"__metadata__":{"epoch":3}})", 0));
    expect_read_error("meta.safetensors", {"__metadata__", "'epoch'", "must be a string"});
  }
  SECTION("every truncation of a valid file fails cleanly") {
    std::string bytes = read_bytes("good.safetensors");
    for (size_t len = 0; len < bytes.size(); ++len) {
      write_bytes("cut.safetensors", bytes.substr(0, len));
      INFO("truncated to " << len << " bytes");
      CHECK_THROWS_AS(hnn::io::read_safetensors("cut.safetensors"), std::runtime_error);
    }
  }
}

#ifdef HNN_TEST_HAVE_LAYERS
namespace {

namespace nn = hnn::nn;

const hnn::test::References& interop() {
  static hnn::test::References r("interop/interop.json");
  return r;
}

std::string interop_path(const std::string& file) {
  return std::string(HNN_TEST_REFERENCES_DIR) + "/interop/" + file;
}

nn::Sequential<> make_model(const std::string& name) {
  if (name == "mlp_bn")
    return nn::Sequential{nn::Flatten(), nn::Linear(784, 32), nn::BatchNorm1d(32), nn::ReLU(),
                          nn::Linear(32, 10)};
  return nn::Sequential{nn::Conv2d(nn::Conv2dOptions(1, 4, 3)),
                        nn::BatchNorm2d(4),
                        nn::ReLU(),
                        nn::AvgPool2d(2),
                        nn::Flatten(),
                        nn::Linear(100, 10)};
}

}  // namespace

TEST_CASE("PyTorch-written safetensors load into hnn and reproduce PyTorch's outputs; hnn writes them back",
          "[io][safetensors][interop]") {
  for (const std::string name : {"mlp_bn", "conv_bn"}) {
    auto c = interop().get(name);
    INFO("model " << name << ": " << c.call());
    auto model = make_model(name);
    auto keys = c.param<std::vector<std::string>>("keys");
    CHECK(model.state_dict().keys() == keys);
    const std::string torch_file = interop_path(name + ".safetensors");
    hnn::load(model, torch_file);
    CHECK(model.state_dict().at(keys[0]).dtype() == hnn::Dtype::Float32);
    model.eval();
    auto y = model(c.tensor<float>("input"));
    hnn::test::expect_close(y, c.tensor<float>("output"), 1e-5, -1.0, name + " output");

    // hnn's file holds the same tensors bit for bit, with the same metadata, and equals the committed
    // expectation byte for byte (tools/safetensors_interop.py check reads that one into PyTorch).
    hnn::save(model, name + ".hnn.safetensors");
    auto ours = hnn::io::read_safetensors(name + ".hnn.safetensors");
    auto theirs = hnn::io::read_safetensors(torch_file);
    CHECK(ours.metadata == theirs.metadata);
    REQUIRE(ours.tensors.size() == theirs.tensors.size());
    for (const auto& [key, t] : theirs.tensors) {
      INFO("key " << key);
      REQUIRE(ours.contains(key));
      CHECK(bitwise_equal(ours.at(key), t));
    }
    CHECK(read_bytes(name + ".hnn.safetensors") == read_bytes(interop_path(name + ".hnn.safetensors")));
  }
}
#endif

// Inputs found by the fuzzers (tests/fuzz/*_fuzz.cpp), committed in tests/fuzz/regressions/<target>/.
// safetensors inputs are plain files; safetensors_lenet inputs are framed: [zero tail, u32 LE][file bytes],
// the file being the bytes followed by that many zero bytes.
namespace {

std::string regression_file(const std::string& target, const std::string& name, bool framed) {
  const std::string input =
      read_bytes(std::string(HNN_TEST_REFERENCES_DIR) + "/../fuzz/regressions/" + target + "/" + name);
  if (!framed) return input;
  REQUIRE(input.size() >= 4);
  uint32_t tail = 0;
  for (int i = 0; i < 4; ++i) tail |= uint32_t(static_cast<unsigned char>(input[i])) << (8 * i);
  return input.substr(4) + std::string(tail, '\0');
}

}  // namespace

TEST_CASE("safetensors inputs found by fuzzing give clear errors", "[io][safetensors][fuzz]") {
  SECTION(
      "a JSON number that overflows a double (1e320776) is a runtime_error, not nlohmann's out_of_range") {
    write_bytes("fuzz_number.safetensors",
                regression_file("safetensors_lenet", "json_number_overflow_1e320776", true));
    expect_read_error("fuzz_number.safetensors",
                      {"invalid JSON header", "number overflow parsing '1e320776'"});
    write_bytes("number.safetensors",
                file_with(R"({"x":{"dtype":"F32","shape":[1e400],"data_offsets":[0,0]}})", 0));
    expect_read_error("number.safetensors", {"invalid JSON header", "number overflow"});
  }
  SECTION("a (5, 0) F32 tensor converts to double (was a null pointer stepped by its strides, UB)") {
    write_bytes("fuzz_5x0.safetensors", regression_file("safetensors", "zero_size_5x0_cast", false));
    const auto content = hnn::io::read_safetensors("fuzz_5x0.safetensors");
    const auto& empty = content.at("empty");
    CHECK(empty.shape() == hnn::Shape{5, 0});
    CHECK(empty.to<double>().shape() == hnn::Shape{5, 0});
    CHECK(empty.to_vector().empty());
    const auto sum = empty.as<float>() + hnn::zeros<float>({5, 0});
    CHECK(sum.shape() == hnn::Shape{5, 0});
  }
  SECTION("a zero-size tensor whose other sizes overflow int64 strides") {
    write_bytes(
        "strides.safetensors",
        file_with(R"({"x":{"dtype":"F32","shape":[0,1099511627776,1099511627776],"data_offsets":[0,0]}})",
                  0));
    CHECK_THROWS_WITH(hnn::io::read_safetensors("strides.safetensors"),
                      Catch::Contains("strides.safetensors") && Catch::Contains("tensor 'x'") &&
                          Catch::Contains("[0,1099511627776,1099511627776]"));
  }
}
