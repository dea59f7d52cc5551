// SPDX-License-Identifier: Apache-2.0
// lamina/errors.hpp — the one exception family. Messages are written for a person: what was
// expected, what came, and where (layer, file).
#pragma once

#include <stdexcept>
#include <string>

namespace lamina {

/// Base of every error lamina throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Shapes that do not fit: at model-build time (naming the layer) or at op time.
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// An argument with a bad value: zero units, unknown activation name, empty dataset...
class ValueError : public Error {
 public:
  using Error::Error;
};

/// A tensor of the wrong dtype for an operation.
class TypeError : public Error {
 public:
  using Error::Error;
};

/// A file that cannot be read or written: missing, truncated, corrupt, or not what was expected.
class FileFormatError : public Error {
 public:
  using Error::Error;
};

/// Tensors on different devices given to one op, host access to device memory, or a device
/// that is not available in this build.
class DeviceError : public Error {
 public:
  using Error::Error;
};

/// A device could not supply the memory asked for; the message names the request and the
/// device's state.
class OutOfMemoryError : public Error {
 public:
  using Error::Error;
};

}  // namespace lamina
