// SPDX-License-Identifier: Apache-2.0
// MNIST and Fashion-MNIST: the same four IDX files, found in a directory chosen by argument,
// environment variable or a default path.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>

#include "lamina/datasets/datasets.hpp"
#include "lamina/errors.hpp"

namespace lamina::datasets {
namespace {

namespace fs = std::filesystem;

struct Source {
  const char* dataset;      // "Fashion-MNIST"
  const char* env_var;      // overrides the default directory
  const char* default_dir;
  const char* how_to_get;   // appended to "file not found" errors
};

std::string choose_directory(const Source& source, const std::string& directory) {
  if (!directory.empty()) return directory;
  const char* env = std::getenv(source.env_var);
  if (env != nullptr && *env != '\0') return env;
  return source.default_dir;
}

/// The .gz file, or the uncompressed one when only that is there.
std::string find_file(const Source& source, const fs::path& dir, const std::string& name) {
  const fs::path gz = dir / (name + ".gz");
  std::error_code ec;
  if (fs::exists(gz, ec)) return gz.string();
  if (fs::exists(dir / name, ec)) return (dir / name).string();
  throw FileFormatError(std::string(source.dataset) + ": '" + gz.string() + "' not found" +
                        (fs::is_directory(dir, ec) ? "" : " (no directory '" + dir.string() + "')") +
                        "; " + source.how_to_get + ", set " + source.env_var +
                        ", or pass the directory holding the four IDX files to load_data()");
}

Split load_split(const Source& source, const fs::path& dir, const std::string& prefix) {
  const std::string images_path = find_file(source, dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_file(source, dir, prefix + "-labels-idx1-ubyte");
  Split split{read_idx(images_path), read_idx(labels_path)};

  if (split.x.dtype() != DType::uint8 || split.x.ndim() != 3)
    throw FileFormatError(std::string(source.dataset) + ": '" + images_path +
                          "' should hold uint8 images (N, rows, cols), found " +
                          dtype_name(split.x.dtype()) + " " + split.x.shape().str());
  if (split.y.dtype() != DType::uint8 || split.y.ndim() != 1)
    throw FileFormatError(std::string(source.dataset) + ": '" + labels_path +
                          "' should hold uint8 labels (N,), found " +
                          dtype_name(split.y.dtype()) + " " + split.y.shape().str());
  if (split.x.dim(0) != split.y.dim(0))
    throw FileFormatError(std::string(source.dataset) + ": '" + images_path + "' holds " +
                          std::to_string(split.x.dim(0)) + " images but '" + labels_path +
                          "' holds " + std::to_string(split.y.dim(0)) + " labels");
  return split;
}

std::pair<Split, Split> load(const Source& source, const std::string& directory) {
  const fs::path dir = choose_directory(source, directory);
  Split train = load_split(source, dir, "train");
  Split test = load_split(source, dir, "t10k");
  return {std::move(train), std::move(test)};
}

}  // namespace

namespace fashion_mnist {
std::pair<Split, Split> load_data(const std::string& directory) {
  static const Source source{
      "Fashion-MNIST", "LAMINA_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist",
      "install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"};
  return load(source, directory);
}
}  // namespace fashion_mnist

namespace mnist {
std::pair<Split, Split> load_data(const std::string& directory) {
  static const Source source{
      "MNIST", "LAMINA_MNIST_DIR", "/usr/share/datasets/mnist",
      "Debian has no MNIST package: download train-images-idx3-ubyte.gz, "
      "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz from "
      "the MNIST site (http://yann.lecun.com/exdb/mnist/) into /usr/share/datasets/mnist"};
  return load(source, directory);
}
}  // namespace mnist

}  // namespace lamina::datasets
