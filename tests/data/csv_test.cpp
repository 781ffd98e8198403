// hnn::data::CSVDataset on files the test writes: header detection and override, label column by index
// (negative from the end) or name, string labels encoded like sklearn's LabelEncoder, regression targets,
// quoting, and the errors: empty file, ragged rows, non-numeric cells, unknown label column; labels found
// by fuzzing (tests/fuzz/regressions/csv): past int64, NaN.
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <hnn/data/csv.hpp>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using hnn::data::CSVDataset;
using hnn::data::CSVOptions;

namespace {

std::string write_csv(const std::string& name, const std::string& text) {
  const fs::path path = fs::current_path() / ("csv_test_" + name + ".csv");
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
