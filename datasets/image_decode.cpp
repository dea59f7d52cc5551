// SPDX-License-Identifier: Apache-2.0
// PNG and JPEG decoding for image_dataset_from_directory, with TensorFlow's choices (its
// decode_image): libpng's transformations to the wanted channel count and 8 bits, libjpeg's
// fast integer IDCT with fancy upsampling, so that the decoded pixels are TensorFlow's.
#include <csetjmp>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>

#include "lamina/data_utils.hpp"
#include "lamina/errors.hpp"

namespace lamina::utils {

namespace {

[[noreturn]] void bad(const std::string& path, const std::string& why) {
  throw FileFormatError("image_dataset_from_directory: cannot decode '" + path + "': " + why);
}

struct PngReader {
  const std::vector<unsigned char>* bytes;
  std::size_t at = 0;
  std::string error;
};

void png_read(png_structp png, png_bytep out, png_size_t n) {
  auto* r = static_cast<PngReader*>(png_get_io_ptr(png));
  if (r->at + n > r->bytes->size()) png_error(png, "truncated file");
  std::copy_n(r->bytes->data() + r->at, n, out);
  r->at += n;
}

void png_fail(png_structp png, png_const_charp message) {
  static_cast<PngReader*>(png_get_error_ptr(png))->error = message;
  png_longjmp(png, 1);
}

void png_warn(png_structp, png_const_charp) {}

Tensor decode_png(const std::string& path, const std::vector<unsigned char>& bytes, int wanted) {
  PngReader reader{&bytes, 0, {}};
  // Set after setjmp: volatile, so that a longjmp cannot leave it stale in a register.
  volatile int channels = wanted;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, png_fail, png_warn);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    bad(path, "out of memory");
  }
  // Declared before setjmp: libpng longjmps here on any error.
  std::vector<unsigned char> pixels;
  std::vector<png_bytep> row_ptrs;
  volatile png_uint_32 width = 0, height = 0;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    bad(path, "PNG: " + reader.error);
  }
  png_set_read_fn(png, &reader, png_read);
  png_read_info(png, info);
  int bit_depth = 0, color_type = 0;
  png_uint_32 w = 0, h = 0;
  png_get_IHDR(png, info, &w, &h, &bit_depth, &color_type, nullptr, nullptr, nullptr);
  width = w;
  height = h;
  const bool has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
  if (channels == 0)
    channels = color_type == PNG_COLOR_TYPE_PALETTE ? (has_trns ? 4 : 3) : png_get_channels(png, info);
  // TensorFlow's sequence of transformations (tensorflow/core/lib/png): alpha added, converted
  // from tRNS or stripped; 16 bits cut to 8; palette and low-depth gray expanded; colour to
  // gray with the BT.601 weights, or gray to RGB.
  const bool has_alpha = (color_type & PNG_COLOR_MASK_ALPHA) != 0;
  if (channels % 2 == 0) {
    if (!has_alpha) {
      if (has_trns) png_set_tRNS_to_alpha(png);
      else png_set_add_alpha(png, (1u << bit_depth) - 1, PNG_FILLER_AFTER);
    }
  } else if (has_alpha || has_trns) {
    png_set_strip_alpha(png);
  }
  if (bit_depth > 8) png_set_strip_16(png);
  png_set_packing(png);
  const int passes = png_set_interlace_handling(png);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  const bool is_gray = (color_type & PNG_COLOR_MASK_COLOR) == 0;
  if (is_gray && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (channels < 3) {
    if (!is_gray) png_set_rgb_to_gray(png, 1, 0.299, 0.587);
  } else if (is_gray) {
    png_set_gray_to_rgb(png);
  }
  png_read_update_info(png, info);
  const std::size_t row_bytes = static_cast<std::size_t>(width) * static_cast<std::size_t>(channels);
  if (png_get_rowbytes(png, info) != row_bytes) {
    reader.error = "unsupported layout";
    png_longjmp(png, 1);
  }
  pixels.resize(row_bytes * height);
  for (int p = 0; p < passes; ++p)
    for (png_uint_32 y = 0; y < height; ++y) png_read_row(png, pixels.data() + y * row_bytes, nullptr);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return Tensor::from_data(pixels.data(), Shape({static_cast<std::int64_t>(height), static_cast<std::int64_t>(width), static_cast<std::int64_t>(channels)}), uint8);
}

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

void jpeg_quiet(j_common_ptr, int) {}

Tensor decode_jpeg(const std::string& path, const std::vector<unsigned char>& bytes, int wanted) {
  if (wanted == 2 || wanted == 4) bad(path, "JPEG does not support " + std::to_string(wanted) + " channels");
  volatile int channels = wanted;  // set after setjmp
  jpeg_decompress_struct cinfo{};
  JpegError err{};
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  err.mgr.emit_message = jpeg_quiet;
  std::vector<unsigned char> pixels;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    bad(path, std::string("JPEG: ") + err.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  if (channels == 0) channels = cinfo.num_components == 1 ? 1 : 3;
  cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  // TensorFlow's defaults: the fast integer IDCT and fancy upsampling.
  cinfo.dct_method = JDCT_IFAST;
  cinfo.do_fancy_upsampling = TRUE;
  jpeg_start_decompress(&cinfo);
  const std::size_t row_bytes = static_cast<std::size_t>(cinfo.output_width) * static_cast<std::size_t>(cinfo.output_components);
  pixels.resize(row_bytes * cinfo.output_height);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels.data() + cinfo.output_scanline * row_bytes;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  const Shape shape({static_cast<std::int64_t>(cinfo.output_height), static_cast<std::int64_t>(cinfo.output_width),
                     static_cast<std::int64_t>(cinfo.output_components)});
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return Tensor::from_data(pixels.data(), shape, uint8);
}

}  // namespace

Tensor decode_image_file(const std::string& path, int channels) {
  if (channels < 0 || channels > 4) throw ValueError("decode_image_file: channels must be 0, 1, 3 or 4, got " + std::to_string(channels));
  std::ifstream in(path, std::ios::binary);
  if (!in) bad(path, "cannot open the file");
  const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= 8 && std::equal(png_magic, png_magic + 8, bytes.begin())) return decode_png(path, bytes, channels);
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) return decode_jpeg(path, bytes, channels);
  if (bytes.size() >= 2 && bytes[0] == 'B' && bytes[1] == 'M') bad(path, "BMP is not supported (PNG and JPEG are)");
  if (bytes.size() >= 3 && bytes[0] == 'G' && bytes[1] == 'I' && bytes[2] == 'F') bad(path, "GIF is not supported (PNG and JPEG are)");
  bad(path, "not a PNG or JPEG file (" + std::to_string(bytes.size()) + " bytes)");
}

}  // namespace lamina::utils
