"""`.keras`, whole-model `.h5` and `.weights.h5`.

`.keras` and `.weights.h5` are Keras' own. Whole-model `.h5` is the zoo's,
as Keras 3 cannot round-trip a subclassed model through HDF5: a `config`
dataset (the model's serialized JSON) and one dataset per variable under
`weights/` (attribute `path`). Every dataset of both HDF5 formats carries
its SHA-256, checked on load (flipped bytes pass HDF5's own checks); a
file without them loads with a warning. Configs deserialize in safe mode.
"""

import contextlib
import io
import json
import pathlib
import tempfile
import warnings
import zipfile

import h5py
import keras
import numpy as np

from zoo.export import _files, labels

H5_FORMAT = "zoo.h5"
H5_VERSION = 1
CHECKSUM = "sha256"
# Inside Keras' .weights.h5 the zoo's attributes carry a prefix.
_H5_DIGEST, _H5_MARK = "sha256", "checksums"
_WEIGHTS_DIGEST, _WEIGHTS_MARK = "zoo_sha256", "zoo_checksums"
_WEIGHTS_LABELS = "zoo_labels"
_LABELS_DIGEST = f"{_WEIGHTS_LABELS}_{CHECKSUM}"


class _KerasFile:
    """Keras' native `.keras` zip: architecture, weights, assets."""

    @staticmethod
    def save(model, path):
        model.save(path)

    @staticmethod
    def load(path):
        _files.check_regular_file(path, ".keras file")
        if not zipfile.is_zipfile(path):
            raise ValueError(f"{str(path)!r} is not a .keras file (a zip archive); "
                             "it is truncated, corrupt or of another format")
        try:
            return keras.saving.load_model(path, safe_mode=True)
        # TypeError: a crafted config names a class Keras cannot deserialize.
        except (ValueError, TypeError, KeyError, OSError, zipfile.BadZipFile) as error:
            raise ValueError(f"Cannot load {str(path)!r} as a .keras model: {error}") from None

    @staticmethod
    def load_weights(model, path):
        return _keras_load_weights(model, path)


class _H5File:
    """The zoo's whole-model HDF5: config + weights (see the module docstring)."""

    @staticmethod
    def save(model, path):
        config = json.dumps(keras.saving.serialize_keras_object(model))
        with h5py.File(path, "w") as file:
            file.attrs["zoo_format"] = H5_FORMAT
            file.attrs["format_version"] = H5_VERSION
            file.attrs["keras_version"] = keras.__version__
            file.attrs[_H5_MARK] = CHECKSUM
            # A dataset: attributes stop at 64 KiB, and a vocabulary travels in the config.
            config_dataset = file.create_dataset("config", data=np.bytes_(config))
            config_dataset.attrs[_H5_DIGEST] = _files.sha256(config_dataset[()])
            weights = file.create_group("weights")
            for index, variable in enumerate(model.weights):
                value = keras.ops.convert_to_numpy(variable)
                dataset = weights.create_dataset(f"{index:05d}", data=value)
                dataset.attrs["path"] = variable.path
                dataset.attrs[_H5_DIGEST] = _files.sha256(dataset[()])

    @staticmethod
    def load(path):
        config, values = _read_h5(path)
        try:
            model = keras.saving.deserialize_keras_object(config, safe_mode=True)
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f"Cannot load {str(path)!r} as a zoo .h5 model: its config "
                             f"does not deserialize in safe mode ({error})") from None
        return _assign(model, values, path)

    @staticmethod
    def load_weights(model, path):
        with _open_h5(path, "zoo .h5 model") as file:
            is_zoo_h5 = file.attrs.get("zoo_format") == H5_FORMAT
        if not is_zoo_h5:  # a Keras HDF5 weights file named .h5
            return _keras_load_weights(model, path)
        return _assign(model, _read_h5(path)[1], path)


