"""Tests for `zoo.models.mobilenet_v3` and `zoo.convert.mobilenet_v3` (the registry
battery: tests/test_all_models.py; bad arguments: tests/bad_input/test_bad_mobilenet_v3.py).

keras.applications' MobileNetV3 rescales pixels inside the model; the zoo's
does not, so every comparison feeds keras raw pixels in [0, 255] and the zoo
the same pixels preprocessed as the variant's record says ("tf": [-1, 1]).
"""


import keras
import numpy as np
import pytest
from keras.src.applications import mobilenet_v3 as keras_mobilenet_v3

import helpers
import zoo
from zoo import convert, finetune
from zoo.convert import mobilenet_v3 as converter
from zoo.models import mobilenet_v3
from zoo.models.mobilenet_v3 import MobileNetV3

VARIANTS = mobilenet_v3.VARIANTS
SLOW_ON_JAX = [pytest.mark.slow] if keras.backend.backend() == "jax" else []


def small(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return MobileNetV3(**{"size": "small", "num_classes": 3, "input_shape": (32, 32, 1),
                          **kwargs})


@pytest.fixture(scope="module")
def gray():
    return small()


def preprocess(pixels, name="mobilenet_v3_large_100"):
    """`pixels` in [0, 255] as the record of `name` says the zoo model takes them."""
    spec = zoo.model_info(name).weights["imagenet"]["preprocessing"]
    assert (spec["mode"], spec["channel_order"]) == ("tf", "rgb")
    return ((pixels - np.array(spec["mean"])) / np.array(spec["std"])).astype("float32")


def pixels(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def keras_model(size, alpha=1.0, minimalistic=False, **kwargs):
    return getattr(keras.applications, f"MobileNetV3{size.title()}")(
        weights=None, alpha=alpha, minimalistic=minimalistic, **kwargs)


# --------------------------------------------------------------------------
# Parameter counts, widths, records


@pytest.mark.parametrize("name", [pytest.param(name, marks=SLOW_ON_JAX) for name in VARIANTS])
def test_param_counts_equal_keras_applications(name):
    size, alpha, minimalistic, params = VARIANTS[name]
    k = keras_model(size, alpha, minimalistic, input_shape=(224, 224, 3))
    model = zoo.create_model(name)
    assert model.input_shape_ == (224, 224, 3) and model.num_classes == 1000
    # keras' Rescaling holds no weights: the counts are equal.
    assert model.count_params() == k.count_params() == params == zoo.model_info(name).params
    assert helpers.count_weights(model.trainable_weights) == \
        helpers.count_weights(k.trainable_weights)


@pytest.mark.parametrize("_", [pytest.param(None, id="large_075", marks=SLOW_ON_JAX)])
def test_widths_follow_keras_applications(_):
    # MobileNetV3Large at 0.75: _depth(24 * 0.75 = 18) = 24 (16 is over 10% lower);
    # hidden widths _depth(input * ratio): 64 * 2.3 = 147.2 -> 144; head conv 6 x 120.
    rows = mobilenet_v3.blocks("large", 0.75)
    assert [row[1] for row in rows] == [16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 88, 88, 120,
                                        120, 120]
    assert [row[2] for row in rows] == [16, 64, 72, 72, 96, 96, 192, 160, 144, 144, 384, 528,
                                        528, 720, 720]
    assert [(row[3], row[4], row[5], row[6]) for row in rows][5:7] == [
        (5, 1, 0.25, "relu"), (3, 2, 0.0, "hard_swish")]
    model = MobileNetV3("large", 0.75, input_shape=(32, 32, 3))
    assert (model.stem.filters, model.head_conv.filters, model.head_filters) == (16, 720, 1280)
    assert model.blocks[0].expand is None and model.blocks[1].expand.filters == 64
    # Minimalistic: 3x3 kernels, ReLU, no squeeze-excite anywhere.
    minimal = mobilenet_v3.blocks("small", 1.0, minimalistic=True)
    assert {(row[3], row[5], row[6]) for row in minimal} == {(3, 0.0, "relu")}
    # Above 1, alpha widens the head too (keras' `last_point_ch`).
    assert MobileNetV3("small", 1.3, input_shape=(32, 32, 3)).head_filters == 1328


def test_records_name_keras_files_and_preprocessing():
    for name, (size, alpha, minimalistic, params) in VARIANTS.items():
        record = zoo.model_info(name)
        assert (record.input_size, record.params) == ((224, 224, 3), params)
        assert record.reference == f"keras.applications.MobileNetV3{size.title()}"
        key = f"{size}{'_minimalistic' if minimalistic else ''}_224_{alpha}_float"
        if key not in keras_mobilenet_v3.WEIGHTS_HASHES:  # minimalistic at 0.75
            assert name in mobilenet_v3.UNPUBLISHED and record.weights == {}
            continue
        imagenet = record.weights["imagenet"]
        file_name = f"weights_mobilenet_v3_{key}.h5"
        assert (imagenet["origin"], imagenet["file_name"], imagenet["file_hash"]) == (
            keras_mobilenet_v3.BASE_WEIGHT_PATH + file_name, file_name,
            keras_mobilenet_v3.WEIGHTS_HASHES[key][0])
        # keras' Rescaling(scale=1 / 127.5, offset=-1): x / 127.5 - 1 = (x - 127.5) / 127.5.
        spec = imagenet["preprocessing"]
        assert (spec["mean"], spec["std"], spec["channel_order"]) == \
            ((127.5,) * 3, (127.5,) * 3, "rgb")
    assert converter.KERAS_WEIGHTS_HASHES == keras_mobilenet_v3.WEIGHTS_HASHES
    assert len(mobilenet_v3.UNPUBLISHED) == 2 and len(zoo.list_models("mobilenet_v3*")) == 8


# --------------------------------------------------------------------------
# keras.applications weights


@pytest.mark.parametrize("size, alpha, minimalistic, kwargs, shape", [
    ("large", 1.0, False, {"classes": 10, "input_shape": (64, 96, 3)}, (2, 10)),
    ("small", 0.75, False, {"include_top": False, "pooling": "avg", "input_shape": (63, 95, 3)},
     (2, 432)),
    pytest.param("small", 1.0, True, {"classes": 7, "input_shape": (64, 96, 3)}, (2, 7),
                 marks=SLOW_ON_JAX),
    pytest.param("large", 0.75, True, {"include_top": False, "input_shape": (64, 96, 3)},
                 (2, 2, 3, 720), marks=SLOW_ON_JAX),
    pytest.param("small", 1.3, False, {"classes": 4, "input_shape": (33, 47, 3)}, (2, 4),
                 marks=SLOW_ON_JAX),
])
def test_from_keras_applications_same_outputs_non_square(size, alpha, minimalistic, kwargs,
                                                         shape):
    # Odd sizes (63x95, 33x47): every strided layer sees an odd size, where keras'
    # correct_pad pads evenly, as "same" does.
    k = helpers.randomize_reference(
        keras_model(size, alpha, minimalistic, classifier_activation=None, **kwargs))
    model = converter.from_keras_applications(k)
    assert isinstance(model, MobileNetV3)
    assert (model.size, model.alpha, model.minimalistic) == (size, alpha, minimalistic)
    assert (model.bn_momentum, model.bn_epsilon) == (0.999, 1e-3)  # keras' own
    assert model.input_shape_ == kwargs["input_shape"]
    assert model.count_params() == k.count_params()
    if model.include_top:
        assert (model.dropout, model.classifier_activation) == (0.2, None)
    x = pixels((2, *kwargs["input_shape"]), seed=11)
    got, expected = model(preprocess(x), training=False), k(x, training=False)
    assert tuple(got.shape) == shape
    helpers.assert_close(got, expected)


def test_from_keras_applications_overrides_and_family_shortcut():
    k = helpers.randomize_reference(keras_model(
        "small", input_shape=(32, 32, 3), classes=3, classifier_activation="softmax",
        dropout_rate=0.0))
    model = mobilenet_v3.from_keras_applications(k, bn_momentum=0.9, name="tuned")
    assert (model.bn_momentum, model.name, model.dropout) == (0.9, "tuned", 0.0)
    assert model.classifier_activation == "softmax" and model.dropout_layer is None
    x = pixels((2, 32, 32, 3), seed=12)
    helpers.assert_close(model(preprocess(x), training=False), k(x, training=False))


@pytest.mark.parametrize("bad, fragments", [
    (lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), ("'conv_bn'",)),
    (lambda: "not a model", ("'conv_bn'",)),
    (lambda: keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3),
                                            include_top=False), ("'conv_bn'",)),
])
def test_from_keras_applications_rejects_other_models(bad, fragments):
    helpers.assert_rejects(lambda: converter.from_keras_applications(bad()), ValueError,
                           "keras_model", *fragments)


