"""Name the classes of new inputs: `zoo.predict.predict(model, inputs, top=k)`.

A model trained by `zoo.train` keeps its class names and image
preprocessing in every format that loads as a model; `predict` reads image
files with that preprocessing. `python -m zoo.predict` is its command line.

Example:
>>> import numpy as np, zoo, zoo.predict
>>> model = zoo.create_model("resnet20", num_classes=3, input_shape=(8, 8, 1),
...                          class_names=["cat", "dog", "owl"])
>>> [top] = zoo.predict.predict(model, np.zeros((1, 8, 8, 1), "float32"), top=2)
>>> [p.name for p in top] == [model.class_names[p.index] for p in top]
True
>>> 0.0 <= top[1].score <= top[0].score <= 1.0
True
"""

import collections
import os
import pathlib

import numpy as np

from zoo import _validation, models

__all__ = ["Prediction", "decode_predictions", "image_files", "is_text_model", "load_model",
           "predict", "scores_to_predictions"]


def _images():
    # zoo.data.images reads image files with TensorFlow: imported only for them, so that
    # `import zoo` (and `zoo.decode_predictions`) loads no TensorFlow on another backend.
    from zoo.data import images
    return images


Prediction = collections.namedtuple("Prediction", ["name", "score", "index"])
Prediction.__doc__ = "One class of one input: its name (else `str(index)`), probability, index."

# In a training run's --model_dir: the model kept at its best validation metric.
RUN_MODEL_FILE = "best.keras"


def load_model(model):
    """`model` itself, or the model saved at a path (a training run's: its `best.keras`)."""
    if not isinstance(model, (str, os.PathLike)):
        if not callable(model):
            raise ValueError(f"model must be a model or the path of a saved one, received "
                             f"model={_validation.preview(model)}")
        return model
    import zoo.export
    from zoo.export import formats

    given = os.fspath(model)
    path = pathlib.Path(os.path.expanduser(given))
    if path.is_dir() and (path / RUN_MODEL_FILE).is_file():
        path = path / RUN_MODEL_FILE
    elif path.is_dir() and (path / "checkpoint").is_file():
        raise ValueError(
            f"model={given!r} is a training run without {RUN_MODEL_FILE} (trained "
            f"with --nosave_best or --novalidate?): pass one of its --export files, or "
            f"export it with --init_from={given}")
    if not path.exists():
        raise ValueError(f"model={given!r} does not exist")
    try:
        loaded = zoo.export.load(path)
    except (ValueError, FileNotFoundError) as error:
        raise ValueError(f"model={given!r}: {error}") from None
    if not callable(loaded):
        loadable = formats.of_kind(formats.MODEL, formats.INFERENCE)
        raise ValueError(f"model={given!r} holds weights only; pass a whole model "
                         f"({formats.describe(loadable)})")
    return loaded


def is_text_model(model):
    """True for a model that takes texts (a Keras model, `ServingModel` or `TFLiteModel`)."""
    if getattr(model, "modality", None) is not None:
        return model.modality == "text"
    spec = getattr(model, "input_spec", None)  # a SavedModel's
    if spec is not None and getattr(spec, "dtype", None) is not None:
        return getattr(spec.dtype, "name", str(spec.dtype)) == "string"
    return getattr(model, "vocabulary", None) is not None  # a text .tflite


def _image_preprocessing(model):
    """The model's preprocessing, or the zoo's default for its input shape."""
    if getattr(model, "preprocessing", None):
        return model.preprocessing
    shape = None
    if hasattr(model, "input_signature"):
        shape = tuple(model.input_signature.shape[1:])
    elif hasattr(model, "input_spec") and hasattr(model.input_spec, "shape"):
        shape = tuple(model.input_spec.shape[1:])
    elif hasattr(model, "metadata") and model.metadata:
        shape = tuple(model.metadata["input"]["shape"][1:])
    if not shape or len(shape) != 3 or None in shape[:2] or shape[2] not in (1, 3, 4):
        raise ValueError(
            f"the model records no preprocessing and its input shape {shape} does not say "
            "what size to read image files at; pass the images as a preprocessed array")
    # The zoo's convention for image inputs, which zoo.train's data follows.
    return _images().preprocessing(shape[:2], shape[2])


def image_files(inputs):
    """The image files a path or list of paths names, in order (directories searched, sorted)."""
    paths = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    suffixes = f"({', '.join(_images().IMAGE_EXTENSIONS)})"
    files = []
    for given in map(os.fspath, paths):
        path = os.path.expanduser(given)
        if not os.path.exists(path):
            raise ValueError(f"inputs: {given!r} does not exist")
        if os.path.isdir(path):
            found = _images().find_image_files(path)
            if not found:
                raise ValueError(f"inputs: directory {given!r} holds no image "
                                 f"files {suffixes}")
            files += found
        elif path.lower().endswith(_images().IMAGE_EXTENSIONS):
            files.append(path)
        else:
            raise ValueError(f"inputs: {given!r} is not an image file by its "
                             f"suffix {suffixes}")
    return files


