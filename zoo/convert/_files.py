"""Weights files: Keras-cache downloads with their hash checks, and state-dict reading.

keras.applications' files go into Keras' own cache with the same names, so
either downloads once for both. A failed download is a `WeightsDownloadError`
naming the URL and the cache path where a copy can be placed. A file
without a published hash (MobileNetV2's) is checked by structure and warns.
"""

import hashlib
import os
import pathlib
import socket
import warnings

import keras
import numpy as np

from zoo.convert._assign import KerasWeights, StateDict, assign, check_rgb, layer_names

# A firewall that drops packets must not hang `create_model`.
DOWNLOAD_TIMEOUT = 30


class WeightsDownloadError(OSError):
    """Pretrained weights could not be downloaded; the message says where to put them."""



def keras_cache_dir():
    """The folder `keras.utils.get_file(..., cache_subdir="models")` writes into (read now)."""
    base = os.path.expanduser(os.environ.get("KERAS_HOME")
                              or os.path.join(os.path.expanduser("~"), ".keras"))
    if not os.access(base, os.W_OK):
        try:
            os.makedirs(base, exist_ok=True)
        except OSError:
            pass
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp", ".keras")
    return os.path.join(base, "models")


def _digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_file(file_name, origin, file_hash=None, what="weights"):
    """The local path of `origin`, downloaded into Keras' cache if it is not there yet.

    A file already there is used when its md5 is `file_hash`, and refused
    otherwise, but never deleted (Keras would delete it, destroying a copy
    placed by hand).
    """
    cache_dir = keras_cache_dir()
    target = os.path.join(cache_dir, file_name)
    if os.path.isfile(target):
        # As keras.utils.get_file: a 64-digit hash is a sha256 (ConvNeXt's), else an md5.
        algorithm = "sha256" if file_hash is not None and len(file_hash) == 64 else "md5"
        actual = None if file_hash is None else _digest(target, algorithm)
        if actual != file_hash:
            raise _not_the_weights(target, what, f"its {algorithm} is {actual}, not "
                                   f"{file_hash}, that of the file Keras publishes at {origin}")
        return target
    previous = socket.getdefaulttimeout()
    if previous is None:
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        return keras.utils.get_file(file_name, origin, cache_subdir="models",
                                    file_hash=file_hash,
                                    cache_dir=os.path.dirname(cache_dir))
    except Exception as error:  # get_file wraps URL errors in a bare Exception
        reason = str(error).replace(f"URL fetch failure on {origin}: ", "")
        raise WeightsDownloadError(
            f"Could not download the {what} from {origin} ({reason}). Without network "
            f"access, download that URL by other means and place the file at {target} "
            f"(Keras' cache: $KERAS_HOME/models, default ~/.keras/models); it is then "
            f"used without downloading.") from error
    finally:
        if previous is None:
            socket.setdefaulttimeout(None)


def load_keras_weights(keras_model, path, what, hash_published=True):
    """`keras_model.load_weights(path)`, failing with a message that names the file.

    `hash_published=False`: the structure is checked first and each load
    warns that the file is unverified, with its SHA-256.
    """
    if not hash_published:
        check_keras_file(keras_model, path, what)
    try:
        keras_model.load_weights(path)
    except Exception as error:  # h5py's OSError, Keras' ValueError on counts/shapes
        raise _not_the_weights(path, what, f"it fails to load into keras.applications' "
                               f"{keras_model.name}: {error}") from error
    if not hash_published:
        warnings.warn(
            f"{path} is loaded as the {what}, but no published hash exists for "
            f"{os.path.basename(path)} (keras.applications records none), so it is not "
            f"verified to be the published file: only its structure was checked (every "
            f"layer and weight shape fits, every value is finite). Its sha256 is "
            f"{_digest(path, 'sha256')}: compare it with that of a copy you trust.",
            UnverifiedWeightsWarning, stacklevel=2)


class UnverifiedWeightsWarning(UserWarning):
    """Weights loaded from a file no published hash could verify."""


def _not_the_weights(path, what, why):
    return ValueError(f"{path} does not hold the {what} ({why}). Delete or replace it: it "
                      f"is the file Keras' cache holds for them.")


