"""Convolution train steps: Keras' convolution vs the same one as a matrix multiply."""

import math

import keras
import numpy as np
import tensorflow as tf

import zoo
from benchmarks import common
from zoo import blocks, ops
from zoo.ops import conv as conv_ops

NAME = "conv_paths"
TITLE = "Convolution train steps: Keras' conv vs one matmul"
DEFAULTS = {"warmup": 2}
FLAGS = {
    "models": common.flag(["resnet18", "resnet50", "mobilenet_v2", "densenet121",
                           "efficientnet_b0"], "Models whose convolutions are measured.",
                          choices=common.registered_models),
    "image_sizes": common.flag(["32", "64"], "Square input sizes the models are built for.",
                               choices=int),
    "batch_size": common.flag(32, "Images per step."),
    "steps": common.flag(5, "Timed steps per repeat."),
}
QUICK = {"repeats": 2, "steps": 2, "warmup": 1, "image_sizes": ["32"], "models": ["resnet50"]}
log = common.logger(NAME)


def conv_shapes(model_name, image_size, batch_size):
    """The distinct convolutions of a model, in the order they run."""
    model = zoo.create_model(model_name, num_classes=10, input_shape=(image_size, image_size, 3))
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
    for layer, shape in seen:
        if layer.data_format == "channels_last":
            key = ((batch_size, *shape[1:]), tuple(layer.kernel.shape), layer.strides[0],
                   layer.padding)
            shapes.setdefault(key, []).append(layer.path)
    return [dict(zip(("input_shape", "kernel_shape", "strides", "padding"), key), layers=paths)
            for key, paths in shapes.items()]


def measure_shape(shape, repeats, steps, warmup, seed):
    """Times both paths on one convolution; returns the shape's row."""
    rng = np.random.default_rng(seed)
    inputs = tf.constant(rng.standard_normal(shape["input_shape"]), tf.float32)
    kernel = tf.constant(rng.standard_normal(shape["kernel_shape"])
                         / math.sqrt(np.prod(shape["kernel_shape"][:3])), tf.float32)
    strides, padding = shape["strides"], shape["padding"]
    upstream = tf.constant(rng.standard_normal(
        keras.ops.conv(inputs, kernel, strides=strides, padding=padding).shape), tf.float32)

    def train_step(compute):
        @tf.function(jit_compile=False)
        def step():
            with tf.GradientTape() as tape:
                tape.watch([inputs, kernel])
                loss = tf.reduce_sum(compute(inputs, kernel) * upstream)
            return tape.gradient(loss, [inputs, kernel])
        return step

    paths = {"conv": train_step(lambda x, k: keras.ops.conv(x, k, strides=strides,
                                                            padding=padding)),
             "matmul": train_step(lambda x, k: ops.conv2d_as_matmul(x, k, strides, padding))}
    # The two paths compute the same gradients (to float rounding).
    max_error = max(float(tf.reduce_max(tf.abs(a - b)) / (tf.reduce_max(tf.abs(a)) + 1e-30))
                    for a, b in zip(paths["conv"](), paths["matmul"]()))
    timings = common.time_repeats(paths, steps=steps, repeats=repeats, warmup=warmup)
    ms = {p: common.latencies_ms(timings[p]["repeat_s"], steps) for p in paths}
    taps, pixels = conv_ops.image_taps(shape["input_shape"][1:3], shape["kernel_shape"][:2],
                                       strides, padding)
    speedup = common.per_repeat_ratios(ms["conv"], ms["matmul"])
    return {**shape, "taps": taps, "kernel_class": "1" if taps == 1 else "k",
            "output_pixels": pixels, "conv_ms": common.summarize(ms["conv"]),
            "matmul_ms": common.summarize(ms["matmul"]), "speedup": common.summarize(speedup),
            "speedup_per_repeat": speedup, "max_relative_gradient_difference": max_error,
            "ops": {name: {op: n for op, n in sorted(common.op_type_counts(
                step.get_concrete_function()).items())
                if op.startswith(("Conv2D", "MatMul", "BatchMatMul"))}
                for name, step in paths.items()},
            "rule_picks_matmul": ops.conv2d_as_matmul_applies(
                shape["input_shape"], shape["kernel_shape"], strides, padding)}


def shape_label(row):
    """`"2x2x512 k3 s1 same -> 512"`: input, kernel size, stride, padding, filters."""
    _, height, width, channels = row["input_shape"]
    return (f"{height}x{width}x{channels} k{row['kernel_shape'][0]} s{row['strides']} "
            f"{row['padding']} -> {row['kernel_shape'][3]}")


