"""Save and load zoo models in every TensorFlow format; nothing else knows formats.

| format | path | keeps | `load` returns |
|---|---|---|---|
| `keras` | `*.keras` | architecture, weights, optimizer-free state, vocabulary | a Keras model |
| `h5` | `*.h5` | architecture (config), weights, vocabulary | a Keras model |
| `weights` | `*.weights.h5` | weights only | use `load_weights(model, path)` |
| `saved_model` | a directory | the serving graph, `serving_default` signature | a `ServingModel` callable |
| `tflite` | `*.tflite` | the inference graph (float, float16 or int8) | a `TFLiteModel` callable |

Every save is atomic: the file (or directory) is written beside the target
under a temporary name and renamed into place, so an interrupted save leaves
the previous file intact. Loading checks the file really is of the format its
name claims and fails with the file and the expected format named.

Example:
>>> import tempfile, pathlib, numpy as np, zoo
>>> model = zoo.create_model("resnet20", num_classes=3, input_shape=(16, 16, 1))
>>> path = zoo.export.save(model, pathlib.Path(tempfile.mkdtemp()) / "m.h5")
>>> again = zoo.export.load(path)
>>> x = model.example_inputs(batch_size=2)
>>> bool(np.allclose(again(x), model(x), atol=1e-5))
True
"""

import pathlib

from zoo.export import _atomic, keras_formats

FORMATS = ("keras", "h5", "weights", "saved_model", "tflite")


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


def format_from_path(path):
    """The format a path names by its suffix; a suffix-less path is a SavedModel dir.

    Raises:
        ValueError: for a suffix no format uses.
    """
    name = pathlib.Path(path).name.lower()
    if name.endswith(".weights.h5"):
        return "weights"
    suffix = pathlib.Path(name).suffix
    by_suffix = {".keras": "keras", ".h5": "h5", ".hdf5": "h5", ".tflite": "tflite"}
    if suffix in by_suffix:
        return by_suffix[suffix]
    if suffix == "" or pathlib.Path(path).is_dir():
        return "saved_model"
    raise ValueError(
        f"Cannot tell the format of path={str(path)!r} from its suffix {suffix!r}: use "
        ".keras, .h5, .weights.h5, .tflite or a directory (SavedModel), or pass "
        f"format= one of {list(FORMATS)}")


def _check_format(format):
    if format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, received format={format!r}")
    return format


def save(model, path, format=None, overwrite=False, **options):
    """Saves `model` to `path` atomically.

    Args:
        model: a built zoo model (or any built Keras model for `keras`,
            `weights`).
        path: str or Path. The target file or directory.
        format: str or None. One of `FORMATS`; None takes it from `path`.
        overwrite: bool. Replace an existing target; without it an existing
            path is a `FileExistsError`.
        **options: format options. `saved_model`: `version` (int: write the
            TensorFlow Serving layout `path/<version>/`). `tflite`:
            `quantization` (None, `"float16"`, `"int8"`),
            `representative_data` (for int8), `sequence_length` (text models).

    Returns:
        The `pathlib.Path` written (for a versioned SavedModel, the version
        directory).

    Raises:
        ValueError: unknown format or suffix, bad options, an unbuilt model.
        FileExistsError: `path` exists and `overwrite` is False.
    """
    format = _check_format(format) if format is not None else format_from_path(path)
    path = pathlib.Path(path)
    _check_built(model, path)
    writer = _handler(format)
    target = writer.target_path(path, **options) if hasattr(writer, "target_path") else path
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"Not saving to {str(target)!r}: it exists; pass overwrite=True to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    with _atomic.replacing(target) as scratch:
        writer.save(model, scratch, **options)
    return target


def load(path, format=None):
    """Loads what `save` wrote; the format comes from the path when not given.

    Returns:
        `keras` and `h5`: the Keras model. `saved_model`: a `ServingModel`
        (call it with the model's natural inputs). `tflite`: a `TFLiteModel`.

    Raises:
        FileNotFoundError: nothing at `path`.
        ValueError: the file is not of the expected format, or is truncated
            or corrupt (the message names the file and the format).
    """
    format = _check_format(format) if format is not None else format_from_path(path)
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No {format} file or directory at {str(path)!r}")
    if format == "weights":
        raise ValueError(
            f"{str(path)!r} holds weights only (no architecture): build the model and "
            "call zoo.export.load_weights(model, path)")
    return _handler(format).load(path)


def load_weights(model, path):
    """Loads weights into `model` from a `.weights.h5`, `.keras` or `.h5` file.

    Raises:
        ValueError: the file does not fit the model (names the file and why).
    """
    return keras_formats.load_weights_into(model, pathlib.Path(path))


def _check_built(model, path):
    if not getattr(model, "built", False) or not model.weights:
        raise ValueError(
            f"Cannot save to {str(path)!r}: the model {getattr(model, 'name', model)!r} "
            "is not built (call it on data or build() it first)")


__all__ = ["FORMATS", "format_from_path", "load", "load_weights", "save"]
