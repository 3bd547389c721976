"""Save and load zoo models in every TensorFlow format; nothing else knows formats.

Each format is one `Format` object registered in `zoo.export.formats`
(`FORMATS`: name -> `Format`); `save`, `load` and `load_weights` look the
format up there, by `format=` or by the path's suffix:

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

import keras

from zoo import _validation
from zoo.export import _atomic, _files, formats

# The registry (`zoo.export.formats`): format name -> `Format`.
FORMATS = formats.FORMATS


def format_from_path(path):
    """The format a path names by its suffix; a suffix-less path is a SavedModel dir.

    Raises:
        TypeError: `path` is not a str or `os.PathLike`.
        ValueError: an empty path, or a suffix no format uses.
    """
    return formats.from_path(_files.check_path("path", path)).name


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
    chosen = formats.resolve(path, format)
    target = chosen.target_path(path, **options)
    found = _files.kind(target) if os.path.lexists(target) else None
    if found is not None:
        # What is there first: overwrite=True would not help with a directory
        # where a file goes, so the message must not suggest it.
        chosen.check_replaceable(target, found)
        if not overwrite:
            raise FileExistsError(
                f"Not saving to {str(target)!r}: it exists; pass overwrite=True to replace it")
    _files.check_writable_parent(target)
    return chosen.name, target


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
        **options: the format's options (`FORMATS[format].options`).
            `saved_model`: `version` (int: write the TensorFlow Serving
            layout `path/<version>/`). `tflite`: `quantization` (None,
            `"float16"`, `"int8"`), `representative_data` (for int8),
            `sequence_length` (text models), ... (`zoo.export.tflite.save`).
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
    target.parent.mkdir(parents=True, exist_ok=True)
    with _atomic.replacing(target) as scratch:
        try:
            FORMATS[format].save(model, scratch, **options)
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
    return formats.resolve(path, format).load(path)


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
    found = formats.from_suffix(path)
    if found is None or not found.reloads_model:
        readable = formats.describe(formats.of_kind(formats.MODEL, formats.WEIGHTS))
        raise ValueError(f"load_weights reads {readable} files, received path={str(path)!r}")
    return found.load_weights(model, path)


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
