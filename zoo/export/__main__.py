"""Convert a saved model to another format: `python -m zoo.export`.

The source is `--model_file=PATH` (a `.keras` or zoo `.h5`), or
`--weights=PATH` (a `.weights.h5`) with `--model=NAME` and the constructor
flags it was trained with; the format comes from `--out` unless `--format`
is given. Every flag is checked before anything is loaded (exit status 2).

Examples:

    python -m zoo.export --model=resnet20 --num_classes=10 --input_shape=32,32,1 \\
        --weights=out/resnet20.weights.h5 --out=out/resnet20_serving --version=1
    python -m zoo.export --model_file=out/resnet20.keras --out=out/resnet20_int8.tflite \\
        --quantization=int8 --representative_data=data/train
"""

import collections
import json
import sys

import numpy as np
from absl import app, flags

from zoo.export import _files, formats

FLAGS = flags.FLAGS

# What `check_flags` found.
Plan = collections.namedtuple(
    "Plan", ["source_format", "out_format", "target", "options", "model_arguments",
             "calibration"])
# --representative_data: "npy" (a .npy file) or "images" (a folder, `items` its files).
Calibration = collections.namedtuple("Calibration", ["kind", "path", "items"])

SOURCE_FLAGS = {"model_file": formats.MODEL, "weights": formats.WEIGHTS}
OPTION_FLAGS = ("version", "quantization", "sequence_length", "fold_batchnorm")
MAX_CALIBRATION_EXAMPLES = 500


def define_flags(flag_values=FLAGS):
    """Defines the export flags on `flag_values` (at `run()`, not import: tests use fresh ones)."""
    on = {"flag_values": flag_values}
    flags.DEFINE_string("model", None, "Registered model name: the architecture of "
                        "--weights.", **on)
    flags.DEFINE_string("model_file", None, f"The model to export: {_takes('model_file')}. "
                        "Give this or --weights.", **on)
    flags.DEFINE_string("weights", None, f"The weights to export: {_takes('weights')}, "
                        "loaded into --model built with the constructor flags. Give this or "
                        "--model_file.", **on)
    flags.DEFINE_string("out", None, f"Where to write: {formats.describe()}.", **on)
    flags.DEFINE_enum("format", None, list(formats.FORMATS),
                      "Output format (default: from --out; must agree with its suffix).", **on)
    flags.DEFINE_boolean("overwrite", False, "Replace --out if it exists (a file of the "
                         "same format, or a SavedModel directory).", **on)
    flags.DEFINE_integer("num_classes", None, "Constructor argument of --model.",
                         lower_bound=1, **on)
    flags.DEFINE_list("input_shape", None, "Constructor argument of --model, e.g. 32,32,1.", **on)
    flags.DEFINE_string("model_args", None, "More constructor arguments of --model as JSON, "
                        'e.g. \'{"max_tokens": 20000}\'.', **on)
    flags.DEFINE_integer("version", None, "SavedModel: write the TensorFlow Serving layout "
                         "OUT/VERSION/.", lower_bound=1, **on)
    flags.DEFINE_enum("quantization", None, ["float16", "int8"],
                      "TFLite post-training quantization (default: float).", **on)
    flags.DEFINE_string("representative_data", None, "--quantization=int8: calibrate on "
                        "a folder of images (read as in training) or a .npy "
                        f"array, at most {MAX_CALIBRATION_EXAMPLES} examples.", **on)
    flags.DEFINE_integer("sequence_length", None, "TFLite, text models: the static token "
                         "length of the exported integer-token model.", lower_bound=1, **on)
    flags.DEFINE_boolean("fold_batchnorm", True, f"{_taking('fold_batchnorm', ' and ')}: "
                         "fold each BatchNorm into the convolution before it (an inference "
                         "graph; --nofold_batchnorm keeps them).", **on)
    flags.mark_flags_as_required(["out"], **on)


def _takes(source_flag):
    """What `--source_flag` takes, in words: "a whole saved model (.keras or .h5)"."""
    paths = formats.describe(formats.of_kind(SOURCE_FLAGS[source_flag]))
    if source_flag == "model_file":
        return f"a whole saved model ({paths})"
    return f"a weights-only {paths} file (with --model)"


