"""Convolution train steps: Keras' convolution vs the same convolution as one matrix multiply.

For every distinct convolution of the --models at each of --image_sizes
(read off the built models' `zoo.blocks.Conv2D` layers: input shape,
kernel, stride, padding), times a train step of that one convolution (the
forward pass and both gradients, kernel and input, for a fixed random
upstream gradient) computed two ways, in turns and after a warm-up:

  - conv: `keras.ops.conv`, TensorFlow's `Conv2D` with
    `Conv2DBackpropInput` and `Conv2DBackpropFilter`;
  - matmul: `zoo.ops.conv2d_as_matmul`, image patches times the kernel
    (`MatMul`, with two `MatMul`s for the gradients).

Each shape's speedup is conv time / matmul time taken within each repeat
(> 1: the matmul is faster). The report scores the rule the zoo picks paths
by (`zoo.ops.conv.MATMUL_RULES`, chosen from these measurements) against
every shape: how often it picked the faster path, which shapes it missed,
and the summed step time of all shapes on convolutions, on its picks and on
the faster path of each.

Run it once per kernel library: `python -m benchmarks.conv_paths` runs
oneDNN's (the zoo's CLIs turn it on, on x86-64), and
`TF_ENABLE_ONEDNN_OPTS=0 python -m benchmarks.conv_paths` TensorFlow's own
(Eigen). Writes conv_paths_<platform>.json and .md, e.g.
conv_paths_cpu_onednn.md.

Usage:
  python -m benchmarks.conv_paths             # a few minutes on CPU
  python -m benchmarks.conv_paths --quick     # smoke run, < 1 minute
"""

import math

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

import zoo
from benchmarks import common
from zoo import blocks, ops
from zoo.ops import conv as conv_ops

NAME = "conv_paths"
MODULE = f"benchmarks.{NAME}"
QUICK = {"repeats": 2, "steps": 2, "warmup": 1, "image_sizes": ["32"], "models": ["resnet50"]}
TITLE = "Convolution train steps: Keras' conv vs one matmul"
log = common.logger(NAME)