def score_rule(rows):
    """How often the zoo's rule picked the faster path, its misses, the summed step times."""
    picked, misses, total = 0, [], {"conv": 0.0, "rule": 0.0, "best": 0.0}
    for row in rows:
        conv_ms, matmul_ms = row["conv_ms"]["median"], row["matmul_ms"]["median"]
        faster, pick = row["speedup"]["median"] > 1, row["rule_picks_matmul"]
        total["conv"] += conv_ms
        total["rule"] += matmul_ms if pick else conv_ms
        total["best"] += matmul_ms if faster else conv_ms
        picked += pick == faster
        if pick != faster:
            misses.append({"shape": shape_label(row), "speedup": row["speedup"]["median"],
                           "picked": "matmul" if pick else "conv"})
    return {"shapes": len(rows), "faster_path_picked": picked, "misses": misses, "total_ms": total}


def run(output_dir, models, image_sizes, batch_size, repeats, steps, warmup, seed):
    """Runs the benchmark and writes the results; returns the result dict."""
    config, platform, shapes = common.arguments(locals()), ops.tensorflow_platform(), {}
    for size in image_sizes:
        for model_name in models:
            for shape in conv_shapes(model_name, size, batch_size):
                entry = shapes.setdefault(tuple(v for k, v in shape.items() if k != "layers"),
                                          {**shape, "layers": [], "models": []})
                entry["layers"] += shape["layers"]
                entry["models"].append(f"{model_name}@{size}")
    rows = []
    for index, shape in enumerate(shapes.values(), 1):
        rows.append(row := measure_shape(shape, repeats, steps, warmup, seed))
        log(f"{index}/{len(shapes)} {shape_label(row)}: speedup {row['speedup']['median']:.2f}")
    config["step"] = ("one convolution's forward pass and its input and kernel gradients "
                      "(tf.GradientTape) in a tf.function, jit_compile=False")
    result = {**common.envelope(NAME, "convolution train steps, Keras' conv vs one matmul",
                                config), "platform": platform, "shapes": rows,
              "rule": conv_ops.MATMUL_RULES.get(platform), "rule_score": score_rule(rows)}
    return common.publish(NAME, result, output_dir, markdown, summary,
                          kind=(platform or result["device"]["kind"]).replace("/", "_"))


def _score_line(score):
    total = score["total_ms"]
    misses = "; ".join(f"{m['shape']} ({m['speedup']:.2f}x, picked {m['picked']})"
                       for m in score["misses"]) or "none"
    return (f"It picks the faster path for {score['faster_path_picked']} of {score['shapes']} "
            f"shapes; summed step time of all shapes: {total['conv']:.1f} ms on convolutions, "
            f"{total['rule']:.1f} ms on the rule's picks, {total['best']:.1f} ms on the faster "
            f"path of each. Misses: {misses}.")


def markdown(result):
    """The report: context, one row per convolution, the rule and its score."""
    cfg, rows = result["config"], []
    for r in result["shapes"]:
        _, h, w, c = r["input_shape"]
        kh, kw, _, f = r["kernel_shape"]
        rows.append([f"{h}x{w}x{c}", f"{kh}x{kw}x{f}", r["strides"], r["padding"],
                     r["output_pixels"], f"{r['conv_ms']['median']:.2f}",
                     f"{r['matmul_ms']['median']:.2f}", common.ratio_cell(r["speedup"]),
                     "matmul" if r["rule_picks_matmul"] else "conv",
                     ", ".join(sorted(set(r["models"])))])
    return "\n".join(common.header(
        TITLE, result, f"- zoo platform: {result['platform']}",
        f"- step: {cfg['step']}; batch {cfg['batch_size']}") + [
        common.markdown_table(["input HxWxC", "kernel", "stride", "padding", "out pixels",
                               "conv ms", "matmul ms", "speedup median (min–max)", "zoo picks",
                               "in"], rows, align="llrlrrrrll"),
        "", "speedup = conv / matmul time within each repeat (> 1: the matmul is faster).", "",
        f"zoo.ops.conv.MATMUL_RULES for this platform: {result['rule']} (\"1\": one kernel tap "
        "reads the image, \"k\": several). " + _score_line(result["rule_score"])]) + "\n"


def summary(result):
    """The speedup of each measured convolution."""
    rows, items = [], []
    for r in result.get("shapes") or []:
        label = shape_label(r).replace(f" {r['padding']} ", " ")
        items.append(common.summary_item(NAME, f"{result.get('platform')}/{label}",
                                         f"{label}: conv / matmul time", r["speedup"],
                                         "> 1: matmul faster"))
        rows.append([label, common.ratio_cell(r["speedup"]),
                     "matmul" if r["rule_picks_matmul"] else "conv"])
    return common.headline(TITLE, ["convolution", "conv / matmul time", "zoo picks"], rows,
                           "lrl", _score_line(result["rule_score"]), items)


if __name__ == "__main__":
    common.main(__name__)
