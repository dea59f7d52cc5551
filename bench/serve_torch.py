#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The PyTorch side of bench/serve.sh: the same Fashion-MNIST MLP (Flatten -> Linear(784, 512)
relu -> Linear(512, 10) softmax) served the simplest common way, Python's http.server with a
thread per connection, answering TF Serving's predict request ({"instances": ...} ->
{"predictions": ...}).

    python3 bench/serve_torch.py --port 8502 --threads 1
"""
import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=8502)
parser.add_argument("--threads", type=int, default=1, help="torch's intra-op threads")
args = parser.parse_args()
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
import torch  # noqa: E402  (after the thread count is set)

torch.set_num_threads(args.threads)
torch.manual_seed(42)
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 512), torch.nn.ReLU(),
                            torch.nn.Linear(512, 10), torch.nn.Softmax(dim=-1)).eval()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects
    # The headers and the body go out in separate writes: without TCP_NODELAY the body waits for
    # the client's delayed ACK (40 ms per request), as it would for lamina_serve.
    disable_nagle_algorithm = True

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            x = torch.tensor(json.loads(body)["instances"], dtype=torch.float32)
            with torch.inference_mode():
                y = model(x)
            status, out = 200, json.dumps({"predictions": y.tolist()}).encode()
        except Exception as e:  # noqa: BLE001  (a bad request must not stop the server)
            status, out = 400, json.dumps({"error": str(e)}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *_):
        pass


ThreadingHTTPServer.daemon_threads = True
server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
print(f"serving on {args.port}", file=sys.stderr, flush=True)
server.serve_forever()
