"""The export formats: one `Format` object each, registered here and nowhere else.

A format's handler (a module or a class) has `save(model, path, **options)`
and `load(path)`, and optionally `load_weights(model, path)`, `verify(path)`,
`target_path(path, **options)` and `check_replaceable(target, found)`.

Example:
>>> from_path("m.weights.h5").name, from_path("export_dir").name
('weights', 'saved_model')
>>> FORMATS["tflite"].folds_batchnorm, FORMATS["keras"].folds_batchnorm
(True, False)
>>> describe(of_kind(MODEL))
'.keras or .h5'
"""

import dataclasses
import importlib
import os
import pathlib

from zoo.export import _atomic, fold

# What `load` gives back: the model, nothing (weights only), or an inference callable.
MODEL, WEIGHTS, INFERENCE = "model", "weights", "inference"


@dataclasses.dataclass(frozen=True)
class Format:
    """One export format.

    Attributes:
        title: str. What people call it (`"SavedModel"`), for messages.
        suffixes: tuple of lower-case str, the usual one first; empty for
            the directory format.
        handler: the object that reads and writes it, or its lazily
            imported `"module:attribute"` (`"module"`).
        options: tuple of str. The keyword options `save` takes.
        suffix_required: bool. Only a path with the suffix will do, even
            with an explicit `format=`.
    """

    name: str
    title: str
    suffixes: tuple
    kind: str
    handler: object
    options: tuple = ()
    suffix_required: bool = False

    @property
    def directory(self):
        return not self.suffixes

    @property
    def folds_batchnorm(self):
        return "fold_batchnorm" in self.options

    @property
    def reloads_model(self):
        return self.kind != INFERENCE

    def _handler(self):
        if not isinstance(self.handler, str):
            return self.handler
        # Looked up on every call, so that a patched handler (tests) is used.
        module, _, attribute = self.handler.partition(":")
        module = importlib.import_module(module)
        return getattr(module, attribute) if attribute else module

    def check_options(self, options):
        unknown = sorted(set(options) - set(self.options))
        if unknown and not self.options:
            raise ValueError(f"format {self.name!r} takes no options, received {unknown}")
        if unknown:
            raise ValueError(f"Unknown {self.name} option(s) {unknown}: the options are "
                             f"{', '.join(self.options)}")

    def target_path(self, path, **options):
        handler = self._handler()
        if hasattr(handler, "target_path"):
            return handler.target_path(path, **options)
        return pathlib.Path(path)

    def check_replaceable(self, target, found):
        # overwrite=True replaces an old model, never whatever directory is there.
        if self.directory:
            self._handler().check_replaceable(target, found)
        elif found == "directory":
            raise ValueError(f"Not saving a {self.name} file to {str(target)!r}: it is a "
                             "directory; overwrite=True replaces files only, nothing was "
                             "deleted")

    def save(self, model, path, **options):
        """Writes `model` to the new `path` (`zoo.export.save` makes it atomic)."""
        self.check_options(options)
        if self.folds_batchnorm:
            # A copy with each BatchNorm folded: the model given is not changed.
            model = fold.inference_model(model, options.pop("fold_batchnorm", True))
        self._handler().save(model, path, **options)

    def load(self, path, **options):
        """What `path` holds: the model (`MODEL`) or a callable (`INFERENCE`)."""
        path = pathlib.Path(path)
        if self.directory:
            _atomic.recover(path)  # a directory that a killed save left aside
        if not os.path.lexists(path):
            raise FileNotFoundError(f"No {self.name} file or directory at path={str(path)!r}")
        if self.kind == WEIGHTS:
            raise ValueError(
                f"{str(path)!r} holds weights only (no architecture): build the model and "
                "call zoo.export.load_weights(model, path)")
        return self._handler().load(path, **options)

    def load_weights(self, model, path):
        return self._handler().load_weights(model, pathlib.Path(path))

    def verify(self, path):
        """Raises ValueError unless `path` is an intact file of this format."""
        handler = self._handler()
        if hasattr(handler, "verify"):
            handler.verify(pathlib.Path(path))
        else:
            self.load(path)


