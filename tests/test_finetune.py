"""zoo.finetune: freeze/unfreeze by stage, name, depth or predicate.

The central property: after training with a frozen part (compiled after
freezing), every frozen weight -- kernels, gamma, beta *and* BatchNorm
moving statistics, nested two levels deep (BatchNormalization in ConvBN in
BasicBlock) -- is bit-identical to before, while everything unfrozen moved.
"""

import keras
import numpy as np
import pytest

from zoo import finetune
from zoo.models import resnet

import helpers

RESNET20_LAYERS = [
    "stem_conv",
    "stage1_block1", "stage1_block2", "stage1_block3",
    "stage2_block1", "stage2_block2", "stage2_block3",
    "stage3_block1", "stage3_block2", "stage3_block3",
    "avg_pool", "classifier", "predictions",
]
BN_STATS = ("moving_mean", "moving_variance")


def small_resnet(seed=0):
    keras.utils.set_random_seed(seed)
    return resnet.resnet20(num_classes=3, input_shape=(16, 16, 1))


def batch(seed=0, size=8):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((size, 16, 16, 1)).astype("float32")
    y = rng.integers(0, 3, size=(size,))
    return x, y


def compile_and_train(model, steps=3):
    # jit_compile pinned so the test does not depend on what "auto" picks
    # (it resolved to False here too; the property holds either way).
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    for step in range(steps):
        model.train_on_batch(*batch(seed=step))


def layer_of(model, name):
    return {layer.name: layer for layer in finetune.top_level_layers(model)}[name]


def stat_paths(layer):
    return {getattr(bn, stat).path for bn in helpers.batchnorm_layers(layer)
            for stat in BN_STATS}


def assert_frozen_identical_and_rest_moved(model, frozen_names):
    """Train after freezing; check what must stay and what must move."""
    frozen = [layer_of(model, name) for name in frozen_names]
    unfrozen = [layer for layer in finetune.top_level_layers(model)
                if layer.name not in frozen_names]
    for layer in frozen:  # the flag reached every nested layer and variable
        for sub in layer._flatten_layers(include_self=True, recursive=True):
            assert not sub.trainable, f"{sub.path if hasattr(sub, 'path') else sub.name}"
        assert not layer.trainable_weights
    before = helpers.weight_snapshot(model)

    compile_and_train(model)

    after = helpers.weight_snapshot(model)
    frozen_paths = {v.path for layer in frozen for v in layer.weights}
    changed = sorted(p for p in frozen_paths if not np.array_equal(before[p], after[p]))
    assert not changed, f"frozen weights changed: {changed}"
    # kernels, gamma, beta, moving mean and variance are all among them
    kinds = {p.rsplit("/", 1)[-1] for p in frozen_paths}
    assert not frozen_names or {"kernel", "gamma", "beta", "moving_mean", "moving_variance"} <= kinds, kinds

    unfrozen_trainable = {v.path for layer in unfrozen for v in layer.trainable_weights}
    unfrozen_stats = set().union(*(stat_paths(layer) for layer in unfrozen))
    assert unfrozen_trainable, "nothing left to train"
    still = sorted(p for p in unfrozen_trainable | unfrozen_stats
                   if np.array_equal(before[p], after[p]))
    assert not still, f"unfrozen weights did not move: {still}"
    # Nothing else exists: every weight is frozen, trainable or a BN statistic.
    assert frozen_paths | unfrozen_trainable | unfrozen_stats == set(before)
    assert {v.path for v in model.trainable_weights} == unfrozen_trainable


def test_top_level_layers_are_resnet_call_order():
    model = small_resnet()
    assert [layer.name for layer in finetune.top_level_layers(model)] == RESNET20_LAYERS
    assert finetune.top_level_layers(model) == [
        layer for layer in model._layers_in_order() if layer is not None]


def test_freeze_upto_stage_is_bit_identical_after_training():
    model = small_resnet()
    frozen = finetune.freeze(model, upto="stage2")
    assert frozen == RESNET20_LAYERS[:7]  # stem, stage1 x3, stage2 x3
    assert_frozen_identical_and_rest_moved(model, frozen)


def test_freeze_depth_is_bit_identical_after_training():
    model = small_resnet(seed=1)
    frozen = finetune.freeze(model, depth=5)
    assert frozen == RESNET20_LAYERS[:5]
    assert_frozen_identical_and_rest_moved(model, frozen)


def test_freeze_upto_exact_layer_name():
    model = small_resnet()
    assert finetune.freeze(model, upto="stage2_block1") == RESNET20_LAYERS[:5]
    assert [layer.trainable for layer in finetune.top_level_layers(model)] == \
        [False] * 5 + [True] * 8


