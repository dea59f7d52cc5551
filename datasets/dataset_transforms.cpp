// SPDX-License-Identifier: Apache-2.0
// Element-wise and order transformations that run on the consumer's thread: filter, shuffle,
// repeat, take, skip, shard, enumerate and cache.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "dataset_node.hpp"
#include "lamina/errors.hpp"

namespace lamina::data {
namespace {

// A node over one input whose iterator is made by `make(input iterator)`; cardinality from a
// function of the input's.
template <class Make, class Card>
class Wrap final : public Node {
 public:
  Wrap(NodePtr in, Make make, Card card) : in_(std::move(in)), make_(std::move(make)), card_(std::move(card)) {}
  std::unique_ptr<RowIterator> iterate() const override { return make_(in_->iterate()); }
  std::int64_t cardinality() const override { return card_(in_->cardinality()); }

 private:
  NodePtr in_;
  Make make_;
  Card card_;
};
template <class Make, class Card>
NodePtr wrap(NodePtr in, Make make, Card card) {
  return std::make_shared<Wrap<Make, Card>>(std::move(in), std::move(make), std::move(card));
}

std::int64_t unknown_unless_infinite(std::int64_t c) { return c == kInfinite ? kInfinite : kUnknown; }

class Shuffle final : public Node {
 public:
  Shuffle(NodePtr in, std::int64_t buffer_size, const ShuffleOptions& o)
      : in_(std::move(in)), buffer_size_(buffer_size), seeds_(o.seed, o.reshuffle_each_iteration) {}
  std::unique_ptr<RowIterator> iterate() const override {
    // Fill the buffer, then emit a uniformly chosen slot and refill it from the input.
    return iterator_of([it = in_->iterate(), buffer = std::vector<Row>(), cap = buffer_size_,
                        slots = std::make_shared<random::Generator>(seeds_.next(), random::Stream::dataset_shuffle),
                        done = false]() mutable -> std::optional<Row> {
      while (!done && static_cast<std::int64_t>(buffer.size()) < cap) {
        std::optional<Row> row = it->next();
        if (!row) done = true;
        else buffer.push_back(std::move(*row));
      }
      if (buffer.empty()) return std::nullopt;
      const std::size_t j = slots->next_below(buffer.size());
      Row out = std::move(buffer[j]);
      buffer[j] = std::move(buffer.back());
      buffer.pop_back();
      return out;
    });
  }
  std::int64_t cardinality() const override { return in_->cardinality(); }

 private:
  NodePtr in_;
  std::int64_t buffer_size_;
  PassSeeds seeds_;
};

class Repeat final : public Node {
 public:
  Repeat(NodePtr in, std::int64_t count) : in_(std::move(in)), count_(count) {}
  std::unique_ptr<RowIterator> iterate() const override {
    return iterator_of([in = in_, count = count_, pass = std::int64_t{0}, yielded = false,
                        it = std::unique_ptr<RowIterator>()]() mutable -> std::optional<Row> {
      for (;;) {
        if (count >= 0 && pass >= count) return std::nullopt;
        if (!it) {
          it = in->iterate();
          yielded = false;
        }
        std::optional<Row> row = it->next();
        if (row) {
          yielded = true;
          return row;
        }
        it.reset();
        ++pass;
        if (!yielded) return std::nullopt;  // repeating an empty pass would never end
      }
    });
  }
  std::int64_t cardinality() const override {
    const std::int64_t c = in_->cardinality();
    if (c == 0 || count_ == 0) return 0;
    if (count_ < 0) return c == kUnknown ? kUnknown : kInfinite;
    return c < 0 ? c : c * count_;
  }

 private:
  NodePtr in_;
  std::int64_t count_;
};

// Cache state shared by the copies of one cache() stage: the recording, once a pass finished.
struct CacheStore {
  std::mutex mutex;
  bool complete = false;
  std::vector<Row> rows;
};

// The file format of cache(filename): a magic line, then per element its component count and per
// component dtype, rank, dims and raw bytes.
constexpr char kCacheMagic[8] = {'L', 'M', 'N', 'C', 'A', 'C', 'H', '1'};

void write_row(std::ofstream& f, const Row& row) {
  const std::uint32_t n = static_cast<std::uint32_t>(row.size());
  f.write(reinterpret_cast<const char*>(&n), 4);
  for (const Tensor& t : row) {
    const std::uint8_t dtype = static_cast<std::uint8_t>(t.dtype());
    const std::uint8_t rank = static_cast<std::uint8_t>(t.ndim());
    f.write(reinterpret_cast<const char*>(&dtype), 1);
    f.write(reinterpret_cast<const char*>(&rank), 1);
    for (std::int64_t d : t.shape()) f.write(reinterpret_cast<const char*>(&d), 8);
    Tensor c = t.clone();
    f.write(static_cast<const char*>(c.raw_data()), static_cast<std::streamsize>(c.nbytes()));
  }
}

std::optional<Row> read_row(std::ifstream& f, const std::string& path) {
  std::uint32_t n = 0;
  if (!f.read(reinterpret_cast<char*>(&n), 4)) return std::nullopt;
  Row row;
  for (std::uint32_t k = 0; k < n; ++k) {
    std::uint8_t dtype = 0, rank = 0;
    f.read(reinterpret_cast<char*>(&dtype), 1);
    f.read(reinterpret_cast<char*>(&rank), 1);
    Shape shape(rank);
    for (auto& d : shape) f.read(reinterpret_cast<char*>(&d), 8);
    if (!f || dtype > static_cast<std::uint8_t>(DType::uint8))
      throw FileFormatError("cache file '" + path + "': truncated or corrupt");
    Tensor t = Tensor::empty(shape, static_cast<DType>(dtype));
    if (!f.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes())))
      throw FileFormatError("cache file '" + path + "': truncated or corrupt");
    row.push_back(std::move(t));
  }
  return row;
}

