"""Every registered model gets the full battery: a new model is covered the
moment it is registered (DESIGN.md, "Tests")."""

import keras
import pytest

import helpers
import zoo

# Models whose battery takes more than ~20 s on 2 CPU cores, per backend: the
# family's record names them (`slow_tests`), or counts more parameters than this.
# JAX runs the forward passes op by op, compiling each op for each new shape.
SLOW_KIND = {"tensorflow": "battery"}.get(keras.backend.backend(), "battery_jax")
SLOW_PARAMS = {"tensorflow": 60_000_000}.get(keras.backend.backend(), 40_000_000)


def _registered_params():
    return [
        pytest.param(name, marks=pytest.mark.slow)
        if helpers.is_slow(name, SLOW_KIND, SLOW_PARAMS) else name
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


def _image_family_params():
    """Each image family's benchmarked models (`helpers.family_representatives`)."""
    from zoo.models._image import ImageClassifier
    return [name for name in helpers.family_representatives()
            if issubclass(zoo.registry.model_family(name), ImageClassifier)]


@pytest.mark.parametrize("name", _image_family_params())
def test_every_image_model_returns_the_feature_maps_its_feature_info_lists(name):
    overrides = {key: value for key, value in helpers.small_overrides(name).items()
                 if key != "num_classes"}
    model = zoo.create_model(name, features_only=True, **overrides)
    rows = model.feature_info
    assert [row["stage"] for row in rows] == sorted({row["stage"] for row in rows}), rows
    x = model.example_inputs(batch_size=1)
    maps = model(x)
    assert list(maps) == [row["name"] for row in rows]
    channels_last = model.data_format == "channels_last"
    size = x.shape[1] if channels_last else x.shape[2]
    for row in rows:
        shape = tuple(maps[row["name"]].shape)
        channels, height = (shape[3], shape[1]) if channels_last else (shape[1], shape[2])
        assert channels == row["channels"], (row, shape)
        assert height == -(-size // row["reduction"]), (row, shape)
    # Only the last stage asked for is computed: asking for the first
    # builds no layer after it.
    first = zoo.create_model(name, features_only=True, out_stages=(rows[0]["stage"],),
                             **overrides)
    assert first.count_params() < model.count_params()
    assert list(first(x)) == [rows[0]["name"]]
