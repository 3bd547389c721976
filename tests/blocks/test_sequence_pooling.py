"""SequencePooling: the layer contract, and padding that never counts."""

import keras
import numpy as np
import pytest

import helpers
from zoo.blocks import SequencePooling


@pytest.mark.parametrize("mode", ["avg", "max", "attention"])
def test_layer_contract(mode):
    helpers.run_layer_test(SequencePooling, {"mode": mode}, (2, 5, 3), (2, 3),
                           # avg/max have no weights to train.
                           run_training=mode == "attention")


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 6, 4)).astype("float32")
    mask = np.zeros((3, 6), bool)
    mask[0, :2] = True
    mask[1, :6] = True
    mask[2, :4] = True
    return x, mask


def test_avg_equals_keras_masked_global_average():
    x, mask = _batch()
    ours = SequencePooling("avg")(x, mask=mask)
    theirs = keras.layers.GlobalAveragePooling1D()(x, mask=mask)
    np.testing.assert_allclose(helpers.to_numpy(ours), helpers.to_numpy(theirs), atol=1e-6)
    np.testing.assert_allclose(helpers.to_numpy(ours)[0], x[0, :2].mean(0), atol=1e-6)


def test_max_ignores_padded_steps_even_when_they_are_larger():
    x, mask = _batch()
    x[~mask] = 1e3  # padding that would win an unmasked max
    out = helpers.to_numpy(SequencePooling("max")(x, mask=mask))
    for row in range(3):
        np.testing.assert_array_equal(out[row], x[row][mask[row]].max(0))


@pytest.mark.parametrize("mode", ["avg", "max", "attention"])
def test_padded_values_do_not_change_the_output(mode):
    x, mask = _batch()
    layer = SequencePooling(mode)
    before = helpers.to_numpy(layer(x, mask=mask))
    x2 = x.copy()
    x2[~mask] = np.random.default_rng(5).standard_normal(int((~mask).sum() * 4)).reshape(-1, 4)
    after = helpers.to_numpy(layer(x2, mask=mask))
    np.testing.assert_allclose(after, before, atol=1e-6)


@pytest.mark.parametrize("mode", ["avg", "max", "attention"])
def test_fully_padded_row_pools_to_zero(mode):
    x, mask = _batch()
    mask[0] = False
    out = helpers.to_numpy(SequencePooling(mode)(x, mask=mask))
    np.testing.assert_array_equal(out[0], np.zeros(4, "float32"))
    assert np.all(np.isfinite(out))


def test_attention_weights_sum_to_one_over_real_steps():
    x, mask = _batch()
    layer = SequencePooling("attention")
    out = helpers.to_numpy(layer(x, mask=mask))
    # Same inputs with all-equal features per step: any convex combination of
    # identical rows returns that row, so the weights must sum to 1.
    same = np.broadcast_to(x[:, :1, :], x.shape).copy()
    np.testing.assert_allclose(helpers.to_numpy(layer(same, mask=mask)), same[:, 0], atol=1e-5)
    assert out.shape == (3, 4)


def test_no_mask_means_every_step_counts():
    x, _ = _batch()
    np.testing.assert_allclose(helpers.to_numpy(SequencePooling("avg")(x)), x.mean(1), atol=1e-6)


@pytest.mark.parametrize("kwargs, value", [({"mode": "sum"}, "sum"), ({"mode": None}, "None")])
def test_bad_mode(kwargs, value):
    with pytest.raises(ValueError, match=f"mode.*{value}"):
        SequencePooling(**kwargs)


def test_wrong_rank():
    # Keras' InputSpec check: "expected ndim=3, found ndim=2. Full shape received: (2, 5)".
    with pytest.raises(ValueError, match=r"ndim=3.*\(2, 5\)"):
        SequencePooling("avg")(np.zeros((2, 5), "float32"))