def check_keras_file(keras_model, path, what):
    """Refuses a file that is not, by its structure, weights of `keras_model`.

    One entry per layer with weights, in order, every shape and every value
    finite. Layer names are not compared, as Keras' loader does not
    (keras.applications' MobileNetV2 files use older names).
    """
    import h5py

    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise _not_the_weights(path, what, f"it is not an HDF5 file: {error}") from None
    with file:
        group = file
        if "layer_names" not in group.attrs and "model_weights" in group:
            group = group["model_weights"]  # a whole model saved as .h5
        if "layer_names" not in group.attrs:
            raise _not_the_weights(path, what, "it is an HDF5 file without Keras' "
                                   "'layer_names' attribute")
        saved = []
        try:
            for name in _strings(group.attrs["layer_names"]):
                weights = [group[name][weight]
                           for weight in _strings(group[name].attrs.get("weight_names", []))]
                if weights:
                    saved.append((name, weights))
        except (KeyError, TypeError, ValueError) as error:
            raise _not_the_weights(path, what, f"its layer entries are broken: "
                                   f"{error}") from None
        expected = [(layer.name, [tuple(w.shape) for w in
                                  layer.trainable_weights + layer.non_trainable_weights])
                    for layer in keras_model.layers if layer.weights]
        if len(saved) != len(expected):
            raise _not_the_weights(
                path, what, f"it holds weights for {len(saved)} layers, keras.applications' "
                f"{keras_model.name} has {len(expected)} layers with weights")
        for (name, weights), (target, shapes) in zip(saved, expected):
            found = [tuple(w.shape) if isinstance(w, h5py.Dataset) else None for w in weights]
            if found != shapes:
                raise _not_the_weights(
                    path, what, f"its layer {name!r} (for {target!r}) holds weights of "
                    f"shapes {found}, expected {shapes}")
        for name, weights in saved:
            for weight in weights:
                values = weight[()]
                if values.dtype.kind != "f" or not np.isfinite(values).all():
                    raise _not_the_weights(
                        path, what, f"its weight {weight.name!r} holds "
                        + ("non-finite values" if values.dtype.kind == "f"
                           else f"{values.dtype} values, not floats"))


def _strings(values):
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def keras_application(application, url, file_name, file_hash, what, **kwargs):
    """keras.applications' `application(weights=None, **kwargs)` holding `url + file_name`."""
    path = cached_file(file_name, url + file_name, file_hash, what)
    keras_model = application(weights=None, **kwargs)
    load_keras_weights(keras_model, path, what, hash_published=file_hash is not None)
    return keras_model


def imagenet_top(model):
    """Whether `model` (RGB, else a ValueError) takes the file with the top: a 1000-class head."""
    check_rgb(model, "imagenet")
    return "classifier" in layer_names(model) and model.get_config()["num_classes"] == 1000


def load_keras_imagenet(model, table, application, url, file_name, file_hash, top, detail="",
                        source=KerasWeights, **kwargs):
    """keras.applications' ImageNet file of `application` (a class name) into `model`.

    `table` maps the zoo's layers to keras' (`assign`) as `source` (a
    `KerasWeights` class) reads them; without the top, the classifier keeps
    its own weights. `kwargs` go to the keras constructor.
    """
    what = f"ImageNet weights of keras.applications.{application}{detail}"
    keras_model = keras_application(getattr(keras.applications, application), url, file_name,
                                    file_hash, what, include_top=top, **kwargs)
    assign(model, source(keras_model, application), table,
           skip=() if top else ("classifier",), strict=False)



def read_state_dict(path):
    """Reads a `.safetensors` or `.npz` file into a `StateDict`."""
    path = pathlib.Path(path)
    if path.suffix.lower() == ".safetensors":
        try:
            from safetensors.numpy import load_file
        except ImportError as error:
            raise ImportError(
                f"Reading {path} needs the safetensors package: pip install safetensors "
                f"(or pip install zoo[weights])") from error
        try:
            tensors = load_file(str(path))
        except Exception as error:  # safetensors' own SafetensorError, or a dtype
            raise ValueError(f"weights file {str(path)!r} is not a readable .safetensors "
                             f"file: {error}") from error
    else:
        try:
            with np.load(path, allow_pickle=False) as archive:
                tensors = {name: archive[name] for name in archive.files}
        except Exception as error:  # zipfile.BadZipFile, a pickled object array
            raise ValueError(f"weights file {str(path)!r} is not a readable .npz file of "
                             f"arrays: {error}") from error
    return StateDict(tensors, path)
