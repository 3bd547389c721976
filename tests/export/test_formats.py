"""The format registry (`zoo.export.formats`): everything that knows formats reads it.

Every registered format saves and loads every registered model in a fresh
process in `test_every_model.py` (`helpers.EXPORT_TARGETS` is the registry);
here, the registry's own rules, and a toy format registered in a test to
show that one `register` call is all a new format needs.
"""

import numpy as np
import pytest
from absl import flags

import helpers
import zoo
import zoo.export
from zoo.export import __main__ as export_cli
from zoo.export import formats


def test_every_format_is_exported_by_the_round_trip_tests():
    assert set(helpers.EXPORT_TARGETS) == set(formats.FORMATS) == set(zoo.export.FORMATS)
    for name, target in helpers.EXPORT_TARGETS.items():
        assert zoo.export.format_from_path(target) == name


@pytest.mark.parametrize("name", list(formats.FORMATS))
def test_each_suffix_names_its_format(name):
    format = formats.FORMATS[name]
    for suffix in format.suffixes:
        assert formats.from_path(f"dir/Model{suffix.upper()}") is format
        assert formats.resolve(f"m{suffix}", name) is format
    assert format.folds_batchnorm == (format.kind == formats.INFERENCE)


def test_clashing_registrations_are_refused():
    keras_format = formats.FORMATS["keras"]
    for clash in (keras_format,
                  formats.Format("other", "Other", (".keras",), formats.MODEL, object()),
                  formats.Format("other", "Other", (), formats.INFERENCE, object())):
        with pytest.raises(ValueError, match="clashes"):
            formats.register(clash)
    with pytest.raises(ValueError, match="kind"):
        formats.register(formats.Format("other", "Other", (".o",), "pickle", object()))
    assert formats.FORMATS["keras"] is keras_format


class _NpzWeights:
    """A toy format: the weights as a NumPy `.npz`, in `model.weights` order."""

    @staticmethod
    def save(model, path):
        np.savez(path, *[np.asarray(w) for w in model.weights])

    @staticmethod
    def load_weights(model, path):
        with np.load(path) as arrays:
            for index, variable in enumerate(model.weights):
                variable.assign(arrays[f"arr_{index}"])
        return model


@pytest.fixture
def npz_format():
    format = formats.register(
        formats.Format("npz", "NumPy weights", (".npz",), formats.WEIGHTS, _NpzWeights))
    yield format
    del formats.FORMATS["npz"]


def test_a_registered_format_is_known_everywhere(npz_format, tmp_path):
    model = helpers.small_model("einsum_mlp")
    path = zoo.export.save(model, tmp_path / "m.npz")
    assert zoo.export.format_from_path(path) == "npz"
    twin = helpers.small_model("einsum_mlp", seed=1)
    x = model.example_inputs(batch_size=2)
    zoo.export.load_weights(twin, path)
    np.testing.assert_allclose(helpers.to_numpy(twin(x)), helpers.to_numpy(model(x)))
    helpers.assert_rejects(lambda: zoo.export.load(path), ValueError, "load_weights")
    helpers.assert_rejects(lambda: zoo.export.save(model, tmp_path / "q.npz", version=1),
                           ValueError, "format 'npz' takes no options")
    helpers.assert_rejects(lambda: zoo.export.save(model, tmp_path / "m.zip"), ValueError,
                           ".npz", "'npz'")
    flag_values = flags.FlagValues()
    export_cli.define_flags(flag_values)
    assert "npz" in flag_values["format"].parser.enum_values
    assert ".npz" in flag_values["out"].help and ".npz" in flag_values["weights"].help
