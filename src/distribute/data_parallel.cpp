// SPDX-License-Identifier: Apache-2.0
// DataParallel: the trainer's distribution hooks over a Communicator. Each step: the global
// batch's sample count (to weight this replica's gradients), the gradients summed in buckets of
// non-blocking all-reduces, the metric inputs gathered (so that every metric sees the global
// batch, whatever its state), and the loss trackers' increments summed.
#include <cstring>
#include <map>
#include <memory>

#include "distribute/communicator.hpp"
#include "engine/model_impl.hpp"
#include "engine/trainer.hpp"
#include "lamina/distribute.hpp"
#include "lamina/errors.hpp"

namespace lamina::distribute {

namespace {

// A host tensor with its own contiguous storage holding `t`'s values.
Tensor host_copy(const Tensor& t) { return t.detach().to(Device::cpu()).clone(); }

// A batched source split by rows: each batch's rows [shard_range) for this replica. For sources
// without random access (a dataset pipeline): the batch is read whole, then sliced.
class BatchSplit final : public BatchSource {
 public:
  BatchSplit(std::shared_ptr<BatchSource> global, int num, int index)
      : global_(std::move(global)), num_(num), index_(index) {}
  void reset() override { global_->reset(); }
  std::int64_t cardinality() const override { return global_->cardinality(); }
  std::optional<TensorArg> next() override {
    std::optional<TensorArg> batch = global_->next();
    if (!batch) return batch;
    const std::vector<Tensor>& ts = batch->tensors();
    if (ts.empty() || !ts[0].defined() || ts[0].ndim() == 0) return batch;
    const auto [b, e] = engine::shard_range(0, ts[0].shape()[0], num_, index_);
    std::vector<Tensor> parts;
    for (const Tensor& t : ts) parts.push_back(t.defined() && t.ndim() > 0 ? t.slice(b, e) : t);
    if (batch->names().empty()) return TensorArg(std::move(parts));
    std::map<std::string, Tensor> named;
    for (std::size_t i = 0; i < parts.size(); ++i) named[batch->names()[i]] = parts[i];
    return TensorArg(named);
  }

 private:
  std::shared_ptr<BatchSource> global_;
  int num_, index_;
};

// The loss trackers a step updates: the total's and, with several outputs, each output's.
std::vector<engine::LossTracker*> trackers_of(ModelImpl& m) {
  std::vector<engine::LossTracker*> out{&m.compiled->loss_tracker};
  for (auto& t : m.compiled->output_loss_trackers) out.push_back(&t);
  return out;
}

double tracker_sum(const engine::LossTracker& t) { return t.sum().defined() ? t.sum().item() : 0.0; }

}  // namespace

class DataParallelImpl final : public engine::Distribution, public std::enable_shared_from_this<DataParallelImpl> {
 public:
  explicit DataParallelImpl(DataParallelOptions options)
      : options_(options), comm_(world_communicator(options.timeout_seconds)) {
    if (options_.bucket_bytes < 4) throw ValueError("DataParallel: bucket_bytes must be at least 4");
  }

  Communicator& comm() const { return *comm_; }
  const DataParallelOptions& options() const { return options_; }
  bool is_chief() const override { return comm_->rank() == 0; }
  void begin_fit() override { comm_->next_generation(); }

  std::shared_ptr<BatchSource> shard(std::shared_ptr<BatchSource> global) override {
    if (!options_.auto_shard || comm_->size() == 1) return global;
    if (auto* rows = dynamic_cast<engine::RowShardable*>(global.get())) {
      rows->shard_rows(comm_->size(), comm_->rank());  // reads only this replica's rows
      return global;
    }
    return std::make_shared<BatchSplit>(std::move(global), comm_->size(), comm_->rank());
  }

  void broadcast_state(ModelImpl& m, TrainingState& state) override {
    for (Tensor w : m.weights()) w.assign(broadcast_tensor(w));
    Optimizer& opt = *m.compiled->optimizer;
    if (opt.built()) {
      std::vector<Tensor> values;
      for (const auto& [name, v] : opt.variables()) values.push_back(broadcast_tensor(v));
      opt.set_variables(values);
    }
    std::int64_t packed[4] = {state.epoch, state.step, static_cast<std::int64_t>(state.shuffle_key),
                              state.skip_nonfinite_steps ? 1 : 0};
    comm_->broadcast(packed, sizeof packed, 0);
    state.epoch = static_cast<int>(packed[0]);
    state.step = packed[1];
    state.shuffle_key = static_cast<std::uint64_t>(packed[2]);
    state.skip_nonfinite_steps = packed[3] != 0;
  }

