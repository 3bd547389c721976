"""Tests for the learning-rate schedules and optimizers of `zoo.train.optim`.

A schedule is a function of the optimizer's step counter (the number of
updates already applied: the first update runs at step 0).
"""

import math

import keras
import numpy as np
import pytest

from zoo.train import optim
from zoo.train.config import OPTIMIZERS, SCHEDULES


def rates(schedule, steps):
    if isinstance(schedule, float):
        return [schedule for _ in steps]
    return [float(schedule(step)) for step in steps]


def test_the_choices_are_what_the_cli_offers():
    assert SCHEDULES == ("constant", "cosine", "step", "warmup")
    assert OPTIMIZERS == ("sgd", "adam", "adamw")


def test_constant():
    schedule = optim.make_schedule("constant", 0.05, total_steps=100)
    assert rates(schedule, [0, 50, 99, 100, 1000]) == [0.05] * 5


def test_cosine_decays_from_the_peak_to_zero():
    schedule = optim.make_schedule("cosine", 0.1, total_steps=100)
    got = rates(schedule, [0, 25, 50, 75, 100, 150])
    expected = [0.1 * 0.5 * (1 + math.cos(math.pi * min(s, 100) / 100))
                for s in [0, 25, 50, 75, 100, 150]]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    assert got[0] == pytest.approx(0.1) and got[2] == pytest.approx(0.05)
    assert got[4] == pytest.approx(0.0, abs=1e-7) and got[5] == pytest.approx(0.0, abs=1e-7)
    assert all(a > b for a, b in zip(got[:4], got[1:5]))  # strictly decreasing


