// libFuzzer target: hnn::load_checkpoint (strict) of a file into a small Linear/BatchNorm1d model and an
// SGD-with-momentum or Adam optimiser: the safetensors reader, the "model." keys, the metadata strings
// (epoch, best_loss, lr_history, extra) and the optimiser's JSON state and tensors.
// Input framing: [selector][zero tail, u32 little-endian][file bytes]; selector bit 0 picks Adam over SGD;
// the file is the bytes followed by `zero tail` zero bytes (capped at 1 MiB), as in safetensors_lenet.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <hnn/io.hpp>
#include <hnn/nn.hpp>
#include <hnn/optim.hpp>
#include <string>

#include "fuzz_support.hpp"
#include "models.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  if (size < 5) return 0;
  static auto sgd_net = hnn_fuzz::make_checkpoint_net();
  static auto adam_net = hnn_fuzz::make_checkpoint_net();
  static hnn::optim::SGD<float> sgd(sgd_net.parameters(), hnn::optim::SGDOptions(0.1).momentum(0.9));
  static hnn::optim::Adam<float> adam(adam_net.parameters(), hnn::optim::AdamOptions(1e-3));
  static const fs::path dir = hnn_fuzz::make_scratch_subdir("checkpoint");
  const std::string path = (dir / "fuzz.ckpt").string();
  const size_t zero_tail = std::min<uint64_t>(hnn_fuzz::load_le(data + 1, 4), uint64_t(1) << 20);
  hnn_fuzz::write_file(path, data + 5, size - 5, zero_tail);

  const bool use_adam = data[0] & 1;
  hnn::optim::Optimizer& optimizer = use_adam ? static_cast<hnn::optim::Optimizer&>(adam) : sgd;
  auto& net = use_adam ? adam_net : sgd_net;
  bool loaded = false;
  hnn_fuzz::run_expecting_documented_errors([&] {
    if (use_adam)
      hnn::load_checkpoint(path, adam_net, adam);
    else
      hnn::load_checkpoint(path, sgd_net, sgd);
    loaded = true;
  });
  if (!loaded) return 0;
  // What was loaded must be usable: its options pass their own validation and a training step runs on
  // the restored per-parameter state (a step may still reject it, with a documented error).
  try {
    if (use_adam)
      adam.options().validate();
    else
      sgd.options().validate();
  } catch (const std::exception&) {
    __builtin_trap();
  }
  static const auto input = hnn::randn<float>({8, 5});
  return hnn_fuzz::run_expecting_documented_errors([&] {
    optimizer.zero_grad();
    const auto out = net(input);
    (out * out).mean().backward();
    optimizer.step();
  });
}