def _read_h5(path):
    """`(config, [(variable path, array), ...])` of a zoo `.h5`, verified."""
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
            entries = [("config", "config", file["config"])]
            weights = file["weights"]
            entries += [(f"weights/{key}", weights[key].attrs["path"], weights[key])
                        for key in sorted(weights)]
            entries = [(*entry, entry[2][()]) for entry in entries]
        except (KeyError, OSError, ValueError) as error:
            raise ValueError(f"{str(path)!r} is a truncated or corrupt zoo .h5 "
                             f"model: {error}") from None
        _verify(path, file.attrs.get(_H5_MARK), _H5_DIGEST, entries,
                f"zoo_format={H5_FORMAT!r}")
    try:
        config = json.loads(entries[0][3].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{str(path)!r} is a corrupt zoo .h5 model: its config is "
                         f"not JSON ({error})") from None
    return config, [(weight, value) for _, weight, _, value in entries[1:]]


class _WeightsFile:
    """Keras' `.weights.h5`: weights only, loaded into a model you build."""

    @staticmethod
    def save(model, path):
        model.save_weights(path)
        with h5py.File(path, "a") as file:
            for _, dataset in _datasets(file):
                dataset.attrs[_WEIGHTS_DIGEST] = _files.sha256(dataset[()])
            file.attrs[_WEIGHTS_MARK] = CHECKSUM
            record = {key: value for key, value in labels.of_model(model).items()
                      if key != "outputs_logits"}  # the config's to say, not the weights'
            if any(value is not None for value in record.values()):
                text = json.dumps(record)
                file.attrs[_WEIGHTS_LABELS] = text
                file.attrs[_LABELS_DIGEST] = _files.sha256(text.encode())

    @staticmethod
    def verify(path):
        """Checks the file's checksums; returns its labels record (or None)."""
        with _open_h5(path, "Keras .weights.h5") as file:
            datasets = _datasets(file)
            signed = [key for key, dataset in datasets if _WEIGHTS_DIGEST in dataset.attrs]
            zoo_written = (f"dataset {signed[0]!r} carries a {_WEIGHTS_DIGEST}" if signed else
                           f"it carries {_WEIGHTS_LABELS}" if _WEIGHTS_LABELS in file.attrs
                           else None)
            _verify(path, file.attrs.get(_WEIGHTS_MARK), _WEIGHTS_DIGEST,
                    [(key, key, dataset, dataset[()]) for key, dataset in datasets],
                    zoo_written)
            return _read_labels(path, file)

    @staticmethod
    def load_weights(model, path):
        record = _WeightsFile.verify(path)  # checked before any weight is touched
        return _keras_load_weights(model, path, record)


def _read_labels(path, file):
    """The file's class names and preprocessing (checked), or None."""
    text = file.attrs.get(_WEIGHTS_LABELS)
    if text is None:
        return None
    text = text.decode() if isinstance(text, bytes) else str(text)
    if file.attrs.get(_LABELS_DIGEST) != _files.sha256(text.encode()):
        raise ValueError(f"{str(path)!r}: its {_WEIGHTS_LABELS} attribute does not match "
                         "the SHA-256 written with it (edited since it was saved)")
    try:
        return labels.from_record(json.loads(text), str(path))
    except ValueError as error:
        raise ValueError(f"{str(path)!r}: its {_WEIGHTS_LABELS} cannot be read ({error})") \
            from None


def _give_labels(model, path, record):
    """The file's class names and preprocessing, to a model that has none."""
    if record is None or not hasattr(model, "class_names"):
        return
    for key in ("class_names", "preprocessing"):
        ours, theirs = getattr(model, key), record[key]
        if ours is None and theirs is not None:
            setattr(model, key, theirs)
        elif theirs is not None and ours != theirs:
            warnings.warn(f"{str(path)!r} was saved with {key}={theirs!r}; {model.name!r} keeps "
                          f"its own, {key}={ours!r}", stacklevel=3)


KERAS, H5, WEIGHTS = _KerasFile, _H5File, _WeightsFile


def _keras_load_weights(model, path, record=None):
    """Keras' `model.load_weights(path)`, its errors naming the weight that differs."""
    _files.check_regular_file(path, "weights file")
    try:
        model.load_weights(path)
    except (ValueError, KeyError, OSError) as error:
        raise ValueError(f"Cannot load weights from {str(path)!r} into {model.name!r}: "
                         f"{_first_difference(model, path) or error}") from None
    _give_labels(model, path, record)
    return model


