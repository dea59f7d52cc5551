// SPDX-License-Identifier: Apache-2.0
#include "server.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include <httplib.h>

#include <lamina/errors.hpp>

#include "batcher.hpp"
#include "model_manager.hpp"
#include "predict.hpp"

namespace lamina::serve {
namespace {

void send_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  std::string body = "{\"error\":";
  append_string(body, message);
  send_json(res, status, body + "}");
}

const char* const kTooLarge = "the request body is larger than --max_body_bytes";

/// Runs a handler: BadRequest answers 400, any other failure 500, never a crash.
template <class F>
void answering(httplib::Response& res, F handler) {
  try {
    handler();
  } catch (const BadRequest& e) {
    send_error(res, 400, e.what());
  } catch (const std::exception& e) {
    send_error(res, 500, e.what());
  }
}

/// The version a request names (match group 2 of the routes below), or -1 for "latest".
std::int64_t requested_version(const httplib::Request& req) {
  if (req.matches.size() < 3 || req.matches[2].length() == 0) return -1;
  auto text = req.matches[2].str();
  if (text.size() > 18) throw BadRequest("version " + text + " is out of range");
  return std::stoll(text);
}

}  // namespace

Server::Server(ServerOptions options) : options_(std::move(options)) {}

Server::~Server() { stop(); }

void Server::start() {
  // httplib serves a connection on one pool thread from its first request to its close: the
  // pool bounds the clients served at once, so it is not kept as small as the CPU count.
  if (options_.rest_api_num_threads <= 0)
    options_.rest_api_num_threads = std::max(32, 4 * static_cast<int>(std::thread::hardware_concurrency()));
  models_ = std::make_unique<ModelManager>(options_.model_name, options_.model_base_path);
  models_->start(options_.file_system_poll_wait_seconds);
  if (options_.enable_batching)
    batcher_ = std::make_unique<Batcher>(BatchingOptions{options_.max_batch_size, options_.batch_timeout_micros});
  http_ = std::make_unique<httplib::Server>();
  int threads = options_.rest_api_num_threads;
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  http_->set_payload_max_length(options_.max_body_bytes);
  // A kept-alive connection holds one pool thread between its requests: more requests per
  // connection than httplib's 5 spare clients the reconnections; the cap and the timeout hand the
  // thread to a waiting connection.
  http_->set_keep_alive_max_count(100);
  http_->set_keep_alive_timeout(2);
  // httplib writes the headers and the body separately: with Nagle's algorithm the body waits
  // for the client's delayed ACK (40 ms per request on Linux).
  http_->set_tcp_nodelay(true);
  routes();
  errors();
  port_ = options_.rest_api_port == 0 ? http_->bind_to_any_port(options_.host)
                                      : (http_->bind_to_port(options_.host, options_.rest_api_port) ? options_.rest_api_port : -1);
  if (port_ < 0) {
    models_->stop();
    throw std::runtime_error("lamina_serve: cannot listen on " + options_.host + ":" +
                             std::to_string(options_.rest_api_port));
  }
  {
    std::lock_guard lock(done_mutex_);
    started_ = true;
  }
  listener_ = std::thread([this] {
    http_->listen_after_bind();
    std::lock_guard lock(done_mutex_);
    done_ = true;
    done_cv_.notify_all();
  });
  std::fprintf(stderr, "lamina_serve: REST API at %s:%d, model '%s' from %s\n", options_.host.c_str(), port_,
               options_.model_name.c_str(), options_.model_base_path.c_str());
}

void Server::stop() {
  std::lock_guard lock(stop_mutex_);
  if (http_) http_->stop();
  if (listener_.joinable()) listener_.join();
  batcher_.reset();
  if (models_) models_->stop();
}

void Server::wait() {
  std::unique_lock lock(done_mutex_);
  done_cv_.wait(lock, [this] { return done_ || !started_; });
}

