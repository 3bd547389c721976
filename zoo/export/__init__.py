"""Save and load zoo models in every TensorFlow format; nothing else knows formats.

Each format is one `Format` in `zoo.export.formats.FORMATS`, chosen by
`format=` or the path's suffix. `load` returns a Keras model (`.keras`,
`.h5`), a `ServingModel` (a SavedModel directory) or a `TFLiteModel`
(`.tflite`); a `.weights.h5` goes through `load_weights(model, path)`.
Saves are atomic (written beside the target, renamed into place); loads
read regular files only and verify the checksums the zoo wrote.

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

FORMATS = formats.FORMATS


def format_from_path(path):
    """The format a path names by its suffix; a suffix-less path is a SavedModel dir."""
    return formats.from_path(_files.check_path("path", path)).name


def check_save_target(path, format=None, overwrite=False, **options):
    """Checks what `save` checks about the target, writing nothing.

    Returns:
        `(format, target)`: the format name and the `pathlib.Path` to be written.
    """
    path = _files.check_path("path", path)
    overwrite = _validation.boolean("overwrite", overwrite)
    chosen = formats.resolve(path, format)
    target = chosen.target_path(path, **options)
    found = _files.kind(target) if os.path.lexists(target) else None
    if found is not None:
        # First: overwrite=True would not help with a directory where a file goes.
        chosen.check_replaceable(target, found)
        if not overwrite:
            raise FileExistsError(
                f"Not saving to {str(target)!r}: it exists; pass overwrite=True to replace it")
    _files.check_writable_parent(target)
    return chosen.name, target


def save(model, path, format=None, overwrite=False, **options):
    """Saves `model` to `path` atomically; returns the `pathlib.Path` written.

    Args:
        format: str or None. One of `FORMATS`; None takes it from `path`.
        overwrite: bool. Replace an existing target of the same format.
        **options: the format's `options`: `saved_model` takes `version`,
            `tflite` those of `zoo.export.tflite.save`; both take
            `fold_batchnorm` (default True).
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
    """Loads what `save` wrote; the format comes from the path when not given."""
    path = _files.check_path("path", path)
    return formats.resolve(path, format).load(path)


def load_weights(model, path):
    """Loads weights into `model` from a `.weights.h5`, `.keras` or `.h5` file.

    Raises:
        ValueError: the file does not fit the model or is corrupt (names the
            first bad weight).
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
