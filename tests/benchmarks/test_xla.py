"""`python -m benchmarks.xla`, run as a user runs it, and its pure helpers on
known numbers. Never asserts speed."""

import doctest
import json
import math
import os
import pathlib
import re
import sys

import pytest
import tensorflow as tf

from helpers import run_module
from benchmarks import common, xla

REPO = pathlib.Path(__file__).resolve().parents[2]
# What the families put forward for benchmarks (their table's `benchmarked`).
DEFAULT_MODELS = common.default_models()
# The quick run's models: one of each kind the benchmark treats differently (a small and a
# profiled convolutional network, depthwise convolutions, einsum layers, a recurrent model
# whose XLA Keras refuses, attention with batched matmuls). Every family's default model
# (~40 s of XLA compiles each on 2 cores) would make this run grow with the zoo: it took
# over 900 s beside the other worker's tests in CI with 13 models. The others' FLOP counts
# are checked without timing below.
MODELS = [m for m in DEFAULT_MODELS if m in (
    "resnet20", "resnet50", "mobilenet_v2", "einsum_mlp", "text_rnn", "transformer",
    "vit_tiny_patch16_224")]
PATHS = ["eager", "graph", "xla"]
QUICK_BATCH = 8


def run_benchmark(*flags, timeout=300, env=None, unset=()):
    return run_module("benchmarks.xla", *flags, timeout=timeout, env=env, unset=unset)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    # Every model and path under one kernel library (oneDNN, zoo's default:
    # measured in-process); both libraries are covered by `two_settings_run`.
    out = tmp_path_factory.mktemp("results")
    # Run as a user runs it: zoo, not the caller, picks the kernels (CI's
    # oneDNN-off pass sets TF_ENABLE_ONEDNN_OPTS=0 for the other tests).
    # Every default model (--quick alone takes the smallest of each modality;
    # these tests read the convolutional models' FLOPs and ResNet-50's
    # profile) through three paths, XLA compiles included: ~150 s alone on a
    # 2-core CPU without AVX-512, over 300 s beside the other worker's tests.
    # The limit only guards against a hang.
    proc = run_benchmark("--quick", f"--models={','.join(MODELS)}", "--onednn=on",
                         f"--output_dir={out}", timeout=900,
                         unset=("TF_ENABLE_ONEDNN_OPTS", "ZOO_SET_TF_ENABLE_ONEDNN_OPTS"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    kind = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    return proc, out, kind


def test_quick_measures_the_smallest_model_of_each_modality(tmp_path):
    flag_values, _ = common.parse_flags(xla, ["--quick", f"--output_dir={tmp_path}"])
    assert flag_values.models == common.smallest_models()
    # An image model and a text one (whose xla Keras refuses): every path once.
    assert sorted(common.modality(m) for m in flag_values.models) == ["image", "text"]
    flag_values, _ = common.parse_flags(xla, ["--quick", "--models=resnet50",
                                              f"--output_dir={tmp_path}"])
    assert flag_values.models == ["resnet50"]


def _finite_positive(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.mark.slow
def test_quick_run_writes_json_with_every_model_and_path(quick_run):
    proc, out, kind = quick_run
    assert sorted(os.listdir(out)) == [f"xla_{kind}.json", f"xla_{kind}.md"]
    result = json.loads((out / f"xla_{kind}.json").read_text())

    for key in ("benchmark", "device", "versions", "config", "onednn", "settings", "failed",
                "mismatches", "headline", "goal", "timestamp"):
        assert key in result, key
    assert result["benchmark"] == "xla"
    assert result["device"]["kind"] == kind
    assert result["versions"]["tensorflow"] and result["versions"]["keras"]
    cfg = result["config"]
    assert cfg["quick"] is True and "smoke" in cfg["figures"]
    assert {k: cfg[k] for k in ("batch_size", "repeats", "steps", "warmup", "matmul_n",
                                "image_size", "profile_steps",
                                "kernel_trace_steps")} == {
        "batch_size": QUICK_BATCH, "repeats": 2, "steps": 2, "warmup": 1, "matmul_n": 1024,
        "image_size": 32, "profile_steps": 1, "kernel_trace_steps": 1}
    assert "3 x forward" in cfg["train_flops_convention"]
    assert result["failed"] == {} and result["mismatches"] == {}
    (setting,) = result["settings"]
    assert setting == ("on" if kind == "cpu" else "n/a")
    record = result["settings"][setting]
    assert record["process"]["mode"] == "in-process"
    if kind == "cpu":
        assert record["label"] == "oneDNN" and record["kernels"]["platform"] == "cpu/onednn"
        assert record["kernels"]["onednn_enabled"] is True
    assert len(result["headline"]) == len(MODELS)

    matmul = record["matmul"]
    assert matmul["n"] == 1024
    stats = matmul["gflops"]
    assert all(_finite_positive(stats[k]) for k in ("median", "min", "max"))
    assert stats["min"] <= stats["median"] <= stats["max"]
    # Timed before the models, in turn with each model's training repeats, and after.
    assert len(matmul["gflops_per_repeat"]) == (2 + len(MODELS)) * cfg["repeats"]

    models = record["models"]
    assert list(models) == MODELS
    assert len(MODELS) == 7
    # Image models at their own input shape, at most --image_size square.
    assert models["resnet20"]["input_shape"] == [32, 32, 3]
    assert models["resnet50"]["input_shape"] == [32, 32, 3]
    assert models["einsum_mlp"]["input_shape"] == [32, 32, 1]
    for name, m in models.items():
        for key in ("input_shape", "batch_size", "train_flops_per_example",
                    "forward_flops_per_example", "flops_method", "paths", "best_train_path",
                    "zoo_default_path", "keras_default_path", "zoo_default_vs_best",
                    "zoo_default_vs_keras_default", "meets_75pct_goal"):
            assert key in m, (name, key)
        assert m["batch_size"] == QUICK_BATCH
        assert _finite_positive(m["forward_flops_per_example"]), name
        # Training costs more than a forward pass: about 3x (the convention,
        # or the profiled train step).
        assert 2 * m["forward_flops_per_example"] < m["train_flops_per_example"], name
        assert m["train_flops_per_example"] < 5 * m["forward_flops_per_example"], name
        assert list(m["paths"]) == PATHS, name
        for path, row in m["paths"].items():
            assert row["error"] is None, (name, path, row["error"])
            assert row["requested"] is True
            ev = row["evidence"]
            for kind_ in ("train", "inference"):
                cell = row[kind_]
                ips = cell["examples_per_s"]
                assert all(_finite_positive(ips[k]) for k in ("median", "min", "max"))
                assert ips["min"] <= ips["median"] <= ips["max"]
                assert _finite_positive(cell["compile_s"])
                assert len(cell["examples_per_s_per_repeat"]) == cfg["repeats"]
                for value, seconds in zip(cell["examples_per_s_per_repeat"], cell["repeat_s"]):
                    assert value == pytest.approx(
                        QUICK_BATCH * cell["steps_per_repeat"] / seconds)
                ratio = cell["ratio_vs_graph"]
                if path == "graph":
                    assert ratio["median"] == ratio["min"] == ratio["max"] == 1.0
                else:
                    assert _finite_positive(ratio["median"])
            assert 0 < row["utilization"] and math.isfinite(row["utilization"])
            assert row["utilization"] == pytest.approx(
                m["train_flops_per_example"] * row["train"]["examples_per_s"]["median"]
                / (stats["median"] * 1e9))
            # Per repeat: achieved FLOP/s over the matmul timed in the same turn.
            same = row["utilization_same_repeat"]
            assert same["per_repeat"] == pytest.approx([
                m["train_flops_per_example"] * ips / 1e9 / peak for ips, peak in zip(
                    row["train"]["examples_per_s_per_repeat"],
                    m["matmul_gflops_same_repeats_per_repeat"])])
            assert 0 < same["min"] <= same["median"] <= same["max"]
            # The path that ran, read back from the model and its traced step.
            assert ev["run_eagerly"] == (path == "eager")
            if path == "eager":
                assert ev["ran"] == "eager"
            elif path == "graph":
                assert ev["ran"] == "graph" and ev["train_step_xla_must_compile"] is False
            elif ev["xla_refused"]:
                assert ev["ran"] == "graph" and ev["jit_compile"] is False
                assert any("jit_compile" in w for w in ev["warnings"])
            else:
                assert ev["ran"] == "xla" and ev["train_step_xla_must_compile"] is True
                assert ev["predict_xla_functions"] >= 1
            # The kernels that ran, from a profiler trace of the compiled paths.
            if path == "eager":
                assert "kernels" not in ev
            else:
                kernels = ev["kernels"]
                assert kernels["steps"] == 1 and "error" not in kernels, kernels
                if ev["ran"] == "xla":
                    assert kernels["library"] == "xla" and kernels["xla"] > 0, kernels
                elif kind == "cpu":
                    assert kernels["library"] == "onednn", (name, path, kernels)
                    assert kernels["onednn"] > 0 and kernels["eigen"] == 0
        assert m["best_train_path"] in ("graph", "xla")
        assert m["zoo_default_path"] in PATHS and m["keras_default_path"] in PATHS

        def median(path):
            return m["paths"][path]["train"]["examples_per_s"]["median"]

        eligible = [p for p in ("graph", "xla") if not m["paths"][p]["evidence"]["xla_refused"]]
        assert median(m["best_train_path"]) == max(median(p) for p in eligible)
        assert m["zoo_default_vs_best"] == pytest.approx(
            median(m["zoo_default_path"]) / median(m["best_train_path"]))
        assert m["meets_default_goal"] == (m["zoo_default_vs_best"] >= 0.95)
        assert m["zoo_default_vs_keras_default"] == pytest.approx(
            median(m["zoo_default_path"]) / median(m["keras_default_path"]))
        assert (m["meets_75pct_goal"] is None) == (name != "resnet50")

    # The conv models' FLOPs come from the profiled train step; the ResNets'
    # are dominated by convolutions and their gradients (some of which train
    # as MatMuls: zoo.ops.conv2d).
    for name in ("resnet20", "resnet50"):
        m = models[name]
        assert m["train_graph_flops_per_example"] == m["train_flops_per_example"]
        by_type = m["flops_by_op_type"]
        conv = sum(by_type.get(k, 0) for k in ("Conv2D", "Conv2DBackpropInput",
                                               "Conv2DBackpropFilter", "MatMul"))
        assert conv > 0.9 * m["train_flops_per_example"]
    profile = models["resnet50"]["op_time_profile"]
    assert "error" not in profile, profile
    assert 0 < profile["convolution_share"] < 1
    assert profile["convolution_share"] + profile["other_share"] == pytest.approx(1)
    assert not any(k.startswith(("_Mkl", "__")) for k in profile["by_op_type"])
    assert profile["convolution_flops_share"] > 0.9
    assert profile["convolution_utilization_estimate"] == pytest.approx(
        models["resnet50"]["paths"]["graph"]["utilization"]
        * profile["convolution_flops_share"] / profile["convolution_share"])
    assert all(r["op_time_profile"] is None for n, r in models.items() if n != "resnet50")
    text = models["text_rnn"]
    assert "analytic" in text["flops_method"]
    if kind == "cpu":
        assert text["paths"]["graph"]["evidence"]["rnn_kernel"]["kernel"] == "generic"
        # TextVectorization cannot be compiled: Keras refuses XLA for text_rnn.
        assert text["paths"]["xla"]["evidence"]["xla_refused"] is True
        assert text["best_train_path"] == "graph"
        # Keras 3 turns "auto" XLA off on a machine without an accelerator.
        assert all(m["keras_default_path"] == "graph" for m in models.values())


@pytest.mark.slow
def test_quick_run_prints_and_writes_the_table(quick_run):
    proc, out, kind = quick_run
    table = (out / f"xla_{kind}.md").read_text()
    assert table in proc.stdout
    # The first line says what runs and why.
    assert proc.stdout.startswith("benchmarks.xla: TensorFlow "), proc.stdout[:300]
    if kind == "cpu":
        assert "on cpu/onednn: oneDNN CPU kernels (TF_ENABLE_ONEDNN_OPTS=1 set by zoo" in \
            proc.stdout.splitlines()[0]
    assert "Smoke figures" in table
    # The headline first: one row per model, then the setting's own table.
    assert table.index("## Headline") < table.index("| model | kernels | path | ran |")
    for name in MODELS:
        assert table.count(f"| {name} |") == 1 + len(PATHS), name
        assert re.search(rf"- {name} \(\w+\): zoo default \w+; Keras default \w+; best ", table)
    for label in ("train ex/s median", "utilization", "same-repeat peak", "matmul peak",
                  "zoo default", "keras default", "XLA refused", "spends its op time",
                  "kernels seen", "default / best", "kernels read back"):
        assert label in table, label
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


@pytest.mark.slow
@pytest.mark.parametrize("name", [m for m in DEFAULT_MODELS if m not in MODELS])
def test_other_default_models_count_their_training_flops(name):
    # What the quick run checks of each model's FLOPs, without the timing: the profiled train
    # step (its gradients) costs 2x-5x the forward pass, counted the same way.
    model = xla.build_model(name, {"input_shape": (32, 32, 3),
                                   "data_format": "channels_last"}, seed=0)
    model.compile(**xla._sgd())
    x = tf.constant(model.example_inputs(batch_size=2, seed=0))
    y = tf.constant([1, 2], tf.int32)
    counted = xla.flops_per_example(model, x, y, batch_size=2, time_steps=32)
    assert "train_graph_error" not in counted, counted
    forward, train = counted["forward_flops_per_example"], counted["train_flops_per_example"]
    assert _finite_positive(forward) and 2 * forward < train < 5 * forward, counted
    assert counted["train_graph_flops_per_example"] == train
    assert sum(counted["flops_by_op_type"].values()) == pytest.approx(train)


# Bad flags and an unwritable --output_dir are rejected in-process by
# tests/bad_input/test_bad_benchmarks_cli.py, and end to end there (exit
# status 2, a usage line, no traceback) once per benchmark CLI.


# ---------------------------------------------------------------------------
# Pure helpers.


def test_docstring_examples_run():
    failures, tried = doctest.testmod(xla)
    assert tried > 0 and failures == 0


def test_best_path_is_chosen_by_the_trainers_rule():
    # One rule for "faster" (tested in tests/train/test_jit.py): the
    # benchmark's best path is the one `--jit_compile=probe` would pick.
    from zoo.train import jit

    assert xla.choose_faster is jit.choose_faster


def test_einsum_flops_on_known_shapes():
    einsum_flops = xla.einsum_flops
    # A dense head over a whole image: 2 * n * k * (h * w * c).
    assert einsum_flops("nhwc,hwck->nk", [(8, 4, 4, 2), (4, 4, 2, 16)]) == 2 * 8 * 16 * 32
    # Dense with batch dims under an ellipsis: 2 * (batch elements) * k * i.
    assert einsum_flops("...i,ik->...k", [(2, 3, 5), (5, 7)]) == 2 * 6 * 7 * 5
    # A gradient einsum contracts the output units.
    assert einsum_flops("nk,hwck->nhwc", [(8, 16), (4, 4, 2, 16)]) == 2 * 8 * 32 * 16
    assert einsum_flops("ij->ji", [(3, 4)]) == 12


def test_graph_flops_counts_matmul_and_einsum():
    @tf.function
    def f(a, b, c):
        return tf.matmul(a, b), tf.einsum("ij,jk->ik", a, c)

    graph = f.get_concrete_function(tf.TensorSpec([4, 8]), tf.TensorSpec([8, 3]),
                                    tf.TensorSpec([8, 5])).graph
    total, by_type = xla.graph_flops(graph)
    assert by_type["MatMul"] == 2 * 4 * 3 * 8
    assert by_type["Einsum"] == 2 * 4 * 5 * 8
    assert total == sum(by_type.values())


def test_graph_flops_counts_batch_matmuls_by_their_contraction():
    # A Dense on (batch, tokens, width) inputs: its kernel gradient is a batched matmul with
    # adj_x, contracting the tokens; the profiler's count took `a`'s last axis (the width).
    @tf.function
    def f(a, b, c):
        return tf.linalg.matmul(a, b, adjoint_a=True), tf.linalg.matmul(a, c)

    graph = f.get_concrete_function(tf.TensorSpec([2, 17, 192]), tf.TensorSpec([2, 17, 768]),
                                    tf.TensorSpec([2, 192, 5])).graph
    total, by_type = xla.graph_flops(graph)
    assert by_type["BatchMatMulV2"] == 2 * 17 * (2 * 192 * 768) + 2 * 192 * (2 * 17 * 5)
    assert total == by_type["BatchMatMulV2"]


def test_rnn_forward_flops_counts_every_step_and_direction():
    import keras

    def classifier(recurrent):  # embedding_dim 3, 4 units, 2 classes
        inputs = keras.Input(shape=(10, 3))
        return keras.Model(inputs, keras.layers.Dense(2)(recurrent(inputs)))

    # Bidirectional LSTM: 4 gates, each direction's matmuls and bias per step.
    lstm = classifier(keras.layers.Bidirectional(keras.layers.LSTM(4)))
    per_step = 2 * 4 * 4 * (3 + 4) + 4 * 4
    assert xla.weight_flops(lstm, 10) == (2 * 10 * per_step, 2 * 8 * 2)
    gru = classifier(keras.layers.GRU(4))
    assert xla.weight_flops(gru, 10) == (10 * (2 * 3 * 4 * 7 + 3 * 4), 2 * 4 * 2)
    assert xla.weight_flops(classifier(keras.layers.Flatten()), 10) == (0, 2 * 30 * 2)


# ---------------------------------------------------------------------------
# A path that fails is reported, not fatal (in-process, one small model).


def test_failing_xla_path_is_reported_and_the_rest_measured(tmp_path, monkeypatch):
    real_build = xla.build_model

    def build(name, overrides, seed):
        model = real_build(name, overrides, seed)
        train_step = model.train_step

        def fails_under_xla(data):
            if model.jit_compile:
                raise RuntimeError("XLA compilation failed\nsecond line")
            return train_step(data)

        model.train_step = fails_under_xla
        return model

    monkeypatch.setattr(xla, "build_model", build)
    # The setting this process runs: measured in-process, no child.
    here = xla.current_setting()
    result = xla.run(models=["einsum_mlp"], paths=["graph", "xla"], batch_size=4, repeats=1,
                     steps=1, warmup=1, min_repeat_s=0.0, image_size=32,
                     sequence_length=16, matmul_n=64, profile_steps=0, seed=0, quick=True,
                     output_dir=str(tmp_path), onednn=[here])
    (setting,) = result["settings"]
    assert result["settings"][setting]["process"]["mode"] == "in-process"
    m = result["settings"][setting]["models"]["einsum_mlp"]
    assert list(m["paths"]) == ["graph", "xla"]
    graph, failed = m["paths"]["graph"], m["paths"]["xla"]
    assert failed["error"] == "RuntimeError: XLA compilation failed"
    assert failed["train"] is None and failed["utilization"] is None
    assert failed["evidence"]["jit_compile"] is True
    assert graph["error"] is None and graph["train"]["examples_per_s"]["median"] > 0
    assert m["best_train_path"] == "graph"
    assert m["zoo_default_vs_best"] == pytest.approx(1.0)
    written = json.loads(next(tmp_path.glob("xla_*.json")).read_text())
    assert written["settings"][setting]["models"]["einsum_mlp"]["paths"]["xla"]["error"] == \
        failed["error"]
    table = next(tmp_path.glob("xla_*.md")).read_text()
    assert "error: RuntimeError: XLA compilation failed" in table


# ---------------------------------------------------------------------------
# Kernel libraries: the merge of the settings' results, on synthetic records.


def _s(median, low=None, high=None):
    return {"median": median, "min": median if low is None else low,
            "max": median if high is None else high}


def _path(examples_per_s, library, **counts):
    return {"train": {"examples_per_s": _s(examples_per_s)}, "error": None,
            "evidence": {"xla_refused": False,
                         "kernels": {"library": library, "onednn": 0, "eigen": 0, "xla": 0,
                                     "onednn_ops": counts.get("onednn", 0), **counts}}}


def _entry(graph, xla_, library, best, default):
    return {"paths": {"graph": _path(graph, library, **{library: 7}),
                      "xla": _path(xla_, "xla", xla=9)},
            "best_train_path": best, "zoo_default_path": default,
            "zoo_default_vs_best": None}


def _record(setting, models, mismatch=None):
    platform = xla.ONEDNN_SETTINGS[setting]["platform"]
    return {"setting": setting, "label": xla.ONEDNN_SETTINGS[setting]["label"],
            "kernels": {"platform": platform, "mismatch": mismatch}, "models": models}


PLAN = xla.onednn_plan(None, gpu=False, machine="x86_64")
DEVICE = {"kind": "cpu", "name": "Test CPU", "gpu_found": False, "kernels": "?"}


def test_plan_varies_onednn_on_x86_cpus_only():
    assert PLAN["applicable"] is True and PLAN["settings"] == ["on", "off"]
    for kwargs in ({"gpu": True, "machine": "x86_64"}, {"gpu": False, "machine": "aarch64"}):
        plan = xla.onednn_plan(["on", "off"], **kwargs)
        assert plan == {**plan, "applicable": False, "settings": ["n/a"]}
        assert "ignored" in plan["reason"]


def test_merge_computes_the_default_goal_per_model_and_setting():
    settings = {
        # graph 100, xla 104: the default (graph) is 0.96 of the best: met.
        "on": _record("on", {"resnet20": _entry(100.0, 104.0, "onednn", "xla", "graph"),
                             # 0.90 of the best: missed.
                             "resnet50": _entry(90.0, 100.0, "onednn", "xla", "graph")}),
        # The default is the best.
        "off": _record("off", {"resnet20": _entry(50.0, 93.0, "eigen", "xla", "xla"),
                               "resnet50": _entry(40.0, 20.0, "eigen", "graph", "graph")}),
    }
    result = xla.merge(settings, {}, PLAN, {"quick": True}, DEVICE, "description")
    assert list(result["settings"]) == ["on", "off"] and result["failed"] == {}
    assert result["device"]["kernels"] == \
        "oneDNN (--onednn=on) and Eigen (--onednn=off), one process each"
    rows = {(r["model"], r["setting"]): r for r in result["headline"]}
    assert list(rows) == [("resnet20", "on"), ("resnet50", "on"), ("resnet20", "off"),
                          ("resnet50", "off")]
    assert rows["resnet20", "on"]["zoo_default_vs_best"] == pytest.approx(100 / 104)
    assert [rows[k]["meets_goal"] for k in rows] == [True, False, True, True]
    assert rows["resnet50", "on"]["label"] == "oneDNN" and rows["resnet20", "off"]["label"] == \
        "Eigen"
    assert rows["resnet20", "off"]["kernels_seen"] == {"graph": "eigen", "xla": "xla"}
    assert result["goal"]["met"] is False
    assert result["goal"]["missed"] == ["resnet50 (oneDNN)"] and result["goal"]["unknown"] == []
    table = xla.render_headline(result)
    assert "| resnet50 | oneDNN | 90.0 (90.0–90.0) | 100.0 (100.0–100.0) | xla | graph | " \
           "0.90 | no | graph oneDNN ×7; xla XLA ×9 |" in table
    # All met.
    settings["on"]["models"].pop("resnet50")
    assert xla.merge(settings, {}, PLAN, {}, DEVICE, "d")["goal"]["met"] is True


def test_merge_records_a_crashed_setting_and_keeps_the_other(tmp_path):
    result_, crash = xla.run_child(
        [sys.executable, "-c", "import sys; print('first line'); "
         "[print(f'log {i}', file=sys.stderr) for i in range(30)]; "
         "print('RuntimeError: the last words', file=sys.stderr); sys.exit(3)"],
        dict(os.environ), str(tmp_path))
    assert result_ is None
    assert crash["returncode"] == 3 and crash["reason"] == "exit code 3"
    assert crash["stderr_tail"][-1] == "RuntimeError: the last words"
    assert len(crash["stderr_tail"]) == common.STDERR_TAIL_LINES
    assert crash["first_line"] == "first line"
    _, silent = xla.run_child([sys.executable, "-c", "pass"], dict(os.environ), str(tmp_path))
    assert silent["returncode"] == 0 and "wrote no xla_<device>.json" in silent["reason"]

    on = _record("on", {"einsum_mlp": _entry(100.0, 50.0, "onednn", "graph", "graph")})
    result = xla.merge({"on": on}, {"off": crash}, PLAN, {}, DEVICE, "d")
    assert result["failed"]["off"]["returncode"] == 3
    assert result["failed"]["off"]["stderr_tail"][-1] == "RuntimeError: the last words"
    assert [r["setting"] for r in result["headline"]] == ["on", "off"]
    assert result["headline"][1]["failed"] == "exit code 3"
    # The crashed setting cannot be judged: the goal is not met, nor missed.
    assert result["goal"]["met"] is None and result["goal"]["unknown"] == ["every model (Eigen)"]
    assert "| (all) | Eigen | failed: exit code 3 |" in xla.render_headline(result)


def test_a_crashing_child_does_not_stop_the_next_one(tmp_path, monkeypatch):
    calls = []

    def crash(cmd, env, workdir, log=None):
        calls.append((cmd, env[xla.ONEDNN_VARIABLE],
                      env[xla.CHILD_VARIABLE]))
        return None, {"mode": "child", "returncode": -11, "reason": "exit code -11",
                      "stderr_tail": ["Segmentation fault"]}

    monkeypatch.setattr(xla, "run_child", crash)
    result = xla.run(models=["einsum_mlp"], paths=["graph", "xla"], batch_size=4, repeats=1,
                     steps=1, warmup=1, min_repeat_s=0.0, image_size=32,
                     sequence_length=16, matmul_n=64, profile_steps=0, seed=0, quick=True,
                     output_dir=str(tmp_path), plan=PLAN)
    assert [(c[1], c[2]) for c in calls] == [("1", "on"), ("0", "off")]
    cmd = calls[1][0]
    assert cmd[1:3] == ["-m", "benchmarks.xla"] and "--onednn=off" in cmd
    assert "--models=einsum_mlp" in cmd and "--paths=graph,xla" in cmd and "--quick" in cmd
    assert set(result["failed"]) == {"on", "off"} and result["settings"] == {}
    md = (tmp_path / "xla_cpu.md").read_text()
    assert "--onednn=off failed**: exit code -11" in md and "Segmentation fault" in md


# ---------------------------------------------------------------------------
# Both kernel libraries, for real: two child processes, one tiny model.


@pytest.fixture(scope="module")
def two_settings_run(tmp_path_factory):
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU host does not vary the CPU kernel library")
    out = tmp_path_factory.mktemp("two_settings")
    proc = run_benchmark("--models=einsum_mlp", "--paths=graph,xla", "--quick",
                         "--onednn=on,off", f"--output_dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads((out / "xla_cpu.json").read_text()), (out / "xla_cpu.md").read_text()


@pytest.mark.slow
def test_both_settings_run_in_children_with_the_kernels_asked_for(two_settings_run):
    proc, result, md = two_settings_run
    first = proc.stdout.splitlines()[0]
    assert first.startswith("benchmarks.xla: TensorFlow ") and "--onednn=on,off" in first
    assert result["onednn"]["applicable"] is True and result["config"]["onednn"] == ["on", "off"]
    assert list(result["settings"]) == ["on", "off"]
    assert result["failed"] == {} and result["mismatches"] == {}
    for setting, library, platform, env in (("on", "onednn", "cpu/onednn", "1"),
                                            ("off", "eigen", "cpu/eigen", "0")):
        record = result["settings"][setting]
        kernels = record["kernels"]
        assert record["process"]["mode"] == "child" and record["process"]["returncode"] == 0
        assert f"--onednn={setting}" in record["process"]["command"]
        # Read back in the child.
        assert kernels["platform"] == kernels["expected_platform"] == platform
        assert kernels["onednn_enabled"] is (setting == "on")
        assert kernels["TF_ENABLE_ONEDNN_OPTS"] == env and kernels["mismatch"] is None
        assert f"set by the parent benchmarks.xla for --onednn={setting}" in \
            kernels["decided_by"]
        assert record["process"]["first_line"].startswith("benchmarks.xla: TensorFlow ")
        assert f"on {platform}:" in record["process"]["first_line"]
        # Seen in the traces: the graph path's matmuls ran in that library, the
        # xla path's in XLA-compiled code.
        paths = record["models"]["einsum_mlp"]["paths"]
        graph, xla_ = paths["graph"]["evidence"]["kernels"], paths["xla"]["evidence"]["kernels"]
        assert graph["library"] == library and graph[library] > 0, graph
        assert graph["eigen" if setting == "on" else "onednn"] == 0, graph
        assert xla_["library"] == "xla" and xla_["xla"] > 0, xla_
        assert any(t.startswith("_Mkl") for t in graph["op_types"]) is (setting == "on")
        assert kernels["seen"][library] == graph[library]
        m = record["models"]["einsum_mlp"]
        assert m["zoo_default_path"] == "graph" and m["best_train_path"] in ("graph", "xla")
        assert m["meets_default_goal"] is (m["zoo_default_vs_best"] >= 0.95)
        assert record["matmul"]["gflops"]["median"] > 0
    rows = {r["setting"]: r for r in result["headline"]}
    assert rows["on"]["label"] == "oneDNN" and rows["off"]["label"] == "Eigen"
    assert rows["on"]["kernels_seen"] == {"graph": "onednn", "xla": "xla"}
    assert rows["off"]["kernels_seen"] == {"graph": "eigen", "xla": "xla"}
    # The report: the headline table first, then one section per setting.
    assert md in proc.stdout
    assert md.index("## Headline") < md.index("## oneDNN (--onednn=on") < \
        md.index("## Eigen (--onednn=off")
    assert "| einsum_mlp | oneDNN |" in md and "| einsum_mlp | Eigen |" in md
    assert "graph oneDNN ×" in md and "graph Eigen ×" in md