FORMATS = {}


def register(format):
    """Adds `format` to `FORMATS`; ValueError if its name, a suffix or the directory is taken."""
    if format.kind not in (MODEL, WEIGHTS, INFERENCE):
        raise ValueError(f"kind must be one of {[MODEL, WEIGHTS, INFERENCE]}, received "
                         f"kind={format.kind!r}")
    for other in FORMATS.values():
        taken = set(other.suffixes) & set(format.suffixes)
        if other.name == format.name or taken or (other.directory and format.directory):
            raise ValueError(f"format {format.name!r} clashes with the registered format "
                             f"{other.name!r} (name, suffix {sorted(taken)} or directory)")
    FORMATS[format.name] = format
    return format


def of_kind(*kinds):
    """The registered formats of `kinds`, in registration order."""
    return [format for format in FORMATS.values() if format.kind in kinds]


def describe(formats=None):
    """The paths `formats` (default: all) take, in words, files first."""
    formats = sorted(FORMATS.values() if formats is None else formats,
                     key=lambda format: format.directory)
    words = [f"a directory ({format.title})" if format.directory else format.suffixes[0]
             for format in formats]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def get(name):
    """The format called `name`; ValueError naming the registered ones."""
    if not isinstance(name, str) or name not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, received format={name!r}")
    return FORMATS[name]


def from_suffix(path):
    """The format `path`'s suffix names, or None; the longest suffix wins (`.weights.h5`)."""
    name = pathlib.Path(path).name.lower()
    # A dotfile named just ".h5" has no suffix (as for `pathlib`).
    matches = [(len(suffix), format) for format in FORMATS.values()
               for suffix in format.suffixes if name.endswith(suffix) and name != suffix]
    return max(matches, key=lambda match: match[0])[1] if matches else None


def from_path(path):
    """The format a path names by its suffix; a suffix-less path is a directory format."""
    path = pathlib.Path(path)
    found = from_suffix(path)
    if found is not None:
        return found
    directory = next((format for format in FORMATS.values() if format.directory), None)
    if directory is not None and (path.suffix == "" or path.is_dir()):
        return directory
    raise ValueError(
        f"Cannot tell the format of path={str(path)!r} from its suffix {path.suffix!r}: use "
        f"{describe()}, or pass format= one of {list(FORMATS)}")


def resolve(path, format=None):
    """`format`'s `Format`, or the path's; a `format` its suffix contradicts is an error."""
    if format is None:
        return from_path(path)
    chosen = get(format)
    implied = from_suffix(path)
    if implied is not None and implied is not chosen:
        raise ValueError(
            f"format={format!r} contradicts path={str(path)!r}, whose suffix names format "
            f"{implied.name!r}: drop format= or change the suffix")
    if chosen.suffix_required and implied is not chosen:
        raise ValueError(f"format={format!r} needs a path ending in {chosen.suffixes[0]!r}, "
                         f"received path={str(path)!r}")
    return chosen


register(Format("keras", "Keras", (".keras",), MODEL, "zoo.export.keras_formats:KERAS",
                suffix_required=True))
register(Format("h5", "zoo HDF5", (".h5", ".hdf5"), MODEL, "zoo.export.keras_formats:H5"))
register(Format("weights", "Keras weights", (".weights.h5",), WEIGHTS,
                "zoo.export.keras_formats:WEIGHTS", suffix_required=True))
register(Format("saved_model", "SavedModel", (), INFERENCE, "zoo.export.saved_model",
                options=("version", "fold_batchnorm")))
register(Format("tflite", "TFLite", (".tflite",), INFERENCE, "zoo.export.tflite",
                options=("quantization", "representative_data", "representative_samples",
                         "sequence_length", "input_shape", "int8_io", "fold_batchnorm")))

__all__ = ["FORMATS", "Format", "INFERENCE", "MODEL", "WEIGHTS", "describe", "from_path",
           "from_suffix", "get", "of_kind", "register", "resolve"]