def test_step_divides_by_10_at_half_and_by_100_at_three_quarters():
    schedule = optim.make_schedule("step", 0.1, total_steps=100)
    got = rates(schedule, [0, 49, 50, 74, 75, 99])
    np.testing.assert_allclose(got, [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-6)
    # Over the whole run: half the steps at the peak, a quarter at each tenth.
    counts = {}
    for rate in rates(schedule, range(100)):
        counts[round(rate, 8)] = counts.get(round(rate, 8), 0) + 1
    assert counts == {0.1: 50, 0.01: 25, 0.001: 25}


def test_step_rates_are_the_peak_over_powers_of_10():
    # What holds either side of the boundaries (the off-by-one above aside).
    schedule = optim.make_schedule("step", 0.4, total_steps=1000)
    got = rates(schedule, [0, 100, 499, 600, 749, 760, 999, 5000])
    np.testing.assert_allclose(got, [0.4, 0.4, 0.4, 0.04, 0.04, 0.004, 0.004, 0.004],
                               rtol=1e-6)


def test_warmup_rises_linearly_then_decays_by_cosine_to_zero():
    peak, warmup, total = 0.2, 10, 110
    schedule = optim.make_schedule("warmup", peak, total_steps=total, warmup_steps=warmup)
    np.testing.assert_allclose(rates(schedule, range(warmup + 1)),
                               [peak * s / warmup for s in range(warmup + 1)],
                               rtol=1e-5, atol=1e-8)
    assert rates(schedule, [0])[0] == 0.0
    after = [warmup, warmup + 25, warmup + 50, warmup + 75, total]
    np.testing.assert_allclose(
        rates(schedule, after),
        [peak * 0.5 * (1 + math.cos(math.pi * (s - warmup) / (total - warmup)))
         for s in after],
        rtol=1e-5, atol=1e-7)
    assert rates(schedule, [warmup + 50])[0] == pytest.approx(peak / 2, rel=1e-5)
    assert rates(schedule, [total])[0] == pytest.approx(0.0, abs=1e-7)
    # The peak is the maximum of the whole curve.
    assert max(rates(schedule, range(total + 1))) == pytest.approx(peak, rel=1e-6)


@pytest.mark.parametrize("name", ["cosine", "step"])
def test_total_steps_below_1_counts_as_1(name):
    schedule = optim.make_schedule(name, 0.1, total_steps=0)
    assert rates(schedule, [0])[0] == pytest.approx(0.1)


@pytest.mark.parametrize("kwargs, names", [
    ({"name": "linear"}, ["lr_schedule='linear'", "constant", "warmup"]),
    ({"name": "Cosine"}, ["lr_schedule='Cosine'"]),
    ({"name": "warmup", "warmup_steps": 0}, ["warmup_steps=0", "total_steps=100"]),
    ({"name": "warmup", "warmup_steps": 100}, ["warmup_steps=100", "total_steps=100"]),
    ({"name": "warmup", "warmup_steps": 250}, ["warmup_steps=250", "total_steps=100"]),
], ids=lambda v: repr(v) if isinstance(v, dict) else None)
def test_bad_schedules_name_argument_and_value(kwargs, names):
    kwargs = {"learning_rate": 0.1, "total_steps": 100, **kwargs}
    with pytest.raises(ValueError) as info:
        optim.make_schedule(**kwargs)
    for name in names:
        assert name in str(info.value)


# --------------------------------------------------------------------------
# Optimizers


def test_sgd_has_nesterov_momentum_and_decoupled_weight_decay():
    opt = optim.make_optimizer("sgd", 0.1, weight_decay=1e-3)
    assert type(opt) is keras.optimizers.SGD
    assert opt.momentum == pytest.approx(0.9) and opt.nesterov is True
    assert opt.weight_decay == pytest.approx(1e-3)
    assert optim.make_optimizer("sgd", 0.1).weight_decay is None


def test_adam_and_adamw():
    adam = optim.make_optimizer("adam", 1e-3)
    assert type(adam) is keras.optimizers.Adam and adam.weight_decay is None
    adamw = optim.make_optimizer("adamw", 1e-3, weight_decay=0.05)
    assert type(adamw) is keras.optimizers.AdamW
    assert adamw.weight_decay == pytest.approx(0.05)


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_the_optimizer_follows_the_schedule(name):
    schedule = optim.make_schedule("cosine", 0.1, total_steps=4)
    opt = optim.make_optimizer(name, schedule)
    variable = keras.Variable(np.ones(3, "float32"))
    seen = []
    for _ in range(4):
        seen.append(float(opt.learning_rate))
        opt.apply([keras.ops.ones(3)], [variable])
    np.testing.assert_allclose(seen, rates(schedule, range(4)), rtol=1e-6)
    assert int(opt.iterations) == 4


def test_sgd_step_values():
    # One step from w=1 with gradient 1, lr 0.1, decay 0.01. Decoupled decay
    # first: w -= lr * wd * w (0.999); then Nesterov: m = -lr*g = -0.1,
    # w += 0.9 * m - lr * g = -0.19.
    variable = keras.Variable(np.ones(2, "float32"))
    optim.make_optimizer("sgd", 0.1, weight_decay=0.01).apply([keras.ops.ones(2)], [variable])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), [0.809, 0.809], rtol=1e-6)


@pytest.mark.parametrize("name, weight_decay, expected", [
    ("sgd", 0.01, 0.999),     # w - lr * wd * w
    ("adamw", 0.01, 0.999),
    ("adam", 0.0, 1.0),       # no decay at all
    ("sgd", 0.0, 1.0),
])
def test_weight_decay_is_decoupled_from_the_gradient(name, weight_decay, expected):
    # With a zero gradient only the decay moves the weight.
    variable = keras.Variable(np.ones(2, "float32"))
    optim.make_optimizer(name, 0.1, weight_decay=weight_decay).apply(
        [keras.ops.zeros(2)], [variable])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), [expected] * 2,
                               rtol=1e-6)


@pytest.mark.parametrize("kwargs, names", [
    ({"name": "rmsprop"}, ["optimizer='rmsprop'", "sgd", "adamw"]),
    ({"name": "SGD"}, ["optimizer='SGD'"]),
    ({"name": "adam", "weight_decay": 0.1}, ["optimizer='adam'", "weight_decay=0.1",
                                              "adamw"]),
], ids=lambda v: repr(v) if isinstance(v, dict) else None)
def test_bad_optimizers_name_argument_and_value(kwargs, names):
    with pytest.raises(ValueError) as info:
        optim.make_optimizer(learning_rate=0.1, **kwargs)
    for name in names:
        assert name in str(info.value)
