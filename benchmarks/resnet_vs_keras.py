"""Train-step throughput: zoo ResNet-50 vs keras.applications.ResNet50.

Times Keras' compiled train step (`Model.train_on_batch`: a `tf.function`
graph, `jit_compile=False`, so no XLA) on one fixed, seeded batch for

  1. keras.applications.ResNet50 (v1, the reference),
  2. zoo resnet50 with stride_in_1x1=True (the same architecture, minus the
     conv biases that BatchNormalization cancels),
  3. zoo resnet50 as built by default (v1.5: stride on the 3x3 conv, which
     costs a little more compute),
  4. zoo resnet50 v1 again with its BatchNorm layers on Keras' own ops
     (`fused=False`): the share of the difference the fused kernel makes,
  5. zoo resnet50 v1 again with Keras' convolutions in training
     (`matmul_path=False`): the share of the matrix-multiply path
     (zoo.ops.conv2d, taken where `benchmarks.conv_paths` measured it faster),

with the same optimizer (SGD 0.01, momentum 0.9) and loss (sparse categorical
cross-entropy from logits). Each model is warmed up first (its first step,
which traces and optimizes the graph, is reported separately as compile_s);
then the models take turns, A, B, C, D, E, A, B, ..., each turn timing --steps
steps, and zoo/keras ratios are taken within each repeat.

Prints a markdown table and writes resnet_vs_keras_<cpu|gpu>.json and .md to
--output_dir. Runs on the GPU when TensorFlow finds one.

Usage:
  python -m benchmarks.resnet_vs_keras                # a few minutes on CPU
  python -m benchmarks.resnet_vs_keras --quick        # smoke run, < 1 minute
"""

import time

import keras
import numpy as np
import tensorflow as tf
from absl import flags

import zoo
from benchmarks import common

NAME = "resnet_vs_keras"
MODULE = f"benchmarks.{NAME}"
NUM_CLASSES = 10
# keras.applications.ResNet50 refuses inputs smaller than 32x32.
MIN_IMAGE_SIZE = 32
# --quick: a smoke run: every model once, small batch and images, few steps.
QUICK = {"repeats": 2, "steps": 2, "warmup": 1, "image_size": 32, "batch_size": 8}
TRAIN_STEP = ("keras Model.train_on_batch: the compiled train step (tf.function graph, "
              "jit_compile=False, so no XLA; steps_per_execution=1) on one fixed batch")
TITLE = "zoo ResNet-50 vs keras.applications"
log = common.logger(NAME)


