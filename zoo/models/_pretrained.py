"""Pretrained weights: what `weights=` does in every registered constructor.

`ZooModel.register` wraps each registered constructor so that
`zoo.create_model(name, weights=...)` (or `zoo.resnet.resnet50(weights=...)`)
builds the model the other arguments describe and loads weights into it.
This module is the part every family shares; a family states which weights
its models have (`pretrained_weights`, data) and maps them onto its layers
(`pretrained_overrides`, `load_pretrained`), as the contract on `ZooModel`
says.

`weights` is one of:

- None (the default): random initialization; nothing here runs.
- `"imagenet"`: the ImageNet weights that `keras.applications` publishes,
  downloaded once into Keras' own cache by `keras.utils.get_file` (same file
  names, origins, `cache_subdir="models"` and hashes as keras.applications),
  so a file that keras.applications downloaded is reused, and the reverse.
- A path to a `.safetensors` or `.npz` file holding a PyTorch-style state
  dict (`{"conv1.weight": array, ...}`), e.g. timm's `model.safetensors`.
  Reading `.safetensors` needs the optional `safetensors` package
  (`pip install zoo[weights]`), imported only then.

Errors:

- a bad `weights` value: `ValueError` (`ArgumentTypeError` for a wrong type)
  naming `weights`; a path that does not exist: `FileNotFoundError`.
- a model without such weights: `ValueError` naming the model and listing
  the models that have them.
- a download that fails (no network, a proxy, an HTTP error):
  `WeightsDownloadError`, an `OSError`, at once (urllib makes one attempt;
  a socket that stays silent times out after `DOWNLOAD_TIMEOUT` seconds).
  Its message names the URL and the exact cache path where a copy of the
  file, downloaded by other means, can be placed: a file at that path is
  used as it is, without downloading.
- a file that does not fit the model (another architecture, a missing or
  extra tensor, a wrong shape): `ValueError` naming the file and the first
  tensor that does not fit.

Hashes: a downloaded file whose publisher records a hash (keras.applications'
ResNets: md5) is checked against it; a file in the cache that differs is
loaded with a warning, since Keras itself would delete it. keras.applications
publishes no hash for its MobileNetV2 files, so such a file cannot be
verified: `load_keras_weights(..., hash_published=False)` checks all it
can (an HDF5 file in Keras' weights layout holding exactly the model's
layers with weights, every weight's shape, every value finite), refuses
anything else, and warns on every load that no published hash exists,
naming the file and its SHA-256.
"""

import hashlib
import os
import pathlib
import socket
import warnings

import keras
import numpy as np

from zoo import _validation, registry

IMAGENET = "imagenet"
FILE_SUFFIXES = (".safetensors", ".npz")
# The kinds a family lists per model in `pretrained_weights`.
KINDS = ("imagenet", "state_dict")
# Seconds a socket of the download may stay silent (connect or read) before
# it fails: a firewall that drops packets must not hang `create_model`.
DOWNLOAD_TIMEOUT = 30
# State-dict entries that are no weights: BatchNorm's step counter (PyTorch).
IGNORED_SUFFIXES = (".num_batches_tracked",)


class WeightsDownloadError(OSError):
    """Pretrained weights could not be downloaded; the message says where to put them."""


def check_weights(value):
    """The kind of `weights` and what it names: `("imagenet", None)` or `("state_dict", path)`.

    Raises:
        ArgumentTypeError: `value` is neither a str nor an `os.PathLike`.
        ValueError: an empty path, or a suffix other than `FILE_SUFFIXES`.
        FileNotFoundError: the path does not exist, or is no file.
    """
    accepted = (f"weights must be None, {IMAGENET!r} or the path of a "
                f"{' or '.join(FILE_SUFFIXES)} file")
    if not isinstance(value, (str, os.PathLike)):
        raise _validation.ArgumentTypeError(
            f"{accepted}, received weights={_validation.preview(value)}")
    if isinstance(value, str) and value == IMAGENET:
        return IMAGENET, None
    text = _validation.path("weights", value)
    path = pathlib.Path(text)
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise ValueError(
            f"{accepted}, received weights={text!r}: unknown suffix {path.suffix!r} "
            f"(convert a PyTorch .pth/.bin file with safetensors.torch.save_file; "
            f"see README 'Pretrained weights')")
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"weights file {text!r} {what}, received weights={text!r}")
    return "state_dict", path


def models_with(kind):
    """Sorted registered names whose family lists `kind` for them."""
    names = []
    for name in registry.list_models():
        family = registry.model_family(name)
        if family is not None and kind in getattr(family, "pretrained_weights", {}).get(name, ()):
            names.append(name)
    return names


def build(family, name, constructor, weights, overrides):
    """Builds `constructor(**overrides)` with `weights` loaded (`ZooModel.register`).

    Args:
        family: the `ZooModel` subclass registered for `name`.
        name: str. The registered name.
        constructor: callable. Builds the model from keywords.
        weights: what the user passed as `weights` (not None).
        overrides: dict. The other keywords the user passed.
    """
    kind, path = check_weights(weights)
    if kind not in family.pretrained_weights.get(name, ()):
        what = {"imagenet": "weights='imagenet'",
                "state_dict": f"a PyTorch state dict ({' or '.join(FILE_SUFFIXES)} file)"}
        raise ValueError(
            f"Model {name!r} has no pretrained weights for "
            f"weights={_validation.preview(str(weights), 200)}. Models that load "
            + "; ".join(f"{what[k]}: {models_with(k)}" for k in KINDS))
    source = IMAGENET if kind == IMAGENET else read_state_dict(path)
    model = constructor(**family.pretrained_overrides(name, source, dict(overrides)))
    model.load_pretrained(source)
    return model


