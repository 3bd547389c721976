"""`python -m benchmarks.resnet_vs_keras`, run as a user runs it, and the
helpers of `benchmarks.common` on known numbers. Never asserts speed."""

import doctest
import json
import math
import os
import pathlib

import pytest

from helpers import run_module
from benchmarks import common

REPO = pathlib.Path(__file__).resolve().parents[2]
MODEL_NAMES = ["keras_resnet50", "zoo_resnet50_v1", "zoo_resnet50_v1_5",
               "zoo_resnet50_v1_keras_bn", "zoo_resnet50_v1_keras_conv"]
RATIO_NAMES = ["zoo_resnet50_v1/keras_resnet50", "zoo_resnet50_v1_5/keras_resnet50",
               "zoo_resnet50_v1_keras_bn/keras_resnet50",
               "zoo_resnet50_v1_keras_conv/keras_resnet50"]


def run_benchmark(*flags, timeout=300, env=None):
    return run_module("benchmarks.resnet_vs_keras", *flags, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    # --quick, and a smaller batch still, keeps the five ResNet-50s under ~60 s.
    proc = run_benchmark("--quick", "--batch_size=4", f"--output_dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, out


@pytest.mark.slow
def test_quick_run_writes_json_with_every_model(quick_run):
    proc, out = quick_run
    assert sorted(os.listdir(out)) == ["resnet_vs_keras_cpu.json", "resnet_vs_keras_cpu.md"] \
        or sorted(os.listdir(out)) == ["resnet_vs_keras_gpu.json", "resnet_vs_keras_gpu.md"]
    (json_path,) = out.glob("resnet_vs_keras_*.json")
    result = json.loads(json_path.read_text())

    for key in ("benchmark", "device", "versions", "config", "models", "ratios", "timestamp"):
        assert key in result, key
    assert result["benchmark"] == "resnet_vs_keras"
    assert json_path.name == f"resnet_vs_keras_{result['device']['kind']}.json"
    assert result["device"]["gpu_found"] == (result["device"]["kind"] == "gpu")
    assert result["versions"]["tensorflow"] and result["versions"]["keras"]
    # --quick presets, except the batch size given explicitly.
    assert result["config"]["batch_size"] == 4
    assert {k: result["config"][k] for k in ("image_size", "repeats", "steps", "warmup")} == \
        {"image_size": 32, "repeats": 2, "steps": 2, "warmup": 1}
    assert "no XLA" in result["config"]["mode"]

    models = {m["name"]: m for m in result["models"]}
    assert list(models) == MODEL_NAMES
    for m in models.values():
        assert m["jit_compile"] is False and m["run_eagerly"] is False
        assert m["compile_s"] > 0 and math.isfinite(m["compile_s"])
        assert len(m["repeat_s"]) == 2 and len(m["images_per_s_per_repeat"]) == 2
        assert all(v > 0 and math.isfinite(v) for v in m["images_per_s_per_repeat"])
        # images/s is batch * steps / seconds, repeat by repeat.
        for ips, seconds in zip(m["images_per_s_per_repeat"], m["repeat_s"]):
            assert ips == pytest.approx(4 * 2 / seconds)
        stats = m["images_per_s"]
        assert stats["min"] <= stats["median"] <= stats["max"]
        assert stats["median"] == pytest.approx(sum(m["images_per_s_per_repeat"]) / 2)
    # Same architecture, minus keras' conv biases: 53 convs, 26,560 bias values.
    assert models["keras_resnet50"]["params"] - models["zoo_resnet50_v1"]["params"] == 26_560
    assert models["zoo_resnet50_v1"]["params"] == models["zoo_resnet50_v1_5"]["params"] \
        == models["zoo_resnet50_v1_keras_bn"]["params"] \
        == models["zoo_resnet50_v1_keras_conv"]["params"]
    # Which kernels normalized, read off each train-mode graph: 53 BatchNorm
    # layers everywhere; the zoo's fused kernel in each but the fused=False twin.
    assert {name: (m["batchnorm_layers"], m["fused_batchnorm_ops"])
            for name, m in models.items()} == {
        "keras_resnet50": (53, 0), "zoo_resnet50_v1": (53, 53), "zoo_resnet50_v1_5": (53, 53),
        "zoo_resnet50_v1_keras_bn": (53, 0), "zoo_resnet50_v1_keras_conv": (53, 53)}
    # And how they convolved: 53 Conv2D layers each; on a CPU the zoo's take
    # the matrix multiply for the last stages' convolutions (32x32 images:
    # 2x2 and 1x1 pixels there), never keras' nor the matmul_path=False twin.
    assert {m["conv_layers"] for m in models.values()} == {53}
    assert models["keras_resnet50"]["convolutions_as_matmul"] == 0
    assert models["zoo_resnet50_v1_keras_conv"]["convolutions_as_matmul"] == 0
    on_cpu = result["device"]["kind"] == "cpu"
    for name in ("zoo_resnet50_v1", "zoo_resnet50_v1_5", "zoo_resnet50_v1_keras_bn"):
        assert (0 < models[name]["convolutions_as_matmul"] < 53) is on_cpu, name

    assert sorted(result["ratios"]) == RATIO_NAMES
    keras_ips = models["keras_resnet50"]["images_per_s_per_repeat"]
    for name, ratio in result["ratios"].items():
        zoo_ips = models[name.split("/")[0]]["images_per_s_per_repeat"]
        assert ratio["per_repeat"] == pytest.approx([z / k for z, k in zip(zoo_ips, keras_ips)])
        assert ratio["min"] <= ratio["median"] <= ratio["max"]
        # If zoo_i >= r * keras_i in every repeat, the medians keep that order:
        # the ratio of medians lies within the per-repeat ratios' range.
        of_medians = (models[name.split("/")[0]]["images_per_s"]["median"]
                      / models["keras_resnet50"]["images_per_s"]["median"])
        assert ratio["of_medians"] == pytest.approx(of_medians)
        assert ratio["min"] * (1 - 1e-9) <= of_medians <= ratio["max"] * (1 + 1e-9)


@pytest.mark.slow
def test_quick_run_prints_and_writes_the_table(quick_run):
    proc, out = quick_run
    (md_path,) = out.glob("resnet_vs_keras_*.md")
    table = md_path.read_text()
    assert table in proc.stdout
    # The first line says which kernels run, and why (common.launch_line).
    assert proc.stdout.startswith("benchmarks.resnet_vs_keras: TensorFlow "), proc.stdout[:300]
    for label in ("keras.applications.ResNet50", "stride_in_1x1=True", "(v1.5)",
                  "fused=False", "matmul_path=False", "fused BatchNorm ops", "convs as matmul",
                  "img/s median", "train_on_batch",
                  "jit_compile=False"):
        assert label in table, label
    # No temp files of the atomic writes are left behind.
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


# Bad flags and an unwritable --output_dir are rejected in-process by
# tests/bad_input/test_bad_benchmarks_cli.py, and end to end there (exit
# status 2, a usage line, no traceback) once per benchmark CLI.


# ---------------------------------------------------------------------------
# benchmarks.common on known numbers.


def test_common_docstring_examples_run():
    # benchmarks/ is outside pytest's doctest paths (testpaths = tests zoo).
    failures, tried = doctest.testmod(common)
    assert tried > 0 and failures == 0


def test_summarize_gives_median_min_max():
    assert common.summarize([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0}
    assert common.summarize([4, 1, 3, 2]) == {"median": 2.5, "min": 1.0, "max": 4.0}
    assert common.summarize([7.5]) == {"median": 7.5, "min": 7.5, "max": 7.5}
    with pytest.raises(ValueError, match="non-empty"):
        common.summarize([])
    with pytest.raises(ValueError, match="finite"):
        common.summarize([1.0, float("nan")])


def test_throughputs_and_per_repeat_ratios():
    assert common.throughputs([0.5, 2.0], items=10) == [20.0, 5.0]
    assert common.per_repeat_ratios([2.0, 3.0, 9.0], [1.0, 2.0, 3.0]) == [2.0, 1.5, 3.0]
    with pytest.raises(ValueError, match="same length"):
        common.per_repeat_ratios([1.0], [1.0, 2.0])


def test_time_repeats_warms_up_then_interleaves():
    now, calls = [0.0], []
    cost = {"A": 1.0, "B": 2.0, "C": 4.0}

    def make(name):
        def step():
            # The first call of each costs 100 s more, like a tf.function trace.
            now[0] += cost[name] + (100.0 if name not in calls else 0.0)
            calls.append(name)
            return name
        return step

    synced = []
    result = common.time_repeats({n: make(n) for n in "ABC"}, steps=2, repeats=3, warmup=2,
                                 sync=synced.append, clock=lambda: now[0])
    assert "".join(calls) == "ABC" + "ABC" + "AABBCC" * 3
    assert list(result) == ["A", "B", "C"]
    for name in "ABC":
        assert result[name]["first_step_s"] == 100.0 + cost[name]
        assert result[name]["warmup_s"] == [cost[name]]
        assert result[name]["repeat_s"] == [2 * cost[name]] * 3
    # Synced after each warm-up step and once per timed block of steps.
    assert len(synced) == 3 + 3 + 3 * 3
    with pytest.raises(ValueError, match="repeats"):
        common.time_repeats({"A": make("A")}, steps=1, repeats=0, warmup=1)


def test_markdown_table():
    assert common.markdown_table(["a", "b"], [[1, "x"], [22, "y"]], align="lr") == (
        "| a | b |\n|:---|---:|\n| 1 | x |\n| 22 | y |")
    with pytest.raises(ValueError):
        common.markdown_table(["a", "b"], [[1]])


def test_atomic_writes_replace_and_leave_no_temp_files(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("old")
    common.write_json(str(path), {"x": [1, 2.5]})
    assert json.loads(path.read_text()) == {"x": [1, 2.5]}
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    with pytest.raises(ValueError):
        common.write_json(str(path), {"x": float("inf")})
    assert json.loads(path.read_text()) == {"x": [1, 2.5]}
    assert os.listdir(tmp_path) == ["r.json"]


def test_validate_output_dir(tmp_path):
    from absl import app

    created = tmp_path / "new" / "dir"
    assert common.validate_output_dir(str(created)) == str(created)
    assert created.is_dir()
    regular_file = tmp_path / "f"
    regular_file.write_text("")
    with pytest.raises(app.UsageError, match="--output_dir="):
        common.validate_output_dir(str(regular_file / "sub"))


def test_device_info_and_versions_describe_this_machine():
    info = common.device_info()
    assert info["kind"] in ("cpu", "gpu")
    assert info["name"] and info["cpu"]
    assert info["threads"]["usable_cpus"] >= 1
    assert common.versions()["tensorflow"]
