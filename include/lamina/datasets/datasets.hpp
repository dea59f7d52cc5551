// SPDX-License-Identifier: Apache-2.0
// lamina/datasets/datasets.hpp — loaders for the bundled image datasets (IDX files: MNIST and
// Fashion-MNIST), returning the same uint8 arrays keras.datasets returns.
#pragma once

#include <string>
#include <utility>

#include "lamina/tensor.hpp"

namespace lamina::datasets {

/// One half of a dataset, as Keras returns it: images x uint8 (N, 28, 28), labels y uint8 (N).
struct Split {
  Tensor x{};
  Tensor y{};
};

/// Reads an IDX file (the MNIST family's format), gzip-compressed (detected by its magic bytes
/// 1f 8b, whatever the file is called) or raw, into a tensor of the stored shape. The element type
/// follows the IDX type code: 0x08 unsigned byte -> uint8; 0x09 signed byte, 0x0B short and 0x0C
/// int -> int32; 0x0D float -> float32; 0x0E double -> float64 (IDX data is big-endian; the tensor
/// holds native values).
/// Throws FileFormatError naming the file and the problem: missing or unreadable file, bad magic
/// number, unknown type code, corrupt gzip stream, or too little data
/// ("expected 47040000 bytes of data, found 1000").
Tensor read_idx(const std::string& path);

namespace fashion_mnist {
/// Fashion-MNIST as keras.datasets.fashion_mnist.load_data(): {(x_train, y_train), (x_test,
/// y_test)} with 60000 and 10000 28x28 uint8 images and uint8 labels 0..9.
/// The directory holds train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
/// t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (or the same names without .gz). It is
/// `directory` when given, else $LAMINA_FASHION_MNIST_DIR when set, else
/// /usr/share/datasets/fashion-mnist (where Debian's package dataset-fashion-mnist puts them).
/// Throws FileFormatError naming the missing file and how to get it, or when a file is corrupt or
/// images and labels disagree in count.
std::pair<Split, Split> load_data(const std::string& directory = "");
}  // namespace fashion_mnist

namespace mnist {
/// MNIST digits as keras.datasets.mnist.load_data(), from the same four IDX file names as
/// Fashion-MNIST. The directory is `directory` when given, else $LAMINA_MNIST_DIR when set, else
/// /usr/share/datasets/mnist. Debian packages no MNIST: download the four files from the MNIST
/// site into that directory. Throws FileFormatError as fashion_mnist::load_data does.
std::pair<Split, Split> load_data(const std::string& directory = "");
}  // namespace mnist

}  // namespace lamina::datasets
