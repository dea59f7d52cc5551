// SPDX-License-Identifier: Apache-2.0
// lamina_serve over real HTTP on 127.0.0.1: predictions against Keras's recorded outputs
// (tests/fixtures/make_serve_fixtures.py), TF Serving's status and metadata bodies, version
// folders and hot reload, malformed and oversized requests, concurrent clients with and without
// batching, and the executable's clean shutdown on SIGTERM.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/wait.h>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <lamina/models.hpp>

#include "batcher.hpp"
#include "datasets/temp_dir.hpp"
#include "server.hpp"

extern char** environ;

namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using lamina::testing::TempDir;

const json& fixtures() {
  static const json all = [] {
    std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/serve/serve.json");
    return json::parse(in)["fixtures"];
  }();
  return all;
}

std::string fixture_file(const std::string& name) {
  return std::string(LAMINA_TEST_FIXTURES) + "/serve/" + fixtures()[name]["file"].get<std::string>();
}

/// Puts a fixture's model into `base`/`version`/ the way a deployment should: filled under another
/// name, then renamed into place.
void add_version(const fs::path& base, int version, const std::string& fixture) {
  fs::path staging = base / ("staging." + std::to_string(version));
  fs::create_directories(staging);
  std::string file = fixture_file(fixture);
  fs::copy_file(file, staging / fs::path(file).filename());
  fs::rename(staging, base / std::to_string(version));
}

/// Every number of a nested JSON list, in order.
void flatten(const json& value, std::vector<double>& out) {
  if (value.is_array())
    for (auto& v : value) flatten(v, out);
  else
    out.push_back(value.get<double>());
}

std::vector<double> flat(const json& value) {
  std::vector<double> out;
  flatten(value, out);
  return out;
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double rtol = 1e-5) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(std::abs(got[i] - want[i]) <= rtol * std::abs(want[i]) + 1e-7);
  }
}

struct Running {
  TempDir dir;
  std::unique_ptr<lamina::serve::Server> server;
  explicit Running(lamina::serve::ServerOptions options = {}, const std::string& fixture = "mlp_v1") {
    if (!fixture.empty()) add_version(dir.path, 1, fixture);
    options.model_name = "fashion";
    options.model_base_path = dir.path.string();
    options.host = "127.0.0.1";
    options.rest_api_port = 0;
    server = std::make_unique<lamina::serve::Server>(options);
    server->start();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", server->port());
    c.set_read_timeout(30, 0);
    return c;
  }
  std::pair<int, json> post(const std::string& path, const std::string& body) const {
    auto res = client().Post(path.c_str(), body, "application/json");
    REQUIRE(res);
    INFO(res->body);
    return {res->status, json::parse(res->body)};
  }
  std::pair<int, json> get(const std::string& path) const {
    auto res = client().Get(path.c_str());
    REQUIRE(res);
    INFO(res->body);
    return {res->status, json::parse(res->body)};
  }
};

/// Waits (up to 30 s) until `done` holds.
template <class F>
bool eventually(F done) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace

TEST_CASE("lamina_serve answers a row-format predict with Keras's outputs", "[serve]") {
  Running s;
  const json& f = fixtures()["mlp_v1"];
  auto [status, body] = s.post("/v1/models/fashion:predict", json{{"instances", f["x"]}}.dump());
  REQUIRE(status == 200);
  REQUIRE(body["predictions"].size() == f["x"].size());
  CHECK(body["predictions"][0].size() == 3);
  check_close(flat(body["predictions"]), flat(f["y"]));
  // The version may be named; the columnar form of the same request answers "outputs".
  auto [status2, body2] = s.post("/v1/models/fashion/versions/1:predict",
                                 json{{"inputs", f["x"]}, {"signature_name", "serving_default"}}.dump());
  REQUIRE(status2 == 200);
  check_close(flat(body2["outputs"]), flat(f["y"]));
  // A single-input model also takes each instance as an object keyed by its input name.
  auto [name_status, metadata] = s.get("/v1/models/fashion/metadata");
  REQUIRE(name_status == 200);
  std::string input = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"].begin().key();
  json named = json::array();
  for (auto& row : f["x"]) named.push_back({{input, row}});
  auto [status3, body3] = s.post("/v1/models/fashion:predict", json{{"instances", named}}.dump());
  REQUIRE(status3 == 200);
  check_close(flat(body3["predictions"]), flat(f["y"]));

  // curl -d sends the body as a form (TF Serving's own examples do): still JSON, and past 8 KiB.
  json many = json::array();
  for (int i = 0; i < 100; ++i) many.push_back(f["x"][i % 5]);
  std::string form_body = json{{"instances", many}}.dump();
  REQUIRE(form_body.size() > 8192);
  auto res = s.client().Post("/v1/models/fashion:predict", form_body, "application/x-www-form-urlencoded");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  auto predictions = json::parse(res->body)["predictions"];
  REQUIRE(predictions.size() == 100);
  check_close(flat(predictions[99]), flat(f["y"][4]));
}

TEST_CASE("lamina_serve names each output of a two-input two-output model", "[serve]") {
  Running s({}, "two_io");
  const json& f = fixtures()["two_io"];
  json instances = json::array();
  for (std::size_t i = 0; i < f["image"].size(); ++i) instances.push_back({{"image", f["image"][i]}, {"meta", f["meta"][i]}});
  auto [status, rows] = s.post("/v1/models/fashion:predict", json{{"instances", instances}}.dump());
  REQUIRE(status == 200);
  REQUIRE(rows["predictions"].size() == 3);
  std::vector<double> label, score;
  for (auto& p : rows["predictions"]) {
    REQUIRE(p.size() == 2);
    flatten(p["label"], label);
    flatten(p["score"], score);
  }
  check_close(label, flat(f["label"]));
  check_close(score, flat(f["score"]));

  auto [status2, cols] = s.post("/v1/models/fashion:predict",
                                json{{"inputs", {{"image", f["image"]}, {"meta", f["meta"]}}}}.dump());
  REQUIRE(status2 == 200);
  check_close(flat(cols["outputs"]["label"]), flat(f["label"]));
  check_close(flat(cols["outputs"]["score"]), flat(f["score"]));
  CHECK(cols["outputs"]["score"][0].size() == 1);
}

TEST_CASE("lamina_serve reports version status and the signature as TF Serving does", "[serve]") {
  Running s({}, "two_io");
  auto [status, body] = s.get("/v1/models/fashion");
  REQUIRE(status == 200);
  CHECK(body == json::parse(R"({"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                 "status": {"error_code": "OK", "error_message": ""}}]})"));
  CHECK(s.get("/v1/models/fashion/versions/1").first == 200);

  auto [mstatus, meta] = s.get("/v1/models/fashion/metadata");
  REQUIRE(mstatus == 200);
  CHECK(meta["model_spec"] == json{{"name", "fashion"}, {"signature_name", ""}, {"version", "1"}});
  const json& sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"];
  CHECK(sig["method_name"] == "tensorflow/serving/predict");
  CHECK(sig["inputs"]["image"]["dtype"] == "DT_FLOAT");
  CHECK(sig["inputs"]["image"]["tensor_shape"] ==
        json::parse(R"({"dim": [{"size": "-1", "name": ""}, {"size": "2", "name": ""}, {"size": "3", "name": ""}],
                        "unknown_rank": false})"));
  CHECK(sig["inputs"]["meta"]["tensor_shape"]["dim"][1]["size"] == "4");
  CHECK(sig["outputs"].size() == 2);
  CHECK(sig["outputs"]["label"]["tensor_shape"]["dim"][1]["size"] == "3");
  CHECK(sig["outputs"]["score"]["dtype"] == "DT_FLOAT");

  // Unknown models and versions: 404 with TF Serving's messages.
  auto [s1, e1] = s.get("/v1/models/other");
  CHECK(s1 == 404);
  CHECK(e1["error"] == "Could not find any versions of model other");
  auto [s2, e2] = s.get("/v1/models/fashion/versions/7");
  CHECK(s2 == 404);
  CHECK(e2["error"] == "Could not find version 7 of model fashion");
  auto [s3, e3] = s.post("/v1/models/other:predict", R"({"instances": [1]})");
  CHECK(s3 == 404);
  CHECK(e3["error"] == "Servable not found for request: Latest(other)");
  auto [s4, e4] = s.post("/v1/models/fashion/versions/2:predict", R"({"instances": [1]})");
  CHECK(s4 == 404);
  CHECK(e4["error"] == "Servable not found for request: Specific(fashion, 2)");
  CHECK(s.get("/v1/models/fashion/versions/3/metadata").first == 404);
}

