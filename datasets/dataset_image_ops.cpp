// SPDX-License-Identifier: Apache-2.0
// Image augmentation ops on channels-last images. Random draws come from data::random_bits(): the
// element's stream inside a map, lamina's global stream elsewhere.
#include "lamina/datasets/image_ops.hpp"

#include <cmath>
#include <cstring>

#include "dataset_node.hpp"
#include "lamina/errors.hpp"

namespace lamina::image {
namespace {

// (images, height, width, channels) of an image or a batch of them.
struct Layout {
  std::int64_t n, h, w, c;
};

Layout layout_of(const Tensor& t, const char* op) {
  switch (t.ndim()) {
    case 2: return {1, t.dim(0), t.dim(1), 1};
    case 3: return {1, t.dim(0), t.dim(1), t.dim(2)};
    case 4: return {t.dim(0), t.dim(1), t.dim(2), t.dim(3)};
    default:
      throw ShapeError(std::string("image::") + op + ": expected an image (height, width[, channels]) or a batch "
                       "(n, height, width, channels), got " + t.shape().str());
  }
}

void require_floating(const Tensor& t, const char* op) {
  if (!is_floating(t.dtype()))
    throw TypeError(std::string("image::") + op + ": expected a float32 or float64 image, got " +
                    dtype_name(t.dtype()) + " (convert with astype(float32) first)");
}

bool coin() { return (data::random_bits() >> 63) != 0; }

double uniform(double lo, double hi) { return lo + (hi - lo) * data::random_uniform01(); }

// Per image, a flip when the coin says so: rows reversed (vertical) or pixels within rows.
Tensor random_flip(const Tensor& image, bool vertical, const char* op) {
  const Layout L = layout_of(image, op);
  Tensor src = image.clone();
  Tensor out = src.clone();
  const std::size_t px = L.c * dtype_size(image.dtype()), row = L.w * px;
  const char* s = static_cast<const char*>(src.raw_data());
  char* d = static_cast<char*>(out.raw_data());
  for (std::int64_t i = 0; i < L.n; ++i) {
    if (!coin()) continue;
    const char* si = s + i * L.h * row;
    char* di = d + i * L.h * row;
    for (std::int64_t y = 0; y < L.h; ++y) {
      if (vertical) {
        std::memcpy(di + y * row, si + (L.h - 1 - y) * row, row);
        continue;
      }
      for (std::int64_t x = 0; x < L.w; ++x) std::memcpy(di + y * row + x * px, si + y * row + (L.w - 1 - x) * px, px);
    }
  }
  return out;
}

}  // namespace

Tensor random_flip_left_right(const Tensor& image) { return random_flip(image, false, "random_flip_left_right"); }
Tensor random_flip_up_down(const Tensor& image) { return random_flip(image, true, "random_flip_up_down"); }

Tensor random_crop(const Tensor& image, std::int64_t height, std::int64_t width, const RandomCropOptions& o) {
  const Layout L = layout_of(image, "random_crop");
  const std::int64_t p = o.padding, ph = L.h + 2 * p, pw = L.w + 2 * p;
  if (p < 0) throw ValueError("image::random_crop: padding must not be negative, got " + std::to_string(p));
  if (height <= 0 || width <= 0 || height > ph || width > pw)
    throw ShapeError("image::random_crop: a " + std::to_string(height) + "x" + std::to_string(width) +
                     " window does not fit in image " + image.shape().str() + " padded by " + std::to_string(p));
  Shape shape = image.shape();
  const int hx = image.ndim() == 4 ? 1 : 0;
  shape[hx] = height;
  shape[hx + 1] = width;
  Tensor src = image.clone();
  Tensor out = Tensor::full(shape, o.pad_value, image.dtype());
  const std::size_t px = L.c * dtype_size(image.dtype());
  const char* s = static_cast<const char*>(src.raw_data());
  char* d = static_cast<char*>(out.raw_data());
  for (std::int64_t i = 0; i < L.n; ++i) {
    const auto top = static_cast<std::int64_t>(data::random_below(static_cast<std::uint64_t>(ph - height + 1)));
    const auto left = static_cast<std::int64_t>(data::random_below(static_cast<std::uint64_t>(pw - width + 1)));
    // Output pixel (y, x) is padded pixel (top + y, left + x), i.e. source (top + y - p, left + x - p).
    const std::int64_t x0 = std::max<std::int64_t>(0, p - left), x1 = std::min<std::int64_t>(width, L.w + p - left);
    for (std::int64_t y = 0; y < height; ++y) {
      const std::int64_t sy = top + y - p;
      if (sy < 0 || sy >= L.h || x0 >= x1) continue;
      std::memcpy(d + ((i * height + y) * width + x0) * px, s + ((i * L.h + sy) * L.w + left + x0 - p) * px,
                  (x1 - x0) * px);
    }
  }
  return out;
}

namespace {
// f(pointer to one image's values, values per image, channels) for every image of a float tensor.
template <class F>
Tensor per_image(const Tensor& image, const char* op, F f) {
  const Layout L = layout_of(image, op);
  require_floating(image, op);
  Tensor out = image.clone();
  const std::int64_t per = L.h * L.w * L.c;
  if (out.dtype() == float64) {
    for (std::int64_t i = 0; i < L.n; ++i) f(out.data<double>() + i * per, per, L.c);
  } else {
    for (std::int64_t i = 0; i < L.n; ++i) f(out.data<float>() + i * per, per, L.c);
  }
  return out;
}
}  // namespace

Tensor random_brightness(const Tensor& image, double max_delta) {
  if (!(max_delta >= 0)) throw ValueError("image::random_brightness: max_delta must be >= 0, got " + std::to_string(max_delta));
  return per_image(image, "random_brightness", [&](auto* v, std::int64_t n, std::int64_t) {
    const double delta = uniform(-max_delta, max_delta);
    for (std::int64_t k = 0; k < n; ++k) v[k] = static_cast<std::remove_reference_t<decltype(*v)>>(v[k] + delta);
  });
}

Tensor random_contrast(const Tensor& image, double lower, double upper) {
  if (!(lower >= 0 && lower <= upper))
    throw ValueError("image::random_contrast: expected 0 <= lower <= upper, got lower " + std::to_string(lower) +
                     ", upper " + std::to_string(upper));
  return per_image(image, "random_contrast", [&](auto* v, std::int64_t n, std::int64_t c) {
    const double factor = uniform(lower, upper);
    const std::int64_t pixels = n / c;
    for (std::int64_t ch = 0; ch < c; ++ch) {
      double mean = 0;
      for (std::int64_t k = ch; k < n; k += c) mean += v[k];
      mean /= static_cast<double>(pixels);
      for (std::int64_t k = ch; k < n; k += c)
        v[k] = static_cast<std::remove_reference_t<decltype(*v)>>((v[k] - mean) * factor + mean);
    }
  });
}

Tensor normalize(const Tensor& image, const std::vector<double>& mean, const std::vector<double>& std) {
  const Layout L = layout_of(image, "normalize");
  auto fits = [&](std::size_t k) { return k == 1 || static_cast<std::int64_t>(k) == L.c; };
  if (!fits(mean.size()) || !fits(std.size()))
    throw ValueError("image::normalize: expected 1 or " + std::to_string(L.c) + " values of mean and std, got " +
                     std::to_string(mean.size()) + " and " + std::to_string(std.size()));
  for (double s : std)
    if (!(s > 0)) throw ValueError("image::normalize: std must be positive, got " + std::to_string(s));
  return per_image(image, "normalize", [&](auto* v, std::int64_t n, std::int64_t c) {
    for (std::int64_t k = 0; k < n; ++k) {
      const std::size_t ch = static_cast<std::size_t>(k % c);
      const double m = mean[mean.size() == 1 ? 0 : ch], s = std[std.size() == 1 ? 0 : ch];
      v[k] = static_cast<std::remove_reference_t<decltype(*v)>>((v[k] - m) / s);
    }
  });
}

}  // namespace lamina::image
