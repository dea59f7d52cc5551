// SPDX-License-Identifier: Apache-2.0
// The MPI communicator: OpenMPI's non-blocking collectives on host memory, each waited for by
// polling, so that a wait can also notice another rank's failure notice and give up after a
// timeout instead of hanging.
#include "distribute/communicator.hpp"

#if LAMINA_HAVE_MPI

#define OMPI_SKIP_MPICXX 1  // the C API only (no libmpi_cxx)
#include <mpi.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

namespace lamina::distribute {

namespace {

constexpr int kFailureTag = 0x1a3;  // the failure notices (point-to-point, beside the collectives)

// Set when this process learnt of another's failure, timed out, or saw MPI fail: a collective
// may be left in flight, and MPI_Finalize could wait forever for a peer stuck in one, so the job
// is aborted at exit instead. (A rank that only failed itself finalises: the others, told of its
// failure, stop their collectives.)
std::atomic<bool> g_failed{false};

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (g_failed) {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
}

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  g_failed = true;
  throw Error(std::string("distribute: MPI ") + what + " failed: " + std::string(text, static_cast<std::size_t>(len)));
}

int as_count(std::size_t n, const char* what) {
  if (n > static_cast<std::size_t>(INT_MAX)) throw ValueError(std::string("distribute: ") + what + " over 2^31 elements");
  return static_cast<int>(n);
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(double timeout_seconds) : timeout_(timeout_seconds) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      // Funneled: lamina's kernels run threads, but only the thread that called fit talks to MPI.
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      std::atexit(finalize_at_exit);
    }
    // Our own communicator, returning errors rather than aborting, so that a failure becomes an
    // exception naming what failed.
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  class MpiRequest final : public Request {
   public:
    MpiRequest(MpiCommunicator& comm, MPI_Request request, const char* what)
        : comm_(comm), request_(request), what_(what) {}
    void wait() override { comm_.wait_for(request_, what_); }
    bool test() override {
      int done = 0;  // a completed request is MPI_REQUEST_NULL, which tests as done
      check(MPI_Test(&request_, &done, MPI_STATUS_IGNORE), what_);
      return done != 0;
    }

   private:
    MpiCommunicator& comm_;
    MPI_Request request_;
    const char* what_;
  };

  std::unique_ptr<Request> iallreduce_sum(void* data, std::size_t count, bool f64) override {
    MPI_Request request;
    check(MPI_Iallreduce(MPI_IN_PLACE, data, as_count(count, "an all-reduce"), f64 ? MPI_DOUBLE : MPI_FLOAT, MPI_SUM,
                         comm_, &request),
          "MPI_Iallreduce");
    return std::make_unique<MpiRequest>(*this, request, "an all-reduce");
  }

  void broadcast(void* data, std::size_t bytes, int root) override {
    MPI_Request request;
    check(MPI_Ibcast(data, as_count(bytes, "a broadcast"), MPI_BYTE, root, comm_, &request), "MPI_Ibcast");
    wait_for(request, "a broadcast");
  }

  void allgather(const void* data, const std::vector<std::size_t>& bytes, std::vector<char>& out) override {
    std::vector<int> counts(bytes.size()), displs(bytes.size());
    std::size_t total = 0;
    for (std::size_t r = 0; r < bytes.size(); ++r) {
      counts[r] = as_count(bytes[r], "a gather");
      displs[r] = as_count(total, "a gather");
      total += bytes[r];
    }
    out.resize(total);
    MPI_Request request;
    check(MPI_Iallgatherv(data, counts[static_cast<std::size_t>(rank_)], MPI_BYTE, out.data(), counts.data(),
                          displs.data(), MPI_BYTE, comm_, &request),
          "MPI_Iallgatherv");
    wait_for(request, "a gather");
  }

  void barrier() override {
    MPI_Request request;
    check(MPI_Ibarrier(comm_, &request), "MPI_Ibarrier");
    wait_for(request, "a barrier");
  }

  void announce_failure(const std::string& message) override {
    // "<generation> <message>"; the buffer stays alive while the sends are in flight.
    const std::string& notice = notices_.emplace_back(std::to_string(generation_) + " " + message.substr(0, 4000));
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      MPI_Request request;
      // Small enough to go eagerly: it is delivered without the receiver's help.
      if (MPI_Isend(notice.data(), static_cast<int>(notice.size()), MPI_CHAR, r, kFailureTag, comm_, &request) ==
          MPI_SUCCESS)
        MPI_Request_free(&request);
    }
  }

  void next_generation() override { ++generation_; }

  // Polls `request` until done; between polls, looks for a failure notice, and gives up after the
  // timeout.
  void wait_for(MPI_Request& request, const char* what) {
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::duration<double>(timeout_);
    for (std::uint64_t spin = 0;; ++spin) {
      int done = 0;
      check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
      if (done) return;
      if (spin % 16 == 15) {
        poll_failures();
        if (std::chrono::steady_clock::now() > deadline) {
          g_failed = true;
          throw PeerFailure("distribute: rank " + std::to_string(rank_) + " waited " + std::to_string(timeout_) +
                            " s in " + what + " for the other ranks; one of them stopped answering");
        }
        // Past a short spin, sleep between polls: on a machine with more processes than cores
        // a spinning rank takes the core its peer needs to reach the collective.
        if (std::chrono::steady_clock::now() - start > std::chrono::microseconds(100))
          std::this_thread::sleep_for(std::chrono::microseconds(20));
        else
          std::this_thread::yield();
      }
    }
  }

 private:
  void poll_failures() {
    for (;;) {
      int flag = 0;
      MPI_Status status;
      check(MPI_Iprobe(MPI_ANY_SOURCE, kFailureTag, comm_, &flag, &status), "MPI_Iprobe");
      if (!flag) return;
      int n = 0;
      MPI_Get_count(&status, MPI_CHAR, &n);
      std::string notice(static_cast<std::size_t>(n), '\0');
      MPI_Recv(notice.data(), n, MPI_CHAR, status.MPI_SOURCE, kFailureTag, comm_, MPI_STATUS_IGNORE);
      const std::size_t space = notice.find(' ');
      if (space == std::string::npos || std::stoull(notice.substr(0, space)) < generation_) continue;  // stale
      g_failed = true;
      throw PeerFailure("distribute: rank " + std::to_string(status.MPI_SOURCE) + " failed: " + notice.substr(space + 1));
    }
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  double timeout_;
  std::uint64_t generation_ = 0;
  std::deque<std::string> notices_;  // the failure notices sent (in flight)
};

}  // namespace

std::shared_ptr<Communicator> world_communicator(double timeout_seconds) {
  // One per process: MPI is initialised once, and every strategy shares the world.
  static std::mutex mutex;
  static std::shared_ptr<MpiCommunicator> world;
  std::lock_guard<std::mutex> lock(mutex);
  if (!world) world = std::make_shared<MpiCommunicator>(timeout_seconds);
  return world;
}

}  // namespace lamina::distribute

#else

namespace lamina::distribute {

std::shared_ptr<Communicator> world_communicator(double /*timeout_seconds*/) {
  throw ValueError("distribute: lamina was built without MPI (configure with LAMINA_WITH_MPI=ON and an MPI "
                   "implementation such as Debian's libopenmpi-dev)");
}

}  // namespace lamina::distribute

#endif
