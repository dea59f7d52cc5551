// SPDX-License-Identifier: Apache-2.0
// lamina/datasets/dataset.hpp — the declarative input pipeline, in the spirit of tf.data:
//
//   auto ds = Dataset::from_tensor_slices(x_train, y_train)
//                 .shuffle(10'000, {.seed = 42})
//                 .map([](Tensor x, Tensor y) { return std::pair{augment(x), y}; },
//                      {.num_parallel_calls = AUTOTUNE})
//                 .batch(128)
//                 .prefetch(AUTOTUNE);
//   model.fit(ds, {.epochs = 5, .validation_data = val_ds});
//   for (auto [x, y] : ds.take(2)) { ... }
//
// A dataset is a value: copies are cheap and share an immutable description of the pipeline.
// Iterating (begin(), a range-for, or fit) creates an iterator that owns the pipeline's state and
// threads; destroying it stops and joins them.
//
// Elements are a Tensor, a tuple of tensors (std::tuple<Tensor, Tensor> for (x, y), three for
// (x, y, sample_weight), more for several inputs), or an Element (a tuple whose size is known only
// at run time: CSV rows, zip of many). The element type is the template argument E of
// BasicDataset; map lambdas take the components as arguments and may return a Tensor, a
// std::pair, a std::tuple or an Element.
//
// Determinism: a shuffle's order and a map's random draws (the image:: ops below, inside a map)
// depend only on the seed, the iteration (epoch) number and the element's index, never on timing
// or thread count. Without a seed, one is drawn from lamina's global stream when the stage is
// created, so set_seed(n) before building a pipeline makes it reproducible too. Each new iterator
// (each epoch) draws a new order and new augmentations, reproducibly.
//
// AUTOTUNE policy: a parallel map with num_parallel_calls = AUTOTUNE starts one worker per core but
// lets only `active` of them fetch work, starting at 1. Every 16 chunks it compares the time the
// consumer spent waiting for results (producer too slow) with the time results sat ready (consumer
// too slow): when the consumer waited for more than 10 % of the window, one more worker becomes
// active (up to one per core); when it never waited and results piled up to the buffer's limit,
// one worker is parked (down to 1). Workers take elements in chunks sized so that mapping a chunk
// takes about 200 us (1 to 64 elements, re-measured after every chunk): a cheap map then pays for
// one thread hand-off per chunk instead of one per element. A map keeps at most
// 2 x workers x chunk results in flight, and a worker starts a chunk only when all of it fits. prefetch
// with AUTOTUNE starts with a buffer of 1 element and doubles it (up to 64, never past 256 MiB of
// buffered tensors) each time the consumer finds the buffer empty, so a steady producer ends with
// just enough buffer to hide its jitter.
//
// Threads: a parallel map's workers and prefetch's producer run 10 nice levels below the process
// (Linux), so that a pipeline feeding a model that keeps every core busy fills the gaps between
// the model's parallel ops instead of preempting them.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "lamina/datasets/datasets.hpp"
#include "lamina/errors.hpp"
#include "lamina/batch_source.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

/// Let the runtime choose parallelism or buffer size (tf.data.AUTOTUNE).
inline constexpr int AUTOTUNE = -1;

/// An element whose number of components is known only at run time.
using Element = std::vector<Tensor>;

/// An error raised while producing an element: the message names the stage and the element's
/// index; the original exception is nested (std::rethrow_if_nested reaches it).
class DatasetError : public Error {
 public:
  DatasetError(const std::string& message, std::int64_t element_index)
      : Error(message), element_index_(element_index) {}
  /// Index of the element (in the failing stage's input order); -1 when none applies.
  std::int64_t element_index() const { return element_index_; }

 private:
  std::int64_t element_index_;
};

