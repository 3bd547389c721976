"""Tests for `zoo.train.loops` and its loss: `CustomLoop` against Keras `fit`.

The loss, `zoo.losses.SparseCrossentropy`, is what `zoo.train` compiles
every model with (both loops).

`CustomLoop` is Keras `fit` written out, so the reference is `fit` itself:
twin models (every variable copied, dropout seed state included) trained on
the same fixed batches with plain SGD end with the same weights, and report
the same metrics.
"""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers
from zoo.losses import SparseCrossentropy
from zoo.train import loops

NUM_CLASSES = 3
NUM_FEATURES = 6
# 56 examples in batches of 16: three full batches and one of 8, so a loss
# divided by the batch size rather than the batch's own size would show.
NUM_EXAMPLES, BATCH = 56, 16
STEPS = math.ceil(NUM_EXAMPLES / BATCH)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((NUM_EXAMPLES, NUM_FEATURES)).astype("float32")
    # Learnable labels: the argmax of a fixed projection, plus some noise.
    w = rng.standard_normal((NUM_FEATURES, NUM_CLASSES)).astype("float32")
    y = np.argmax(x @ w + 0.5 * rng.standard_normal((NUM_EXAMPLES, NUM_CLASSES)), axis=1)
    return x, y.astype("int32")


def _dataset(seed=0):
    return tf.data.Dataset.from_tensor_slices(_data(seed)).batch(BATCH)


def _model(dropout=0.0, l2=None, seed=0):
    keras.utils.set_random_seed(seed)
    regularizer = keras.regularizers.L2(l2) if l2 else None
    layers = [
        keras.Input((NUM_FEATURES,)),
        keras.layers.Dense(16, activation="relu", kernel_regularizer=regularizer,
                           name="hidden"),
        keras.layers.BatchNormalization(name="bn"),
    ]
    if dropout:
        layers.append(keras.layers.Dropout(dropout, name="dropout"))
    layers.append(keras.layers.Dense(NUM_CLASSES, name="logits"))
    return keras.Sequential(layers, name="tiny")


def _compile(model, learning_rate=0.1, label_smoothing=0.0):
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate),  # no momentum, constant rate
        loss=SparseCrossentropy(NUM_CLASSES, label_smoothing),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=False)
    return model


def _twins(learning_rate=0.1, label_smoothing=0.0, **model_kwargs):
    """Two compiled models with every variable equal (dropout seed state too)."""
    first = _model(**model_kwargs, seed=0)
    second = _model(**model_kwargs, seed=1)
    assert len(first.variables) == len(second.variables)
    for source, target in zip(first.variables, second.variables):
        target.assign(source)
    return (_compile(first, learning_rate, label_smoothing),
            _compile(second, learning_rate, label_smoothing))


def _runner(model, label_smoothing=0.0):
    return loops.CustomLoop(
        model, SparseCrossentropy(NUM_CLASSES, label_smoothing, reduction=None),
        tf.distribute.get_strategy())


def _values(model):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in model.variables]


class _CountBatches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append((self.epoch, batch))


# --------------------------------------------------------------------------
# SparseCrossentropy


def _labels_and_logits(seed=0, n=7):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, n).astype("int32")
    logits = (3 * rng.standard_normal((n, NUM_CLASSES))).astype("float32")
    return labels, logits


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", None])
def test_without_smoothing_it_is_keras_sparse_crossentropy(reduction):
    labels, logits = _labels_and_logits()
    ours = SparseCrossentropy(NUM_CLASSES, 0.0, reduction=reduction)
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                           reduction=reduction)
    got, expected = _np(ours(labels, logits)), _np(keras_loss(labels, logits))
    assert got.shape == expected.shape == (() if reduction else (len(labels),))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("smoothing", [0.1, 0.3])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", None])
def test_smoothing_is_keras_categorical_crossentropy_of_one_hot_labels(smoothing, reduction):
    labels, logits = _labels_and_logits(seed=1)
    ours = SparseCrossentropy(NUM_CLASSES, smoothing, reduction=reduction)
    keras_loss = keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=smoothing, reduction=reduction)
    one_hot = np.eye(NUM_CLASSES, dtype="float32")[labels]
    got, expected = _np(ours(labels, logits)), _np(keras_loss(one_hot, logits))
    assert got.shape == expected.shape == (() if reduction else (len(labels),))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    # And by hand: cross-entropy against (1 - s) * one_hot + s / K.
    targets = (1 - smoothing) * one_hot + smoothing / NUM_CLASSES
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    per_example = -(targets * log_probs).sum(axis=1)
    np.testing.assert_allclose(got, per_example if reduction is None else per_example.mean(),
                               rtol=1e-5)


