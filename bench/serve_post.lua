-- SPDX-License-Identifier: Apache-2.0
-- wrk script for bench/serve.sh: POSTs the predict body in $BODY_FILE to every connection, and
-- prints one RESULT line (requests/s, p50 and p99 latency in ms, errors).
local f = assert(io.open(os.getenv("BODY_FILE"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = "application/json"
f:close()

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
                 summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d requests=%d\n",
                         summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1e3,
                         latency:percentile(99) / 1e3, errors, summary.requests))
end
