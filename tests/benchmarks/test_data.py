"""`python -m benchmarks.data`, run as a user runs it, and its helpers.
Never asserts speed: only that every figure is there, finite, positive and
consistent with the others."""

import json
import math
import os
import pathlib
import re
import statistics

import pytest
import tensorflow as tf

from helpers import assert_usage_error, run_module

REPO = pathlib.Path(__file__).resolve().parents[2]
DATASETS = ["digits", "cifar10"]
CHANNELS = {"digits": 1, "cifar10": 3}
QUICK = {"batch_size": 64, "repeats": 3, "pipeline_images": 4096, "train_steps": 3,
         "fit_steps": 4, "warmup": 1, "mock_examples": 1024}
CASE_KEYS = {"dataset", "source", "pipeline_call", "element_spec", "image_shape", "batch_size",
             "epoch_images", "epoch_batches", "build_seconds", "first_epoch_seconds",
             "pipeline", "model", "ratio_pipeline_to_model", "meets_10x_goal", "fit",
             "fit_skipped"}


def run_benchmark(*flags, timeout=300, env=None):
    return run_module("benchmarks.data", *flags, timeout=timeout, env=env)


def _positive_finite(x):
    return isinstance(x, float) and math.isfinite(x) and x > 0


def _check_stats(stats, repeats):
    per_repeat = stats["per_repeat"]
    assert len(per_repeat) == repeats
    assert all(_positive_finite(v) for v in per_repeat), per_repeat
    assert stats["min"] == min(per_repeat) and stats["max"] == max(per_repeat)
    assert stats["median"] == pytest.approx(statistics.median(per_repeat))