def test_smoothing_raises_the_loss_of_a_confident_correct_prediction():
    labels, logits = np.array([0]), np.array([[20.0, 0.0, 0.0]], "float32")
    plain = float(SparseCrossentropy(NUM_CLASSES, 0.0)(labels, logits))
    smoothed = float(SparseCrossentropy(NUM_CLASSES, 0.2)(labels, logits))
    assert plain < 1e-6 and smoothed > 1.0


def test_get_config_round_trip():
    loss = SparseCrossentropy(5, label_smoothing=0.25, reduction=None, name="ce")
    config = loss.get_config()
    assert config["num_classes"] == 5 and config["label_smoothing"] == 0.25
    assert config["reduction"] is None and config["name"] == "ce"
    clone = SparseCrossentropy.from_config(config)
    assert clone.get_config() == config
    labels, logits = np.array([0, 4, 2]), np.random.default_rng(0).normal(
        size=(3, 5)).astype("float32")
    np.testing.assert_array_equal(_np(clone(labels, logits)), _np(loss(labels, logits)))
    # Registered: Keras' own (de)serialization finds the class by name.
    revived = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(keras.saving.serialize_keras_object(loss))))
    assert type(revived) is SparseCrossentropy and revived.get_config() == config


def test_a_model_compiled_with_the_loss_loads_in_a_fresh_process(tmp_path):
    # What --export=x.keras and model_dir/best.keras hold: a compiled model.
    model = _compile(_model(), label_smoothing=0.1)
    model.fit(_dataset(), epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "tiny.keras"
    model.save(path)
    x, _ = _data()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "expected.npy", _np(model(x, training=False)))
    out = helpers.run_in_fresh_process(f"""
        import json
        import numpy as np
        import zoo.export

        model = zoo.export.load({str(path)!r})
        x = np.load({str(tmp_path / "x.npy")!r})
        np.testing.assert_allclose(np.asarray(model(x, training=False)),
                                   np.load({str(tmp_path / "expected.npy")!r}), atol=1e-6)
        loss = type(model.loss)
        print(json.dumps({{"loss": loss.__module__ + "." + loss.__name__,
                          "config": model.loss.get_config()}}))
    """)
    loaded = json.loads(out.strip().splitlines()[-1])
    assert loaded["loss"] == "zoo.losses.SparseCrossentropy"
    assert loaded["config"] == model.loss.get_config()
    assert loaded["config"]["label_smoothing"] == 0.1


# --------------------------------------------------------------------------
# CustomLoop against Keras fit


def test_custom_loop_trains_like_fit():
    # Dropout (same seed state, same masks), BatchNorm in training mode and
    # an L2 regularization loss: weights agree after two epochs.
    by_fit, by_loop = _twins(dropout=0.2, l2=1e-2)
    before = _values(by_fit)
    fit_history = by_fit.fit(_dataset(), epochs=2, shuffle=False, verbose=0)
    loop_history = _runner(by_loop).fit(_dataset().repeat(), epochs=2, steps_per_epoch=STEPS,
                                        verbose=0)
    assert int(by_fit.optimizer.iterations) == int(by_loop.optimizer.iterations) == 2 * STEPS
    for variable, fitted, looped, start in zip(by_fit.variables, _values(by_fit),
                                               _values(by_loop), before):
        assert not np.array_equal(fitted, start), f"{variable.path} did not move"
        np.testing.assert_allclose(looped, fitted, atol=1e-5, rtol=0, err_msg=variable.path)
    np.testing.assert_allclose(loop_history.history["accuracy"],
                               fit_history.history["accuracy"], atol=1e-6)
    assert loop_history.epoch == fit_history.epoch == [0, 1]


def test_custom_loop_reports_the_metrics_fit_reports():
    # Without regularization losses the training loss is the mean
    # cross-entropy in both loops; validation runs in inference mode.
    by_fit, by_loop = _twins(dropout=0.2, label_smoothing=0.1)
    fit_history = by_fit.fit(_dataset(), epochs=2, shuffle=False, verbose=0,
                             validation_data=_dataset(1)).history
    loop_history = _runner(by_loop, label_smoothing=0.1).fit(
        _dataset().repeat(), epochs=2, steps_per_epoch=STEPS, verbose=0,
        validation_data=_dataset(1)).history
    assert sorted(loop_history) == sorted(fit_history) == [
        "accuracy", "loss", "val_accuracy", "val_loss"]
    for key in fit_history:
        np.testing.assert_allclose(loop_history[key], fit_history[key], atol=1e-5, rtol=0,
                                   err_msg=key)