namespace data {

class Node;  // one stage of a pipeline (datasets/dataset_*.cpp)
using NodePtr = std::shared_ptr<const Node>;
/// A pipeline's element as the untyped core sees it.
using Row = std::vector<Tensor>;
/// The names of an element's components (null: unnamed), shared by the datasets derived from it.
using Names = std::shared_ptr<const std::vector<std::string>>;

/// A running pass over a pipeline (owns its stages' state and threads).
class RowIterator {
 public:
  virtual ~RowIterator() = default;
  /// The next element, or nullopt at the end. Rethrows a stage's error as DatasetError.
  virtual std::optional<Row> next() = 0;
};

// Conversion between typed elements and rows.
template <class T> struct Traits;
template <> struct Traits<Tensor> {
  static Row to_row(Tensor t) { return {std::move(t)}; }
  static Tensor from_row(Row r) { return std::move(r.at(0)); }
  static constexpr std::size_t arity = 1;
};
template <class... Ts> struct Traits<std::tuple<Ts...>> {
  static Row to_row(std::tuple<Ts...> t) {
    return std::apply([](auto&&... a) { return Row{Tensor(std::move(a))...}; }, std::move(t));
  }
  static std::tuple<Ts...> from_row(Row r) {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return std::tuple<Ts...>{std::move(r.at(I))...};
    }(std::index_sequence_for<Ts...>{});
  }
  static constexpr std::size_t arity = sizeof...(Ts);
};
template <class A, class B> struct Traits<std::pair<A, B>> {
  static Row to_row(std::pair<A, B> p) { return {Tensor(std::move(p.first)), Tensor(std::move(p.second))}; }
  static constexpr std::size_t arity = 2;
};
template <> struct Traits<Element> {
  static Row to_row(Element e) { return e; }
  static Element from_row(Row r) { return r; }
  static constexpr std::size_t arity = 0;  // dynamic
};

/// The element type a map function's result becomes: pairs become tuples.
template <class R> struct Normalized { using type = R; };
template <class A, class B> struct Normalized<std::pair<A, B>> { using type = std::tuple<A, B>; };
template <class R> using normalized_t = typename Normalized<std::decay_t<R>>::type;

/// The element of two elements side by side (zip, enumerate): a tuple, or Element when either
/// side's size is dynamic.
template <class T> struct AsTuple { using type = std::tuple<T>; };
template <class... Ts> struct AsTuple<std::tuple<Ts...>> { using type = std::tuple<Ts...>; };
template <class A, class B> struct Concat {
  using type = decltype(std::tuple_cat(std::declval<typename AsTuple<A>::type>(),
                                       std::declval<typename AsTuple<B>::type>()));
};
template <class A> struct Concat<A, Element> { using type = Element; };
template <class B> struct Concat<Element, B> { using type = Element; };
template <> struct Concat<Element, Element> { using type = Element; };
template <class A, class B> using concat_t = typename Concat<A, B>::type;

/// Calls f with the element's components as arguments (or the Tensor/Element itself).
template <class E, class F> decltype(auto) apply_to(const F& f, E&& e) {
  if constexpr (requires { std::tuple_size<std::decay_t<E>>::value; }) return std::apply(f, std::forward<E>(e));
  else return f(std::forward<E>(e));
}

}  // namespace data

struct ShuffleOptions {
  std::optional<std::uint64_t> seed{};  ///< none: drawn from lamina's global stream at creation
  bool reshuffle_each_iteration = true;
};

struct MapOptions {
  /// 0 or 1: the map runs on the consumer's thread; n > 1: n worker threads; AUTOTUNE: adaptive
  /// (see the policy above).
  int num_parallel_calls = 0;
  /// Keep the input order (default). false: hand out results as they finish.
  bool deterministic = true;
  /// Seed of the per-element random draws of image:: ops; none: drawn from the global stream.
  std::optional<std::uint64_t> seed{};
};

struct BatchOptions {
  bool drop_remainder = false;
};

struct PaddedBatchOptions {
  /// Per component: the padded shape without the batch axis, -1 where the batch's longest
  /// decides; empty: pad every dimension to the batch's longest.
  std::vector<Shape> padded_shapes{};
  /// Per component: the pad value (0 where not given).
  std::vector<double> padding_values{};
  bool drop_remainder = false;
};

