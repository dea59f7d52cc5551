// SPDX-License-Identifier: Apache-2.0
// .keras archives (libzip): metadata.json, config.json and model.weights.h5, read as untrusted
// input. The weights entry goes through a temporary file because the HDF5 reader and writer work
// on paths.
#include "io/keras_archive.hpp"

#include <zip.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/deferred_init.hpp"
#include "engine/json_limits.hpp"
#include "io/atomic_file.hpp"
#include "io/json_config.hpp"
#include "io/keras3_weights.hpp"
#include "io/legacy_h5.hpp"
#include "io/load_guard.hpp"
#include "lamina/errors.hpp"
#include "tensor/sizes.hpp"

namespace lamina::io {

namespace {

using json = nlohmann::json;

constexpr std::uint64_t kMaxTotalBytes = std::uint64_t{4} << 30;  // all entries, uncompressed
constexpr std::uint64_t kMaxJsonBytes = std::uint64_t{64} << 20;  // config.json, metadata.json
constexpr std::uint64_t kMaxEntries = 100'000;
// Deflate reaches ~1000:1 at best on real data; a larger claimed ratio on a big entry is a bomb.
constexpr std::uint64_t kMaxRatio = 1000;
constexpr std::uint64_t kRatioCheckedFrom = std::uint64_t{1} << 20;

const char* const kConfig = "config.json";
const char* const kMetadata = "metadata.json";
const char* const kWeights = "model.weights.h5";

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw FileFormatError(path + ": " + what);
}

std::string zip_message(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string message = zip_error_strerror(&error);
  zip_error_fini(&error);
  return message;
}

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
using Zip = std::unique_ptr<zip_t, ZipCloser>;

struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

// Removes a scratch file when it goes out of scope.
class ScratchFile {
 public:
  explicit ScratchFile(std::string path) : path_(std::move(path)) {}
  /// A fresh empty file in the temporary directory.
  static ScratchFile in_temp_dir(const std::string& suffix) {
    const auto dir = std::filesystem::temp_directory_path();
    std::string pattern = (dir / ("lamina-XXXXXX" + suffix)).string();
    const int fd = mkstemps(pattern.data(), static_cast<int>(suffix.size()));
    if (fd < 0) throw FileFormatError("cannot create a temporary file in " + dir.string());
    close(fd);
    return ScratchFile(pattern);
  }
  ~ScratchFile() {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  ScratchFile(ScratchFile&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An entry name that could escape the extraction directory: absolute, a drive, "..", backslashes.
bool unsafe_name(const std::string& name) {
  if (name.empty() || name[0] == '/' || name.find('\\') != std::string::npos ||
      (name.size() > 1 && name[1] == ':'))
    return true;
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t end = std::min(name.find('/', start), name.size());
    if (name.compare(start, end - start, "..") == 0 && end - start == 2) return true;
    start = end + 1;
  }
  return false;
}

// An opened, checked archive: every entry's name and sizes pass the limits before any is read.
class Archive {
 public:
  explicit Archive(const std::string& path) : path_(path) {
    if (!std::filesystem::is_regular_file(path)) fail(path, "no such file");
    int code = 0;
    zip_.reset(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
    // libzip reports two central-directory entries with one name as ZIP_ER_EXISTS.
    if (!zip_ && code == ZIP_ER_EXISTS) fail(path, "two entries of the archive share a name");
    if (!zip_) fail(path, "not a readable .keras (zip) archive: " + zip_message(code));
    const zip_int64_t n = zip_get_num_entries(zip_.get(), 0);
    if (n < 0 || static_cast<std::uint64_t>(n) > kMaxEntries)
      fail(path, "the archive claims " + std::to_string(n) + " entries");
    std::uint64_t total = 0;
    for (zip_int64_t i = 0; i < n; ++i) {
      zip_stat_t st;
      zip_stat_init(&st);
      if (zip_stat_index(zip_.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME) ||
          !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE))
        fail(path, "entry " + std::to_string(i) + " is unreadable: " + zip_strerror(zip_.get()));
      const std::string name = st.name;
      if (unsafe_name(name)) fail(path, "entry '" + name + "' has an unsafe path (absolute or with '..')");
      if (!entries_.emplace(name, static_cast<zip_uint64_t>(i)).second)
        fail(path, "two entries of the archive share a name ('" + name + "')");
      if (st.size > kMaxTotalBytes - total)
        fail(path, "the entries' uncompressed sizes exceed the " + std::to_string(kMaxTotalBytes >> 30) +
                       " GiB limit (at '" + name + "', " + std::to_string(st.size) + " bytes): a zip bomb?");
      total += st.size;
      if (st.size >= kRatioCheckedFrom && st.size / std::max<zip_uint64_t>(st.comp_size, 1) > kMaxRatio)
        fail(path, "entry '" + name + "' claims " + std::to_string(st.size) + " bytes from " +
                       std::to_string(st.comp_size) + " compressed: a zip bomb?");
      sizes_[name] = st.size;
    }
  }

  bool has(const std::string& name) const { return entries_.count(name) > 0; }
  /// The uncompressed size the archive declares for entry `name` (checked against the limits).
  std::uint64_t size_of(const std::string& name) const { return sizes_.at(name); }

  // Streams entry `name` to `sink` in chunks, never past its declared size (and CRC-checked by
  // libzip at the end).
  template <class Sink>
  void read(const std::string& name, std::uint64_t limit, Sink&& sink) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) fail(path_, "the archive has no '" + name + "' entry");
    const std::uint64_t declared = sizes_.at(name);
    if (declared > limit)
      fail(path_, "entry '" + name + "' is " + std::to_string(declared) + " bytes, over the " +
                      std::to_string(limit) + "-byte limit");
    std::unique_ptr<zip_file_t, ZipFileCloser> file(zip_fopen_index(zip_.get(), it->second, 0));
    if (!file) fail(path_, "cannot read entry '" + name + "': " + zip_strerror(zip_.get()));
    std::vector<char> buffer(1 << 16);
    std::uint64_t got = 0;
    while (true) {
      const zip_int64_t n = zip_fread(file.get(), buffer.data(), buffer.size());
      if (n < 0) fail(path_, "entry '" + name + "' is corrupt: " + zip_file_strerror(file.get()));
      if (n == 0) break;
      got += static_cast<std::uint64_t>(n);
      if (got > declared) fail(path_, "entry '" + name + "' inflates past its declared size: a zip bomb?");
      sink(buffer.data(), static_cast<std::size_t>(n));
    }
    if (got != declared)
      fail(path_, "entry '" + name + "' is truncated: " + std::to_string(got) + " of " +
                      std::to_string(declared) + " bytes");
  }

