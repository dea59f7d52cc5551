// SPDX-License-Identifier: Apache-2.0
// lamina/distribute.hpp — data-parallel training over processes (Keras 3's keras.distribution):
// one script, started N times (`mpirun -np N ./train`), trains the model that one process would
// train with the same global batch.
//
//   distribute::DataParallel strategy;        // reads rank and size from MPI
//   model.fit(x, y, {.batch_size = 256, .distribution = strategy});  // 256 samples per step over all ranks
//   // or: distribute::set_distribution(strategy) (Keras's set_distribution) for every later call
//
// Built with LAMINA_WITH_MPI (ON when CMake finds MPI); without it DataParallel's constructor
// throws ValueError. The transport sits behind an internal Communicator interface (MPI today; an
// NCCL implementation for device memory would plug in there, its unique id broadcast over MPI).
#pragma once

#include <cstddef>
#include <memory>
#include <typeindex>

#include "lamina/callbacks/callback.hpp"

namespace lamina::distribute {

struct DataParallelOptions {
  /// Gradients are all-reduced in buckets of at most this many bytes, each a non-blocking
  /// all-reduce (PyTorch DDP's bucket_cap_mb: 25 MiB; as DDP, the first bucket, the last layers'
  /// gradients, holds at most 1 MiB so that it starts early).
  std::size_t bucket_bytes = 25u << 20;
  /// Each bucket's all-reduce starts during backward, as soon as backward has finished its
  /// gradients (buckets in reverse weight order, as DDP). Off: every bucket starts after backward.
  bool overlap_backward = true;
  /// A rank waiting this long on a collective gives up with an error (a peer that hangs).
  double timeout_seconds = 120.0;
  /// fit splits each global batch of its data (arrays or a dataset) over the ranks. Off: each
  /// rank's data is already its own shard (Dataset::shard), and its batches are per rank.
  bool auto_shard = true;
};

class DataParallelImpl;

/// Where the gradients' all-reduce spent this replica's time, summed over the train steps since
/// the strategy was made (or reset_communication_stats).
struct CommunicationStats {
  std::int64_t steps = 0;
  /// From the start of backward to its end.
  double backward_seconds = 0;
  /// From the end of backward until the gradients are reduced: the all-reduce (with its copies)
  /// not hidden behind backward.
  double exposed_seconds = 0;
};

/// Keras 3's DataParallel: every rank holds the whole model; each step, each rank computes its
/// rows of the global batch, the gradients are averaged by all-reduce (weighted by each rank's
/// rows), and every rank applies the same update. fit broadcasts rank 0's weights, optimizer state
/// and position in the data when it starts; the logs (loss, metrics, validation) are those of the
/// global batch on every rank. Initialises MPI (MPI_Init_thread, funneled) if nobody has, and
/// finalises it at exit.
class DataParallel {
 public:
  explicit DataParallel(DataParallelOptions options = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const;
  int num_replicas() const;
  /// Rank 0: the one that writes files and prints.
  bool is_chief() const { return rank() == 0; }
  const DataParallelOptions& options() const;
  /// Waits for every rank.
  void barrier() const;
  CommunicationStats communication_stats() const;
  void reset_communication_stats();

  /// Activates this strategy for fit until the scope ends (Keras: `with distribution.scope()`).
  class Scope {
   public:
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    friend class DataParallel;
    Scope() = default;
  };
  [[nodiscard]] Scope scope();

  DataParallelImpl& impl() const { return *impl_; }

 private:
  std::shared_ptr<DataParallelImpl> impl_;
};

/// Keras's keras.distribution.set_distribution: fit, evaluate and predict run under `strategy`
/// from now on (it must outlive those calls; a call's own `.distribution` option takes
/// precedence). set_distribution(nullptr) goes back to one process.
void set_distribution(DataParallel& strategy);
void set_distribution(std::nullptr_t);
/// The active strategy, or null.
DataParallel* distribution();

/// Wraps a callback so that only rank 0 runs it (a callback that writes files or prints). The
/// progress bar, ModelCheckpoint, CSVLogger, BackupAndRestore, PlotHistory and TensorBoard are
/// rank-0-only already; on resume, BackupAndRestore restores on rank 0 and fit broadcasts what it restored.
std::shared_ptr<Callback> chief_only(std::shared_ptr<Callback> callback);
/// Makes every callback of class `type` (exactly) rank-0-only (a user's callback that writes).
void register_chief_only(std::type_index type);
/// Whether fit under a distribution runs `callback` on rank 0 only.
bool is_chief_only(const Callback& callback);

}  // namespace lamina::distribute
