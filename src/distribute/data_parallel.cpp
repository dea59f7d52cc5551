// SPDX-License-Identifier: Apache-2.0
// DataParallel: the trainer's distribution hooks over a Communicator. Each step: the global
// batch's sample count (to weight this replica's gradients), the gradients summed in buckets of
// non-blocking all-reduces started during backward, the metric inputs gathered (so that every
// metric sees the global batch, whatever its state), and the loss trackers' increments summed.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>

#include "autograd/grad_ready.hpp"

#include "distribute/communicator.hpp"
#include "engine/model_impl.hpp"
#include "engine/trainer.hpp"
#include "lamina/distribute.hpp"
#include "lamina/errors.hpp"
#include "tensor/tensor_impl.hpp"

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

using Clock = std::chrono::steady_clock;
double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// PyTorch DDP's first bucket (its last layers' gradients) is small, so that it starts early.
constexpr std::size_t kFirstBucketBytes = 1u << 20;

bool all_reducible(DType d) { return d == float32 || d == float64; }

}  // namespace

class DataParallelImpl final : public engine::Distribution,
                               public autograd::GradReadyHook,
                               public std::enable_shared_from_this<DataParallelImpl> {
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

  autograd::GradReadyHook* gradients_ready_hook(const std::vector<Tensor>& weights) override;
  void gradient_ready(TensorImpl* leaf) override;
  void reduce_gradients(std::vector<Tensor>& grads) override;
  void gather_metric_inputs(engine::MetricInputs& in) override;
  int num_replicas() const override { return comm_->size(); }
  Tensor all_reduce_sum(const Tensor& t) override;
  std::vector<Tensor> gather_rows(const std::vector<Tensor>& local) override;

  const CommunicationStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

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

  // Every replica's rows of each of `local` (this replica's hold rows_[rank] rows), concatenated in
  // rank order.
  std::vector<Tensor> gather_parts(const std::vector<Tensor>& local, const std::vector<std::int64_t>& rows);

  void plan_buckets(const std::vector<Tensor>& weights);
  void pack(std::size_t k, const Tensor& grad);

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

  // The buckets, fixed for one list of weights (replanned when it changes): each weight's place
  // in the staging buffer, and each bucket's bytes of it (one dtype per bucket).
  struct Slot {
    std::size_t bucket = 0, offset = 0, bytes = 0;
  };
  struct Bucket {
    bool f64 = false;
    std::size_t begin = 0, end = 0, members = 0;
  };
  std::vector<TensorImpl*> planned_for_;  // the weights the plan is for
  std::unordered_map<TensorImpl*, std::size_t> weight_index_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<char> staging_;  // reused from step to step (no page faults per step)
  // This step's: each bucket's weights not yet packed and its all-reduce once started; whether
  // each weight is packed.
  bool in_step_ = false;
  std::vector<std::size_t> waiting_;
  std::vector<std::unique_ptr<Communicator::Request>> requests_;
  std::vector<char> packed_;
  Clock::time_point backward_start_;
  CommunicationStats stats_;
};

// Buckets in reverse weight order (the order backward finishes the gradients, as DDP fills its
// buckets): a new one when the dtype changes or the cap would be passed, each starting 8-byte
// aligned in the staging buffer.
void DataParallelImpl::plan_buckets(const std::vector<Tensor>& weights) {
  bool same = planned_for_.size() == weights.size();
  for (std::size_t i = 0; same && i < weights.size(); ++i) same = planned_for_[i] == weights[i].impl().get();
  if (same) return;
  planned_for_.clear();
  weight_index_.clear();
  slots_.assign(weights.size(), Slot());
  buckets_.clear();
  std::size_t used = 0;
  for (std::size_t k = weights.size(); k-- > 0;) {
    const Tensor& w = weights[k];
    if (!all_reducible(w.dtype()))
      throw TypeError("DataParallel: gradients of dtype " + std::string(dtype_name(w.dtype())) +
                      " cannot be all-reduced (float32 and float64 only)");
    const bool f64 = w.dtype() == float64;
    const std::size_t bytes = w.nbytes();
    const std::size_t cap = buckets_.size() <= 1 ? std::min(kFirstBucketBytes, options_.bucket_bytes) : options_.bucket_bytes;
    if (buckets_.empty() || buckets_.back().f64 != f64 ||
        (buckets_.back().members > 0 && buckets_.back().end - buckets_.back().begin + bytes > cap)) {
      const std::size_t begin = (used + 7) / 8 * 8;
      buckets_.push_back({f64, begin, begin, 0});
    }
    Bucket& b = buckets_.back();
    slots_[k] = {buckets_.size() - 1, b.end, bytes};
    b.end += bytes;
    ++b.members;
    used = b.end;
  }
  if (staging_.size() < used) staging_.resize(used);
  for (const Tensor& w : weights) {
    weight_index_.emplace(w.impl().get(), planned_for_.size());
    planned_for_.push_back(w.impl().get());
  }
}

