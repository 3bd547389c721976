"""Save and load zoo models in every TensorFlow format; nothing else knows formats.

| format | path | keeps | `load` returns |
|---|---|---|---|
| `keras` | `*.keras` | architecture, weights, optimizer-free state, vocabulary | a Keras model |
| `h5` | `*.h5` | architecture (config), weights, vocabulary | a Keras model |
| `weights` | `*.weights.h5` | weights only | use `load_weights(model, path)` |
| `saved_model` | a directory | the serving graph, `serving_default` signature, BatchNorm folded | a `ServingModel` callable |
| `tflite` | `*.tflite` | the inference graph (float, float16 or int8), BatchNorm folded | a `TFLiteModel` callable |

SavedModel and TFLite files are inference graphs: each BatchNorm that
follows a convolution is folded into it (`fold_batchnorm=True`, the
default; `zoo.export.fold`), in a copy of the model, never the model given.
The other formats keep the model as it is, to train on.

Every save is atomic: the file (or directory) is written beside the target
under a temporary name and renamed into place, so an interrupted save leaves
the previous file intact (and the next save removes the killed one's
scratch). Loading reads regular files only (no FIFO or device can hang it),
checks the file really is of the format its name claims, verifies the
checksums the zoo wrote (zoo `.h5`, `.weights.h5`, `.tflite`; `.keras` has
its zip CRCs) and fails with the file and the expected format named.

Example:
>>> import tempfile, pathlib, numpy as np, zoo
>>> model = zoo.create_model("resnet20", num_classes=3, input_shape=(16, 16, 1))
>>> path = zoo.export.save(model, pathlib.Path(tempfile.mkdtemp()) / "m.h5")
>>> again = zoo.export.load(path)
>>> x = model.example_inputs(batch_size=2)
>>> bool(np.allclose(again(x), model(x), atol=1e-5))
True
"""

import os
import pathlib

import keras

from zoo import _validation
from zoo.export import _atomic, _files, keras_formats

FORMATS = ("keras", "h5", "weights", "saved_model", "tflite")

_BY_SUFFIX = {".keras": "keras", ".h5": "h5", ".hdf5": "h5", ".tflite": "tflite"}
# Keras itself insists on these suffixes for its own formats.
_REQUIRED_SUFFIX = {"keras": ".keras", "weights": ".weights.h5"}


def _handler(format):
    """The object with `save(model, path, **options)` / `load(path)` for a format."""
    if format == "saved_model":
        # Imported on demand: they pull in parts of TensorFlow (the SavedModel
        # loader, the TFLite converter) that `.keras`/`.h5` users never need.
        from zoo.export import saved_model
        return saved_model
    if format == "tflite":
        from zoo.export import tflite
        return tflite
    return {"keras": keras_formats.KERAS, "h5": keras_formats.H5,
            "weights": keras_formats.WEIGHTS}[format]


def _suffix_format(path):
    """The format a path's suffix names, or None (no suffix, or an unknown one)."""
    name = path.name.lower()
    if name.endswith(".weights.h5"):
        return "weights"
    return _BY_SUFFIX.get(pathlib.Path(name).suffix)


def format_from_path(path):
    """The format a path names by its suffix; a suffix-less path is a SavedModel dir.

    Raises:
        TypeError: `path` is not a str or `os.PathLike`.
        ValueError: an empty path, or a suffix no format uses.
    """
    path = _files.check_path("path", path)
    format = _suffix_format(path)
    if format is not None:
        return format
    suffix = path.suffix
    if suffix == "" or path.is_dir():
        return "saved_model"
    raise ValueError(
        f"Cannot tell the format of path={str(path)!r} from its suffix {suffix!r}: use "
        ".keras, .h5, .weights.h5, .tflite or a directory (SavedModel), or pass "
        f"format= one of {list(FORMATS)}")


def _check_format(format):
    if not isinstance(format, str) or format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, received format={format!r}")
    return format


