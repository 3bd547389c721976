"""Train-step throughput (graph mode) of each zoo family vs its keras.applications twin.

A model's twin is the network its record names as `reference`
(`zoo.model_info(name).reference`, e.g. "keras.applications.DenseNet121"):
the same architecture, proven by the family's parameter-count and port tests.
"""

import keras

import zoo
from benchmarks import common
from benchmarks.resnet_vs_keras import time_train_steps

NAME = "vs_keras"
TITLE = "zoo vs keras.applications, per family"
NUM_CLASSES = 10
PREFIX = "keras.applications."


def twin_models():
    """The benchmarked models whose record names a keras.applications twin."""
    return [name for name in common.default_models()
            if (zoo.model_info(name).reference or "").startswith(PREFIX)]


def _with_twin(name):
    return zoo.registry.model_family(name) is not None and \
        (zoo.model_info(name).reference or "").startswith(PREFIX)


DEFAULTS = {"warmup": 3}
FLAGS = {
    "models": common.flag(twin_models, "Zoo models to measure, each against its twin; "
                          "default: the benchmarked ones with a keras.applications twin.",
                          kind="list", choices=lambda: list(filter(_with_twin,
                                                                   common.registered_models()))),
    "batch_size": common.flag(32, "Images per train step."),
    # keras.applications refuses inputs smaller than 32x32.
    "image_size": common.flag(64, "Height and width of the RGB images (>= 32).", lower_bound=32),
    "steps": common.flag(5, "Timed train steps per repeat."),
}
QUICK = {"repeats": 2, "steps": 2, "warmup": 1, "image_size": 32, "batch_size": 8,
         # The twin with the fewest parameters.
         "models": lambda: [min(twin_models(), key=lambda n: zoo.model_info(n).params)]}
log = common.logger(NAME)


def _builders(name):
    """(keras twin's label, its builder, the zoo model's builder) for registered `name`."""
    reference = zoo.model_info(name).reference
    keras_class = getattr(keras.applications, reference[len(PREFIX):])

    def twin(shape):
        return keras_class(weights=None, input_shape=shape, classes=NUM_CLASSES,
                           classifier_activation=None)

    def ours(shape):
        return zoo.create_model(name, num_classes=NUM_CLASSES, input_shape=shape)
    return reference, twin, ours


def run(output_dir, models, batch_size, image_size, repeats, steps, warmup, seed):
    """Runs the benchmark and writes the results; returns the result dict."""
    config, device = common.arguments(locals()), common.device_info()
    pairs = []
    for name in models:
        reference, twin, ours = _builders(name)
        pairs += [(f"keras/{name}", reference, twin), (f"zoo/{name}", f"zoo {name}", ours)]
    rows, ips = time_train_steps(pairs, device, batch_size, image_size, repeats, steps, warmup,
                                 seed, log)
    config["mode"] = ("Model.train_on_batch, graph mode, no XLA (jit_compile=False); "
                      "SGD(0.01, momentum=0.9)")
    result = {**common.envelope(NAME, "train-step throughput of each zoo family vs its "
                                "keras.applications twin", config, device), "models": rows,
              "ratios": {name: common.ratio_stats(ips[f"zoo/{name}"], ips[f"keras/{name}"])
                         for name in models}}
    return common.publish(NAME, result, output_dir, markdown, summary)


def markdown(result):
    """The report: context, one row per model, zoo beside its twin."""
    cfg = result["config"]
    rows = [[m["label"], f"{m['params']:,}",
             f"{m['fused_batchnorm_ops']} of {m['batchnorm_layers']}",
             f"{m['convolutions_as_matmul']} of {m['conv_layers']}", f"{m['compile_s']:.2f}",
             *(f"{m['images_per_s'][k]:.1f}" for k in ("median", "min", "max")),
             common.ratio_cell(result["ratios"][m["name"][4:]], 3)
             if m["name"].startswith("zoo/") else "1 (twin)"] for m in result["models"]]
    return "\n".join(common.header(
        "zoo vs keras.applications: train-step throughput per family", result,
        f"- {cfg['mode']}; batch {cfg['batch_size']} x {cfg['image_size']}x"
        f"{cfg['image_size']}x3") + [common.markdown_table(
            ["model", "params", "fused BatchNorm ops", "convs as matmul", "first step s",
             "img/s median", "img/s min", "img/s max", "vs twin: median (min–max)"],
            rows, align="lrrrrrrrr"), "", "Ratios within each repeat; > 1: zoo is faster. "
            "Parameter counts differ only where keras.applications has conv biases the zoo "
            "folds away."]) + "\n"


def summary(result):
    """Each family's ratio to its twin."""
    models = {m.get("name"): m for m in result.get("models") or [] if isinstance(m, dict)}
    rows, items = [], []
    for name, ratio in (result.get("ratios") or {}).items():
        twin = models.get(f"keras/{name}", {})
        rows.append([name, twin.get("label", "?"), common.ratio_cell(ratio, 3)])
        items.append(common.summary_item(NAME, name, f"zoo {name} / {twin.get('label', '?')} "
                                         "images/s", ratio, "> 1: zoo faster"))
    return common.headline(TITLE, ["zoo model", "keras.applications twin",
                                   "vs twin median (min–max)"], rows, "llr",
                           "Train-step images/s, graph mode; > 1: the zoo model is faster.",
                           items)


if __name__ == "__main__":
    common.main(__name__)
