#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Reads the TensorBoard logs that lamina wrote with TensorBoard's own reader and checks them.

Input: the folder that `LAMINA_TENSORBOARD_EXPORT=<dir> lamina_tests "[tensorboard_export]"` fills
(tests/callbacks/test_tensorboard.cpp): <dir>/logs/{train,validation} and <dir>/lamina.json (the
fit's History, the model's JSON and each weight's size). A 2-epoch fit with validation,
histogram_freq=1 and update_freq="batch" (3 training batches per epoch).

Checks, through tensorboard.backend.event_processing.event_accumulator (and the graph plugin's
Keras converter):
  - scalars: epoch_<m> (train) and epoch_<m> (validation) equal History's <m> and val_<m> within
    1e-6 relative; batch_<m> at steps 1..6; epoch_learning_rate; evaluation_<m>_vs_iterations;
  - histograms: plugin "histograms", (30, 3) float64, counts adding up to each weight's size,
    edges increasing, at epochs 0 and 1;
  - the graph: plugin "graph_keras_model", the model's JSON, which the graph plugin turns into a
    GraphDef with a node per layer.
Run: python tests/tools/check_tensorboard_logs.py <dir>   (exit status 1 on the first failure)
"""
import json
import math
import os
import sys

from tensorboard import context
from tensorboard.backend.event_processing import data_provider
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.plugins.graph import keras_util
from tensorboard.util import tensor_util


def fail(message):
    print(f"check_tensorboard_logs: FAILED: {message}")
    sys.exit(1)


def expect(condition, message):
    if not condition:
        fail(message)


def load_run(path):
    acc = ea.EventAccumulator(path, size_guidance={ea.TENSORS: 0})
    acc.Reload()
    return acc


def plugin(acc, tag):
    return acc.SummaryMetadata(tag).plugin_data.plugin_name


def series(acc, tag):
    expect(tag in acc.Tags()["tensors"], f"tag {tag} missing from {acc.path}")
    return [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]


def scalars(acc, tag):
    expect(plugin(acc, tag) == "scalars", f"{tag}: plugin {plugin(acc, tag)!r}, expected 'scalars'")
    return {step: float(value) for step, value in series(acc, tag)}


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


def check_data_provider(log_dir, train, val):
    """The dashboards' view (MultiplexerDataProvider): the same tags under each plugin."""
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(log_dir)
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, log_dir)
    ctx = context.RequestContext()

    def by_plugin(acc, name):
        return sorted(t for t in acc.Tags()["tensors"] if plugin(acc, t) == name)

    scalars_listed = provider.list_scalars(ctx, experiment_id="", plugin_name="scalars")
    expect({run: sorted(tags) for run, tags in scalars_listed.items()} ==
           {"train": by_plugin(train, "scalars"), "validation": by_plugin(val, "scalars")},
           f"the data provider's scalars: {scalars_listed}")
    histograms = provider.list_tensors(ctx, experiment_id="", plugin_name="histograms")
    expect(sorted(histograms.get("train", {})) == by_plugin(train, "histograms"),
           f"the data provider's histograms: {histograms}")
    graphs = provider.list_blob_sequences(ctx, experiment_id="", plugin_name="graph_keras_model")
    expect(list(graphs.get("train", {})) == ["keras"], f"the data provider's graphs: {graphs}")


def main():
    root = sys.argv[1]
    with open(os.path.join(root, "lamina.json")) as f:
        lamina = json.load(f)
    history = lamina["history"]
    train = load_run(os.path.join(root, "logs", "train"))
    val = load_run(os.path.join(root, "logs", "validation"))
    epochs = len(history["loss"])
    metrics = [k for k in history if not k.startswith("val_")]
    counts = {"scalars": 0, "histograms": 0}

    for name in metrics:
        got = scalars(train, f"epoch_{name}")
        expect(sorted(got) == list(range(epochs)), f"epoch_{name} steps {sorted(got)}")
        for e in range(epochs):
            expect(close(got[e], history[name][e]), f"epoch_{name}[{e}] = {got[e]}, History {history[name][e]}")
        got_val = scalars(val, f"epoch_{name}")
        for e in range(epochs):
            expect(close(got_val[e], history["val_" + name][e]),
                   f"validation epoch_{name}[{e}] = {got_val[e]}, History {history['val_' + name][e]}")
        batches = scalars(train, f"batch_{name}")
        expect(sorted(batches) == list(range(1, 3 * epochs + 1)), f"batch_{name} steps {sorted(batches)}")
        evaluation = scalars(val, f"evaluation_{name}_vs_iterations")
        expect(sorted(evaluation) == [3 * (e + 1) for e in range(epochs)],
               f"evaluation_{name}_vs_iterations steps {sorted(evaluation)}")
        counts["scalars"] += 2 * epochs + len(batches) + len(evaluation)
    lr = scalars(train, "epoch_learning_rate")
    expect(sorted(lr) == list(range(epochs)) and all(v > 0 for v in lr.values()), f"epoch_learning_rate {lr}")
    counts["scalars"] += len(lr)

    for path, size in lamina["param_counts"].items():
        tag = f"{path}/histogram"
        expect(plugin(train, tag) == "histograms", f"{tag}: plugin {plugin(train, tag)!r}")
        points = series(train, tag)
        expect([s for s, _ in points] == list(range(epochs)), f"{tag} steps {[s for s, _ in points]}")
        for step, buckets in points:
            expect(buckets.shape == (30, 3) and buckets.dtype.name == "float64", f"{tag}: {buckets.shape} {buckets.dtype}")
            expect(buckets[:, 2].sum() == size, f"{tag}@{step}: counts add up to {buckets[:, 2].sum()}, weight has {size}")
            expect((buckets[:, 0] <= buckets[:, 1]).all() and (buckets[1:, 0] == buckets[:-1, 1]).all(),
                   f"{tag}@{step}: edges out of order")
            counts["histograms"] += 1

    expect(plugin(train, "keras") == "graph_keras_model", f"keras: plugin {plugin(train, 'keras')!r}")
    expect(train.SummaryMetadata("keras").plugin_data.content == b"1", "keras: plugin content is not version 1")
    ((step, value),) = series(train, "keras")
    text = value.item().decode() if hasattr(value, "item") else value
    config = json.loads(text)
    expect(step == 0 and config == json.loads(lamina["model_json"]), "keras: the model's JSON differs")
    graph = keras_util.keras_model_to_graph_def(config)
    layer_names = [layer["config"]["name"] for layer in config["config"]["layers"]]
    node_names = [node.name.split("/")[-1] for node in graph.node]
    expect(node_names[-len(layer_names[1:]):] == layer_names[1:],
           f"the graph plugin's nodes {node_names}, layers {layer_names}")

    check_data_provider(os.path.join(root, "logs"), train, val)
    print(f"check_tensorboard_logs: TensorBoard read back {counts['scalars']} scalars (History within 1e-6), "
          f"{counts['histograms']} histograms (counts = parameter counts) and the graph "
          f"({len(graph.node)} nodes)")


if __name__ == "__main__":
    main()
