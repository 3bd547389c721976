"""`python -m benchmarks.export`, run as a user runs it, and its failure
reporting in-process on a reduced grid. Never asserts speed."""

import functools
import json
import math
import os
import pathlib
import re

import keras
import pytest
import tensorflow as tf

import zoo
from benchmarks import common
from helpers import run_module

REPO = pathlib.Path(__file__).resolve().parents[2]
# What the families put forward (the registry and the contract), as --models' default.
MODELS = common.default_models()
PATHS = ["keras_call", "keras_tf_function", "keras_predict_on_batch", "saved_model", "tflite"]
TEXT_PATHS = ["tflite_token_ids"]
# Timed for models with BatchNorm to fold (the exports with fold_batchnorm=False).
FOLD_PATHS = ["saved_model_unfolded", "tflite_unfolded"]
UNFOLDED = {"saved_model": "saved_model_unfolded", "tflite": "tflite_unfolded"}
KERAS_PATHS = ["keras_call", "keras_tf_function", "keras_predict_on_batch"]
BATCHES = ["1", "32"]
CELL_KEYS = {"path", "batch_size", "latency_ms", "latency_ms_per_repeat", "per_example_ms",
             "first_call_ms", "warmup_ms", "ratio_vs_keras", "ratio_vs_tf_function",
             "ratio_folded_vs_unfolded", "max_abs_diff_vs_keras", "error"}


def run_benchmark(*flags, timeout=300, env=None):
    return run_module("benchmarks.export", *flags, timeout=timeout, env=env)


@functools.cache
def folds(model):
    """Whether registered `model` has BatchNorm to fold (a ConvBN), read from its layers."""
    return any(callable(getattr(layer, "fold_batchnorm", None))
               for layer in zoo.create_model(model)._flatten_layers(include_self=False))


def paths_of(model):
    return PATHS + (FOLD_PATHS if folds(model) else []) + \
        (TEXT_PATHS if common.modality(model) == "text" else [])


def _positive_finite(x):
    return isinstance(x, float) and math.isfinite(x) and x > 0


@functools.cache
def quick_models():
    """What --quick measures: the smallest default model of each modality and
    the smallest with BatchNorm to fold (every model's exports:
    tests/export/test_every_model.py)."""
    from benchmarks import export

    return common.smallest_models(also=[export.has_batchnorm_to_fold])


