// SPDX-License-Identifier: Apache-2.0
// Image augmentation ops: each output is checked against the definition (a mirror, a window of
// the padded image, a constant shift, a scaled deviation from the channel mean), computed here.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include <lamina/datasets/dataset.hpp>
#include <lamina/datasets/image_ops.hpp>
#include <lamina/errors.hpp>
#include <lamina/ops.hpp>

using namespace lamina;

namespace {

// Pixel (y, x, c) of an (h, w, c) float image.
float px(const Tensor& t, std::int64_t y, std::int64_t x, std::int64_t c) {
  return t.data<float>()[(y * t.dim(1) + x) * t.dim(2) + c];
}

Tensor ramp(std::int64_t h, std::int64_t w, std::int64_t c) {
  return Tensor::arange(h * w * c, float32).reshape({h, w, c}) + 1.0;
}

}  // namespace

TEST_CASE("random_flip_left_right mirrors the width axis or leaves the image, about half the time each", "[data]") {
  set_seed(1);
  const Tensor img = ramp(3, 4, 2);
  int flipped = 0;
  for (int k = 0; k < 200; ++k) {
    Tensor out = image::random_flip_left_right(img);
    bool mirror = true, same = true;
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 4; ++x)
        for (int c = 0; c < 2; ++c) {
          mirror = mirror && px(out, y, x, c) == px(img, y, 3 - x, c);
          same = same && px(out, y, x, c) == px(img, y, x, c);
        }
    REQUIRE((mirror || same));
    flipped += mirror;
  }
  CHECK(flipped > 70);
  CHECK(flipped < 130);
}

TEST_CASE("random_flip_up_down mirrors the height axis, per image of a batch", "[data]") {
  set_seed(2);
  const Tensor batch = Tensor::arange(64 * 2 * 2, float32).reshape({64, 2, 2, 1});
  Tensor out = image::random_flip_up_down(batch);
  int flipped = 0;
  for (int i = 0; i < 64; ++i) {
    const float* a = batch.data<float>() + i * 4;
    const float* b = out.data<float>() + i * 4;
    const bool mirror = b[0] == a[2] && b[1] == a[3] && b[2] == a[0] && b[3] == a[1];
    const bool same = b[0] == a[0] && b[1] == a[1] && b[2] == a[2] && b[3] == a[3];
    REQUIRE((mirror || same));
    flipped += mirror;
  }
  CHECK(flipped > 10);
  CHECK(flipped < 54);
}

TEST_CASE("random_crop with padding is a window of the zero-padded image, at varying offsets", "[data]") {
  set_seed(3);
  const Tensor img = ramp(5, 5, 1);
  std::set<std::pair<int, int>> offsets;
  for (int k = 0; k < 100; ++k) {
    Tensor out = image::random_crop(img, 5, 5, {.padding = 2});
    REQUIRE(out.shape() == Shape{5, 5, 1});
    // Find the offset (top, left) in the 9x9 padded image whose window equals out.
    int found = 0;
    for (int top = 0; top <= 4; ++top)
      for (int left = 0; left <= 4; ++left) {
        bool match = true;
        for (int y = 0; y < 5 && match; ++y)
          for (int x = 0; x < 5 && match; ++x) {
            const int sy = top + y - 2, sx = left + x - 2;
            const float want = sy >= 0 && sy < 5 && sx >= 0 && sx < 5 ? px(img, sy, sx, 0) : 0.0f;
            match = px(out, y, x, 0) == want;
          }
        if (match) {
          ++found;
          offsets.insert({top, left});
        }
      }
    REQUIRE(found == 1);
  }
  CHECK(offsets.size() > 15);  // 25 possible offsets
  CHECK_THROWS_WITH(image::random_crop(img, 6, 5), Catch::Contains("(5, 5, 1)") && Catch::Contains("6x5"));
  // A smaller window without padding keeps uint8 pixels as they are.
  Tensor bytes = Tensor::arange(16, int64).reshape({4, 4}).astype(uint8);
  Tensor win = image::random_crop(bytes, 2, 3);
  REQUIRE(win.shape() == Shape{2, 3});
  REQUIRE(win.dtype() == uint8);
  CHECK(static_cast<int>(win.at(1)) == static_cast<int>(win.at(0)) + 1);
  CHECK(static_cast<int>(win.at(3)) == static_cast<int>(win.at(0)) + 4);
}

TEST_CASE("random_brightness shifts every pixel by one delta within max_delta", "[data]") {
  set_seed(4);
  const Tensor img = ramp(2, 3, 1) / 10.0;
  double lo = 1, hi = -1;
  for (int k = 0; k < 50; ++k) {
    Tensor out = image::random_brightness(img, 0.2);
    const double delta = out.at(0) - img.at(0);
    for (std::int64_t i = 0; i < img.numel(); ++i) CHECK(out.at(i) - img.at(i) == Approx(delta).margin(1e-6));
    CHECK(std::abs(delta) <= 0.2 + 1e-6);
    lo = std::min(lo, delta);
    hi = std::max(hi, delta);
  }
  CHECK(lo < -0.05);
  CHECK(hi > 0.05);
  CHECK_THROWS_AS(image::random_brightness(Tensor::zeros({2, 2}, uint8), 0.1), TypeError);
}

TEST_CASE("random_contrast scales each channel's deviation from its mean by one factor", "[data]") {
  set_seed(5);
  // Channel 0 holds 1..4, channel 1 holds 10, 20, 30, 40 (means 2.5 and 25).
  Tensor img = Tensor::from_vector<float>({1, 10, 2, 20, 3, 30, 4, 40}, {2, 2, 2});
  for (int k = 0; k < 20; ++k) {
    Tensor out = image::random_contrast(img, 0.5, 1.5);
    const double f = (px(out, 0, 0, 0) - 2.5) / (1 - 2.5);
    CHECK(f >= 0.5 - 1e-6);
    CHECK(f <= 1.5 + 1e-6);
    CHECK(px(out, 1, 1, 0) == Approx(2.5 + f * 1.5));
    CHECK(px(out, 0, 1, 1) == Approx(25 + f * (20 - 25)));
    CHECK(px(out, 1, 1, 1) == Approx(25 + f * 15));
  }
  CHECK_THROWS_AS(image::random_contrast(img, 1.5, 0.5), ValueError);
}

TEST_CASE("normalize subtracts the mean and divides by the std per channel", "[data]") {
  Tensor img = Tensor::from_vector<float>({1, 10, 3, 30}, {1, 2, 2});
  Tensor out = image::normalize(img, {1, 10}, {2, 5});
  CHECK(out.to_vector<float>() == std::vector<float>{0, 0, 1, 4});
  CHECK(image::normalize(img, {1}, {1}).to_vector<float>() == std::vector<float>{0, 9, 2, 29});
  CHECK_THROWS_WITH(image::normalize(img, {1, 2, 3}, {1}), Catch::Contains("1 or 2"));
  CHECK_THROWS_AS(image::normalize(img, {0}, {0}), ValueError);
}

TEST_CASE("image ops inside a map draw the same values whatever the global seed", "[data]") {
  const Tensor imgs = Tensor::arange(8 * 4 * 4, float32).reshape({8, 4, 4, 1});
  auto run = [&](std::uint64_t global) {
    set_seed(global);
    std::vector<float> all;
    auto ds = Dataset::from_tensor_slices(imgs).map(
        [](Tensor x) { return image::random_flip_left_right(image::random_crop(x, 4, 4, {.padding = 1})); },
        {.seed = 9});
    for (const Tensor& t : ds) {
      auto v = t.to_vector<float>();
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  };
  CHECK(run(1) == run(2));
}