TEST_CASE("lamina_serve picks up a new version folder and swaps it in", "[serve]") {
  Running s({.file_system_poll_wait_seconds = 0.05}, "");
  const json& v1 = fixtures()["mlp_v1"];
  const json& v2 = fixtures()["mlp_v2"];
  std::string request = json{{"instances", v1["x"]}}.dump();
  // Nothing to serve yet: 404, as TF Serving answers before its first version loads.
  CHECK(s.post("/v1/models/fashion:predict", request).first == 404);

  add_version(s.dir.path, 1, "mlp_v1");
  REQUIRE(eventually([&] { return s.post("/v1/models/fashion:predict", request).first == 200; }));
  check_close(flat(s.post("/v1/models/fashion:predict", request).second["predictions"]), flat(v1["y"]));

  // A folder without a model file yet is not a version; an unloadable file is reported and skipped.
  fs::create_directories(s.dir.path / "5");
  std::ofstream(s.dir.path / "5" / "broken.keras") << "not a zip";
  add_version(s.dir.path, 3, "mlp_v2");
  REQUIRE(eventually([&] { return s.get("/v1/models/fashion").second["model_version_status"].size() == 3; }));
  auto [status, body] = s.post("/v1/models/fashion:predict", request);
  REQUIRE(status == 200);
  check_close(flat(body["predictions"]), flat(v2["y"]));
  auto versions = s.get("/v1/models/fashion").second["model_version_status"];
  CHECK(versions[0]["version"] == "5");
  CHECK(versions[0]["state"] == "END");
  CHECK(versions[0]["status"]["error_code"] == "UNKNOWN");
  CHECK(versions[1] == json::parse(R"({"version": "3", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}})"));
  CHECK(versions[2]["version"] == "1");
  CHECK(versions[2]["state"] == "END");
  CHECK(s.post("/v1/models/fashion/versions/1:predict", request).first == 404);
  CHECK(s.post("/v1/models/fashion/versions/3:predict", request).first == 200);
  CHECK(s.get("/v1/models/fashion/metadata").second["model_spec"]["version"] == "3");
}

