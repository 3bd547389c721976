"""Tests for `zoo.models.einsum_mlp`."""

import json
import time

import keras
import numpy as np
import pytest

import helpers
import zoo
import zoo.data
from zoo.blocks import EinsumDense
from zoo.blocks.einsum_dense import head_kernel_to_dense
from zoo.models.einsum_mlp import EinsumMLP

NORMALIZATIONS = (None, "batch", "layer")


# --------------------------------------------------------------------------
# The battery, over input kinds, layouts and normalizations


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("input_shape, data_format", [
    ((8, 8, 1), "channels_last"),
    ((3, 6, 5), "channels_first"),
    ((12,), "channels_last"),
    ((12,), "channels_first"),
])
def test_model_battery(input_shape, data_format, normalization):
    helpers.run_model_test(
        lambda: EinsumMLP(num_classes=4, hidden_units=(16, 8), input_shape=input_shape,
                          data_format=data_format, normalization=normalization),
        expected_output_shape=(2, 4),
    )


@pytest.mark.parametrize("kwargs", [
    {"hidden_units": ()},                                  # the head is the classifier
    {"hidden_units": [16], "dropout": 0.0, "activation": None},
    {"classifier_activation": "softmax", "activation": "gelu", "dropout": 0.5},
])
def test_model_battery_options(kwargs):
    helpers.run_model_test(
        lambda: EinsumMLP(num_classes=3, input_shape=(6, 6, 2), **kwargs),
        expected_output_shape=(2, 3),
    )


# --------------------------------------------------------------------------
# Structure


def test_first_layer_is_the_flatten_free_head():
    model = EinsumMLP(hidden_units=(16, 8), input_shape=(8, 8, 1), normalization="batch")
    names = [layer.name for layer in model.layers]
    assert names == ["dense1", "norm1", "act1", "dropout1", "dense2", "norm2", "act2",
                     "dropout2", "classifier", "predictions"]
    assert not any(isinstance(layer, (keras.layers.Flatten, keras.layers.Reshape,
                                      keras.layers.Permute)) for layer in model.layers)
    head = model.layers[0]
    assert isinstance(head, EinsumDense) and head.equation == "nhwc,hwck->nk"
    assert tuple(head.kernel.shape) == (8, 8, 1, 16)
    # BatchNormalization cancels a bias: the hidden layers have none.
    assert head.bias is None and model.get_layer("dense2").bias is None
    assert model.get_layer("classifier").bias is not None
    assert model.get_layer("dense2").equation == "...i,ik->...k"
    assert model.input_signature.name == "images"


def test_flat_inputs_use_the_dense_equation():
    model = EinsumMLP(hidden_units=(16,), input_shape=(20,))
    assert model.layers[0].equation == "...i,ik->...k"
    assert tuple(model.layers[0].kernel.shape) == (20, 16)
    assert model.input_signature.name == "features"
    assert tuple(model.input_signature.shape) == (None, 20)


def test_layer_norm_keeps_the_bias_and_no_dropout_layers_at_zero():
    model = EinsumMLP(hidden_units=(16,), input_shape=(4, 4, 1), normalization="layer",
                      dropout=0)
    assert [layer.name for layer in model.layers] == ["dense1", "norm1", "act1",
                                                       "classifier", "predictions"]
    assert isinstance(model.get_layer("norm1"), keras.layers.LayerNormalization)
    assert model.get_layer("dense1").bias is not None


def test_trainable_param_count():
    model = EinsumMLP(num_classes=10, hidden_units=(32, 16), input_shape=(8, 8, 1))
    expected = (64 * 32 + 32) + (32 * 16 + 16) + (16 * 10 + 10)
    assert helpers.count_weights(model.trainable_weights) == expected
    assert model.count_params() == expected


def test_defaults():
    model = zoo.create_model("einsum_mlp")
    assert model.name == "einsum_mlp"
    assert model.input_shape_ == (32, 32, 1)
    assert model.hidden_units == (256, 128) and model.num_classes == 10
    assert tuple(model(model.example_inputs()).shape) == (2, 10)
    first = zoo.create_model("einsum_mlp", data_format="channels_first")
    assert first.input_shape_ == (1, 32, 32)
    assert first.layers[0].equation == "nchw,chwk->nk"
    from zoo import einsum_mlp  # re-exported family module
    assert einsum_mlp.EinsumMLP is EinsumMLP