struct InterleaveOptions {
  int cycle_length = 1;   ///< sub-datasets open at once (AUTOTUNE: one per core)
  int block_length = 1;   ///< consecutive elements taken from each before moving on
  /// > 1 or AUTOTUNE: the open sub-datasets are produced ahead on background threads; the
  /// output order stays the round-robin order.
  int num_parallel_calls = 0;
};

/// Sources and transformations on untyped rows; BasicDataset wraps them with element types.
namespace data {
NodePtr from_tensor_slices(std::vector<Tensor> tensors);
NodePtr from_tensors(std::vector<Tensor> tensors);
NodePtr range(std::int64_t start, std::int64_t stop, std::int64_t step);
NodePtr from_generator(std::function<std::function<std::optional<Row>()>()> make_generator);
NodePtr zip(std::vector<NodePtr> nodes);
NodePtr concatenate(NodePtr a, NodePtr b);
NodePtr map(NodePtr in, std::function<Row(Row)> fn, const MapOptions& options);
NodePtr filter(NodePtr in, std::function<bool(const Row&)> predicate);
NodePtr shuffle(NodePtr in, std::int64_t buffer_size, const ShuffleOptions& options);
NodePtr batch(NodePtr in, std::int64_t batch_size, const BatchOptions& options);
NodePtr padded_batch(NodePtr in, std::int64_t batch_size, const PaddedBatchOptions& options);
NodePtr unbatch(NodePtr in);
NodePtr prefetch(NodePtr in, std::int64_t buffer_size);
NodePtr repeat(NodePtr in, std::int64_t count);
NodePtr take(NodePtr in, std::int64_t count);
NodePtr skip(NodePtr in, std::int64_t count);
NodePtr cache(NodePtr in, const std::string& filename);
NodePtr shard(NodePtr in, std::int64_t num_shards, std::int64_t index);
NodePtr enumerate(NodePtr in, std::int64_t start);
NodePtr interleave(NodePtr in, std::function<NodePtr(Row)> fn, const InterleaveOptions& options);
std::unique_ptr<RowIterator> iterate(const NodePtr& node);
std::int64_t cardinality(const NodePtr& node);
/// `names`: the elements' components by name (null: by position).
std::shared_ptr<BatchSource> batch_source(const NodePtr& node, const Names& names = nullptr);
/// Checked names for `arity` components (0: unknown). Throws ValueError for an empty or repeated
/// name, or a count other than arity.
Names check_names(std::vector<std::string> names, std::size_t arity);
}  // namespace data

/// A dataset whose elements are E: Tensor, std::tuple<Tensor, ...> or Element. Use through
/// `Dataset::` (the factories) and `auto`.
template <class E>
class BasicDataset {
 public:
  using element_type = E;
  static constexpr std::int64_t INFINITE = -1;  ///< cardinality() of an endless dataset
  static constexpr std::int64_t UNKNOWN = -2;   ///< cardinality() that cannot be known ahead

  explicit BasicDataset(data::NodePtr node) : node_(std::move(node)) {}
  /// A dataset whose components carry `names` (see named()).
  BasicDataset(data::Names names, data::NodePtr node) : node_(std::move(node)), names_(std::move(names)) {}

