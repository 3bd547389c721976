"""`zoo.blocks.Conv2D` is `keras.layers.Conv2D` whose train step may run as a
matrix multiply: outputs, gradients, config and a whole ResNet train step
equal Keras' convolution's; inference keeps the convolution op."""

import keras
import numpy as np
import pytest

import helpers
import zoo
from zoo import ops
from zoo.blocks import Conv2D, ConvBN

TENSORFLOW = keras.backend.backend() == "tensorflow"
# The rule is measured for TensorFlow's CPU kernels (zoo.ops.conv.MATMUL_RULES).
MATMUL_HERE = ops.tensorflow_platform() in ("cpu/onednn", "cpu/eigen")


def _pair(input_shape, **kwargs):
    """A zoo Conv2D and a Keras Conv2D with the same random weights."""
    ours, reference = Conv2D(**kwargs), keras.layers.Conv2D(**kwargs)
    ours.build(input_shape)
    reference.build(input_shape)
    rng = np.random.default_rng(0)
    values = [rng.normal(0, 0.5, w.shape).astype("float32") for w in reference.weights]
    reference.set_weights(values)
    ours.set_weights(values)
    return ours, reference


def _inputs(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("matmul_path", [True, False])
def test_layer_contract(matmul_path):
    # kernel_size as Keras' config holds it (a pair).
    helpers.run_layer_test(Conv2D, {"filters": 4, "kernel_size": (3, 3), "padding": "same",
                                    "matmul_path": matmul_path}, (2, 2, 2, 8), (2, 2, 2, 4))


def test_matmul_path_must_be_a_bool():
    helpers.assert_rejects(lambda: Conv2D(4, 1, matmul_path="yes"), ValueError,
                           "matmul_path", "'yes'")


@pytest.mark.parametrize("kwargs,shape", [
    ({"filters": 6, "kernel_size": 1}, (3, 2, 2, 5)),
    ({"filters": 6, "kernel_size": 1, "strides": 2}, (3, 4, 4, 5)),
    ({"filters": 6, "kernel_size": 3, "padding": "same"}, (3, 2, 2, 5)),
    ({"filters": 6, "kernel_size": 3, "padding": "same"}, (3, 1, 1, 5)),
    ({"filters": 6, "kernel_size": 3, "strides": 2}, (3, 5, 5, 5)),
    ({"filters": 6, "kernel_size": 3, "padding": "same", "use_bias": True,
      "activation": "relu"}, (3, 2, 2, 5)),
    ({"filters": 6, "kernel_size": 3, "padding": "same"}, (3, 9, 9, 5)),  # conv either way
])
def test_training_outputs_equal_keras(kwargs, shape):
    ours, reference = _pair(shape, **kwargs)
    x = _inputs(shape)
    want = helpers.to_numpy(reference(x))
    np.testing.assert_allclose(helpers.to_numpy(ours(x, training=True)), want,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(helpers.to_numpy(ours(x, training=False)), want,
                               rtol=1e-6, atol=1e-6)
    # The same weights under the same names: files of either load into the other.
    assert [w.path.split("/", 1)[1] for w in ours.weights] == \
        [w.path.split("/", 1)[1] for w in reference.weights]


@pytest.mark.skipif(not TENSORFLOW, reason="TensorFlow graphs")
def test_train_calls_run_a_matmul_where_the_rule_says_inference_a_convolution():
    import tensorflow as tf

    # One tap reads a 1x1 image, with many channels: a matmul under every rule.
    ours, _ = _pair((4, 1, 1, 512), filters=512, kernel_size=3, padding="same")
    x = tf.constant(_inputs((4, 1, 1, 512)))

    def op_types(layer, training):
        function = tf.function(lambda a: layer(a, training=training))
        return {op.type for op in function.get_concrete_function(x).graph.get_operations()}

    assert ("MatMul" in op_types(ours, True)) is MATMUL_HERE
    assert ("Conv2D" in op_types(ours, True)) is not MATMUL_HERE
    for training in (False, None):
        assert "Conv2D" in op_types(ours, training)
        assert "MatMul" not in op_types(ours, training)
    ours.matmul_path = False  # Keras' convolution, the reference
    assert "Conv2D" in op_types(ours, True) and "MatMul" not in op_types(ours, True)


def test_every_dense_conv_unit_uses_it():
    unit = ConvBN(8, 3)
    unit.build((None, 8, 8, 3))
    assert type(unit.conv) is Conv2D
    depthwise = ConvBN(None, 3, depthwise=True)
    depthwise.build((None, 8, 8, 3))
    assert type(depthwise.conv) is keras.layers.DepthwiseConv2D


@pytest.mark.skipif(not TENSORFLOW, reason="gradients of a TensorFlow train step")
def test_a_resnet_train_step_equals_the_one_with_keras_convolutions():
    """resnet20 on 8x8 images (its last stage at 2x2 pixels, where the rule
    takes the matmul for 3x3 kernels too), matmul path vs Keras'
    convolutions, from the same weights: same loss and weights after a step
    of SGD with momentum."""
    import tensorflow as tf

    def one_step(matmul_path):
        keras.utils.set_random_seed(0)
        model = zoo.create_model("resnet20", num_classes=4, input_shape=(8, 8, 3))
        helpers.randomize_batchnorm(model, seed=1)
        convs = [layer for layer in model._flatten_layers() if isinstance(layer, Conv2D)]
        assert len(convs) == 21
        for layer in convs:
            layer.matmul_path = matmul_path
        x = tf.constant(_inputs((8, 8, 8, 3)))
        y = tf.constant([0, 1, 2, 3, 0, 1, 2, 3])
        step = helpers.classifier_train_step(model, x, y, keras.optimizers.SGD(0.1, momentum=0.9))

        op_types = [op.type for op in step.get_concrete_function().graph.get_operations()]
        losses = [float(step()) for _ in range(2)]
        return op_types, losses, {w.path: np.array(w) for w in model.weights}

    matmul_ops, matmul_losses, matmul_weights = one_step(matmul_path=True)
    conv_ops, conv_losses, conv_weights = one_step(matmul_path=False)
    assert conv_ops.count("Conv2D") == 21
    # Here the 1x1 projections and the last stage's 3x3 convolutions are matmuls.
    assert (matmul_ops.count("Conv2D") < 21) is MATMUL_HERE
    np.testing.assert_allclose(matmul_losses, conv_losses, rtol=1e-5)
    assert sorted(matmul_weights) == sorted(conv_weights)
    for path, want in conv_weights.items():
        np.testing.assert_allclose(matmul_weights[path], want, atol=2e-5, rtol=1e-4,
                                   err_msg=path)
