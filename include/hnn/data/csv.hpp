// CSVDataset(path, CSVOptions): numeric feature columns and one label column (by index or by name) of a
// delimited text file; string labels are encoded like sklearn's LabelEncoder (sorted unique values).
// Depends on data/tensor_dataset.hpp and data/binary_file.hpp.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "hnn/data/binary_file.hpp"
#include "hnn/data/tensor_dataset.hpp"

namespace hnn::data {

/// Options of a CSVDataset, with chainable setters.
class CSVOptions {
 public:
  CSVOptions() = default;

  /// Field separator (default ',').
  CSVOptions& delimiter(char value) {
    delimiter_ = value;
    return *this;
  }
  char delimiter() const { return delimiter_; }

  /// Whether the first row holds column names. Unset (the default), it is detected as Python's
  /// csv.Sniffer does: a header when some column is non-numeric in row 1 and numeric in row 2 (always a
  /// header when the label column is given by name).
  CSVOptions& header(bool value) {
    header_ = value;
    return *this;
  }
  std::optional<bool> header() const { return header_; }

  /// The label column by position; negative counts from the end (default -1, the last column).
  /// (A template over integer types, so label_column(0) is not taken for a null `const char*`.)
  template <std::integral Index>
  CSVOptions& label_column(Index index) {
    label_ = static_cast<int64_t>(index);
    return *this;
  }
  /// The label column by its name in the header row.
  CSVOptions& label_column(std::string name) {
    label_ = std::move(name);
    return *this;
  }
  CSVOptions& label_column(const char* name) { return label_column(std::string(name)); }
  const std::variant<int64_t, std::string>& label_column() const { return label_; }

  /// Whether labels are replaced by their index among the sorted unique labels (sklearn's LabelEncoder:
  /// strings sort lexicographically, numbers numerically). Unset (the default), labels are encoded when
  /// any of them is not a number and used as they are otherwise.
  CSVOptions& encode_labels(bool value) {
    encode_labels_ = value;
    return *this;
  }
  std::optional<bool> encode_labels() const { return encode_labels_; }

 private:
  char delimiter_ = ',';
  std::optional<bool> header_;
  std::variant<int64_t, std::string> label_ = int64_t(-1);
  std::optional<bool> encode_labels_;
};

/// Rows of a CSV file as samples: data is the feature columns (every column but the label) as a (F)
/// tensor of T, target the label as Target: int64 class indices (CSVDataset<>, the default) or a floating
/// regression / binary target (CSVDataset<float, float>). Rows are kept in file order in one contiguous
/// (N, F) tensor. Blank lines are skipped; fields may be double-quoted ("" inside quotes is one quote).
/// Errors (std::runtime_error) name the file, the line and the column: ragged rows, non-numeric feature
/// cells, an empty file; a label column that does not exist is std::invalid_argument.
template <class T = float, class Target = int64_t>
class CSVDataset : public TensorDataset<T, Target> {
  static_assert(std::is_floating_point_v<T>, "hnn::data::CSVDataset: features are float or double");

 public:
  CSVDataset(const std::string& path, const CSVOptions& options = CSVOptions())
      : CSVDataset(parse(path, options)) {}

  /// The label encoding (LabelEncoder.classes_): class k is classes()[k]; empty when labels were used as
  /// numbers.
  const std::vector<std::string>& classes() const { return info_.classes; }
  /// The feature columns' names (from the header, or "column <index>" without one), in order.
  const std::vector<std::string>& feature_names() const { return info_.feature_names; }
  const std::string& label_name() const { return info_.label_name; }
  /// Whether the first row was read as a header.
  bool has_header() const { return info_.has_header; }
  int64_t num_features() const { return static_cast<int64_t>(info_.feature_names.size()); }

 private:
  struct Info {
    std::vector<std::string> classes, feature_names;
    std::string label_name;
    bool has_header = false;
  };
  struct Parsed {
    Tensor<T> features;
    Tensor<Target> targets;
    Info info;
  };
  struct Row {
    int64_t line;  // 1-based line number in the file
    std::vector<std::string> fields;
  };

  explicit CSVDataset(Parsed parsed)
      : TensorDataset<T, Target>(parsed.features, parsed.targets), info_(std::move(parsed.info)) {}

  static std::optional<double> to_number(const std::string& cell) {
    if (cell.empty()) return std::nullopt;
    const char* first = cell.data();
    const char* last = cell.data() + cell.size();
    if (*first == '+') ++first;  // from_chars rejects a leading '+', which CSV writers may emit
    double value = 0;
    auto [end, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || end != last) return std::nullopt;
    return value;
  }

