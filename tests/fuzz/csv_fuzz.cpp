// libFuzzer target: CSVDataset on a file written to a per-process tmpfs folder, with its options taken
// from the first two input bytes so every option is fuzzed along with the text:
//   byte 0: bits 0-1 delimiter (',' ';' tab ' '), bits 2-3 header (unset, true, false, unset with
//           comment('#') and na_values {"", "NA", "?"}), bits 4-5 encode_labels (unset, true, false, unset
//           with one_hot(true) and skip_rows(1)), bit 6 float targets (CSVDataset<float, float>) instead of
//           int64 class indices, bit 7 label column by name instead of by index;
//   byte 1: the label column index (signed), or by name one of "label", "target", "y", "species".
// Every input is also read whole by read_csv<float> with the same options.
// Besides the sanitizers, the harness checks what a dataset promises: an (N, F) feature tensor, N targets,
// and with label encoding codes in [0, classes) and classes sorted and distinct.
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <hnn/data/csv.hpp>
#include <optional>
#include <string>

#include "fuzz_support.hpp"

namespace {

std::optional<double> as_number(const std::string& text) {
  double value = 0;
  const char* first = text.data() + (!text.empty() && text[0] == '+');
  const auto [end, ec] = std::from_chars(first, text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

template <class Target>
void check(const hnn::data::CSVDataset<float, Target>& dataset) {
  const auto& features = dataset.data();
  const auto& targets = dataset.targets();
  const int64_t n = dataset.size();
  if (features.dim() != 2 || features.size(1) != dataset.num_features() || targets.numel() != n || n < 1 ||
      dataset.num_features() < 1)
    __builtin_trap();
  const auto& classes = dataset.classes();
  if (classes.empty()) return;
  // Encoded labels are class indices: whole numbers in [0, classes - 1].
  if (!hnn_fuzz::all_in_range(targets.data(), n, Target(0), static_cast<Target>(classes.size() - 1)))
    __builtin_trap();
  // LabelEncoder's classes_ are sorted and distinct: numerically when every label is a number, with NaN
  // one class after all numbers (np.unique's order).
  bool numeric = true;
  for (const auto& c : classes) numeric = numeric && as_number(c).has_value();
  auto before = [&](const std::string& a, const std::string& b) {
    if (!numeric) return a < b;
    const double x = *as_number(a), y = *as_number(b);
    return std::isnan(y) ? !std::isnan(x) : x < y;
  };
  for (size_t k = 1; k < classes.size(); ++k)
    if (!before(classes[k - 1], classes[k])) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  if (size < 2) return 0;
  static const fs::path dir = hnn_fuzz::make_scratch_subdir("csv");
  const fs::path path = dir / "data.csv";
  hnn_fuzz::write_file(path, data + 2, size - 2);

  const unsigned selector = data[0];
  hnn::data::CSVOptions options;
  options.delimiter(",;\t "[selector & 3]);
  if (((selector >> 2) & 3) == 1) options.header(true);
  if (((selector >> 2) & 3) == 2) options.header(false);
  if (((selector >> 4) & 3) == 1) options.encode_labels(true);
  if (((selector >> 4) & 3) == 2) options.encode_labels(false);
  if (((selector >> 2) & 3) == 3) options.comment('#').na_values({"", "NA", "?"});
  if (((selector >> 4) & 3) == 3) options.one_hot(true).skip_rows(1);
  if (selector & 128) {
    static const char* const names[] = {"label", "target", "y", "species"};
    options.label_column(names[data[1] & 3]);
  } else {
    options.label_column(static_cast<int8_t>(data[1]));
  }
  hnn_fuzz::run_expecting_documented_errors([&] {
    const auto table = hnn::data::read_csv<float>(path.string(), options);
    if (table.dim() != 2 || table.numel() != table.size(0) * table.size(1) || table.size(0) < 1)
      __builtin_trap();
  });
  return hnn_fuzz::run_expecting_documented_errors([&] {
    if (selector & 64)
      check(hnn::data::CSVDataset<float, float>(path.string(), options));
    else
      check(hnn::data::CSVDataset<float, int64_t>(path.string(), options));
  });
}
