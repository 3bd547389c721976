"""`zoo.blocks.BatchNorm` is `keras.layers.BatchNormalization`, computed by a
fused kernel: outputs, moving statistics, gradients, frozen behaviour, mixed
precision and saved files all equal the Keras layer's."""

import keras
import numpy as np
import pytest

import helpers
import zoo
from zoo.blocks import BatchNorm, ConvBN

TENSORFLOW = keras.backend.backend() == "tensorflow"


def _inputs(shape, seed=0):
    return np.random.default_rng(seed).normal(1.5, 2.0, shape).astype("float32")


def _pair(seed=0, input_shape=(4, 5, 5, 3), **kwargs):
    """A zoo BatchNorm and a Keras BatchNormalization with the same random weights."""
    ours, reference = BatchNorm(**kwargs), keras.layers.BatchNormalization(**kwargs)
    ours.build(input_shape)
    reference.build(input_shape)
    rng = np.random.default_rng(seed)
    values = [rng.uniform(0.5, 1.5, w.shape).astype("float32") if "variance" in w.path
              else rng.normal(0, 0.5, w.shape).astype("float32") for w in reference.weights]
    reference.set_weights(values)
    ours.set_weights(values)
    return ours, reference


def _close(a, b, atol):
    np.testing.assert_allclose(helpers.to_numpy(keras.ops.cast(a, "float32")),
                               helpers.to_numpy(keras.ops.cast(b, "float32")), atol=atol,
                               rtol=atol)


@pytest.mark.parametrize("fused", [True, False])
def test_layer_contract(fused):
    helpers.run_layer_test(BatchNorm, {"axis": -1, "momentum": 0.9, "epsilon": 1e-5,
                                       "fused": fused}, (2, 5, 5, 3), (2, 5, 5, 3))


def test_fused_must_be_a_bool():
    with pytest.raises(ValueError, match="fused.*received fused='yes'"):
        BatchNorm(fused="yes")


@pytest.mark.parametrize("kwargs,shape", [
    ({"axis": -1, "epsilon": 1e-5}, (4, 5, 5, 3)),
    ({"axis": 1, "epsilon": 1.001e-5, "momentum": 0.99}, (4, 3, 5, 6)),
    ({"axis": 3, "center": False, "scale": False}, (4, 5, 5, 3)),
    ({"axis": -1}, (6, 3)),  # not an image: Keras' own call
    ({"axis": -1, "renorm": True}, (4, 5, 5, 3)),  # batch renormalization: Keras' own call
])
def test_training_and_moving_statistics_equal_keras(kwargs, shape):
    ours, reference = _pair(input_shape=shape, **kwargs)
    for step in range(3):
        x = _inputs(shape, seed=step)
        _close(ours(x, training=True), reference(x, training=True), 1e-5)
    _close(ours.moving_mean, reference.moving_mean, 1e-5)
    _close(ours.moving_variance, reference.moving_variance, 1e-5)
    x = _inputs(shape, seed=9)
    _close(ours(x, training=False), reference(x, training=False), 1e-6)
    # Same weights in the same order under the same names: files written
    # with either layer load into the other.
    assert [w.path.split("/", 1)[1] for w in ours.weights] == \
        [w.path.split("/", 1)[1] for w in reference.weights]


def test_frozen_layer_runs_in_inference_mode_and_keeps_its_statistics():
    ours, reference = _pair()
    ours.trainable = False
    before = [np.array(w) for w in ours.weights]
    x = _inputs((4, 5, 5, 3))
    _close(ours(x, training=True), reference(x, training=False), 1e-6)
    for old, new in zip(before, ours.weights):
        np.testing.assert_array_equal(old, np.array(new))


@pytest.mark.parametrize("policy,tolerance", [("mixed_float16", 5e-3),
                                              ("mixed_bfloat16", 5e-2)])
