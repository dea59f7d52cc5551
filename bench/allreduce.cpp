// SPDX-License-Identifier: Apache-2.0
// All-reduce bandwidth of the MPI the data-parallel trainer uses (src/distribute), at the gradient
// size of bench/fashion_mnist.cpp's MLP (535,818 float32: 2.14 MB) and a sweep around it:
//
//   mpirun -np 2 allreduce [--iters N]
//
// Prints, per size, the time of an in-place float32 sum (the median of N) and the bandwidths:
// algorithm bandwidth = bytes / time; bus bandwidth = 2(N-1)/N · bytes / time, what a ring
// all-reduce moves per rank (comparable across rank counts).
#define OMPI_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int iters = 50;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--iters") == 0) iters = std::atoi(argv[i + 1]);
  const long mlp = 784L * 512 + 512 + 512L * 256 + 256 + 256L * 10 + 10;  // the MLP's parameters
  const std::vector<long> counts = {1024, 16384, 131072, mlp, 4 * mlp, 6553600};
  if (rank == 0)
    std::printf("| floats | MB | median µs | algorithm GB/s | bus GB/s |\n|---:|---:|---:|---:|---:|\n");
  for (long n : counts) {
    std::vector<float> buf(static_cast<std::size_t>(n), 1.0f);
    std::vector<double> times;
    for (int i = 0; i < iters + 5; ++i) {
      MPI_Barrier(MPI_COMM_WORLD);
      const double t0 = MPI_Wtime();
      MPI_Allreduce(MPI_IN_PLACE, buf.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      const double t = MPI_Wtime() - t0;
      if (i >= 5) times.push_back(t);  // after warm-up
    }
    // The slowest rank's time is the collective's.
    std::vector<double> slowest(times.size());
    MPI_Reduce(times.data(), slowest.data(), static_cast<int>(times.size()), MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
      std::sort(slowest.begin(), slowest.end());
      const double t = slowest[slowest.size() / 2];
      const double bytes = static_cast<double>(n) * sizeof(float);
      std::printf("| %ld%s | %.2f | %.1f | %.2f | %.2f |\n", n, n == mlp ? " (MLP)" : "", bytes / 1e6, t * 1e6,
                  bytes / t / 1e9, 2.0 * (size - 1) / size * bytes / t / 1e9);
      std::printf("RESULT allreduce floats=%ld seconds=%.6g\n", n, t);
    }
  }
  MPI_Finalize();
}
