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

  // A step costs one synchronisation: the sample counts and the loss trackers' increments travel
  // with the gradients' all-reduce (a test step's, with the metric inputs' gather or in end_step).
  void begin_step(ModelImpl& m, const Batch& local) override {
    local_rows_ = engine::batch_samples(local);
    reduced_ = false;
    snapshot_.clear();
    for (const engine::LossTracker* t : trackers_of(m)) {
      snapshot_.push_back(tracker_sum(*t));
      snapshot_.push_back(t->count());
    }
    model_ = &m;
  }

  void end_step(ModelImpl& m) override {
    // A step that changed its trackers after the reduction (a custom train_step) reduces again;
    // the counts tell, and they change alike on every replica.
    bool changed = !reduced_;
    const std::vector<engine::LossTracker*> trackers = trackers_of(m);
    for (std::size_t i = 0; !changed && i < trackers.size(); ++i) changed = trackers[i]->count() != reduced_counts_[i];
    if (changed) {
      launch_meta();
      finish_meta();
    }
    model_ = nullptr;
  }

  // This replica's loss is the mean over its rows: times the rows, the gradients are sums, and
  // their sum over the replicas divided by the global batch's rows is the gradient of the
  // global batch's mean.
  Tensor scale_loss(const Tensor& loss) override { return comm_->size() == 1 ? loss : loss * local_rows_; }

  void reduce_gradients(std::vector<Tensor>& grads) override;
  void gather_metric_inputs(engine::MetricInputs& in) override;

  bool on_every_replica(bool local) override {
    double bad = local ? 0.0 : 1.0;
    comm_->allreduce_sum(&bad, 1);
    return bad == 0.0;
  }

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

  // Starts the all-reduce of this step's counts: each replica's rows (its own slot) and the loss
  // trackers' increments since begin_step.
  void launch_meta() {
    const std::size_t n = static_cast<std::size_t>(comm_->size());
    meta_.assign(n, 0.0);
    meta_[static_cast<std::size_t>(comm_->rank())] = local_rows_;
    if (model_) {
      const std::vector<engine::LossTracker*> trackers = trackers_of(*model_);
      for (std::size_t i = 0; i < trackers.size(); ++i) {
        meta_.push_back(tracker_sum(*trackers[i]) - snapshot_[2 * i]);
        meta_.push_back(trackers[i]->count() - snapshot_[2 * i + 1]);
      }
    }
    meta_request_ = comm_->iallreduce_sum(meta_.data(), meta_.size(), true);
  }

  // Waits for the counts: every replica's rows, and the trackers summed over the replicas.
  void finish_meta() {
    meta_request_->wait();
    meta_request_.reset();
    const std::size_t n = static_cast<std::size_t>(comm_->size());
    rows_.assign(n, 0);
    global_rows_ = 0;
    for (std::size_t r = 0; r < n; ++r) {
      rows_[r] = static_cast<std::int64_t>(meta_[r]);
      global_rows_ += meta_[r];
    }
    reduced_counts_.clear();
    if (model_) {
      const std::vector<engine::LossTracker*> trackers = trackers_of(*model_);
      for (std::size_t i = 0; i < trackers.size() && n + 2 * i + 1 < meta_.size(); ++i) {
        trackers[i]->set_state(snapshot_[2 * i] + meta_[n + 2 * i], snapshot_[2 * i + 1] + meta_[n + 2 * i + 1]);
        reduced_counts_.push_back(trackers[i]->count());
        snapshot_[2 * i] = tracker_sum(*trackers[i]);  // what a second reduction adds to
        snapshot_[2 * i + 1] = trackers[i]->count();
      }
    }
    reduced_ = true;
  }

  DataParallelOptions options_;
  std::shared_ptr<Communicator> comm_;
  ModelImpl* model_ = nullptr;       // the model of the step under way
  double local_rows_ = 0;            // this replica's rows in this step
  double global_rows_ = 0;           // every replica's, summed
  std::vector<std::int64_t> rows_;   // each replica's rows (after the counts' reduction)
  std::vector<double> snapshot_;     // the loss trackers' (sum, count) before the step
  std::vector<double> meta_;         // the counts in flight
  std::unique_ptr<Communicator::Request> meta_request_;
  bool reduced_ = false;             // the counts of this step are known
  std::vector<double> reduced_counts_;
  std::vector<char> buckets_[2];     // reused from step to step (no page faults per step)
};