# -- downloads (keras.utils.get_file) ------------------------------------------


def keras_cache_dir():
    """The folder `keras.utils.get_file(..., cache_subdir="models")` writes into.

    `$KERAS_HOME/models` (read now, so a test or a user may set it late),
    else `~/.keras/models`; `/tmp/.keras/models` when that is not
    writable, as Keras falls back.
    """
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


def _md5(path):
    return _digest(path, "md5")


def _digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_file(file_name, origin, file_hash=None, what="weights"):
    """The local path of `origin`, downloaded into Keras' cache if it is not there yet.

    A file already at the cache path is used as it is (Keras itself would
    download it again when its hash differs, deleting it if that fails
    offline, which would destroy a copy placed there by hand): with a known
    `file_hash` (md5) that differs, a warning says so. Whether the file fits
    is then checked by loading it. `file_hash=None` means that none is
    published: nothing is verified here, so pass `hash_published=False` to
    `load_keras_weights`.

    Raises:
        WeightsDownloadError: the download failed; names `origin` and the path.
    """
    cache_dir = keras_cache_dir()
    target = os.path.join(cache_dir, file_name)
    if os.path.isfile(target):
        if file_hash is not None and _md5(target) != file_hash:
            warnings.warn(
                f"{target} is not the file Keras publishes at {origin} (md5 "
                f"{file_hash}); loading it as {what} anyway", stacklevel=2)
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

    Args:
        keras_model: the keras.applications model the file was written from.
        path: str. The cached file.
        what: str. What the file holds, for messages.
        hash_published: bool. False for a file whose publisher records no
            hash (`cached_file` could not check it): its structure is checked
            first (`check_keras_file`), and each load warns that it is
            unverified, naming the file and its SHA-256.

    Raises:
        ValueError: the file does not hold weights of `keras_model`'s
            structure; the message names it.
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

    All a file with no published hash can be checked for: an HDF5 file in
    Keras' (legacy `.h5`) weights layout holding, in order, one entry per
    layer of `keras_model` that has weights, each with exactly that layer's
    weight shapes, every value finite. Layer names are not compared, as
    Keras' own loader does not compare them: keras.applications' MobileNetV2
    files were written by an earlier version of the model whose layers had
    other names (`mobl1_conv_1_expand`, `bn1_conv_1_bn_expand`:
    keras-team/keras#10047, JonathanCMitchell/mobilenet_v2_keras#8).

    Raises:
        ValueError: naming `path` and the first thing that does not fit.
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


# -- state dicts (.safetensors / .npz) -----------------------------------------


class StateDict(dict):
    """A PyTorch-style state dict read from a file: name -> NumPy array.

    Attributes:
        path: the file it was read from (for error messages).
    """

    def __init__(self, tensors, path):
        super().__init__(tensors)
        self.path = str(path)

    def __repr__(self):
        return f"StateDict({self.path!r}, {len(self)} tensors)"


def read_state_dict(path):
    """Reads a `.safetensors` or `.npz` file into a `StateDict`.

    Raises:
        ImportError: `.safetensors` without the `safetensors` package.
        ValueError: the file cannot be read as its suffix says.
    """
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


# How a PyTorch tensor becomes the Keras variable that holds it: the axes of
# the PyTorch tensor, in the Keras variable's order.
TORCH_LAYOUTS = {
    "conv2d": (2, 3, 1, 0),  # (out, in, kh, kw) -> (kh, kw, in, out)
    "dense": (1, 0),  # (out, in) -> (in, out)
    "vector": (0,),
}


def assign_state_dict(state_dict, pairs, model_name, unused=()):
    """Copies `state_dict` into variables, after checking that everything fits.

    Args:
        state_dict: a `StateDict`.
        pairs: list of `(tensor name, keras variable, layout)` in the model's
            order; layout is a key of `TORCH_LAYOUTS`.
        model_name: str, for messages.
        unused: names the file may hold that are deliberately not loaded
            (a classifier replaced by a new head).

    Raises:
        ValueError: naming the file and the first tensor that is missing,
            has the wrong shape, or is in the file but not in the model.
            Nothing is assigned then.
    """
    where = f"weights file {state_dict.path!r} does not fit {model_name}"
    values = []
    for name, variable, layout in pairs:
        if name not in state_dict:
            some = [n for n in state_dict if not n.endswith(IGNORED_SUFFIXES)][:5]
            raise ValueError(
                f"{where}: it has no tensor {name!r} (for {variable.path}); its first "
                f"tensors are {some}")
        array = np.asarray(state_dict[name])
        axes = TORCH_LAYOUTS[layout]
        # The shape the file must hold: the variable's, in PyTorch's order.
        expected = tuple(variable.shape[axes.index(i)] for i in range(len(axes)))
        if tuple(array.shape) != expected:
            raise ValueError(
                f"{where}: tensor {name!r} has shape {tuple(array.shape)}, expected "
                f"{expected} (for {variable.path})")
        value = np.transpose(array, axes)
        values.append((variable, value))
    known = {name for name, _, _ in pairs} | set(unused)
    extra = [n for n in state_dict if n not in known and not n.endswith(IGNORED_SUFFIXES)]
    if extra:
        raise ValueError(
            f"{where}: tensor {extra[0]!r} has no place in {model_name} "
            f"({len(extra)} such tensors: {extra[:5]})")
    for variable, value in values:
        variable.assign(value.astype(variable.dtype))