  void begin_step(ModelImpl& m, const Batch& local) override {
    const double samples = engine::batch_samples(local);
    std::vector<char> all;
    comm_->allgather(&samples, std::vector<std::size_t>(static_cast<std::size_t>(comm_->size()), sizeof(double)), all);
    rows_.assign(static_cast<std::size_t>(comm_->size()), 0);
    double total = 0;
    for (std::size_t r = 0; r < rows_.size(); ++r) {
      double v = 0;
      std::memcpy(&v, all.data() + r * sizeof(double), sizeof(double));
      rows_[r] = static_cast<std::int64_t>(v);
      total += v;
    }
    share_ = samples / total;
    snapshot_.clear();
    for (const engine::LossTracker* t : trackers_of(m)) {
      snapshot_.push_back(tracker_sum(*t));
      snapshot_.push_back(t->count());
    }
  }

  void end_step(ModelImpl& m) override {
    const std::vector<engine::LossTracker*> trackers = trackers_of(m);
    std::vector<double> delta;
    for (std::size_t i = 0; i < trackers.size(); ++i) {
      delta.push_back(tracker_sum(*trackers[i]) - snapshot_[2 * i]);
      delta.push_back(trackers[i]->count() - snapshot_[2 * i + 1]);
    }
    comm_->allreduce_sum(delta.data(), delta.size());
    for (std::size_t i = 0; i < trackers.size(); ++i)
      trackers[i]->set_state(snapshot_[2 * i] + delta[2 * i], snapshot_[2 * i + 1] + delta[2 * i + 1]);
  }

  // This replica's loss is the mean over its rows; weighted by its share of the global batch,
  // the gradients' sum over the replicas is the gradient of the global batch's mean.
  Tensor scale_loss(const Tensor& loss) override { return share_ == 1.0 ? loss : loss * share_; }

  void reduce_gradients(std::vector<Tensor>& grads) override;
  void gather_metric_inputs(engine::MetricInputs& in) override;

  void failed(const std::exception& e) override {
    if (dynamic_cast<const PeerFailure*>(&e)) return;  // the others know already
    comm_->announce_failure(e.what());
  }

 private:
  // Rank 0's values of `t`, as a host tensor.
  Tensor broadcast_tensor(const Tensor& t) {
    Tensor h = host_copy(t);
    if (h.nbytes() > 0) comm_->broadcast(h.raw_data(), h.nbytes(), 0);
    return h;
  }

