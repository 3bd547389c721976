"""Train-step throughput (graph mode) of the zoo's resnet50 vs keras.applications'."""

import keras
import numpy as np
import tensorflow as tf

import zoo
from benchmarks import common

NAME = "resnet_vs_keras"
TITLE = "zoo ResNet-50 vs keras.applications"
NUM_CLASSES = 10
DEFAULTS = {"warmup": 3}
FLAGS = {
    "batch_size": common.flag(32, "Images per train step."),
    # keras.applications.ResNet50 refuses inputs smaller than 32x32.
    "image_size": common.flag(64, "Height and width of the RGB images (>= 32).", lower_bound=32),
    "steps": common.flag(5, "Timed train steps per repeat."),
}
QUICK = {"repeats": 2, "steps": 2, "warmup": 1, "image_size": 32, "batch_size": 8}
log = common.logger(NAME)


def _layers(model, kind):
    return [layer for layer in model._flatten_layers() if isinstance(layer, kind)
            and not isinstance(layer, keras.layers.DepthwiseConv2D)]


def _zoo_resnet50(fused=True, matmul_path=True, **kwargs):
    def build(input_shape):
        model = zoo.create_model("resnet50", num_classes=NUM_CLASSES, input_shape=input_shape,
                                 **kwargs)
        # Attributes of the zoo's layers: False runs Keras' own BatchNormalization
        # call and convolution, the references they are tested equal to.
        for layer in _layers(model, keras.layers.BatchNormalization):
            layer.fused = fused
        for layer in _layers(model, keras.layers.Conv2D):
            layer.matmul_path = matmul_path
        return model
    return build


# key, label, builder. The first is the baseline every ratio divides by.
MODELS = (
    ("keras_resnet50", "keras.applications.ResNet50 (v1)",
     lambda shape: keras.applications.ResNet50(weights=None, input_shape=shape,
                                               classes=NUM_CLASSES, classifier_activation=None)),
    ("zoo_resnet50_v1", "zoo resnet50, stride_in_1x1=True (v1)",
     _zoo_resnet50(stride_in_1x1=True)),
    ("zoo_resnet50_v1_5", "zoo resnet50, default (v1.5)", _zoo_resnet50()),
    ("zoo_resnet50_v1_keras_bn", "zoo resnet50 v1, Keras BatchNormalization ops (fused=False)",
     _zoo_resnet50(fused=False, stride_in_1x1=True)),
    ("zoo_resnet50_v1_keras_conv", "zoo resnet50 v1, Keras convolutions (matmul_path=False)",
     _zoo_resnet50(matmul_path=False, stride_in_1x1=True)),
)
BASELINE = MODELS[0][0]


def batchnorm_kernels(model, images):
    """BatchNorm and Conv2D layers, and the fused BatchNorm and matmul convolutions among them."""
    graph = tf.function(lambda x: model(x, training=True)).get_concrete_function(images).graph
    ops = [op.type for op in graph.get_operations()]
    convs = len(_layers(model, keras.layers.Conv2D))
    return {"batchnorm_layers": len(_layers(model, keras.layers.BatchNormalization)),
            "fused_batchnorm_ops": ops.count("FusedBatchNormV3"), "conv_layers": convs,
            "convolutions_as_matmul": convs - ops.count("Conv2D")}


