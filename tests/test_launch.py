"""The zoo's command lines pick TensorFlow's CPU kernels before it loads
(zoo/_launch.py), say so on their first line, and leave library users alone."""

import os
import subprocess
import sys

import pytest

import helpers
from zoo import _launch


@pytest.mark.parametrize("argv, expected", [
    (["python3", "-m", "zoo.train", "--epochs=1"], "zoo.train"),
    (["python3", "-X", "dev", "-m", "zoo.export"], "zoo.export"),
    (["python3", "-mzoo.train"], "zoo.train"),
    (["python3", "-m", "benchmarks"], "benchmarks"),
    (["python3", "-m", "benchmarks.xla", "--quick"], "benchmarks.xla"),
    (["/venv/bin/python", "/venv/bin/zoo-train", "--epochs=1"], "zoo-train"),
    (["/venv/bin/zoo-train"], "zoo-train"),
    (["python3", "-m", "pytest", "-m", "zoo.train"], None),  # pytest's -m is its own
    (["python3", "-m", "zoo.trainer"], None),
    (["python3", "-m", "zoo"], None),
    (["python3", "train.py"], None),
    (["python3", "-c", "import zoo"], None),
    (["python3"], None),
])
def test_launched_cli(argv, expected):
    assert _launch.launched_cli(argv) == expected


@pytest.mark.parametrize("environ, machine, loaded, value, says", [
    ({}, "x86_64", False, "1", "set by zoo"),
    ({}, "AMD64", False, "1", "set by zoo"),
    ({"TF_ENABLE_ONEDNN_OPTS": "0"}, "x86_64", False, "0", "=0 set by the user"),
    ({"TF_ENABLE_ONEDNN_OPTS": ""}, "x86_64", False, "", "= set by the user"),
    ({}, "aarch64", False, None, "TensorFlow's default on aarch64"),
    ({}, "x86_64", True, None, "TensorFlow was imported before zoo"),
    # A child of a zoo CLI inherits zoo's choice, and still calls it zoo's.
    ({"TF_ENABLE_ONEDNN_OPTS": "1", "ZOO_SET_TF_ENABLE_ONEDNN_OPTS": "1"}, "x86_64", False,
     "1", "=1 set by zoo"),
])
def test_prefer_onednn(environ, machine, loaded, value, says, monkeypatch):
    monkeypatch.setattr(_launch, "decision", None)  # restored after the test
    said = _launch.prefer_onednn(environ, machine=machine, tensorflow_loaded=loaded)
    assert says in said and _launch.decision == said
    assert environ.get("TF_ENABLE_ONEDNN_OPTS") == value


def _run(args, onednn=None, timeout=300):
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_ENABLE_ONEDNN_OPTS", "ZOO_SET_TF_ENABLE_ONEDNN_OPTS")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if onednn is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = onednn
    return subprocess.run([sys.executable, *args], cwd=helpers.REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_library_import_changes_nothing():
    proc = _run(["-c", "import os, zoo; print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-1] == "None"


@pytest.mark.parametrize("onednn, platform, says", [
    (None, "cpu/onednn", "TF_ENABLE_ONEDNN_OPTS=1 set by zoo"),
    ("0", "cpu/eigen", "TF_ENABLE_ONEDNN_OPTS=0 set by the user"),
])
def test_train_first_line_names_kernels_path_and_why(onednn, platform, says):
    proc = _run(["-m", "zoo.train", "--model=einsum_mlp", "--dataset=digits",
                 "--image_size=8", "--epochs=1", "--verbose=0", "--validate=false"], onednn)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = proc.stdout.splitlines()[0]
    assert first.startswith("zoo.train: TensorFlow "), first
    assert f"on {platform}: " in first and says in first, first
    assert "jit_compile=False (graph mode: --jit_compile=auto, the measured default of " \
           f"EinsumMLP on {platform})" in first, first


def test_export_first_line_names_kernels(tmp_path):
    import zoo
    import zoo.export

    # The source file is written here: only the CLI's own process matters.
    source = tmp_path / "m.weights.h5"
    zoo.export.save(zoo.create_model("einsum_mlp", num_classes=3, input_shape=(4, 4, 1)),
                    source)
    proc = _run(["-m", "zoo.export", "--model=einsum_mlp", "--num_classes=3",
                 "--input_shape=4,4,1", f"--weights={source}",
                 f"--out={tmp_path / 'm.keras'}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = proc.stdout.splitlines()[0]
    assert first.startswith("zoo.export: TensorFlow ") and "set by zoo" in first, first