class Cache final : public Node {
 public:
  Cache(NodePtr in, std::string filename) : in_(std::move(in)), filename_(std::move(filename)) {}
  std::unique_ptr<RowIterator> iterate() const override {
    if (filename_.empty()) return memory_pass();
    return file_pass();
  }
  std::int64_t cardinality() const override { return in_->cardinality(); }

 private:
  std::unique_ptr<RowIterator> memory_pass() const {
    {
      std::lock_guard<std::mutex> lock(store_->mutex);
      if (store_->complete)
        return iterator_of([store = store_, i = std::size_t{0}]() mutable -> std::optional<Row> {
          if (i >= store->rows.size()) return std::nullopt;
          return store->rows[i++];
        });
    }
    return iterator_of([store = store_, it = in_->iterate(), rows = std::vector<Row>()]() mutable -> std::optional<Row> {
      std::optional<Row> row = it->next();
      if (row) {
        rows.push_back(*row);
        return row;
      }
      std::lock_guard<std::mutex> lock(store->mutex);
      if (!store->complete) {
        store->rows = std::move(rows);
        store->complete = true;
      }
      return std::nullopt;
    });
  }

  std::unique_ptr<RowIterator> file_pass() const {
    std::error_code ec;
    if (std::filesystem::exists(filename_, ec)) {
      auto f = std::make_shared<std::ifstream>(filename_, std::ios::binary);
      char magic[8] = {};
      f->read(magic, 8);
      if (!*f || !std::equal(magic, magic + 8, kCacheMagic))
        throw FileFormatError("cache file '" + filename_ + "' is not a lamina dataset cache");
      return iterator_of([f, path = filename_]() { return read_row(*f, path); });
    }
    // Record into a temporary file renamed into place at the end of the pass: an unfinished pass
    // leaves no cache behind.
    const std::string tmp = filename_ + ".tmp" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
    auto f = std::make_shared<std::ofstream>(tmp, std::ios::binary | std::ios::trunc);
    if (!*f) throw FileFormatError("cache file '" + filename_ + "': cannot write '" + tmp + "'");
    f->write(kCacheMagic, 8);
    struct Cleanup {  // removes the temporary file of an unfinished pass
      std::string tmp;
      bool done = false;
      ~Cleanup() {
        std::error_code e;
        if (!done) std::filesystem::remove(tmp, e);
      }
    };
    auto cleanup = std::make_shared<Cleanup>();
    cleanup->tmp = tmp;
    return iterator_of([f, cleanup, path = filename_, it = in_->iterate()]() mutable -> std::optional<Row> {
      std::optional<Row> row = it->next();
      if (row) {
        write_row(*f, *row);
        return row;
      }
      if (!cleanup->done) {
        f->close();
        if (!*f) throw FileFormatError("cache file '" + path + "': write failed");
        std::filesystem::rename(cleanup->tmp, path);
        cleanup->done = true;
      }
      return std::nullopt;
    });
  }

  NodePtr in_;
  std::string filename_;
  std::shared_ptr<CacheStore> store_ = std::make_shared<CacheStore>();
};

// shard over a source with random access: reads elements index, index + num, ... and nothing
// else (a worker of many reads its 1/num of the data, not all of it).
class RandomAccessShard final : public Node {
 public:
  RandomAccessShard(NodePtr in, std::int64_t num, std::int64_t index) : in_(std::move(in)), num_(num), index_(index) {}
  std::unique_ptr<RowIterator> iterate() const override {
    return iterator_of([in = in_, n = in_->cardinality(), num = num_, i = index_]() mutable -> std::optional<Row> {
      if (i >= n) return std::nullopt;
      Row row = in->at(i);
      i += num;
      return row;
    });
  }
  std::int64_t cardinality() const override {
    const std::int64_t c = in_->cardinality();
    return c / num_ + (c % num_ > index_ ? 1 : 0);
  }
  bool random_access() const override { return true; }
  Row at(std::int64_t i) const override { return in_->at(index_ + i * num_); }

