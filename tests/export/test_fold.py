"""BatchNorm folding: `ConvBN.fold_batchnorm`, `ZooModel.folded` and the
SavedModel and TFLite exports (`fold_batchnorm=`), loaded in a fresh process.

Every BatchNorm gets random gammas, betas and moving statistics first
(`helpers.randomize_batchnorm`): with the initial ones (1, 0, 0, 1) a
BatchNorm is nearly the identity, and folding it would be trivially right.
"""

import json

import keras
import numpy as np
import pytest
from absl import flags

import helpers
import zoo
import zoo.export
from zoo.blocks import ConvBN
from zoo.export import __main__ as export_cli
from zoo.export import fold

# Folded against unfolded inference outputs: the largest difference over the
# largest |output| (1e-5 relative, the task's bound). Measured: <= 2e-7 for
# a block, ~5e-7 for resnet20 and mobilenet_v2 small through the SavedModel.
RTOL = 1e-5
# TFLite float files against Keras: XNNPACK sums in another order than
# TensorFlow, which moves untrained logits by ~1e-6 relative (measured up
# to 8e-7 here, folded or not); as tests/export/test_tflite.py, 1e-4.
TFLITE_RTOL = 1e-4
# Quantized files against Keras, relative to the largest |logit|: the
# quantization's error, not folding's (folded and unfolded files measured
# the same): resnet20 small, randomized BatchNorm, 0.011 for int8 and 4.8e-4
# for float16; ~4x margins (float16 as tests/export/test_tflite.py).
INT8_RTOL = 0.05
FLOAT16_RTOL = 2e-3


def relative_error(got, expected):
    got, expected = np.asarray(got, "float64"), np.asarray(expected, "float64")
    return float(np.abs(got - expected).max() / max(np.abs(expected).max(), 1e-12))


def block_inputs(data_format, channels=4, size=9, seed=0):
    x = helpers.random_inputs((2, size, size, channels), seed=seed)
    return x if data_format == "channels_last" else np.transpose(x, (0, 3, 1, 2))


def randomized_block(data_format="channels_last", depthwise=False, seed=0, **kwargs):
    block = ConvBN(None if depthwise else 6, 3, data_format=data_format, depthwise=depthwise,
                   **kwargs)
    x = block_inputs(data_format, seed=seed)
    block(x)
    helpers.randomize_batchnorm(block, seed=seed + 1)
    return block, x


# --------------------------------------------------------------------------
# The block


@pytest.mark.parametrize("activation", [None, "relu", "relu6"])
@pytest.mark.parametrize("padding", ["symmetric", "same"])
@pytest.mark.parametrize("strides", [1, 2])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
def test_folded_block_computes_the_unfolded_inference(depthwise, data_format, strides,
                                                       padding, activation):
    block, x = randomized_block(data_format, depthwise, strides=strides, padding=padding,
                                activation=activation)
    expected = helpers.to_numpy(block(x, training=False))
    block.fold_batchnorm()
    assert block.batchnorm_folded
    for training in (False, None):
        got = helpers.to_numpy(block(x, training=training))
        assert got.shape == expected.shape
        assert relative_error(got, expected) < RTOL, (training, relative_error(got, expected))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
def test_frozen_batchnorm_folds_the_same(depthwise, data_format):
    block, x = randomized_block(data_format, depthwise, strides=2, seed=3)
    block.bn.trainable = False
    expected = helpers.to_numpy(block(x, training=True))  # a frozen BN: moving statistics
    assert relative_error(expected, block(x, training=False)) == 0.0
    block.fold_batchnorm()
    assert relative_error(block(x, training=False), expected) < RTOL


def test_folded_block_refuses_training_and_an_unbuilt_block_refuses_folding():
    block, x = randomized_block()
    block.fold_batchnorm()
    with pytest.raises(ValueError, match="training=True"):
        block(x, training=True)
    with pytest.raises(ValueError, match="not built"):
        ConvBN(4, 3).fold_batchnorm()


def test_folding_twice_changes_nothing_and_unfolded_readers_agree():
    block, x = randomized_block(depthwise=True, strides=2)
    expected = helpers.to_numpy(block(x, training=False))
    block.fold_batchnorm()
    weights = [w.copy() for w in block.get_weights()]
    block.fold_batchnorm()
    assert all(np.array_equal(a, b) for a, b in zip(weights, block.get_weights()))
    # The folded weights hold an identity BatchNorm, so a ConvBN that does
    # not know they were folded (a .keras file keeps no flag) computes the
    # same outputs.
    reader = ConvBN.from_config(block.get_config())
    reader(x)
    reader.set_weights(block.get_weights())
    assert not reader.batchnorm_folded
    assert relative_error(reader(x, training=False), expected) < RTOL


