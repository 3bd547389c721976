"""channels_first where the backend has no NCHW convolution (TensorFlow's
own CPU kernels): blocks and models compute in channels_last, transposing at
their edges, with the same weights and outputs."""

import os
import subprocess
import sys

import numpy as np
import pytest

import helpers
import zoo
from zoo import ops
from zoo.blocks import BasicBlock, Bottleneck, ConvBN
from zoo.ops import layout

TO_LAST = (0, 2, 3, 1)
TO_FIRST = (0, 3, 1, 2)


@pytest.fixture
def no_nchw(monkeypatch):
    """This process behaves like a CPU without oneDNN for layers built now."""
    monkeypatch.setattr(layout, "channels_first_conv_supported", lambda cpu_only=False: False)


def test_channels_last_is_always_computed_as_asked(no_nchw):
    assert ops.conv_data_format("channels_last") == "channels_last"
    assert ops.conv_data_format("channels_first") == "channels_last"


def test_probe_agrees_with_the_kernel_library_of_this_process():
    # Of TensorFlow's CPU kernels only oneDNN's run NCHW convolutions.
    assert layout.channels_first_conv_supported(cpu_only=True) is ops.onednn_enabled()


def _twins(factory, input_shape_last):
    """A channels_first layer computing in channels_last, and a channels_last
    one with the same weights."""
    first = factory("channels_first")
    last = factory("channels_last")
    batch_last = (2,) + input_shape_last
    batch_first = tuple(batch_last[i] for i in TO_FIRST)
    first.build(batch_first)
    last.build(batch_last)
    helpers.randomize_batchnorm(last, seed=1)
    first.set_weights(last.get_weights())  # same shapes in both layouts
    return first, last


@pytest.mark.parametrize("factory, shape, out_rank", [
    (lambda f: ConvBN(8, 3, strides=2, data_format=f), (9, 9, 3), 4),
    (lambda f: BasicBlock(8, strides=2, data_format=f), (8, 8, 4), 4),
    (lambda f: Bottleneck(4, strides=2, data_format=f), (8, 8, 8), 4),
], ids=["ConvBN", "BasicBlock", "Bottleneck"])
def test_block_computes_in_channels_last_and_gives_channels_first(no_nchw, factory, shape,
                                                                   out_rank):
    first, last = _twins(factory, shape)
    assert first.data_format == "channels_first"
    assert first.compute_format == "channels_last"
    assert first.get_config()["data_format"] == "channels_first"
    x_last = helpers.random_inputs((2,) + shape)
    x_first = np.transpose(x_last, TO_FIRST)
    for training in (False, True):
        expected = helpers.to_numpy(last(x_last, training=training))
        got = helpers.to_numpy(first(x_first, training=training))
        np.testing.assert_allclose(got, np.transpose(expected, TO_FIRST), atol=1e-5)
    symbolic = first.compute_output_shape((None,) + tuple(x_first.shape[1:]))
    assert tuple(symbolic[1:]) == got.shape[1:]


@pytest.mark.parametrize("kwargs, depth", [
    ({}, 20),
    ({"include_top": False}, 20),  # a feature map goes back to channels_first
    ({"include_top": False, "pooling": "max"}, 18),
])
def test_resnet_transposes_once_and_matches_channels_last(no_nchw, kwargs, depth):
    first = zoo.resnet.ResNet(depth=depth, num_classes=5, input_shape=(3, 32, 32),
                              data_format="channels_first", **kwargs)
    last = zoo.resnet.ResNet(depth=depth, num_classes=5, input_shape=(32, 32, 3),
                             data_format="channels_last", **kwargs)
    assert first.compute_format == "channels_last"
    # Inner blocks compute in the model's layout: no transpose per block.
    assert {b.data_format for b in first.blocks} == {"channels_last"}
    helpers.randomize_batchnorm(last)
    first.set_weights(last.get_weights())
    x_last = helpers.random_inputs((2, 32, 32, 3))
    expected = helpers.to_numpy(last(x_last))
    got = helpers.to_numpy(first(np.transpose(x_last, TO_FIRST)))
    if expected.ndim == 4:
        expected = np.transpose(expected, TO_FIRST)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-5)
    # The saved model is a channels_first model: it computes natively where it can.
    assert type(first).from_config(first.get_config()).data_format == "channels_first"


def test_fallback_model_trains_and_round_trips_its_config(no_nchw):
    model = zoo.create_model("resnet20", num_classes=3, input_shape=(1, 16, 16),
                             data_format="channels_first")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = helpers.random_inputs((4, 1, 16, 16))
    loss = model.train_on_batch(x, np.array([0, 1, 2, 0]))
    assert np.isfinite(loss)
    twin = type(model).from_config(model.get_config())
    twin.set_weights(model.get_weights())
    np.testing.assert_array_equal(helpers.to_numpy(twin(x)), helpers.to_numpy(model(x)))


CHILD = """
import numpy as np, zoo
from zoo import ops
from zoo.ops import layout
print("platform", ops.tensorflow_platform(), layout.channels_first_conv_supported())
first = zoo.create_model("resnet20", num_classes=3, input_shape=(1, 16, 16),
                         data_format="channels_first")
last = zoo.create_model("resnet20", num_classes=3, input_shape=(16, 16, 1))
first.set_weights(last.get_weights())
print("compute", first.compute_format)
x = np.random.default_rng(0).standard_normal((2, 16, 16, 1)).astype("float32")
diff = np.abs(np.asarray(first(np.transpose(x, (0, 3, 1, 2)))) - np.asarray(last(x))).max()
first.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
loss = first.train_on_batch(np.transpose(x, (0, 3, 1, 2)), np.array([0, 2]))
print("diff", diff, "loss", float(loss))
"""


@pytest.mark.parametrize("onednn, platform, native", [("0", "cpu/eigen", False),
                                                       ("1", "cpu/onednn", True)])
def test_channels_first_runs_with_onednn_off_and_on(onednn, platform, native):
    # A fresh process with oneDNN forced off is the machine without AVX-512
    # VNNI/BF16, where a channels_first Conv2D raises UnimplementedError.
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=onednn, TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert lines["platform"] == f"{platform} {native}"
    assert lines["compute"] == ("channels_first" if native else "channels_last")
    diff, loss = float(lines["diff"].split()[0]), float(lines["diff"].split()[2])
    assert diff < 1e-4 and np.isfinite(loss)


def test_keras_conv_itself_fails_without_the_fallback_there():
    # What the blocks protect from: keep this, so that the day TensorFlow runs
    # NCHW everywhere the fallback can go.
    code = ("import keras, numpy as np\n"
            "keras.layers.Conv2D(2, 3, data_format='channels_first')"
            "(np.zeros((1, 1, 5, 5), 'float32'))")
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode != 0
    assert "NHWC" in out.stderr