TEST_CASE("lamina_serve answers malformed requests with 400 and a message", "[serve]") {
  Running s({}, "two_io");
  std::string good = R"({"instances": [{"image": [[1, 2, 3], [4, 5, 6]], "meta": [1, 2, 3, 4]}]})";
  std::string deep(10000, '[');
  struct Case {
    std::string body;
    std::string says;
  };
  std::vector<Case> cases{
      {"{\"instances\": [", "JSON Parse error"},
      {"", "JSON Parse error"},
      {"{\"instances\": [\xff\xfe]}", "JSON Parse error"},  // not UTF-8, quoted in the message
      {"[1, 2]", "must be a JSON object"},
      {R"({"instance": []})", "Missing 'inputs' or 'instances' key"},
      {R"({"instances": [], "inputs": {}})", "not both"},
      {R"({"instances": []})", "'instances' is empty"},
      {R"({"instances": {"image": 1}})", "must be a list"},
      {R"({"instances": [[1, 2, 3]]})", "several inputs"},
      {R"({"instances": [{"image": [[1, 2, 3], [4, 5, 6]]}]})", "missing input 'meta'"},
      {R"({"instances": [{"image": [[1, 2, 3], [4, 5, 6]], "meta": [1, 2, 3, 4], "extra": 1}]})", "unknown input 'extra'"},
      {R"({"instances": [{"image": [[1, 2, 3], [4, 5, 6]], "meta": [1, 2, 3]}]})", "expected shape (4,) per instance, got (3,)"},
      {R"({"instances": [{"image": [[1, 2, 3], [4, 5]], "meta": [1, 2, 3, 4]}]})", "ragged"},
      {R"({"instances": [{"image": [[1, 2, 3], [4, 5, "x"]], "meta": [1, 2, 3, 4]}]})", "expected a number, got string"},
      {R"({"instances": [{"image": [1, 2, 3, 4, 5, 6], "meta": [1, 2, 3, 4]}]})", "expected shape (2, 3) per instance"},
      {R"({"inputs": {"image": [[[1, 2, 3], [4, 5, 6]]], "meta": [[1, 2, 3, 4], [1, 2, 3, 4]]}})", "the same number"},
      {R"({"inputs": [[1]]})", "must be an object keyed by input name"},
      {R"({"inputs": {"image": 3, "meta": [[1, 2, 3, 4]]}})", "expected a list of instances"},
      {R"({"signature_name": "classify", "instances": []})", "Serving signature name: \"classify\" not found"},
      {"{\"instances\": " + deep, "nesting deeper than"},
  };
  for (auto& c : cases) {
    INFO(c.body.substr(0, 200));
    auto [status, body] = s.post("/v1/models/fashion:predict", c.body);
    CHECK(status == 400);
    REQUIRE(body["error"].is_string());
    CHECK(body["error"].get<std::string>().find(c.says) != std::string::npos);
  }
  auto [s1, e1] = s.post("/v1/models/fashion:classify", good);
  CHECK(s1 == 400);
  CHECK(e1["error"].get<std::string>().find("serves predict") != std::string::npos);
  auto [s2, e2] = s.get("/v2/nothing");
  CHECK(s2 == 404);
  CHECK(e2["error"] == "Malformed request: GET /v2/nothing");
  // Still serving.
  CHECK(s.post("/v1/models/fashion:predict", good).first == 200);
}

TEST_CASE("lamina_serve refuses a body over max_body_bytes with 413", "[serve]") {
  Running s({.max_body_bytes = 2000});
  std::string small = json{{"instances", fixtures()["mlp_v1"]["x"]}}.dump();
  REQUIRE(small.size() < 2000);
  CHECK(s.post("/v1/models/fashion:predict", small).first == 200);
  json many = json::array();
  for (int i = 0; i < 100; ++i) many.push_back(fixtures()["mlp_v1"]["x"][0]);
  auto [status, body] = s.post("/v1/models/fashion:predict", json{{"instances", many}}.dump());
  CHECK(status == 413);
  CHECK(body["error"].get<std::string>().find("max_body_bytes") != std::string::npos);
  CHECK(s.post("/v1/models/fashion:predict", small).first == 200);
}

