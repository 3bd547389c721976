"""`.keras`, whole-model `.h5` and `.weights.h5`.

`.keras` and `.weights.h5` are Keras' own formats. Whole-model `.h5` is the
zoo's, because Keras 3 cannot round-trip a subclassed model through HDF5:
`model.save("m.h5")` succeeds, then `load_model` fails with `Unknown layer`
(the legacy format drops the registered package), and with `custom_objects`
with `Layer count mismatch` (TF 2.21 / Keras 3.15). The zoo's `.h5` holds

- attributes `zoo_format="zoo.h5"` and `format_version`,
- dataset `config`: the JSON of `keras.saving.serialize_keras_object(model)`
  (a dataset, not an attribute: HDF5 attributes stop at 64 KiB and a
  text model's vocabulary travels in its config),
- group `weights`: one dataset per variable, in `model.weights` order, with
  the variable's path as attribute `path`.

Loading deserializes the config (registered classes only, as Keras'
`safe_mode`), which builds the model, and assigns every variable by path
after checking that names and shapes match, so a file from another model
fails before any weight is touched.
"""

import json
import zipfile

import h5py
import keras
import numpy as np

H5_FORMAT = "zoo.h5"
H5_VERSION = 1


class _KerasFile:
    """Keras' native `.keras` zip: architecture, weights, assets."""

    @staticmethod
    def save(model, path, **options):
        _no_options("keras", options)
        model.save(path)

    @staticmethod
    def load(path):
        if not zipfile.is_zipfile(path):
            raise ValueError(f"{str(path)!r} is not a .keras file (a zip archive); "
                             "it is truncated, corrupt or of another format")
        try:
            return keras.saving.load_model(path, safe_mode=True)
        except (ValueError, KeyError, OSError, zipfile.BadZipFile) as error:
            raise ValueError(f"Cannot load {str(path)!r} as a .keras model: {error}") from None


class _H5File:
    """The zoo's whole-model HDF5: config + weights (see the module docstring)."""

    @staticmethod
    def save(model, path, **options):
        _no_options("h5", options)
        config = json.dumps(keras.saving.serialize_keras_object(model))
        with h5py.File(path, "w") as file:
            file.attrs["zoo_format"] = H5_FORMAT
            file.attrs["format_version"] = H5_VERSION
            file.attrs["keras_version"] = keras.__version__
            file.create_dataset("config", data=np.bytes_(config))
            weights = file.create_group("weights")
            for index, variable in enumerate(model.weights):
                dataset = weights.create_dataset(
                    f"{index:05d}", data=keras.ops.convert_to_numpy(variable))
                dataset.attrs["path"] = variable.path

    @staticmethod
    def load(path):
        with _open_h5(path, "zoo .h5 model") as file:
            if file.attrs.get("zoo_format") != H5_FORMAT:
                raise ValueError(
                    f"{str(path)!r} is an HDF5 file but not a zoo .h5 model (no "
                    f"zoo_format={H5_FORMAT!r} attribute); a Keras .weights.h5 file "
                    "loads with zoo.export.load_weights(model, path)")
            version = int(file.attrs.get("format_version", 0))
            if version > H5_VERSION:
                raise ValueError(f"{str(path)!r} has format_version={version}; this zoo "
                                 f"reads up to {H5_VERSION}")
            try:
                config = json.loads(file["config"][()].decode("utf-8"))
                values = [(file["weights"][key].attrs["path"], file["weights"][key][()])
                          for key in sorted(file["weights"])]
            except (KeyError, OSError, ValueError) as error:
                raise ValueError(f"{str(path)!r} is a truncated or corrupt zoo .h5 "
                                 f"model: {error}") from None
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
        _assign(model, values, path)
        return model


class _WeightsFile:
    """Keras' `.weights.h5`: weights only, loaded into a model you build."""

    @staticmethod
    def save(model, path, **options):
        _no_options("weights", options)
        model.save_weights(path)


KERAS, H5, WEIGHTS = _KerasFile, _H5File, _WeightsFile


def load_weights_into(model, path):
    """Loads weights from `.weights.h5`, `.keras` or a zoo `.h5` into `model`."""
    name = path.name.lower()
    if not path.exists():
        raise FileNotFoundError(f"No weights file at {str(path)!r}")
    if name.endswith(".h5") and not name.endswith(".weights.h5"):
        with _open_h5(path, "zoo .h5 model") as file:
            is_zoo_h5 = file.attrs.get("zoo_format") == H5_FORMAT
        if is_zoo_h5:
            source = _H5File.load(path)
            _assign(model, [(v.path, keras.ops.convert_to_numpy(v)) for v in source.weights],
                    path)
            return model
    if name.endswith(".weights.h5"):
        with _open_h5(path, "Keras .weights.h5"):
            pass
    try:
        model.load_weights(path)
    except (ValueError, KeyError, OSError) as error:
        raise ValueError(f"Cannot load weights from {str(path)!r} into "
                         f"{model.name!r}: {error}") from None
    return model


def _assign(model, values, path):
    """Assigns `(variable path, array)` pairs after checking they all fit."""
    variables = model.weights
    expected = [(v.path, tuple(v.shape)) for v in variables]
    found = [(p, tuple(a.shape)) for p, a in values]
    if [s for _, s in expected] != [s for _, s in found]:
        mismatch = next(((e, f) for e, f in zip(expected, found) if e[1] != f[1]),
                        (f"{len(expected)} variables", f"{len(found)} variables"))
        raise ValueError(
            f"The weights in {str(path)!r} do not fit model {model.name!r}: expected "
            f"{mismatch[0]}, found {mismatch[1]}")
    for variable, (_, value) in zip(variables, values):
        variable.assign(value)


class _open_h5:
    """`h5py.File(path, "r")` with errors that name the file and the format."""

    def __init__(self, path, what):
        self.path, self.what = path, what

    def __enter__(self):
        try:
            self.file = h5py.File(self.path, "r")
        except OSError as error:
            raise ValueError(
                f"{str(self.path)!r} is not a readable {self.what} (HDF5) file; it is "
                f"truncated, corrupt or of another format ({error})") from None
        return self.file

    def __exit__(self, *exc):
        self.file.close()


def _no_options(format, options):
    if options:
        raise ValueError(f"format {format!r} takes no options, received {sorted(options)}")
