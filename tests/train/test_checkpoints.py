"""`zoo.train.checkpoints.TrainingCheckpoint`: damaged checkpoints and foreign ones.

A damaged latest checkpoint (flipped bytes in its data, a truncated index)
costs the run one checkpoint, not the run: the restore falls back to the
newest intact one and warns once, naming both. A checkpoint of another model
is a clear error, and nothing of TensorFlow's is logged after it.
"""

import gc
import logging

import keras
import numpy as np
import pytest

from helpers import run_module
from zoo.train import checkpoints


def _model(units=4, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units, name="hidden"),
                              keras.layers.Dense(2, name="out")])
    model.compile(optimizer="adam", loss="mse")
    return model


def _flip_data_bytes(prefix):
    path = f"{prefix}.data-00000-of-00001"
    data = bytearray(open(path, "rb").read())
    middle = len(data) // 2
    data[middle:middle + 32] = bytes(b ^ 0xFF for b in data[middle:middle + 32])
    open(path, "wb").write(bytes(data))


def _truncate_index(prefix):
    path = f"{prefix}.index"
    data = open(path, "rb").read()
    open(path, "wb").write(data[:len(data) // 2])


@pytest.fixture
def two_epochs(tmp_path):
    """A model_dir with checkpoints after epochs 1 and 2; the weights of each."""
    model = _model()
    saver = checkpoints.TrainingCheckpoint(model, tmp_path / "run", keep=3)
    weights = {}
    for epoch in (1, 2):
        model.layers[0].kernel.assign(np.full((3, 4), float(epoch), "float32"))
        path = saver.save(epoch, 0, global_step=10 * epoch)
        weights[path] = model.get_weights()
    return tmp_path / "run", list(weights), weights


@pytest.mark.parametrize("damage", [_flip_data_bytes, _truncate_index],
                         ids=["bytes flipped in data", "truncated index"])
def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(two_epochs, damage):
    model_dir, (first, latest), weights = two_epochs
    damage(latest)
    model = _model(seed=1)
    restorer = checkpoints.TrainingCheckpoint(model, model_dir, keep=3)
    with pytest.warns(checkpoints.DamagedCheckpointWarning) as caught:
        assert restorer.restore() == (1, 0)  # epoch 1 done: epoch 2 is run again
    assert len(caught) == 1
    message = str(caught[0].message)
    assert latest in message and first in message, message
    assert restorer.restored == first
    for got, expected in zip(model.get_weights(), weights[first]):
        np.testing.assert_array_equal(got, expected)
    # The run goes on: the next save replaces the damaged files.
    assert restorer.save(2, 0, global_step=20) == latest
    assert checkpoints.checkpoint_damage(latest) is None


def test_no_intact_checkpoint_is_an_error_naming_each(two_epochs):
    model_dir, paths, _ = two_epochs
    for path in paths:
        _truncate_index(path)
    restorer = checkpoints.TrainingCheckpoint(_model(), model_dir, keep=3)
    with pytest.raises(ValueError, match="holds no intact checkpoint") as error:
        restorer.restore()
    assert all(path in str(error.value) for path in paths)


def test_another_models_checkpoint_is_one_clear_error_and_no_tensorflow_warnings(two_epochs):
    model_dir, (_, latest), _ = two_epochs
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    tf_logger = logging.getLogger("tensorflow")
    tf_logger.addHandler(handler)
    try:
        restorer = checkpoints.TrainingCheckpoint(_model(units=5), model_dir, keep=3)
        with pytest.raises(ValueError, match="of another model or configuration") as error:
            restorer.restore()
        del restorer
        gc.collect()  # what TensorFlow left behind logs when it is collected
    finally:
        tf_logger.removeHandler(handler)
    assert f"model_dir={str(model_dir)!r} holds a checkpoint ({latest})" in str(error.value)
    assert "(3, 4)" in str(error.value) and "(3, 5)" in str(error.value)
    assert not records, [r.getMessage() for r in records][:5]


def test_the_cli_resumes_from_the_newest_intact_checkpoint(tmp_path):
    # einsum_mlp on 8x8 digits: an epoch takes about a second; 23 steps each.
    fast = ("--model=einsum_mlp", "--dataset=digits", "--image_size=8", "--verbose=2",
            f"--model_dir={tmp_path / 'run'}")
    first = run_module("zoo.train", *fast, "--epochs=2", timeout=180)
    assert first.returncode == 0, first.stderr[-3000:]
    intact, latest = (str(tmp_path / "run" / f"ckpt-{n}") for n in (23, 46))
    _truncate_index(latest)
    rerun = run_module("zoo.train", *fast, "--epochs=3", timeout=180)
    output = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, output[-3000:]
    warning = [line for line in output.splitlines() if "DamagedCheckpointWarning" in line]
    assert len(warning) == 1 and latest in warning[0] and intact in warning[0], output[-3000:]
    assert f"Resuming from {intact} (epoch 1 of 3 done" in output
    assert "Epoch 2/3" in output and "Epoch 1/3" not in output