namespace {

/// 8 clients × 12 requests of 1 to 4 random rows each; every answer must equal lamina's own
/// predict of the same rows on the same file.
void check_concurrent_clients(const Running& s) {
  auto model = lamina::models::load_model(fixture_file("mlp_v1"), {.compile = false});
  std::vector<std::thread> clients;
  std::atomic<int> failures{0}, answered{0};
  for (int c = 0; c < 8; ++c)
    clients.emplace_back([&, c] {
      std::mt19937 rng(static_cast<unsigned>(c));
      std::uniform_real_distribution<float> value(-2, 2);
      auto client = s.client();
      for (int r = 0; r < 12; ++r) {
        int rows = 1 + static_cast<int>(rng() % 4);
        std::vector<float> x(static_cast<std::size_t>(rows) * 6);
        for (auto& v : x) v = value(rng);
        json instances = json::array();
        for (int i = 0; i < rows; ++i) instances.push_back(std::vector<float>(x.begin() + i * 6, x.begin() + i * 6 + 6));
        auto res = client.Post("/v1/models/fashion:predict", json{{"instances", instances}}.dump(), "application/json");
        if (!res || res->status != 200) {
          ++failures;
          continue;
        }
        auto got = flat(json::parse(res->body)["predictions"]);
        auto want = model.predict(lamina::Tensor::from_vector(x, {rows, 6})).to_vector<double>();
        bool same = got.size() == want.size();
        for (std::size_t i = 0; same && i < got.size(); ++i) same = std::abs(got[i] - want[i]) <= 1e-6;
        if (!same) ++failures;
        ++answered;
      }
    });
  for (auto& t : clients) t.join();
  CHECK(failures == 0);
  CHECK(answered == 96);
}

}  // namespace

TEST_CASE("lamina_serve answers concurrent clients with predict's results", "[serve]") {
  Running s({.rest_api_num_threads = 8});
  check_concurrent_clients(s);
}

TEST_CASE("lamina_serve merges concurrent requests into batches when batching is on", "[serve]") {
  Running s({.rest_api_num_threads = 8, .enable_batching = true, .max_batch_size = 16, .batch_timeout_micros = 20000});
  check_concurrent_clients(s);
  const auto* batcher = s.server->batcher();
  REQUIRE(batcher != nullptr);
  // 96 requests, fewer predict calls: some were merged (and none held more than 16 rows).
  CHECK(batcher->requests() == 96);
  CHECK(batcher->batches() < 96);
  CHECK(batcher->largest_batch() <= 16);
  CHECK(batcher->largest_batch() > 4);
}

namespace {

/// A port nothing listens on: bound by a throwaway socket (never listening), then closed.
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    port = ntohs(address.sin_port);
  close(fd);
  return port;
}

/// A child process, killed (SIGKILL) and reaped at scope exit unless reaped before.
struct Child {
  pid_t pid = 0;
  int status = 0;
  bool reaped = false;
  explicit Child(std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) pid = 0;
  }
  /// Waits up to 30 s for it to exit.
  bool wait_exit() {
    reaped = reaped || eventually([&] { return waitpid(pid, &status, WNOHANG) == pid; });
    return reaped;
  }
  ~Child() {
    if (pid > 0 && !reaped) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
  }
};

}  // namespace

TEST_CASE("lamina_serve the executable stops cleanly on SIGTERM", "[serve]") {
  TempDir dir;
  add_version(dir.path, 1, "mlp_v1");
  int port = free_port();
  REQUIRE(port > 0);
  Child server({LAMINA_SERVE_PATH, "--model_name=fashion", "--model_base_path=" + dir.path.string(),
                "--rest_api_port=" + std::to_string(port), "--rest_api_host=127.0.0.1", "--enable_batching"});
  REQUIRE(server.pid > 0);
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30, 0);
  REQUIRE(eventually([&] {
    auto res = client.Get("/v1/models/fashion");
    return res && res->status == 200;
  }));
  auto res = client.Post("/v1/models/fashion:predict", json{{"instances", fixtures()["mlp_v1"]["x"]}}.dump(),
                         "application/json");
  INFO((res ? std::string("answered") : httplib::to_string(res.error())));
  REQUIRE(res);
  CHECK(res->status == 200);
  check_close(flat(json::parse(res->body)["predictions"]), flat(fixtures()["mlp_v1"]["y"]));
  kill(server.pid, SIGTERM);
  REQUIRE(server.wait_exit());
  CHECK(WIFEXITED(server.status));
  CHECK(WEXITSTATUS(server.status) == 0);
}
