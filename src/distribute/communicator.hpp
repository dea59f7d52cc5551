// SPDX-License-Identifier: Apache-2.0
// src/distribute/communicator.hpp — the collectives data parallelism needs, over one group of
// processes. MPI implements it on host memory (mpi_communicator.cpp); an NCCL implementation for
// device memory would implement the same interface (its ncclUniqueId broadcast over MPI with
// broadcast()), and DataParallel would pick it for tensors on a CUDA device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lamina/errors.hpp"

namespace lamina::distribute {

/// Another rank failed (threw in fit, or stopped answering): thrown on the ranks that learn it.
class PeerFailure : public Error {
 public:
  using Error::Error;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  /// A collective in flight.
  class Request {
   public:
    virtual ~Request() = default;
    /// Blocks until done. Throws PeerFailure when another rank announced a failure, or when
    /// nothing completes within the communicator's timeout.
    virtual void wait() = 0;
    /// Whether it is done, without blocking; lets the collective progress (MPI advances a
    /// non-blocking collective only inside MPI calls), so that it runs while backward goes on.
    virtual bool test() = 0;
  };
  /// Sums `count` float32 (or float64 when `f64`) values of `data` over the ranks, in place,
  /// without blocking. `data` must stay valid until the request is waited for.
  virtual std::unique_ptr<Request> iallreduce_sum(void* data, std::size_t count, bool f64) = 0;
  void allreduce_sum(double* data, std::size_t count) { iallreduce_sum(data, count, true)->wait(); }
  /// Copies root's `bytes` bytes of `data` to every rank.
  virtual void broadcast(void* data, std::size_t bytes, int root) = 0;
  /// Every rank's `bytes[r]` bytes (each rank gives its own `data`, all ranks know `bytes`)
  /// concatenated in rank order into `out`.
  virtual void allgather(const void* data, const std::vector<std::size_t>& bytes, std::vector<char>& out) = 0;
  virtual void barrier() = 0;
  /// Tells the other ranks that this one failed with `message`: their next wait throws
  /// PeerFailure naming this rank.
  virtual void announce_failure(const std::string& message) = 0;
  /// Starts a new run of collectives (a fit): failure notices of earlier runs are dropped (an
  /// error that every rank met alike, such as a refused batch size, leaves such notices).
  virtual void next_generation() = 0;
};

/// The communicator over every process of the MPI job (MPI initialised if nobody has; finalised
/// at exit, or aborted there after a failure so that no rank hangs in MPI_Finalize). Throws
/// ValueError when lamina was built without MPI.
std::shared_ptr<Communicator> world_communicator(double timeout_seconds);

}  // namespace lamina::distribute