def define_flags(flag_values):
    """Defines the command-line flags on `flag_values`."""
    common.define_common_flags(flag_values, QUICK, repeats=5, warmup=3, help={
        "repeats": "Timed repeats per model, taken in turns (A, B, C, A, B, C, ...).",
        "warmup": "Untimed steps per model before timing; the first (tracing + graph "
                  "optimization) is reported as compile_s."})
    flags.DEFINE_integer("batch_size", 32, "Images per train step.", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_integer("image_size", 64, "Height and width of the square RGB images "
                         f"(>= {MIN_IMAGE_SIZE}, keras.applications' minimum).",
                         lower_bound=MIN_IMAGE_SIZE, flag_values=flag_values)
    flags.DEFINE_integer("steps", 5, "Timed train steps per repeat.", lower_bound=1,
                         flag_values=flag_values)


def check_flags(flag_values):
    """`common.check_flags` with this benchmark's --quick presets; returns the output directory."""
    return common.check_flags(flag_values, QUICK)


def run_from_flags(flag_values, output_dir):
    run(batch_size=flag_values.batch_size, image_size=flag_values.image_size,
        repeats=flag_values.repeats, steps=flag_values.steps, warmup=flag_values.warmup,
        seed=flag_values.seed, output_dir=output_dir)


def _keras_resnet50(input_shape):
    return keras.applications.ResNet50(
        weights=None, input_shape=input_shape, classes=NUM_CLASSES,
        classifier_activation=None)


def _zoo_resnet50(fused_batchnorm=True, matmul_path=True, **kwargs):
    def build(input_shape):
        model = zoo.create_model("resnet50", num_classes=NUM_CLASSES,
                                 input_shape=input_shape, **kwargs)
        # `fused` is an attribute of the zoo's BatchNorm: False runs Keras'
        # own BatchNormalization call, the reference the fused kernel is
        # tested equal to. `matmul_path`, of the zoo's Conv2D: False runs
        # Keras' convolution in training too.
        for layer in _batchnorm_layers(model):
            layer.fused = fused_batchnorm
        for layer in _conv_layers(model):
            layer.matmul_path = matmul_path
        return model
    return build


def _batchnorm_layers(model):
    return [layer for layer in model._flatten_layers()
            if isinstance(layer, keras.layers.BatchNormalization)]


def _conv_layers(model):
    return [layer for layer in model._flatten_layers()
            if isinstance(layer, keras.layers.Conv2D)
            and not isinstance(layer, keras.layers.DepthwiseConv2D)]


def batchnorm_kernels(model, images):
    """How the model's train-mode forward pass normalizes and convolves, read
    off its graph: the number of BatchNorm layers and of `FusedBatchNormV3`
    ops (0: Keras' separate ops), and the number of Conv2D layers and of
    those computed as a matrix multiply (no `Conv2D` op; zoo.ops.conv2d)."""
    graph = tf.function(lambda x: model(x, training=True)).get_concrete_function(images).graph
    op_types = [op.type for op in graph.get_operations()]
    conv_layers = len(_conv_layers(model))
    return {"batchnorm_layers": len(_batchnorm_layers(model)),
            "fused_batchnorm_ops": op_types.count("FusedBatchNormV3"),
            "conv_layers": conv_layers,
            "convolutions_as_matmul": conv_layers - op_types.count("Conv2D")}


# key, label, builder. The first is the baseline every ratio divides by.
MODELS = (
    ("keras_resnet50", "keras.applications.ResNet50 (v1)", _keras_resnet50),
    ("zoo_resnet50_v1", "zoo resnet50, stride_in_1x1=True (v1)",
     _zoo_resnet50(stride_in_1x1=True)),
    ("zoo_resnet50_v1_5", "zoo resnet50, default (v1.5)", _zoo_resnet50()),
    # The same v1 model with Keras' own (unfused) BatchNormalization ops: what
    # the fused kernel (zoo.ops.batch_norm_training) contributes.
    ("zoo_resnet50_v1_keras_bn", "zoo resnet50 v1, Keras BatchNormalization ops (fused=False)",
     _zoo_resnet50(fused_batchnorm=False, stride_in_1x1=True)),
    # The same v1 model with Keras' convolutions in training: what the
    # matrix-multiply path (zoo.ops.conv2d) contributes.
    ("zoo_resnet50_v1_keras_conv", "zoo resnet50 v1, Keras convolutions (matmul_path=False)",
     _zoo_resnet50(matmul_path=False, stride_in_1x1=True)),
)
BASELINE = MODELS[0][0]


def make_batch(batch_size, image_size, seed, device):
    """One fixed batch of seeded random images and labels, on `device`."""
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((batch_size, image_size, image_size, 3)).astype("float32")
    labels = rng.integers(0, NUM_CLASSES, size=(batch_size,)).astype("int32")
    with tf.device(device):
        return tf.identity(images), tf.identity(labels)


def build_and_compile(builder, input_shape, seed):
    """Builds one model with seeded initializers and compiles its train step."""
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    model = builder(input_shape)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )
    return model, time.perf_counter() - start