def test_dropout_and_batchnorm_follow_training():
    model = EinsumMLP(hidden_units=(64,), input_shape=(10,), dropout=0.5,
                      normalization="batch")
    x = helpers.random_inputs((8, 10), seed=1)
    inference = helpers.to_numpy(model(x, training=False))
    np.testing.assert_array_equal(helpers.to_numpy(model(x, training=False)), inference)
    assert np.abs(helpers.to_numpy(model(x, training=True)) - inference).max() > 1e-3


def test_channels_first_matches_channels_last():
    last = EinsumMLP(num_classes=5, hidden_units=(16,), input_shape=(6, 4, 3),
                     data_format="channels_last", normalization="batch")
    first = EinsumMLP(num_classes=5, hidden_units=(16,), input_shape=(3, 6, 4),
                      data_format="channels_first", normalization="batch")
    helpers.randomize_batchnorm(last, seed=2)
    weights = last.get_weights()
    # Only the head's kernel differs: (h, w, c, k) -> (c, h, w, k).
    weights[0] = np.transpose(weights[0], (2, 0, 1, 3))
    first.set_weights(weights)
    x = helpers.random_inputs((2, 6, 4, 3), seed=3)
    np.testing.assert_allclose(
        helpers.to_numpy(first(np.transpose(x, (0, 3, 1, 2)), training=False)),
        helpers.to_numpy(last(x, training=False)), atol=1e-5, rtol=0)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_head_equals_flatten_dense_inside_the_model(data_format):
    shape = (5, 5, 2) if data_format == "channels_last" else (2, 5, 5)
    model = EinsumMLP(num_classes=3, hidden_units=(8,), input_shape=shape,
                      data_format=data_format, dropout=0)
    head = model.layers[0]
    flat = keras.Sequential([
        keras.Input(shape=shape),
        keras.layers.Flatten(data_format=data_format),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(3),
    ])
    flat.layers[1].set_weights([head_kernel_to_dense(head.kernel, data_format),
                                helpers.to_numpy(head.bias)])
    flat.layers[2].set_weights(model.get_layer("classifier").get_weights())
    x = helpers.random_inputs((2,) + shape, seed=4)
    np.testing.assert_allclose(helpers.to_numpy(model(x)), helpers.to_numpy(flat(x)),
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("policy", helpers.MIXED_POLICIES)
def test_mixed_precision(policy):
    model = EinsumMLP(num_classes=4, hidden_units=(16,), input_shape=(6, 6, 1),
                      normalization="layer", dtype=policy)
    x = model.example_inputs()
    assert helpers.dtype_name(model(x)) == "float32"  # the head's activation
    compute = keras.DTypePolicy(policy).compute_dtype
    assert helpers.dtype_name(model.get_layer("classifier")(
        model.layers[0](x))) == compute
    assert {helpers.dtype_name(v) for v in model.weights} == {"float32"}
    clone = EinsumMLP.from_config(json.loads(json.dumps(model.get_config())))
    assert clone.dtype_policy.name == policy


def test_softmax_head_sums_to_one():
    model = EinsumMLP(num_classes=4, input_shape=(6,), classifier_activation="softmax")
    y = helpers.to_numpy(model(model.example_inputs(batch_size=3)))
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, atol=1e-5)


# --------------------------------------------------------------------------
# Summary


def test_summary_shows_the_einsum_layers_with_real_shapes():
    model = EinsumMLP(num_classes=10, hidden_units=(32, 16), input_shape=(8, 8, 1),
                      normalization="batch")
    lines = helpers.summary_lines(model)
    rows = {r["name"]: r for r in helpers.summary_rows(lines)}
    assert rows["dense1"]["type"] == "EinsumDense"
    assert rows["dense1"]["shape"] == "(None, 32)"
    assert rows["dense1"]["params"] == 8 * 8 * 1 * 32  # no bias under BatchNorm
    assert rows["norm1"]["shape"] == "(None, 32)"
    assert rows["dense2"]["type"] == "EinsumDense"
    assert rows["dense2"]["shape"] == "(None, 16)"
    assert rows["classifier"]["type"] == "EinsumDense"
    assert rows["classifier"]["shape"] == "(None, 10)"
    assert rows["classifier"]["params"] == 16 * 10 + 10
    assert rows["predictions"]["shape"] == "(None, 10)"
    assert not any("?" in line for line in lines)
    assert helpers.summary_totals(lines)["Total"] == model.count_params()


