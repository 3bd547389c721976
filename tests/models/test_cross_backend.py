"""The same model on TensorFlow and JAX: same summary, same files, same logits.

Each family's benchmarked models (`helpers.family_representatives()`: the
family's code path; its variants differ only in spec rows) are built and saved
by a fresh TensorFlow process
(BatchNorm statistics randomized, so a mis-mapped BN shows), then loaded by a
fresh JAX process (`KERAS_BACKEND` is read once, at import), which compares
its logits with TensorFlow's on the same inputs. A string-mode model cannot
run on JAX, so `text_rnn` travels as its token-mode twin: the same config and
weights, fed the ids its vectorizer produced. Both processes also print every
model's `summary()`, which must read the same, unknown dimensions included.
"""

import json
import re

import numpy as np
import pytest

import helpers

# The families' small keywords (32x32 images: every family's last stage 1x1 or more).
MODELS = helpers.family_representatives()
IMAGE_SIZE = 32

# Shared by both processes: summaries of models whose shapes have unknown
# dimensions (JAX traces them as symbols; both must print None), in both
# layouts, with and without a head, blocks closed.
PRINT_MORE_SUMMARIES = r"""
def more_summaries(print_fn):
    zoo.create_model("resnet20", num_classes=5, input_shape=(None, None, 3)).summary(
        print_fn=print_fn)
    zoo.create_model("resnet18", num_classes=5, input_shape=(3, None, 32),
                     data_format="channels_first").summary(print_fn=print_fn,
                                                           show_trainable=True)
    zoo.create_model("resnet20", include_top=False, input_shape=(None, 17, 3)).summary(
        print_fn=print_fn)
    zoo.create_model("text_rnn", input_mode="tokens", max_tokens=100, head="attention",
                     num_layers=2).summary(print_fn=print_fn, expand_nested=False)
"""

SAVE_ON_TENSORFLOW = PRINT_MORE_SUMMARIES + r"""
import json, os, sys
sys.path.insert(0, "tests")
import keras, numpy as np
assert keras.backend.backend() == "tensorflow", keras.backend.backend()
import helpers, zoo

out, names, size = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
manifest, summaries = {}, []
for name in names:
    overrides = helpers.small_overrides(name)
    if "input_shape" in overrides:
        overrides["input_shape"] = (size, size) + tuple(overrides["input_shape"][2:])
    keras.utils.set_random_seed(0)
    model = zoo.create_model(name, **overrides)
    entry = {"class": type(model).__name__}
    portable = zoo.model_info(name).portable
    if portable:
        # The model as built on TensorFlow, then its portable twin with the
        # same weights (a text model's token twin: the vectorizer has none),
        # fed the same texts' ids.
        model.adapt(model.example_inputs(batch_size=8))
        texts = model.example_inputs(batch_size=3, seed=1)
        strings_logits = keras.ops.convert_to_numpy(model(texts, training=False))
        model.save(os.path.join(out, f"{name}.string.keras"))
        twin = model.rebuilt(**portable)
        x = keras.ops.convert_to_numpy(model.vectorizer(texts))
        model, entry["twin"] = twin, True
    else:
        x = model.example_inputs(batch_size=3, seed=1)
    helpers.randomize_batchnorm(model, seed=3)
    y = keras.ops.convert_to_numpy(model(x, training=False))
    if entry.get("twin"):
        entry["twin_vs_strings"] = float(np.abs(y - strings_logits).max())
    np.save(os.path.join(out, f"{name}.x.npy"), x)
    np.save(os.path.join(out, f"{name}.y.npy"), y)
    model.save_weights(os.path.join(out, f"{name}.weights.h5"))
    model.save(os.path.join(out, f"{name}.keras"))
    model.summary(print_fn=summaries.append)
    entry["config"] = model.get_config()
    manifest[name] = entry
    del model
more_summaries(summaries.append)

# A compiled model, jit_compile left at "auto": resolved again where loaded.
model = zoo.create_model("resnet20", num_classes=3, input_shape=(size, size, 3))
model.compile(optimizer=keras.optimizers.SGD(0.1),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.save(os.path.join(out, "compiled.keras"))
manifest["compiled"] = {"jit_compile": model.jit_compile,
                        "saved": model.get_compile_config()["jit_compile"]}
manifest["summaries"] = summaries
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f)
"""

LOAD_ON_JAX = PRINT_MORE_SUMMARIES + r"""
import json, os, sys
import keras, numpy as np
assert keras.backend.backend() == "jax", keras.backend.backend()
import zoo

out = sys.argv[1]
with open(os.path.join(out, "manifest.json")) as f:
    manifest = json.load(f)
results, summaries = {}, []
for name, entry in manifest.items():
    if name in ("compiled", "summaries"):
        continue
    x = np.load(os.path.join(out, f"{name}.x.npy"))
    model = keras.saving.load_model(os.path.join(out, f"{name}.keras"))
    results[name] = {
        "class": type(model).__name__,
        "config": json.loads(json.dumps(model.get_config())) == entry["config"],
        "keras": keras.ops.convert_to_numpy(model(x, training=False)).tolist(),
    }
    # The weights file into the same model, every weight zeroed first (a
    # second model would cost as much again to build): a weight the file
    # misses stays zero, and shows.
    for variable in model.weights:
        variable.assign(keras.ops.zeros(variable.shape, variable.dtype))
    model.load_weights(os.path.join(out, f"{name}.weights.h5"))
    results[name]["weights_h5"] = keras.ops.convert_to_numpy(
        model(x, training=False)).tolist()
    model.summary(print_fn=summaries.append)
    del model
    if entry.get("twin"):
        try:
            keras.saving.load_model(os.path.join(out, f"{name}.string.keras"))
            results[name]["string_file"] = "loaded"
        except Exception as error:  # what a JAX user sees
            results[name]["string_file"] = f"{type(error).__name__}: {error}"
more_summaries(summaries.append)

model = keras.saving.load_model(os.path.join(out, "compiled.keras"))
results["compiled"] = {"jit_compile": model.jit_compile,
                       "compiled": bool(model.compiled),
                       "optimizer": type(model.optimizer).__name__}
results["summaries"] = summaries
print(json.dumps(results))
"""


