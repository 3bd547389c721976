"""Optimizers and learning-rate schedules of `python -m zoo.train`.

Schedules are functions of `optimizer.iterations`, which checkpoints hold,
so a resumed run follows the uninterrupted run's curve, mid-epoch included.

Example:

>>> schedule = make_schedule("step", 0.1, total_steps=100)
>>> [round(float(schedule(step)), 4) for step in (0, 49, 50, 75, 99)]
[0.1, 0.1, 0.01, 0.001, 0.001]
>>> make_optimizer("adamw", 1e-3, weight_decay=1e-4).__class__.__name__
'AdamW'
"""

import keras

from zoo import _validation
from zoo.train.config import OPTIMIZERS, SCHEDULES

# The step schedule divides the rate by 10 here (He et al. 2016, CIFAR ResNets).
STEP_FRACTIONS = (0.5, 0.75)


def make_schedule(name, learning_rate, total_steps, warmup_steps=0):
    """The learning rate: a float (`constant`) or a Keras `LearningRateSchedule`.

    `cosine` decays to 0 over `total_steps`; `step` divides by 10 at 50% and
    75%; `warmup` rises linearly over `warmup_steps`, then decays as cosine.
    """
    _validation.one_of("lr_schedule", name, SCHEDULES)
    total_steps = max(int(total_steps), 1)
    if name == "constant":
        return float(learning_rate)
    if name == "cosine":
        return keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
    if name == "step":
        # PiecewiseConstantDecay keeps values[i] while step <= boundaries[i]:
        # to use the lower rate from step 50 of 100, the boundary is 49.
        boundaries = [max(int(total_steps * f), 1) - 1 for f in STEP_FRACTIONS]
        values = [learning_rate / 10 ** i for i in range(len(boundaries) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    if not 0 < warmup_steps < total_steps:
        raise ValueError(
            "lr_schedule='warmup' needs 0 < warmup steps < total steps, received "
            f"warmup_steps={warmup_steps} with total_steps={total_steps}")
    return keras.optimizers.schedules.CosineDecay(
        0.0, total_steps - warmup_steps, warmup_target=learning_rate,
        warmup_steps=warmup_steps)


def make_optimizer(name, learning_rate, weight_decay=0.0):
    """SGD with Nesterov momentum 0.9, Adam (no weight decay), or AdamW (decoupled decay)."""
    _validation.one_of("optimizer", name, OPTIMIZERS)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True,
                                    weight_decay=weight_decay or None)
    if name == "adam":
        if weight_decay:
            raise ValueError(
                "optimizer='adam' takes no weight decay (use optimizer='adamw' for "
                f"decoupled decay), received weight_decay={weight_decay}")
        return keras.optimizers.Adam(learning_rate)
    return keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