def test_from_keras_applications_names_a_head_that_does_not_fit():
    k = keras_model("small", input_shape=(32, 32, 3), classes=5)
    model = MobileNetV3("small", input_shape=(32, 32, 3), num_classes=6)
    helpers.assert_rejects(
        lambda: convert.assign(model, converter.HeadConvWeights(k, "MobileNetV3Small"),
                               converter.KERAS_APPLICATIONS["small"]),
        ValueError, "'logits'", "(1024, 5)", "classifier")


# --------------------------------------------------------------------------
# weights="imagenet": keras.applications' files, offline, stood in for by random ones


@pytest.mark.parametrize("name, top", [
    pytest.param("mobilenet_v3_small_075", True, id="small_075-top", marks=SLOW_ON_JAX),
    pytest.param("mobilenet_v3_large_minimal_100", False, id="large_minimal-no_top"),
])
def test_imagenet_offline_then_a_placed_file(cache, offline, monkeypatch, name, top):
    size, alpha, minimalistic, _ = VARIANTS[name]
    key = converter.keras_weights_key(size, alpha, minimalistic)
    file_name = f"weights_mobilenet_v3_{key}{'' if top else '_no_top_v2'}.h5"
    kwargs = {} if top else {"include_top": False, "pooling": "avg", "input_shape": (64, 96, 3)}
    with pytest.raises(convert.WeightsDownloadError) as info:
        zoo.create_model(name, weights="imagenet", **kwargs)
    assert keras_mobilenet_v3.BASE_WEIGHT_PATH + file_name in str(info.value)
    assert str(cache / file_name) in str(info.value)
    assert offline == ["storage.googleapis.com"]

    keras_kwargs = {"pooling": kwargs.get("pooling"), "include_top": top,
                    "input_shape": kwargs.get("input_shape")}
    writer = helpers.randomize_reference(keras_model(size, alpha, minimalistic, **keras_kwargs))
    helpers.publish_keras_file(monkeypatch, converter, key, writer, cache / file_name, top,
                               also=[keras_mobilenet_v3])
    reference = getattr(keras.applications, f"MobileNetV3{size.title()}")(
        weights="imagenet", alpha=alpha, minimalistic=minimalistic, classifier_activation=None,
        **keras_kwargs)
    model = zoo.create_model(name, weights="imagenet", **kwargs)
    x = pixels((2, *model.input_shape_), seed=3)
    helpers.assert_close(model(preprocess(x)), reference(x))
    assert len(offline) == 1  # the cached file needed no network
    if top:  # a 10-class head: keras' pretrained conv_2 (in the top file only), its own logits
        tuned = zoo.create_model(name, weights="imagenet", num_classes=10)
        kernel, bias = reference.get_layer("conv_2").get_weights()
        np.testing.assert_array_equal(helpers.to_numpy(tuned.head_norm.kernel), kernel[0, 0])
        np.testing.assert_array_equal(helpers.to_numpy(tuned.head_norm.bias), bias)
        assert tuple(tuned.classifier.kernel.shape) == (1024, 10) and len(offline) == 1