autograd::GradReadyHook* DataParallelImpl::gradients_ready_hook(const std::vector<Tensor>& weights) {
  if (comm_->size() == 1) return nullptr;
  plan_buckets(weights);
  in_step_ = true;
  waiting_.clear();
  for (const Bucket& b : buckets_) waiting_.push_back(b.members);
  requests_.clear();
  requests_.resize(buckets_.size());
  packed_.assign(slots_.size(), 0);
  backward_start_ = Clock::now();
  return options_.overlap_backward ? this : nullptr;
}

// Copies weight k's gradient (zeros when it has none) into its bucket, and starts the bucket's
// all-reduce once all its weights are in.
void DataParallelImpl::pack(std::size_t k, const Tensor& grad) {
  if (packed_[k]) return;
  packed_[k] = 1;
  const Slot& slot = slots_[k];
  char* at = staging_.data() + slot.offset;
  if (grad.defined()) {
    // Tensors are contiguous: a host gradient is copied from where it lies.
    const Tensor h = grad.device() == Device::cpu() ? grad : grad.to(Device::cpu());
    if (h.nbytes() != slot.bytes) throw ValueError("DataParallel: a gradient does not match its weight's size");
    std::memcpy(at, h.raw_data(), slot.bytes);
  } else {
    std::memset(at, 0, slot.bytes);
  }
  if (--waiting_[slot.bucket] > 0) return;
  const Bucket& b = buckets_[slot.bucket];
  const std::size_t elem = b.f64 ? sizeof(double) : sizeof(float);
  requests_[slot.bucket] = comm_->iallreduce_sum(staging_.data() + b.begin, (b.end - b.begin) / elem, b.f64);
}

void DataParallelImpl::gradient_ready(TensorImpl* leaf) {
  const auto it = weight_index_.find(leaf);
  if (it == weight_index_.end()) return;  // a leaf that is not one of the step's weights
  pack(it->second, leaf->grad);
  // MPI advances a non-blocking collective only inside MPI calls: nudge those under way.
  for (const auto& r : requests_)
    if (r) r->test();
}

// What backward did not hand over (every gradient when the overlap is off) is packed now, in the
// buckets' order; the counts go with them. Then the sums, divided by the global batch's rows.
void DataParallelImpl::reduce_gradients(std::vector<Tensor>& grads) {
  if (comm_->size() == 1) return;
  const Clock::time_point backward_end = Clock::now();
  if (!in_step_ || grads.size() != slots_.size())
    throw ValueError("DataParallel: gradients reduced without the step's weights (a step must compute them with "
                     "the trainer's compute_gradients)");
  in_step_ = false;
  launch_meta();
  for (std::size_t k = grads.size(); k-- > 0;) pack(k, grads[k]);
  finish_meta();
  for (auto& r : requests_) r->wait();
  for (std::size_t k = 0; k < grads.size(); ++k) {
    if (!grads[k].defined()) continue;  // no gradient on any replica: the optimizer skips it
    const Tensor sum = Tensor::from_data(staging_.data() + slots_[k].offset, grads[k].shape(), grads[k].dtype());
    grads[k].assign(sum / global_rows_);
  }
  ++stats_.steps;
  stats_.backward_seconds += seconds(backward_end - backward_start_);
  stats_.exposed_seconds += seconds(Clock::now() - backward_end);
}

