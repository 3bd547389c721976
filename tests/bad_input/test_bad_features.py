"""Bad `features_only` / `out_stages` arguments, and calls of a features_only model
(the pattern of tests/bad_input/test_bad_models.py).

Each row asserts the exception type and that the message names the argument
and shows the value received. Every construction row fails before any layer
is built. Decisions the rows pin down: `out_stages` must be in increasing
order (an unsorted request is refused, not sorted: the outputs come in
stage order, and `feature_info[0]` would silently be another stage than
`out_stages[0]`); `pooling` other than None conflicts with
`features_only=True`, while `include_top` is ignored there (its default,
True, cannot be told from an explicit True).
"""

import numpy as np
import pytest

import zoo
from helpers import assert_rejects

BOTH = (TypeError, ValueError)
RESNET20_STAGES = "[0, 1, 2, 3]"
IMAGENET_STAGES = "[0, 1, 2, 3, 4]"


def resnet20(**kwargs):
    return zoo.create_model("resnet20", **{"input_shape": (16, 16, 1), **kwargs})


def resnet18(**kwargs):
    return zoo.create_model("resnet18", **{"input_shape": (32, 32, 3), **kwargs})


def mobilenet(**kwargs):
    return zoo.create_model("mobilenet_v2", **{"alpha": 0.35, "input_shape": (16, 16, 1),
                                               **kwargs})


def row(builder, kwargs, error, *fragments, id):
    return pytest.param(builder, kwargs, error, fragments, id=id)


def features(builder, out_stages, error, *fragments, id):
    return row(builder, {"features_only": True, "out_stages": out_stages}, error,
               "out_stages", *fragments, id=id)


CONSTRUCTION = [
    # features_only itself
    row(resnet20, {"features_only": "yes"}, BOTH, "features_only", "'yes'", id="features_only-str"),
    row(resnet20, {"features_only": 1}, BOTH, "features_only", "1", id="features_only-int"),
    row(mobilenet, {"features_only": None}, BOTH, "features_only", "None",
        id="mobilenet-features_only-none"),
    # out_stages: the wrong kind
    features(resnet20, 2, BOTH, "out_stages=2", "list or tuple", id="out_stages-int"),
    features(resnet20, "23", BOTH, "out_stages='23'", id="out_stages-str"),
    features(resnet20, {2, 3}, BOTH, "out_stages={2, 3}", id="out_stages-set"),
    features(resnet20, (2.0, 3), BOTH, "out_stages=(2.0, 3)", id="out_stages-float"),
    features(resnet20, (True,), BOTH, "out_stages=(True,)", id="out_stages-bool"),
    features(resnet20, (None,), BOTH, "out_stages=(None,)", id="out_stages-none-inside"),
    # out_stages: ints that make no selection
    features(resnet20, (), ValueError, "out_stages=()", "non-empty", id="out_stages-empty"),
    features(resnet20, [], ValueError, "out_stages=[]", "non-empty", id="out_stages-empty-list"),
    features(resnet20, (3, 4), ValueError, "out_stages=(3, 4)", RESNET20_STAGES, "[4]",
             id="out_stages-past-cifar"),
    features(resnet18, (5,), ValueError, "out_stages=(5,)", IMAGENET_STAGES,
             id="out_stages-past-imagenet"),
    features(mobilenet, (-1,), ValueError, "out_stages=(-1,)", IMAGENET_STAGES,
             id="out_stages-negative"),
    features(mobilenet, (7,), ValueError, "out_stages=(7,)", IMAGENET_STAGES,
             id="out_stages-paper-stage"),
    features(resnet20, (2, 2), ValueError, "out_stages=(2, 2)", "once", "[2]",
             id="out_stages-duplicate"),
    features(resnet18, (4, 2), ValueError, "out_stages=(4, 2)", "increasing order",
             id="out_stages-unsorted"),
    features(resnet18, (np.int64(4), np.int64(2)), ValueError, "increasing order",
             id="out_stages-unsorted-numpy"),
    # Combinations
    row(resnet20, {"out_stages": (1, 2)}, ValueError, "out_stages=(1, 2)",
        "features_only=False", id="out_stages-without-features_only"),
    row(mobilenet, {"features_only": False, "out_stages": (1,)}, ValueError,
        "out_stages=(1,)", "features_only=False", id="mobilenet-out_stages-without-features_only"),
    row(resnet20, {"features_only": True, "pooling": "avg"}, ValueError, "pooling='avg'",
        "features_only=True", id="pooling-avg-with-features_only"),
    row(mobilenet, {"features_only": True, "pooling": "max", "include_top": False},
        ValueError, "pooling='max'", "features_only=True", id="mobilenet-pooling-max"),
]


@pytest.mark.parametrize("builder, kwargs, error, fragments", CONSTRUCTION)
def test_bad_constructor_argument(builder, kwargs, error, fragments):
    assert_rejects(lambda: builder(**kwargs), error, *fragments)


def test_what_is_accepted_and_ignored():
    # A list, NumPy ints, and include_top (either value) with features_only.
    model = resnet20(features_only=True, out_stages=[np.int64(1), 3], include_top=True)
    assert model.out_stages == (1, 3) and all(type(s) is int for s in model.out_stages)
    assert model.include_top is False
    assert resnet20(features_only=True, include_top=False).feature_info[0]["stage"] == 0


# ---------------------------------------------------------------------------
# Calls: one small features_only model, built once.

@pytest.fixture(scope="module")
def model():
    return resnet20(features_only=True, out_stages=(2, 3))


@pytest.mark.parametrize("inputs, error, fragments", [
    (np.zeros((1, 16, 16, 3), "float32"), ValueError, ("resnet20", "1 input channels", "3 channels")),
    (np.zeros((16, 16, 1), "float32"), ValueError, ("resnet20", "rank", "(16, 16, 1)")),
    (None, TypeError, ("resnet20", "None")),
])
def test_bad_call(model, inputs, error, fragments):
    assert_rejects(lambda: model(inputs), error, *fragments)


def test_empty_batch_gives_an_empty_map_per_stage(model):
    outputs = model(model.example_inputs(batch_size=0))
    assert {k: tuple(v.shape) for k, v in outputs.items()} == {
        "stage2": (0, 8, 8, 32), "stage3": (0, 4, 4, 64)}
