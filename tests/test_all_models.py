"""Every registered model gets the full battery: a new model is covered the
moment it is registered (DESIGN.md, "Tests")."""

import fnmatch

import pytest

import helpers
import zoo

# Per-family overrides that make a model small; first matching pattern wins,
# families not listed are built with their defaults. 32x32 works for the
# ImageNet ResNets too (their last stage is then 1x1).
SMALL_OVERRIDES = [
    ("resnet*", {"num_classes": 5, "input_shape": (32, 32, 3)}),
    ("text_*", {"num_classes": 5, "max_tokens": 100, "units": 8, "embedding_dim": 8}),
    ("einsum_*", {"num_classes": 5}),
]
# Models whose battery takes more than ~20 s on 2 CPU cores. None so far:
# resnet152 ~8 s, resnet101 ~6 s, resnet110 ~4 s (2-core CPU, TF 2.21).
SLOW_MODELS = set()


def _small_overrides(name):
    for pattern, overrides in SMALL_OVERRIDES:
        if fnmatch.fnmatchcase(name, pattern):
            return dict(overrides)
    return {}


def _registered_params():
    return [
        pytest.param(name, marks=pytest.mark.slow) if name in SLOW_MODELS else name
        for name in zoo.list_models()
    ]


def _build(name, overrides):
    model = zoo.create_model(name, **overrides)
    if hasattr(model, "adapt"):  # models with a vocabulary learn it first
        model.adapt(model.example_inputs(batch_size=8))
    return model


def test_the_registry_holds_every_family():
    names = zoo.list_models()
    assert {"resnet50", "resnet20", "text_rnn"} <= set(names)


@pytest.mark.parametrize("name", _registered_params())
def test_every_registered_model(name):
    overrides = _small_overrides(name)
    model = helpers.run_model_test(
        lambda: _build(name, overrides),
        expected_output_shape=(2, overrides["num_classes"]),
        batch_size=2,
    )
    assert model.name == name
