// SPDX-License-Identifier: Apache-2.0
// src/io/model_files.cpp — Model::save / save_weights / load_weights and models::load_model:
// the format chosen by extension, every write atomic.
#include <string>

#include "engine/subclassed.hpp"
#include "io/atomic_file.hpp"
#include "io/keras3_weights.hpp"
#include "io/keras_archive.hpp"
#include "io/legacy_h5.hpp"
#include "io/load_guard.hpp"
#include "lamina/errors.hpp"
#include "lamina/models.hpp"

namespace lamina {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_keras3_weights(const std::string& path) { return ends_with(path, ".weights.h5"); }
bool is_keras_archive(const std::string& path) { return ends_with(path, ".keras"); }
bool is_legacy_h5(const std::string& path) { return ends_with(path, ".h5") || ends_with(path, ".hdf5"); }

}  // namespace

void Model::save(const std::string& path) const {
  if (is_keras_archive(path)) return io::save_keras_archive(*this, path);  // atomic itself
  if (is_keras3_weights(path))
    throw ValueError("Model::save('" + path + "'): a .weights.h5 file holds weights only; use "
                     "save_weights, or save to .keras / .h5");
  if (!is_legacy_h5(path))
    throw ValueError("Model::save('" + path + "'): unsupported extension; expected .keras, .h5 or .hdf5");
  if (dynamic_cast<const SubclassedImpl*>(&impl()))
    throw ValueError("Model::save('" + path + "'): the legacy .h5 format holds Sequential and Functional "
                     "models only (as Keras); save a subclassed model as .keras (registered with "
                     "register_model) or its weights with save_weights");
  io::write_atomically(path, [&](const std::string& tmp) { io::save_legacy_model(*this, tmp, path); });
}

void Model::save_weights(const std::string& path) const {
  if (is_keras3_weights(path)) {
    io::write_atomically(path, [&](const std::string& tmp) { io::write_keras3_weights(*this, tmp, path); });
  } else if (is_legacy_h5(path)) {
    io::write_atomically(path, [&](const std::string& tmp) { io::save_legacy_weights(*this, tmp, path); });
  } else {
    throw ValueError("Model::save_weights('" + path +
                     "'): unsupported extension; expected .weights.h5, .h5 or .hdf5");
  }
}

void Model::load_weights(const std::string& path, const LoadWeightsOptions& options) {
  io::guard_load(path, [&] {
    // By content: files written by Keras 2 tools are sometimes named .weights.h5 too.
    if (is_keras3_weights(path) && !io::has_legacy_layout(path)) {
      if (options.by_name)
        throw ValueError("Model::load_weights('" + path + "'): by_name applies to legacy .h5 files; "
                         ".weights.h5 files are matched by layer position and class");
      io::read_keras3_weights(*this, path, path, options.skip_mismatch);
    } else if (is_legacy_h5(path)) {
      io::load_legacy_weights(*this, path, options.by_name, options.skip_mismatch);
    } else {
      throw ValueError("Model::load_weights('" + path +
                       "'): unsupported extension; expected .weights.h5, .h5 or .hdf5");
    }
  });
}

namespace models {

Model load_model(const std::string& path, const LoadModelOptions& options) {
  io::remove_stale_temporaries(path);
  if (is_keras_archive(path)) return io::guard_load(path, [&] { return io::load_keras_archive(path, options.compile); });
  if (is_legacy_h5(path)) return io::guard_load(path, [&] { return io::load_legacy_model(path, options.compile); });
  // Keras's load_model refuses .json too: the file has no weights to load.
  if (ends_with(path, ".json"))
    throw ValueError("load_model('" + path + "'): a .json file holds the architecture only; rebuild "
                     "it with models::model_from_json, then load its weights with load_weights");
  throw ValueError("load_model('" + path + "'): unsupported extension; expected .keras, .h5 or .hdf5");
}

}  // namespace models
}  // namespace lamina