def _taking(option, joiner=" or "):
    """The formats whose `save` takes `option`, e.g. `"saved_model or tflite"`."""
    return joiner.join(f.name for f in formats.FORMATS.values() if option in f.options)


def model_arguments(flag_values=FLAGS):
    """Constructor overrides from --num_classes, --input_shape and --model_args."""
    text = flag_values.model_args
    try:
        arguments = {} if text is None else json.loads(text)
    except json.JSONDecodeError as error:
        raise app.UsageError(f"--model_args is not valid JSON ({error}): "
                             f"--model_args={text!r}") from None
    if not isinstance(arguments, dict):
        raise app.UsageError(f"--model_args must be a JSON object, received "
                             f"--model_args={text!r}")
    for name in ("num_classes", "input_shape"):
        value = getattr(flag_values, name)
        if value is not None and name in arguments:
            raise app.UsageError(f"--model_args sets {name!r} and so does --{name}: "
                                 "give it once")
        if value is not None:
            read = _input_shape if name == "input_shape" else int
            arguments[name] = read(value)
    return arguments


def _input_shape(items):
    received = ",".join(items)
    try:
        shape = tuple(None if d.strip().lower() == "none" else int(d) for d in items)
    except ValueError:
        shape = ()
    if not shape or any(d is not None and d < 1 for d in shape):
        raise app.UsageError(f"--input_shape must be positive integers (or None), e.g. "
                             f"32,32,1, received --input_shape={received!r}")
    return shape


def check_flags(flag_values=FLAGS):
    """Checks every flag and the files they name; returns a `Plan` or raises `app.UsageError`."""
    import zoo
    import zoo.export

    flag_name, source = _source_flag(flag_values)
    out = flag_values.out
    if out is None or not out.strip():
        raise app.UsageError(f"--out must name a file or directory, received --out={out!r}")
    given = f"--{flag_name}={source}"
    try:
        source_format = zoo.export.format_from_path(source)
    except ValueError as error:
        raise app.UsageError(f"{given}: {error}") from None
    kind = formats.FORMATS[source_format].kind
    if kind != SOURCE_FLAGS[flag_name]:
        holds = {
            formats.MODEL: f"a whole model: pass it as --model_file={source}",
            formats.WEIGHTS: f"weights only: pass it as --weights={source} "
                             "with --model=NAME (and its constructor flags)",
        }.get(kind, f"a {source_format} model")
        raise app.UsageError(
            f"--{flag_name} takes {_takes(flag_name)}, but {given} holds {holds}")
    whole_model = kind == formats.MODEL
    try:
        _files.check_regular_file(source, f"{source_format} file")
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(f"{given}: {error}") from None

    constructor_flags = [f"--{name}" for name in ("model", "num_classes", "input_shape",
                                                   "model_args")
                         if getattr(flag_values, name) is not None]
    if whole_model and constructor_flags:
        raise app.UsageError(f"{given} holds a whole model; drop "
                             f"{', '.join(constructor_flags)}")
    arguments = {}
    if not whole_model:
        if not flag_values.model:
            raise app.UsageError(f"{given} holds weights only: name the "
                                 "architecture with --model (and its constructor flags)")
        if flag_values.model not in zoo.list_models():
            raise app.UsageError(f"--model must be a registered model, one of "
                                 f"{zoo.list_models()}, received --model={flag_values.model!r}")
        arguments = model_arguments(flag_values)

    options = {name: flag_values[name].value for name in OPTION_FLAGS
               if _given(flag_values, name)}
    try:
        out_format, target = zoo.export.check_save_target(
            out, flag_values.format, flag_values.overwrite, **options)
    except (ValueError, TypeError, FileExistsError) as error:
        raise app.UsageError(f"--out={out}: {error}") from None
    _check_options_fit(flag_values, out_format)
    calibration = check_representative_data(flag_values)
    if formats.FORMATS[out_format].folds_batchnorm:
        options["fold_batchnorm"] = flag_values.fold_batchnorm  # the default, said
    return Plan(source_format, out_format, target, options, arguments, calibration)