def test_freeze_upto_does_not_match_longer_stage_numbers():
    # "stage1" must not match a hypothetical "stage10_block1".
    inputs = keras.Input((4,))
    names = ["stage1_a", "stage1_b", "stage10_block1", "head"]
    x = inputs
    for name in names:
        x = keras.layers.Dense(4, name=name)(x)
    model = keras.Model(inputs, x)
    assert finetune.freeze(model, upto="stage1") == ["stage1_a", "stage1_b"]


def test_freeze_by_names_and_predicate():
    model = small_resnet()
    assert finetune.freeze(model, names=["stage3_block2", "stem_conv"]) == \
        ["stem_conv", "stage3_block2"]  # call order, not argument order
    assert finetune.freeze(model, names="classifier") == ["classifier"]
    trainable = {layer.name for layer in finetune.top_level_layers(model) if layer.trainable}
    assert trainable == set(RESNET20_LAYERS) - {"stem_conv", "stage3_block2", "classifier"}

    model = small_resnet(seed=2)
    frozen = finetune.freeze(model, predicate=lambda layer: layer.name.startswith("stage1"))
    assert frozen == ["stage1_block1", "stage1_block2", "stage1_block3"]
    assert_frozen_identical_and_rest_moved(model, frozen)


def test_unfreeze_restores_and_then_everything_moves():
    model = small_resnet()
    finetune.freeze(model, upto="stage3")
    assert finetune.unfreeze(model, upto="stage3_block3") == RESNET20_LAYERS[:10]
    assert finetune.unfreeze(model, names=["stem_conv"]) == ["stem_conv"]
    assert finetune.unfreeze(model, depth=2) == RESNET20_LAYERS[:2]
    assert finetune.unfreeze(model, predicate=lambda layer: False) == []

    finetune.freeze(model, upto="stage3")
    compile_and_train(model, steps=1)
    assert finetune.unfreeze(model) == RESNET20_LAYERS
    assert all(sub.trainable for sub in model._flatten_layers(include_self=True))
    assert len(model.trainable_weights) == 3 * (1 + 2 * 9 + 2) + 2  # conv,gamma,beta x units
    assert_frozen_identical_and_rest_moved(model, [])


def test_unfreeze_reaches_nested_layers_frozen_by_hand():
    # On the TF backend `layer.trainable = True` on an already-trainable
    # layer is a no-op that never reaches its frozen sublayers; unfreeze
    # must not depend on it.
    model = small_resnet()
    block = layer_of(model, "stage2_block1")
    block.branch[0].bn.trainable = False
    finetune.unfreeze(model, names=["stage2_block1"])
    assert block.branch[0].bn.trainable
    block.branch[0].bn.trainable = False
    finetune.unfreeze(model)
    assert block.branch[0].bn.trainable
    # And freezing a top-level layer that is already frozen still reaches a
    # sublayer that was made trainable by hand.
    finetune.freeze(model, names=["stage2_block1"])
    block.branch[0].bn.trainable = True
    finetune.freeze(model, names=["stage2_block1"])
    assert not block.branch[0].bn.trainable


def test_unfreeze_selection_of_a_frozen_model():
    model = small_resnet()
    model.trainable = False
    assert finetune.unfreeze(model, names=["classifier"]) == ["classifier"]
    assert model.trainable
    assert [v.path for v in model.trainable_weights] == \
        [v.path for v in layer_of(model, "classifier").weights]


def conv_bn(kernel, channels_in, channels_out):
    """(trainable, non-trainable) params of Conv2D (no bias) + BN."""
    return kernel * kernel * channels_in * channels_out + 2 * channels_out, 2 * channels_out


def basic_block(channels_in, channels_out):
    units = [conv_bn(3, channels_in, channels_out), conv_bn(3, channels_out, channels_out)]
    if channels_in != channels_out:
        units.append(conv_bn(1, channels_in, channels_out))
    return tuple(map(sum, zip(*units)))


