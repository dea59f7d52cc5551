// SPDX-License-Identifier: Apache-2.0
// lamina_serve: TensorFlow Serving's REST API over cpp-httplib for one model.
//   POST /v1/models/NAME[/versions/V]:predict   {"instances": ...} or {"inputs": ...}
//   GET  /v1/models/NAME[/versions/V]           version status
//   GET  /v1/models/NAME[/versions/V]/metadata  the serving_default signature
// Errors are {"error": "..."}: 400 for a malformed body or wrong shapes, 404 for an unknown model,
// version or path, 413 for a body over max_body_bytes, 500 for a failure of the model itself.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace httplib {
class Server;
struct Request;
struct Response;
}

namespace lamina::serve {

class ModelManager;
class Batcher;

struct ServerOptions {
  std::string model_name = "default";
  std::string model_base_path{};
  std::string host = "0.0.0.0";
  int rest_api_port = 8501;  ///< 0: any free port (see Server::port)
  int rest_api_num_threads = 0;  ///< connections served at once; 0: four per CPU, at least 32
  double file_system_poll_wait_seconds = 1;  ///< <= 0: load once, never poll
  bool enable_batching = false;
  std::int64_t max_batch_size = 32;
  std::int64_t batch_timeout_micros = 1000;
  std::size_t max_body_bytes = std::size_t{64} << 20;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();  ///< stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Loads the newest version (serving none until one appears, as TF Serving does), binds the
  /// port and serves on background threads. Throws std::runtime_error when the port cannot be
  /// bound.
  void start();
  /// The bound port.
  int port() const { return port_; }
  /// Stops listening, lets requests in flight finish, then stops polling. Idempotent.
  void stop();
  /// Blocks until the server stops.
  void wait();
  /// The batcher (null unless enable_batching).
  const Batcher* batcher() const { return batcher_.get(); }

 private:
  void routes();
  void errors();  ///< {"error": ...} bodies for what no route answered
  void status_response(const httplib::Request& req, httplib::Response& res, const std::string& name);

  ServerOptions options_;
  std::unique_ptr<ModelManager> models_;
  std::unique_ptr<Batcher> batcher_;
  std::unique_ptr<httplib::Server> http_;
  std::thread listener_;
  int port_ = 0;
  std::mutex stop_mutex_;  ///< stop() from a signal thread and from the destructor
  std::mutex done_mutex_;
  std::condition_variable done_cv_;
  bool started_ = false;
  bool done_ = false;  ///< the listener has returned
};

}  // namespace lamina::serve