def test_imagenet_weights_only_where_keras_publishes_them():
    helpers.assert_rejects(
        lambda: zoo.create_model("mobilenet_v3_small_minimal_075", weights="imagenet"),
        ValueError, "'mobilenet_v3_small_minimal_075'", "weights='imagenet'")
    model = MobileNetV3("large", 0.5, input_shape=(32, 32, 3))
    helpers.assert_rejects(lambda: converter.load_pretrained(model, "imagenet"), ValueError,
                           "large_224_0.5_float", "alpha=0.5")


# --------------------------------------------------------------------------
# Structure, head, features, summary, layouts


def test_layer_names_are_stages_and_blocks(gray):
    names = [layer.name for layer in finetune.top_level_layers(gray)]
    assert names[0] == "stem_conv" and names[-6:] == [
        "head_conv", "avg_pool", "pre_logits", "dropout", "classifier", "predictions"]
    assert names[1:-6] == [row[0] for row in mobilenet_v3.blocks("small")]
    paths = {w.path.split("/", 1)[1] for w in gray.weights}
    assert {"stage1_block1/se/reduce/bias", "stage2_block1/expand/conv/kernel",
            "stage5_block3/project/bn/gamma", "head_conv/conv/kernel", "pre_logits/kernel",
            "pre_logits/bias", "classifier/kernel"} <= paths
    assert "stage1_block1/expand/conv/kernel" not in paths  # keras' block 0: no expand