@pytest.mark.parametrize("policy", helpers.MIXED_POLICIES)
def test_mixed_precision_folds_in_float32(policy):
    block, x = randomized_block(dtype=policy, strides=2)
    expected = helpers.to_numpy(block(x, training=False)).astype("float32")
    block.fold_batchnorm()
    got = block(x, training=False)
    assert helpers.dtype_name(got) == keras.mixed_precision.Policy(policy).compute_dtype
    assert {keras.backend.standardize_dtype(w.dtype) for w in block.weights} == {"float32"}
    # Half-precision convolutions round differently once the kernel is scaled.
    assert relative_error(helpers.to_numpy(got).astype("float32"), expected) < \
        helpers.MIXED_TOLERANCE[policy]


@pytest.mark.slow
def test_channels_first_computed_natively_folds_right_on_jax():
    # TensorFlow's CPU kernels compute channels_first in NHWC here; JAX runs
    # NCHW convolutions, so the folded bias is added along axis 1 there.
    code = """
import numpy as np, keras
from zoo.blocks import ConvBN
rng = np.random.default_rng(0)
errors = {}
for depthwise in (False, True):
    block = ConvBN(None if depthwise else 6, 3, strides=2, depthwise=depthwise,
                   data_format="channels_first")
    assert block.compute_format == "channels_first", block.compute_format
    x = rng.normal(size=(2, 4, 9, 9)).astype("float32")
    block(x)
    block.bn.set_weights([rng.uniform(0.5, 1.5, (w.shape)).astype("float32")
                          for w in block.bn.get_weights()])
    expected = np.asarray(block(x, training=False))
    block.fold_batchnorm()
    got = np.asarray(block(x, training=False))
    errors[str(depthwise)] = float(np.abs(got - expected).max() / np.abs(expected).max())
print(keras.backend.backend(), errors)
"""
    out = helpers.run_in_fresh_process(code, env={"KERAS_BACKEND": "jax"}).strip()
    backend, errors = out.splitlines()[-1].split(" ", 1)
    assert backend == "jax"
    assert all(e < RTOL for e in eval(errors).values()), errors  # noqa: S307 -- our own dict


# --------------------------------------------------------------------------
# The model


def randomized_model(name, seed=0):
    model = helpers.small_model(name, seed=seed)
    model(model.example_inputs(batch_size=1))
    helpers.randomize_batchnorm(model, seed=seed + 1)
    return model


@pytest.mark.parametrize("name", ["resnet20", "mobilenet_v2"])
def test_folded_model_is_a_copy_with_the_same_outputs(name):
    model = randomized_model(name)
    before = helpers.weight_snapshot(model)
    x = model.example_inputs(batch_size=3, seed=1)
    expected = helpers.to_numpy(model(x, training=False))
    folded = model.folded()
    assert folded is not model and folded.name == model.name
    convs = [layer for layer in folded._flatten_layers() if isinstance(layer, ConvBN)]
    assert convs and all(layer.batchnorm_folded for layer in convs)
    assert relative_error(folded(x, training=False), expected) < RTOL
    after = helpers.weight_snapshot(model)
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert not any(layer.batchnorm_folded for layer in model._flatten_layers()
                   if isinstance(layer, ConvBN))
    with pytest.raises(ValueError, match="inference only"):
        folded(x, training=True)


@pytest.mark.parametrize("name", ["einsum_mlp", "text_rnn"])
def test_models_without_batchnorm_are_not_copied(name):
    model = helpers.small_model(name)
    assert model.folded() is model
    assert fold.inference_model(model) is model


# --------------------------------------------------------------------------
# Exports: SavedModel and TFLite, folded and not, loaded in a fresh process

_LOAD = """
import json, numpy as np, zoo.export
folder, names = {folder!r}, {names!r}
x = np.load(folder + "/x.npy")
report = {{}}
for name in names:
    model = zoo.export.load(folder + "/" + name)
    np.save(folder + "/" + name + ".out.npy", model(x))
    report[name] = {{"ops": dict(model.op_counts()), "type": type(model).__name__}}
print(json.dumps(report))
"""

# name -> (format, save options)
EXPORTS = {
    "sm_folded": ("saved_model", {}),  # folding is the default
    "sm_unfolded": ("saved_model", {"fold_batchnorm": False}),
    "folded.tflite": ("tflite", {"fold_batchnorm": True}),
    "unfolded.tflite": ("tflite", {"fold_batchnorm": False}),
}


def export_and_load(model, folder, exports, x):
    """Saves `model` as each of `exports`, loads all in one fresh process."""
    for name, (format, options) in exports.items():
        zoo.export.save(model, folder / name, format=format, **options)
    np.save(folder / "x.npy", x)
    out = helpers.run_in_fresh_process(_LOAD.format(folder=str(folder), names=list(exports)))
    report = json.loads(out.strip().splitlines()[-1])
    outputs = {name: np.load(folder / f"{name}.out.npy") for name in exports}
    return report, outputs