def test_keras_file_round_trip_in_fresh_process(tmp_path):
    model = EinsumMLP(num_classes=4, hidden_units=(8,), input_shape=(2, 5, 5),
                      data_format="channels_first", normalization="batch")
    helpers.randomize_batchnorm(model, seed=8)
    report = helpers.run_export_test(model, tmp_path, formats=("keras",),
                                     inputs=model.example_inputs(batch_size=2, seed=3),
                                     probe="model.layers[0].equation")
    assert (report["keras"]["type"], report["keras"]["probe"]) == ("EinsumMLP", "nchw,chwk->nk")


# --------------------------------------------------------------------------
# Training on the digits


def test_trains_on_digits_to_95_percent():  # ~5 s on 2 CPU cores: not slow
    # 8x8 is the data's native size: the head has 64 * 256 weights. Adam at
    # 1e-3 for 20 epochs reaches ~97% test accuracy (seeds 0-2: 96.9-97.2%).
    keras.utils.set_random_seed(0)
    train = zoo.data.load("digits", split="train", batch_size=64, image_size=8, seed=0)
    test = zoo.data.load("digits", split="test", batch_size=64, image_size=8, seed=0)
    model = zoo.create_model("einsum_mlp", num_classes=10, input_shape=(8, 8, 1))
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    start = time.perf_counter()
    # shuffle=False: zoo.data already shuffles (seeded) inside the pipeline.
    model.fit(train, epochs=20, shuffle=False, verbose=0)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(test, verbose=0)
    print(f"einsum_mlp digits 8x8: test accuracy {accuracy:.4f} in {seconds:.1f} s")
    assert accuracy >= 0.95


# --------------------------------------------------------------------------
# Bad arguments and inputs


@pytest.mark.parametrize("kwargs, argument, value", [
    ({"num_classes": 0}, "num_classes", "0"),
    ({"num_classes": 10.0}, "num_classes", "10.0"),
    ({"hidden_units": 64}, "hidden_units", "64"),
    ({"hidden_units": (64, 0)}, "hidden_units", "(64, 0)"),
    ({"hidden_units": (64, 2.5)}, "hidden_units", "(64, 2.5)"),
    ({"hidden_units": (True,)}, "hidden_units", "(True,)"),
    ({"activation": "nope"}, "activation", "nope"),
    ({"dropout": 1.0}, "dropout", "1.0"),
    ({"dropout": -0.1}, "dropout", "-0.1"),
    ({"dropout": "0.1"}, "dropout", "'0.1'"),
    ({"dropout": True}, "dropout", "True"),
    ({"normalization": "group"}, "normalization", "group"),
    ({"normalization": "Batch"}, "normalization", "Batch"),
    ({"input_shape": (8, 8)}, "input_shape", "(8, 8)"),
    ({"input_shape": (8, 8, 1, 1)}, "input_shape", "(8, 8, 1, 1)"),
    ({"input_shape": (None, None, 1)}, "input_shape", "(None, None, 1)"),
    ({"input_shape": (0,)}, "input_shape", "(0,)"),
    ({"input_shape": 64}, "input_shape", "64"),
    ({"input_shape": ()}, "input_shape", "()"),
    ({"data_format": "channel_last"}, "data_format", "channel_last"),
    ({"classifier_activation": "nope"}, "classifier_activation", "nope"),
])
def test_bad_arguments(kwargs, argument, value):
    # A wrong type is a TypeError, a wrong value a ValueError.
    with pytest.raises((TypeError, ValueError)) as info:
        EinsumMLP(**{"input_shape": (8, 8, 1), **kwargs})
    message = str(info.value)
    assert argument in message and value in message, message


@pytest.mark.parametrize("input_shape, shape", [
    ((8, 8, 1), (2, 16, 16, 1)),
    ((8, 8, 1), (2, 8, 8, 3)),
    ((8, 8, 1), (2, 64)),
    ((8, 8, 1), (8, 8, 1)),
    ((12,), (2, 10)),
    ((12,), (2, 3, 12)),
])
def test_wrong_input_shape_names_model_and_shape(input_shape, shape):
    model = EinsumMLP(num_classes=3, hidden_units=(8,), input_shape=input_shape,
                      name="my_mlp")
    with pytest.raises(ValueError) as info:
        model(np.zeros(shape, "float32"))
    message = str(info.value)
    assert "my_mlp" in message and str(shape) in message \
        and str((None,) + input_shape) in message, message
