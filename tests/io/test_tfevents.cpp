// SPDX-License-Identifier: Apache-2.0
// TensorBoard's event format (src/io/tfevents): CRC-32C against the published check values, the
// TFRecord framing and every event kind the TensorBoard callback writes against the bytes
// TensorFlow's own writers produced (tests/fixtures/tensorboard/events.json, made by
// tests/fixtures/make_tensorboard_fixtures.py), and the histogram buckets against
// tf.summary.histogram's.
#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/tfevents.hpp"

using namespace lamina::io::tfevents;

namespace {

const nlohmann::json& fixture() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/tensorboard/events.json");
    if (!in.good()) throw std::runtime_error("missing tests/fixtures/tensorboard/events.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

std::string to_hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::uint32_t crc_of(const std::string& s) { return crc32c(s.data(), s.size()); }

}  // namespace

TEST_CASE("crc32c matches the RFC 3720 and CRC catalogue check values", "[tensorboard]") {
  CHECK(crc_of("123456789") == 0xE3069283u);
  CHECK(crc_of(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(crc_of(std::string(32, '\xff')) == 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  CHECK(crc_of(ascending) == 0x46DD794Eu);
  CHECK(crc_of(descending) == 0x113FDB5Cu);
  CHECK(crc_of("") == 0u);
  // Continuing a CRC over a second piece gives the CRC of the whole.
  CHECK(crc32c("56789", 5, crc32c("1234", 4)) == 0xE3069283u);
}

TEST_CASE("TFRecord framing and masked CRCs match TensorFlow's record writer", "[tensorboard]") {
  const auto& cases = fixture().at("framing");
  REQUIRE(cases.size() >= 4);
  for (const auto& c : cases) {
    const std::string payload = from_hex(c.at("payload_hex"));
    INFO("payload of " << payload.size() << " bytes");
    CHECK(masked_crc32c(payload.data(), payload.size()) == c.at("masked_crc_of_payload").get<std::uint32_t>());
    CHECK(to_hex(frame_record(payload)) == c.at("record_hex").get<std::string>());
  }
}

TEST_CASE("Events are byte for byte those TensorFlow's summary writer writes", "[tensorboard]") {
  int kinds_seen = 0;
  for (const auto& e : fixture().at("events")) {
    const std::string kind = e.at("kind");
    const double wall = e.at("wall_time");
    const std::int64_t step = e.at("step");
    INFO(kind << " " << e.value("tag", std::string()));
    std::string event;
    if (kind == "file_version") {
      event = file_version_event(wall, e.at("writer").get<std::string>());
    } else if (kind == "scalar") {
      event = scalar_event(wall, step, e.at("tag").get<std::string>(), e.at("value").get<float>());
    } else if (kind == "histogram") {
      event = histogram_event(wall, step, e.at("tag").get<std::string>(),
                              histogram_buckets(e.at("data").get<std::vector<double>>()));
    } else if (kind == "keras_graph") {
      event = keras_model_event(wall, step, e.at("tag").get<std::string>(), e.at("json").get<std::string>());
    } else {
      FAIL("unknown kind " << kind);
    }
    ++kinds_seen;
    CHECK(to_hex(event) == e.at("hex").get<std::string>());
  }
  CHECK(kinds_seen == 5);
}

TEST_CASE("histogram_buckets equals tf.summary.histogram's buckets, edge cases included", "[tensorboard]") {
  for (const auto& c : fixture().at("histograms")) {
    INFO(c.at("name").get<std::string>());
    const auto buckets = histogram_buckets(c.at("data").get<std::vector<double>>());
    const auto& want = c.at("buckets");
    REQUIRE(buckets.size() == want.size());
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      INFO("bucket " << i);
      CHECK(buckets[i].left == want[i][0].get<double>());
      CHECK(buckets[i].right == want[i][1].get<double>());
      CHECK(buckets[i].count == want[i][2].get<double>());
    }
  }
}

TEST_CASE("event_file_name follows TensorFlow 2's pattern and counts the files opened", "[tensorboard]") {
  const std::string a = event_file_name(1796674384);
  const std::string b = event_file_name(1796674384);
  CHECK(a.rfind("events.out.tfevents.1796674384.", 0) == 0);
  CHECK(a.size() > 3);
  CHECK(a.substr(a.size() - 3) == ".v2");
  CHECK(a != b);
}