def define_flags(flag_values):
    """Defines the command-line flags on `flag_values`."""
    common.define_common_flags(flag_values, QUICK, repeats=5, warmup=2)
    flags.DEFINE_list("models", ["resnet18", "resnet50", "mobilenet_v2"],
                      "Models whose convolutions are measured.", flag_values=flag_values)
    flags.DEFINE_list("image_sizes", ["32", "64"], "Square input sizes the models are "
                      "built for.", flag_values=flag_values)
    flags.DEFINE_integer("batch_size", 32, "Images per step.", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_integer("steps", 5, "Timed steps per repeat.", lower_bound=1,
                         flag_values=flag_values)


def check_flags(flag_values):
    """The shared checks, the models known, the image sizes positive integers."""
    output_dir = common.check_flags(flag_values, QUICK)  # --models too
    sizes = []
    for size in flag_values.image_sizes:
        if not size.strip().isdigit() or int(size) < 1:
            raise app.UsageError(
                f"--image_sizes={','.join(flag_values.image_sizes)!r}: {size!r} is not a "
                "positive integer")
        sizes.append(int(size))
    flag_values.image_sizes = [str(s) for s in dict.fromkeys(sizes)]
    return output_dir


def run_from_flags(flag_values, output_dir):
    run(models=flag_values.models, image_sizes=[int(s) for s in flag_values.image_sizes],
        batch_size=flag_values.batch_size, repeats=flag_values.repeats, steps=flag_values.steps,
        warmup=flag_values.warmup, seed=flag_values.seed, output_dir=output_dir)


def conv_shapes(model_name, image_size, batch_size):
    """The distinct convolutions of a model: dicts of input and kernel shape,
    stride and padding, in the order they run, with the layers they occur in.

    The input shapes are recorded while the model runs one image (the
    layers' `call` wrapped for that one pass), the batch set to `batch_size`.
    """
    model = zoo.create_model(model_name, num_classes=10,
                             input_shape=(image_size, image_size, 3))
    seen, original = [], blocks.Conv2D.call

    def recording_call(layer, inputs, training=None):
        seen.append((layer, tuple(inputs.shape)))
        return original(layer, inputs, training=training)

    blocks.Conv2D.call = recording_call
    try:
        model(np.zeros((1, image_size, image_size, 3), "float32"), training=False)
    finally:
        blocks.Conv2D.call = original
    shapes = {}
    for layer, input_shape in seen:
        if layer.data_format != "channels_last":
            continue
        key = ((batch_size, *input_shape[1:]), tuple(layer.kernel.shape), layer.strides[0],
               layer.padding)
        shapes.setdefault(key, []).append(layer.path)
    return [{"input_shape": k[0], "kernel_shape": k[1], "strides": k[2], "padding": k[3],
             "layers": paths} for k, paths in shapes.items()]


def _train_step(compute, inputs, kernel, upstream):
    @tf.function(jit_compile=False)
    def step():
        with tf.GradientTape() as tape:
            tape.watch([inputs, kernel])
            outputs = compute(inputs, kernel)
            loss = tf.reduce_sum(outputs * upstream)
        return tape.gradient(loss, [inputs, kernel])
    return step


def _convolution_ops(step):
    counts = common.op_type_counts(step.get_concrete_function())
    return {op: n for op, n in sorted(counts.items())
            if op.startswith(("Conv2D", "MatMul", "BatchMatMul"))}


def measure_shape(shape, repeats, steps, warmup, seed):
    """Times both paths on one convolution; returns the shape's row."""
    rng = np.random.default_rng(seed)
    inputs = tf.constant(rng.standard_normal(shape["input_shape"]).astype("float32"))
    kernel = tf.constant(rng.standard_normal(shape["kernel_shape"]).astype("float32")
                         / math.sqrt(np.prod(shape["kernel_shape"][:3])))
    strides, padding = shape["strides"], shape["padding"]
    reference = keras.ops.conv(inputs, kernel, strides=strides, padding=padding)
    upstream = tf.constant(rng.standard_normal(reference.shape).astype("float32"))
    paths = {
        "conv": _train_step(lambda x, k: keras.ops.conv(x, k, strides=strides, padding=padding),
                            inputs, kernel, upstream),
        "matmul": _train_step(lambda x, k: ops.conv2d_as_matmul(x, k, strides, padding),
                              inputs, kernel, upstream),
    }
    # The two paths compute the same gradients (to float rounding).
    conv_grads, matmul_grads = paths["conv"](), paths["matmul"]()
    max_error = max(float(tf.reduce_max(tf.abs(a - b)) / (tf.reduce_max(tf.abs(a)) + 1e-30))
                    for a, b in zip(conv_grads, matmul_grads))
    timings = common.time_repeats(paths, steps=steps, repeats=repeats, warmup=warmup)
    speedup = common.per_repeat_ratios(timings["conv"]["repeat_s"],
                                       timings["matmul"]["repeat_s"])
    taps, pixels = conv_ops.image_taps(shape["input_shape"][1:3], shape["kernel_shape"][:2],
                                       strides, padding)
    return {
        **shape,
        # The class of zoo.ops.conv.MATMUL_RULES: one kernel tap reads the image, or more.
        "taps": taps,
        "kernel_class": "1" if taps == 1 else "k",
        "output_pixels": pixels,
        "conv_ms": common.summarize([1e3 * s / steps for s in timings["conv"]["repeat_s"]]),
        "matmul_ms": common.summarize([1e3 * s / steps for s in timings["matmul"]["repeat_s"]]),
        "speedup": common.summarize(speedup),
        "speedup_per_repeat": speedup,
        "max_relative_gradient_difference": max_error,
        "ops": {name: _convolution_ops(step) for name, step in paths.items()},
        "rule_picks_matmul": ops.conv2d_as_matmul_applies(
            shape["input_shape"], shape["kernel_shape"], strides, padding),
    }


def score_rule(rows):
    """How well the zoo's rule picks between the paths, on the measured shapes.

    A shape's faster path is the matmul when its median per-repeat speedup
    (conv time / matmul time) is above 1.

    Returns:
        `{"shapes", "faster_path_picked", "misses", "total_ms"}`: how many
        shapes were measured, for how many the rule picked the faster path,
        the others (label, speedup, pick), and the summed median step times
        of all shapes on the convolution, on the rule's picks, and on the
        faster path of each (the best any rule could do).
    """
    picked, misses = 0, []
    total = {"conv": 0.0, "rule": 0.0, "best": 0.0}
    for row in rows:
        conv_ms, matmul_ms = row["conv_ms"]["median"], row["matmul_ms"]["median"]
        matmul_faster = row["speedup"]["median"] > 1
        pick = "matmul" if row["rule_picks_matmul"] else "conv"
        total["conv"] += conv_ms
        total["rule"] += matmul_ms if pick == "matmul" else conv_ms
        total["best"] += matmul_ms if matmul_faster else conv_ms
        if (pick == "matmul") == matmul_faster:
            picked += 1
        else:
            misses.append({"shape": shape_label(row), "speedup": row["speedup"]["median"],
                           "picked": pick})
    return {"shapes": len(rows), "faster_path_picked": picked, "misses": misses,
            "total_ms": total}


def shape_label(row):
    """`"2x2x512 k3 s1 same -> 512"`: input, kernel size, stride, padding, filters."""
    _, height, width, channels = row["input_shape"]
    kernel_height, _, _, filters = row["kernel_shape"]
    return (f"{height}x{width}x{channels} k{kernel_height} s{row['strides']} {row['padding']} "
            f"-> {filters}")


def run(models, image_sizes, batch_size, repeats, steps, warmup, seed, output_dir):
    """Runs the benchmark and writes the results; returns the result dict."""
    device = common.device_info()
    platform = ops.tensorflow_platform()
    log(f"platform: {platform}; kernels: {device['kernels']}")
    shapes = {}
    for size in image_sizes:
        for model_name in models:
            for shape in conv_shapes(model_name, size, batch_size):
                key = (shape["input_shape"], shape["kernel_shape"], shape["strides"],
                       shape["padding"])
                entry = shapes.setdefault(key, {**shape, "layers": [], "models": []})
                entry["layers"] += shape["layers"]
                entry["models"].append(f"{model_name}@{size}")
    rows = []
    for index, shape in enumerate(shapes.values()):
        row = measure_shape(shape, repeats, steps, warmup, seed)
        rows.append(row)
        log(f"{index + 1}/{len(shapes)} {row['input_shape']} k{row['kernel_shape']} "
            f"s{row['strides']}: conv {row['conv_ms']['median']:.2f} ms, matmul "
            f"{row['matmul_ms']['median']:.2f} ms, speedup {row['speedup']['median']:.2f}")
    current = conv_ops.MATMUL_RULES.get(platform)  # None: no matmul path here
    config = {"models": models, "image_sizes": image_sizes, "batch_size": batch_size,
              "repeats": repeats, "steps": steps, "warmup": warmup, "seed": seed,
              "step": "one convolution's forward pass and its input and kernel gradients "
                      "(tf.GradientTape) in a tf.function, jit_compile=False",
              "order": "per shape: first calls, warm-up and repeats interleaved conv, matmul"}
    result = {**common.envelope(NAME, "convolution train steps, Keras' conv vs one matmul",
                                device, config),
              "platform": platform, "shapes": rows, "rule": current,
              "rule_score": score_rule(rows)}
    kind = (platform or device["kind"]).replace("/", "_")
    common.publish(NAME, result, render_markdown(result), output_dir, device_kind=kind,
                   summary=summary)
    return result


def render_markdown(result):
    """The report: context, one row per convolution, the rule and its score."""
    cfg = result["config"]
    rows = []
    for r in result["shapes"]:
        n, h, w, c = r["input_shape"]
        kh, kw, _, f = r["kernel_shape"]
        rows.append([f"{h}x{w}x{c}", f"{kh}x{kw}x{f}", r["strides"], r["padding"],
                     r["output_pixels"], f"{r['conv_ms']['median']:.2f}",
                     f"{r['matmul_ms']['median']:.2f}",
                     common.ratio_cell(r["speedup"], 2),
                     "matmul" if r["rule_picks_matmul"] else "conv",
                     ", ".join(sorted(set(r["models"])))])
    table = common.markdown_table(
        ["input HxWxC", "kernel", "stride", "padding", "out pixels", "conv ms", "matmul ms",
         "speedup median (min–max)", "zoo picks", "in"], rows, align="llrlrrrrll")
    lines = [
        f"# {TITLE}",
        "",
        *common.context_lines(result, device_note=f" (zoo platform {result['platform']})"),
        f"- step: {cfg['step']}; batch {cfg['batch_size']}",
        f"- {cfg['warmup']} warm-up call(s) per path, then {cfg['repeats']} repeats x "
        f"{cfg['steps']} timed calls, conv and matmul in turns",
        f"- {result['timestamp']}, `{result['command']}`",
        "",
        table,
        "",
        "speedup = conv time / matmul time within each repeat (> 1: the matmul is faster). "
        "Kernel ops in the traced steps: conv runs Conv2D, Conv2DBackpropInput and "
        "Conv2DBackpropFilter; matmul runs MatMul only (see the JSON's `ops`).",
        "",
        f"zoo.ops.conv.MATMUL_RULES for this platform: {result['rule']} (\"1\": one "
        "kernel tap reads the image, \"k\": several). " + _score_line(result["rule_score"]),
    ]
    return "\n".join(lines) + "\n"


def _score_line(score):
    total = score["total_ms"]
    misses = "; ".join(f"{m['shape']} ({m['speedup']:.2f}x, picked {m['picked']})"
                       for m in score["misses"]) or "none"
    return (f"It picks the faster path for {score['faster_path_picked']} of {score['shapes']} "
            f"shapes; summed step time of all shapes: {total['conv']:.1f} ms on convolutions, "
            f"{total['rule']:.1f} ms on the rule's picks, {total['best']:.1f} ms on the faster "
            f"path of each. Misses: {misses}.")


def summary(result):
    """What `benchmarks.report` shows: the speedup of each measured convolution."""
    items, rows = [], []
    for r in result.get("shapes") or []:
        label = (f"{r['input_shape'][1]}x{r['input_shape'][2]}x{r['input_shape'][3]} "
                 f"k{r['kernel_shape'][0]} s{r['strides']} -> {r['kernel_shape'][3]}")
        items.append(common.summary_item(NAME, f"{result.get('platform')}/{label}",
                                         f"{label}: conv / matmul time", r["speedup"],
                                         "> 1: matmul faster"))
        rows.append([label, common.ratio_cell(r["speedup"], 2),
                     "matmul" if r["rule_picks_matmul"] else "conv"])
    markdown = "\n".join([
        common.markdown_table(["convolution", "conv / matmul time", "zoo picks"], rows,
                              align="lrl"),
        "", _score_line(result["rule_score"]) if result.get("rule_score") else ""])
    return {"title": TITLE, "markdown": markdown, "items": items, "chart": None}


if __name__ == "__main__":
    common.main(MODULE, define_flags, check_flags, run_from_flags)
