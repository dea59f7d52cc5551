// SPDX-License-Identifier: Apache-2.0
// lamina/data_utils.hpp — Keras's data utilities (keras.utils): to_categorical, pad_sequences,
// timeseries_dataset_from_array, image_dataset_from_directory, text_dataset_from_directory.
//
// Each follows Keras's names, arguments and defaults. Where Keras takes None, lamina takes 0 (or
// an empty string / list); where Keras shuffles, the file order of a directory (and so the
// membership of a validation split) is Keras's exactly: the same seed gives the same files in
// the same order, since the index shuffle reproduces numpy's RandomState(seed).shuffle. What
// Keras then shuffles with tf.data (its shuffle buffer of 8 batches) draws from lamina's own
// generator: the same elements per epoch, in another order.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lamina/datasets/dataset.hpp"
#include "lamina/tensor.hpp"

namespace lamina::utils {

/// One-hot rows of class indices (keras.utils.to_categorical): y of shape S (a trailing axis of
/// 1 is dropped, as Keras does) gives S + (num_classes,). num_classes 0: max(y) + 1. Keras
/// returns float64 from NumPy input; lamina's default is float32 (same values). Throws
/// ValueError for a negative index or one >= num_classes.
Tensor to_categorical(const Tensor& y, std::int64_t num_classes = 0, DType dtype = float32);

struct PadSequencesOptions {
  std::int64_t maxlen = 0;        ///< 0 (Keras's None): the longest sequence's length
  DType dtype = int32;            ///< values are converted as NumPy does (floats truncate to ints)
  std::string padding = "pre";    ///< "pre" or "post": where the `value`s go
  std::string truncating = "pre"; ///< "pre" or "post": which end of a longer sequence is cut
  double value = 0.0;
};
/// (len(sequences), maxlen) as keras.utils.pad_sequences. Throws ValueError for a padding or
/// truncating other than "pre"/"post".
Tensor pad_sequences(const std::vector<std::vector<double>>& sequences, const PadSequencesOptions& options = {});
/// Integer sequences (token ids).
Tensor pad_sequences(const std::vector<std::vector<std::int64_t>>& sequences, const PadSequencesOptions& options = {});

struct TimeseriesOptions {
  std::int64_t sequence_stride = 1;  ///< start of window i+1 is sequence_stride after window i's
  std::int64_t sampling_rate = 1;    ///< steps between the rows of a window
  std::int64_t batch_size = 128;     ///< 0 (Keras's None): unbatched windows
  bool shuffle = false;              ///< windows in random order (reshuffled each epoch)
  std::optional<std::uint64_t> seed{};
  std::optional<std::int64_t> start_index{};  ///< first row used (none: 0)
  std::optional<std::int64_t> end_index{};    ///< rows before it are used (none: all)
};
/// keras.utils.timeseries_dataset_from_array: windows data[s : s + sequence_length*rate : rate]
/// of `data` (rows along axis 0) as (batch, sequence_length, ...) batches of its dtype, with
/// targets[s] when `targets` is defined (elements (x, y)), else elements (x). With shuffle the
/// windows' order is lamina's own. Throws ValueError for the argument checks Keras makes.
Dataset timeseries_dataset_from_array(const Tensor& data, const Tensor& targets, std::int64_t sequence_length,
                                      const TimeseriesOptions& options = {});

/// A dataset read from a directory, with Keras's extra attributes.
class DirectoryDataset : public Dataset {
 public:
  DirectoryDataset(Dataset dataset, std::vector<std::string> class_names, std::vector<std::string> file_paths)
      : Dataset(std::move(dataset)), class_names(std::move(class_names)), file_paths(std::move(file_paths)) {}
  /// The label names, in label order (empty without labels).
  std::vector<std::string> class_names;
  /// directory/relative path of every file, in the order read (before the tf.data-like shuffle).
  std::vector<std::string> file_paths;
};

struct ImageDatasetOptions {
  /// "inferred" (from the sub-directory names) or "none" (images only).
  std::string labels = "inferred";
  /// "int" (int32 scalars), "categorical" (float32 one-hot), "binary" (float32 (1,), two
  /// classes only) or "none".
  std::string label_mode = "int";
  /// Sub-directories to use and their order (a subset of them); empty: all, sorted.
  std::vector<std::string> class_names{};
  std::string color_mode = "rgb";  ///< "rgb", "grayscale" or "rgba" (RGBA: PNG only, as TensorFlow)
  std::int64_t batch_size = 32;    ///< 0 (Keras's None): unbatched
  std::array<std::int64_t, 2> image_size{256, 256};  ///< (height, width)
  bool shuffle = true;
  std::optional<std::uint64_t> seed{};  ///< none: one drawn from lamina's global generator
  double validation_split = 0.0;        ///< fraction of the files held out (the last ones)
  std::string subset{};                 ///< "training" or "validation" with validation_split
  std::string interpolation = "bilinear";  ///< "bilinear" or "nearest" (tf.image.resize, no antialias)
  bool follow_links = false;
  bool crop_to_aspect_ratio = false;  ///< centre crop to the target's aspect ratio before resizing
  bool verbose = true;                ///< print Keras's "Found N files belonging to C classes."
};
/// keras.utils.image_dataset_from_directory for PNG and JPEG files (.png, .jpg, .jpeg in any
/// case; .bmp and .gif are refused with a FileFormatError naming the file): elements (image,
/// label) or (image), images float32 (height, width, channels) with values 0..255, batched.
/// Decoding is TensorFlow's: libpng with its transformations, libjpeg with the fast integer
/// IDCT. Throws ValueError for Keras's argument checks (validation_split with shuffle needs a
/// seed; subset "both" needs image_dataset_from_directory_both); FileFormatError naming a file
/// that cannot be decoded (when the pass reaches it).
DirectoryDataset image_dataset_from_directory(const std::string& directory, const ImageDatasetOptions& options = {});
/// subset="both": the (training, validation) pair Keras returns as a list.
std::pair<DirectoryDataset, DirectoryDataset> image_dataset_from_directory_both(const std::string& directory,
                                                                                ImageDatasetOptions options);

struct TextDatasetOptions {
  std::string labels = "inferred";  ///< "inferred" or "none"
  std::string label_mode = "int";   ///< "int", "categorical", "binary" or "none"
  std::vector<std::string> class_names{};
  std::int64_t batch_size = 32;     ///< 0: unbatched
  std::int64_t max_length = 0;      ///< keep at most this many bytes of each text (0: all)
  bool shuffle = true;
  std::optional<std::uint64_t> seed{};
  double validation_split = 0.0;
  std::string subset{};
  bool follow_links = false;
  bool verbose = true;
};
/// keras.utils.text_dataset_from_directory over the .txt files. lamina has no string dtype: a
/// text is a 1-D uint8 tensor of its bytes, and a batch a uint8 (batch, longest) tensor padded
/// with zero bytes; texts_of() turns either back into strings.
DirectoryDataset text_dataset_from_directory(const std::string& directory, const TextDatasetOptions& options = {});
std::pair<DirectoryDataset, DirectoryDataset> text_dataset_from_directory_both(const std::string& directory,
                                                                               TextDatasetOptions options);
/// The texts of a text_dataset_from_directory element: one per row of a batch (trailing zero
/// bytes dropped), or the one text of an unbatched element.
std::vector<std::string> texts_of(const Tensor& texts);

/// Decodes a PNG or JPEG file as image_dataset_from_directory does: uint8 (height, width,
/// channels), channels 1, 3 or 4 (0: the file's own). Throws FileFormatError naming the file.
Tensor decode_image_file(const std::string& path, int channels = 0);

}  // namespace lamina::utils
