"""Convert a saved model to another format: `python -m zoo.export`.

Examples:

    # weights-only file + the constructor arguments it was trained with
    python -m zoo.export --model=resnet20 --num_classes=10 --input_shape=32,32,1 \\
        --weights=out/resnet20.weights.h5 --out=out/resnet20_serving --version=1

    # a whole model (.keras or .h5) to TFLite with float16 weights
    python -m zoo.export --weights=out/text_rnn.keras --out=out/text_rnn.tflite \\
        --quantization=float16

The format comes from `--out`'s suffix unless `--format` is given.
"""

import json
import sys

from absl import app, flags

FLAGS = flags.FLAGS

flags.DEFINE_string("model", None, "Registered model name; needed when --weights holds "
                    "weights only (.weights.h5).")
flags.DEFINE_string("weights", None, "A .keras, .h5 (zoo whole model) or .weights.h5 file.")
flags.DEFINE_string("out", None, "Where to write: a file (.keras, .h5, .weights.h5, "
                    ".tflite) or a directory (SavedModel).")
flags.DEFINE_enum("format", None, ["keras", "h5", "weights", "saved_model", "tflite"],
                  "Output format (default: from --out).")
flags.DEFINE_boolean("overwrite", False, "Replace --out if it exists.")
flags.DEFINE_integer("num_classes", None, "Constructor argument of --model.", lower_bound=1)
flags.DEFINE_list("input_shape", None, "Constructor argument of --model, e.g. 32,32,1.")
flags.DEFINE_string("model_args", None, "More constructor arguments of --model as JSON, "
                    'e.g. \'{"max_tokens": 20000}\'.')
flags.DEFINE_integer("version", None, "SavedModel: write the TensorFlow Serving layout "
                     "OUT/VERSION/.", lower_bound=1)
flags.DEFINE_enum("quantization", None, ["float16", "int8"],
                  "TFLite post-training quantization (default: float).")
flags.DEFINE_integer("sequence_length", None, "TFLite, text models: the static token "
                     "length of the exported integer-token model.", lower_bound=1)
flags.mark_flags_as_required(["weights", "out"])


def model_arguments():
    """Constructor overrides from --num_classes, --input_shape and --model_args."""
    arguments = {}
    if FLAGS.model_args:
        try:
            arguments = json.loads(FLAGS.model_args)
        except json.JSONDecodeError as error:
            raise app.UsageError(f"--model_args is not valid JSON ({error}): "
                                 f"{FLAGS.model_args!r}") from None
        if not isinstance(arguments, dict):
            raise app.UsageError(f"--model_args must be a JSON object, received "
                                 f"{FLAGS.model_args!r}")
    if FLAGS.num_classes is not None:
        arguments["num_classes"] = FLAGS.num_classes
    if FLAGS.input_shape is not None:
        try:
            arguments["input_shape"] = tuple(
                None if d.lower() == "none" else int(d) for d in FLAGS.input_shape)
        except ValueError:
            raise app.UsageError(f"--input_shape must be integers, e.g. 32,32,1, received "
                                 f"{','.join(FLAGS.input_shape)!r}") from None
    return arguments


def load_source():
    """The model to export: a whole-model file, or --model + weights."""
    import zoo
    import zoo.export

    source_format = zoo.export.format_from_path(FLAGS.weights)
    if source_format in ("keras", "h5"):
        if FLAGS.model or FLAGS.num_classes or FLAGS.input_shape or FLAGS.model_args:
            raise app.UsageError(
                f"--weights={FLAGS.weights} holds a whole model; drop --model and its "
                "constructor flags")
        return zoo.export.load(FLAGS.weights)
    if source_format != "weights":
        raise app.UsageError(f"--weights must be a .keras, .h5 or .weights.h5 file, "
                             f"received --weights={FLAGS.weights}")
    if not FLAGS.model:
        raise app.UsageError(f"--weights={FLAGS.weights} holds weights only: name the "
                             "architecture with --model (and its constructor flags)")
    model = zoo.create_model(FLAGS.model, **model_arguments())
    if getattr(model, "input_signature", None) is not None and \
            model.input_signature.dtype == "string":
        raise app.UsageError(
            f"--model={FLAGS.model} keeps its vocabulary outside the weights: export "
            "from its .keras or .h5 file instead of a .weights.h5")
    return zoo.export.load_weights(model, FLAGS.weights)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected positional arguments: {argv[1:]}")
    import zoo.export
    from zoo import _launch, ops

    print(f"zoo.export: {ops.describe()} ({_launch.decision})")
    options = {}
    if FLAGS.version is not None:
        options["version"] = FLAGS.version
    if FLAGS.quantization is not None:
        options["quantization"] = FLAGS.quantization
    if FLAGS.sequence_length is not None:
        options["sequence_length"] = FLAGS.sequence_length
    try:
        if FLAGS.format is None:
            zoo.export.format_from_path(FLAGS.out)  # a bad --out fails before any loading
        model = load_source()
        written = zoo.export.save(model, FLAGS.out, format=FLAGS.format,
                                  overwrite=FLAGS.overwrite, **options)
    except (ValueError, FileExistsError, FileNotFoundError, TypeError) as error:
        raise app.UsageError(str(error)) from None
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(app.run(main))