void Server::routes() {
  const std::string& name = options_.model_name;
  // The served version for a request, or a 404 as TF Serving words it.
  auto servable_for = [this, name](const httplib::Request& req, httplib::Response& res) -> std::shared_ptr<Servable> {
    std::string model = req.matches[1].str();
    std::int64_t version = requested_version(req);
    auto servable = model == name ? models_->current() : nullptr;
    if (servable && (version < 0 || version == servable->version)) return servable;
    send_error(res, 404, "Servable not found for request: " +
                             (version < 0 ? "Latest(" + model + ")" : "Specific(" + model + ", " + std::to_string(version) + ")"));
    return nullptr;
  };

  // The body is read here rather than by httplib, which would parse a body sent as curl -d sends
  // it (application/x-www-form-urlencoded, as TF Serving's own examples do) as a form, and refuse
  // it past 8 KiB. The --max_body_bytes limit still applies (413).
  http_->Post(R"(/v1/models/([^/:]+)(?:/versions/(\d+))?:(\w+))",
              [this, servable_for](const httplib::Request& req, httplib::Response& res,
                                   const httplib::ContentReader& read_body) {
                std::string body;
                std::size_t limit = options_.max_body_bytes;
                bool read = read_body([&body, limit](const char* data, std::size_t size) {
                  if (body.size() + size > limit) return false;
                  body.append(data, size);
                  return true;
                });
                if (!read) {
                  // httplib refuses a declared length past the limit before reading anything.
                  auto length = req.get_header_value("Content-Length");
                  bool over = body.size() >= limit || (!length.empty() && std::strtoull(length.c_str(), nullptr, 10) > limit);
                  return send_error(res, over ? 413 : 400, over ? kTooLarge : "the request body could not be read");
                }
                answering(res, [&] {
                  if (req.matches[3] != "predict") {
                    std::string message = "'";
                    message.append(req.matches[3].str()).append("' is not served: lamina_serve serves predict");
                    return send_error(res, 400, message);
                  }
                  if (auto servable = servable_for(req, res))
                    send_json(res, 200, predict_response(servable, body, batcher_.get()));
                });
              });

  http_->Get(R"(/v1/models/([^/:]+)(?:/versions/(\d+))?/metadata)",
             [this, servable_for, name](const httplib::Request& req, httplib::Response& res) {
               answering(res, [&] {
                 if (auto servable = servable_for(req, res)) send_json(res, 200, metadata_response(name, *servable));
               });
             });

  http_->Get(R"(/v1/models/([^/:]+)(?:/versions/(\d+))?)",
             [this, name](const httplib::Request& req, httplib::Response& res) {
               answering(res, [&] { status_response(req, res, name); });
             });
}

void Server::status_response(const httplib::Request& req, httplib::Response& res, const std::string& name) {
  std::string model = req.matches[1].str();
  std::int64_t version = requested_version(req);
  auto all = model == name ? models_->status() : std::vector<VersionStatus>{};
  std::string body = "{\"model_version_status\":[";
  bool any = false;
  for (auto& s : all) {
    if (version >= 0 && s.version != version) continue;
    body += any ? ",{" : "{";
    any = true;
    body += "\"version\":\"" + std::to_string(s.version) + "\",\"state\":\"" + s.state +
            "\",\"status\":{\"error_code\":\"" + s.error_code + "\",\"error_message\":";
    append_string(body, s.error_message);
    body += "}}";
  }
  if (!any)
    return send_error(res, 404, version < 0 ? "Could not find any versions of model " + model
                                            : "Could not find version " + std::to_string(version) + " of model " + model);
  send_json(res, 200, body + "]}");
}

void Server::errors() {
  // What no route answered (404), a body over the limit (413), anything else httplib refuses:
  // TF Serving's {"error": ...} body instead of an empty one.
  http_->set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message = res.status == 404   ? "Malformed request: " + req.method + " " + req.path
                          : res.status == 413 ? kTooLarge
                                              : "HTTP error " + std::to_string(res.status);
    send_error(res, res.status, message);
    return httplib::Server::HandlerResponse::Handled;
  }));
  http_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      send_error(res, 500, e.what());
    } catch (...) {
      send_error(res, 500, "unknown error");
    }
  });
}

}  // namespace lamina::serve