  json read_json(const std::string& name) const {
    std::string text;
    read(name, kMaxJsonBytes, [&](const char* data, std::size_t n) { text.append(data, n); });
    std::string error;
    json parsed = engine::parse_bounded_json(text, error);
    if (parsed.is_discarded()) fail(path_, "entry '" + name + "' is not a JSON object (" + error + ")");
    if (!parsed.is_object()) fail(path_, "entry '" + name + "' is not a JSON object");
    return parsed;
  }

  void extract(const std::string& name, const std::string& to) const {
    std::ofstream out(to, std::ios::binary | std::ios::trunc);
    if (!out) fail(path_, "cannot write the temporary file " + to);
    read(name, kMaxTotalBytes, [&](const char* data, std::size_t n) { out.write(data, static_cast<std::streamsize>(n)); });
    out.close();
    if (!out) fail(path_, "cannot write the temporary file " + to + " (disk full?)");
  }

 private:
  std::string path_;
  Zip zip_;
  std::map<std::string, zip_uint64_t> entries_;
  std::map<std::string, std::uint64_t> sizes_;
};

std::string date_saved() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d@%H:%M:%S", &local);
  return text;
}

void add_entry(zip_t* z, const char* name, zip_source_t* source, const std::string& path) {
  if (!source) fail(path, std::string("cannot add ") + name + ": " + zip_strerror(z));
  const zip_int64_t index = zip_file_add(z, name, source, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
  if (index < 0) {
    zip_source_free(source);
    fail(path, std::string("cannot add ") + name + ": " + zip_strerror(z));
  }
  // Keras stores its entries uncompressed.
  zip_set_file_compression(z, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
}

}  // namespace

void save_keras_archive(const Model& model, const std::string& path) {
  if (!model.defined()) throw ValueError("save('" + path + "'): the Model handle is empty");
  json config = serialize_model(model);
  const std::string config_text = config.dump();
  const std::string metadata_text = json{{"keras_version", kKerasVersion}, {"date_saved", date_saved()}}.dump();
  write_atomically(path, [&](const std::string& tmp) {
    // The weights go to a scratch file next to the target (same file system, same permissions).
    const ScratchFile weights(tmp + ".weights.h5");
    write_keras3_weights(model, weights.path(), path + ":" + kWeights);
    int code = 0;
    Zip z(zip_open(tmp.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code));
    if (!z) fail(path, "cannot create the archive: " + zip_message(code));
    add_entry(z.get(), kMetadata, zip_source_buffer(z.get(), metadata_text.data(), metadata_text.size(), 0), path);
    add_entry(z.get(), kConfig, zip_source_buffer(z.get(), config_text.data(), config_text.size(), 0), path);
    add_entry(z.get(), kWeights, zip_source_file(z.get(), weights.path().c_str(), 0, -1), path);
    zip_t* raw = z.release();
    if (zip_close(raw) != 0) {
      const std::string message = zip_strerror(raw);
      zip_discard(raw);
      fail(path, "cannot write the archive: " + message);
    }
  });
}

namespace {

// config.json's model, checked: the archive must also hold weights lamina can read.
Model model_of_archive(const Archive& archive, const std::string& path, json* config_out) {
  if (!archive.has(kConfig)) fail(path, "the archive has no 'config.json' entry: not a Keras 3 model file");
  if (!archive.has(kWeights))
    fail(path, archive.has("model.weights.npz")
                   ? "the weights are in model.weights.npz (weights_format=\"npz\"); lamina reads model.weights.h5"
                   : "the archive has no 'model.weights.h5' entry");
  std::string version;
  if (archive.has(kMetadata)) {
    const json metadata = archive.read_json(kMetadata);
    if (metadata.contains("keras_version") && metadata["keras_version"].is_string())
      version = metadata["keras_version"].get<std::string>();
  }
  json config = archive.read_json(kConfig);
  // The architecture's weights must fit in the weights entry (see weight_limit_for).
  const sizes::WeightBudget budget(weight_limit_for(archive.size_of(kWeights)));
  Model model = model_from_file_config(config, path + ": config.json", version);
  if (config_out) *config_out = std::move(config);
  return model;
}

}  // namespace

Model load_keras_archive(const std::string& path, bool compile) {
  Archive archive(path);
  json config;
  engine::DeferredInit deferred;  // the weights file overwrites the initializers' values
  Model model = model_of_archive(archive, path, &config);
  const json compile_config = compile ? config.value("compile_config", json()) : json();
  // Compiled first, the optimizer's state in the weights file is restored too. A compile_config
  // without an optimizer (Keras drops it when a legacy .h5 save came first in the same process)
  // compiles with Keras's default, rmsprop, after the weights: the file's state belongs to
  // another optimizer, and Keras too skips it then.
  const bool has_optimizer = compile_config.is_object() && compile_config.contains("optimizer") &&
                             !compile_config["optimizer"].is_null();
  if (has_optimizer) apply_compile_config(model, compile_config, path);
  const ScratchFile weights = ScratchFile::in_temp_dir(".weights.h5");
  archive.extract(kWeights, weights.path());
  read_keras3_weights(model, weights.path(), path + ":" + kWeights);
  deferred.finish();
  if (!has_optimizer && compile_config.is_object() && !compile_config.empty()) {
    std::cerr << "lamina: " << path << ": compile_config names no optimizer; compiled with rmsprop, "
              << "without the file's optimizer state\n";
    apply_compile_config(model, compile_config, path);
  }
  return model;
}

Model load_keras_archive_config(const std::string& path) {
  return model_of_archive(Archive(path), path, nullptr);
}

json read_keras_archive_json(const std::string& path, const std::string& entry) {
  return Archive(path).read_json(entry);
}

}  // namespace lamina::io
