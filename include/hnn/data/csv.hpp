// Delimited text as tensors. read_csv<T>(path, options): the whole table as a 2-D tensor (numpy.loadtxt).
// CSVDataset(path, options): numeric feature columns and one label column (by index or by name); or
// features and targets from two files; string labels are encoded like sklearn's LabelEncoder (sorted
// unique values). Both read gzip by content (zlib, under HNN_WITH_ZLIB), skip leading rows, strip
// comments, read chosen cells as NaN, allow quoted fields across lines, and one-hot encode text columns on
// request (pandas.get_dummies). Depends on data/tensor_dataset.hpp and data/binary_file.hpp.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <map>
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

/// Options of read_csv and CSVDataset, with chainable setters.
class CSVOptions {
 public:
  CSVOptions() = default;

  /// Field separator (default ','). ' ' separates fields by runs of spaces and tabs, with leading and
  /// trailing blanks ignored (numpy.loadtxt's default, pandas' delim_whitespace), as in scikit-learn's
  /// diabetes files.
  CSVOptions& delimiter(char value) {
    HNN_CHECK(value != '"' && value != '\n' && value != '\r',
              "hnn::data::CSVOptions: the delimiter cannot be a quote or a line break, got code ",
              static_cast<int>(value));
    delimiter_ = value;
    return *this;
  }
  char delimiter() const { return delimiter_; }

  /// Whether the first row (after skip_rows) holds column names. Unset (the default), it is a header when
  /// none of its cells is a number and some column that is text in it is a number in the next row (always
  /// a header when the label column is given by name). A row holding any number is never taken for a
  /// header, so a count line such as "150,4,setosa,versicolor,virginica" is not; skip it with skip_rows(1).
  CSVOptions& header(bool value) {
    header_ = value;
    return *this;
  }
  std::optional<bool> header() const { return header_; }

  /// Lines skipped before anything is parsed (default 0), e.g. 1 for the count line that scikit-learn's
  /// bundled CSV files start with. Line numbers in errors still count from the top of the file.
  CSVOptions& skip_rows(int64_t n) {
    HNN_CHECK(n >= 0, "hnn::data::CSVOptions: skip_rows must be >= 0, got ", n);
    skip_rows_ = n;
    return *this;
  }
  int64_t skip_rows() const { return skip_rows_; }

  /// Text from `c` to the end of its line is ignored (outside quoted fields); a line left blank is skipped.
  CSVOptions& comment(char c) {
    HNN_CHECK(c != '"' && c != '\n' && c != '\r' && c != delimiter_,
              "hnn::data::CSVOptions: the comment character cannot be a quote, a line break or the ",
              "delimiter, got code ", static_cast<int>(c));
    comment_ = c;
    return *this;
  }
  std::optional<char> comment() const { return comment_; }

  /// Cells read as missing (NaN), compared after trimming, e.g. {"NA", "?"} or {""} for empty cells. Default
  /// none: an empty or non-numeric feature cell is an error. ("nan" and "inf" are numbers anyway.) A missing
  /// label is NaN for a floating target and an error for class indices.
  CSVOptions& na_values(std::vector<std::string> values) {
    na_values_ = std::move(values);
    return *this;
  }
  const std::vector<std::string>& na_values() const { return na_values_; }

  /// One-hot encode text feature columns, as pandas.get_dummies(df) does: every feature column holding a
  /// cell that is neither a number nor missing (true), or the columns named (by header name). Each becomes
  /// one 0/1 column per distinct value, named "<column>_<value>", values in sorted order, placed after the
  /// other feature columns in column order (pandas' layout); a missing cell is all zeros. Default off.
  /// (A template taking exactly bool, so one_hot({"sex"}) picks the list of names, not a pointer-to-bool.)
  template <std::same_as<bool> Bool>
  CSVOptions& one_hot(Bool all_text_columns) {
    one_hot_all_ = all_text_columns;
    one_hot_columns_.clear();
    return *this;
  }
  CSVOptions& one_hot(std::vector<std::string> columns) {
    one_hot_all_ = false;
    one_hot_columns_ = std::move(columns);
    return *this;
  }
  bool one_hot_all() const { return one_hot_all_; }
  const std::vector<std::string>& one_hot_columns() const { return one_hot_columns_; }

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
  int64_t skip_rows_ = 0;
  std::optional<char> comment_;
  std::vector<std::string> na_values_;
  bool one_hot_all_ = false;
  std::vector<std::string> one_hot_columns_;
  std::variant<int64_t, std::string> label_ = int64_t(-1);
  std::optional<bool> encode_labels_;
};