def _source_flag(flag_values):
    """`(flag name, value)` of the one source flag given."""
    given = [name for name in SOURCE_FLAGS if flag_values[name].present
             or getattr(flag_values, name) is not None]
    if not given:
        raise app.UsageError(
            f"name the model to export: --model_file=PATH for {_takes('model_file')}, or "
            f"--weights=PATH for {_takes('weights')}")
    if len(given) > 1:
        raise app.UsageError(
            f"give --model_file or --weights, not both: received "
            f"--model_file={flag_values.model_file} and --weights={flag_values.weights}")
    name = given[0]
    if not (value := getattr(flag_values, name)) or not value.strip():
        raise app.UsageError(f"--{name} must name a file, received --{name}={value!r}")
    return name, value


def check_representative_data(flag_values=FLAGS):
    """Checks --representative_data without the model; a `Calibration` or None."""
    path = flag_values.representative_data
    if path is None:
        return None
    given = f"--representative_data={path}"
    if flag_values.quantization != "int8":
        raise app.UsageError(
            f"{given} applies to --quantization=int8 only (it is the int8 calibration "
            f"data), received --quantization={flag_values.quantization}")
    if not path.strip():
        raise app.UsageError(f"--representative_data must name a folder of images or a "
                             f".npy file, received --representative_data={path!r}")
    found = _files.kind(path)
    if found == "directory":
        return Calibration("images", path, _image_files(given, path))
    if not path.lower().endswith(".npy"):
        what = "nothing" if found is None else f"a {found}"
        raise app.UsageError(f"{given}: there is {what} there; --representative_data takes "
                             "a folder of images or a .npy file")
    try:
        _files.check_regular_file(path, ".npy file")
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError as error:
        raise app.UsageError(f"{given}: {error}") from None
    except Exception as error:  # a bad header, pickled objects, a truncated file
        raise app.UsageError(f"{given} is not a readable .npy array ({error})") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiuUS":
        raise app.UsageError(f"{given} must hold numbers (or strings for a text model), "
                             f"received dtype {getattr(array, 'dtype', type(array))}")
    if array.ndim == 0 or array.size == 0:
        raise app.UsageError(f"{given} holds no examples (shape {array.shape}): it must be "
                             "a batch of inputs, batch first")
    return Calibration("npy", path, None)


def _image_files(given, folder):
    """The image files under `folder` (recursively, by suffix), sorted; at least one."""
    from zoo.data.images import IMAGE_EXTENSIONS, find_image_files

    paths = find_image_files(folder)
    for path in paths:
        found = _files.kind(path)
        if found != "file":
            raise app.UsageError(f"{given}: {path!r} is a {found}, not an image "
                                 "file (only regular files are read)")
    if not paths:
        raise app.UsageError(f"{given} holds no image files ({', '.join(IMAGE_EXTENSIONS)}, "
                             "searched recursively)")
    return paths


def representative_inputs(calibration, model, limit=MAX_CALIBRATION_EXAMPLES):
    """At most `limit` inputs for `model`, evenly spaced (not the first class folder only)."""
    from zoo.export import saved_model

    given = f"--representative_data={calibration.path}"
    spec = saved_model.input_spec(model)
    shape, dtype = tuple(spec.shape[1:]), spec.dtype
    takes = (f"{model.name} takes {dtype.name} inputs of shape "
             f"(batch, {', '.join(map(str, shape))})")
    if calibration.kind == "images":
        return _read_images(given, calibration.items, model, shape, dtype, takes, limit)
    array = np.load(calibration.path, mmap_mode="r", allow_pickle=False)
    array = np.asarray(array[_spread(len(array), limit)])
    # A string input takes texts or the token ids of its token model.
    if array.dtype.kind not in ("f" if dtype.is_floating else "iu" if dtype.is_integer
                                else "USiu"):
        raise ValueError(f"{given} holds {array.dtype} values, but {takes}"
                         + (" (floats, scaled as in training: e.g. images in [0, 1])"
                            if dtype.is_floating else ""))
    if array.ndim != len(shape) + 1 or any(
            d is not None and d != a for d, a in zip(shape, array.shape[1:])):
        raise ValueError(f"{given} holds an array of shape {array.shape}, but {takes}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{given} holds {bad} NaN or infinite value(s): calibration "
                         "needs finite inputs")
    return array


