// SPDX-License-Identifier: Apache-2.0
// keras.utils.image_dataset_from_directory and text_dataset_from_directory: Keras's file index
// (keras/src/utils/dataset_utils.py), its seeded shuffle and split, then a lamina pipeline.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "lamina/data_utils.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops/conv.hpp"
#include "ops/random.hpp"

namespace fs = std::filesystem;

namespace lamina::utils {

namespace {

// What both directory readers take.
struct IndexOptions {
  const char* fn;  // the caller's name, for messages
  std::string labels, label_mode;
  std::vector<std::string> class_names;
  std::int64_t batch_size;
  bool shuffle;
  std::optional<std::uint64_t> seed;
  double validation_split;
  std::string subset;
  bool follow_links, verbose;
};

struct Index {
  std::vector<std::string> paths;
  std::vector<std::int32_t> labels;  // empty without labels
  std::vector<std::string> class_names;
  std::uint64_t seed = 0;
};

std::string join(const std::string& a, const std::string& b) {
  if (a.empty() || a.back() == '/') return a + b;
  return a + "/" + b;
}

bool has_extension(const std::string& name, const std::vector<std::string>& formats) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::any_of(formats.begin(), formats.end(), [&](const std::string& f) {
    return lower.size() >= f.size() && lower.compare(lower.size() - f.size(), f.size(), f) == 0;
  });
}

// os.walk(directory) sorted by directory path, files sorted within each: the paths relative to
// `directory`'s parent (Keras's "class/sub/file.png").
std::vector<std::string> walk(const std::string& root, const std::string& prefix, bool follow_links,
                              const std::vector<std::string>& formats) {
  std::vector<std::pair<std::string, std::string>> dirs{{root, prefix}};  // (path, relative)
  std::vector<std::pair<std::string, std::vector<std::string>>> listing;
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dirs[i].first, ec)) {
      const std::string name = entry.path().filename().string();
      std::error_code e2;
      const bool is_link = entry.is_symlink(e2);
      if (entry.is_directory(e2)) {
        if (!is_link || follow_links) dirs.push_back({join(dirs[i].first, name), join(dirs[i].second, name)});
      } else {
        files.push_back(name);
      }
    }
    std::sort(files.begin(), files.end());
    listing.push_back({dirs[i].first, {}});
    for (const std::string& f : files)
      if (has_extension(f, formats)) listing.back().second.push_back(join(dirs[i].second, f));
  }
  std::sort(listing.begin(), listing.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& [dir, files] : listing) out.insert(out.end(), files.begin(), files.end());
  return out;
}

// numpy.random.RandomState(seed).shuffle: MT19937 seeded by init_genrand (std::mt19937's
// seeding), then Fisher-Yates from the end with numpy's masked rejection draw of [0, i].
template <class T>
void numpy_shuffle(std::vector<T>& v, std::uint32_t seed) {
  std::mt19937 mt(seed);
  for (std::size_t i = v.size(); i-- > 1;) {
    std::uint32_t mask = static_cast<std::uint32_t>(i);
    for (int s : {1, 2, 4, 8, 16}) mask |= mask >> s;
    std::uint32_t j;
    do j = static_cast<std::uint32_t>(mt()) & mask;
    while (j > i);
    std::swap(v[i], v[j]);
  }
}

void check_arguments(const IndexOptions& o) {
  const std::string fn = o.fn;
  if (o.labels != "inferred" && o.labels != "none")
    throw ValueError(fn + ": labels must be \"inferred\" or \"none\" (lists of labels are not supported), got \"" + o.labels + "\"");
  if (o.labels == "none" && !o.class_names.empty())
    throw ValueError(fn + ": When labels is \"none\" (no labels), class_names cannot be specified");
  if (o.label_mode != "int" && o.label_mode != "categorical" && o.label_mode != "binary" && o.label_mode != "none")
    throw ValueError(fn + ": label_mode must be one of \"int\", \"categorical\", \"binary\" or \"none\", got \"" + o.label_mode + "\"");
  if (o.batch_size < 0) throw ValueError(fn + ": batch_size must be >= 0, got " + std::to_string(o.batch_size));
  // dataset_utils.check_validation_split_arg
  if (o.validation_split != 0 && !(o.validation_split > 0 && o.validation_split < 1))
    throw ValueError(fn + ": validation_split must be between 0 and 1, received: " + std::to_string(o.validation_split));
  if ((o.validation_split != 0 || !o.subset.empty()) && !(o.validation_split != 0 && !o.subset.empty()))
    throw ValueError(fn + ": If subset is set, validation_split must be set, and inversely.");
  if (!o.subset.empty() && o.subset != "training" && o.subset != "validation" && o.subset != "both")
    throw ValueError(fn + ": subset must be either \"training\", \"validation\" or \"both\", received: " + o.subset);
  if (o.validation_split != 0 && o.shuffle && !o.seed)
    throw ValueError(fn + ": If using validation_split and shuffling the data, you must provide a seed, to make "
                          "sure that there is no overlap between the training and validation subset.");
}

