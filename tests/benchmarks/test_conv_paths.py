"""`python -m benchmarks.conv_paths`, run as a user runs it, and its rule
derivation on known numbers. Never asserts speed."""

import json

import pytest

from benchmarks import conv_paths
from helpers import assert_usage_error, run_module
from zoo.ops import conv as conv_ops


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    proc = run_module("benchmarks.conv_paths", "--quick", "--models=resnet18", "--batch_size=2",
                      f"--output_dir={out}", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, out


def test_quick_run_measures_every_convolution_of_the_model(quick_run):
    proc, out = quick_run
    (json_path,) = out.glob("conv_paths_*.json")
    result = json.loads(json_path.read_text())
    assert json_path.name == f"conv_paths_{result['platform'].replace('/', '_')}.json"
    assert (out / json_path.name.replace(".json", ".md")).read_text() in proc.stdout
    assert result["config"]["image_sizes"] == [32] and result["config"]["repeats"] == 2
    rows = result["shapes"]
    # resnet18 at 32x32 (ImageNet layout): the 7x7 stem, then per stage a 3x3
    # of each block (the first strided) and a 1x1 projection from stage 2 on;
    # distinct shapes only, in the order they run.
    assert rows[0]["kernel_shape"] == [7, 7, 3, 64] and rows[0]["input_shape"] == [2, 38, 38, 3]
    assert {tuple(r["kernel_shape"][:2]) for r in rows} == {(7, 7), (3, 3), (1, 1)}
    assert sum(len(r["layers"]) for r in rows) == 20  # resnet18's 20 convolutions
    for row in rows:
        assert row["max_relative_gradient_difference"] < 1e-4
        assert row["speedup"]["min"] <= row["speedup"]["median"] <= row["speedup"]["max"]
        assert len(row["speedup_per_repeat"]) == 2
        # The kernels that ran, read off the traced steps.
        assert row["ops"]["conv"].get("Conv2DBackpropInput") == 1
        assert "Conv2D" not in row["ops"]["matmul"] and row["ops"]["matmul"]["MatMul"] >= 3
        taps, pixels = conv_ops.image_taps(row["input_shape"][1:3], row["kernel_shape"][:2],
                                           row["strides"], row["padding"])
        assert (row["taps"], row["output_pixels"]) == (taps, pixels)
        # The benchmark's process may run other kernels than this one (its CLI
        # turns oneDNN on): the rule of the platform it ran on.
        assert row["rule_picks_matmul"] is conv_ops.conv2d_as_matmul_applies(
            tuple(row["input_shape"]), tuple(row["kernel_shape"]), row["strides"],
            row["padding"], platform=result["platform"])
    # The last stage's 3x3 convolutions on 1x1 pixels read the image with one tap.
    assert any(r["taps"] == 1 and r["kernel_shape"][0] == 3 for r in rows)
    score = result["rule_score"]
    assert score["shapes"] == len(rows)
    assert score["faster_path_picked"] + len(score["misses"]) == len(rows)
    assert score["total_ms"]["conv"] == pytest.approx(sum(r["conv_ms"]["median"] for r in rows))
    assert result["rule"] == conv_ops.MATMUL_RULES.get(result["platform"])


def test_score_rule_counts_the_faster_picks_and_sums_the_times():
    def row(conv_ms, matmul_ms, picks_matmul):
        return {"input_shape": [2, 2, 2, 8], "kernel_shape": [1, 1, 8, 4], "strides": 1,
                "padding": "same", "conv_ms": {"median": conv_ms},
                "matmul_ms": {"median": matmul_ms}, "speedup": {"median": conv_ms / matmul_ms},
                "rule_picks_matmul": picks_matmul}

    score = conv_paths.score_rule([row(4.0, 1.0, True), row(1.0, 2.0, False),
                                   row(3.0, 1.0, False)])
    assert score["shapes"] == 3 and score["faster_path_picked"] == 2
    assert score["misses"] == [{"shape": "2x2x8 k1 s1 same -> 4", "speedup": 3.0,
                                "picked": "conv"}]
    assert score["total_ms"] == {"conv": 8.0, "rule": 5.0, "best": 3.0}


@pytest.mark.parametrize("flag,fragment", [
    ("--image_sizes=32,abc", "--image_sizes="),
    ("--models=resnet18,nope", "nope"),
])
def test_bad_flags_are_usage_errors(flag, fragment):
    proc = run_module("benchmarks.conv_paths", flag, "--quick", timeout=120)
    assert_usage_error(proc, fragment)