def test_head_is_keras_pooled_conv_with_bias_then_activation():
    model = small(input_shape=(32, 32, 3), dropout=0.0)
    pre_logits = model.head_norm  # ImageClassifier's hook after the pooling
    assert (pre_logits.name, pre_logits.units, pre_logits.use_bias, keras.activations.serialize(
        pre_logits.activation)) == ("pre_logits", 1024, True, "hard_silu")
    x = pixels((2, 32, 32, 3)) / 127.5 - 1
    features = small(input_shape=(32, 32, 3), include_top=False, pooling="avg")
    features.set_weights(model.get_weights()[:len(features.weights)])
    pooled = helpers.to_numpy(features(x, training=False))
    kernel, bias = (helpers.to_numpy(w) for w in pre_logits.weights)
    hidden = pooled @ kernel + bias
    hidden = hidden * np.clip(hidden + 3, 0, 6) / 6
    w, b = (helpers.to_numpy(v) for v in model.classifier.weights)
    np.testing.assert_allclose(helpers.to_numpy(model(x, training=False)), hidden @ w + b,
                               atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("size, expected", [
    ("small", {"stage0": ((1, 32, 48, 16), "stem_conv"), "stage1": ((1, 16, 24, 16),
               "stage1_block1"), "stage2": ((1, 8, 12, 24), "stage2_block2"),
               "stage3": ((1, 4, 6, 48), "stage4_block2"), "stage4": ((1, 2, 3, 576),
               "head_conv")}),
    ("large", {"stage0": ((1, 32, 48, 16), "stage1_block1"), "stage1": ((1, 16, 24, 24),
               "stage2_block2"), "stage2": ((1, 8, 12, 40), "stage3_block3"),
               "stage3": ((1, 4, 6, 112), "stage5_block2"), "stage4": ((1, 2, 3, 960),
               "head_conv")}),
])
def test_feature_maps_at_a_non_square_size(size, expected):
    # timm's feature_info: reductions 2-32; "small" taps its stem (its first block is
    # strided), the last map is the 1x1 head conv (timm's last block).
    model = MobileNetV3(size, input_shape=(64, 96, 3), features_only=True)
    assert [(f["name"], f["channels"], f["reduction"], f["layer"]) for f in model.feature_info] \
        == [(name, shape[-1], 2 ** (i + 1), layer)
            for i, (name, (shape, layer)) in enumerate(expected.items())]
    maps = model(pixels((1, 64, 96, 3)))
    assert {name: tuple(value.shape) for name, value in maps.items()} == \
        {name: shape for name, (shape, _) in expected.items()}
    some = MobileNetV3(size, input_shape=(64, 96, 3), features_only=True, out_stages=(1, 3))
    assert list(some(pixels((1, 64, 96, 3)))) == ["stage1", "stage3"]
    assert some.blocks[-1].name == expected["stage3"][1] and some.head_conv is None
    stem_only = MobileNetV3("small", input_shape=(64, 96, 3), features_only=True,
                            out_stages=(0,))
    assert stem_only.blocks == [] and list(stem_only(pixels((1, 64, 96, 3)))) == ["stage0"]


def test_summary_opens_the_blocks(gray):
    lines = helpers.summary_lines(gray)
    rows = helpers.summary_rows(lines)
    start = [r["name"] for r in rows].index("stage3_block2")
    assert [(r["depth"], r["name"], r["type"], r["shape"]) for r in rows[start:start + 17]] == [
        (0, "stage3_block2", "InvertedResidual", "(None, 2, 2, 40)"),
        (1, "expand", "ConvBN", "(None, 2, 2, 240)"),
        (2, "conv", "Conv2D", "(None, 2, 2, 240)"),
        (2, "bn", "BatchNorm", "(None, 2, 2, 240)"),
        (2, "act", "Activation", "(None, 2, 2, 240)"),
        (1, "depthwise", "ConvBN", "(None, 2, 2, 240)"),
        (2, "conv", "DepthwiseConv2D", "(None, 2, 2, 240)"),
        (2, "bn", "BatchNorm", "(None, 2, 2, 240)"),
        (2, "act", "Activation", "(None, 2, 2, 240)"),
        (1, "se", "SqueezeExcite", "(None, 2, 2, 240)"),
        (2, "reduce", "Conv2D", "(None, 1, 1, 64)"),
        (2, "expand", "Conv2D", "(None, 1, 1, 240)"),
        (1, "project", "ConvBN", "(None, 2, 2, 40)"),
        (2, "conv", "Conv2D", "(None, 2, 2, 40)"),
        (2, "bn", "BatchNorm", "(None, 2, 2, 40)"),
        (1, "add", "Add", "(None, 2, 2, 40)"),
        (0, "stage3_block3", "InvertedResidual", "(None, 2, 2, 40)"),
    ]
    assert sum(r["params"] for r in rows if r["depth"] == 0) == gray.count_params()
    assert helpers.summary_totals(lines)["Total"] == gray.count_params()


@pytest.mark.parametrize("size", ["small", pytest.param("large", marks=SLOW_ON_JAX)])
def test_channels_first_matches_channels_last(size):
    last = small(size=size)
    first = small(size=size, data_format="channels_first", input_shape=(1, 32, 32))
    first.set_weights(last.get_weights())
    x = last.example_inputs(batch_size=2, seed=3)
    np.testing.assert_allclose(
        helpers.to_numpy(first(np.transpose(x, (0, 3, 1, 2)), training=False)),
        helpers.to_numpy(last(x, training=False)), atol=1e-5, rtol=0)


def test_defaults_and_config():
    model = small()
    config = model.get_config()
    assert (config["size"], config["alpha"], config["minimalistic"], config["dropout"]) == \
        ("small", 1.0, False, 0.2)
    assert (config["bn_momentum"], config["bn_epsilon"]) == (0.9, 1e-3)
    assert type(MobileNetV3.from_config(config)) is MobileNetV3
    assert (model.name, MobileNetV3().name) == ("mobilenet_v3_small_100", "mobilenet_v3_large_100")
    assert zoo.create_model("mobilenet_v3_large_minimal_075", input_shape=(32, 32, 3)).name == \
        "mobilenet_v3_large_minimal_075"
    assert MobileNetV3(alpha=1, input_shape=(8, 8, 3)).alpha == 1.0  # an int is fine


def test_dropout_only_in_training(gray):
    plain = gray.rebuilt(dropout=0.0)
    assert gray.dropout_layer.rate == 0.2 and plain.dropout_layer is None
    x = gray.example_inputs(batch_size=4, seed=4)
    np.testing.assert_array_equal(helpers.to_numpy(gray(x, training=False)),
                                  helpers.to_numpy(plain(x, training=False)))
    assert not np.allclose(helpers.to_numpy(gray(x, training=True)),
                           helpers.to_numpy(gray(x, training=True)))


# --------------------------------------------------------------------------
# zoo.finetune by stage


@pytest.mark.parametrize("size", ["small", pytest.param("large", marks=SLOW_ON_JAX)])
def test_freeze_all_but_the_last_stage_is_bit_identical_after_training(size):
    rng = np.random.default_rng(0)
    model = small(seed=1, size=size)
    last = len(mobilenet_v3.SPECS[size])
    frozen = finetune.freeze(model, upto=f"stage{last - 1}")
    layers = finetune.top_level_layers(model)
    trained = [name for name, *_ in mobilenet_v3.blocks(size) if name.startswith(f"stage{last}")]
    trained += ["head_conv", "avg_pool", "pre_logits", "dropout", "classifier", "predictions"]
    assert frozen == [layer.name for layer in layers][:-len(trained)]
    before = helpers.weight_snapshot(model)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    for _ in range(2):
        model.train_on_batch(rng.standard_normal((8, 32, 32, 1)).astype("float32"),
                             rng.integers(0, 3, size=(8,)))
    after = helpers.weight_snapshot(model)
    frozen_paths = {v.path for layer in layers if layer.name in frozen for v in layer.weights}
    assert {p.rsplit("/", 1)[-1] for p in frozen_paths} >= {
        "kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"}
    changed = sorted(p for p in frozen_paths if not np.array_equal(before[p], after[p]))
    assert not changed, f"frozen weights changed: {changed}"
    moving = {v.path for v in model.trainable_weights}
    still = sorted(p for p in moving if np.array_equal(before[p], after[p]))
    assert moving and not still, f"unfrozen weights did not move: {still}"


def test_module_constructors_are_the_registered_variants():
    for name, (size, alpha, minimalistic, _) in VARIANTS.items():
        constructor = getattr(mobilenet_v3, name)
        assert constructor.__name__ == name
        model = constructor(input_shape=(32, 32, 3), num_classes=2)
        assert (model.name, model.size, model.alpha, model.minimalistic) == \
            (name, size, alpha, minimalistic)