def test_param_counts_after_freezing():
    model = small_resnet()
    counts = {"stem_conv": conv_bn(3, 1, 16), "classifier": (64 * 3 + 3, 0),
              "avg_pool": (0, 0), "predictions": (0, 0)}
    for stage, (c_in, c_out) in enumerate([(16, 16), (16, 32), (32, 64)], 1):
        counts[f"stage{stage}_block1"] = basic_block(c_in, c_out)
        counts[f"stage{stage}_block2"] = counts[f"stage{stage}_block3"] = \
            basic_block(c_out, c_out)
    assert counts["stage2_block1"] == (14528, 192)
    assert sum(map(sum, counts.values())) == model.count_params() == 273_299
    bn_stats = sum(n for _, n in counts.values())

    frozen = finetune.freeze(model, upto="stage2")
    trainable = sum(t for name, (t, _) in counts.items() if name not in frozen)
    frozen_trainable = sum(counts[name][0] for name in frozen)
    assert helpers.count_weights(model.trainable_weights) == trainable == 205_891
    assert helpers.count_weights(model.non_trainable_weights) == \
        bn_stats + frozen_trainable == 67_408
    totals = helpers.summary_totals(helpers.summary_lines(model))
    assert totals == {"Total": 273_299, "Trainable": 205_891, "Non-trainable": 67_408}

    finetune.unfreeze(model)
    assert helpers.count_weights(model.non_trainable_weights) == bn_stats == 1_568


def test_frozen_batchnorm_uses_moving_statistics_under_training_true():
    model = small_resnet()
    helpers.randomize_batchnorm(model)  # moving stats far from batch stats
    x, _ = batch(size=4)
    # Control: a trainable model normalizes with batch statistics.
    assert not np.allclose(helpers.to_numpy(model(x, training=True)),
                           helpers.to_numpy(model(x, training=False)), atol=1e-3)
    frozen = finetune.freeze(model, predicate=lambda layer: layer.name != "classifier")
    assert len(frozen) == len(RESNET20_LAYERS) - 1
    stats = {p: v for p, v in helpers.weight_snapshot(model).items() if p.endswith(BN_STATS)}
    eval_out = helpers.to_numpy(model(x, training=False))
    train_out = helpers.to_numpy(model(x, training=True))
    np.testing.assert_array_equal(train_out, eval_out)
    after = helpers.weight_snapshot(model)
    assert all(np.array_equal(after[p], v) for p, v in stats.items())


@pytest.mark.tensorflow_only("documents the TensorFlow trainer's stale step; JAX's "
                             "trainer refuses train_on_batch after freeze without a recompile")
def test_recompile_is_needed_after_changing_trainable():
    """Documents the Keras behaviour the docstring warns about."""
    model = small_resnet()
    compile_and_train(model, steps=1)  # traces the train step: all trainable
    finetune.freeze(model, upto="stage3")
    stem = layer_of(model, "stem_conv")
    before = helpers.weight_snapshot(stem)
    model.train_on_batch(*batch(seed=5))  # no recompile: the stale step
    stale_moved = any(not np.array_equal(before[p], v)
                      for p, v in helpers.weight_snapshot(stem).items())
    before = helpers.weight_snapshot(stem)
    compile_and_train(model, steps=1)  # recompiled: the stem stays put
    assert all(np.array_equal(before[p], v)
               for p, v in helpers.weight_snapshot(stem).items())
    assert stale_moved, "Keras now respects trainable changes without a recompile"


@pytest.mark.parametrize("kwargs, argument", [
    ({"upto": "stage2", "depth": 3}, "depth=3"),
    ({"names": ["stem_conv"], "predicate": callable}, "names=['stem_conv']"),
    ({}, "none"),
    ({"upto": "stage9"}, "upto='stage9'"),
    ({"upto": "stage2_block"}, "upto='stage2_block'"),
    ({"upto": 3}, "upto=3"),
    ({"names": ["stem_conv", "nope"]}, "names=['stem_conv', 'nope']"),
    ({"names": []}, "names=[]"),
    ({"depth": 14}, "depth=14"),
    ({"depth": -1}, "depth=-1"),
    ({"depth": 2.0}, "depth=2.0"),
    ({"depth": True}, "depth=True"),
    ({"predicate": "stage1"}, "predicate='stage1'"),
])
def test_bad_selectors_raise(kwargs, argument):
    model = small_resnet()
    # A wrong type is a TypeError, a wrong value a ValueError.
    with pytest.raises((TypeError, ValueError),
                       match=f"{argument[:argument.find('=') + 1] or 'none'}") as info:
        finetune.freeze(model, **kwargs)
    assert argument in str(info.value), str(info.value)
    if len(kwargs) == 1 and (isinstance(kwargs.get("upto"), str) or kwargs.get("names")):
        assert "stage3_block3" in str(info.value)  # lists the available names
    if kwargs:  # unfreeze validates the same way
        with pytest.raises((TypeError, ValueError), match=argument[:argument.find("=")]):
            finetune.unfreeze(model, **kwargs)
    # nothing was changed by a failed call
    assert all(layer.trainable for layer in finetune.top_level_layers(model))