Index index_directory(const std::string& directory, const IndexOptions& o, const std::vector<std::string>& formats) {
  const std::string fn = o.fn;
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) throw ValueError(fn + ": '" + directory + "' is not a directory");
  Index index;
  index.seed = o.seed ? *o.seed : random::global().next_below(1000000);
  // label_mode "none" drops the labels too (Keras sets labels=None): the index then starts at
  // the directory itself.
  const bool inferred = o.labels == "inferred" && o.label_mode != "none";
  std::vector<std::string> subdirs;
  if (inferred) {
    for (const auto& entry : fs::directory_iterator(directory, ec)) {
      const std::string name = entry.path().filename().string();
      std::error_code e2;
      if (entry.is_directory(e2) && name[0] != '.') subdirs.push_back(name);
    }
    std::sort(subdirs.begin(), subdirs.end());
    if (!o.class_names.empty()) {
      for (const std::string& c : o.class_names)
        if (std::find(subdirs.begin(), subdirs.end(), c) == subdirs.end()) {
          std::string have;
          for (const std::string& s : subdirs) have += (have.empty() ? "" : ", ") + s;
          throw ValueError(fn + ": The class_names passed did not match the names of the subdirectories of the "
                                "target directory. Expected: [" + have + "] (or a subset of it), but received: '" + c + "'");
        }
      subdirs = o.class_names;  // the order given
    }
  } else {
    subdirs = {""};
  }
  for (std::size_t c = 0; c < subdirs.size(); ++c) {
    const std::string dir = subdirs[c].empty() ? directory : join(directory, subdirs[c]);
    const std::string prefix = subdirs[c].empty() ? "" : subdirs[c];
    for (std::string& rel : walk(dir, prefix, o.follow_links, formats)) {
      index.paths.push_back(join(directory, rel));
      if (inferred) index.labels.push_back(static_cast<std::int32_t>(c));
    }
  }
  if (inferred) index.class_names = subdirs;
  if (o.verbose) {
    if (inferred) std::cout << "Found " << index.paths.size() << " files belonging to " << subdirs.size() << " classes.\n";
    else std::cout << "Found " << index.paths.size() << " files.\n";
  }
  if (o.shuffle) {
    // Keras shuffles the paths and the labels with two RandomStates of the same seed.
    numpy_shuffle(index.paths, static_cast<std::uint32_t>(index.seed));
    if (inferred) numpy_shuffle(index.labels, static_cast<std::uint32_t>(index.seed));
  }
  return index;
}

// get_training_or_validation_split: the last int(split * n) files are the validation set (with
// Python's slicing, a split that rounds to 0 files leaves the training set empty).
Index split_of(const Index& all, double validation_split, const std::string& subset, bool verbose) {
  if (validation_split == 0) return all;
  const auto n = static_cast<std::int64_t>(all.paths.size());
  const auto num_val = static_cast<std::int64_t>(validation_split * static_cast<double>(n));
  const std::int64_t from = subset == "training" ? 0 : (num_val == 0 ? 0 : n - num_val);
  const std::int64_t to = subset == "training" ? (num_val == 0 ? 0 : n - num_val) : n;
  if (verbose) {
    if (subset == "training") std::cout << "Using " << n - num_val << " files for training.\n";
    else std::cout << "Using " << num_val << " files for validation.\n";
  }
  Index out{{all.paths.begin() + from, all.paths.begin() + to}, {}, all.class_names, all.seed};
  if (!all.labels.empty()) out.labels.assign(all.labels.begin() + from, all.labels.begin() + to);
  return out;
}

// The labels as Keras's labels_to_dataset makes them, one row per file.
Tensor label_tensor(const Index& idx, const std::string& label_mode) {
  const auto n = static_cast<std::int64_t>(idx.labels.size());
  const auto classes = static_cast<std::int64_t>(idx.class_names.size());
  if (label_mode == "int") return Tensor::from_vector(idx.labels, Shape({n}));
  std::vector<float> values;
  if (label_mode == "binary") {
    for (std::int32_t l : idx.labels) values.push_back(static_cast<float>(l));
    return Tensor::from_vector(values, Shape({n, 1}));
  }
  values.assign(static_cast<std::size_t>(n * classes), 0.0f);
  for (std::int64_t i = 0; i < n; ++i) values[static_cast<std::size_t>(i * classes + idx.labels[static_cast<std::size_t>(i)])] = 1.0f;
  return Tensor::from_vector(values, Shape({n, classes}));
}