def _preprocessed_images(model, files):
    """Reads `files` as the model's training data was read."""
    spec = _image_preprocessing(model)
    size, channels = spec["image_size"], spec["channels"]
    pixels = _images().load_image_files(files, size, channels)
    scale, offset = spec.get("scale", 1 / 255), spec.get("offset", 0.0)
    if not (np.isclose(scale, 1 / 255, rtol=0, atol=1e-12) and offset == 0.0):
        # load_image_files yields pixels / 255; anything else is rescaled from there.
        pixels = (pixels * 255.0 * scale + offset).astype(np.float32)
    return pixels


def _scores(outputs, logits):
    outputs = np.asarray(outputs, dtype=np.float64)
    if logits is None:
        # A plain Keras model does not say: rows that are distributions are taken as one.
        logits = not (np.all(outputs >= 0) and np.allclose(outputs.sum(-1), 1, atol=1e-3))
    if not logits:
        return outputs
    exp = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def scores_to_predictions(scores, class_names=None, top=5):
    """The `top` classes of each row of `scores`, best first, named.

    Example:
    >>> scores_to_predictions([[0.1, 0.7, 0.2]], ["cat", "dog", "owl"], top=2)
    [[Prediction(name='dog', score=0.7, index=1), Prediction(name='owl', score=0.2, index=2)]]
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (inputs, classes), received shape {scores.shape}")
    top = min(_validation.positive_int("top", top), scores.shape[1])
    names = list(class_names or [])
    orders = np.argsort(-scores, axis=-1, kind="stable")[:, :top]
    return [[Prediction(names[i] if i < len(names) else str(int(i)),
                        float(row[i]), int(i)) for i in order]
            for row, order in zip(scores, orders)]


def decode_predictions(outputs, top=5, class_names=None, from_logits=None):
    """The `top` classes of each row of a classifier's `outputs`, named, best first.

    keras.applications' `decode_predictions` for any model: `class_names`
    defaults to the model's (pass `model.class_names`), else ImageNet-1k's
    for 1,000 columns, else the class indices as names. Logits become
    probabilities (softmax); `from_logits=None` takes rows that are
    distributions as probabilities, anything else as logits.

    Example:
    >>> import numpy as np
    >>> logits = np.zeros((1, 1000), "float32")
    >>> logits[0, [1, 2]] = [9.0, 8.0]
    >>> [(p.name, p.index) for p in decode_predictions(logits, top=2)[0]]
    [('goldfish', 1), ('great_white_shark', 2)]
    """
    outputs = np.asarray(outputs)
    if outputs.ndim != 2 or not outputs.shape[1]:
        raise ValueError("outputs must be 2-D (inputs, classes), received an array of shape "
                         f"{outputs.shape}")
    if class_names is None and outputs.shape[1] == len(models.imagenet_class_names()):
        class_names = models.imagenet_class_names()
    names = _validation.class_names(class_names)
    if names is not None and len(names) != outputs.shape[1]:
        raise ValueError(f"class_names names {len(names)} classes for outputs of "
                         f"{outputs.shape[1]}: received class_names={_validation.preview(names)}")
    if from_logits is not None:
        from_logits = _validation.boolean("from_logits", from_logits)
    return scores_to_predictions(_scores(outputs, from_logits), names, top)


def predict(model, inputs, top=5, batch_size=32):
    """The `top` classes of each input, by name, with their probabilities.

    Args:
        model: a model, or a path for `load_model`.
        inputs: image files or directories, or a preprocessed array (batch
            first); for a text model, a string or a list of strings.

    Returns:
        One list of `Prediction`s per input, best first.
    """
    _validation.positive_int("top", top)
    _validation.positive_int("batch_size", batch_size)
    model = load_model(model)
    if getattr(model, "features_only", False) or getattr(model, "include_top", True) is False:
        raise ValueError(f"model {getattr(model, 'name', model)!r} has no classifier "
                         "(features_only or include_top=False): nothing to name")
    if is_text_model(model):
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError("inputs of a text model must be a string or a list of strings, "
                             f"received inputs={_validation.preview(inputs)}")
        batch = np.asarray(texts, dtype=object)
    elif isinstance(inputs, np.ndarray):
        batch = inputs
    else:
        batch = _preprocessed_images(model, image_files(inputs))
    import keras

    outputs = []
    for start in range(0, len(batch), batch_size):
        chunk = batch[start:start + batch_size]
        result = model(chunk, training=False) if isinstance(model, keras.Model) else model(chunk)
        outputs.append(np.asarray(result))
    if not outputs:
        return []
    scores = _scores(np.concatenate(outputs), getattr(model, "outputs_logits", None))
    return scores_to_predictions(scores, getattr(model, "class_names", None), top)

