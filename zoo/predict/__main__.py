"""Name the classes of image files (or texts) with a saved model: `python -m zoo.predict`.

Examples:

    python -m zoo.predict --model=runs/flowers runs/new/rose.jpg more/
    python -m zoo.predict --model=out/flowers.tflite --top=3 --json photo.jpg
    python -m zoo.predict --model=runs/reviews/best.keras "not bad at all" "dull"

Each input prints `INPUT: NAME SCORE, NAME SCORE, ...`, best first.
"""

import json
import sys

from absl import app, flags

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """Defines the flags on `flag_values` (at `run()`, not import, as zoo.train's)."""
    from zoo.export import formats

    loadable = formats.of_kind(formats.MODEL, formats.INFERENCE)
    flags.DEFINE_string("model", None, f"A saved model ({formats.describe(loadable)}), or a "
                        "training run's --model_dir.", flag_values=flag_values)
    flags.DEFINE_integer("top", 5, "Classes shown per input.", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_integer("batch_size", 32, "Inputs per model call.", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_bool("json", False, "One JSON object per input (input, predictions: name, "
                      "score, index) instead of text.", flag_values=flag_values)
    flags.mark_flag_as_required("model", flag_values=flag_values)


def main(argv):
    import zoo.predict

    inputs = argv[1:]
    if not inputs:
        raise app.UsageError("name at least one image file or folder (or text, for a text "
                             "model) after the flags")
    try:
        model = zoo.predict.load_model(FLAGS.model)
        if zoo.predict.is_text_model(model):
            labels = inputs
        else:
            inputs = labels = zoo.predict.image_files(inputs)
        results = zoo.predict.predict(model, inputs, top=FLAGS.top,
                                      batch_size=FLAGS.batch_size)
    except ValueError as error:
        message = str(error)
        if message.startswith("model="):
            message = "--" + message
        raise app.UsageError(message) from None
    for label, predictions in zip(labels, results):
        if FLAGS.json:
            print(json.dumps({"input": label, "predictions": [p._asdict() for p in predictions]}))
        else:
            print(f"{label}: " + ", ".join(f"{p.name} {p.score:.4f}" for p in predictions))
    return 0


def run():
    """`python -m zoo.predict`: usage errors exit 2."""
    from zoo import _cli

    define_flags()
    _cli.run(main, "zoo.predict")


if __name__ == "__main__":
    sys.exit(run())
