// SPDX-License-Identifier: Apache-2.0
// lamina_serve: serves a model lamina loads (.keras, .h5) over TensorFlow Serving's REST API.
//
//   lamina_serve --model_name=fashion --model_base_path=/models/fashion --rest_api_port=8501
//
// model_base_path holds numbered version folders (1/, 2/, ...), each with one model file; the
// highest is served and a newer one is picked up while running. SIGINT or SIGTERM stops it
// cleanly (requests in flight are answered first).
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <unistd.h>
#include <string>
#include <thread>

#include <lamina/tensor.hpp>

#include "server.hpp"

namespace {

const char* kUsage = R"(usage: lamina_serve --model_base_path=DIR [options]
  --model_name=NAME                  the NAME in /v1/models/NAME (default: default)
  --model_base_path=DIR              numbered version folders, each with one .keras/.h5/.hdf5 file
  --rest_api_port=N                  HTTP port (default 8501; 0: any free port)
  --rest_api_host=ADDR               address to listen on (default 0.0.0.0)
  --rest_api_num_threads=N           connections served at once (default: 4 per CPU, at least 32)
  --file_system_poll_wait_seconds=S  how often to look for a new version (default 1; 0: never)
  --enable_batching[=true|false]     merge concurrent requests into one predict (default false)
  --max_batch_size=N                 rows per merged predict (default 32)
  --batch_timeout_micros=N           how long a batch waits to fill (default 1000)
  --max_body_bytes=N                 larger request bodies get 413 (default 67108864)
  --num_threads=N                    lamina's compute threads (default: lamina's)
)";

int signal_pipe[2] = {-1, -1};

void on_signal(int signal) {
  char byte = static_cast<char>(signal);
  [[maybe_unused]] auto written = write(signal_pipe[1], &byte, 1);
}

bool parse_bool(const std::string& flag, const std::string& value) {
  if (value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  throw std::invalid_argument("--" + flag + " takes true or false, not '" + value + "'");
}

}  // namespace

int main(int argc, char** argv) {
  lamina::serve::ServerOptions options;
  int num_threads = 0;
  std::map<std::string, std::function<void(const std::string&)>> flags{
      {"model_name", [&](const std::string& v) { options.model_name = v; }},
      {"model_base_path", [&](const std::string& v) { options.model_base_path = v; }},
      {"rest_api_port", [&](const std::string& v) { options.rest_api_port = std::stoi(v); }},
      {"rest_api_host", [&](const std::string& v) { options.host = v; }},
      {"rest_api_num_threads", [&](const std::string& v) { options.rest_api_num_threads = std::stoi(v); }},
      {"file_system_poll_wait_seconds", [&](const std::string& v) { options.file_system_poll_wait_seconds = std::stod(v); }},
      {"enable_batching", [&](const std::string& v) { options.enable_batching = parse_bool("enable_batching", v); }},
      {"max_batch_size", [&](const std::string& v) { options.max_batch_size = std::stoll(v); }},
      {"batch_timeout_micros", [&](const std::string& v) { options.batch_timeout_micros = std::stoll(v); }},
      {"max_body_bytes", [&](const std::string& v) { options.max_body_bytes = std::stoull(v); }},
      {"num_threads", [&](const std::string& v) { num_threads = std::stoi(v); }},
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return std::fputs(kUsage, stdout), 0;
    if (arg.rfind("--", 0) != 0) return std::fprintf(stderr, "lamina_serve: unexpected argument '%s'\n%s", argv[i], kUsage), 2;
    auto eq = arg.find('=');
    std::string flag = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    std::string value = eq != std::string::npos ? arg.substr(eq + 1)
                        : flag == "enable_batching"  ? "true"
                        : i + 1 < argc               ? argv[++i]
                                                     : "";
    auto it = flags.find(flag);
    if (it == flags.end()) return std::fprintf(stderr, "lamina_serve: unknown flag --%s\n%s", flag.c_str(), kUsage), 2;
    try {
      it->second(value);
    } catch (const std::exception& e) {
      return std::fprintf(stderr, "lamina_serve: bad value '%s' for --%s\n", value.c_str(), flag.c_str()), 2;
    }
  }
  if (options.model_base_path.empty()) return std::fprintf(stderr, "lamina_serve: --model_base_path is required\n%s", kUsage), 2;
  if (num_threads > 0) lamina::set_num_threads(num_threads);

  // SIGINT and SIGTERM: the handler only writes a byte to a pipe (async-signal-safe), whichever
  // thread the signal lands on (OpenBLAS starts its threads before main, so blocking the signals
  // here would not cover them); a thread of ours reads it and stops the server.
  if (pipe(signal_pipe) != 0) return std::perror("lamina_serve: pipe"), 1;
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  lamina::serve::Server server(options);
  try {
    server.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  std::thread waiter([&] {
    char signal = 0;
    while (read(signal_pipe[0], &signal, 1) < 0 && errno == EINTR) {
    }
    if (signal != 0)
      std::fprintf(stderr, "lamina_serve: %s received, shutting down\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
    server.stop();
  });
  server.wait();
  // Stopped other than by a signal (the listener failed): wake the waiter.
  char none = 0;
  if (write(signal_pipe[1], &none, 1) < 0) std::perror("lamina_serve: write");
  waiter.join();
  return 0;
}