Tensor DataParallelImpl::all_reduce_sum(const Tensor& t) {
  if (!all_reducible(t.dtype()))
    throw TypeError("DataParallel: a " + std::string(dtype_name(t.dtype())) +
                    " tensor cannot be summed over the replicas (float32 and float64 only)");
  Tensor h = host_copy(t);
  if (h.numel() > 0) comm_->iallreduce_sum(h.raw_data(), static_cast<std::size_t>(h.numel()), t.dtype() == float64)->wait();
  return h.to(t.device());
}

std::vector<Tensor> DataParallelImpl::gather_rows(const std::vector<Tensor>& local) {
  if (comm_->size() == 1) return local;
  const std::size_t n = static_cast<std::size_t>(comm_->size());
  std::int64_t mine = 0;
  for (const Tensor& t : local)
    if (t.defined() && t.ndim() > 0) mine = t.shape()[0];
  std::vector<char> all;
  comm_->allgather(&mine, std::vector<std::size_t>(n, sizeof mine), all);
  std::vector<std::int64_t> rows(n);
  std::memcpy(rows.data(), all.data(), n * sizeof mine);
  return gather_parts(local, rows);
}

// Every replica's rows of each metric input, concatenated in rank order: the global batch's rows
// in the order one process would see them.
void DataParallelImpl::gather_metric_inputs(engine::MetricInputs& in) {
  if (comm_->size() == 1) return;
  if (!reduced_) {  // a test step: the counts (and the trackers) now
    launch_meta();
    finish_meta();
  }
  std::vector<Tensor*> targets;
  std::vector<Tensor> local;
  for (auto* list : {&in.y, &in.preds, &in.sample_weight, &in.masks})
    for (Tensor& t : *list)
      if (t.defined() && t.ndim() > 0 && t.shape()[0] == rows_[static_cast<std::size_t>(comm_->rank())]) {
        targets.push_back(&t);
        local.push_back(t);
      }
  const std::vector<Tensor> global = gather_parts(local, rows_);
  for (std::size_t i = 0; i < targets.size(); ++i) *targets[i] = global[i];
}

std::vector<Tensor> DataParallelImpl::gather_parts(const std::vector<Tensor>& local_in, const std::vector<std::int64_t>& rows) {
  const std::size_t n = rows.size();
  const auto r_self = static_cast<std::size_t>(comm_->rank());
  std::vector<Tensor> local;
  std::vector<std::size_t> row_bytes, per_rank(n, 0);
  std::vector<char> mine;
  for (const Tensor& t : local_in) {
    local.push_back(host_copy(t));
    row_bytes.push_back(rows[r_self] > 0 ? local.back().nbytes() / static_cast<std::size_t>(rows[r_self]) : 0);
    for (std::size_t r = 0; r < n; ++r) per_rank[r] += row_bytes.back() * static_cast<std::size_t>(rows[r]);
    const char* p = static_cast<const char*>(local.back().raw_data());
    mine.insert(mine.end(), p, p + local.back().nbytes());
  }
  std::vector<char> all;
  comm_->allgather(mine.data(), per_rank, all);
  std::int64_t total = 0;
  for (std::int64_t r : rows) total += r;
  std::vector<std::size_t> rank_at(n, 0);  // where each rank's part starts in `all`
  for (std::size_t r = 1; r < n; ++r) rank_at[r] = rank_at[r - 1] + per_rank[r - 1];
  std::vector<Tensor> out;
  for (std::size_t i = 0; i < local.size(); ++i) {
    std::vector<char> joined;
    for (std::size_t r = 0; r < n; ++r) {
      const std::size_t bytes = row_bytes[i] * static_cast<std::size_t>(rows[r]);
      joined.insert(joined.end(), all.begin() + static_cast<std::ptrdiff_t>(rank_at[r]),
                    all.begin() + static_cast<std::ptrdiff_t>(rank_at[r] + bytes));
      rank_at[r] += bytes;
    }
    Shape shape = local[i].shape();
    shape[0] = total;
    out.push_back(Tensor::from_data(joined.data(), shape, local[i].dtype()).to(local_in[i].device()));
  }
  return out;
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
CommunicationStats DataParallel::communication_stats() const { return impl_->stats(); }
void DataParallel::reset_communication_stats() { impl_->reset_stats(); }

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

namespace lamina::engine {
std::shared_ptr<Distribution> distribution_of(distribute::DataParallel& strategy) {
  return strategy.impl().shared_from_this();
}
}  // namespace lamina::engine