def test_quick_takes_every_path_on_the_fewest_smallest_models(tmp_path):
    from benchmarks import export

    flag_values, _ = common.parse_flags(export, ["--quick", f"--output_dir={tmp_path}"])
    assert flag_values.models == quick_models()
    assert {common.modality(m) for m in quick_models()} == \
        {common.modality(m) for m in MODELS}
    assert any(folds(m) for m in quick_models())
    assert len(quick_models()) < len(MODELS)
    flag_values, _ = common.parse_flags(export, ["--quick", "--models=resnet18",
                                                 f"--output_dir={tmp_path}"])
    assert flag_values.models == ["resnet18"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    # A hang guard, not a speed bound: the quick run took 20 s alone on 2 CPU
    # cores (203 s beside three other workers when it measured every default
    # model).
    proc = run_benchmark("--quick", f"--output_dir={out}", timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, out


@pytest.mark.slow
def test_quick_run_writes_json_with_the_whole_grid(quick_run):
    proc, out = quick_run
    kind = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    assert sorted(os.listdir(out)) == [f"export_{kind}.json", f"export_{kind}.md"]
    result = json.loads((out / f"export_{kind}.json").read_text())

    for key in ("benchmark", "device", "versions", "config", "models", "results", "timestamp"):
        assert key in result, key
    assert result["benchmark"] == "export"
    assert result["device"]["kind"] == kind
    assert result["device"]["gpu_found"] == (kind == "gpu")
    assert result["versions"]["tensorflow"] and result["versions"]["keras"]
    cfg = result["config"]
    assert {k: cfg[k] for k in ("repeats", "iterations", "warmup", "image_size",
                                "sequence_length")} == \
        {"repeats": 2, "iterations": 2, "warmup": 1, "image_size": 16, "sequence_length": 16}
    assert cfg["models"] == quick_models() and cfg["batch_sizes"] == [1, 32]
    assert cfg["fair_graph_comparison"] == "keras_tf_function"
    assert set(cfg["paths"]) == set(PATHS + FOLD_PATHS + TEXT_PATHS)
    assert "fold_batchnorm" in cfg["folding"]

    # The whole grid: model x path x batch, in turn order.
    assert list(result["results"]) == quick_models()
    assert list(result["models"]) == quick_models()
    for model, paths in result["results"].items():
        info = result["models"][model]
        assert info["error"] is None, (model, info["error"])
        assert info["params"] > 0
        folding = folds(model)
        assert set(info["exports"]) == {"saved_model", "tflite"} | (
            set(FOLD_PATHS) if folding else set())
        assert list(paths) == paths_of(model)
        for key, export in info["exports"].items():
            if export["error"] is None:  # the ops of the file, by type
                assert export["total_ops"] == sum(export["op_counts"].values()) > 0, key
        # What folding removed, from the files themselves: SavedModel has no
        # BatchNorm op left (one per BatchNorm unfolded); TFLite's converter
        # folds them itself (zoo.export.fold), so only the totals are checked.
        if not folding:
            assert info["folding"] is None
        else:
            evidence = info["folding"]
            assert set(evidence) == {"saved_model", "tflite"}
            assert evidence["saved_model"]["batchnorm_ops"]["folded"] == 0
            assert evidence["saved_model"]["batchnorm_ops"]["unfolded"] > 0
            assert evidence["saved_model"]["removed"]
            for fmt, change in evidence.items():
                total = change["total"]
                assert total["folded"] == info["exports"][fmt]["total_ops"], fmt
                assert total["unfolded"] == info["exports"][UNFOLDED[fmt]]["total_ops"], fmt
                assert total["folded"] <= total["unfolded"], fmt
        for path, by_batch in paths.items():
            assert list(by_batch) == BATCHES, (model, path)
            for batch, cell in by_batch.items():
                where = (model, path, batch)
                assert CELL_KEYS <= set(cell), where
                assert cell["path"] == path and cell["batch_size"] == int(batch)
                if path in KERAS_PATHS:  # in-process Keras never fails here
                    assert cell["error"] is None, (where, cell["error"])
                if cell["error"] is not None:
                    assert isinstance(cell["error"], str) and "\n" not in cell["error"]
                    assert cell["latency_ms"] is None and cell["ratio_vs_keras"] is None
                    continue
                stats, per_repeat = cell["latency_ms"], cell["latency_ms_per_repeat"]
                assert len(per_repeat) == 2 and all(_positive_finite(v) for v in per_repeat)
                assert stats["min"] <= stats["median"] <= stats["max"]
                assert stats["min"] == min(per_repeat) and stats["max"] == max(per_repeat)
                assert _positive_finite(cell["first_call_ms"]), where
                assert cell["per_example_ms"] == pytest.approx(stats["median"] / int(batch))
                assert cell["warmup_ms"] == []  # --warmup=1: the first call only
                base = paths["keras_call"][batch]["latency_ms_per_repeat"]
                ratio = cell["ratio_vs_keras"]
                assert ratio["per_repeat"] == pytest.approx(
                    [a / b for a, b in zip(per_repeat, base)])
                assert all(_positive_finite(r) for r in ratio["per_repeat"])
                assert ratio["min"] <= ratio["median"] <= ratio["max"]
                graph = paths["keras_tf_function"][batch]["latency_ms_per_repeat"]
                assert cell["ratio_vs_tf_function"]["per_repeat"] == pytest.approx(
                    [a / b for a, b in zip(per_repeat, graph)])
                if path == "keras_call":
                    assert ratio["per_repeat"] == [1.0, 1.0]
                # Folded over unfolded, within each repeat, where both ran.
                unfolded = paths.get(UNFOLDED.get(path), {}).get(batch)
                if unfolded and unfolded["error"] is None:
                    fold_ratio = cell["ratio_folded_vs_unfolded"]
                    assert fold_ratio["per_repeat"] == pytest.approx(
                        [a / b for a, b in zip(per_repeat, unfolded["latency_ms_per_repeat"])])
                    assert fold_ratio["min"] <= fold_ratio["median"] <= fold_ratio["max"]
                else:
                    assert cell["ratio_folded_vs_unfolded"] is None, where
                # Every path computes what the Keras call computes.
                assert cell["max_abs_diff_vs_keras"] is not None, where
                assert cell["max_abs_diff_vs_keras"] < 1e-3, where
        tflite = info["exports"]["tflite"]
        if tflite["error"] is None:
            text = common.modality(model) == "text"
            assert tflite["tokenizes_in_python"] == text
            # A recurrent loop needs a static batch of 1 (one invoke per
            # example, zoo.export.tflite); every other model a dynamic one.
            recurrent = any(isinstance(layer, keras.layers.RNN) for layer in
                            zoo.create_model(model)._flatten_layers(include_self=False))
            assert tflite["static_batch"] == (1 if recurrent else None), model
            if recurrent:
                assert tflite["invocations_per_call"] == {"1": 1, "32": 32}
                assert "one `invoke` per example" in info["paths"]["tflite"]
            else:
                assert tflite["invocations_per_call"] == {"1": 1, "32": 1}
                assert "dynamic batch: one `invoke` per call" in info["paths"]["tflite"]


@pytest.mark.slow
def test_quick_run_prints_the_table_and_deletes_its_exports(quick_run):
    proc, out = quick_run
    (md_path,) = out.glob("export_*.md")
    table = md_path.read_text()
    assert table in proc.stdout
    # The first line says which kernels run, and why (common.launch_line).
    assert proc.stdout.startswith("benchmarks.export: TensorFlow "), proc.stdout[:300]
    for label in ("ms/call median", "vs Keras call", "vs tf.function", "1 (baseline)",
                  "1 (graph baseline)", "SavedModel", "TFLite (float)", "What each path times",
                  "Python-side tokenization", "SavedModel, BN unfolded",
                  "TFLite (float), BN unfolded", "BatchNorm folding", "BatchNorm ops"):
        assert label in table, label
    rows = [line for line in table.splitlines()
            if re.match(rf"\| ({'|'.join(MODELS)}) \|", line)]
    assert len(rows) == 2 * sum(len(paths_of(m)) for m in quick_models())
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]
    # The export artifacts went to a temporary directory, removed at the end.
    (workdir,) = set(re.findall(r"exporting to (\S+)", proc.stderr))
    assert "zoo-bench-export-" in workdir
    assert not os.path.exists(workdir)


# Bad flags and an unwritable --output_dir are rejected in-process by
# tests/bad_input/test_bad_benchmarks_cli.py, and end to end there (exit
# status 2, a usage line, no traceback) once per benchmark CLI.


def test_latencies_ms():
    assert common.latencies_ms([0.5, 0.02], 10) == pytest.approx([50.0, 2.0])
    with pytest.raises(ValueError, match="calls"):
        common.latencies_ms([1.0], 0)


# ---------------------------------------------------------------------------
# Failing paths are reported, not fatal (in-process, reduced grid).


def test_failing_paths_are_reported_and_the_rest_measured(tmp_path, monkeypatch, capsys):
    from benchmarks import export
    from zoo.export import saved_model, tflite

    def no_tflite(path, num_threads=None):
        raise RuntimeError("interpreter exploded\nsecond line")

    def serving_fails(self, inputs):
        raise ValueError("signature rejects this\ndetails")

    monkeypatch.setattr(tflite, "load", no_tflite)
    monkeypatch.setattr(saved_model.ServingModel, "__call__", serving_fails)
    result = export.run(models=["einsum_mlp"], batch_sizes=[1, 3], repeats=2, iterations=1,
                        warmup=1, image_size=8, sequence_length=4, tflite_threads=0, seed=0,
                        output_dir=str(tmp_path))
    cells = result["results"]["einsum_mlp"]
    assert list(cells) == PATHS
    for batch in ("1", "3"):
        assert cells["tflite"][batch]["error"] == "export: RuntimeError: interpreter exploded"
        assert cells["saved_model"][batch]["error"] == "ValueError: signature rejects this"
        for path in ("tflite", "saved_model"):
            assert cells[path][batch]["latency_ms"] is None
            assert cells[path][batch]["ratio_vs_keras"] is None
        for path in KERAS_PATHS:
            cell = cells[path][batch]
            assert cell["error"] is None
            assert cell["latency_ms"]["median"] > 0
            assert cell["ratio_vs_keras"]["median"] > 0
            assert cell["max_abs_diff_vs_keras"] < 1e-5
    exports = result["models"]["einsum_mlp"]["exports"]
    assert result["models"]["einsum_mlp"]["folding"] is None  # no BatchNorm
    assert exports["tflite"]["error"] == "RuntimeError: interpreter exploded"
    assert exports["saved_model"]["error"] is None
    written = json.loads(next(tmp_path.glob("export_*.json")).read_text())
    assert written["results"] == json.loads(json.dumps(result["results"]))
    stdout = capsys.readouterr().out
    assert "error: export: RuntimeError: interpreter exploded" in stdout
    assert "error: ValueError: signature rejects this" in stdout
