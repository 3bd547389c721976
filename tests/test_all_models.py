"""Every registered model gets the full battery: a new model is covered the
moment it is registered (DESIGN.md, "Tests")."""

import pytest

import helpers
import zoo

# Models whose battery takes more than ~20 s on 2 CPU cores. None so far:
# resnet152 ~8 s, resnet101 ~6 s, resnet110 ~4 s (2-core CPU, TF 2.21).
SLOW_MODELS = set()


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
