// SPDX-License-Identifier: Apache-2.0
// BackupAndRestore's file format: magic, JSON header, raw tensor bytes; validated before use.
#include "common/json_int.hpp"
#include "training_backup.hpp"

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/json_limits.hpp"
#include "io/atomic_file.hpp"
#include "lamina/errors.hpp"

namespace lamina::callbacks::detail {
namespace {

constexpr char kMagic[] = "LAMINA-BACKUP-1\n";
constexpr std::size_t kMagicSize = sizeof kMagic - 1;
constexpr std::uint64_t kMaxHeader = 64 << 20;

std::uint64_t numel_of(const Shape& shape) {
  std::uint64_t n = 1;
  for (std::int64_t d : shape) n *= static_cast<std::uint64_t>(d);
  return n;
}

std::size_t item_size(DType dtype) {
  switch (dtype) {
    case DType::float64:
    case DType::int64: return 8;
    case DType::float32:
    case DType::int32: return 4;
    case DType::uint8: return 1;
    case DType::float16:
    case DType::bfloat16: return 2;
  }
  return 0;
}

}  // namespace

void write_backup(const std::string& path, const TrainingBackup& b) {
  nlohmann::json header = {
      {"epoch", b.epoch},
      {"step", b.step},
      {"shuffle_key", b.shuffle_key},
      {"random_seed", b.random_seed},
      {"random_counter", b.random_counter},
      {"learning_rate", b.learning_rate},
      {"fixed_learning_rate", b.fixed_learning_rate},
      {"tensors", nlohmann::json::array()},
  };
  std::vector<const Tensor*> tensors;
  std::uint64_t offset = 0;
  auto add = [&](const char* group, const std::string& name, const Tensor& t) {
    header["tensors"].push_back({{"group", group},
                                 {"name", name},
                                 {"dtype", dtype_name(t.dtype())},
                                 {"shape", std::vector<std::int64_t>(t.shape())},
                                 {"offset", offset},
                                 {"nbytes", t.nbytes()}});
    offset += t.nbytes();
    tensors.push_back(&t);
  };
  for (std::size_t i = 0; i < b.weights.size(); ++i) add("weights", std::to_string(i), b.weights[i]);
  for (const auto& [name, t] : b.optimizer_variables) add("optimizer", name, t);

  const std::string text = header.dump();
  io::write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    const std::uint64_t size = text.size();
    unsigned char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(size >> (8 * i));
    out.write(kMagic, kMagicSize);
    out.write(reinterpret_cast<const char*>(length), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const Tensor* t : tensors)
      out.write(static_cast<const char*>(t->raw_data()), static_cast<std::streamsize>(t->nbytes()));
    if (!out.flush()) throw FileFormatError("BackupAndRestore: cannot write '" + tmp + "'");
  });
}

TrainingBackup read_backup(const std::string& path) {
  auto fail = [&](const std::string& what) -> FileFormatError {
    return FileFormatError("BackupAndRestore: backup '" + path + "' is damaged: " + what);
  };
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw FileFormatError("BackupAndRestore: cannot open backup '" + path + "'");
  const std::uint64_t file_size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  char magic[kMagicSize];
  unsigned char length[8];
  if (file_size < kMagicSize + 8 || !in.read(magic, kMagicSize) ||
      std::memcmp(magic, kMagic, kMagicSize) != 0)
    throw fail("not a lamina training backup (bad magic)");
  in.read(reinterpret_cast<char*>(length), 8);
  std::uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<std::uint64_t>(length[i]) << (8 * i);
  const std::uint64_t data_start = kMagicSize + 8 + header_size;
  if (header_size > kMaxHeader || data_start > file_size)
    throw fail("header of " + std::to_string(header_size) + " bytes in a file of " +
               std::to_string(file_size));
  std::string text(header_size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_size));

  TrainingBackup b;
  try {
    std::string error;
    const nlohmann::json h = engine::parse_bounded_json(text, error);
    if (h.is_discarded()) throw fail("the header: " + error);
    b.epoch = json_int<int>(h.at("epoch"), "epoch");
    b.step = json_int<std::int64_t>(h.at("step"), "step");
    b.shuffle_key = json_int<std::uint64_t>(h.at("shuffle_key"), "shuffle_key");
    b.random_seed = json_int<std::uint64_t>(h.at("random_seed"), "random_seed");
    b.random_counter = json_int<std::uint64_t>(h.at("random_counter"), "random_counter");
    b.learning_rate = h.at("learning_rate").get<double>();
    b.fixed_learning_rate = h.at("fixed_learning_rate").get<bool>();
    if (b.epoch < 0 || b.step < 0) throw fail("negative epoch or step");
    for (const auto& t : h.at("tensors")) {
      const std::string group = t.at("group").get<std::string>();
      const DType dtype = dtype_from_name(t.at("dtype").get<std::string>());
      const Shape shape(json_ints<std::int64_t>(t.at("shape"), "shape"));
      const auto offset = json_int<std::uint64_t>(t.at("offset"), "offset");
      const auto nbytes = json_int<std::uint64_t>(t.at("nbytes"), "nbytes");
      for (std::int64_t d : shape)
        if (d < 0 || d > (std::int64_t{1} << 40)) throw fail("absurd shape " + shape.str());
      if (numel_of(shape) * item_size(dtype) != nbytes || offset > file_size - data_start ||
          nbytes > file_size - data_start - offset)
        throw fail("tensor '" + t.at("name").get<std::string>() + "' of shape " + shape.str() +
                   " does not fit the file (" + std::to_string(file_size) + " bytes)");
      Tensor value = Tensor::empty(shape, dtype);
      in.seekg(static_cast<std::streamoff>(data_start + offset));
      if (!in.read(static_cast<char*>(value.raw_data()), static_cast<std::streamsize>(nbytes)))
        throw fail("truncated tensor data");
      if (group == "weights") b.weights.push_back(value);
      else if (group == "optimizer") b.optimizer_variables.emplace_back(t.at("name").get<std::string>(), value);
      else throw fail("unknown tensor group '" + group + "'");
    }
  } catch (const nlohmann::json::exception& e) {
    throw fail(std::string("bad header: ") + e.what());
  } catch (const ValueError& e) {
    throw fail(e.what());
  }
  return b;
}

}  // namespace lamina::callbacks::detail