// Gradients go in buckets, last layer first (the order backward finishes them, as DDP fills
// its buckets), each bucket's all-reduce started as soon as it is packed, so that packing the
// next overlaps it; the counts go first. The autograd has no per-tensor hook yet, so the buckets
// start after backward has finished rather than during it.
void DataParallelImpl::reduce_gradients(std::vector<Tensor>& grads) {
  if (comm_->size() == 1) return;
  launch_meta();
  struct Member {
    std::size_t grad, offset;
    Tensor host;
  };
  struct Bucket {
    bool f64 = false;
    std::size_t begin = 0, end = 0;  // bytes of the staging buffer
    std::vector<Member> members;
    std::unique_ptr<Communicator::Request> request;
  };
  // One staging buffer per dtype, sized once for all the gradients.
  std::size_t total[2] = {0, 0};
  for (const Tensor& g : grads) {
    if (!g.defined()) continue;
    if (g.dtype() != float32 && g.dtype() != float64)
      throw TypeError("DataParallel: gradients of dtype " + std::string(dtype_name(g.dtype())) +
                      " cannot be all-reduced (float32 and float64 only)");
    total[g.dtype() == float64 ? 1 : 0] += g.nbytes();
  }
  for (int d = 0; d < 2; ++d)
    if (buckets_[d].size() < total[d]) buckets_[d].resize(total[d]);
  std::vector<Bucket> buckets;
  Bucket open[2];
  open[1].f64 = true;
  auto launch = [&](int d) {
    Bucket& b = open[d];
    if (b.members.empty()) return;
    const std::size_t elem = b.f64 ? sizeof(double) : sizeof(float);
    b.request = comm_->iallreduce_sum(buckets_[d].data() + b.begin, (b.end - b.begin) / elem, b.f64);
    const std::size_t end = b.end;
    buckets.push_back(std::move(b));
    open[d] = Bucket();
    open[d].f64 = d == 1;
    open[d].begin = open[d].end = end;
  };
  for (std::size_t k = grads.size(); k-- > 0;) {
    const Tensor& g = grads[k];
    if (!g.defined()) continue;
    const int d = g.dtype() == float64 ? 1 : 0;
    Bucket& b = open[d];
    // Tensors are contiguous: a host gradient is copied from where it lies.
    Tensor h = g.device() == Device::cpu() ? g : g.to(Device::cpu());
    if (b.end > b.begin && b.end - b.begin + h.nbytes() > options_.bucket_bytes) launch(d);
    Bucket& into = open[d];
    std::memcpy(buckets_[d].data() + into.end, h.raw_data(), h.nbytes());
    const std::size_t bytes = h.nbytes();
    into.members.push_back({k, into.end, std::move(h)});
    into.end += bytes;
  }
  launch(0);
  launch(1);
  finish_meta();
  for (Bucket& b : buckets) {
    b.request->wait();
    const int d = b.f64 ? 1 : 0;
    for (Member& mem : b.members) {
      const Tensor sum = Tensor::from_data(buckets_[d].data() + mem.offset, mem.host.shape(), mem.host.dtype());
      grads[mem.grad].assign(sum / global_rows_);
    }
  }
}

// Every replica's rows of each metric input, concatenated in rank order: the global batch's rows
// in the order one process would see them.
void DataParallelImpl::gather_metric_inputs(engine::MetricInputs& in) {
  if (comm_->size() == 1) return;
  if (!reduced_) {  // a test step: the counts (and the trackers) now
    launch_meta();
    finish_meta();
  }
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
