// SPDX-License-Identifier: Apache-2.0
// lamina/npy.hpp — NumPy's .npy files (numpy.save / numpy.load), for inputs and predictions.
#pragma once

#include <string>

#include "lamina/tensor.hpp"

namespace lamina::io {

/// Reads a .npy file (format versions 1.0, 2.0 and 3.0) into a new CPU tensor of the file's
/// shape and dtype: float32, float64, int32, int64 or uint8; NumPy's bool arrives as uint8 0/1.
/// Big-endian data is byte-swapped and Fortran-order data transposed into lamina's row-major
/// layout; a 0-d array gives a 0-d tensor, a shape with a zero dimension an empty tensor.
/// The file is treated as untrusted: its header is parsed strictly and the data must be exactly
/// the size the header declares, checked against the file's size before anything is allocated.
/// Throws FileFormatError naming `path` and the cause (missing file, not .npy, unsupported dtype,
/// truncated or oversized data, ...).
Tensor load_npy(const std::string& path);

/// Writes `tensor` to `path` as .npy version 1.0 in C order, little-endian, with the header
/// padded to a multiple of 64 bytes as numpy.save does, so numpy.load reads it back. The write is
/// atomic: an error leaves a previous file at `path` untouched. Throws ValueError for an
/// undefined tensor and FileFormatError naming `path` when the file cannot be written.
void save_npy(const std::string& path, const Tensor& tensor);

}  // namespace lamina::io