@pytest.mark.slow
@pytest.mark.tensorflow_only("SavedModel and TFLite are TensorFlow formats")
@pytest.mark.parametrize("name", ["resnet20", "mobilenet_v2"])
def test_exports_fold_by_default_and_compute_the_same(name, tmp_path):
    model = randomized_model(name)
    before = helpers.weight_snapshot(model)
    x = model.example_inputs(batch_size=3, seed=2)
    expected = helpers.to_numpy(model(x, training=False))
    report, outputs = export_and_load(model, tmp_path, EXPORTS, x)

    # The user's model is untouched: bit-identical weights, still unfolded.
    after = helpers.weight_snapshot(model)
    assert before.keys() == after.keys()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert not any(getattr(layer, "batchnorm_folded", False) for layer in model._flatten_layers())

    for export, y in outputs.items():
        bound = TFLITE_RTOL if export.endswith(".tflite") else RTOL
        assert relative_error(y, expected) < bound, (export, relative_error(y, expected))

    # SavedModel: no BatchNorm op is left in the folded serving graph (the
    # unfolded one runs one per ConvBN: a FusedBatchNormV3, or Keras' Rsqrt
    # and friends); folding adds one bias add per ConvBN instead.
    convbn = sum(isinstance(layer, ConvBN) for layer in model._flatten_layers())
    folded, unfolded = report["sm_folded"]["ops"], report["sm_unfolded"]["ops"]
    assert fold.batchnorm_ops(folded) == 0, folded
    assert fold.batchnorm_ops(unfolded) >= convbn, unfolded
    assert folded.get("BiasAdd", 0) == unfolded.get("BiasAdd", 0) + convbn
    assert sum(folded.values()) < sum(unfolded.values())

    # TFLite: the converter already folds each BatchNorm into its
    # convolution (constant multiply and add after CONV_2D /
    # DEPTHWISE_CONV_2D), so both files hold the same ops, BatchNorm-free:
    # no MUL at all (the models have no other multiply) and no ADD beyond
    # the residual adds.
    lite, lite_unfolded = report["folded.tflite"]["ops"], report["unfolded.tflite"]["ops"]
    assert lite == lite_unfolded, fold.op_difference(lite_unfolded, lite)
    assert "MUL" not in lite and lite.get("CONV_2D", 0) + lite.get(
        "DEPTHWISE_CONV_2D", 0) == convbn


@pytest.mark.slow
@pytest.mark.tensorflow_only("TFLite is a TensorFlow format")
def test_quantized_tflite_of_a_folded_model(tmp_path):
    model = randomized_model("resnet20")
    x = model.example_inputs(batch_size=3, seed=2)
    expected = helpers.to_numpy(model(x, training=False))
    calibration = model.example_inputs(batch_size=32, seed=3)
    exports = {
        "int8.tflite": ("tflite", {"quantization": "int8", "representative_data": calibration}),
        "float16.tflite": ("tflite", {"quantization": "float16"}),
    }
    report, outputs = export_and_load(model, tmp_path, exports, x)
    assert relative_error(outputs["float16.tflite"], expected) < FLOAT16_RTOL
    assert relative_error(outputs["int8.tflite"], expected) < INT8_RTOL
    assert "MUL" not in report["int8.tflite"]["ops"]


# --------------------------------------------------------------------------
# The option, in the dispatcher and the command line


def test_other_formats_refuse_the_option(tmp_path):
    model = helpers.small_model("einsum_mlp")
    with pytest.raises(ValueError, match="fold_batchnorm"):
        zoo.export.save(model, tmp_path / "m.keras", fold_batchnorm=True)
    assert not list(tmp_path.iterdir())


def _plan(tmp_path, *args):
    weights = zoo.export.save(helpers.small_model("resnet20"), tmp_path / "r.weights.h5",
                              overwrite=True)
    flag_values = flags.FlagValues()
    export_cli.define_flags(flag_values)
    flag_values(["zoo.export", f"--weights={weights}", "--model=resnet20",
                 "--num_classes=5", "--input_shape=32,32,3", *args])
    return export_cli.check_flags(flag_values)


def test_command_line_folds_by_default(tmp_path):
    assert _plan(tmp_path, f"--out={tmp_path}/sm").options == {"fold_batchnorm": True}
    assert _plan(tmp_path, f"--out={tmp_path}/m.tflite", "--nofold_batchnorm").options == \
        {"fold_batchnorm": False}
    assert _plan(tmp_path, f"--out={tmp_path}/m.keras").options == {}

