"""Bad arguments to `zoo.finetune`: each names the argument and its value,
and a refused call leaves every layer as it was."""

import pytest

import zoo
from helpers import assert_rejects
from zoo import finetune


@pytest.fixture(scope="module")
def model():
    return zoo.create_model("resnet20", num_classes=3, input_shape=(16, 16, 1))


def _yes(layer):
    return "yes"


def _forgot_return(layer):
    layer.name  # noqa: B018 -- returns None, as a forgotten `return` does


ROWS = [
    pytest.param(finetune.freeze, None, {"upto": "stage1"}, TypeError, ("model=None",),
                 id="freeze-model-none"),
    pytest.param(finetune.freeze, "resnet20", {"depth": 1}, TypeError, ("model='resnet20'",),
                 id="freeze-model-str"),
    pytest.param(finetune.unfreeze, None, {}, TypeError, ("model=None",), id="unfreeze-model-none"),
    pytest.param(finetune.top_level_layers, None, {}, TypeError, ("model=None",),
                 id="top_level_layers-model-none"),
    pytest.param(finetune.freeze, "model", {"upto": "stage9"}, ValueError,
                 ("upto='stage9'", "stage3_block3"), id="upto-unknown-stage"),
    pytest.param(finetune.freeze, "model", {"upto": "stage2_block"}, ValueError,
                 ("upto='stage2_block'",), id="upto-partial-name"),
    pytest.param(finetune.freeze, "model", {"upto": ""}, ValueError, ("upto=''",), id="upto-empty"),
    pytest.param(finetune.freeze, "model", {"upto": 3}, TypeError, ("upto=3",), id="upto-int"),
    pytest.param(finetune.freeze, "model", {"upto": b"stage1"}, TypeError, ("upto=b'stage1'",),
                 id="upto-bytes"),
    pytest.param(finetune.freeze, "model", {"names": ["nope"]}, ValueError, ("names=['nope']",),
                 id="names-unknown"),
    pytest.param(finetune.freeze, "model", {"names": ["stem_conv", "nope"]}, ValueError,
                 ("names=['stem_conv', 'nope']", "['nope']"), id="names-one-unknown"),
    pytest.param(finetune.freeze, "model", {"names": []}, ValueError, ("names=[]",), id="names-empty"),
    pytest.param(finetune.freeze, "model", {"names": [""]}, ValueError, ("names=['']",),
                 id="names-empty-name"),
    pytest.param(finetune.freeze, "model", {"names": [3]}, TypeError, ("names=[3]",),
                 id="names-int-element"),
    pytest.param(finetune.freeze, "model", {"names": 3}, TypeError, ("names=3",), id="names-int"),
    pytest.param(finetune.freeze, "model", {"depth": -1}, ValueError, ("depth=-1",), id="depth-negative"),
    pytest.param(finetune.freeze, "model", {"depth": 99}, ValueError, ("depth=99",), id="depth-too-big"),
    pytest.param(finetune.freeze, "model", {"depth": 2.0}, TypeError, ("depth=2.0",), id="depth-float"),
    pytest.param(finetune.freeze, "model", {"depth": float("nan")}, TypeError, ("depth=nan",),
                 id="depth-nan"),
    pytest.param(finetune.freeze, "model", {"depth": True}, TypeError, ("depth=True",), id="depth-bool"),
    pytest.param(finetune.freeze, "model", {"depth": "2"}, TypeError, ("depth='2'",), id="depth-str"),
    pytest.param(finetune.freeze, "model", {"predicate": "stage1"}, TypeError,
                 ("predicate='stage1'",), id="predicate-str"),
    pytest.param(finetune.freeze, "model", {"predicate": _yes}, TypeError,
                 ("predicate=", "_yes", "'yes'"), id="predicate-returns-str"),
    pytest.param(finetune.freeze, "model", {"predicate": _forgot_return}, TypeError,
                 ("predicate=", "returned None"), id="predicate-returns-none"),
    pytest.param(finetune.freeze, "model", {"upto": "stage2", "depth": 3}, ValueError,
                 ("upto='stage2'", "depth=3"), id="two-selectors"),
    pytest.param(finetune.freeze, "model", {}, ValueError, ("upto=None", "depth=None"),
                 id="no-selector"),
    pytest.param(finetune.unfreeze, "model", {"names": ["nope"]}, ValueError, ("names=['nope']",),
                 id="unfreeze-names-unknown"),
    pytest.param(finetune.unfreeze, "model", {"depth": 1.5}, TypeError, ("depth=1.5",),
                 id="unfreeze-depth-float"),
    pytest.param(finetune.unfreeze, "model", {"upto": ""}, ValueError, ("upto=''",),
                 id="unfreeze-upto-empty"),
]


@pytest.mark.parametrize("function, target, kwargs, error, fragments", ROWS)
def test_bad_finetune_argument(model, function, target, kwargs, error, fragments):
    target = model if target == "model" else target
    assert_rejects(lambda: function(target, **kwargs), error, *fragments)
    # Everything is checked before any layer changes.
    assert all(layer.trainable for layer in finetune.top_level_layers(model))
