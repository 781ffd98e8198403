// hnn::data::transforms (ScaleToUnit, Normalize, Flatten, Compose) on samples and batches, and MapDataset
// applying them to a dataset through the DataLoader's batch path.
#include <catch2/catch.hpp>
#include <cstdint>
#include <hnn/data/dataloader.hpp>
#include <hnn/data/tensor_dataset.hpp>
#include <hnn/data/transforms.hpp>
#include <numeric>
#include <vector>

namespace transforms = hnn::data::transforms;

namespace {

/// (n, 2, 2, 3) values 0, 1, 2, ... as float "pixels".
hnn::Tensor<float> pixels(int64_t n) {
  std::vector<float> values(static_cast<size_t>(n * 12));
  std::iota(values.begin(), values.end(), 0.0f);
  return hnn::tensor<float>(values, {n, 2, 2, 3});
}

}  // namespace

TEST_CASE("ScaleToUnit divides by the maximum value", "[data][transforms]") {
  const auto x = pixels(1).select(0, 0);
  const auto y = transforms::ScaleToUnit()(x);
  CHECK(y.shape() == x.shape());
  const auto v = y.to_vector();
  for (size_t i = 0; i < v.size(); ++i) CHECK(v[i] == static_cast<float>(i) / 255.0f);
  CHECK(transforms::ScaleToUnit(4).apply_batch(pixels(2)).to_vector()[6] == 1.5f);
  CHECK_THROWS_AS(transforms::ScaleToUnit(0), std::invalid_argument);
}

TEST_CASE("Normalize subtracts the mean and divides by the std per channel", "[data][transforms]") {
  const transforms::Normalize normalize({1.0, 2.0}, {0.5, 4.0});
  // Sample (C=2, 2, 3): channel = first dimension; torchvision: (x - mean[c]) / std[c].
  const auto sample = pixels(1).select(0, 0);
  const auto out = normalize(sample).to_vector();
  for (size_t i = 0; i < 12; ++i) {
    const size_t c = i / 6;
    const float expected = (static_cast<float>(i) - (c == 0 ? 1.0f : 2.0f)) / (c == 0 ? 0.5f : 4.0f);
    CHECK(out[i] == expected);
  }
  // Batch (B=3, C=2, 2, 3): channel = second dimension; each sample as normalize(sample).
  const auto batch = pixels(3);
  const auto batched = normalize.apply_batch(batch);
  REQUIRE(batched.shape() == batch.shape());
  for (int64_t b = 0; b < 3; ++b)
    CHECK(batched.select(0, b).to_vector() == normalize(batch.select(0, b)).to_vector());
  // A strided (non-contiguous) input gives the same numbers.
  const auto transposed = batch.transpose(2, 3).contiguous().transpose(2, 3);
  CHECK(normalize.apply_batch(transposed).to_vector() == batched.to_vector());
  // One mean/std for every channel; double tensors.
  const transforms::Normalize single({0.5}, {0.25});
  const auto d = single(hnn::tensor<double>({0.0, 1.0, 0.75}, {3, 1})).to_vector();
  CHECK(d == std::vector<double>{-2.0, 2.0, 1.0});

  CHECK_THROWS_WITH(normalize(hnn::zeros<float>({3, 2})),
                    Catch::Contains("2 channels") && Catch::Contains("has 3"));
  CHECK_THROWS_WITH(transforms::Normalize({0.0}, {0.0}), Catch::Contains("std evaluated to zero"));
  CHECK_THROWS_AS(transforms::Normalize({0.0, 1.0}, {1.0}), std::invalid_argument);
  CHECK_THROWS_AS(normalize.apply_batch(hnn::zeros<float>({2})), std::invalid_argument);
}

TEST_CASE("Flatten and Compose", "[data][transforms]") {
  const auto batch = pixels(2);
  CHECK(transforms::Flatten()(batch.select(0, 1)).shape() == hnn::Shape{12});
  const auto flat = transforms::Flatten().apply_batch(batch);
  CHECK(flat.shape() == hnn::Shape{2, 12});
  CHECK(flat.to_vector() == batch.to_vector());

  const transforms::Compose compose(transforms::ScaleToUnit(10),
                                    transforms::Normalize({0.5, 0.5}, {0.5, 0.5}), transforms::Flatten());
  const auto composed = compose.apply_batch(batch);
  const auto by_hand =
      transforms::Flatten().apply_batch(transforms::Normalize({0.5, 0.5}, {0.5, 0.5})
                                            .apply_batch(transforms::ScaleToUnit(10).apply_batch(batch)));
  CHECK(composed.shape() == hnn::Shape{2, 12});
  CHECK(composed.to_vector() == by_hand.to_vector());
  CHECK(compose(batch.select(0, 0)).shape() == hnn::Shape{12});
}

TEST_CASE("MapDataset applies a transform to samples and to loader batches", "[data][transforms]") {
  std::vector<int64_t> targets{0, 1, 2, 3, 4};
  hnn::data::TensorDataset dataset(pixels(5), hnn::tensor<int64_t>(targets, {5}));
  const transforms::Compose pipeline{transforms::ScaleToUnit(), transforms::Flatten()};
  hnn::data::MapDataset mapped(dataset, pipeline);
  REQUIRE(mapped.size() == 5);
  const auto sample = mapped.get(2);
  CHECK(sample.data.shape() == hnn::Shape{12});
  CHECK(sample.target.item() == 2);
  CHECK(sample.data.to_vector() == pipeline(dataset.get(2).data).to_vector());

  hnn::data::DataLoader loader(mapped, hnn::data::DataLoaderOptions().batch_size(2));
  int64_t next = 0;
  for (const auto& batch : loader) {
    REQUIRE(batch.data.dim() == 2);
    REQUIRE(batch.data.size(1) == 12);
    for (int64_t b = 0; b < batch.data.size(0); ++b, ++next)
      CHECK(batch.data.select(0, b).to_vector() == mapped.get(next).data.to_vector());
  }
  CHECK(next == 5);
  CHECK_THROWS_AS(mapped.get(5), std::invalid_argument);
}
