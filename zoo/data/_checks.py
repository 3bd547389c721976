"""Argument checks shared by the loaders: each names the argument and its value.

Every loader checks all of its arguments here, before it builds any
pipeline. Wrong types and wrong values alike are `ValueError`s (the loaders'
long-standing contract, which `python -m zoo.train` relies on).
"""

import numbers
import os

import numpy as np


def is_int(value):
    # bool is an Integral, but batch_size=True is a bug, not a request for 1.
    return isinstance(value, numbers.Integral) and not isinstance(
        value, (bool, np.bool_))


def check_split(split, splits):
    if not isinstance(split, str) or split not in splits:
        raise ValueError(
            f"split must be one of {list(splits)}, received split={split!r}")


def check_positive_int(name, value):
    if not is_int(value) or value < 1:
        raise ValueError(
            f"{name} must be a positive int, received {name}={value!r}")


def check_seed(seed):
    if not is_int(seed) or seed < 0:
        raise ValueError(
            f"seed must be a non-negative int, received seed={seed!r}")


def check_start_epoch(start_epoch):
    if start_epoch is not None and (not is_int(start_epoch) or start_epoch < 0):
        raise ValueError("start_epoch must be None or a non-negative int, "
                         f"received start_epoch={start_epoch!r}")


def check_bool(name, value, allow_none=False):
    if value is None and allow_none:
        return
    if not isinstance(value, (bool, np.bool_)):
        allowed = "None, True or False" if allow_none else "True or False"
        raise ValueError(f"{name} must be {allowed}, received {name}={value!r}")


def check_path(name, value):
    """A str or os.PathLike, not empty (`""` would silently mean the cwd)."""
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ValueError(
            f"{name} must be a non-empty path, received {name}={value!r}")
    return os.fspath(value)


def check_optional_path(name, value):
    if value is None:
        return
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ValueError(
            f"{name} must be None or a non-empty path, received {name}={value!r}")


def check_optional_dir(name, value):
    """None, or a path that is a directory or does not exist yet."""
    check_optional_path(name, value)
    if value is not None and os.path.exists(value) and not os.path.isdir(value):
        raise ValueError(
            f"{name} must be a directory, received {name}={value!r}, which is a file")


def check_fraction(name, value):
    """A real number strictly between 0 and 1 (NaN and infinities rejected)."""
    if (not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_))
            or not 0 < value < 1):  # also rejects NaN
        raise ValueError(
            f"{name} must be a number in (0, 1), received {name}={value!r}")


def _physical_memory_bytes():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def check_images_fit(image_size, batch_size, channels, max_examples=None):
    """One batch of float32 images must fit in this machine's memory.

    `image_size=100_000` passes every type check, then makes TensorFlow
    try to resize each image to 40 GB and fail (or swap) long after the
    call returned a dataset. A batch bigger than all of RAM can never be
    built, so that is the bound: it refuses nothing that could have run.

    Args:
        image_size: int or (height, width). As the caller received it.
        batch_size: int. Examples per batch.
        channels: int. Channels per image.
        max_examples: int or None. Size of the whole dataset, when known
            (a batch never holds more).
    """
    memory = _physical_memory_bytes()
    if memory is None:
        return
    height, width = (image_size, image_size) if is_int(image_size) else image_size
    examples = batch_size if max_examples is None else min(batch_size, max_examples)
    size = examples * height * width * channels * 4  # float32
    if size > memory:
        raise ValueError(
            f"image_size={image_size!r} with batch_size={batch_size!r} makes one "
            f"batch of images {size / 2**30:,.1f} GiB, more than this machine's "
            f"{memory / 2**30:,.1f} GiB of memory; received image_size={image_size!r}")
