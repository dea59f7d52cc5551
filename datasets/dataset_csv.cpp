// SPDX-License-Identifier: Apache-2.0
// csv_dataset: rows of a CSV file as (features, label) elements, with column selection, per-column
// types, missing values and errors that name the line.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <limits>

#include "dataset_node.hpp"
#include "lamina/errors.hpp"

namespace lamina {
namespace {

// Reads one RFC 4180 record (quoted fields may hold delimiters, quotes as "" and line breaks).
// Returns false at the end of the file; `line` counts physical lines read so far.
bool read_record(std::istream& in, char delim, std::vector<std::string>& fields, std::int64_t& line) {
  fields.clear();
  std::string field;
  bool quoted = false, any = false, was_quoted = false;
  int c;
  while ((c = in.get()) != EOF) {
    any = true;
    if (quoted) {
      if (c == '"') {
        if (in.peek() == '"') field += static_cast<char>(in.get());
        else quoted = false;
      } else {
        if (c == '\n') ++line;
        field += static_cast<char>(c);
      }
    } else if (c == '"' && field.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == delim) {
      fields.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\n') {
      ++line;
      break;
    } else if (c != '\r') {
      field += static_cast<char>(c);
    }
  }
  if (!any) return false;
  fields.push_back(std::move(field));
  return true;
}

struct Column {
  std::size_t index;   // position in the record
  std::string name;
  DType dtype = float32;
  std::optional<double> fallback;  // for missing values
};

struct CsvSpec {
  std::string path;
  CsvOptions options;
  std::size_t num_fields = 0;
  std::vector<Column> features;
  std::optional<Column> label;
};

[[noreturn]] void fail(const CsvSpec& s, std::int64_t line, const std::string& problem) {
  throw FileFormatError("csv_dataset '" + s.path + "', line " + std::to_string(line) + ": " + problem);
}

double parse(const CsvSpec& s, const Column& col, const std::string& field, std::int64_t line) {
  if (field.empty() || field == s.options.na_value) {
    if (!col.fallback) fail(s, line, "missing value in column '" + col.name + "' (give a column_defaults entry)");
    return *col.fallback;
  }
  const char* begin = field.c_str();
  char* end = nullptr;
  errno = 0;
  double v;
  if (is_floating(col.dtype)) {
    v = std::strtod(begin, &end);
  } else {
    const long long i = std::strtoll(begin, &end, 10);
    const bool fits = col.dtype == int64 || (i >= std::numeric_limits<std::int32_t>::min() &&
                                             i <= std::numeric_limits<std::int32_t>::max());
    if (errno == ERANGE || !fits) fail(s, line, "value '" + field + "' of column '" + col.name + "' is out of range for " + dtype_name(col.dtype));
    v = static_cast<double>(i);
  }
  while (end && (*end == ' ' || *end == '\t')) ++end;
  if (end == begin || *end != '\0')
    fail(s, line, "value '" + field + "' of column '" + col.name + "' is not a " + dtype_name(col.dtype) + " number");
  return v;
}

class Csv final : public data::Node {
 public:
  explicit Csv(std::shared_ptr<const CsvSpec> spec) : spec_(std::move(spec)) {}
  std::unique_ptr<data::RowIterator> iterate() const override {
    auto in = std::make_shared<std::ifstream>(spec_->path, std::ios::binary);
    if (!*in) throw FileFormatError("csv_dataset: cannot open '" + spec_->path + "'");
    std::int64_t line = 0;
    std::vector<std::string> fields;
    if (spec_->options.header) read_record(*in, spec_->options.field_delim, fields, line);
    return data::iterator_of([spec = spec_, in, line, fields]() mutable -> std::optional<data::Row> {
      const CsvSpec& s = *spec;
      std::int64_t first_line;
      do {
        first_line = line + 1;
        if (!read_record(*in, s.options.field_delim, fields, line)) return std::nullopt;
      } while (fields.size() == 1 && fields[0].empty());  // blank lines
      if (fields.size() != s.num_fields)
        fail(s, first_line, "expected " + std::to_string(s.num_fields) + " fields, found " + std::to_string(fields.size()));
      Tensor x = Tensor::empty({static_cast<std::int64_t>(s.features.size())}, float32);
      float* px = x.data<float>();
      for (std::size_t k = 0; k < s.features.size(); ++k)
        px[k] = static_cast<float>(parse(s, s.features[k], fields[s.features[k].index], first_line));
      data::Row row{std::move(x)};
      if (s.label) {
        Tensor y = Tensor::zeros({}, s.label->dtype);
        const double v = parse(s, *s.label, fields[s.label->index], first_line);
        switch (s.label->dtype) {
          case DType::int64: y.data<std::int64_t>()[0] = static_cast<std::int64_t>(v); break;
          case DType::int32: y.data<std::int32_t>()[0] = static_cast<std::int32_t>(v); break;
          case DType::float64: y.data<double>()[0] = v; break;
          case DType::float16:
          case DType::bfloat16: y.fill(v); break;
          default: y.data<float>()[0] = static_cast<float>(v); break;
        }
        row.push_back(std::move(y));
      }
      return row;
    });
  }
  std::int64_t cardinality() const override { return data::kUnknown; }

 private:
  std::shared_ptr<const CsvSpec> spec_;
};

}  // namespace

BasicDataset<Element> csv_dataset(const std::string& filename, const CsvOptions& options) {
  auto spec = std::make_shared<CsvSpec>();
  spec->path = filename;
  spec->options = options;
  std::ifstream in(filename, std::ios::binary);
  if (!in) throw FileFormatError("csv_dataset: cannot open '" + filename + "'");
  std::vector<std::string> names;
  std::int64_t line = 0;
  if (!read_record(in, options.field_delim, names, line))
    throw FileFormatError("csv_dataset '" + filename + "': the file is empty");
  spec->num_fields = names.size();
  if (!options.header)
    for (std::size_t i = 0; i < names.size(); ++i) names[i] = std::to_string(i);

  auto find = [&](const std::string& name) -> std::size_t {
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == name || std::to_string(i) == name) return i;
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw ValueError("csv_dataset '" + filename + "': no column '" + name + "' (columns: " + known + ")");
  };
  auto column = [&](std::size_t i) {
    Column c{i, names[i], float32, std::nullopt};
    for (const auto& [n, t] : options.column_types)
      if (find(n) == i) {
        if (t == uint8) throw ValueError("csv_dataset: column '" + n + "' cannot be uint8 (use int32 or int64)");
        c.dtype = t;
      }
    for (const auto& [n, v] : options.column_defaults)
      if (find(n) == i) c.fallback = v;
    return c;
  };
  std::vector<std::size_t> selected;
  if (options.select_columns.empty())
    for (std::size_t i = 0; i < names.size(); ++i) selected.push_back(i);
  else
    for (const auto& n : options.select_columns) selected.push_back(find(n));
  std::sort(selected.begin(), selected.end());
  const std::size_t no_label = names.size();
  const std::size_t label = options.label_name.empty() ? no_label : find(options.label_name);
  if (label != no_label) spec->label = column(label);
  for (std::size_t i : selected)
    if (i != label) spec->features.push_back(column(i));
  return BasicDataset<Element>(std::make_shared<Csv>(std::move(spec)));
}

}  // namespace lamina
