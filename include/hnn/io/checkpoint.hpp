// hnn::save / hnn::load (a module's state_dict as a safetensors file or in PyTorch's torch.save format, with
// PyTorch's key names) and save_checkpoint / load_checkpoint (model + optimiser state + training metadata in
// one file). Depends on io/safetensors.hpp, io/torch_format.hpp, nn/state_dict.hpp, nlohmann/json; the
// optimiser is a template parameter.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "hnn/io/safetensors.hpp"
#include "hnn/io/torch_format.hpp"
#include "hnn/nn/state_dict.hpp"

namespace hnn {

/// Training metadata stored next to the weights, as the seed's checkpoint dict holds it.
struct CheckpointInfo {
  int64_t epoch = 0;
  double best_loss = std::numeric_limits<double>::infinity();
  std::vector<double> lr_history;
  nlohmann::json extra = nlohmann::json::object();
};

namespace io::detail {

/// Shortest round-trip text for a double, with inf/nan spelled out (JSON numbers cannot hold them).
inline std::string format_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

inline double parse_double(const std::string& s, const std::string& what) {
  if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  HNN_CHECK_RUNTIME(ec == std::errc() && end == s.data() + s.size(), what, ": expected a number, got \"", s,
                    "\"");
  return v;
}

/// Builds a StateDict for `own` from file tensors whose keys start with `prefix`: float tensors are converted
/// to the module's dtype (as load_state_dict's copy_ does), an int/float mismatch is an error.
template <class D>
nn::StateDict<D> state_dict_from_file(const io::SafetensorsContent& content, const std::string& prefix,
                                      const nn::StateDict<D>& own, const std::string& path) {
  nn::StateDict<D> out;
  std::string dtype_errors;
  for (const auto& [full_key, tensor] : content.tensors) {
    if (full_key.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string key = full_key.substr(prefix.size());
    if (own.count(key)) {
      const Dtype want = own.at(key).dtype();
      const Dtype got = tensor.dtype();
      const bool want_int = want == Dtype::Int64, got_int = got == Dtype::Int64;
      if (want_int != got_int) {
        dtype_errors += "\n\tdtype mismatch for " + key + ": the file holds " + dtype_string(got) +
                        ", the model expects " + dtype_string(want) + ".";
        continue;
      }
      if (want != got) {
        out.insert(key, want == Dtype::Float32 ? AnyTensor<D>(tensor.template to<float>())
                                               : AnyTensor<D>(tensor.template to<double>()));
        continue;
      }
    }
    out.insert(key, tensor);
  }
  HNN_CHECK_RUNTIME(dtype_errors.empty(), "hnn::load('", path,
                    "'): Error(s) in loading state_dict:", dtype_errors);
  return out;
}

/// Loads the file's tensors whose keys start with `prefix` (without it, and with `add_prefix` put in front)
/// into `module`; errors name the file.
template <class Module>
nn::IncompatibleKeys load_into(Module& module, const io::SafetensorsContent& content,
                               const std::string& prefix, const std::string& path, bool strict,
                               const std::string& add_prefix = "") {
  auto own = module.state_dict();
  const io::SafetensorsContent* source = &content;
  io::SafetensorsContent renamed;
  if (!add_prefix.empty()) {
    for (const auto& [key, value] : content.tensors)
      if (key.compare(0, prefix.size(), prefix) == 0)
        renamed.tensors.emplace_back(add_prefix + key.substr(prefix.size()), value);
    source = &renamed;
  }
  auto state = state_dict_from_file(*source, add_prefix.empty() ? prefix : "", own, path);
  try {
    return module.load_state_dict(state, strict);
  } catch (const std::exception& e) {
    throw std::runtime_error("hnn::load('" + path + "'): " + e.what());
  }
}

}  // namespace io::detail

/// Writes module.state_dict() to `path` (atomically), keys as PyTorch names them: for a path ending in
/// ".pt" or ".pth", in PyTorch's own torch.save zip format, which torch.load(path, weights_only=True) reads
/// as an OrderedDict of tensors; otherwise as safetensors with {"format": "pt"} metadata, as PyTorch's
/// safetensors.torch.save_file writes.
template <class Module>
void save(const Module& module, const std::string& path) {
  std::vector<std::pair<std::string, AnyTensor<CPU>>> tensors;
  for (const auto& [key, value] : module.state_dict()) tensors.emplace_back(key, value);
  const auto extension = std::filesystem::path(path).extension();
  if (extension == ".pt" || extension == ".pth")
    io::write_torch(path, tensors);
  else
    io::write_safetensors(path, tensors, {{"format", "pt"}});
}

/// Options of hnn::load, with chainable setters.
class LoadOptions {
 public:
  LoadOptions() = default;

  /// Missing and unexpected keys raise (default true); false returns them in IncompatibleKeys instead. A
  /// size mismatch raises either way, as in PyTorch.
  LoadOptions& strict(bool value) {
    strict_ = value;
    return *this;
  }
  bool strict() const { return strict_; }

  /// Reads only the entries whose key starts with `prefix`, without it: "module." for a state dict saved
  /// from a DataParallel / DistributedDataParallel wrapper, "model." for the model in a checkpoint (whose
  /// "optimizer." entries are then passed over). Default "": every entry.
  LoadOptions& strip_prefix(std::string prefix) {
    strip_prefix_ = std::move(prefix);
    return *this;
  }
  const std::string& strip_prefix() const { return strip_prefix_; }