  // --- sources ------------------------------------------------------------------------------
  /// Slices along the first axis: element i is (a[i], b[i], ...). Throws ValueError when the
  /// tensors differ in length or one is a scalar.
  static BasicDataset<Tensor> from_tensor_slices(const Tensor& a) {
    return BasicDataset<Tensor>(data::from_tensor_slices({a}));
  }
  static BasicDataset<std::tuple<Tensor, Tensor>> from_tensor_slices(const Tensor& a, const Tensor& b) {
    return BasicDataset<std::tuple<Tensor, Tensor>>(data::from_tensor_slices({a, b}));
  }
  static BasicDataset<std::tuple<Tensor, Tensor, Tensor>> from_tensor_slices(const Tensor& a, const Tensor& b,
                                                                             const Tensor& c) {
    return BasicDataset<std::tuple<Tensor, Tensor, Tensor>>(data::from_tensor_slices({a, b, c}));
  }
  /// Any number of components, given at run time.
  static BasicDataset<Element> from_tensor_slices(const Element& tensors) {
    return BasicDataset<Element>(data::from_tensor_slices(tensors));
  }
  /// Named components, in the given order (Keras's dict elements): `{{"image", x}, {"meta", m},
  /// {"label", y}}`. See named().
  static BasicDataset<Element> from_tensor_slices(const std::vector<std::pair<std::string, Tensor>>& named) {
    std::vector<std::string> names;
    Element tensors;
    for (const auto& [name, tensor] : named) {
      names.push_back(name);
      tensors.push_back(tensor);
    }
    return BasicDataset<Element>(data::check_names(std::move(names), tensors.size()),
                                 data::from_tensor_slices(tensors));
  }
  /// One element: the tensor itself (or the tuple).
  static BasicDataset<Tensor> from_tensors(const Tensor& t) { return BasicDataset<Tensor>(data::from_tensors({t})); }
  static BasicDataset<std::tuple<Tensor, Tensor>> from_tensors(const Tensor& a, const Tensor& b) {
    return BasicDataset<std::tuple<Tensor, Tensor>>(data::from_tensors({a, b}));
  }
  /// int64 scalars start, start + step, ... before stop (Python's range). Throws on step 0.
  static BasicDataset<Tensor> range(std::int64_t stop) { return range(0, stop, 1); }
  static BasicDataset<Tensor> range(std::int64_t start, std::int64_t stop, std::int64_t step = 1) {
    return BasicDataset<Tensor>(data::range(start, stop, step));
  }
  /// Elements from a callable returning std::optional<element> (nullopt ends the pass). Each
  /// iteration calls a fresh copy of `generator`, so a lambda's mutable state restarts. The
  /// callable runs on the thread that pulls from it; cardinality is unknown.
  template <class G, class R = std::invoke_result_t<G&>>
  static BasicDataset<data::normalized_t<typename R::value_type>> from_generator(G generator) {
    using Out = data::normalized_t<typename R::value_type>;
    return BasicDataset<Out>(data::from_generator([generator]() -> std::function<std::optional<data::Row>()> {
      return [g = generator]() mutable -> std::optional<data::Row> {
        auto e = g();
        if (!e) return std::nullopt;
        return data::Traits<std::decay_t<decltype(*e)>>::to_row(std::move(*e));
      };
    }));
  }
  /// Elements (a's components..., b's components...) side by side, stopping at the shorter.
  template <class A, class B>
  static BasicDataset<data::concat_t<A, B>> zip(const BasicDataset<A>& a, const BasicDataset<B>& b) {
    return BasicDataset<data::concat_t<A, B>>(data::zip({a.node(), b.node()}));
  }