def _spread(count, limit):
    """At most `limit` indices of `range(count)`, evenly spaced, first and last included."""
    spaced = np.linspace(0, count - 1, min(count, limit))
    return np.unique(spaced.round().astype(int))


def _read_images(given, paths, model, shape, dtype, takes, limit):
    """Up to `limit` of `paths`, read as zoo.data reads images for `model`'s input."""
    from zoo.data.images import CHANNEL_ORDERS, load_image_files

    channels_first = getattr(model, "data_format", "channels_last") == "channels_first"
    if not dtype.is_floating or len(shape) != 3:
        raise ValueError(f"{given} is a folder of images, but {takes}: pass a .npy array "
                         "of its inputs instead")
    height, width, channels = shape[1:] + shape[:1] if channels_first else shape
    if height is None or width is None or channels not in CHANNEL_ORDERS:
        raise ValueError(f"{given} is a folder of images, but {takes}: images need a fixed "
                         f"height and width and {' or '.join(map(str, CHANNEL_ORDERS))} "
                         "channels")
    chosen = [paths[i] for i in _spread(len(paths), limit)]
    try:
        images = load_image_files(chosen, (height, width), channels)
    except ValueError as error:  # names the file that does not decode
        raise ValueError(f"{given}: {error}") from None
    return images.transpose(0, 3, 1, 2) if channels_first else images


def _given(flag_values, name):
    # A boolean has a value either way: only an explicit one counts.
    flag = flag_values[name]
    return flag.present if flag.boolean else flag.value is not None


def _check_options_fit(flag_values, out_format):
    """Refuses option flags that the output format does not take."""
    for name in OPTION_FLAGS:
        if _given(flag_values, name) and name not in formats.FORMATS[out_format].options:
            value = flag_values[name].value
            given = (f"--{'' if value else 'no'}{name}" if flag_values[name].boolean
                     else f"--{name}={value}")
            raise app.UsageError(f"{given} applies to --format={_taking(name)} only; "
                                 f"--out={flag_values.out} is {out_format}")


def load_source(plan, flag_values=FLAGS):
    """The model to export: a whole-model file, or --model + weights."""
    import zoo
    import zoo.export

    if formats.FORMATS[plan.source_format].kind == formats.MODEL:
        return zoo.export.load(flag_values.model_file)
    model = zoo.create_model(flag_values.model, **plan.model_arguments)
    if getattr(model, "needs_adapt", False):
        # What `adapt` learns (a text model's vocabulary) is not a weight.
        raise app.UsageError(
            f"--model={flag_values.model} keeps what it learns from its inputs (e.g. a "
            "vocabulary) outside the weights: export its .keras or .h5 file with "
            f"--model_file instead of --weights={flag_values.weights}")
    return zoo.export.load_weights(model, flag_values.weights)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected positional arguments: {argv[1:]}")
    plan = check_flags()  # every flag, before anything is loaded or built
    import zoo.export
    from zoo import _launch, ops

    print(f"zoo.export: {ops.describe()} ({_launch.decision})")
    try:
        model = load_source(plan)
        options = dict(plan.options)
        if plan.calibration is not None:
            options["representative_data"] = representative_inputs(plan.calibration, model)
            print(f"calibrating int8 on {len(options['representative_data'])} examples from "
                  f"--representative_data={plan.calibration.path}")
        written = zoo.export.save(model, FLAGS.out, format=plan.out_format,
                                  overwrite=FLAGS.overwrite, **options)
    except (ValueError, FileExistsError, FileNotFoundError, TypeError) as error:
        raise app.UsageError(str(error)) from None
    print(f"wrote {written}")
    return 0


def run():
    """The `python -m zoo.export` entry point."""
    from zoo import _cli

    define_flags()
    _cli.run(main, "zoo.export")


if __name__ == "__main__":
    sys.exit(run())
