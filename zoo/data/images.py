"""The one preprocessing of image files, shared by every path that reads them.

`from_image_folder`, the `"folder:PATH"` datasets of `zoo.data.load` and
prediction on files all turn a file into a model input the same way,
`decode_image`: decode (PNG, JPEG, GIF's first frame, BMP) to uint8 with
`channels` channels, scale to float32 [0, 1] (x / 255), resize bilinearly
to `image_size`, clip to [0, 1]. `preprocessing(image_size, channels)` is
the JSON-able description of exactly that, stored with trained models;
`load_image_files(paths, image_size, channels)` applies it to files, in
NumPy, for prediction.

A file that cannot be read or decoded fails inside `tf.data` with an
`InvalidArgumentError` that names no file, at training time. So the loaders
check their files first, `check_image_files(paths)`: one parallel decoding
pass, then a `ValueError` naming the first bad file.

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
    size = (image_size, image_size) if _validation.is_int(image_size) else (
        image_size)
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(_validation.is_int(s) and s >= 1 for s in size)):
        raise ValueError(
            "image_size must be a positive int or a (height, width) pair of "
            f"them, received image_size={image_size!r}")
    return tuple(int(s) for s in size)


def check_channels(channels):
    """`channels` as an int if it is 1, 3 or 4, else ValueError."""
    # is_int first: `channels in (...)` on an array would raise its own error.
    if not _validation.is_int(channels) or channels not in CHANNEL_ORDERS:
        raise ValueError(
            f"channels must be 1, 3 or 4, received channels={channels!r}")
    return int(channels)


def decode_image(contents, image_size, channels=3):
    """Encoded image bytes -> float32 `(height, width, channels)` in [0, 1].

    Pure TensorFlow ops, so it runs inside `tf.data.Dataset.map`. Arguments
    are assumed checked (`check_image_size`, `check_channels`).

    Args:
        contents: scalar `tf.string`, the bytes of a PNG, JPEG, GIF (first
            frame) or BMP file.
        image_size: int or (height, width). Size of the output.
        channels: 1, 3 or 4. Decoding converts (RGB to grey, grey to RGB).

    Returns:
        float32 tensor `(height, width, channels)`, values in [0, 1].
    """
    size = check_image_size(image_size)
    image = tf.io.decode_image(contents, channels=channels,
                               expand_animations=False, dtype=tf.uint8)
    image = tf.cast(image, tf.float32) / 255.0
    image = tf.image.resize(image, size, method="bilinear")
    # Bilinear weights are convex: this only guards float rounding.
    return tf.clip_by_value(image, 0.0, 1.0)


def preprocessing(image_size, channels):
    """The JSON-able description of `decode_image(_, image_size, channels)`.

    `input = decoded_uint8 * scale + offset`, resized with `interpolation`
    to `image_size` (height, width); `channel_order` is the PIL mode of the
    decoded channels. `load_image_files(paths, image_size=d["image_size"],
    channels=d["channels"])` applies it.

    Args:
        image_size: int or (height, width).
        channels: 1, 3 or 4.

    Returns:
        dict with `image_size` ([height, width]), `channels`,
        `interpolation`, `scale`, `offset` and `channel_order`.
    """
    height, width = check_image_size(image_size)
    channels = check_channels(channels)
    return {"image_size": [height, width], "channels": channels,
            "interpolation": "bilinear", "scale": 1 / 255, "offset": 0.0,
            "channel_order": CHANNEL_ORDERS[channels]}


def find_image_files(directory):
    """The image files under `directory`, recursively, by suffix (any case), sorted.

    The one search of every path that takes a folder of images: the
    folder datasets (per class), `zoo.predict` and the export CLI's
    calibration data. An empty list when there are none.
    """
    return sorted(os.path.join(root, filename)
                  for root, _, filenames in tf.io.gfile.walk(directory)
                  for filename in filenames if filename.lower().endswith(IMAGE_EXTENSIONS))


def _check_paths(paths):
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise ValueError("paths must be a sequence of file paths, not one "
                         f"path, received paths={paths!r}")
    try:
        checked = [_validation.path("paths", p) for p in paths]
    except TypeError:  # not iterable (ArgumentTypeError is a ValueError)
        raise ValueError("paths must be a sequence of file paths, received "
                         f"paths={_validation.preview(paths)}") from None
    return checked


def _decode_error(path, channels):
    """Why `path` cannot be read and decoded, or None when it can."""
    try:
        contents = tf.io.read_file(path)
        tf.io.decode_image(contents, channels=channels,
                           expand_animations=False, dtype=tf.uint8)
    except (tf.errors.OpError, ValueError) as error:
        message = getattr(error, "message", None) or str(error)
        # TensorFlow wraps the op's words: "{{function_node ...}} words
        # [Op:DecodeImage] name:".
        message = re.sub(r"\{\{function_node [^}]*\}\}", "", message)
        message = re.sub(r"\s*\[Op:\w+\].*$", "", message.strip(), flags=re.S)
        return message.strip().splitlines()[0] if message.strip() else type(error).__name__
    return None


def _bad_file_error(path, reason):
    return ValueError(f"image file {path!r} cannot be read as an image "
                      f"(PNG, JPEG, GIF or BMP): {reason}")


def load_image_files(paths, image_size, channels=3):
    """Image files as one float32 NumPy array, preprocessed as for training.

    Args:
        paths: sequence of str or path. Image files (PNG, JPEG, GIF, BMP).
        image_size: int or (height, width). Size of the output images.
        channels: 1, 3 or 4.

    Returns:
        float32 array `(len(paths), height, width, channels)` in [0, 1].

    Raises:
        ValueError: for a bad argument, or a file that cannot be read or
            decoded (the message names it).
    """
    paths = _check_paths(paths)
    size = check_image_size(image_size)
    channels = check_channels(channels)
    images = []
    for path in paths:
        try:
            image = decode_image(tf.io.read_file(path), size, channels)
        except (tf.errors.OpError, ValueError):
            raise _bad_file_error(path, _decode_error(path, channels)) from None
        images.append(image.numpy())
    if not images:
        return np.zeros((0, *size, channels), np.float32)
    return np.stack(images)


# (path, size, mtime_ns, channels) of files that decoded: the train CLI loads
# a dataset's splits several times, and each check decodes every file.
_CHECKED = set()


def _stamp(path, channels):
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (path, stat.st_size, stat.st_mtime_ns, channels)


def check_image_files(paths, channels=3):
    """Decodes every file once (in parallel); a ValueError names a bad one.

    Files checked before, unchanged since (same size and modification
    time), are not decoded again.

    Args:
        paths: sequence of str. Image files.
        channels: 1, 3 or 4. As they will be decoded.

    Raises:
        ValueError: naming the first file (in `paths` order) that cannot be
            read or decoded, and why.
    """
    stamps = {path: _stamp(path, channels) for path in paths}
    todo = [p for p in paths if stamps[p] is None or stamps[p] not in _CHECKED]
    if not todo:
        return

    def decodes(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=channels,
                                   expand_animations=False, dtype=tf.uint8)
        return path, tf.shape(image)

    # ignore_errors drops the files that fail, whatever the op: those missing
    # from the output are the bad ones, and only they are decoded again,
    # eagerly, for the reason.
    ds = tf.data.Dataset.from_tensor_slices(todo).map(
        decodes, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
    good = {path.decode() for path, _ in ds.as_numpy_iterator()}
    for path in todo:
        if path not in good:
            raise _bad_file_error(path, _decode_error(path, channels)
                                  or "it failed to decode in tf.data")
        if stamps[path] is not None:
            _CHECKED.add(stamps[path])
