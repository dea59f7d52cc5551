#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Train, save, serve and query: examples/fashion_mnist_mlp.cpp trains the Fashion-MNIST MLP and
# saves fashion_mnist_mlp.h5; lamina_serve serves it as version 1 of model "fashion" over
# TensorFlow Serving's REST API; curl asks for its status, its signature and the classes of three
# test images; SIGTERM stops the server.
#
#   examples/serve_fashion_mnist.sh [BUILD_DIR]     (default: build; PORT=8501)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
port="${PORT:-8501}"
python="${PYTHON:-/usr/bin/python3}"  # Debian's, with python3-numpy
cmake --build "$build" -j2 --target fashion_mnist_mlp lamina_serve

work="$(mktemp -d)"
server=""
cleanup() {
  if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# 1. Train and save (TF Serving's layout: one numbered folder per version).
(cd "$work" && "$build/fashion_mnist_mlp")
mkdir -p "$work/models/fashion/1"
mv "$work/fashion_mnist_mlp.h5" "$work/models/fashion/1/"

# 2. Serve.
"$build/lamina_serve" --model_name=fashion --model_base_path="$work/models/fashion" --rest_api_port="$port" &
server=$!
for _ in $(seq 100); do curl -sf "http://localhost:$port/v1/models/fashion" >/dev/null && break; sleep 0.1; done

# 3. Query: status, signature, then three test images standardised as the trainer standardised
#    its inputs (the training set's mean and standard deviation of pixel/255).
curl -s "http://localhost:$port/v1/models/fashion"; echo
curl -s "http://localhost:$port/v1/models/fashion/metadata"; echo
"$python" - "$work/request.json" <<'PY'
import gzip, json, sys
import numpy as np
d = "/usr/share/datasets/fashion-mnist/"
def images(name):
    return np.frombuffer(gzip.open(d + name).read(), np.uint8, offset=16).reshape(-1, 28, 28) / 255.0
train, test = images("train-images-idx3-ubyte.gz"), images("t10k-images-idx3-ubyte.gz")
mu = train.mean()
sd = np.sqrt(((train - mu) ** 2).mean())
json.dump({"instances": ((test[:3] - mu) / sd).round(5).tolist()}, open(sys.argv[1], "w"))
PY
curl -s -d @"$work/request.json" "http://localhost:$port/v1/models/fashion:predict" | tee "$work/response.json" | "$python" -c '
import gzip, json, sys
import numpy as np
classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
labels = np.frombuffer(gzip.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
for i, p in enumerate(json.load(sys.stdin)["predictions"]):
    print(f"test image {i}: predicted {classes[int(np.argmax(p))]} ({max(p):.3f}), labelled {classes[labels[i]]}")
'

head -c 300 "$work/response.json"; echo
# 4. Stop: SIGTERM lets requests in flight finish.
kill -TERM "$server"
wait "$server"
server=""
echo "lamina_serve stopped"