def _resolve_format(path, format):
    """`format`, or the path's; a `format` its suffix contradicts is an error.

    Saving `x.keras` as HDF5 would write a file that `load("x.keras")`
    rejects, so the suffix and `format` must agree whenever the suffix names
    a format. An unknown suffix is fine with an explicit `format` (load it
    with the same `format=`), except for Keras' own formats, whose suffix
    Keras requires.
    """
    if format is None:
        return format_from_path(path)
    _check_format(format)
    implied = _suffix_format(path)
    if implied is not None and implied != format:
        raise ValueError(
            f"format={format!r} contradicts path={str(path)!r}, whose suffix names format "
            f"{implied!r}: drop format= or change the suffix")
    required = _REQUIRED_SUFFIX.get(format)
    if required is not None and implied != format:
        raise ValueError(f"format={format!r} needs a path ending in {required!r}, received "
                         f"path={str(path)!r}")
    return format


def check_save_target(path, format=None, overwrite=False, **options):
    """Checks everything `save(model, path, ...)` checks about the target, writing nothing.

    Command lines call it on every output path before hours of work.

    Args:
        path, format, overwrite, **options: as for `save`.

    Returns:
        `(format, target)`: the format, and the `pathlib.Path` that will be
        written (for a versioned SavedModel, the version directory).

    Raises:
        TypeError: `path` is not a path, `overwrite` not a bool.
        ValueError: an empty path, unknown or contradicting format, a target
            that is not what the format writes (a directory where a file
            goes, a file or a non-SavedModel directory where a SavedModel
            goes), an unwritable directory.
        FileExistsError: the target exists and `overwrite` is False.
    """
    path = _files.check_path("path", path)
    overwrite = _validation.boolean("overwrite", overwrite)
    format = _resolve_format(path, format)
    writer = _handler(format)
    target = writer.target_path(path, **options) if hasattr(writer, "target_path") else path
    found = _files.kind(target) if os.path.lexists(target) else None
    if found is not None:
        # What is there first: overwrite=True would not help with a directory
        # where a file goes, so the message must not suggest it.
        _check_replaceable(target, format, found)
        if not overwrite:
            raise FileExistsError(
                f"Not saving to {str(target)!r}: it exists; pass overwrite=True to replace it")
    _files.check_writable_parent(target)
    return format, target


def _check_replaceable(target, format, found):
    """Refuses to replace what is not a file (or SavedModel) of the same kind.

    `overwrite=True` means "replace my old model", never "delete whatever
    directory happens to be there".
    """
    if format == "saved_model":
        if found != "directory":
            raise ValueError(
                f"Not saving a SavedModel to {str(target)!r}: it is a {found}, not a "
                "SavedModel directory; remove it yourself or choose another path")
        from zoo.export import saved_model
        if not saved_model.is_replaceable(target):
            raise ValueError(
                f"Not saving a SavedModel to {str(target)!r}: it is a directory but not a "
                "SavedModel (nor version subdirectories of one), and overwrite=True only "
                "replaces a SavedModel; nothing was deleted")
    elif found == "directory":
        raise ValueError(f"Not saving a {format} file to {str(target)!r}: it is a directory; "
                         "overwrite=True replaces files only, nothing was deleted")


