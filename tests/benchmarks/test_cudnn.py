"""`python -m benchmarks.cudnn`, run as a user runs it, and its kernel
detection on graphs built here. Never asserts speed."""

import json
import math
import os
import pathlib
import sys

import keras
import pytest
import tensorflow as tf

from helpers import run_module
from benchmarks import common

REPO = pathlib.Path(__file__).resolve().parents[2]
CONFIGS = ["auto", "use_cudnn_false", "recurrent_dropout"]
GRID = [f"{cell}_{masking}_{config}_{mode}"
        for cell in ("lstm", "gru")
        for masking in ("unmasked", "masked")
        for config in CONFIGS
        for mode in ("graph", "xla")]


def expected_grid(with_zoo):
    """GRID, plus zoo's text_rnn after each cell's masked rows when the zoo has it."""
    if not with_zoo:
        return GRID
    grid = []
    for name in GRID:
        grid.append(name)
        if name.endswith("_masked_recurrent_dropout_xla"):
            grid.append(name.replace("_recurrent_dropout_xla", "_zoo_text_rnn_graph"))
    return grid

VARIANT_KEYS = {"name", "cell", "masked", "use_cudnn", "recurrent_dropout", "jit_compile", "xla",
                "kernel", "compile_s", "sequences_per_s", "sequences_per_s_per_repeat",
                "repeat_s", "warnings", "error", "device"}


