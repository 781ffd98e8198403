// hnn::data::CSVDataset and read_csv on files the test writes: header detection and override, label column
// by index (negative from the end) or name, string labels encoded like sklearn's LabelEncoder, regression
// targets, quoting (across lines too), skip_rows and count lines, comments, na_values, whitespace
// delimiters, gzip (or the no-zlib error), features and targets from two files or tensors, one-hot text
// columns as pandas.get_dummies makes them, and the errors: empty file, ragged rows, non-numeric cells,
// unknown label column; labels found by fuzzing (tests/fuzz/regressions/csv): past int64, NaN.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <hnn/data/csv.hpp>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#ifdef HNN_WITH_ZLIB
#include <zlib.h>
#endif

namespace fs = std::filesystem;
using hnn::data::CSVDataset;
using hnn::data::CSVOptions;

namespace {

std::string write_csv(const std::string& name, const std::string& text) {
  const fs::path path = fs::current_path() / ("csv_test_" + name + ".csv");
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  return path.string();
}

std::string write_file(const std::string& name, const std::string& text) {
  const fs::path path = fs::current_path() / ("csv_test_" + name);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  return path.string();
}

template <class T, class Target>
std::vector<float> row(const CSVDataset<T, Target>& dataset, int64_t i) {
  const auto v = dataset.get(i).data.to_vector();
  return std::vector<float>(v.begin(), v.end());
}

template <class DS>
std::string error_of(const std::string& path, const CSVOptions& options = CSVOptions()) {
  try {
    DS dataset(path, options);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::string error_of2(const std::string& features, const std::string& targets) {
  try {
    CSVDataset<float, float> dataset(features, targets, CSVOptions().delimiter(' '));
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::string read_error(const std::string& path, const CSVOptions& options = CSVOptions()) {
  try {
    (void)hnn::data::read_csv<double>(path, options);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("CSVDataset with a header and string labels encodes them like LabelEncoder", "[data][csv]") {
  const auto path = write_csv("header",
                              "f1,f2,f3,species\n1.5,2,3,virginica\n4,5e-1,-6,setosa\n"
                              "7,8,9,versicolor\n\n-1,+2,0.25,setosa\n");
  CSVDataset dataset(path);
  CHECK(dataset.has_header());
  REQUIRE(dataset.size() == 4);
  CHECK(dataset.num_features() == 3);
  CHECK(dataset.feature_names() == std::vector<std::string>{"f1", "f2", "f3"});
  CHECK(dataset.label_name() == "species");
  // sklearn.preprocessing.LabelEncoder().fit(["virginica", "setosa", "versicolor", "setosa"]).classes_
  CHECK(dataset.classes() == std::vector<std::string>{"setosa", "versicolor", "virginica"});
  CHECK(dataset.targets().to_vector() == std::vector<int64_t>{2, 0, 1, 0});
  CHECK(row(dataset, 0) == std::vector<float>{1.5f, 2, 3});
  CHECK(row(dataset, 1) == std::vector<float>{4, 0.5f, -6});
  CHECK(row(dataset, 3) == std::vector<float>{-1, 2, 0.25f});
  CHECK(dataset.data().shape() == hnn::Shape{4, 3});
}

TEST_CASE("CSVDataset without a header, label by index and by name", "[data][csv]") {
  const auto path = write_csv("noheader", "3,0.5,1\r\n1,1.5,2\r\n2,2.5,3\r\n");
  SECTION("label is the last column by default") {
    CSVDataset dataset(path);
    CHECK_FALSE(dataset.has_header());
    CHECK(dataset.targets().to_vector() == std::vector<int64_t>{1, 2, 3});
    CHECK(dataset.classes().empty());
    CHECK(row(dataset, 0) == std::vector<float>{3, 0.5f});
    CHECK(dataset.feature_names() == std::vector<std::string>{"column 0", "column 1"});
  }
  SECTION("label by index, negative from the end") {
    CSVDataset first(path, CSVOptions().label_column(0));
    CHECK(first.targets().to_vector() == std::vector<int64_t>{3, 1, 2});
    CHECK(row(first, 0) == std::vector<float>{0.5f, 1});
    CSVDataset<float, float> middle(path, CSVOptions().label_column(-2));
    CHECK(middle.targets().to_vector() == std::vector<float>{0.5f, 1.5f, 2.5f});
    CHECK(row(middle, 2) == std::vector<float>{2, 3});
  }
  SECTION("header(true) takes the first row as names; label by name") {
    CSVDataset<float, float> dataset(path, CSVOptions().header(true).label_column("0.5"));
    CHECK(dataset.size() == 2);
    CHECK(dataset.label_name() == "0.5");
    CHECK(dataset.feature_names() == std::vector<std::string>{"3", "1"});
    CHECK(row(dataset, 0) == std::vector<float>{1, 2});
    CHECK(dataset.targets().to_vector() == std::vector<float>{1.5f, 2.5f});
  }
  SECTION("encode_labels(true) encodes numeric labels in numeric order") {
    CSVDataset dataset(path, CSVOptions().label_column(0).encode_labels(true));
    CHECK(dataset.classes() == std::vector<std::string>{"1", "2", "3"});
    CHECK(dataset.targets().to_vector() == std::vector<int64_t>{2, 0, 1});
  }
}

TEST_CASE("CSVDataset reads regression targets, delimiters and quoted fields", "[data][csv]") {
  const auto path = write_csv("regression", "x;\"name; quoted\";y\n0.5;1;2.25\n1.5;2;-3.5\n");
  CSVDataset<double, double> dataset(path, CSVOptions().delimiter(';').label_column("y"));
  CHECK(dataset.feature_names() == std::vector<std::string>{"x", "name; quoted"});
  CHECK(dataset.targets().to_vector() == std::vector<double>{2.25, -3.5});
  CHECK(dataset.get(1).data.to_vector() == std::vector<double>{1.5, 2});
  // A string label and a float target: encoded indices as floats (binary BCE targets, as the Sonar data).
  const auto sonar = write_csv("sonar", "0.1,0.2,R\n0.3,0.4,M\n0.5,0.6,R\n");
  CSVDataset<float, float> binary(sonar);
  CHECK(binary.classes() == std::vector<std::string>{"M", "R"});
  CHECK(binary.targets().to_vector() == std::vector<float>{1, 0, 1});
  CHECK_FALSE(binary.has_header());
}

TEST_CASE("CSVDataset reports malformed files with line and column", "[data][csv]") {
  using Default = CSVDataset<float, int64_t>;
  CHECK_THAT(error_of<Default>(write_csv("empty", "")), Catch::Contains("empty file"));
  CHECK_THAT(error_of<Default>(write_csv("blank", "\n  \n")), Catch::Contains("empty file"));
  CHECK_THAT(error_of<Default>(write_csv("only_header", "a,b,label\n")), Catch::Contains("no data rows"));
  CHECK_THAT(error_of<Default>(write_csv("ragged", "a,b,label\n1,2,0\n3,4\n5,6,1\n")),
             Catch::Contains("ragged row at line 3") && Catch::Contains("2 fields, expected 3"));
  CHECK_THAT(error_of<Default>(write_csv("text", "a,b,label\n1,2,0\n3,four,1\n")),
             Catch::Contains("non-numeric value 'four' at line 3, column 1 ('b')"));
  CHECK_THAT(error_of<Default>(write_csv("empty_cell", "a,b,label\n1,,0\n")),
             Catch::Contains("non-numeric value '' at line 2, column 1"));
  const auto good = write_csv("good", "a,b,label\n1,2,0\n3,4,1\n");
  CHECK_THAT(error_of<Default>(good, CSVOptions().label_column("target")),
             Catch::Contains("no label column named 'target'") && Catch::Contains("'a', 'b', 'label'"));
  CHECK_THROWS_AS(Default(good, CSVOptions().label_column("target")), std::invalid_argument);
  CHECK_THAT(error_of<Default>(good, CSVOptions().label_column(3)), Catch::Contains("label column index 3"));
  CHECK_THAT(error_of<Default>(good, CSVOptions().label_column(-4)), Catch::Contains("out of range"));
  CHECK_THAT(error_of<Default>(good, CSVOptions().header(false).label_column("a")),
             Catch::Contains("header(false)"));
  CHECK_THAT(error_of<Default>(write_csv("fraction", "1,0.5\n2,1.5\n")),
             Catch::Contains("not an integer class"));
  CHECK_THAT(error_of<Default>(write_csv("quote", "1,\"open\n")),
             Catch::Contains("unterminated quoted field"));
  CHECK_THAT(error_of<Default>(write_csv("one_column", "label\n1\n")),
             Catch::Contains("at least one feature"));
  CHECK_THROWS_AS(Default(fs::current_path().string() + "/csv_test_does_not_exist.csv"), std::runtime_error);
}

// Inputs committed in tests/fuzz/regressions/csv/ in csv_fuzz.cpp's framing: two option bytes (byte 0 bits
// 4-5 = 1: encode_labels(true); byte 1 = label column index, 0xff = -1), then the file.
TEST_CASE("CSVDataset handles the labels found by fuzzing: int64 overflow and NaN classes",
          "[data][csv][fuzz]") {
  using IndexCSV = CSVDataset<float, int64_t>;
  using FloatCSV = CSVDataset<float, float>;
  auto regression = [](const std::string& name) {
    const fs::path input = fs::path(HNN_TEST_REFERENCES_DIR) / ".." / "fuzz" / "regressions" / "csv" / name;
    std::ifstream in(input, std::ios::binary);
    REQUIRE(in);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() > 2);
    REQUIRE(static_cast<unsigned char>(bytes[1]) == 0xff);  // the last column is the label
    return std::make_pair(static_cast<unsigned char>(bytes[0]), write_csv("fuzz_" + name, bytes.substr(2)));
  };
  SECTION("a label of 1e30 has no int64 value (was an undefined double-to-int64 conversion)") {
    const auto [options, path] = regression("label_1e30_int64_cast");
    REQUIRE(options == 0);
    CHECK_THAT(error_of<IndexCSV>(path), Catch::Contains("label '1e30' at line 1") &&
                                             Catch::Contains("outside the range of 64-bit class indices"));
    CHECK_THROWS_AS(IndexCSV(path), std::runtime_error);
    // 2^63 is the first double past int64; -2^63 is still an index (of nothing, but representable).
    CHECK_THAT(error_of<IndexCSV>(write_csv("two_pow_63", "1,9223372036854775808\n")),
               Catch::Contains("outside the range"));
    CHECK(IndexCSV(write_csv("minus_two_pow_63", "1,-9223372036854775808\n")).targets().to_vector() ==
          std::vector<int64_t>{INT64_MIN});
    // As a float target, or encoded, 1e30 is fine.
    CHECK(FloatCSV(path).targets().to_vector() == std::vector<float>{1e30f, 3.0f});
  }
  SECTION("NaN labels are one class, sorted last, as LabelEncoder (np.unique) makes them") {
    const auto [options, path] = regression("label_nan_encoding");
    REQUIRE(options == 0x10);
    // sklearn.preprocessing.LabelEncoder().fit([nan, 3, 1, nan]): classes_ [1., 3., nan], codes [2, 1, 0, 2]
    IndexCSV dataset(path, CSVOptions().encode_labels(true));
    CHECK(dataset.classes() == std::vector<std::string>{"1", "3", "nan"});
    CHECK(dataset.targets().to_vector() == std::vector<int64_t>{2, 1, 0, 2});
  }
}

TEST_CASE("skip_rows skips scikit-learn's count line; a row holding a number is never a header",
          "[data][csv]") {
  // breast_cancer.csv's shape: "569,30,malignant,benign" then rows of 30 features and a class.
  const auto counted = write_csv("count_line", "3,2,malignant,benign\n1.5,2,0\n3,4.5,1\n5,6,0\n");
  CHECK_THAT(error_of<CSVDataset<>>(counted),
             Catch::Contains("ragged row at line 2: 3 fields, expected 4") &&
                 Catch::Contains("line 1 looks like a count line (3 rows, 2 columns)") &&
                 Catch::Contains("skip_rows(1)"));
  CSVDataset dataset(counted, CSVOptions().skip_rows(1));
  CHECK_FALSE(dataset.has_header());
  CHECK(dataset.size() == 3);
  CHECK(row(dataset, 1) == std::vector<float>{3, 4.5f});
  CHECK(dataset.targets().to_vector() == std::vector<int64_t>{0, 1, 0});
  // iris.csv's count line has as many fields as the rows: it used to be taken for a header.
  const auto iris = write_csv("iris_count", "2,2,setosa,versicolor\n5.1,3.5,1.4,0\n4.9,3.0,1.4,1\n");
  CHECK_THAT(error_of<CSVDataset<>>(iris),
             Catch::Contains("non-numeric value 'setosa' at line 1, column 2") &&
                 Catch::Contains("looks like a count line") && Catch::Contains("skip_rows(1)"));
  CHECK(CSVDataset(iris, CSVOptions().skip_rows(1)).size() == 2);
  // boston_house_prices.csv: a count line, then a header row: after skip_rows(1) the header is detected.
  const auto boston = write_csv("boston", "2,2,,\n\"CRIM\",\"ZN\",\"MEDV\"\n0.1,18,24\n0.2,0,21.6\n");
  CSVDataset<float, float> prices(boston, CSVOptions().skip_rows(1).label_column("MEDV"));
  CHECK(prices.has_header());
  CHECK(prices.feature_names() == std::vector<std::string>{"CRIM", "ZN"});
  CHECK(prices.targets().to_vector() == std::vector<float>{24, 21.6f});
  // Errors keep counting lines from the top of the file.
  CHECK_THAT(error_of<CSVDataset<>>(write_csv("skip_line", "junk\nmore junk\n1,2,0\n3,x,1\n"),
                                    CSVOptions().skip_rows(2)),
             Catch::Contains("non-numeric value 'x' at line 4, column 1"));
  CHECK_THAT(error_of<CSVDataset<>>(counted, CSVOptions().skip_rows(9)),
             Catch::Contains("empty file") && Catch::Contains("after skip_rows(9)"));
  CHECK_THROWS_AS(CSVOptions().skip_rows(-1), std::invalid_argument);
}

TEST_CASE("comment cuts the rest of a line; na_values read cells as NaN", "[data][csv]") {
  const auto path = write_csv("comments",
                              "# measured 2026-12-07\na,b,label # names\n1,NA,0\n\n"
                              "  # a note\n?,4,1 # last\n5,\"NA\",0\n");
  CSVDataset dataset(path, CSVOptions().comment('#').na_values({"NA", "?"}));
  CHECK(dataset.has_header());
  CHECK(dataset.feature_names() == std::vector<std::string>{"a", "b"});
  REQUIRE(dataset.size() == 3);
  const auto x = dataset.data().to_vector();
  CHECK(x[0] == 1);
  CHECK(std::isnan(x[1]));
  CHECK(std::isnan(x[2]));
  CHECK(x[3] == 4);
  CHECK(std::isnan(x[5]));  // a quoted "NA" is missing too, as in pandas
  CHECK(dataset.targets().to_vector() == std::vector<int64_t>{0, 1, 0});
  // Without the options the same cells are errors that say which option reads them.
  CHECK_THAT(
      error_of<CSVDataset<>>(path, CSVOptions().comment('#')),
      Catch::Contains("non-numeric value 'NA' at line 3, column 1 ('b')") && Catch::Contains("na_values"));
  CHECK_THAT(error_of<CSVDataset<>>(write_csv("empty_cell_hint", "a,b,label\n1,,0\n")),
             Catch::Contains("na_values({\"\"})"));
  const auto empty =
      CSVDataset(write_csv("empty_na", "a,b,label\n1,,0\n2,3,1\n"), CSVOptions().na_values({""}));
  CHECK(std::isnan(empty.data().to_vector()[1]));
  // A missing label: NaN for a float target, an error for class indices.
  const auto missing_label = write_csv("missing_label", "1,2,NA\n3,4,1\n");
  CHECK(std::isnan(
      CSVDataset<float, float>(missing_label, CSVOptions().na_values({"NA"})).targets().to_vector()[0]));
  CHECK_THAT(error_of<CSVDataset<>>(missing_label, CSVOptions().na_values({"NA"}).encode_labels(false)),
             Catch::Contains("label 'NA' at line 1") && Catch::Contains("not an integer class index"));
  CHECK_THROWS_AS(CSVOptions().comment('"'), std::invalid_argument);
  CHECK_THROWS_AS(CSVOptions().delimiter('\n'), std::invalid_argument);
}

TEST_CASE("quoted fields may span lines; line numbers stay those of the file", "[data][csv]") {
  const auto path = write_csv("multiline",
                              "note,x,label\n\"two\nlines\",1,0\n\"say \"\"hi\"\"\" ,2,1\n"
                              "plain,three,0\n");
  CHECK_THAT(read_error(path, CSVOptions().one_hot({"note"})),
             Catch::Contains("non-numeric value 'three' at line 5, column 1 ('x')"));
  const auto fixed = write_csv("multiline_ok", "note,x,label\n\"two\nlines\",1,0\n\"say \"\"hi\"\"\" ,2,1\n");
  CSVDataset dataset(fixed, CSVOptions().one_hot({"note"}));
  CHECK(dataset.feature_names() == std::vector<std::string>{"x", "note_say \"hi\"", "note_two\nlines"});
  CHECK(row(dataset, 0) == std::vector<float>{1, 0, 1});
  CHECK(row(dataset, 1) == std::vector<float>{2, 1, 0});
  CHECK_THAT(error_of<CSVDataset<>>(write_csv("open_quote", "a,b,label\n1,2,0\n\"open,3,1\n4,5,0\n")),
             Catch::Contains("line 3: unterminated quoted field"));
}

TEST_CASE("read_csv reads a whole table as a 2-D tensor, numpy.loadtxt's job", "[data][csv]") {
  // scikit-learn's diabetes_data_raw.csv: space-separated numbers; runs of blanks are one separator.
  const auto path = write_csv("spaces", "59 2 32.1 101.0\n  48 1\t21.6   87.0  \n72 2 30.5 93.0\n");
  const auto m = hnn::data::read_csv<double>(path, CSVOptions().delimiter(' '));
  CHECK(m.shape() == hnn::Shape{3, 4});
  CHECK(m.to_vector() == std::vector<double>{59, 2, 32.1, 101, 48, 1, 21.6, 87, 72, 2, 30.5, 93});
  // A header is skipped; every column is a value, the "label" too.
  const auto with_header = hnn::data::read_csv<float>(write_csv("read_header", "a,b\n1,2\n3,4\n"));
  CHECK(with_header.shape() == hnn::Shape{2, 2});
  CHECK(with_header.to_vector() == std::vector<float>{1, 2, 3, 4});
  // One column: still 2-D (N, 1), as the diabetes targets are read.
  CHECK(hnn::data::read_csv<float>(write_csv("column", "1.51e+02\n7.5e+01\n")).shape() == hnn::Shape{2, 1});
  CHECK_THAT(read_error(write_csv("read_ragged", "1 2 3\n4 5\n"), CSVOptions().delimiter(' ')),
             Catch::Contains("ragged row at line 2: 2 fields, expected 3"));
  CHECK_THAT(read_error(write_csv("read_text", "1,2\n3,x\n")),
             Catch::Contains("non-numeric value 'x' at line 2, column 1 ('column 1')") &&
                 Catch::Contains("one_hot"));
}

TEST_CASE("gzip files are read by content, or refused clearly without zlib", "[data][csv]") {
  const std::string text = "f1,f2,label\n0.5,1,a\n1.5,2,b\n";
#ifdef HNN_WITH_ZLIB
  // Named without .gz: the magic bytes decide, not the name.
  const fs::path path = fs::current_path() / "csv_test_gzipped.data";
  gzFile file = gzopen(path.string().c_str(), "wb");
  REQUIRE(file != nullptr);
  REQUIRE(gzwrite(file, text.data(), static_cast<unsigned>(text.size())) == static_cast<int>(text.size()));
  REQUIRE(gzclose(file) == Z_OK);
  CSVDataset dataset(path.string());
  CHECK(dataset.classes() == std::vector<std::string>{"a", "b"});
  CHECK(row(dataset, 1) == std::vector<float>{1.5f, 2});
  CHECK(hnn::data::read_csv<float>(path.string(), CSVOptions().one_hot(true)).shape() == hnn::Shape{2, 4});
  // A truncated gzip stream is a gzip error, never a "ragged row".
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto truncated = write_file("truncated.csv.gz", bytes.substr(0, bytes.size() - 9));
  CHECK_THAT(error_of<CSVDataset<>>(truncated), Catch::Contains("gzip"));
#else
  const auto path = write_file("fake.csv.gz", std::string("\x1f\x8b\x08\x00", 4) + std::string(20, '\0'));
  CHECK_THAT(error_of<CSVDataset<>>(path), Catch::Contains("built without zlib"));
  CHECK(CSVDataset(write_csv("plain_text", text)).size() == 2);
#endif
}

TEST_CASE("CSVDataset from separate feature and target files, or from tensors", "[data][csv]") {
  // scikit-learn's diabetes_data_raw.csv.gz and diabetes_target.csv.gz, in miniature.
  const auto x = write_csv("x_part", "59 2 32.1\n48 1 21.6\n72 2 30.5\n");
  const auto y = write_csv("y_part", "1.510000000000000000e+02\n7.500000000000000000e+01\n1.41e+02\n");
  CSVDataset<float, float> diabetes(x, y, CSVOptions().delimiter(' '));
  CHECK(diabetes.size() == 3);
  CHECK(diabetes.num_features() == 3);
  CHECK(row(diabetes, 2) == std::vector<float>{72, 2, 30.5f});
  CHECK(diabetes.targets().to_vector() == std::vector<float>{151, 75, 141});
  // Text targets are encoded; a header in the target file names the label.
  const auto labels = write_csv("y_labels", "species\nb\na\nb\n");
  CSVDataset classes(x, labels, CSVOptions().delimiter(' ').label_column("species"));
  CHECK(classes.classes() == std::vector<std::string>{"a", "b"});
  CHECK(classes.targets().to_vector() == std::vector<int64_t>{1, 0, 1});
  CHECK(classes.label_name() == "species");
  const auto short_y = write_csv("y_short", "1\n2\n");
  CHECK_THAT(error_of2(x, short_y), Catch::Contains("3 data rows") && Catch::Contains("y_short.csv has 2"));

  const auto features = hnn::data::read_csv<float>(x, CSVOptions().delimiter(' '));
  CSVDataset<float, float> from_tensors(features, hnn::tensor<float>({1, 2, 3}), {"age", "sex", "bmi"});
  CHECK(from_tensors.feature_names() == std::vector<std::string>{"age", "sex", "bmi"});
  CHECK(row(from_tensors, 1) == std::vector<float>{48, 1, 21.6f});
  CHECK(CSVDataset<float, float>(features, hnn::tensor<float>({1, 2, 3})).feature_names().back() ==
        "column 2");
  using FloatCSV = CSVDataset<float, float>;
  CHECK_THROWS_AS(FloatCSV(features, hnn::tensor<float>({1, 2})), std::invalid_argument);
  CHECK_THROWS_AS(FloatCSV(features, hnn::tensor<float>({1, 2, 3}), {"one"}), std::invalid_argument);
}

TEST_CASE("one_hot encodes text columns as pandas.get_dummies does", "[data][csv]") {
  using FloatCSV = CSVDataset<float, float>;
  // The regression tutorial's shape: numeric and text columns, a missing income, a float target.
  const auto path = write_csv("insurance",
                              "age,sex,income,smoker,region,charges\n"
                              "19,female,27.9,yes,southwest,16884.9\n"
                              "18,male,NA,no,southeast,1725.5\n"
                              "28,male,33.0,no,southeast,4449.4\n"
                              "33,female,22.7,no,northwest,NA\n");
  const auto options = CSVOptions().na_values({"NA"}).one_hot(true).label_column("charges");
  CSVDataset<double, double> dataset(path, options);
  // pandas.get_dummies(df.drop(columns="charges"), dtype=float): age, income, then sex_female, sex_male,
  // smoker_no, smoker_yes, region_northwest, region_southeast, region_southwest.
  CHECK(dataset.feature_names() == std::vector<std::string>{"age", "income", "sex_female", "sex_male",
                                                            "smoker_no", "smoker_yes", "region_northwest",
                                                            "region_southeast", "region_southwest"});
  CHECK(dataset.get(0).data.to_vector() == std::vector<double>{19, 27.9, 1, 0, 0, 1, 0, 0, 1});
  const auto second = dataset.get(1).data.to_vector();
  CHECK(std::isnan(second[1]));
  CHECK(std::vector<double>(second.begin() + 2, second.end()) == std::vector<double>{0, 1, 1, 0, 0, 1, 0});
  CHECK(std::isnan(dataset.targets().to_vector()[3]));
  // Only the columns named; a missing category is all zeros (dummy_na=False).
  const auto some = write_csv("some_text", "city,zone,y\nParis,A,1\nNA,B,0\nLyon,A,1\n");
  CSVDataset<float, float> named(some, CSVOptions().na_values({"NA"}).one_hot({"city", "zone"}));
  CHECK(named.feature_names() == std::vector<std::string>{"city_Lyon", "city_Paris", "zone_A", "zone_B"});
  CHECK(row(named, 1) == std::vector<float>{0, 0, 0, 1});
  CHECK_THAT(error_of<FloatCSV>(some, CSVOptions().one_hot({"zone"})),
             Catch::Contains("non-numeric value 'Paris' at line 2, column 0 ('city')"));
  CHECK_THAT(error_of<FloatCSV>(some, CSVOptions().one_hot({"town"})),
             Catch::Contains("one_hot names column 'town', which is not in the header"));
  CHECK_THAT(error_of<FloatCSV>(some, CSVOptions().one_hot({"y"})),
             Catch::Contains("which is the label column"));
}