  // --- transformations ----------------------------------------------------------------------
  /// f(components...) -> Tensor | pair | tuple | Element, for every element.
  template <class F>
  auto map(F f, const MapOptions& options = {}) const {
    using R = decltype(data::apply_to<E>(f, std::declval<E>()));
    using Out = data::normalized_t<R>;
    return BasicDataset<Out>(data::map(node_, [f](data::Row row) {
      return data::Traits<std::decay_t<R>>::to_row(data::apply_to<E>(f, data::Traits<E>::from_row(std::move(row))));
    }, options));
  }
  /// Keeps the elements for which pred(components...) is true.
  template <class F>
  BasicDataset filter(F pred) const {
    return BasicDataset(names_, data::filter(node_, [pred](const data::Row& row) {
      return static_cast<bool>(data::apply_to<E>(pred, data::Traits<E>::from_row(row)));
    }));
  }
  /// Reservoir shuffle through a buffer of `buffer_size` elements (>= the dataset's size for a
  /// uniform shuffle). Never holds more than buffer_size elements.
  BasicDataset shuffle(std::int64_t buffer_size, const ShuffleOptions& options = {}) const {
    return BasicDataset(names_, data::shuffle(node_, buffer_size, options));
  }
  /// Stacks `batch_size` consecutive elements along a new first axis (component shapes must
  /// agree; ShapeError names the element and both shapes). The last, smaller batch is kept unless
  /// drop_remainder.
  BasicDataset batch(std::int64_t batch_size, const BatchOptions& options = {}) const {
    return BasicDataset(names_, data::batch(node_, batch_size, options));
  }
  /// batch() for components of different shapes: pads each to padded_shapes (or the batch's
  /// largest) with padding_values. Throws ShapeError when a component exceeds its padded shape.
  BasicDataset padded_batch(std::int64_t batch_size, const PaddedBatchOptions& options = {}) const {
    return BasicDataset(names_, data::padded_batch(node_, batch_size, options));
  }
  /// Splits each element along its first axis (the inverse of batch).
  BasicDataset unbatch() const { return BasicDataset(names_, data::unbatch(node_)); }
  /// Produces up to buffer_size elements ahead on a background thread (AUTOTUNE: adaptive).
  BasicDataset prefetch(std::int64_t buffer_size) const { return BasicDataset(names_, data::prefetch(node_, buffer_size)); }
  /// The dataset `count` times (-1: forever); each repetition is a new iteration (a shuffle
  /// upstream reshuffles).
  BasicDataset repeat(std::int64_t count = -1) const { return BasicDataset(names_, data::repeat(node_, count)); }
  BasicDataset take(std::int64_t count) const { return BasicDataset(names_, data::take(node_, count)); }
  BasicDataset skip(std::int64_t count) const { return BasicDataset(names_, data::skip(node_, count)); }
  /// The first full pass is recorded (in memory, or in `filename`); later passes, and later runs
  /// of the program for a file, read the recording. An unfinished pass records nothing.
  BasicDataset cache(const std::string& filename = "") const { return BasicDataset(names_, data::cache(node_, filename)); }
  /// Every num_shards-th element, starting at index (for one worker of several).
  BasicDataset shard(std::int64_t num_shards, std::int64_t index) const {
    return BasicDataset(names_, data::shard(node_, num_shards, index));
  }
  /// Elements (i, components...) with an int64 counter from `start`.
  BasicDataset<data::concat_t<Tensor, E>> enumerate(std::int64_t start = 0) const {
    return BasicDataset<data::concat_t<Tensor, E>>(data::enumerate(node_, start));
  }
  /// This dataset's elements followed by `other`'s (same structure).
  BasicDataset concatenate(const BasicDataset& other) const {
    return BasicDataset(names_, data::concatenate(node_, other.node_));
  }
  /// f(components...) -> a dataset per element; `cycle_length` of them are read in round-robin,
  /// block_length elements at a time (cycle_length 1 is flat_map).
  template <class F>
  auto interleave(F f, const InterleaveOptions& options = {}) const {
    using D = std::decay_t<decltype(data::apply_to<E>(f, std::declval<E>()))>;
    return D(data::interleave(node_, [f](data::Row row) {
      return data::apply_to<E>(f, data::Traits<E>::from_row(std::move(row))).node();
    }, options));
  }

  /// The same dataset with its components named, in order. fit/evaluate/predict then take each
  /// component by the model's input and output names, and one named "sample_weight" as the
  /// per-sample weights (Keras's ({"image": x, "meta": m}, {"label": y}, w) elements). The names
  /// survive the transformations that keep the components (shuffle, batch, prefetch, take,
  /// filter...), not map, zip, enumerate or interleave. Throws ValueError for an empty or repeated
  /// name or, when the element type fixes it, a count other than the components'.
  BasicDataset named(std::vector<std::string> names) const {
    return BasicDataset(data::check_names(std::move(names), data::Traits<E>::arity), node_);
  }
  /// The components' names; empty when unnamed.
  std::vector<std::string> names() const { return names_ ? *names_ : std::vector<std::string>{}; }