 private:
  NodePtr in_;
  std::int64_t num_, index_;
};

}  // namespace

NodePtr filter(NodePtr in, std::function<bool(const Row&)> predicate) {
  return wrap(std::move(in), [predicate](std::unique_ptr<RowIterator> it) {
    return iterator_of([predicate, it = std::move(it), i = std::int64_t{0}]() mutable -> std::optional<Row> {
      for (;;) {
        std::optional<Row> row = it->next();
        if (!row) return row;
        bool keep = false;
        try {
          keep = predicate(*row);
        } catch (const std::exception& e) {
          std::throw_with_nested(DatasetError("filter: the predicate threw on element " +
                                                  std::to_string(i) + ": " + e.what(), i));
        }
        ++i;
        if (keep) return row;
      }
    });
  }, unknown_unless_infinite);
}

NodePtr shuffle(NodePtr in, std::int64_t buffer_size, const ShuffleOptions& options) {
  require_positive("shuffle", "buffer_size", buffer_size);
  return std::make_shared<Shuffle>(std::move(in), buffer_size, options);
}

NodePtr repeat(NodePtr in, std::int64_t count) {
  if (count < -1) throw ValueError("repeat: count must be -1 (forever) or >= 0, got " + std::to_string(count));
  return std::make_shared<Repeat>(std::move(in), count);
}

NodePtr take(NodePtr in, std::int64_t count) {
  if (count < -1) throw ValueError("take: count must be -1 (all) or >= 0, got " + std::to_string(count));
  return wrap(std::move(in), [count](std::unique_ptr<RowIterator> it) {
    return iterator_of([count, it = std::move(it), i = std::int64_t{0}]() mutable -> std::optional<Row> {
      if (count >= 0 && i >= count) return std::nullopt;
      ++i;
      return it->next();
    });
  }, [count](std::int64_t c) {
    if (count < 0) return c;
    if (c == kInfinite) return count;
    return c == kUnknown ? kUnknown : std::min(c, count);
  });
}

NodePtr skip(NodePtr in, std::int64_t count) {
  if (count < -1) throw ValueError("skip: count must be -1 (all) or >= 0, got " + std::to_string(count));
  return wrap(std::move(in), [count](std::unique_ptr<RowIterator> it) {
    return iterator_of([count, it = std::move(it), skipped = false]() mutable -> std::optional<Row> {
      if (!skipped) {
        skipped = true;
        for (std::int64_t i = 0; count < 0 || i < count; ++i)
          if (!it->next()) return std::nullopt;
        if (count < 0) return std::nullopt;
      }
      return it->next();
    });
  }, [count](std::int64_t c) {
    if (c < 0) return c;
    return count < 0 ? std::int64_t{0} : std::max<std::int64_t>(0, c - count);
  });
}

NodePtr shard(NodePtr in, std::int64_t num_shards, std::int64_t index) {
  require_positive("shard", "num_shards", num_shards);
  if (index < 0 || index >= num_shards)
    throw ValueError("shard: index must be in [0, " + std::to_string(num_shards) + "), got " + std::to_string(index));
  if (in->random_access()) return std::make_shared<RandomAccessShard>(std::move(in), num_shards, index);
  return wrap(std::move(in), [num_shards, index](std::unique_ptr<RowIterator> it) {
    return iterator_of([=, it = std::move(it), i = std::int64_t{0}]() mutable -> std::optional<Row> {
      for (;;) {
        std::optional<Row> row = it->next();
        if (!row) return row;
        if (i++ % num_shards == index) return row;
      }
    });
  }, [num_shards, index](std::int64_t c) {
    return c < 0 ? c : c / num_shards + (c % num_shards > index ? 1 : 0);
  });
}

NodePtr enumerate(NodePtr in, std::int64_t start) {
  return wrap(std::move(in), [start](std::unique_ptr<RowIterator> it) {
    return iterator_of([it = std::move(it), i = start]() mutable -> std::optional<Row> {
      std::optional<Row> row = it->next();
      if (!row) return row;
      Tensor counter = Tensor::zeros({}, int64);
      counter.data<std::int64_t>()[0] = i++;
      row->insert(row->begin(), std::move(counter));
      return row;
    });
  }, [](std::int64_t c) { return c; });
}

NodePtr cache(NodePtr in, const std::string& filename) {
  return std::make_shared<Cache>(std::move(in), filename);
}

}  // namespace lamina::data