  /// Puts `prefix` in front of every key read, e.g. "backbone." to load a bare backbone's file into the
  /// model that holds it under that name (or "module." to load into a wrapper). Default "".
  LoadOptions& add_prefix(std::string prefix) {
    add_prefix_ = std::move(prefix);
    return *this;
  }
  const std::string& add_prefix() const { return add_prefix_; }

 private:
  bool strict_ = true;
  std::string strip_prefix_;
  std::string add_prefix_;
};

namespace io::detail {

/// The tensors of a weights file, told apart by content: PyTorch's torch.save zip format, or safetensors;
/// PyTorch's legacy (pre-1.6) format is refused naming the fix.
inline io::SafetensorsContent read_weights(const std::string& path) {
  if (io::is_torch_zip(path)) return io::read_torch(path);
  HNN_CHECK_RUNTIME(
      !io::is_legacy_torch_file(path), "'", path,
      "' is in PyTorch's legacy (pre-1.6) serialization format, which hnn does not read; re-save ",
      "it with torch.save(model.state_dict(), path) from PyTorch >= 1.6 (the default ",
      "_use_new_zipfile_serialization=True)");
  return io::read_safetensors(path);
}

}  // namespace io::detail

/// Loads a weights file into `module` in place and returns the keys that did not match (PyTorch's
/// IncompatibleKeys). With strict (the default), missing and unexpected keys raise; wrongly shaped keys
/// always do; all are listed in one std::runtime_error naming the file. Float dtypes are converted (an F64
/// file into a float model and back), int/float mismatches are errors. A batch norm's missing
/// num_batches_tracked loads as 0 (see Module::load_state_dict).
template <class Module>
nn::IncompatibleKeys load(Module& module, const std::string& path, const LoadOptions& options) {
  return io::detail::load_into(module, io::detail::read_weights(path), options.strip_prefix(), path,
                               options.strict(), options.add_prefix());
}

template <class Module>
nn::IncompatibleKeys load(Module& module, const std::string& path, bool strict = true) {
  return load(module, path, LoadOptions().strict(strict));
}

/// One file with the model under "model.<key>", the optimiser's tensors under "optimizer.<name>" and the
/// metadata (epoch, best_loss, lr_history, extra, the optimiser's JSON) as strings in __metadata__.
template <class Module, class Optimizer>
void save_checkpoint(const std::string& path, const Module& module, const Optimizer& optimizer,
                     const CheckpointInfo& info = {}) {
  std::vector<std::pair<std::string, AnyTensor<CPU>>> tensors;
  for (const auto& [key, value] : module.state_dict()) tensors.emplace_back("model." + key, value);
  const auto opt_state = optimizer.state_dict();
  for (const auto& [key, value] : opt_state.tensors) tensors.emplace_back("optimizer." + key, value);
  nlohmann::json lrs = nlohmann::json::array();
  for (double lr : info.lr_history) lrs.push_back(io::detail::format_double(lr));
  std::map<std::string, std::string> metadata = {
      {"format", "hnn.checkpoint"},
      {"epoch", std::to_string(info.epoch)},
      {"best_loss", io::detail::format_double(info.best_loss)},
      {"lr_history", lrs.dump()},
      {"extra", info.extra.dump()},
      {"optimizer", opt_state.meta.dump()},
  };
  io::write_safetensors(path, tensors, metadata);
}

/// Restores model and optimiser from a save_checkpoint file and returns its metadata.
template <class Module, class Optimizer>
CheckpointInfo load_checkpoint(const std::string& path, Module& module, Optimizer& optimizer,
                               bool strict = true) {
  auto content = io::read_safetensors(path);
  const std::string where = "hnn::load_checkpoint('" + path + "')";
  auto meta = [&](const std::string& key) -> const std::string& {
    auto it = content.metadata.find(key);
    HNN_CHECK_RUNTIME(it != content.metadata.end(), where, ": __metadata__ has no \"", key,
                      "\" (not a checkpoint written by hnn::save_checkpoint?)");
    return it->second;
  };
  HNN_CHECK_RUNTIME(meta("format") == "hnn.checkpoint", where, ": expected format \"hnn.checkpoint\", got \"",
                    meta("format"), "\"");
  CheckpointInfo info;
  try {
    info.epoch = std::stoll(meta("epoch"));
    info.best_loss = io::detail::parse_double(meta("best_loss"), where + ": best_loss");
    for (const auto& lr : nlohmann::json::parse(meta("lr_history")))
      info.lr_history.push_back(
          io::detail::parse_double(lr.template get<std::string>(), where + ": lr_history"));
    info.extra = nlohmann::json::parse(meta("extra"));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(where + ": malformed metadata: " + e.what());
  } catch (const std::logic_error& e) {  // stoll's invalid_argument / out_of_range
    throw std::runtime_error(where + ": malformed epoch \"" + meta("epoch") + "\": " + e.what());
  }

  std::decay_t<decltype(optimizer.state_dict())> opt_state;
  try {
    opt_state.meta = nlohmann::json::parse(meta("optimizer"));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(where + ": malformed optimizer metadata: " + e.what());
  }
  const std::string prefix = "optimizer.";
  for (const auto& [key, value] : content.tensors)
    if (key.compare(0, prefix.size(), prefix) == 0)
      opt_state.tensors.emplace_back(key.substr(prefix.size()), value);

  io::detail::load_into(module, content, "model.", path, strict);
  optimizer.load_state_dict(opt_state);
  return info;
}

}  // namespace hnn
