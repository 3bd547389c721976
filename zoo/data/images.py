"""The one preprocessing of image files, shared by every path that reads them.

Folder datasets, `from_image_folder` and prediction all use `decode_image`:
decode (PNG, JPEG, GIF's first frame, BMP) to uint8, scale to float32 [0, 1],
resize bilinearly. `preprocessing()` is its JSON-able description, stored
with trained models. A file that fails inside `tf.data` names no file, so
loaders call `check_image_files` first: a `ValueError` names the bad file.

Example:

>>> import tensorflow as tf
>>> png = tf.io.encode_png(tf.fill([4, 6, 3], tf.constant(255, tf.uint8)))
>>> image = decode_image(png, 8, channels=3)
>>> tuple(image.shape), image.dtype.name, float(image.numpy().min())
((8, 8, 3), 'float32', 1.0)
>>> preprocessing(32, 3)  # doctest: +NORMALIZE_WHITESPACE
{'image_size': [32, 32], 'channels': 3, 'interpolation': 'bilinear',
 'scale': 0.00392156862745098, 'offset': 0.0, 'channel_order': 'RGB'}
"""

import os
import re

import numpy as np
import tensorflow as tf

from zoo import _validation

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
CHANNEL_ORDERS = {1: "L", 3: "RGB", 4: "RGBA"}  # PIL's mode names

__all__ = ["CHANNEL_ORDERS", "IMAGE_EXTENSIONS", "check_image_files",
           "decode_image", "find_image_files", "load_image_files", "preprocessing"]


def check_image_size(image_size):
    """`(height, width)` from an int or a pair of positive ints, else ValueError."""
    size = (image_size, image_size) if _validation.is_int(image_size) else image_size
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(_validation.is_int(s) and s >= 1 for s in size)):
        raise ValueError(
            "image_size must be a positive int or a (height, width) pair of "
            f"them, received image_size={image_size!r}")
    return tuple(int(s) for s in size)


def check_channels(channels):
    """`channels` as an int if it is 1, 3 or 4, else ValueError."""
    # is_int first: `in` on an array would raise its own error.
    if not _validation.is_int(channels) or channels not in CHANNEL_ORDERS:
        raise ValueError(f"channels must be 1, 3 or 4, received channels={channels!r}")
    return int(channels)


def _decode_uint8(contents, channels):
    return tf.io.decode_image(contents, channels=channels, expand_animations=False,
                              dtype=tf.uint8)


def decode_image(contents, image_size, channels=3):
    """Encoded image bytes (scalar string) -> float32 `(height, width, channels)` in [0, 1].

    Pure TensorFlow ops, for `tf.data.Dataset.map`; decoding converts
    channels (RGB to grey, grey to RGB).
    """
    image = tf.cast(_decode_uint8(contents, channels), tf.float32) / 255.0
    image = tf.image.resize(image, check_image_size(image_size), method="bilinear")
    return tf.clip_by_value(image, 0.0, 1.0)  # float rounding only


def preprocessing(image_size, channels):
    """The JSON-able description of `decode_image(_, image_size, channels)`.

    `input = decoded_uint8 * scale + offset`, resized with `interpolation`;
    `channel_order` is the PIL mode of the decoded channels.
    """
    height, width = check_image_size(image_size)
    channels = check_channels(channels)
    return {"image_size": [height, width], "channels": channels,
            "interpolation": "bilinear", "scale": 1 / 255, "offset": 0.0,
            "channel_order": CHANNEL_ORDERS[channels]}


def find_image_files(directory):
    """The image files under `directory`, recursively, by suffix (any case), sorted."""
    return sorted(os.path.join(root, filename)
                  for root, _, filenames in tf.io.gfile.walk(directory)
                  for filename in filenames if filename.lower().endswith(IMAGE_EXTENSIONS))


def _check_paths(paths):
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise ValueError("paths must be a sequence of file paths, not one "
                         f"path, received paths={paths!r}")
    try:
        return [_validation.path("paths", p) for p in paths]
    except TypeError:  # not iterable (ArgumentTypeError is a ValueError)
        raise ValueError("paths must be a sequence of file paths, received "
                         f"paths={_validation.preview(paths)}") from None


def _decode_error(path, channels):
    """Why `path` cannot be read and decoded, or None when it can."""
    try:
        _decode_uint8(tf.io.read_file(path), channels)
    except (tf.errors.OpError, ValueError) as error:
        message = getattr(error, "message", None) or str(error)
        # Strip TensorFlow's wrapping: "{{function_node ...}} words [Op:DecodeImage] name:".
        message = re.sub(r"\{\{function_node [^}]*\}\}", "", message)
        message = re.sub(r"\s*\[Op:\w+\].*$", "", message.strip(), flags=re.S)
        return message.strip().splitlines()[0] if message.strip() else type(error).__name__
    return None


def _bad_file_error(path, reason):
    return ValueError(f"image file {path!r} cannot be read as an image "
                      f"(PNG, JPEG, GIF or BMP): {reason}")


def load_image_files(paths, image_size, channels=3):
    """Image files as float32 `(n, height, width, channels)` in [0, 1], as for training.

    Raises:
        ValueError: for a bad argument, or a file that cannot be decoded (named).
    """
    paths = _check_paths(paths)
    size = check_image_size(image_size)
    channels = check_channels(channels)
    pixels = []
    for path in paths:  # decoded once: a failure is explained after the fact
        try:
            pixels.append(decode_image(tf.io.read_file(path), size, channels).numpy())
        except (tf.errors.OpError, ValueError):
            raise _bad_file_error(path, _decode_error(path, channels)) from None
    if not pixels:
        return np.zeros((0, *size, channels), np.float32)
    return np.stack(pixels)


# (path, size, mtime_ns, channels) of files that decoded: the train CLI loads
# a dataset's splits several times.
_CHECKED = set()


def _stamp(path, channels):
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (path, stat.st_size, stat.st_mtime_ns, channels)


def check_image_files(paths, channels=3):
    """Decodes each file (in parallel) unless checked, unchanged; a ValueError names a bad one."""
    stamps = {path: _stamp(path, channels) for path in paths}
    todo = [p for p in paths if stamps[p] is None or stamps[p] not in _CHECKED]
    if not todo:
        return
    # ignore_errors drops the files that fail: only those are decoded again,
    # eagerly, for the reason.
    ds = tf.data.Dataset.from_tensor_slices(todo).map(
        lambda path: (path, tf.shape(_decode_uint8(tf.io.read_file(path), channels))),
        num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
    good = {path.decode() for path, _ in ds.as_numpy_iterator()}
    for path in todo:
        if path not in good:
            raise _bad_file_error(path, _decode_error(path, channels)
                                  or "it failed in tf.data")
        if stamps[path] is not None:
            _CHECKED.add(stamps[path])