using Loader = std::function<Tensor(const std::string& path)>;

// paths_and_labels_to_dataset: (index, label) slices, shuffled through a buffer of 8 batches,
// each file loaded in a parallel map, batched, prefetched.
DirectoryDataset to_dataset(const Index& idx, const IndexOptions& o, bool shuffle, Loader load, bool text) {
  const auto n = static_cast<std::int64_t>(idx.paths.size());
  auto paths = std::make_shared<const std::vector<std::string>>(idx.paths);
  const bool labelled = o.label_mode != "none" && o.labels != "none";
  Element slices{Tensor::arange(n)};
  if (labelled) slices.push_back(label_tensor(idx, o.label_mode));
  Dataset ds = Dataset::from_tensor_slices(slices);
  if (shuffle) ds = ds.shuffle(o.batch_size > 0 ? o.batch_size * 8 : 1024, {.seed = idx.seed});
  Dataset loaded = ds.map([paths, load](const Element& e) {
    Element out{load((*paths)[static_cast<std::size_t>(e[0].item())])};
    if (e.size() > 1) out.push_back(e[1]);
    return out;
  }, {.num_parallel_calls = AUTOTUNE});
  if (o.batch_size > 0) loaded = text ? loaded.padded_batch(o.batch_size) : loaded.batch(o.batch_size);
  return DirectoryDataset(loaded.prefetch(AUTOTUNE), labelled ? idx.class_names : std::vector<std::string>{}, idx.paths);
}

std::pair<DirectoryDataset, DirectoryDataset> read_both(const std::string& directory, const IndexOptions& o,
                                                        const std::vector<std::string>& formats, const Loader& load,
                                                        bool text) {
  check_arguments(o);
  if (o.subset != "both") throw ValueError(std::string(o.fn) + "_both: subset must be \"both\", got \"" + o.subset + "\"");
  const Index all = index_directory(directory, o, formats);
  if (o.label_mode == "binary" && all.class_names.size() != 2)
    throw ValueError(std::string(o.fn) + ": When passing label_mode=\"binary\", there must be exactly 2 class_names, found " +
                     std::to_string(all.class_names.size()));
  const Index train = split_of(all, o.validation_split, "training", o.verbose);
  const Index val = split_of(all, o.validation_split, "validation", o.verbose);
  if (train.paths.empty()) throw ValueError(std::string(o.fn) + ": No training files found in directory " + directory);
  if (val.paths.empty()) throw ValueError(std::string(o.fn) + ": No validation files found in directory " + directory);
  return {to_dataset(train, o, o.shuffle, load, text), to_dataset(val, o, false, load, text)};
}

DirectoryDataset read_one(const std::string& directory, const IndexOptions& o, const std::vector<std::string>& formats,
                          const Loader& load, bool text) {
  check_arguments(o);
  if (o.subset == "both")
    throw ValueError(std::string(o.fn) + ": subset \"both\" returns two datasets: call " + o.fn + "_both");
  const Index all = index_directory(directory, o, formats);
  if (o.label_mode == "binary" && all.class_names.size() != 2)
    throw ValueError(std::string(o.fn) + ": When passing label_mode=\"binary\", there must be exactly 2 class_names, found " +
                     std::to_string(all.class_names.size()));
  const Index part = split_of(all, o.validation_split, o.subset, o.verbose);
  if (part.paths.empty()) throw ValueError(std::string(o.fn) + ": No files found in directory " + directory);
  return to_dataset(part, o, o.shuffle, load, text);
}

const std::vector<std::string> kImageFormats{".bmp", ".gif", ".jpeg", ".jpg", ".png"};
const std::vector<std::string> kTextFormats{".txt"};

IndexOptions image_index_options(const ImageDatasetOptions& o) {
  return {"image_dataset_from_directory", o.labels, o.label_mode, o.class_names, o.batch_size, o.shuffle, o.seed,
          o.validation_split, o.subset, o.follow_links, o.verbose};
}