def time_train_steps(models, device, batch_size, image_size, repeats, steps, warmup, seed,
                     log):
    """Rows (one per `(key, label, build)` of `models`) and images/s per repeat, by key.

    Each model trains on the same batch on `device`, graph mode, in interleaved repeats.
    """
    rng = np.random.default_rng(seed)
    with tf.device(common.tf_device(device)):
        images = tf.constant(rng.standard_normal((batch_size, image_size, image_size, 3)),
                             tf.float32)
        labels = tf.constant(rng.integers(0, NUM_CLASSES, size=(batch_size,)), tf.int32)
    built, candidates = {}, {}
    for key, label, build in models:
        keras.utils.set_random_seed(seed)
        model, build_s = common.timed(build, (image_size, image_size, 3))
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=False)
        built[key] = (model, label, build_s)
        candidates[key] = lambda m=model: m.train_on_batch(images, labels)
        log(f"built {key}: {model.count_params():,} params")
    timings = common.time_repeats(candidates, steps=steps, repeats=repeats, warmup=warmup, log=log)
    ips = {key: common.throughputs(t["repeat_s"], batch_size * steps) for key, t in timings.items()}
    rows = [{"name": key, "label": label, "params": int(model.count_params()),
             # Observed after the run, not assumed from the compile() call.
             "jit_compile": bool(model.jit_compile), "run_eagerly": bool(model.run_eagerly),
             **batchnorm_kernels(model, images), "build_s": build_s,
             "compile_s": timings[key]["first_step_s"], "repeat_s": timings[key]["repeat_s"],
             "images_per_s": common.summarize(ips[key]), "images_per_s_per_repeat": ips[key]}
            for key, (model, label, build_s) in built.items()]
    return rows, ips


def run(output_dir, batch_size, image_size, repeats, steps, warmup, seed):
    """Runs the benchmark and writes the results; returns the result dict."""
    config, device = common.arguments(locals()), common.device_info()
    rows, ips = time_train_steps(MODELS, device, batch_size, image_size, repeats, steps, warmup,
                                 seed, log)
    config["mode"] = ("Model.train_on_batch, graph mode, no XLA (jit_compile=False); "
                      "SGD(0.01, momentum=0.9)")
    result = {**common.envelope(NAME, "train-step throughput of zoo resnet50 vs "
                                "keras.applications.ResNet50", config, device), "models": rows,
              "ratios": {f"{key}/{BASELINE}": common.ratio_stats(ips[key], ips[BASELINE])
                         for key, _, _ in MODELS[1:]}}
    return common.publish(NAME, result, output_dir, markdown, summary)


def markdown(result):
    """The report: context, one row per model."""
    cfg = result["config"]
    rows = [[m["label"], f"{m['params']:,}",
             f"{m['fused_batchnorm_ops']} of {m['batchnorm_layers']}",
             f"{m['convolutions_as_matmul']} of {m['conv_layers']}", f"{m['compile_s']:.2f}",
             *(f"{m['images_per_s'][k]:.1f}" for k in ("median", "min", "max")),
             common.ratio_cell(result["ratios"].get(f"{m['name']}/{BASELINE}"), 3)
             if m["name"] != BASELINE else "1 (baseline)"] for m in result["models"]]
    return "\n".join(common.header(
        "zoo resnet50 vs keras.applications.ResNet50: train-step throughput", result,
        f"- {cfg['mode']}; batch {cfg['batch_size']} x {cfg['image_size']}x"
        f"{cfg['image_size']}x3") + [common.markdown_table(
            ["model", "params", "fused BatchNorm ops", "convs as matmul", "first step s",
             "img/s median", "img/s min", "img/s max", "vs keras: median (min–max)"],
            rows, align="lrrrrrrrr"), "", "Ratios within each repeat; > 1: zoo is faster."]) + "\n"


def summary(result):
    """Each model's images/s and its ratio to keras'."""
    models = {m.get("name"): m for m in result.get("models") or [] if isinstance(m, dict)}
    rows, items = [], []
    for name, m in models.items():
        ratio = (result.get("ratios") or {}).get(f"{name}/{BASELINE}")
        if name == BASELINE or ratio:
            rows.append([m.get("label", name), common.number_cell(
                (m.get("images_per_s") or {}).get("median"), 1),
                "1 (baseline)" if name == BASELINE else common.ratio_cell(ratio, 3)])
        if ratio:
            items.append(common.summary_item(NAME, f"{name}/{BASELINE}", f"{m.get('label', name)}"
                                             " / keras images/s", ratio, "> 1: zoo faster"))
    return common.headline(TITLE, ["model", "train img/s median", "vs keras median (min–max)"],
                           rows, "lrr", "Train-step images/s, graph mode; > 1: the zoo model "
                           "is faster.", items)


if __name__ == "__main__":
    common.main(__name__)
