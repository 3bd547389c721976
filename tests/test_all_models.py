"""Every registered model gets the full battery: a new model is covered the
moment it is registered (DESIGN.md, "Tests")."""

import keras
import pytest

import helpers
import zoo

# Models whose battery takes more than ~20 s on 2 CPU cores, per backend.
# TensorFlow: none so far (resnet152 ~8 s, resnet101 ~6 s, resnet110 ~4 s,
# TF 2.21). JAX runs the forward passes op by op, compiling each op for each
# new shape, and compiles the train step whole: the deepest variants take
# 30-45 s there (the same blocks as resnet50 and resnet56, which stay in).
SLOW_MODELS = {
    "tensorflow": set(),
    "jax": {"resnet101", "resnet110", "resnet152"},
}.get(keras.backend.backend(), set())


def _registered_params():
    return [
        pytest.param(name, marks=pytest.mark.slow) if name in SLOW_MODELS else name
        for name in zoo.list_models()
    ]


def test_the_registry_holds_every_family():
    names = zoo.list_models()
    assert {"resnet50", "resnet20", "text_rnn"} <= set(names)


@pytest.mark.parametrize("name", _registered_params())
def test_every_registered_model(name):
    model = helpers.run_model_test(
        lambda: helpers.small_model(name),
        expected_output_shape=(2, helpers.small_overrides(name)["num_classes"]),
        batch_size=2,
    )
    assert model.name == name
