// StateDict: the insertion-ordered map from PyTorch's dotted names ("1.weight", "3.running_mean") to
// tensors that Module::state_dict() returns and load_state_dict() takes. Depends on tensor/any_tensor.hpp.
#pragma once

#include <ostream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hnn/tensor/any_tensor.hpp"

namespace hnn::nn {

template <class D = CPU>
class StateDict {
 public:
  using value_type = std::pair<std::string, AnyTensor<D>>;

  void insert(const std::string& key, AnyTensor<D> value) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      entries_[it->second].second = std::move(value);
      return;
    }
    index_.emplace(key, entries_.size());
    entries_.emplace_back(key, std::move(value));
  }
  size_t count(const std::string& key) const { return index_.count(key); }
  bool contains(const std::string& key) const { return count(key) > 0; }
  const AnyTensor<D>& at(const std::string& key) const {
    auto it = index_.find(key);
    if (it == index_.end()) throw std::out_of_range("state_dict has no key '" + key + "'");
    return entries_[it->second].second;
  }
  AnyTensor<D>& at(const std::string& key) {
    return const_cast<AnyTensor<D>&>(static_cast<const StateDict&>(*this).at(key));
  }
  const AnyTensor<D>& operator[](const std::string& key) const { return at(key); }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.first);
    return out;
  }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

 private:
  std::vector<value_type> entries_;
  std::unordered_map<std::string, size_t> index_;
};

/// What load_state_dict(state, strict=false) reports, as PyTorch's _IncompatibleKeys: the model's keys the
/// state dict lacks and the state dict's keys the model does not have, each in order. (With strict, either
/// being non-empty raises instead.) Prints as PyTorch does: "<All keys matched successfully>" or
/// "_IncompatibleKeys(missing_keys=['fc.bias'], unexpected_keys=[])".
struct IncompatibleKeys {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;

  /// True when every key matched.
  bool empty() const { return missing_keys.empty() && unexpected_keys.empty(); }

  friend std::ostream& operator<<(std::ostream& os, const IncompatibleKeys& keys) {
    if (keys.empty()) return os << "<All keys matched successfully>";
    auto list = [&os](const std::vector<std::string>& names) {
      os << '[';
      for (size_t i = 0; i < names.size(); ++i) os << (i ? ", '" : "'") << names[i] << '\'';
      os << ']';
    };
    os << "_IncompatibleKeys(missing_keys=";
    list(keys.missing_keys);
    os << ", unexpected_keys=";
    list(keys.unexpected_keys);
    return os << ')';
  }
};

}  // namespace hnn::nn