  DataParallelOptions options_;
  std::shared_ptr<Communicator> comm_;
  std::vector<std::int64_t> rows_;  // each replica's rows in this step
  double share_ = 1.0;              // this replica's rows / the global batch's
  std::vector<double> snapshot_;    // the loss trackers' (sum, count) before the step
};

// Gradients go in buckets, last layer first (the order backward finishes them, as DDP fills
// its buckets), each bucket's all-reduce started as soon as it is packed, so that packing the
// next overlaps it. The autograd has no per-tensor hook yet, so the buckets start after backward
// has finished rather than during it.
void DataParallelImpl::reduce_gradients(std::vector<Tensor>& grads) {
  if (comm_->size() == 1) return;
  struct Bucket {
    bool f64 = false;
    std::vector<char> data;
    std::vector<std::pair<std::size_t, Tensor>> members;  // grads index, host copy
    std::unique_ptr<Communicator::Request> request;
  };
  std::vector<Bucket> buckets;
  Bucket open32, open64;
  open64.f64 = true;
  auto launch = [&](Bucket& b) {
    if (b.members.empty()) return;
    const std::size_t elem = b.f64 ? sizeof(double) : sizeof(float);
    b.request = comm_->iallreduce_sum(b.data.data(), b.data.size() / elem, b.f64);
    const bool f64 = b.f64;
    buckets.push_back(std::move(b));
    b = Bucket();
    b.f64 = f64;
  };
  for (std::size_t k = grads.size(); k-- > 0;) {
    const Tensor& g = grads[k];
    if (!g.defined()) continue;
    if (g.dtype() != float32 && g.dtype() != float64)
      throw TypeError("DataParallel: gradients of dtype " + std::string(dtype_name(g.dtype())) +
                      " cannot be all-reduced (float32 and float64 only)");
    Bucket& b = g.dtype() == float64 ? open64 : open32;
    Tensor h = host_copy(g);
    if (!b.data.empty() && b.data.size() + h.nbytes() > options_.bucket_bytes) launch(b);
    const std::size_t at = b.data.size();
    b.data.resize(at + h.nbytes());
    std::memcpy(b.data.data() + at, h.raw_data(), h.nbytes());
    b.members.emplace_back(k, std::move(h));
  }
  launch(open32);
  launch(open64);
  for (Bucket& b : buckets) {
    b.request->wait();
    std::size_t at = 0;
    for (auto& [k, h] : b.members) {
      std::memcpy(h.raw_data(), b.data.data() + at, h.nbytes());
      at += h.nbytes();
      grads[k].assign(h);
    }
  }
}

// Every replica's rows of each metric input, concatenated in rank order: the global batch's rows
// in the order one process would see them.
void DataParallelImpl::gather_metric_inputs(engine::MetricInputs& in) {
  if (comm_->size() == 1) return;
  const std::size_t n = rows_.size();
  const auto r_self = static_cast<std::size_t>(comm_->rank());
  std::vector<Tensor*> targets;
  for (auto* list : {&in.y, &in.preds, &in.sample_weight, &in.masks})
    for (Tensor& t : *list)
      if (t.defined() && t.ndim() > 0 && t.shape()[0] == rows_[r_self]) targets.push_back(&t);
  std::vector<Tensor> local;
  std::vector<std::size_t> row_bytes, per_rank(n, 0);
  std::vector<char> mine;
  for (Tensor* t : targets) {
    local.push_back(host_copy(*t));
    row_bytes.push_back(rows_[r_self] > 0 ? local.back().nbytes() / static_cast<std::size_t>(rows_[r_self]) : 0);
    for (std::size_t r = 0; r < n; ++r) per_rank[r] += row_bytes.back() * static_cast<std::size_t>(rows_[r]);
    const char* p = static_cast<const char*>(local.back().raw_data());
    mine.insert(mine.end(), p, p + local.back().nbytes());
  }
  std::vector<char> all;
  comm_->allgather(mine.data(), per_rank, all);
  std::int64_t total = 0;
  for (std::int64_t r : rows_) total += r;
  std::vector<std::size_t> rank_at(n, 0);  // where each rank's part starts in `all`
  for (std::size_t r = 1; r < n; ++r) rank_at[r] = rank_at[r - 1] + per_rank[r - 1];
  for (std::size_t i = 0; i < targets.size(); ++i) {
    std::vector<char> joined;
    for (std::size_t r = 0; r < n; ++r) {
      const std::size_t bytes = row_bytes[i] * static_cast<std::size_t>(rows_[r]);
      joined.insert(joined.end(), all.begin() + static_cast<std::ptrdiff_t>(rank_at[r]),
                    all.begin() + static_cast<std::ptrdiff_t>(rank_at[r] + bytes));
      rank_at[r] += bytes;
    }
    Shape shape = local[i].shape();
    shape[0] = total;
    *targets[i] = Tensor::from_data(joined.data(), shape, local[i].dtype()).to(targets[i]->device());
  }
}

// --- the public API --------------------------------------------------------------------------------

namespace {
DataParallel*& active_slot() {
  static DataParallel* active = nullptr;
  return active;
}
}  // namespace

DataParallel::DataParallel(DataParallelOptions options)
    : impl_(std::make_shared<DataParallelImpl>(options)) {}

DataParallel::~DataParallel() {
  if (active_slot() == this) set_distribution(nullptr);
}

int DataParallel::rank() const { return impl_->comm().rank(); }
int DataParallel::num_replicas() const { return impl_->comm().size(); }
const DataParallelOptions& DataParallel::options() const { return impl_->options(); }
void DataParallel::barrier() const { impl_->comm().barrier(); }

DataParallel::Scope DataParallel::scope() {
  set_distribution(*this);
  return Scope();
}

DataParallel::Scope::~Scope() { set_distribution(nullptr); }

void set_distribution(DataParallel& strategy) {
  active_slot() = &strategy;
  engine::set_active_distribution(strategy.impl().shared_from_this());
}

void set_distribution(std::nullptr_t) {
  active_slot() = nullptr;
  engine::set_active_distribution(nullptr);
}

DataParallel* distribution() { return active_slot(); }

}  // namespace lamina::distribute