def test_mixed_precision_outputs_in_compute_dtype_statistics_in_float32(policy, tolerance):
    ours, reference = _pair(dtype=policy)
    x = keras.ops.cast(_inputs((4, 5, 5, 3)), policy.split("_")[1])
    got, want = ours(x, training=True), reference(x, training=True)
    assert helpers.dtype_name(got) == helpers.dtype_name(want) == policy.split("_")[1]
    _close(got, want, tolerance)
    for w in ours.weights:
        assert helpers.dtype_name(w) == "float32"
    _close(ours.moving_mean, reference.moving_mean, 1e-5)
    _close(ours.moving_variance, reference.moving_variance, 1e-5)


@pytest.mark.skipif(not TENSORFLOW, reason="the fused kernel is TensorFlow's")
@pytest.mark.parametrize("training", [True, False])
def test_the_fused_kernel_is_what_runs(training):
    import tensorflow as tf

    ours, reference = _pair()
    x = tf.constant(_inputs((4, 5, 5, 3)))

    def op_types(layer):
        graph = tf.function(lambda x: layer(x, training=training)).get_concrete_function(x).graph
        return [op.type for op in graph.get_operations()]

    assert op_types(ours).count("FusedBatchNormV3") == 1
    assert "FusedBatchNormV3" not in op_types(reference)
    assert "Rsqrt" in op_types(reference) and "Rsqrt" not in op_types(ours)
    ours.fused = False  # Keras' own call, the reference
    assert "FusedBatchNormV3" not in op_types(ours) and "Rsqrt" in op_types(ours)


@pytest.mark.skipif(not TENSORFLOW, reason="the fused kernel is TensorFlow's")
def test_gradients_equal_keras():
    import tensorflow as tf

    ours, reference = _pair(axis=1, input_shape=(4, 3, 5, 6))
    x = tf.constant(_inputs((4, 3, 5, 6)))
    target = tf.constant(_inputs((4, 3, 5, 6), seed=1))

    def gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum((layer(x, training=True) - target) ** 2)
        return tape.gradient(loss, [x] + layer.trainable_variables)

    for got, want in zip(gradients(ours), gradients(reference)):
        scale = float(tf.reduce_max(tf.abs(want)))
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-5 * scale)


def test_every_conv_unit_normalizes_with_it():
    unit = ConvBN(8, 3)
    unit.build((None, 8, 8, 3))
    assert type(unit.bn) is BatchNorm
    model = zoo.create_model("mobilenet_v2", **helpers.small_overrides("mobilenet_v2"))
    kinds = {type(layer) for layer in model._flatten_layers()
             if isinstance(layer, keras.layers.BatchNormalization)}
    assert kinds == {BatchNorm}


@pytest.mark.skipif(not TENSORFLOW, reason="the fused kernel is TensorFlow's")
def test_a_resnet_train_step_equals_the_one_with_keras_batchnorm():
    """The whole model, fused vs Keras' own BatchNormalization call
    (`fused=False`), from the same weights: same loss, weights and moving
    statistics after a step of SGD."""
    import tensorflow as tf

    def one_step(fused):
        keras.utils.set_random_seed(0)
        model = zoo.create_model("resnet20", num_classes=4, input_shape=(16, 16, 3))
        helpers.randomize_batchnorm(model, seed=1)
        norms = [layer for layer in model._flatten_layers() if isinstance(layer, BatchNorm)]
        assert len(norms) == 21  # resnet20: stem, 18 in the branches, 2 projections
        for layer in norms:
            layer.fused = fused
        x = tf.constant(_inputs((8, 16, 16, 3)))
        y = tf.constant([0, 1, 2, 3, 0, 1, 2, 3])
        step = helpers.classifier_train_step(model, x, y, keras.optimizers.SGD(0.1))

        fused_kernels = [op.type for op in step.get_concrete_function().graph.get_operations()
                         ].count("FusedBatchNormV3")
        assert fused_kernels == (21 if fused else 0)
        return float(step()), {w.path: np.array(w) for w in model.weights}

    fused_loss, fused_weights = one_step(fused=True)
    keras_loss, keras_weights = one_step(fused=False)
    assert abs(fused_loss - keras_loss) <= 1e-5 * abs(keras_loss)
    assert sorted(fused_weights) == sorted(keras_weights)
    for path, want in keras_weights.items():
        np.testing.assert_allclose(fused_weights[path], want, atol=2e-5, rtol=1e-4, err_msg=path)