  static std::string trim(std::string_view text) {
    const auto begin = text.find_first_not_of(" \t\r");
    if (begin == std::string_view::npos) return {};
    const auto end = text.find_last_not_of(" \t\r");
    return std::string(text.substr(begin, end - begin + 1));
  }

  static std::vector<std::string> split_fields(std::string_view line, char delimiter, const std::string& path,
                                               int64_t line_number) {
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false, was_quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (quoted) {
        if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
          field += '"';
          ++i;
        } else if (c == '"') {
          quoted = false;
        } else {
          field += c;
        }
      } else if (c == '"' && trim(field).empty()) {
        quoted = was_quoted = true;
        field.clear();
      } else if (c == delimiter) {
        fields.push_back(was_quoted ? field : trim(field));
        field.clear();
        was_quoted = false;
      } else {
        field += c;
      }
    }
    HNN_CHECK_RUNTIME(!quoted, path, ": line ", line_number, ": unterminated quoted field");
    fields.push_back(was_quoted ? field : trim(field));
    return fields;
  }

  static std::vector<Row> read_rows(const std::string& path, char delimiter) {
    const auto bytes = detail::read_file_bytes(path);
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    std::vector<Row> rows;
    size_t pos = 0;
    int64_t line_number = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      ++line_number;
      const std::string_view line = text.substr(pos, end - pos);
      pos = end + 1;
      if (trim(line).empty()) continue;
      rows.push_back({line_number, split_fields(line, delimiter, path, line_number)});
    }
    HNN_CHECK_RUNTIME(!rows.empty(), path, ": empty file: no rows to read");
    return rows;
  }

  static bool detect_header(const std::vector<Row>& rows) {
    const auto& first = rows[0].fields;
    if (rows.size() == 1) {
      return std::none_of(first.begin(), first.end(),
                          [](const std::string& c) { return to_number(c).has_value(); });
    }
    const auto& second = rows[1].fields;
    for (size_t c = 0; c < std::min(first.size(), second.size()); ++c)
      if (!to_number(first[c]) && to_number(second[c])) return true;
    return false;
  }

  static Parsed parse(const std::string& path, const CSVOptions& options) {
    const std::vector<Row> rows = read_rows(path, options.delimiter());
    const bool by_name = std::holds_alternative<std::string>(options.label_column());
    HNN_CHECK(!(by_name && options.header() == false), "hnn::data::CSVDataset: ", path,
              ": the label column is ", "given by name ('", std::get<std::string>(options.label_column()),
              "') but header(false) says the ", "file has no header row");
    const bool has_header = by_name || options.header().value_or(detect_header(rows));

    const auto columns = static_cast<int64_t>(rows[0].fields.size());
    for (const Row& row : rows)
      HNN_CHECK_RUNTIME(static_cast<int64_t>(row.fields.size()) == columns, path, ": ragged row at line ",
                        row.line, ": ", row.fields.size(), " fields, expected ", columns, " (as in line ",
                        rows[0].line, ")");
    const size_t first_data = has_header ? 1 : 0;
    HNN_CHECK_RUNTIME(rows.size() > first_data, path, ": no data rows after the header at line ",
                      rows[0].line);

    std::vector<std::string> names(static_cast<size_t>(columns));
    for (int64_t c = 0; c < columns; ++c)
      names[static_cast<size_t>(c)] =
          has_header ? rows[0].fields[static_cast<size_t>(c)] : "column " + std::to_string(c);

    int64_t label = 0;
    if (by_name) {
      const auto& wanted = std::get<std::string>(options.label_column());
      const auto it = std::find(names.begin(), names.end(), wanted);
      if (it == names.end()) {
        std::string list;
        for (const auto& name : names) list += (list.empty() ? "'" : ", '") + name + "'";
        throw std::invalid_argument("hnn::data::CSVDataset: " + path + ": no label column named '" + wanted +
                                    "'; the header at line " + std::to_string(rows[0].line) + " has " + list);
      }
      label = it - names.begin();
    } else {
      const int64_t index = std::get<int64_t>(options.label_column());
      label = index < 0 ? index + columns : index;
      HNN_CHECK(label >= 0 && label < columns, "hnn::data::CSVDataset: ", path, ": label column index ",
                index, " is out of range for ", columns, " columns (expected ", -columns, " to ", columns - 1,
                ")");
    }
    HNN_CHECK_RUNTIME(columns >= 2, path, ": needs at least one feature column besides the label, got ",
                      columns, " column(s)");

    const auto n = static_cast<int64_t>(rows.size() - first_data);
    const int64_t features = columns - 1;
    auto feature_tensor = Tensor<T>::empty(Shape{n, features});
    T* out = feature_tensor.data();
    std::vector<std::string> raw_labels(static_cast<size_t>(n));
    for (int64_t r = 0; r < n; ++r) {
      const Row& row = rows[first_data + static_cast<size_t>(r)];
      for (int64_t c = 0, f = 0; c < columns; ++c) {
        const std::string& cell = row.fields[static_cast<size_t>(c)];
        if (c == label) {
          raw_labels[static_cast<size_t>(r)] = cell;
          continue;
        }
        const auto value = to_number(cell);
        HNN_CHECK_RUNTIME(value.has_value(), path, ": non-numeric value '", cell, "' at line ", row.line,
                          ", column ", c, " ('", names[static_cast<size_t>(c)], "')");
        out[r * features + f++] = static_cast<T>(*value);
      }
    }

    Parsed parsed;
    parsed.features = std::move(feature_tensor);
    parsed.targets = encode_targets(raw_labels, options, path, rows, first_data,
                                    names[static_cast<size_t>(label)], parsed.info.classes);
    for (int64_t c = 0; c < columns; ++c)
      if (c != label) parsed.info.feature_names.push_back(names[static_cast<size_t>(c)]);
    parsed.info.label_name = names[static_cast<size_t>(label)];
    parsed.info.has_header = has_header;
    return parsed;
  }

  static Tensor<Target> encode_targets(const std::vector<std::string>& labels, const CSVOptions& options,
                                       const std::string& path, const std::vector<Row>& rows,
                                       size_t first_data, const std::string& label_name,
                                       std::vector<std::string>& classes) {
    const auto n = static_cast<int64_t>(labels.size());
    std::vector<std::optional<double>> numbers(labels.size());
    bool all_numeric = true;
    for (size_t i = 0; i < labels.size(); ++i) {
      numbers[i] = to_number(labels[i]);
      all_numeric = all_numeric && numbers[i].has_value();
    }
    auto targets = Tensor<Target>::empty(Shape{n});
    Target* out = targets.data();
    if (options.encode_labels().value_or(!all_numeric)) {
      // LabelEncoder: class k is the k-th smallest distinct label (numeric order when all are numbers).
      std::vector<size_t> order(labels.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      // NaN labels are one class, sorted last, as np.unique (inside LabelEncoder) puts them; a plain < is no
      // strict weak order with NaN and left classes unsorted and duplicated.
      auto less = [&](size_t a, size_t b) {
        if (!all_numeric) return labels[a] < labels[b];
        const double x = *numbers[a], y = *numbers[b];
        return std::isnan(y) ? !std::isnan(x) : x < y;
      };
      std::stable_sort(order.begin(), order.end(), less);
      int64_t code = -1;
      for (size_t k = 0; k < order.size(); ++k) {
        if (k == 0 || less(order[k - 1], order[k])) {
          ++code;
          classes.push_back(labels[order[k]]);
        }
        out[order[k]] = static_cast<Target>(code);
      }
      return targets;
    }
    for (int64_t i = 0; i < n; ++i) {
      const double value = *numbers[static_cast<size_t>(i)];
      if constexpr (std::is_integral_v<Target>) {
        HNN_CHECK_RUNTIME(std::isfinite(value) && value == std::floor(value), path, ": label '",
                          labels[static_cast<size_t>(i)], "' at line ",
                          rows[first_data + static_cast<size_t>(i)].line, " (column '", label_name,
                          "') is not an integer class index; read a regression target ",
                          "with CSVDataset<float, float> or set encode_labels(true)");
        // Converting a double outside Target's range is undefined behaviour, not an error value.
        HNN_CHECK_RUNTIME(value >= static_cast<double>(std::numeric_limits<Target>::min()) &&
                              value < static_cast<double>(std::numeric_limits<Target>::max()) + 1.0,
                          path, ": label '", labels[static_cast<size_t>(i)], "' at line ",
                          rows[first_data + static_cast<size_t>(i)].line, " (column '", label_name,
                          "') is outside the range of ", sizeof(Target) * 8, "-bit class indices");
      }
      out[i] = static_cast<Target>(value);
    }
    return targets;
  }

  Info info_;
};

}  // namespace hnn::data