def save(model, path, format=None, overwrite=False, **options):
    """Saves `model` to `path` atomically.

    Args:
        model: a built zoo model (or any built Keras model for `keras`,
            `weights`).
        path: str or Path. The target file or directory.
        format: str or None. One of `FORMATS`; None takes it from `path`. A
            format the path's suffix contradicts is an error.
        overwrite: bool. Replace an existing target of the same format;
            without it an existing path is a `FileExistsError`.
        **options: format options. `saved_model`: `version` (int: write the
            TensorFlow Serving layout `path/<version>/`). `tflite`:
            `quantization` (None, `"float16"`, `"int8"`),
            `representative_data` (for int8), `sequence_length` (text models).
            Both: `fold_batchnorm` (bool, default True: export
            `model.folded()`, each BatchNorm folded into its convolution;
            `model` is not changed). `keras`, `h5` and `weights` take none.

    Returns:
        The `pathlib.Path` written (for a versioned SavedModel, the version
        directory).

    Raises:
        TypeError: `model` is not a Keras model, `path` not a path,
            `overwrite` not a bool.
        ValueError: unknown or contradicting format or suffix, bad options,
            an unbuilt model, a target that is not replaceable or writable
            (see `check_save_target`).
        FileExistsError: `path` exists and `overwrite` is False.
    """
    _check_model(model)
    format, target = check_save_target(path, format, overwrite, **options)
    _check_built(model, target)
    writer = _handler(format)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _atomic.replacing(target) as scratch:
        try:
            writer.save(model, scratch, **options)
        except (ValueError, TypeError, OSError) as error:
            # The writer only knows the scratch name; the user knows the target.
            raise _renamed(error, scratch, target) from error
    return target


def _renamed(error, scratch, target):
    """`error` again, its message naming `target` where it named `scratch`."""
    message = str(error).replace(str(scratch), str(target))
    message = message.replace(str(scratch.parent), str(target.parent))
    if message == str(error):
        return error
    try:
        return type(error)(message)
    except Exception:  # noqa: BLE001 -- an exception class with another signature
        return error


def load(path, format=None):
    """Loads what `save` wrote; the format comes from the path when not given.

    Only regular files (a directory for SavedModel) are read: a FIFO, a
    device or a directory named like a file is refused before anything is
    opened. A SavedModel directory that a killed save left aside is put
    back first.

    Returns:
        `keras` and `h5`: the Keras model. `saved_model`: a `ServingModel`
        (call it with the model's natural inputs). `tflite`: a `TFLiteModel`.

    Raises:
        TypeError: `path` is not a str or `os.PathLike`.
        FileNotFoundError: nothing at `path`.
        ValueError: the file is not of the expected format, is truncated or
            corrupt (a checksum mismatch names the first bad weight), or is
            not a regular file (the message names the file and the format).
    """
    path = _files.check_path("path", path)
    format = _resolve_format(path, format)
    if format == "saved_model":
        _atomic.recover(path)
    if not os.path.lexists(path):
        raise FileNotFoundError(f"No {format} file or directory at path={str(path)!r}")
    if format == "weights":
        raise ValueError(
            f"{str(path)!r} holds weights only (no architecture): build the model and "
            "call zoo.export.load_weights(model, path)")
    return _handler(format).load(path)


def load_weights(model, path):
    """Loads weights into `model` from a `.weights.h5`, `.keras` or `.h5` file.

    Checksums written by the zoo are verified first; a file without them
    (written by plain Keras) loads with one warning that the check was
    skipped.

    Raises:
        TypeError: `model` is not a Keras model, `path` not a path.
        FileNotFoundError: nothing at `path`.
        ValueError: the file does not fit the model (names the first weight
            that differs and both shapes), is corrupt (names the first bad
            weight) or is not a regular file.
    """
    _check_model(model)
    path = _files.check_path("path", path)
    format = _suffix_format(path)
    if format not in ("keras", "h5", "weights"):
        raise ValueError(f"load_weights reads .weights.h5, .keras or .h5 files, received "
                         f"path={str(path)!r}")
    return keras_formats.load_weights_into(model, path)


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model (a zoo model), received "
                        f"model={_validation.preview(model, 80)}")


def _check_built(model, path):
    if not getattr(model, "built", False) or not model.weights:
        raise ValueError(
            f"Cannot save to {str(path)!r}: the model {getattr(model, 'name', model)!r} "
            "is not built (call it on data or build() it first)")
    getattr(model, "check_savable", lambda: None)()  # the family contract (ZooModel)


__all__ = ["FORMATS", "check_save_target", "format_from_path", "load", "load_weights",
           "save"]