def run(batch_size, image_size, repeats, steps, warmup, seed, output_dir):
    """Runs the benchmark and writes the results; returns the result dict."""
    device = common.device_info()
    tf_device = common.tf_device(device)
    log(f"device: {device['kind']} ({device['name']}); kernels: {device['kernels']}")
    input_shape = (image_size, image_size, 3)
    images, labels = make_batch(batch_size, image_size, seed, tf_device)

    models, candidates = {}, {}
    for key, label, builder in MODELS:
        model, build_s = build_and_compile(builder, input_shape, seed)
        models[key] = {"model": model, "label": label, "build_s": build_s}
        # Bind `model` now: a bare lambda would see the loop's last model.
        candidates[key] = (lambda m=model: m.train_on_batch(images, labels))
        log(f"built {key}: {model.count_params():,} params in {build_s:.1f} s")

    timings = common.time_repeats(candidates, steps=steps, repeats=repeats,
                                  warmup=warmup, log=log)

    per_repeat_ips = {key: common.throughputs(timings[key]["repeat_s"], batch_size * steps)
                      for key in candidates}
    model_rows = []
    for key, entry in models.items():
        model = entry["model"]
        model_rows.append({
            "name": key,
            "label": entry["label"],
            "class": f"{type(model).__module__}.{type(model).__name__}",
            "params": int(model.count_params()),
            "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
            # Observed after the run, not assumed from the compile() call.
            "jit_compile": bool(model.jit_compile),
            **batchnorm_kernels(model, images),
            "run_eagerly": bool(model.run_eagerly),
            "build_s": entry["build_s"],
            "compile_s": timings[key]["first_step_s"],
            "warmup_s": timings[key]["warmup_s"],
            "repeat_s": timings[key]["repeat_s"],
            "images_per_s": common.summarize(per_repeat_ips[key]),
            "images_per_s_per_repeat": per_repeat_ips[key],
        })

    ratios = {}
    baseline = per_repeat_ips[BASELINE]
    for key in list(candidates)[1:]:
        per_repeat = common.per_repeat_ratios(per_repeat_ips[key], baseline)
        ratios[f"{key}/{BASELINE}"] = {
            **common.summarize(per_repeat),
            "per_repeat": per_repeat,
            "of_medians": (common.summarize(per_repeat_ips[key])["median"]
                           / common.summarize(baseline)["median"]),
        }

    config = {
        "batch_size": batch_size,
        "image_size": image_size,
        "repeats": repeats,
        "steps": steps,
        "warmup": warmup,
        "seed": seed,
        "num_classes": NUM_CLASSES,
        "optimizer": "SGD(learning_rate=0.01, momentum=0.9)",
        "loss": "SparseCategoricalCrossentropy(from_logits=True)",
        "train_step": TRAIN_STEP,
        "mode": "graph mode, no XLA (jit_compile=False)",
        "order": "first step of each model, then warm-up and timed repeats interleaved A, B, "
                 "C, A, B, C, ...",
    }
    result = {**common.envelope(NAME, "train-step throughput of zoo resnet50 vs "
                                "keras.applications.ResNet50", device, config),
              "models": model_rows, "ratios": ratios}
    common.publish(NAME, result, render_markdown(result), output_dir, summary=summary)
    return result


def _ratio_cell(stats):
    return f"{stats['median']:.3f} ({stats['min']:.3f}–{stats['max']:.3f})"


