"""SIGKILL at any moment, rerun the same command: nothing lost but the work
since the last checkpoint, and under --deterministic the final weights are
bit-identical to an uninterrupted run's (data position, optimizer, schedule,
BatchNorm statistics and RNG states all come back)."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

# resnet20 (BatchNorm moving statistics included) at 8x8: 23 steps an epoch.
FLAGS = ["--model=resnet20", "--image_size=8", "--verbose=0", "--deterministic"]
DIGEST = re.compile(r"weights_sha256=([0-9a-f]{16})")
RESUMED = re.compile(r"Resuming from \S+/ckpt-(\d+) \(epoch (\d+) of \d+ done, (\d+) steps")


def train_command(*flags):
    return [sys.executable, "-m", "zoo.train", *FLAGS, *flags]


def run(*flags):
    proc = subprocess.run(train_command(*flags), capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def latest_number(model_dir):
    """The step number of the checkpoint that `checkpoint` (the index
    CheckpointManager writes last, once a save is complete) names, or None."""
    try:
        state = open(os.path.join(model_dir, "checkpoint")).read()
    except FileNotFoundError:
        return None
    match = re.search(r'^model_checkpoint_path: "ckpt-(\d+)"', state, re.MULTILINE)
    return int(match.group(1)) if match else None


def kill_after_checkpoint(model_dir, number, *flags):
    """Starts a run, SIGKILLs it right after checkpoint `number` is complete."""
    proc = subprocess.Popen(train_command(*flags, f"--model_dir={model_dir}"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    deadline = time.monotonic() + 240
    while (latest_number(model_dir) or 0) < number:
        assert proc.poll() is None, "the run ended before the checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return latest_number(model_dir)


@pytest.mark.slow
@pytest.mark.parametrize("loop_flags, kill_at", [
    # Keras fit checkpoints at epoch ends: killed during epoch 2.
    (["--loop=fit", "--epochs=3"], 23),
    # The custom loop also checkpoints every 5 steps: killed mid-epoch.
    (["--loop=custom", "--epochs=2", "--checkpoint_steps=5"], 10),
])
def test_sigkill_then_rerun_ends_bit_identical_to_an_unbroken_run(tmp_path, loop_flags, kill_at):
    unbroken = DIGEST.search(run(*loop_flags, f"--model_dir={tmp_path / 'unbroken'}")).group(1)

    model_dir = str(tmp_path / "run")
    latest = kill_after_checkpoint(model_dir, kill_at, *loop_flags)
    assert latest >= kill_at
    resumed_output = run(*loop_flags, f"--model_dir={model_dir}")

    # It resumed from the newest complete checkpoint at the kill, so at most
    # the steps since then were lost.
    checkpoint, epoch, step = map(int, RESUMED.search(resumed_output).groups())
    assert checkpoint == latest
    assert epoch * 23 + step == checkpoint  # checkpoints are numbered by global step
    assert DIGEST.search(resumed_output).group(1) == unbroken