  // --- inspection ---------------------------------------------------------------------------
  /// Elements per pass: >= 0, INFINITE or UNKNOWN (after filter, from_generator, ...).
  std::int64_t cardinality() const { return data::cardinality(node_); }
  const data::NodePtr& node() const { return node_; }
  /// What fit/evaluate/predict read (the engine sees only BatchSource).
  std::shared_ptr<BatchSource> batch_source() const { return data::batch_source(node_, names_); }

  /// A pass over the dataset as an input range.
  class iterator {
   public:
    using value_type = E;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(std::shared_ptr<data::RowIterator> it) : it_(std::move(it)) { ++*this; }
    const E& operator*() const { return *current_; }
    const E* operator->() const { return &*current_; }
    iterator& operator++() {
      std::optional<data::Row> row = it_->next();
      if (row) current_ = data::Traits<E>::from_row(std::move(*row));
      else {
        current_.reset();
        it_.reset();  // stops the pass's threads now
      }
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return !current_; }

   private:
    std::shared_ptr<data::RowIterator> it_;
    std::optional<E> current_;
  };
  iterator begin() const { return iterator(std::shared_ptr<data::RowIterator>(data::iterate(node_))); }
  std::default_sentinel_t end() const { return {}; }

 private:
  data::NodePtr node_;
  data::Names names_;
};

/// The factories: Dataset::from_tensor_slices(x, y), Dataset::range(10), ...
using Dataset = BasicDataset<Element>;

// --- file sources -----------------------------------------------------------------------------

/// The lines of the files, in order (tf.data.TextLineDataset). lamina has no string dtype: a line
/// is a 1-D uint8 tensor of its bytes, without the line ending ("\n" or "\r\n"); text_of()
/// turns it back into a string. Throws FileFormatError naming a file that cannot be opened (when
/// the pass starts).
BasicDataset<Tensor> text_line_dataset(const std::vector<std::string>& filenames);
/// The bytes of a uint8 tensor (a line of text_line_dataset) as a string.
std::string text_of(const Tensor& bytes);

struct CsvOptions {
  bool header = true;                    ///< the first line names the columns
  char field_delim = ',';
  /// Columns to read (by header name, or "0", "1"... by position); empty: all.
  std::vector<std::string> select_columns{};
  /// The label column (by name or position); empty: no label.
  std::string label_name{};
  /// dtype per column name: float32 (default), float64, int32 or int64. A value that does not
  /// parse as its column's type is an error.
  std::vector<std::pair<std::string, DType>> column_types{};
  /// Value for missing fields per column name; a column without one rejects missing fields.
  std::vector<std::pair<std::string, double>> column_defaults{};
  std::string na_value{};                  ///< a field equal to this counts as missing ("" always does)
};

/// Rows of a CSV file (RFC 4180 quoting). Each element is (features) or, with a label_name,
/// (features, label): features is a float32 vector of the selected non-label columns in file
/// order, label a scalar of the label column's dtype. Throws FileFormatError naming the file and
/// the line number for a row with the wrong number of fields, a value that does not parse, or a
/// missing value without a default; ValueError for an unknown column name.
BasicDataset<Element> csv_dataset(const std::string& filename, const CsvOptions& options = {});

namespace datasets::cifar10 {
/// One file of CIFAR-10's binary version: records of a label byte and 3072 pixel bytes (the red,
/// green and blue 32x32 planes). Returns x uint8 (N, 32, 32, 3) (channels last, as Keras's
/// cifar10.load_data) and y uint8 (N). Throws FileFormatError naming the file when it is
/// missing, empty, or not a whole number of 3073-byte records, or a label exceeds 9.
Split read_batch(const std::string& path);
/// {(x_train, y_train), (x_test, y_test)}: data_batch_1.bin ... data_batch_5.bin and
/// test_batch.bin from `directory` (default $LAMINA_CIFAR10_DIR, else
/// /usr/share/datasets/cifar-10-batches-bin). Throws FileFormatError naming a missing file.
std::pair<Split, Split> load_data(const std::string& directory = "");
}  // namespace datasets::cifar10

}  // namespace lamina