namespace detail {

/// A parsed row: its 1-based line in the file and its fields (unquoted, blanks trimmed outside quotes).
struct CsvRow {
  int64_t line = 0;
  std::vector<std::string> fields;
};

/// A file's rows with the header decided: names has one entry per column ("column <index>" without a
/// header) and rows[first_data...] are the data rows.
struct CsvTable {
  std::string path;
  std::vector<CsvRow> rows;
  std::vector<std::string> names;
  bool has_header = false;
  size_t first_data = 0;

  int64_t columns() const { return static_cast<int64_t>(names.size()); }
  int64_t data_rows() const { return static_cast<int64_t>(rows.size() - first_data); }
  const CsvRow& data_row(int64_t r) const { return rows[first_data + static_cast<size_t>(r)]; }
};

inline std::optional<double> csv_number(std::string_view cell) {
  if (cell.empty()) return std::nullopt;
  const char* first = cell.data();
  const char* last = cell.data() + cell.size();
  if (*first == '+') ++first;  // from_chars rejects a leading '+', which CSV writers may emit
  double value = 0;
  auto [end, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || end != last) return std::nullopt;
  return value;
}

inline bool csv_is_na(const std::string& cell, const CSVOptions& options) {
  const auto& na = options.na_values();
  return std::find(na.begin(), na.end(), cell) != na.end();
}

/// A cell's value: a number, NaN when it is one of the na_values, nothing otherwise.
inline std::optional<double> csv_value(const std::string& cell, const CSVOptions& options) {
  if (csv_is_na(cell, options)) return std::numeric_limits<double>::quiet_NaN();
  return csv_number(cell);
}

inline std::string csv_trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(" \t\r");
  return std::string(text.substr(begin, end - begin + 1));
}

/// The file's text: gunzipped when it starts with gzip's magic bytes, whatever its name (without zlib,
/// the "built without zlib" error).
inline std::string csv_text(const std::string& path) {
  auto bytes = read_file_bytes(path);
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) bytes = gunzip(bytes, path);
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