Loader image_loader(const ImageDatasetOptions& o) {
  const char* fn = "image_dataset_from_directory";
  int channels = 0;
  if (o.color_mode == "rgb") channels = 3;
  else if (o.color_mode == "rgba") channels = 4;
  else if (o.color_mode == "grayscale") channels = 1;
  else throw ValueError(std::string(fn) + ": color_mode must be one of \"rgb\", \"rgba\", \"grayscale\", got \"" + o.color_mode + "\"");
  if (o.image_size[0] <= 0 || o.image_size[1] <= 0)
    throw ValueError(std::string(fn) + ": image_size must be two positive integers");
  if (o.interpolation != "bilinear" && o.interpolation != "nearest")
    throw ValueError(std::string(fn) + ": interpolation \"" + o.interpolation +
                     "\" is not supported (lamina resizes with \"bilinear\" or \"nearest\")");
  const std::int64_t th = o.image_size[0], tw = o.image_size[1];
  return [=](const std::string& path) {
    Tensor img = decode_image_file(path, channels).astype(float32);
    std::int64_t h = img.shape()[0], w = img.shape()[1];
    if (o.crop_to_aspect_ratio) {
      // keras.utils.smart_resize: the largest centred window of the target's aspect ratio.
      const std::int64_t ch = std::max<std::int64_t>(std::min(h, static_cast<std::int64_t>(static_cast<float>(w * th) / static_cast<float>(tw))), 1);
      const std::int64_t cw = std::max<std::int64_t>(std::min(w, static_cast<std::int64_t>(static_cast<float>(h * tw) / static_cast<float>(th))), 1);
      const auto top = static_cast<std::int64_t>(static_cast<float>(h - ch) / 2);
      const auto left = static_cast<std::int64_t>(static_cast<float>(w - cw) / 2);
      img = crop2d(img.reshape(Shape({1, h, w, channels})), top, h - ch - top, left, w - cw - left);
      h = ch;
      w = cw;
    }
    return image_resize(img.reshape(Shape({1, h, w, channels})), th, tw, o.interpolation).reshape(Shape({th, tw, channels}));
  };
}

IndexOptions text_index_options(const TextDatasetOptions& o) {
  return {"text_dataset_from_directory", o.labels, o.label_mode, o.class_names, o.batch_size, o.shuffle, o.seed,
          o.validation_split, o.subset, o.follow_links, o.verbose};
}

Loader text_loader(const TextDatasetOptions& o) {
  if (o.max_length < 0) throw ValueError("text_dataset_from_directory: max_length must be >= 0, got " + std::to_string(o.max_length));
  const std::int64_t max_length = o.max_length;
  return [max_length](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw FileFormatError("text_dataset_from_directory: cannot read '" + path + "'");
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // tf.strings.substr(text, 0, max_length): bytes, not characters.
    if (max_length > 0 && static_cast<std::int64_t>(bytes.size()) > max_length) bytes.resize(static_cast<std::size_t>(max_length));
    return Tensor::from_vector(bytes, Shape({static_cast<std::int64_t>(bytes.size())}));
  };
}

}  // namespace

DirectoryDataset image_dataset_from_directory(const std::string& directory, const ImageDatasetOptions& options) {
  const Loader load = image_loader(options);
  return read_one(directory, image_index_options(options), kImageFormats, load, false);
}

std::pair<DirectoryDataset, DirectoryDataset> image_dataset_from_directory_both(const std::string& directory,
                                                                                ImageDatasetOptions options) {
  if (options.subset.empty()) options.subset = "both";
  const Loader load = image_loader(options);
  return read_both(directory, image_index_options(options), kImageFormats, load, false);
}

DirectoryDataset text_dataset_from_directory(const std::string& directory, const TextDatasetOptions& options) {
  return read_one(directory, text_index_options(options), kTextFormats, text_loader(options), true);
}

std::pair<DirectoryDataset, DirectoryDataset> text_dataset_from_directory_both(const std::string& directory,
                                                                               TextDatasetOptions options) {
  if (options.subset.empty()) options.subset = "both";
  return read_both(directory, text_index_options(options), kTextFormats, text_loader(options), true);
}

std::vector<std::string> texts_of(const Tensor& texts) {
  const Tensor t = texts.to(Device::cpu()).astype(uint8);
  const auto* bytes = t.data<std::uint8_t>();
  if (t.ndim() == 1) return {std::string(bytes, bytes + t.numel())};
  if (t.ndim() != 2) throw ShapeError("texts_of: expected a text (1-D) or a batch of texts (2-D), got " + t.shape().str());
  std::vector<std::string> out;
  const std::int64_t width = t.shape()[1];
  for (std::int64_t r = 0; r < t.shape()[0]; ++r) {
    const std::uint8_t* row = bytes + r * width;
    std::int64_t len = width;
    while (len > 0 && row[len - 1] == 0) --len;
    out.emplace_back(row, row + len);
  }
  return out;
}

}  // namespace lamina::utils
