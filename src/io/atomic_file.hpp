// SPDX-License-Identifier: Apache-2.0
// src/io/atomic_file.hpp — every save goes through here: write a temporary file next to the
// target, flush it to disk, rename it over the target. A crash or error mid-save leaves the
// previous file as it was.
#pragma once

#include <functional>
#include <string>

namespace lamina::io {

/// Writes `path` atomically. `write(tmp_path)` must write the whole content to `tmp_path` (a fresh
/// empty file in the same directory, which it may truncate or recreate). Then the temporary is
/// fsynced and renamed over `path`, and the directory is fsynced. If `write` throws, or any step
/// fails, the temporary is removed, `path` is untouched, and the error propagates
/// (FileFormatError naming `path` for file-system failures such as an unwritable directory or
/// a full disk).
void write_atomically(const std::string& path,
                      const std::function<void(const std::string& tmp_path)>& write);

}  // namespace lamina::io