/// Splits text into rows (RFC 4180 quoting: a field that starts with '"' runs to the matching quote,
/// across line breaks, "" being one quote), after skipping options.skip_rows() lines; comments are cut and
/// blank rows dropped.
inline std::vector<CsvRow> csv_rows(std::string_view text, const std::string& path,
                                    const CSVOptions& options) {
  const char delimiter = options.delimiter();
  const bool whitespace = delimiter == ' ';
  const std::optional<char> comment = options.comment();
  size_t pos = 0;
  int64_t line = 1;
  for (int64_t k = 0; k < options.skip_rows() && pos < text.size(); ++k) {
    const size_t end = text.find('\n', pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    ++line;
  }
  std::vector<CsvRow> rows;
  while (pos < text.size()) {
    CsvRow row{line, {}};
    std::string field;
    bool quoted = false;        // the current field started with a quote
    bool inside = false;        // between its quotes
    int64_t quote_line = line;  // where it opened, for the error
    bool row_done = false;
    bool row_quoted = false;  // some field of the row was quoted (so "" is a row with one empty field)
    auto finish_field = [&] {
      row.fields.push_back(quoted ? std::move(field) : csv_trim(field));
      field.clear();
      quoted = false;
    };
    while (pos < text.size() && !row_done) {
      const char c = text[pos++];
      if (inside) {
        if (c == '"') {
          if (pos < text.size() && text[pos] == '"') {
            field += '"';
            ++pos;
          } else {
            inside = false;
          }
        } else {
          if (c == '\n') ++line;
          field += c;
        }
      } else if (c == '\n') {
        ++line;
        row_done = true;
      } else if (comment && c == *comment) {
        const size_t end = text.find('\n', pos);
        pos = end == std::string_view::npos ? text.size() : end;
      } else if (whitespace ? (c == ' ' || c == '\t') : c == delimiter) {
        if (!whitespace || quoted || !csv_trim(field).empty()) finish_field();
      } else if (c == '"' && !quoted && csv_trim(field).empty()) {
        quoted = inside = row_quoted = true;
        quote_line = line;
        field.clear();
      } else if (quoted && (c == ' ' || c == '\t' || c == '\r')) {
        // Blanks after a closing quote are not part of the field.
      } else {
        field += c;
      }
    }
    HNN_CHECK_RUNTIME(!inside, path, ": line ", quote_line,
                      ": unterminated quoted field (no closing '\"' before ", "the end of the file)");
    if (!whitespace || quoted || !csv_trim(field).empty()) finish_field();
    const bool blank = row.fields.empty() || (row.fields.size() == 1 && row.fields[0].empty() && !row_quoted);
    if (!blank) rows.push_back(std::move(row));
  }
  HNN_CHECK_RUNTIME(!rows.empty(), path, ": empty file: no rows to read",
                    options.skip_rows() > 0 ? " after skip_rows(" + std::to_string(options.skip_rows()) + ")"
                                            : std::string());
  return rows;
}

/// A hint for errors at the first row when it looks like the count line scikit-learn's bundled CSV files
/// start with ("569,30,malignant,benign"): two whole numbers, the first the count of the rows that follow
/// (with or without a header row); empty otherwise.
inline std::string csv_count_line_hint(const std::vector<CsvRow>& rows, const CSVOptions& options) {
  if (rows.size() < 2 || rows[0].fields.size() < 2) return {};
  const auto count = csv_number(rows[0].fields[0]);
  const auto width = csv_number(rows[0].fields[1]);
  if (!count || !width || *count != std::floor(*count) || *width != std::floor(*width)) return {};
  const auto following = static_cast<double>(rows.size() - 1);
  if (*count != following && *count != following - 1) return {};
  return "; line " + std::to_string(rows[0].line) + " looks like a count line (" + rows[0].fields[0] +
         " rows, " + rows[0].fields[1] +
         " columns), as scikit-learn's bundled files start with: skip it with " + "skip_rows(" +
         std::to_string(options.skip_rows() + 1) + ")";
}

/// Reads `path` into rows and decides its header (see CSVOptions::header); every row must have as many
/// fields as the first.
inline CsvTable csv_table(const std::string& path, const CSVOptions& options, bool header_required = false) {
  CsvTable table;
  table.path = path;
  const std::string text = csv_text(path);
  table.rows = csv_rows(text, path, options);
  const auto& rows = table.rows;
  HNN_CHECK(!(header_required && options.header() == false), "hnn::data::CSVDataset: ", path,
            ": the label column is ", "given by name ('",
            std::holds_alternative<std::string>(options.label_column())
                ? std::get<std::string>(options.label_column())
                : std::string(),
            "') but header(false) says the ", "file has no header row");
  if (options.header()) {
    table.has_header = *options.header();
  } else {
    const auto& first = rows[0].fields;
    const bool any_number = std::any_of(first.begin(), first.end(),
                                        [](const std::string& c) { return csv_number(c).has_value(); });
    bool text_over_number = rows.size() == 1;
    if (rows.size() > 1) {
      const auto& second = rows[1].fields;
      for (size_t c = 0; c < std::min(first.size(), second.size()); ++c)
        text_over_number = text_over_number || (!csv_number(first[c]) && csv_value(second[c], options));
    }
    table.has_header = header_required || (!any_number && text_over_number);
  }
  const auto columns = static_cast<int64_t>(rows[0].fields.size());
  for (const CsvRow& row : rows)
    HNN_CHECK_RUNTIME(static_cast<int64_t>(row.fields.size()) == columns, path, ": ragged row at line ",
                      row.line, ": ", row.fields.size(), " fields, expected ", columns, " (as in line ",
                      rows[0].line, ")", csv_count_line_hint(rows, options));
  table.first_data = table.has_header ? 1 : 0;
  HNN_CHECK_RUNTIME(rows.size() > table.first_data, path, ": no data rows after the header at line ",
                    rows[0].line);
  table.names.resize(static_cast<size_t>(columns));
  for (int64_t c = 0; c < columns; ++c)
    table.names[static_cast<size_t>(c)] =
        table.has_header ? rows[0].fields[static_cast<size_t>(c)] : "column " + std::to_string(c);
  return table;
}

/// The numeric matrix of a table's columns `use` (in order), with text columns one-hot encoded as the
/// options ask: values row-major (data rows x names.size()), names the output columns' names.
struct CsvMatrix {
  std::vector<double> values;
  std::vector<std::string> names;
};

inline CsvMatrix csv_matrix(const CsvTable& table, const std::vector<int64_t>& use,
                            const CSVOptions& options) {
  const int64_t n = table.data_rows();
  std::vector<int64_t> numeric, categorical;
  for (const std::string& wanted : options.one_hot_columns()) {
    const auto it = std::find(table.names.begin(), table.names.end(), wanted);
    HNN_CHECK(it != table.names.end() && table.has_header, "hnn::data::read_csv: ", table.path,
              ": one_hot names column '", wanted, "', which ",
              table.has_header ? "is not in the header" : "needs a header row (the file has none)");
    HNN_CHECK(std::find(use.begin(), use.end(), it - table.names.begin()) != use.end(),
              "hnn::data::read_csv: ", table.path, ": one_hot names column '", wanted,
              "', which is the label column");
  }
  for (int64_t c : use) {
    const std::string& name = table.names[static_cast<size_t>(c)];
    bool encode = std::find(options.one_hot_columns().begin(), options.one_hot_columns().end(), name) !=
                  options.one_hot_columns().end();
    if (options.one_hot_all())
      for (int64_t r = 0; r < n && !encode; ++r)
        encode = !csv_value(table.data_row(r).fields[static_cast<size_t>(c)], options).has_value();
    (encode ? categorical : numeric).push_back(c);
  }
  // The categories of each encoded column, sorted (pandas sorts them), missing cells excluded.
  std::vector<std::map<std::string, int64_t>> categories(categorical.size());
  CsvMatrix m;
  for (int64_t c : numeric) m.names.push_back(table.names[static_cast<size_t>(c)]);
  for (size_t k = 0; k < categorical.size(); ++k) {
    const auto c = static_cast<size_t>(categorical[k]);
    for (int64_t r = 0; r < n; ++r) {
      const std::string& cell = table.data_row(r).fields[c];
      if (!csv_is_na(cell, options)) categories[k].emplace(cell, 0);
    }
    for (auto& [value, index] : categories[k]) {
      index = static_cast<int64_t>(m.names.size());
      m.names.push_back(table.names[c] + "_" + value);
    }
  }
  const auto width = static_cast<int64_t>(m.names.size());
  m.values.assign(static_cast<size_t>(n * width), 0.0);
  for (int64_t r = 0; r < n; ++r) {
    const CsvRow& row = table.data_row(r);
    double* out = m.values.data() + r * width;
    for (size_t j = 0; j < numeric.size(); ++j) {
      const auto c = static_cast<size_t>(numeric[j]);
      const std::string& cell = row.fields[c];
      const auto value = csv_value(cell, options);
      if (!value) {
        std::string hint;
        if (cell.empty())
          hint = "; read empty cells as missing (NaN) with na_values({\"\"})";
        else if (r == 0 && table.first_data == 0)
          hint = csv_count_line_hint(table.rows, options);
        if (hint.empty())
          hint = "; encode a text column with one_hot, or list missing-value markers in na_values";
        throw std::runtime_error(hnn::detail::concat(table.path, ": non-numeric value '", cell, "' at line ",
                                                     row.line, ", column ", c, " ('", table.names[c], "')",
                                                     hint));
      }
      out[j] = *value;
    }
    for (size_t k = 0; k < categorical.size(); ++k) {
      const std::string& cell = row.fields[static_cast<size_t>(categorical[k])];
      const auto it = categories[k].find(cell);
      if (it != categories[k].end()) out[it->second] = 1.0;
    }
  }
  return m;
}

}  // namespace detail