def render_markdown(result):
    """The report: context lines, the per-model table and how to read it."""
    cfg, dev, ver = result["config"], result["device"], result["versions"]
    rows = []
    for m in result["models"]:
        ips = m["images_per_s"]
        ratio = result["ratios"].get(f"{m['name']}/{BASELINE}")
        rows.append([
            m["label"],
            f"{m['params']:,}",
            f"{m['fused_batchnorm_ops']} of {m['batchnorm_layers']}",
            f"{m.get('convolutions_as_matmul', 0)} of {m.get('conv_layers', '?')}",
            f"{m['compile_s']:.2f}",
            f"{ips['median']:.1f}",
            f"{ips['min']:.1f}",
            f"{ips['max']:.1f}",
            _ratio_cell(ratio) if ratio else "1 (baseline)",
        ])
    table = common.markdown_table(
        ["model", "params", "fused BatchNorm ops", "convs as matmul", "first step s",
         "img/s median", "img/s min", "img/s max", "vs keras: median (min–max)"],
        rows, align="lrrrrrrrr")
    threads = dev["threads"]
    lines = [
        "# zoo resnet50 vs keras.applications.ResNet50: train-step throughput",
        "",
        f"- device: {dev['kind']}, {dev['name']}"
        + ("" if dev["gpu_found"] else " (no GPU found)")
        + f"; kernels: {dev['kernels']}",
        f"- threads: intra_op={threads['intra_op']}, inter_op={threads['inter_op']} "
        f"(0 = TF default), usable CPUs: {threads['usable_cpus']}",
        f"- versions: TensorFlow {ver['tensorflow']}, Keras {ver['keras']} "
        f"({ver['keras_backend']}), Python {ver['python']}",
        f"- step: {cfg['train_step']}",
        f"- batch {cfg['batch_size']} x {cfg['image_size']}x{cfg['image_size']}x3, "
        f"{cfg['optimizer']}, {cfg['loss']}",
        f"- {cfg['warmup']} warm-up step(s) per model (the first reported as \"first step s\": "
        f"tracing + graph optimization + one step), then {cfg['repeats']} repeats x "
        f"{cfg['steps']} timed steps; warm-up and repeats interleaved A, B, C, A, B, C, ...",
        f"- {result['timestamp']}, `{result['command']}`",
        "",
        table,
        "",
        "Ratios are zoo/keras images/s taken within each repeat (> 1: zoo is faster); "
        "the median of those, with min and max. The zoo models have no conv biases "
        "(BatchNormalization cancels them), hence fewer params; v1.5 puts the stride "
        "on the 3x3 conv and costs more FLOPs than v1. \"fused BatchNorm ops\": "
        "FusedBatchNormV3 ops in the model's train-mode graph, of its BatchNormalization "
        "layers (the zoo's BatchNorm takes TensorFlow's fused kernel; with fused=False, "
        "and in keras.applications, Keras computes moments and normalization op by op). "
        "\"convs as matmul\": Conv2D layers whose train-mode forward pass has no Conv2D op: "
        "the zoo's Conv2D computes them as one matrix multiply (zoo.ops.conv2d, where "
        "benchmarks.conv_paths measured it faster); with matmul_path=False, and in "
        "keras.applications, every one is TensorFlow's convolution.",
    ]
    return "\n".join(lines) + "\n"


def summary(result):
    """What `benchmarks.report` shows: each model's images/s and its ratio to keras'."""
    models = {m.get("name"): m for m in result.get("models") or [] if isinstance(m, dict)}
    rows, items = [], []
    for key, ratio in (result.get("ratios") or {}).items():
        model = models.get(key.split("/")[0], {})
        label = model.get("label", key.split("/")[0])
        rows.append([label, common.number_cell((model.get("images_per_s") or {}).get("median"),
                                               1), common.ratio_cell(ratio, 3)])
        items.append(common.summary_item(NAME, key, f"{label} / keras images/s", ratio,
                                         "> 1: zoo faster"))
    if models:
        baseline = next(iter(models.values()))
        rows.insert(0, [baseline.get("label", next(iter(models))),
                        common.number_cell((baseline.get("images_per_s") or {}).get("median"),
                                           1), "1 (baseline)"])
    if not rows:
        return {"title": TITLE, "markdown": "No models in the result.", "items": items,
                "chart": None}
    if not items:
        rows.append(["(no zoo/keras ratios in the result)", "", ""])
    markdown = "\n".join([
        common.markdown_table(["model", "train img/s median", "vs keras median (min–max)"],
                              rows, align="lrr"),
        "", "Train-step images/s, graph mode; > 1: the zoo model is faster."])
    return {"title": TITLE, "markdown": markdown, "items": items, "chart": None}


if __name__ == "__main__":
    common.main(MODULE, define_flags, check_flags, run_from_flags)
