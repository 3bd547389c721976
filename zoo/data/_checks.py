"""Argument checks shared by the loaders: each names the argument and its value."""

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


def check_optional_path(name, value):
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise ValueError(
            f"{name} must be None or a path, received {name}={value!r}")
