"""Convert a saved model to another format: `python -m zoo.export`.

Examples:

    # weights-only file + the constructor arguments it was trained with
    python -m zoo.export --model=resnet20 --num_classes=10 --input_shape=32,32,1 \\
        --weights=out/resnet20.weights.h5 --out=out/resnet20_serving --version=1

    # a whole model (.keras or .h5) to TFLite with float16 weights
    python -m zoo.export --weights=out/text_rnn.keras --out=out/text_rnn.tflite \\
        --quantization=float16

SavedModel and TFLite exports fold each BatchNorm into its convolution
(`--fold_batchnorm`, the default); `--nofold_batchnorm` keeps them.

The format comes from `--out`'s suffix unless `--format` is given (and then
they must agree). Every flag is checked before anything is loaded or built
(`check_flags`); a bad one exits with status 2, a usage line and the reason.
"""

import collections
import json
import sys

from absl import app, flags

FLAGS = flags.FLAGS

# What `check_flags` found: the source's format, the output's format and
# target path, the save options and the --model constructor overrides.
Plan = collections.namedtuple(
    "Plan", ["source_format", "out_format", "target", "options", "model_arguments"])


def define_flags(flag_values=FLAGS):
    """Defines the export flags on `flag_values`.

    Called by `run()`, not at import (as `zoo.train`'s): tests parse flags
    into a fresh `flags.FlagValues`, and flags defined on the global FLAGS at
    import would clash with another program's flags of the same names.
    """
    flags.DEFINE_string("model", None, "Registered model name; needed when --weights holds "
                        "weights only (.weights.h5).", flag_values=flag_values)
    flags.DEFINE_string("weights", None, "A .keras, .h5 (zoo whole model) or .weights.h5 "
                        "file.", flag_values=flag_values)
    flags.DEFINE_string("out", None, "Where to write: a file (.keras, .h5, .weights.h5, "
                        ".tflite) or a directory (SavedModel).", flag_values=flag_values)
    flags.DEFINE_enum("format", None, ["keras", "h5", "weights", "saved_model", "tflite"],
                      "Output format (default: from --out; must agree with its suffix).",
                      flag_values=flag_values)
    flags.DEFINE_boolean("overwrite", False, "Replace --out if it exists (a file of the "
                         "same format, or a SavedModel directory).", flag_values=flag_values)
    flags.DEFINE_integer("num_classes", None, "Constructor argument of --model.",
                         lower_bound=1, flag_values=flag_values)
    flags.DEFINE_list("input_shape", None, "Constructor argument of --model, e.g. 32,32,1.",
                      flag_values=flag_values)
    flags.DEFINE_string("model_args", None, "More constructor arguments of --model as JSON, "
                        'e.g. \'{"max_tokens": 20000}\'.', flag_values=flag_values)
    flags.DEFINE_integer("version", None, "SavedModel: write the TensorFlow Serving layout "
                         "OUT/VERSION/.", lower_bound=1, flag_values=flag_values)
    flags.DEFINE_enum("quantization", None, ["float16", "int8"],
                      "TFLite post-training quantization (default: float).",
                      flag_values=flag_values)
    flags.DEFINE_integer("sequence_length", None, "TFLite, text models: the static token "
                         "length of the exported integer-token model.", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_boolean("fold_batchnorm", True, "SavedModel and TFLite: fold each "
                         "BatchNorm into the convolution before it (an inference graph; "
                         "--nofold_batchnorm keeps them).", flag_values=flag_values)
    flags.mark_flags_as_required(["weights", "out"], flag_values=flag_values)


def model_arguments(flag_values=FLAGS):
    """Constructor overrides from --num_classes, --input_shape and --model_args.

    Raises:
        app.UsageError: --model_args is not a JSON object, --input_shape not
            positive integers (or None).
    """
    arguments = {}
    if flag_values.model_args is not None:
        try:
            arguments = json.loads(flag_values.model_args)
        except json.JSONDecodeError as error:
            raise app.UsageError(f"--model_args is not valid JSON ({error}): "
                                 f"--model_args={flag_values.model_args!r}") from None
        if not isinstance(arguments, dict):
            raise app.UsageError(f"--model_args must be a JSON object, received "
                                 f"--model_args={flag_values.model_args!r}")
    for name in ("num_classes", "input_shape"):
        if name in arguments and getattr(flag_values, name) is not None:
            raise app.UsageError(f"--model_args sets {name!r} and so does --{name}: "
                                 "give it once")
    if flag_values.num_classes is not None:
        arguments["num_classes"] = flag_values.num_classes
    if flag_values.input_shape is not None:
        arguments["input_shape"] = _input_shape(flag_values.input_shape)
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
    """Checks every flag, and the files they name, before anything is loaded.

    Returns:
        A `Plan`.

    Raises:
        app.UsageError: the first flag that is wrong, named with its value.
    """
    import zoo
    import zoo.export
    from zoo.export import fold

    source, out = flag_values.weights, flag_values.out
    for name, value in (("weights", source), ("out", out)):
        if value is None or not value.strip():
            raise app.UsageError(f"--{name} must name a file or directory, received "
                                 f"--{name}={value!r}")
    try:
        source_format = zoo.export.format_from_path(source)
    except ValueError as error:
        raise app.UsageError(f"--weights={source}: {error}") from None
    if source_format not in ("keras", "h5", "weights"):
        raise app.UsageError(f"--weights must be a .keras, .h5 or .weights.h5 file, "
                             f"received --weights={source}")
    _check_source_file(source, source_format)

    whole_model = source_format in ("keras", "h5")
    constructor_flags = [f"--{name}" for name in ("model", "num_classes", "input_shape",
                                                   "model_args")
                         if getattr(flag_values, name) is not None]
    if whole_model and constructor_flags:
        raise app.UsageError(f"--weights={source} holds a whole model; drop "
                             f"{', '.join(constructor_flags)}")
    arguments = {}
    if not whole_model:
        if not flag_values.model:
            raise app.UsageError(f"--weights={source} holds weights only: name the "
                                 "architecture with --model (and its constructor flags)")
        if flag_values.model not in zoo.list_models():
            raise app.UsageError(f"--model must be a registered model, one of "
                                 f"{zoo.list_models()}, received --model={flag_values.model!r}")
        arguments = model_arguments(flag_values)

    options = _save_options(flag_values)
    try:
        out_format, target = zoo.export.check_save_target(
            out, flag_values.format, flag_values.overwrite, **options)
    except (ValueError, TypeError, FileExistsError) as error:
        raise app.UsageError(f"--out={out}: {error}") from None
    _check_options_fit(flag_values, out_format)
    if out_format in fold.FORMATS:
        options["fold_batchnorm"] = flag_values.fold_batchnorm
    return Plan(source_format, out_format, target, options, arguments)


def _check_source_file(source, source_format):
    import zoo.export._files as files

    try:
        files.check_regular_file(source, f"{source_format} file")
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(f"--weights={source}: {error}") from None


def _save_options(flag_values):
    names = ("version", "quantization", "sequence_length")
    return {name: getattr(flag_values, name) for name in names
            if getattr(flag_values, name) is not None}


def _check_options_fit(flag_values, out_format):
    """Refuses format options that the output format does not take."""
    takes = {"version": "saved_model", "quantization": "tflite", "sequence_length": "tflite"}
    for name, format in takes.items():
        value = getattr(flag_values, name)
        if value is not None and out_format != format:
            raise app.UsageError(f"--{name}={value} applies to --format={format} only; "
                                 f"--out={flag_values.out} is {out_format}")
    from zoo.export import fold

    # A boolean has a value either way: only an explicit one is refused.
    if flag_values["fold_batchnorm"].present and out_format not in fold.FORMATS:
        given = "--fold_batchnorm" if flag_values.fold_batchnorm else "--nofold_batchnorm"
        raise app.UsageError(f"{given} applies to --format={' or '.join(fold.FORMATS)} only; "
                             f"--out={flag_values.out} is {out_format}")


def load_source(plan, flag_values=FLAGS):
    """The model to export: a whole-model file, or --model + weights."""
    import zoo
    import zoo.export

    if plan.source_format in ("keras", "h5"):
        return zoo.export.load(flag_values.weights)
    model = zoo.create_model(flag_values.model, **plan.model_arguments)
    if getattr(model, "needs_adapt", False):
        # What `adapt` learns (a text model's vocabulary) is not a weight.
        raise app.UsageError(
            f"--model={flag_values.model} keeps what it learns from its inputs (e.g. a "
            "vocabulary) outside the weights: export from its .keras or .h5 file instead "
            "of a .weights.h5")
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
        written = zoo.export.save(model, FLAGS.out, format=plan.out_format,
                                  overwrite=FLAGS.overwrite, **plan.options)
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
