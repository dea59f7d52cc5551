// SPDX-License-Identifier: Apache-2.0
// text_line_dataset: the lines of text files, as uint8 byte tensors.
#include <cstring>
#include <fstream>

#include "dataset_node.hpp"
#include "lamina/errors.hpp"

namespace lamina {
namespace {

class TextLines final : public data::Node {
 public:
  explicit TextLines(std::vector<std::string> files) : files_(std::move(files)) {}
  std::unique_ptr<data::RowIterator> iterate() const override {
    return data::iterator_of([files = files_, f = std::size_t{0},
                              in = std::make_shared<std::ifstream>()]() mutable -> std::optional<data::Row> {
      std::string line;
      for (;;) {
        if (!in->is_open()) {
          if (f >= files.size()) return std::nullopt;
          in->open(files[f], std::ios::binary);
          if (!*in) throw FileFormatError("text_line_dataset: cannot open '" + files[f] + "'");
        }
        if (std::getline(*in, line)) break;
        in->close();
        in->clear();
        ++f;
      }
      if (!line.empty() && line.back() == '\r') line.pop_back();
      Tensor t = Tensor::empty({static_cast<std::int64_t>(line.size())}, uint8);
      if (!line.empty()) std::memcpy(t.raw_data(), line.data(), line.size());
      return data::Row{std::move(t)};
    });
  }
  std::int64_t cardinality() const override { return data::kUnknown; }

 private:
  std::vector<std::string> files_;
};

}  // namespace

BasicDataset<Tensor> text_line_dataset(const std::vector<std::string>& filenames) {
  return BasicDataset<Tensor>(std::make_shared<TextLines>(filenames));
}

std::string text_of(const Tensor& bytes) {
  if (bytes.dtype() != uint8 || bytes.ndim() != 1)
    throw ValueError("text_of: expected a 1-D uint8 tensor, got " + std::string(dtype_name(bytes.dtype())) + " " +
                     bytes.shape().str());
  const char* p = static_cast<const char*>(bytes.raw_data());
  return std::string(p, p + bytes.numel());
}

}  // namespace lamina