def _check_ratio(ratio, numerators, denominators):
    assert ratio["per_repeat"] == pytest.approx(
        [n / d for n, d in zip(numerators["per_repeat"], denominators["per_repeat"])])
    _check_stats(ratio, len(numerators["per_repeat"]))
    assert ratio["of_medians"] == pytest.approx(numerators["median"] / denominators["median"])


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    proc = run_benchmark("--quick", f"--output_dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    kind = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    return proc, out, kind


@pytest.mark.slow
def test_quick_run_writes_json_with_consistent_figures(quick_run):
    proc, out, kind = quick_run
    assert sorted(os.listdir(out)) == [f"data_{kind}.json", f"data_{kind}.md"]
    result = json.loads((out / f"data_{kind}.json").read_text())

    for key in ("benchmark", "description", "command", "timestamp", "device", "versions",
                "config", "results"):
        assert key in result, key
    assert result["benchmark"] == "data"
    assert result["device"]["kind"] == kind
    assert result["device"]["gpu_found"] == (kind == "gpu")
    assert result["versions"]["tensorflow"] and result["versions"]["keras"]
    cfg = result["config"]
    assert {k: cfg[k] for k in QUICK} == QUICK
    assert cfg["datasets"] == DATASETS and cfg["model"] == "resnet20"
    assert cfg["cifar_source"] == "auto" and cfg["cifar_source_used"] in ("mock", "tfds")
    assert list(result["results"]) == DATASETS

    for name, case in result["results"].items():
        assert CASE_KEYS <= set(case), (name, CASE_KEYS - set(case))
        assert case["dataset"] == name and case["batch_size"] == 64
        assert case["image_shape"] == [32, 32, CHANNELS[name]]
        assert case["pipeline_call"].startswith(f"zoo.data.load('{name}', split='train'")
        assert _positive_finite(case["first_epoch_seconds"])

        pipeline = case["pipeline"]
        assert pipeline["images_per_repeat"] == pipeline["epochs_per_repeat"] * \
            case["epoch_images"] >= QUICK["pipeline_images"]
        _check_stats(pipeline["images_per_second"], QUICK["repeats"])
        assert pipeline["images_per_second"]["per_repeat"] == pytest.approx(
            [pipeline["images_per_repeat"] / s for s in pipeline["repeat_seconds"]])

        model = case["model"]
        assert model["name"] == "resnet20" and model["params"] > 0
        assert model["batch_shape"] == [64, 32, 32, CHANNELS[name]]
        assert "jit_compile=False" in model["compile"]
        assert _positive_finite(model["first_step_seconds"])
        _check_stats(model["images_per_second"], QUICK["repeats"])
        assert model["images_per_second"]["per_repeat"] == pytest.approx(
            [QUICK["train_steps"] * 64 / s for s in model["repeat_seconds"]])

        ratio = case["ratio_pipeline_to_model"]
        _check_ratio(ratio, pipeline["images_per_second"], model["images_per_second"])
        assert case["meets_10x_goal"] is (ratio["median"] >= 10)

        fit = case["fit"]
        assert case["fit_skipped"] is None and fit is not None
        assert fit["steps_per_call"] == QUICK["fit_steps"]
        assert fit["timed_steps_per_call"] == QUICK["fit_steps"] - 1
        _check_stats(fit["images_per_second"], QUICK["repeats"])
        assert fit["images_per_second"]["per_repeat"] == pytest.approx(
            [(QUICK["fit_steps"] - 1) * 64 / s for s in fit["steady_seconds"]])
        # The steady state is part of each fit call.
        assert all(s <= c for s, c in zip(fit["steady_seconds"], fit["call_seconds"]))
        _check_ratio(fit["ratio_to_train_on_batch"], fit["images_per_second"],
                     model["images_per_second"])


@pytest.mark.slow
def test_quick_run_records_where_the_data_came_from(quick_run):
    _, out, kind = quick_run
    result = json.loads((out / f"data_{kind}.json").read_text())
    digits = result["results"]["digits"]
    assert digits["source"]["kind"] == "embedded"
    assert digits["epoch_images"] == 1438  # the digits train split
    cifar = result["results"]["cifar10"]
    source = cifar["source"]
    assert source["kind"] == result["config"]["cifar_source_used"]
    if source["kind"] == "mock":  # no prepared cifar10 on this machine
        assert source["mock_examples"] == QUICK["mock_examples"] == cifar["epoch_images"]
        for words in ("mock_data", "random uint8", "32x32x3", "augmentation", "cache"):
            assert words in source["note"], words
    else:
        assert source["data_dir"] and cifar["epoch_images"] == 50_000


@pytest.mark.slow
def test_quick_run_prints_and_writes_the_tables(quick_run):
    proc, out, kind = quick_run
    table = (out / f"data_{kind}.md").read_text()
    assert table in proc.stdout
    # The first line says which kernels run, and why (common.launch_line).
    assert proc.stdout.startswith("benchmarks.data: TensorFlow "), proc.stdout[:300]
    for label in ("pipeline img/s", "resnet20 train img/s", "pipeline / model", "≥ 10x",
                  "first epoch s", "Overlapped", "fit / train_on_batch"):
        assert label in table, label
    for name in DATASETS:
        # One row in each table.
        assert len(re.findall(rf"^\| {name} \|", table, flags=re.M)) == 2, name
    assert "mock" in table or "TFDS (prepared)" in table
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


# Bad flags and an unwritable --output_dir are rejected in-process by
# tests/bad_input/test_bad_benchmarks_cli.py, and end to end there (exit
# status 2, a usage line, no traceback) once per benchmark CLI; this one is
# benchmarks.data's end to end: TFDS reads TFDS_DATA_DIR when it is imported.


def test_cifar_source_tfds_without_the_data_is_a_usage_error(tmp_path):
    proc = run_benchmark("--quick", "--datasets=cifar10", "--cifar_source=tfds",
                         f"--output_dir={tmp_path / 'out'}", timeout=120,
                         env={"TFDS_DATA_DIR": str(tmp_path / "empty")})
    output = assert_usage_error(proc, "--cifar_source=tfds", "not prepared")
    assert "benchmarks.data: error:" in output
    assert not (tmp_path / "out" / "data_cpu.json").exists()


# ---------------------------------------------------------------------------
# Helpers, in-process.


def test_iterate_epochs_counts_every_image():
    from benchmarks import data

    ds = tf.data.Dataset.range(10).map(lambda i: (tf.zeros([2, 2, 1]), i)).batch(4)
    assert data.iterate_epochs(ds, 3) == 30


def test_steady_state_times_from_the_first_step_end():
    from benchmarks import data

    assert data.steady_state([1.0, 1.5, 3.0]) == (2, 2.0)
    with pytest.raises(ValueError, match="at least 2"):
        data.steady_state([1.0])


def test_load_call_matches_zoo_train():
    from benchmarks import data

    kwargs, text = data.load_call("digits", 64, 0)
    assert kwargs == {"split": "train", "batch_size": 64, "seed": 0, "image_size": 32}
    assert text == "zoo.data.load('digits', split='train', batch_size=64, seed=0, image_size=32)"
    kwargs, _ = data.load_call("cifar10", 8, 1)
    assert "image_size" not in kwargs  # CIFAR comes at its fixed 32x32
