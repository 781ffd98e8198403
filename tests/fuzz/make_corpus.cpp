// Writes the seed corpora of the fuzz targets: small valid files of each kind (and the framings the
// harnesses expect), one folder per target under the given directory (tests/fuzz/corpus). Run through
// `bash scripts/fuzz.sh --make-corpus`; the output is deterministic and committed.
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <hnn/hnn.hpp>
#include <hnn/io/torch_format.hpp>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "models.hpp"

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

namespace {

fs::path out_root;

void emit(const std::string& target, const std::string& name, const Bytes& bytes) {
  const fs::path dir = out_root / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}

Bytes read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void put_be32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(v >> shift));
}
void put_le32(Bytes& out, uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<unsigned char>(v >> shift));
}
Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

/// One gzip member (deflate with a gzip wrapper, as gzip(1) writes), fixed mtime 0 so output is stable.
Bytes gzip(const Bytes& plain) {
  z_stream zs{};
  if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  Bytes out(deflateBound(&zs, static_cast<uLong>(plain.size())) + 32);
  zs.next_in = const_cast<Bytef*>(plain.data());
  zs.avail_in = static_cast<uInt>(plain.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  out.resize(zs.total_out);
  return out;
}

Bytes idx_labels(uint32_t n) {
  Bytes bytes;
  put_be32(bytes, 0x00000801);
  put_be32(bytes, n);
  for (uint32_t i = 0; i < n; ++i) bytes.push_back(static_cast<unsigned char>((i * 3) % 10));
  return bytes;
}

Bytes idx_images(uint32_t n, uint32_t rows, uint32_t cols) {
  Bytes bytes;
  put_be32(bytes, 0x00000803);
  put_be32(bytes, n);
  put_be32(bytes, rows);
  put_be32(bytes, cols);
  for (uint32_t i = 0; i < n * rows * cols; ++i)
    bytes.push_back(static_cast<unsigned char>((i * 7 + 3) % 256));
  return bytes;
}

/// The mnist harness's framing: [flags][labels length u32 LE][labels][images].
Bytes mnist_input(unsigned flags, const Bytes& labels, const Bytes& images) {
  Bytes out{static_cast<unsigned char>(flags)};
  put_le32(out, static_cast<uint32_t>(labels.size()));
  return concat({out, labels, images});
}

Bytes cifar_batch(const std::vector<int>& labels) {
  Bytes bytes;
  for (size_t r = 0; r < labels.size(); ++r) {
    bytes.push_back(static_cast<unsigned char>(labels[r]));
    for (int i = 0; i < 3072; ++i) bytes.push_back(static_cast<unsigned char>((i * 13 + r * 5) % 256));
  }
  return bytes;
}

/// A safetensors file written by hnn itself, through a scratch file.
Bytes safetensors_bytes(const std::vector<std::pair<std::string, hnn::AnyTensor<hnn::CPU>>>& tensors,
                        const std::map<std::string, std::string>& metadata = {}) {
  const fs::path scratch = out_root / ".scratch.safetensors";
  hnn::io::write_safetensors(scratch.string(), tensors, metadata);
  Bytes bytes = read_all(scratch);
  fs::remove(scratch);
  return bytes;
}

/// The framing of the LeNet and checkpoint harnesses: [zero tail u32 LE][bytes], the data buffer's
/// trailing zeros cut off the file and counted in the tail, so the input holds little more than the header.
Bytes zero_tail_input(const Bytes& file) {
  size_t end = file.size();
  while (end > 0 && file[end - 1] == 0) --end;
  Bytes out;
  put_le32(out, static_cast<uint32_t>(file.size() - end));
  out.insert(out.end(), file.begin(), file.begin() + static_cast<std::ptrdiff_t>(end));
  return out;
}

void make_idx() {
  emit("idx_labels", "labels_3", idx_labels(3));
  emit("idx_labels", "labels_0", idx_labels(0));
  emit("idx_labels", "labels_12.gz", gzip(idx_labels(12)));
  emit("idx_labels", "labels_2x3_members.gz", concat({gzip(idx_labels(3)), gzip(Bytes{0, 1, 2})}));
  emit("idx_images", "images_2x4x3", idx_images(2, 4, 3));
  emit("idx_images", "images_0x28x28", idx_images(0, 28, 28));
  emit("idx_images", "images_3x2x2.gz", gzip(idx_images(3, 2, 2)));
  emit("idx_images", "images_1x28x28.gz", gzip(idx_images(1, 28, 28)));
  emit("mnist", "plain_t10k", mnist_input(0, idx_labels(3), idx_images(3, 4, 3)));
  emit("mnist", "gz_train", mnist_input(1 | 2 | 4, gzip(idx_labels(2)), gzip(idx_images(2, 5, 5))));
  emit("mnist", "plain_labels_gz_images", mnist_input(2, idx_labels(1), gzip(idx_images(1, 28, 28))));
  emit("mnist", "empty_sets", mnist_input(4, idx_labels(0), idx_images(0, 2, 2)));
}

void make_cifar10() {
  emit("cifar10", "one_record", cifar_batch({3}));
  emit("cifar10", "two_records", cifar_batch({0, 9}));
}

void make_csv() {
  // Selector bytes as csv_fuzz.cpp reads them: delimiter, header, encode_labels, float targets, by name.
  auto csv = [](unsigned selector, int label, const std::string& body) {
    return concat(
        {Bytes{static_cast<unsigned char>(selector), static_cast<unsigned char>(label)}, text(body)});
  };
  emit("csv", "header_string_labels", csv(0, -1, "a,b,label\n1.5,2,cat\n-3,4e2,dog\n0,+1,cat\n"));
  emit("csv", "no_header_numeric", csv(0, 0, "0,1.25,2.5\n1,3.5,4.75\n2,nan,inf\n"));
  emit("csv", "quoted_semicolon_by_name",
       csv(1 | 128, 0, "\"x\";\"y \"\"q\"\"\";label\n\"1\";2;\"a;b\"\n3;4;c\n"));
  emit("csv", "tab_float_targets", csv(2 | 64, -1, "f1\tf2\ttarget\n0.5\t1\t0.25\n\n1\t2\t-7.5\r\n"));
  emit("csv", "space_encode_numeric", csv(3 | (1 << 4), 1, "10 1.0 7\n20 3 8\n30 1 9\n"));
  emit("csv", "header_true_no_encode", csv((1 << 2) | (2 << 4), -1, "p,q,r\n1,2,3\n4,5,6\n"));
  emit("csv", "by_name_species",
       csv(128 | 3, 3, "sepal,petal,species\n5.1,1.4,setosa\n7.0,4.7,versicolor\n"));
  // Header bits 3: comment('#') and na_values {"", "NA", "?"}; encode bits 3: one_hot(true) and skip_rows(1).
  emit("csv", "comment_na_multiline",
       csv(3 << 2, -1, "# note\na,b,label # names\n1,NA,0\n?,,1\n\"two\nlines\",3,0\n"));
  emit("csv", "count_line_one_hot", csv((3 << 4) | 64, -1, "3,2,x,y\n1.5,red,0.5\n2,blue,1\n3,red,-2\n"));
}

void make_safetensors() {
  namespace io = hnn::io;
  using hnn::AnyTensor;
  using hnn::CPU;
  hnn::manual_seed(1);
  emit("safetensors", "f32_f64_i64_metadata",
       safetensors_bytes({{"weight", AnyTensor<CPU>(hnn::randn<float>({2, 3}))},
                          {"scale", AnyTensor<CPU>(hnn::full<double>(hnn::Shape{}, 0.5))},
                          {"steps", AnyTensor<CPU>(hnn::arange<int64_t>(int64_t(4)))}},
                         {{"format", "pt"}, {"note", "seed"}}));
  emit("safetensors", "zero_size_tensor",
       safetensors_bytes({{"empty", AnyTensor<CPU>(hnn::zeros<float>({0, 5}))}}));
  emit("safetensors", "no_tensors", safetensors_bytes({}));
  emit("safetensors", "pytorch_conv_bn",
       read_all(fs::path(HNN_SOURCE_DIR) / "tests/references/interop/conv_bn.safetensors"));

  // LeNet-BN as hnn::save writes it (F32), and the same state as F64 (load converts), both framed with
  // the zero data buffer in the tail. Random init values do not matter to a parser: zeros keep inputs small.
  auto net = hnn_fuzz::make_lenet_bn();
  std::vector<std::pair<std::string, AnyTensor<CPU>>> floats, doubles;
  for (const auto& [key, value] : net.state_dict()) {
    const bool is_int = value.dtype() == hnn::Dtype::Int64;
    floats.emplace_back(key, is_int ? AnyTensor<CPU>(hnn::zeros<int64_t>(value.shape()))
                                    : AnyTensor<CPU>(hnn::zeros<float>(value.shape())));
    doubles.emplace_back(key, is_int ? AnyTensor<CPU>(hnn::zeros<int64_t>(value.shape()))
                                     : AnyTensor<CPU>(hnn::zeros<double>(value.shape())));
  }
  emit("safetensors_lenet", "lenet_bn_f32", zero_tail_input(safetensors_bytes(floats, {{"format", "pt"}})));
  emit("safetensors_lenet", "lenet_bn_f64", zero_tail_input(safetensors_bytes(doubles)));
}

void make_checkpoints() {
  namespace nn = hnn::nn;
  auto train = [](auto& net, auto& opt) {
    hnn::Generator g(3);
    for (int s = 0; s < 2; ++s) {
      opt.zero_grad();
      auto out = net(hnn::randn<float>({8, 5}, g));
      (out * out).mean().backward();
      opt.step();
    }
  };
  auto framed = [](unsigned selector, const Bytes& file) {
    return concat({Bytes{static_cast<unsigned char>(selector)}, zero_tail_input(file)});
  };
  const fs::path scratch = out_root / ".scratch.ckpt";
  hnn::manual_seed(2);
  {
    auto net = hnn_fuzz::make_checkpoint_net();
    hnn::optim::SGD<float> sgd(net.parameters(), hnn::optim::SGDOptions(0.05).momentum(0.9).nesterov(true));
    train(net, sgd);
    hnn::CheckpointInfo info;
    info.epoch = 2;
    info.best_loss = 0.25;
    info.lr_history = {0.05, 0.025};
    info.extra = {{"model", "mlp"}, {"accs", {0.5, 0.75}}};
    hnn::save_checkpoint(scratch.string(), net, sgd, info);
    emit("checkpoint", "sgd_momentum", framed(0, read_all(scratch)));
  }
  {
    auto net = hnn_fuzz::make_checkpoint_net();
    hnn::optim::Adam<float> adam(net.parameters(), hnn::optim::AdamOptions(1e-2).amsgrad(true));
    train(net, adam);
    hnn::save_checkpoint(scratch.string(), net, adam);
    emit("checkpoint", "adam_amsgrad", framed(1, read_all(scratch)));
  }
  {
    auto net = hnn_fuzz::make_checkpoint_net();
    hnn::optim::Adam<float> fresh(net.parameters());
    hnn::save_checkpoint(scratch.string(), net, fresh);
    emit("checkpoint", "adam_no_state", framed(1, read_all(scratch)));
  }
  fs::remove(scratch);
}

/// The torch target's seeds (see torch_fuzz.cpp for the framing): PyTorch's own files from
/// tests/references/torch/ whole (byte 0 even), and data.pkl pickles (byte 0 odd: the harness wraps them with
/// storages archive/data/0..15 of 512 bytes, so only pickles whose storages fit are used) taken from those
/// files and written by hnn for every storage kind and for views.
void make_torch() {
  namespace tf = hnn::io::detail::torch_file;
  const fs::path fixtures = fs::path(HNN_SOURCE_DIR) / "tests/references/torch";
  for (const char* name :
       {"lenet_bn", "named_submodules", "float64", "half_bfloat16", "integer_types", "views",
        "no_num_batches_tracked", "parameter", "protocol4", "whole_model", "legacy", "written_by_hnn_zip64"})
    emit("torch", std::string("file_") + name,
         concat({Bytes{0}, read_all(fixtures / (std::string(name) + ".pt"))}));

  auto wrapped = [](unsigned selector, const std::string& pickle) {
    return concat({Bytes{static_cast<unsigned char>(selector)}, Bytes(pickle.begin(), pickle.end())});
  };
  for (const char* name : {"float64", "half_bfloat16", "integer_types", "views", "parameter", "protocol4"}) {
    const std::string path = (fixtures / (std::string(name) + ".pt")).string();
    tf::InputFile file(path, path + ": ");
    tf::ZipReader zip(file);
    for (const auto& entry : zip.entries())
      if (entry.name.size() >= 8 && entry.name.compare(entry.name.size() - 8, 8, "data.pkl") == 0)
        emit("torch", std::string("pickle_") + name, wrapped(1, zip.read(entry)));
  }
  using Kind = tf::StorageKind;
  auto tensor = [](const std::string& key, Kind kind, int storage, int64_t numel, int64_t offset,
                   std::vector<int64_t> sizes, std::vector<int64_t> strides) {
    tf::PickledTensor t;
    t.key = key;
    t.kind = kind;
    t.storage_key = std::to_string(storage);
    t.storage_numel = numel;
    t.storage_offset = offset;
    t.sizes = std::move(sizes);
    t.strides = std::move(strides);
    return t;
  };
  std::vector<tf::PickledTensor> kinds;
  for (int k = 0; k < static_cast<int>(tf::storage_kind_count); ++k) {
    const auto kind = static_cast<Kind>(k);
    kinds.push_back(tensor(tf::storage_info(kind).dtype, kind, k, 8, 1, {2, 3}, {3, 1}));
  }
  emit("torch", "pickle_hnn_every_kind_big_endian", wrapped(1 | 2, tf::PickleWriter().state_dict(kinds)));
  emit("torch", "pickle_hnn_every_kind_little", wrapped(1 | 4, tf::PickleWriter().state_dict(kinds)));
  emit("torch", "pickle_hnn_views",
       wrapped(1, tf::PickleWriter().state_dict(
                      {tensor("base", Kind::Float, 0, 24, 0, {4, 6}, {6, 1}),
                       tensor("transposed", Kind::Float, 0, 24, 0, {6, 4}, {1, 6}),
                       tensor("slice", Kind::Float, 0, 24, 6, {2, 6}, {6, 1}),
                       tensor("element", Kind::Float, 0, 24, 15, {}, {}),
                       tensor("expanded", Kind::Double, 1, 2, 0, {3, 2}, {0, 1}),
                       tensor("empty", Kind::Long, 2, 0, 0, {0, 5}, {5, 1}),
                       tensor("five_dims", Kind::Half, 3, 64, 3, {2, 1, 2, 2, 3}, {24, 24, 12, 4, 1})})));
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR (tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  out_root = argv[1];
  fs::create_directories(out_root);
  make_idx();
  make_cifar10();
  make_csv();
  make_safetensors();
  make_checkpoints();
  make_torch();
  std::printf("seed corpora written to %s\n", out_root.string().c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "make_corpus: %s\n", e.what());
  return 1;
}
