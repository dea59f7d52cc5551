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
/// Temporary files are named ".<name>.tmp-<pid>-XXXXXX" (plus suffixes for a save's scratch
/// files), the writer's pid inside.
void write_atomically(const std::string& path,
                      const std::function<void(const std::string& tmp_path)>& write);

/// Removes the temporaries that interrupted saves of `path` left in its directory: names with
/// write_atomically's prefix for that file whose writer process no longer exists (a save under way
/// in a live process keeps its files). Errors are ignored: this is housekeeping.
void remove_stale_temporaries(const std::string& path);

}  // namespace lamina::io
