"""The training CLI's options, run as a user runs them: `python -m zoo.train`.

Small and fast: the einsum MLP on 8x8 digits trains an epoch in about a
second, so each run here is mostly interpreter and TensorFlow start-up.
"""

import os
import re
import subprocess
import sys

import pytest

import helpers

FAST = ("--model=einsum_mlp", "--dataset=digits", "--image_size=8")

RESULT_LINE = re.compile(
    r"^model=(?P<model>\S+) dataset=(?P<dataset>\S+) epochs=(?P<epochs>\d+) "
    r"test_accuracy=(?P<accuracy>\S+) train_time=(?P<seconds>[0-9.]+)s"
    r"(?: checkpoint=(?P<checkpoint>\S+))?(?: best=(?P<best>\S+))?"
    r"(?: exports=(?P<exports>\S+))? weights_sha256=(?P<sha>[0-9a-f]{16})$",
    re.MULTILINE)


def run_train(*flags, timeout=120, env=None):
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    full_env.pop("TF_CONFIG", None)  # only a multi-worker host has one
    return subprocess.run(
        [sys.executable, "-m", "zoo.train", *flags],
        capture_output=True, text=True, timeout=timeout, cwd=helpers.REPO_ROOT,
        env=full_env)


def result(proc):
    """The parsed result line of a successful run."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    match = RESULT_LINE.search(proc.stdout)
    assert match, proc.stdout[-2000:]
    return match.groupdict()


def test_flagfile_gives_the_command_line_result(tmp_path):
    flags = [*FAST, "--epochs=2", "--deterministic", "--verbose=0", "--optimizer=sgd",
             "--learning_rate=0.05", "--lr_schedule=warmup", "--warmup_epochs=0.5",
             "--label_smoothing=0.1", "--seed=3"]
    flagfile = tmp_path / "run.flags"
    flagfile.write_text("# einsum MLP, two epochs\n" + "\n".join(flags) + "\n")
    from_file = result(run_train(f"--flagfile={flagfile}"))
    from_command_line = result(run_train(*flags))
    assert (from_file["model"], from_file["epochs"]) == ("einsum_mlp", "2")  # not the defaults
    assert from_file["sha"] == from_command_line["sha"]
    assert from_file["accuracy"] == from_command_line["accuracy"]
    assert float(from_file["accuracy"]) > 0.5


# Bad flags, and flags the run rejects (no TF_CONFIG, no TPU, a warm-up
# longer than the run), are checked in-process by
# tests/bad_input/test_bad_train_cli.py, end to end there once per path to
# the usage error. This one needs a process of its own: TensorFlow's TPU
# resolver looks the name up on the GCE metadata server, which does not
# answer off Google Cloud, and it must fail, not wait.
def test_a_tpu_name_off_google_cloud_fails_before_training_naming_the_flags():
    proc = run_train(*FAST, "--epochs=2", "--verbose=2", "--strategy=tpu",
                     "--tpu=no-such-tpu", timeout=60)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-2000:]
    assert "Traceback" not in output, output[-3000:]
    for name in ("--strategy=tpu", "--tpu=no-such-tpu"):
        assert name in output, output[-2000:]
    assert "Epoch 1" not in output and not RESULT_LINE.search(proc.stdout)


@pytest.mark.parametrize("flags", [
    ["--mixed_precision=mixed_float16"],
    ["--mixed_precision=mixed_bfloat16", "--loop=custom"],
], ids=" ".join)
def test_mixed_precision_trains(flags):
    line = result(run_train(*FAST, "--epochs=2", "--verbose=0", *flags))
    # Two epochs reach ~0.9 (chance is 0.1): the loss scaling (float16) and
    # the float32 variables work.
    assert (line["model"], line["epochs"]) == ("einsum_mlp", "2")
    assert 0.5 < float(line["accuracy"]) <= 1.0


def test_log_device_placement_names_the_cpu():
    proc = run_train(*FAST, "--epochs=1", "--verbose=0", "--log_device_placement")
    result(proc)
    placements = [line for line in (proc.stdout + proc.stderr).splitlines()
                  if line.endswith("/device:CPU:0")]
    assert len(placements) > 10, (proc.stdout + proc.stderr)[-2000:]
    assert any(line.startswith("input: (_Arg): /job:localhost") for line in placements)


@pytest.mark.parametrize("loop", ["fit", "custom"])
def test_model_dir_writes_tensorboard_histograms_and_best_model(tmp_path, loop):
    model_dir = tmp_path / "run"
    line = result(run_train(*FAST, "--epochs=2", "--verbose=0", "--histogram_freq=1",
                            f"--model_dir={model_dir}", f"--loop={loop}"))
    train_events = list((model_dir / "logs" / "train").glob("events.out.tfevents.*"))
    assert train_events and all(path.stat().st_size > 0 for path in train_events)
    assert list((model_dir / "logs" / "validation").glob("events.out.tfevents.*"))
    assert line["best"] == str(model_dir / "best.keras")
    assert (model_dir / "best.keras").is_file()
    assert line["checkpoint"] == str(model_dir / "ckpt-46")  # 2 epochs of 23 steps
    assert _has_histograms(train_events)
    # Loss, metrics and the learning rate per epoch, from either loop.
    assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"} <= _tags(train_events)
    validation_events = (model_dir / "logs" / "validation").glob("events.out.tfevents.*")
    assert {"epoch_loss", "epoch_accuracy"} <= _tags(validation_events)


def _tags(event_files):
    import tensorflow as tf

    return {value.tag for path in event_files
            for event in tf.compat.v1.train.summary_iterator(str(path))
            for value in event.summary.value}


def _has_histograms(event_files):
    """Whether the event files hold a histogram summary (weights, --histogram_freq)."""
    import tensorflow as tf

    for path in event_files:
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "histograms" or \
                        value.HasField("histo"):
                    return True
    return False
