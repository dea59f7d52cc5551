// SPDX-License-Identifier: Apache-2.0
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <lamina/cuda.hpp>

// With LAMINA_TEST_DEVICE=cuda:N (CTest label cuda) the run is skipped, saying why, where that
// GPU is not visible: exit code 77 is the tests' SKIP_RETURN_CODE.
int main(int argc, char* argv[]) {
  const char* device = std::getenv("LAMINA_TEST_DEVICE");
  if (device && std::string(device).rfind("cuda", 0) == 0) {
    const std::string name(device);
    const auto colon = name.find(':');
    const int index = colon == std::string::npos ? 0 : std::atoi(name.c_str() + colon + 1);
    if (!lamina::cuda::is_built() || lamina::cuda::device_count() <= index) {
      std::printf("SKIPPED: LAMINA_TEST_DEVICE=%s, but %s\n", device,
                  lamina::cuda::is_built() ? "no CUDA device visible with that index"
                                           : "this build of lamina has no CUDA backend");
      return 77;
    }
  }
  return Catch::Session().run(argc, argv);
}
