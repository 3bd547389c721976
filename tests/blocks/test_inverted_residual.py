"""Tests for `zoo.blocks.inverted_residual.InvertedResidual` (MobileNetV2's block)."""

import numpy as np
import pytest

import helpers
from zoo.blocks import ConvBN, InvertedResidual


@pytest.mark.parametrize("filters, strides, expansion, in_channels, residual", [
    (4, 1, 6, 4, True),    # same width, stride 1: identity added
    (6, 2, 6, 4, False),   # strided
    (6, 1, 6, 4, False),   # width changes
    (4, 1, 1, 4, True),    # no expand conv (MobileNetV2's first block, residual here)
    (8, 2, 1, 4, False),   # no expand conv, strided
])
def test_layer_contract(filters, strides, expansion, in_channels, residual):
    # The battery covers config round-trips, a training step, both mixed
    # precision policies and the channels_first twin (same weights).
    size = 8 // strides
    layer = helpers.run_layer_test(
        InvertedResidual,
        {"filters": filters, "strides": strides, "expansion": expansion},
        input_shape=(2, 8, 8, in_channels),
        expected_output_shape=(2, size, size, filters),
    )
    assert layer.residual is residual
    names = [sub.name for sub in layer._layers]
    assert names == (["expand"] if expansion > 1 else []) + ["depthwise", "project"] + \
        (["add"] if residual else [])


def test_units_are_expand_depthwise_linear_projection():
    block = InvertedResidual(8, strides=2, expansion=6)
    block.build((None, 9, 9, 5))
    assert (block.expand.filters, block.expand.kernel_size, block.expand.activation) == \
        (30, 1, "relu6")  # expansion x input channels, as keras.applications
    assert (block.depthwise.depthwise, block.depthwise.strides, block.depthwise.kernel_size,
            block.depthwise.activation, block.depthwise.padding) == (True, 2, 3, "relu6", "same")
    assert (block.project.filters, block.project.activation) == (8, None)
    assert [w.path.split("/", 1)[1] for w in block.weights][::5] == [
        "expand/conv/kernel", "depthwise/conv/kernel", "project/conv/kernel"]
    assert tuple(block.compute_output_shape((None, 9, 9, 5))) == (None, 5, 5, 8)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_output_is_input_plus_linear_branch(data_format):
    shape = (2, 6, 6, 4) if data_format == "channels_last" else (2, 4, 6, 6)
    x = helpers.random_inputs(shape, seed=2)
    block = InvertedResidual(4, expansion=3, data_format=data_format)
    block(x)
    helpers.randomize_batchnorm(block, seed=3)
    got = helpers.to_numpy(block(x, training=False))
    # The units compute in compute_format (NHWC on CPUs without NCHW convs).
    inner = x if block.compute_format == data_format else np.transpose(x, (0, 2, 3, 1))
    branch = inner
    for unit in (block.expand, block.depthwise, block.project):
        branch = unit(branch, training=False)
    branch = helpers.to_numpy(branch)
    if block.compute_format != data_format:
        branch = np.transpose(branch, (0, 3, 1, 2))
    np.testing.assert_allclose(got, x + branch, atol=1e-5, rtol=0)
    assert helpers.to_numpy(block.project(block.depthwise(block.expand(inner)))).min() < 0, \
        "the projection is linear: no ReLU6 clips it"


def test_symmetric_padding_reaches_the_depthwise_unit():
    block = InvertedResidual(4, strides=2, padding="symmetric")
    block.build((None, 8, 8, 4))
    assert block.depthwise.padding == "symmetric" and block.depthwise.pad is not None
    assert InvertedResidual.from_config(block.get_config()).padding == "symmetric"


def test_unknown_channels_is_a_clear_error():
    block = InvertedResidual(4, name="ir")
    helpers.assert_rejects(lambda: block.build((None, 8, 8, None)), ValueError,
                           "ir", "channel", "(None, 8, 8, None)")


def test_is_built_from_convbn_units():
    block = InvertedResidual(4, expansion=2)
    block.build((None, 4, 4, 2))
    assert all(isinstance(unit, ConvBN) for unit in (block.expand, block.depthwise,
                                                     block.project))
    assert block.add is None and not block.residual  # 2 -> 4 channels: no add


ONEDNN_OFF = """
import numpy as np
from zoo.blocks import ConvBN, InvertedResidual
from zoo import ops
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 7, 7, 4)).astype("float32")
for name, make in [
        ("convbn", lambda f: ConvBN(None, 3, strides=2, depthwise=True, padding="same",
                                    data_format=f)),
        ("same", lambda f: ConvBN(5, 3, strides=2, padding="same", data_format=f)),
        ("block", lambda f: InvertedResidual(4, strides=1, data_format=f)),
        ("strided", lambda f: InvertedResidual(6, strides=2, data_format=f))]:
    last, first = make("channels_last"), make("channels_first")
    expected = np.asarray(last(x))
    first(np.transpose(x, (0, 3, 1, 2)))
    first.set_weights(last.get_weights())
    got = np.transpose(np.asarray(first(np.transpose(x, (0, 3, 1, 2)))), (0, 2, 3, 1))
    print(name, first.compute_format, float(np.abs(got - expected).max()))
"""


@pytest.mark.tensorflow_only("TF_ENABLE_ONEDNN_OPTS selects TensorFlow's CPU kernels")
def test_channels_first_with_onednn_off():
    # TensorFlow's own CPU kernels have neither NCHW Conv2D nor NCHW
    # DepthwiseConv2dNative; the blocks compute in NHWC there.
    out = helpers.run_in_fresh_process(ONEDNN_OFF, env={"TF_ENABLE_ONEDNN_OPTS": "0"})
    names = ["convbn", "same", "block", "strided"]
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in
            [[name] for name in names]]
    assert [row[:2] for row in rows] == [[name, "channels_last"] for name in names], out
    assert all(float(row[2]) < 1e-5 for row in rows), out