def test_custom_loop_loss_includes_regularization_like_fit():
    by_fit, by_loop = _twins(l2=1e-1)
    fit_history = by_fit.fit(_dataset(), epochs=1, shuffle=False, verbose=0).history
    loop_history = _runner(by_loop).fit(_dataset().repeat(), epochs=1, steps_per_epoch=STEPS,
                                        verbose=0).history
    np.testing.assert_allclose(loop_history["loss"], fit_history["loss"], atol=1e-5)


def test_batchnorm_trains_in_training_mode_and_evaluates_in_inference_mode():
    by_fit, by_loop = _twins(dropout=0.5)
    runner = _runner(by_loop)
    bn = by_loop.get_layer("bn")
    mean_before = np.array(bn.moving_mean.numpy())
    variance_before = np.array(bn.moving_variance.numpy())
    runner.fit(_dataset().repeat(), epochs=1, steps_per_epoch=STEPS, verbose=0)
    assert not np.allclose(bn.moving_mean.numpy(), mean_before)
    assert not np.allclose(bn.moving_variance.numpy(), variance_before)

    # Inference mode: same numbers as Keras' evaluate, and no dropout noise
    # (two evaluations agree exactly) nor moving-statistic updates.
    moving_mean = np.array(bn.moving_mean.numpy())
    expected = by_loop.evaluate(_dataset(1), verbose=0, return_dict=True)
    got = runner.evaluate(_dataset(1))
    assert sorted(got) == ["accuracy", "loss"]
    assert got["loss"] == pytest.approx(expected["loss"], abs=1e-5)
    assert got["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-6)
    assert runner.evaluate(_dataset(1)) == got
    np.testing.assert_array_equal(bn.moving_mean.numpy(), moving_mean)
    x, y = _data(1)
    logits = _np(by_loop(x, training=False))
    assert got["accuracy"] == pytest.approx(float(np.mean(logits.argmax(axis=1) == y)),
                                            abs=1e-6)


def test_resuming_mid_epoch_runs_the_remaining_steps_only():
    _, model = _twins()
    counter = _CountBatches()
    history = _runner(model).fit(_dataset().repeat(), epochs=3, steps_per_epoch=STEPS,
                                 initial_epoch=1, initial_step=2, callbacks=[counter],
                                 verbose=0)
    assert counter.batches == [(1, 2), (1, 3), (2, 0), (2, 1), (2, 2), (2, 3)]
    assert history.epoch == [1, 2]
    assert int(model.optimizer.iterations) == 6


def test_checkpoint_steps_call_back_inside_epochs_only():
    _, model = _twins()
    saved = []
    _runner(model).fit(_dataset().repeat(), epochs=2, steps_per_epoch=STEPS, verbose=0,
                       checkpoint_steps=2, on_checkpoint_step=lambda e, s: saved.append((e, s)))
    # Step 4 is the epoch's end, which the epoch-end checkpoint covers.
    assert saved == [(0, 2), (1, 2)]


# --------------------------------------------------------------------------
# Keras callbacks in the custom loop


def test_early_stopping_on_a_loss_that_does_not_improve():
    # Learning rate 0: the same weights on the same batches give the same
    # loss every epoch, which is no improvement; patience 0 stops at epoch 1.
    _, model = _twins(learning_rate=0.0)
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=0, mode="min")
    history = _runner(model).fit(_dataset().repeat(), epochs=5, steps_per_epoch=STEPS,
                                 callbacks=[stopper], verbose=0)
    assert history.epoch == [0, 1]
    assert history.history["loss"][0] == history.history["loss"][1]
    assert stopper.stopped_epoch == 1 and model.stop_training


def test_early_stopping_lets_an_improving_run_finish():
    _, model = _twins(learning_rate=0.05)
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=0, mode="min")
    history = _runner(model).fit(_dataset().repeat(), epochs=4, steps_per_epoch=STEPS,
                                 callbacks=[stopper], verbose=0)
    losses = history.history["loss"]
    assert history.epoch == [0, 1, 2, 3]
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses
    assert not model.stop_training


def test_terminate_on_nan_stops_at_the_first_nan_batch():
    _, model = _twins(learning_rate=1e30)
    counter = _CountBatches()
    history = _runner(model).fit(_dataset().repeat(), epochs=3, steps_per_epoch=STEPS,
                                 callbacks=[keras.callbacks.TerminateOnNaN(), counter],
                                 verbose=0)
    assert model.stop_training is True
    assert len(counter.batches) < 3 * STEPS
    assert counter.batches[0] == (0, 0)
    assert history.epoch == [0]
    assert not np.isfinite(history.history["loss"][-1])