def _datasets(file):
    """`(name, dataset)` of every dataset in an open HDF5 file, sorted by name."""
    found = []
    file.visititems(lambda name, item: found.append((name, item))
                    if isinstance(item, h5py.Dataset) else None)
    return sorted(found, key=lambda pair: pair[0])


def _verify(path, mark, attribute, entries, zoo_written):
    """Checks each `(dataset name, weight name, dataset, value)` against its digest.

    `zoo_written`: what shows the zoo wrote the file (refused without its
    mark), or None (a plain Keras file: loaded with a warning).
    """
    if mark is None:
        # A zoo file still says so (its format, a dataset's digest, its labels):
        # a deleted mark must not turn the checks off.
        if zoo_written:
            raise ValueError(f"{str(path)!r} was written by the zoo ({zoo_written}) but has "
                             "lost its checksums attribute: it was edited since it was "
                             "saved, and is not loaded unverified")
        warnings.warn(f"{str(path)!r} carries no zoo checksums (written by plain Keras): "
                      "its weights load unverified", stacklevel=4)
        return
    if mark != CHECKSUM:
        raise ValueError(f"{str(path)!r} declares checksums {mark!r}; this zoo verifies "
                         f"{CHECKSUM!r} only")
    for dataset_name, weight, dataset, value in entries:
        stored = dataset.attrs.get(attribute)
        if stored is None:
            raise ValueError(f"{str(path)!r} is corrupt: weight {weight!r} (dataset "
                             f"{dataset_name!r}) lacks the checksum its file declares")
        if _files.sha256(value) != stored:
            raise ValueError(f"{str(path)!r} is corrupt: weight {weight!r} (dataset "
                             f"{dataset_name!r}) does not match the SHA-256 saved with it")


def _first_difference(model, path):
    """The first weight whose shape differs in a Keras file and `model`, or None.

    Keras' message only counts variables: the model's own weights, saved to
    a scratch file, are compared with the file's dataset by dataset.
    """
    try:
        with tempfile.TemporaryDirectory(prefix="zoo-weights-") as scratch:
            own_path = pathlib.Path(scratch) / "model.weights.h5"
            model.save_weights(own_path)
            expected = _file_shapes(own_path)
            found = _file_shapes(path)
    except Exception:  # noqa: BLE001 -- a diagnosis must never hide the real error
        return None
    for name in sorted(set(expected) | set(found)):
        if expected.get(name) != found.get(name):
            in_file, in_model = found.get(name, "absent"), expected.get(name, "absent")
            return f"weight {name!r} is {in_file} in the file and {in_model} in the model"
    return None


def _file_shapes(path):
    """`{dataset name: shape}` of a `.weights.h5`, or of the weights inside a `.keras`."""
    if zipfile.is_zipfile(path):  # a .keras archive
        with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as member:
            path = io.BytesIO(member.read())
    with h5py.File(path, "r") as file:
        return {name: dataset.shape for name, dataset in _datasets(file)}


def _assign(model, values, path):
    """Assigns `(variable path, array)` pairs to `model`'s weights if all fit."""
    variables = model.weights
    why = next((f"weight {name!r} has shape {value.shape} in the file, and the "
                f"model's weight {v.path!r} at its place has shape "
                f"{tuple(v.shape)}" for v, (name, value) in zip(variables, values)
                if tuple(v.shape) != value.shape), None)
    if why is None and len(values) != len(variables):
        why = (f"the file holds {len(values)} weights, the model "
               f"{len(variables)} (another architecture?)")
    if why is not None:
        raise ValueError(
            f"The weights in {str(path)!r} do not fit model {model.name!r}: {why}")
    for variable, (_, value) in zip(variables, values):
        variable.assign(value)
    return model


@contextlib.contextmanager
def _open_h5(path, what):
    """`h5py.File(path, "r")` with errors that name the file and the format."""
    # Checked before h5py opens it: a FIFO would block h5py.File forever.
    _files.check_regular_file(path, f"{what} (HDF5) file")
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(
            f"{str(path)!r} is not a readable {what} (HDF5) file; it is "
            f"truncated, corrupt or of another format ({error})") from None
    with file:
        yield file