def run_benchmark(*flags, timeout=300, env=None):
    return run_module("benchmarks.cudnn", *flags, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    proc = run_benchmark("--quick", f"--output_dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, out


@pytest.mark.slow
def test_quick_run_writes_json_with_the_whole_grid(quick_run):
    proc, out = quick_run
    kind = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    assert sorted(os.listdir(out)) == [f"cudnn_{kind}.json", f"cudnn_{kind}.md"]
    result = json.loads((out / f"cudnn_{kind}.json").read_text())

    for key in ("benchmark", "device", "versions", "config", "variants", "ratios", "timestamp"):
        assert key in result, key
    assert result["benchmark"] == "cudnn"
    device = result["device"]
    assert device["kind"] == kind and device["gpu_found"] == (kind == "gpu")
    assert device["cudnn_available"] == (kind == "gpu")
    assert result["versions"]["tensorflow"] and result["versions"]["keras"]
    cfg = result["config"]
    assert {k: cfg[k] for k in ("batch_size", "sequence_length", "units", "repeats", "steps",
                                "warmup")} == {"batch_size": 8, "sequence_length": 16,
                                               "units": 16, "repeats": 2, "steps": 2,
                                               "warmup": 1}
    assert cfg["cells"] == ["lstm", "gru"]
    lengths = cfg["masked_batch"]["lengths"]
    assert len(lengths) == 8 and max(lengths) == 16 and min(lengths) >= 1

    variants = {v["name"]: v for v in result["variants"]}
    with_zoo = cfg["zoo_text_rnn"] != "not available"
    import zoo
    assert with_zoo == ("text_rnn" in zoo.list_models())
    grid = expected_grid(with_zoo)
    assert list(variants) == grid
    for name, v in variants.items():
        assert VARIANT_KEYS <= set(v), name
        cell, masking, *_ = name.split("_")
        assert v["cell"] == cell and v["masked"] == (masking == "masked")
        assert v["jit_compile"] == name.endswith("_xla")
        assert v["use_cudnn"] == (False if "_use_cudnn_false_" in name else "auto")
        assert v["masked"] or "_zoo_text_rnn_" not in name
        assert v["recurrent_dropout"] == (0.1 if "_recurrent_dropout_" in name else 0.0)
        assert v["kernel"] in ("cudnn", "generic"), name
        assert v["kernel_evidence"]["source"] == "model.train_function"
        if kind == "cpu":
            assert v["error"] is None, (name, v["error"])
            assert v["kernel"] == "generic", name
            # No cuDNN to refuse XLA for: jit_compile is honoured on CPU.
            assert v["xla"] == v["jit_compile"], name
        else:
            assert v["kernel"] == v["expected_kernel"], name
        if v["error"] is None:
            assert v["compile_s"] > 0 and math.isfinite(v["compile_s"])
            per_repeat = v["sequences_per_s_per_repeat"]
            assert len(per_repeat) == 2 and len(v["repeat_s"]) == 2
            assert all(s > 0 and math.isfinite(s) for s in per_repeat)
            for sps, seconds in zip(per_repeat, v["repeat_s"]):
                assert sps == pytest.approx(8 * 2 / seconds)
            stats = v["sequences_per_s"]
            assert stats["min"] <= stats["median"] <= stats["max"]
        else:
            assert isinstance(v["error"], str) and "\n" not in v["error"]
            assert v["sequences_per_s"] is None
    if kind == "cpu":
        assert "no GPU: cuDNN unavailable; generic kernels measured" in proc.stdout

    # One ratio per non-baseline variant, against its cell and masking's generic graph run.
    expected = {f"{name}/{name.split('_')[0]}_{name.split('_')[1]}_use_cudnn_false_graph"
                for name in grid if "_use_cudnn_false_graph" not in name}
    if kind == "cpu":
        assert set(result["ratios"]) == expected
    assert set(result["ratios"]) <= expected
    for key, ratio in result["ratios"].items():
        num, den = (variants[n]["sequences_per_s_per_repeat"] for n in key.split("/"))
        assert ratio["per_repeat"] == pytest.approx([a / b for a, b in zip(num, den)])
        assert ratio["min"] <= ratio["median"] <= ratio["max"]


@pytest.mark.slow
def test_quick_run_prints_and_writes_the_table(quick_run):
    proc, out = quick_run
    (md_path,) = out.glob("cudnn_*.md")
    table = md_path.read_text()
    assert table in proc.stdout
    # The first line says which kernels run, and why (common.launch_line).
    assert proc.stdout.startswith("benchmarks.cudnn: TensorFlow "), proc.stdout[:300]
    for label in ("| kernel |", "seq/s median", "use_cudnn=False", "recurrent_dropout=0.1",
                  "1 (baseline)", "train_on_batch"):
        assert label in table, label
    rows = 13 if "zoo text_rnn" in table else 12
    assert table.count("| lstm |") == rows and table.count("| gru |") == rows
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


# Bad flags and an unwritable --output_dir are rejected in-process by
# tests/bad_input/test_bad_benchmarks_cli.py, and end to end there (exit
# status 2, a usage line, no traceback) once per benchmark CLI.


# ---------------------------------------------------------------------------
# Kernel detection on graphs built here.


def _tiny_rnn_classifier(layer):
    inputs = keras.Input(shape=(5,), dtype="int32")
    x = keras.layers.Embedding(20, 4, mask_zero=True)(inputs)
    return keras.Model(inputs, keras.layers.Dense(2)(layer(x)))


def test_generic_lstm_step_traced_here_is_detected_as_generic():
    layer = keras.layers.LSTM(3, use_cudnn=False)
    model = _tiny_rnn_classifier(layer)

    @tf.function
    def forward(ids):
        return model(ids, training=True)

    concrete = forward.get_concrete_function(tf.TensorSpec([2, 5], tf.int32))
    counts = common.op_type_counts(concrete)
    kernel, evidence = common.rnn_kernel_from_op_types(counts)
    assert kernel == "generic"
    assert evidence and set(evidence) <= set(common.WHILE_LOOP_OPS)
    # The loop body's ops live in the graph's function library, not its node list.
    top_level = [op.type for op in concrete.graph.get_operations()]
    assert counts["Sigmoid"] > top_level.count("Sigmoid")  # the LSTM gates, per step


def test_compiled_model_train_function_is_found_and_detected_as_generic():
    model = _tiny_rnn_classifier(keras.layers.GRU(3, use_cudnn=False))
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    x = tf.constant([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]], tf.int32)
    y = tf.constant([0, 1], tf.int32)
    model.train_on_batch(x, y)
    assert common.tf_functions_in(model.train_function)
    found = common.detect_rnn_kernel(model, x, y)
    assert found["kernel"] == "generic"
    assert found["source"] == "model.train_function"
    # Looking did not retrace the step that ran.
    traced = [f for f in common.tf_functions_in(model.train_function)
              if f.experimental_get_tracing_count()]
    counts_before = [f.experimental_get_tracing_count() for f in traced]
    common.detect_rnn_kernel(model, x, y)
    assert [f.experimental_get_tracing_count() for f in traced] == counts_before


def test_graph_with_a_cudnn_op_is_detected_as_cudnn():
    # Building (not running) a graph with cuDNN's RNN op needs no GPU.
    @tf.function
    def cudnn_lstm(x, h, c, params):
        return tf.raw_ops.CudnnRNNV3(input=x, input_h=h, input_c=c, params=params,
                                     sequence_lengths=tf.constant([3, 2]), rnn_mode="lstm",
                                     is_training=True, time_major=False)[0]

    concrete = cudnn_lstm.get_concrete_function(
        tf.TensorSpec([2, 3, 4]), tf.TensorSpec([1, 2, 5]), tf.TensorSpec([1, 2, 5]),
        tf.TensorSpec([None]))
    kernel, evidence = common.rnn_kernel_from_op_types(common.op_type_counts(concrete))
    assert kernel == "cudnn" and evidence == {"CudnnRNNV3": 1}
    assert common.rnn_kernel_from_op_types({"CudnnRNNV3": 1, "While": 2})[0] == "cudnn"
    assert common.rnn_kernel_from_op_types({})[0] == "generic"


def test_tf_functions_in_follows_closures():
    inner = tf.function(lambda x: x + 1)

    def wrapper(x):
        return inner(x)

    def outer(x):
        return wrapper(x)

    assert common.tf_functions_in(outer) == [inner]
    assert common.tf_functions_in(lambda: None) == []


# ---------------------------------------------------------------------------
# Failing variants are reported, not fatal (run in-process, reduced grid).


class _FailingModel(keras.Model):
    def train_step(self, data):
        raise RuntimeError("train step exploded\nsecond line")


def test_failing_variants_are_reported_and_the_rest_measured(tmp_path, monkeypatch, capsys):
    from benchmarks import cudnn

    real_build = cudnn.build_model

    def build(cell, masked, config, sequence_length, units, seed):
        if config == "recurrent_dropout":
            raise ValueError("cannot build this one\ndetails")
        if config == "auto" and masked:
            inputs = keras.Input(shape=(sequence_length,), dtype="int32")
            return _FailingModel(inputs, keras.layers.Dense(2)(
                keras.layers.Embedding(cudnn.VOCAB_SIZE, 2)(inputs)[:, 0]))
        return real_build(cell, masked, config, sequence_length, units, seed)

    monkeypatch.setattr(cudnn, "build_model", build)
    monkeypatch.setattr(cudnn, "MODES", {"graph": False})
    monkeypatch.setattr(cudnn, "zoo_text_rnn_available", lambda: False)
    result = cudnn.run(cells=["lstm"], batch_size=4, sequence_length=6, units=4, repeats=1,
                       steps=1, warmup=1, seed=0, output_dir=str(tmp_path))
    variants = {v["name"]: v for v in result["variants"]}
    assert list(variants) == [f"lstm_{m}_{c}_graph" for m in ("unmasked", "masked")
                              for c in CONFIGS]
    assert variants["lstm_masked_recurrent_dropout_graph"]["error"] == \
        "ValueError: cannot build this one"
    assert variants["lstm_masked_auto_graph"]["error"] == "RuntimeError: train step exploded"
    assert variants["lstm_masked_auto_graph"]["sequences_per_s"] is None
    for name in ("lstm_unmasked_auto_graph", "lstm_unmasked_use_cudnn_false_graph",
                 "lstm_masked_use_cudnn_false_graph"):
        assert variants[name]["error"] is None
        assert variants[name]["sequences_per_s"]["median"] > 0
        assert variants[name]["kernel"] == ("generic" if not cudnn.cudnn_available()
                                            else variants[name]["expected_kernel"])
    assert list(result["ratios"]) == [
        "lstm_unmasked_auto_graph/lstm_unmasked_use_cudnn_false_graph"]
    written = json.loads(next(tmp_path.glob("cudnn_*.json")).read_text())
    assert written["variants"] == json.loads(json.dumps(result["variants"]))
    assert "error: RuntimeError: train step exploded" in capsys.readouterr().out


@pytest.mark.skipif(bool(tf.config.list_logical_devices("GPU")),
                    reason="a real GPU runs the cuDNN path; this simulates one on CPU")
def test_simulated_gpu_takes_cudnn_path_refuses_xla_and_reports_errors(tmp_path, monkeypatch):
    # Make Keras believe a GPU is visible (its own check, `_is_gpu_available`):
    # eligible layers then trace the cuDNN op, which has no CPU kernel, so
    # those variants fail at their first step; the detection must still say
    # "cudnn", and jit_compile=True must show up as refused by Keras.
    keras_rnn = sys.modules["keras.src.backend.tensorflow.rnn"]
    if not hasattr(keras_rnn, "_is_gpu_available"):
        pytest.skip("Keras no longer decides cuDNN with _is_gpu_available")
    from benchmarks import cudnn

    monkeypatch.setattr(keras_rnn, "_is_gpu_available", lambda: True)
    monkeypatch.setattr(cudnn, "cudnn_available", lambda: True)
    monkeypatch.setattr(cudnn, "zoo_text_rnn_available", lambda: False)
    result = cudnn.run(cells=["gru"], batch_size=2, sequence_length=3, units=2, repeats=1,
                       steps=1, warmup=1, seed=0, output_dir=str(tmp_path))
    variants = {v["name"]: v for v in result["variants"]}
    assert len(variants) == 12
    for name, v in variants.items():
        assert v["kernel"] == v["expected_kernel"], name
        cudnn_eligible = v["config"] == "auto"
        assert v["kernel"] == ("cudnn" if cudnn_eligible else "generic"), name
        if cudnn_eligible:
            assert v["kernel_evidence"]["ops"].get("CudnnRNNV3") == 1, name
            assert "CudnnRNNV3" in v["error"] and "\n" not in v["error"], name
            assert v["sequences_per_s"] is None
        else:
            assert v["error"] is None and v["sequences_per_s"]["median"] > 0, name
        # Keras refuses XLA for any layer that may take cuDNN ("auto" on a
        # GPU), even one that recurrent_dropout then sends to the generic kernel.
        refused = v["jit_compile"] and v["use_cudnn"] == "auto"
        assert v["xla"] == (v["jit_compile"] and not refused), name
        assert any("jit_compile" in w for w in v["warnings"]) == refused, name
    assert set(result["ratios"]) == {
        f"gru_{m}_{c}/gru_{m}_use_cudnn_false_graph"
        for m in ("unmasked", "masked")
        for c in ("use_cudnn_false_xla", "recurrent_dropout_graph", "recurrent_dropout_xla")}
    table = next(tmp_path.glob("cudnn_*.md")).read_text()
    assert "refused (off)" in table and "| cudnn |" in table
