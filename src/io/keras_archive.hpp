// SPDX-License-Identifier: Apache-2.0
// src/io/keras_archive.hpp — Keras 3's native `.keras` files: a zip of metadata.json,
// config.json and model.weights.h5 (../shared/KERAS_FORMATS.md (b)).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lamina/model.hpp"

namespace lamina::io {

/// Writes `model` as Keras 3 does: entries metadata.json ({"keras_version", "date_saved"}),
/// config.json (Model::to_json's object, plus "compile_config" when compiled) and
/// model.weights.h5 (Keras 3's weights layout), stored uncompressed. Atomic: an error or a crash
/// leaves any previous file at `path` untouched. Throws FileFormatError naming `path`.
void save_keras_archive(const Model& model, const std::string& path);

/// Reads a `.keras` file written by Keras 3 or lamina: rebuilds the model from config.json,
/// loads model.weights.h5 into it and, with `compile`, compiles it from compile_config where the
/// file has one (optimizer state included). The archive is untrusted: an entry named with ".." or
/// an absolute path, more than the size limits (4 GiB in all, 64 MiB for the JSON entries) or a
/// suspicious compression ratio, a truncated or corrupt zip, a missing entry, or an unknown layer
/// class each give a FileFormatError naming the file and the problem.
Model load_keras_archive(const std::string& path, bool compile);

/// The architecture of a `.keras` file alone (config.json; weights initialised, not loaded),
/// with the same checks as load_keras_archive.
Model load_keras_archive_config(const std::string& path);
/// One JSON entry of a `.keras` file ("config.json", "metadata.json"), read with the same checks.
nlohmann::json read_keras_archive_json(const std::string& path, const std::string& entry);

}  // namespace lamina::io