def tolerance(expected):
    """What TensorFlow and XLA may disagree by: 1e-5 of the logit scale, + 1e-6."""
    return 1e-5 * float(np.abs(expected).max()) + 1e-6


@pytest.fixture(scope="module")
def saved_and_loaded(tmp_path_factory):
    """(folder, manifest written by TensorFlow, results read back by JAX)."""
    out = tmp_path_factory.mktemp("cross_backend")
    names = ",".join(MODELS)
    helpers.run_in_fresh_process(
        f"import sys; sys.argv = ['save', {str(out)!r}, {names!r}, '{IMAGE_SIZE}']\n"
        + SAVE_ON_TENSORFLOW, env={"KERAS_BACKEND": "tensorflow"})
    stdout = helpers.run_in_fresh_process(
        f"import sys; sys.argv = ['load', {str(out)!r}]\n" + LOAD_ON_JAX,
        # Most of the JAX side is compiling each model's ops; unoptimized
        # LLVM code halves that (numerics unchanged: XLA's CPU fast-math
        # stays off), as in `make test-jax`.
        env={"KERAS_BACKEND": "jax",
             "XLA_FLAGS": "--xla_backend_optimization_level=0 "
                          "--xla_llvm_disable_expensive_passes=true"})
    with open(out / "manifest.json") as f:
        manifest = json.load(f)
    return out, manifest, json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_tensorflow_files_give_the_same_logits_on_jax(saved_and_loaded, name):
    out, manifest, results = saved_and_loaded
    expected = np.load(out / f"{name}.y.npy")
    result = results[name]
    assert result["class"] == manifest[name]["class"]
    assert result["config"], "the loaded model's config differs from the saved one"
    tol = tolerance(expected)
    for source in ("keras", "weights_h5"):
        got = np.array(result[source])
        assert got.shape == expected.shape, (source, got.shape)
        diff = float(np.abs(got - expected).max())
        assert diff <= tol, (
            f"{name}: logits from the {source} file on JAX differ from TensorFlow's by "
            f"{diff:.3g} (tolerance {tol:.3g}, logit scale {np.abs(expected).max():.3g})")
    if manifest[name].get("twin"):
        # The twin is the string model, tokenized outside: same logits on TF.
        assert manifest[name]["twin_vs_strings"] <= tol
        # The string model's own file names the way out on JAX.
        message = result["string_file"]
        for part in ("input_mode='string'", "'jax'", "input_mode='tokens'"):
            assert part in message, (part, message)


@pytest.mark.slow
def test_summary_text_is_the_same_on_tensorflow_and_jax(saved_and_loaded):
    _, manifest, results = saved_and_loaded
    tf_lines, jax_lines = manifest["summaries"], results["summaries"]
    titles = [line for line in tf_lines if line.startswith("Model: ")]
    assert len(titles) == len(MODELS) + 4, titles
    assert any("(None, None, None, 16)" in line for line in tf_lines)  # unknown: None
    # Where TensorFlow has no NCHW convolutions (oneDNN off), a channels_first
    # ResNet computes in NHWC, and its table says so under its totals; JAX's
    # CPU runs NCHW. Such a table's inner shapes differ; all else must not.
    tf_lines, jax_lines = (_without_layout_noted_shapes(tf_lines, jax_lines),
                           _without_layout_noted_shapes(jax_lines, tf_lines))
    for index, (tf_line, jax_line) in enumerate(zip(tf_lines, jax_lines)):
        assert tf_line == jax_line, f"line {index}: TensorFlow {tf_line!r} != JAX {jax_line!r}"
    assert len(tf_lines) == len(jax_lines)


def _without_layout_noted_shapes(lines, other_lines):
    """`lines` with the shape column cut from the rows of every table whose
    own or twin table (same index in `other_lines`) has a layout note."""
    def tables(table_lines):
        starts = [i for i, line in enumerate(table_lines) if line.startswith("Model: ")]
        return [table_lines[a:b] for a, b in zip(starts, starts[1:] + [len(table_lines)])]

    noted = lambda table: any("computed as 'channels_last'" in line for line in table)  # noqa: E731
    result = []
    for table, twin in zip(tables(lines), tables(other_lines)):
        if noted(table) or noted(twin):
            table = [line for line in table if "computed as" not in line]
            table = [re.sub(r"\(None[^)]*\)", "(shape)", line) for line in table]
        result += table
    return result


@pytest.mark.slow
def test_compiled_keras_file_resolves_jit_compile_again_on_jax(saved_and_loaded):
    _, manifest, results = saved_and_loaded
    # Saved as asked ("auto"); TensorFlow resolved it to the family's CPU
    # figure, JAX to Keras' own default, XLA.
    assert manifest["compiled"]["saved"] == "auto"
    assert isinstance(manifest["compiled"]["jit_compile"], bool)
    assert results["compiled"] == {"jit_compile": True, "compiled": True,
                                   "optimizer": "SGD"}