/// A delimited text file as a 2-D tensor (rows, columns), numpy.loadtxt's job: every column numeric (cells
/// in na_values read as NaN), or one-hot encoded as the options ask; a header row, given or detected, is
/// skipped; label_column and encode_labels do not apply. A gzip file (by content, whatever its name) is
/// decompressed, with zlib under HNN_WITH_ZLIB. Errors (std::runtime_error) name the file, the line and
/// the column.
template <class T = float>
Tensor<T> read_csv(const std::string& path, const CSVOptions& options = CSVOptions()) {
  static_assert(std::is_floating_point_v<T>, "hnn::data::read_csv: values are float or double");
  const detail::CsvTable table = detail::csv_table(path, options);
  std::vector<int64_t> all(static_cast<size_t>(table.columns()));
  for (int64_t c = 0; c < table.columns(); ++c) all[static_cast<size_t>(c)] = c;
  const detail::CsvMatrix m = detail::csv_matrix(table, all, options);
  const auto width = static_cast<int64_t>(m.names.size());
  auto out = Tensor<T>::empty(Shape{table.data_rows(), width});
  std::transform(m.values.begin(), m.values.end(), out.data(), [](double v) { return static_cast<T>(v); });
  return out;
}

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

  /// Features and targets from separate files with the same number of data rows, as scikit-learn ships
  /// diabetes_data_raw.csv.gz and diabetes_target.csv.gz: every column of `features_path` is a feature
  /// (one-hot as the options ask), and label_column picks the target column of `targets_path` (by default
  /// its last). Both files are read with the same options; the header is decided for each.
  CSVDataset(const std::string& features_path, const std::string& targets_path,
             const CSVOptions& options = CSVOptions())
      : CSVDataset(parse(features_path, targets_path, options)) {}

  /// Features (N, F) and targets (N) that are already tensors (e.g. from read_csv), with the features'
  /// names ("column <index>" when empty).
  CSVDataset(const Tensor<T>& features, const Tensor<Target>& targets,
             std::vector<std::string> feature_names = {})
      : TensorDataset<T, Target>(features, targets) {
    HNN_CHECK(this->data().dim() == 2 && this->targets().dim() == 1,
              "hnn::data::CSVDataset: expected features (N, F) and targets (N), got shapes ",
              this->data().shape(), " and ", this->targets().shape());
    if (feature_names.empty())
      for (int64_t c = 0; c < this->data().size(1); ++c)
        feature_names.push_back("column " + std::to_string(c));
    HNN_CHECK(static_cast<int64_t>(feature_names.size()) == this->data().size(1),
              "hnn::data::CSVDataset: ", feature_names.size(), " feature names for ", this->data().size(1),
              " feature columns");
    info_.feature_names = std::move(feature_names);
    info_.label_name = "target";
  }

  /// The label encoding (LabelEncoder.classes_): class k is classes()[k]; empty when labels were used as
  /// numbers.
  const std::vector<std::string>& classes() const { return info_.classes; }
  /// The feature columns' names (from the header, or "column <index>" without one), in order; one-hot
  /// columns are "<column>_<value>".
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

  explicit CSVDataset(Parsed parsed)
      : TensorDataset<T, Target>(parsed.features, parsed.targets), info_(std::move(parsed.info)) {}

  static Tensor<T> to_tensor(const detail::CsvMatrix& m, int64_t n) {
    auto out = Tensor<T>::empty(Shape{n, static_cast<int64_t>(m.names.size())});
    std::transform(m.values.begin(), m.values.end(), out.data(), [](double v) { return static_cast<T>(v); });
    return out;
  }

  static int64_t label_index(const detail::CsvTable& table, const CSVOptions& options) {
    const int64_t columns = table.columns();
    if (const auto* wanted = std::get_if<std::string>(&options.label_column())) {
      const auto it = std::find(table.names.begin(), table.names.end(), *wanted);
      if (it == table.names.end()) {
        std::string list;
        for (const auto& name : table.names) list += (list.empty() ? "'" : ", '") + name + "'";
        throw std::invalid_argument("hnn::data::CSVDataset: " + table.path + ": no label column named '" +
                                    *wanted + "'; the header at line " + std::to_string(table.rows[0].line) +
                                    " has " + list);
      }
      return it - table.names.begin();
    }
    const int64_t index = std::get<int64_t>(options.label_column());
    const int64_t label = index < 0 ? index + columns : index;
    HNN_CHECK(label >= 0 && label < columns, "hnn::data::CSVDataset: ", table.path, ": label column index ",
              index, " is out of range for ", columns, " columns (expected ", -columns, " to ", columns - 1,
              ")");
    return label;
  }

  static std::vector<std::string> labels_of(const detail::CsvTable& table, int64_t label) {
    std::vector<std::string> labels(static_cast<size_t>(table.data_rows()));
    for (int64_t r = 0; r < table.data_rows(); ++r)
      labels[static_cast<size_t>(r)] = table.data_row(r).fields[static_cast<size_t>(label)];
    return labels;
  }

  static Parsed parse(const std::string& path, const CSVOptions& options) {
    const bool by_name = std::holds_alternative<std::string>(options.label_column());
    const detail::CsvTable table = detail::csv_table(path, options, by_name);
    const int64_t label = label_index(table, options);
    HNN_CHECK_RUNTIME(table.columns() >= 2, path,
                      ": needs at least one feature column besides the label, got ", table.columns(),
                      " column(s)");
    std::vector<int64_t> features;
    for (int64_t c = 0; c < table.columns(); ++c)
      if (c != label) features.push_back(c);
    const detail::CsvMatrix m = detail::csv_matrix(table, features, options);
    Parsed parsed;
    parsed.features = to_tensor(m, table.data_rows());
    parsed.info.feature_names = m.names;
    parsed.info.label_name = table.names[static_cast<size_t>(label)];
    parsed.info.has_header = table.has_header;
    parsed.targets =
        encode_targets(labels_of(table, label), options, table, parsed.info.label_name, parsed.info.classes);
    return parsed;
  }

  static Parsed parse(const std::string& features_path, const std::string& targets_path,
                      const CSVOptions& options) {
    const bool by_name = std::holds_alternative<std::string>(options.label_column());
    const detail::CsvTable x = detail::csv_table(features_path, options);
    const detail::CsvTable y = detail::csv_table(targets_path, options, by_name);
    HNN_CHECK_RUNTIME(x.data_rows() == y.data_rows(), features_path, " has ", x.data_rows(),
                      " data rows but ", targets_path, " has ", y.data_rows(),
                      "; features and targets must pair up row by row");
    const int64_t label = label_index(y, options);
    std::vector<int64_t> all(static_cast<size_t>(x.columns()));
    for (int64_t c = 0; c < x.columns(); ++c) all[static_cast<size_t>(c)] = c;
    const detail::CsvMatrix m = detail::csv_matrix(x, all, options);
    Parsed parsed;
    parsed.features = to_tensor(m, x.data_rows());
    parsed.info.feature_names = m.names;
    parsed.info.label_name = y.names[static_cast<size_t>(label)];
    parsed.info.has_header = x.has_header;
    parsed.targets =
        encode_targets(labels_of(y, label), options, y, parsed.info.label_name, parsed.info.classes);
    return parsed;
  }

  static Tensor<Target> encode_targets(const std::vector<std::string>& labels, const CSVOptions& options,
                                       const detail::CsvTable& table, const std::string& label_name,
                                       std::vector<std::string>& classes) {
    const auto n = static_cast<int64_t>(labels.size());
    std::vector<std::optional<double>> numbers(labels.size());
    bool all_numeric = true;
    for (size_t i = 0; i < labels.size(); ++i) {
      numbers[i] = detail::csv_value(labels[i], options);
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
      const int64_t line = table.data_row(i).line;
      if constexpr (std::is_integral_v<Target>) {
        HNN_CHECK_RUNTIME(std::isfinite(value) && value == std::floor(value), table.path, ": label '",
                          labels[static_cast<size_t>(i)], "' at line ", line, " (column '", label_name,
                          "') is not an integer class index; read a regression target ",
                          "with CSVDataset<float, float> or set encode_labels(true)");
        // Converting a double outside Target's range is undefined behaviour, not an error value.
        HNN_CHECK_RUNTIME(value >= static_cast<double>(std::numeric_limits<Target>::min()) &&
                              value < static_cast<double>(std::numeric_limits<Target>::max()) + 1.0,
                          table.path, ": label '", labels[static_cast<size_t>(i)], "' at line ", line,
                          " (column '", label_name, "') is outside the range of ", sizeof(Target) * 8,
                          "-bit class indices");
      }
      out[i] = static_cast<Target>(value);
    }
    return targets;
  }

  Info info_;
};

}  // namespace hnn::data
