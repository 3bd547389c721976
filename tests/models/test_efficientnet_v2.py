"""Tests for `zoo.models.efficientnet_v2` and `zoo.convert.efficientnet_v2` (the registry
battery: tests/test_all_models.py; bad arguments: tests/bad_input/test_bad_efficientnet_v2.py).

keras.applications' EfficientNetV2 preprocesses inside the model (B0-B3: Rescaling(1/255) and
Normalization(ImageNet); S, M, L: Rescaling(1/128, offset=-1)); the zoo's does not, so every
comparison feeds keras raw pixels in [0, 255] and the zoo the same pixels preprocessed as the
variant's record says.
"""

import keras
import numpy as np
import pytest
from keras.src.applications import efficientnet_v2 as keras_v2

import helpers
import zoo
from zoo import convert, finetune
from zoo.convert import efficientnet_v2 as converter
from zoo.models import efficientnet_v2
from zoo.models.efficientnet_v2 import EfficientNetV2

VARIANTS = list(efficientnet_v2.EFFICIENTNET_V2_SPECS)
KERAS_KEYS = {v: v if v.startswith("b") else f"-{v}" for v in VARIANTS}  # keras' hash keys
# Over 20 s under JAX, which compiles each op of a first call (2-core AMD EPYC; 2-6 s on TF).
SLOW_ON_JAX = [pytest.mark.slow] if keras.backend.backend() == "jax" else []


def slow_on_jax(test):
    return pytest.mark.slow(test) if SLOW_ON_JAX else test


def small(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return EfficientNetV2(**{"variant": "b0", "num_classes": 3, "input_shape": (32, 32, 1),
                             **kwargs})


@pytest.fixture(scope="module")
def gray():
    return small()


def preprocess(pixels, name):
    """`pixels` in [0, 255] as the record of `name` says the zoo model takes them."""
    spec = zoo.model_info(name).weights["imagenet"]["preprocessing"]
    assert spec["channel_order"] == "rgb"
    return ((pixels - np.array(spec["mean"])) / np.array(spec["std"])).astype("float32")


def pixels(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def randomize(keras_model, seed=1):
    """Random BatchNorm statistics and squeeze-excite biases: a mis-mapped one shows.

    The projections' gammas are then scaled by 0.2: with random statistics the
    residual sums grow ~1.5x per block (logits ~1e6 in S), where float32 rounding
    alone gives keras and the zoo (same weights) a 1e-3 relative difference.
    """
    helpers.randomize_batchnorm(keras_model, seed=seed)
    rng = np.random.default_rng(seed)
    for layer in keras_model.layers:
        if isinstance(layer, keras.layers.Conv2D) and layer.use_bias:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.2, bias.shape)])
        if layer.name.endswith("project_bn"):
            gamma, *rest = layer.get_weights()
            layer.set_weights([0.2 * gamma, *rest])
    return keras_model


def keras_application(variant):
    return getattr(keras.applications, f"EfficientNetV2{variant.upper()}")


# --------------------------------------------------------------------------
# Parameter counts, records


@pytest.mark.parametrize("variant", [
    pytest.param(v, marks=pytest.mark.slow if v in ("m", "l") else SLOW_ON_JAX)
    for v in VARIANTS])
def test_param_counts_equal_keras_applications(variant):
    k = keras_application(variant)(weights=None)
    model = zoo.create_model(f"efficientnet_v2_{variant}")
    assert model.input_shape_ == tuple(k.input_shape[1:]) and model.num_classes == 1000
    # keras' Rescaling and Normalization (mean and variance given) hold no weights.
    assert model.count_params() == k.count_params() == zoo.model_info(model.name).params
    assert helpers.count_weights(model.trainable_weights) == \
        helpers.count_weights(k.trainable_weights)


@slow_on_jax
def test_widths_and_depths_follow_keras_applications():
    # keras' V2 round_filters has no 10% floor: B3's stage 1 keeps 16 (V1's rule: 24).
    assert [row[2:4] for row in efficientnet_v2.architecture("b3")["stages"]] == [
        (2, 16), (3, 40), (3, 56), (5, 112), (7, 136), (12, 232)]
    assert [row[2:4] for row in efficientnet_v2.architecture("l")["stages"]][-2:] == [
        (25, 384), (7, 640)]
    model = EfficientNetV2("b3", input_shape=(32, 32, 3))
    assert model.stem.filters == 40 and model.head_conv.filters == 1536
    assert len(model.blocks) == 32 and model.dropout == 0.2
    assert [(type(b).__name__, b.strides, b.expansion, b.se_ratio) for b in model.blocks][1:3] \
        + [(type(b).__name__, b.strides, b.expansion, b.se_ratio) for b in model.blocks][8:10] \
        == [("FusedMBConv", 1, 1, 0.0), ("FusedMBConv", 2, 4, 0.0),
            ("MBConv", 2, 4, 0.25), ("MBConv", 1, 4, 0.25)]
    assert EfficientNetV2("s", input_shape=(32, 32, 3)).stem.filters == 24


def test_records_name_keras_files_and_preprocessing():
    for variant, (*_, size) in efficientnet_v2.EFFICIENTNET_V2_SPECS.items():
        record = zoo.model_info(f"efficientnet_v2_{variant}")
        assert record.input_size == (size, size, 3)
        assert record.reference == f"keras.applications.EfficientNetV2{variant.upper()}"
        imagenet = record.weights["imagenet"]
        name = f"efficientnetv2-{variant}.h5"
        hashes = keras_v2.WEIGHTS_HASHES[KERAS_KEYS[variant]]
        assert (imagenet["origin"], imagenet["file_name"], imagenet["file_hash"]) == (
            keras_v2.BASE_WEIGHTS_PATH + name, name, hashes[0])
        assert converter.KERAS_WEIGHTS_HASHES[variant] == hashes
        spec = imagenet["preprocessing"]
        if variant.startswith("b"):  # Rescaling(1/255), Normalization(ImageNet mean, std**2)
            np.testing.assert_allclose(spec["mean"], (123.675, 116.28, 103.53), rtol=1e-12)
            np.testing.assert_allclose(spec["std"], (58.395, 57.12, 57.375), rtol=1e-12)
        else:  # Rescaling(1/128, offset=-1)
            assert (spec["mode"], spec["mean"], spec["std"]) == ("efficientnet_v2", (128.0,) * 3,
                                                                 (128.0,) * 3)
        assert spec["resize"] == size + 32 and spec["crop_fraction"] == size / (size + 32)
        assert set(spec) == set(zoo.models._info.PREPROCESSING["torch"])


# --------------------------------------------------------------------------
# keras.applications weights


@pytest.fixture(scope="module")
def keras_b0():
    keras.utils.set_random_seed(0)
    return randomize(keras.applications.EfficientNetV2B0(
        weights=None, input_shape=(64, 96, 3), classes=10, classifier_activation=None))


@slow_on_jax
def test_from_keras_applications_same_logits_non_square(keras_b0):
    k = keras_b0
    model = converter.from_keras_applications(k)
    assert isinstance(model, EfficientNetV2)
    assert (model.variant, model.num_classes, model.include_top, model.input_shape_) == \
        ("b0", 10, True, (64, 96, 3))
    assert (model.bn_momentum, model.bn_epsilon) == (0.9, 1e-3)  # keras' own
    assert (model.dropout, model.drop_connect_rate, model.classifier_activation) == \
        (0.2, 0.2, None)
    x = pixels((2, 64, 96, 3), seed=11)
    helpers.assert_close(model(preprocess(x, "efficientnet_v2_b0"), training=False),
                         k(x, training=False))
    # The family module's shortcut is the same port.
    assert efficientnet_v2.from_keras_applications(k, name="port").name == "port"


@slow_on_jax
def test_from_keras_applications_s_odd_size_without_top():
    # S: the [-1, 1) preprocessing, residual expansion-1 fused blocks. 63x95: every strided
    # layer sees odd sizes.
    k = randomize(keras.applications.EfficientNetV2S(weights=None, input_shape=(63, 95, 3),
                                                     include_top=False, pooling="avg"), seed=2)
    model = converter.from_keras_applications(k)
    assert (model.variant, model.include_top, model.pooling, len(model.blocks)) == \
        ("s", False, "avg", 40)
    x = pixels((2, 63, 95, 3), seed=13)
    got, expected = model(preprocess(x, "efficientnet_v2_s"), training=False), k(x, training=False)
    assert tuple(got.shape) == (2, 1280)
    helpers.assert_close(got, expected)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["m", "l"])
def test_from_keras_applications_big_variants(variant):
    k = randomize(keras_application(variant)(weights=None, input_shape=(64, 64, 3),
                                             classifier_activation=None), seed=4)
    model = converter.from_keras_applications(k)
    assert model.variant == variant and model.count_params() == k.count_params()
    x = pixels((1, 64, 64, 3), seed=5)
    helpers.assert_close(model(preprocess(x, model.name), training=False), k(x, training=False))


def test_drop_connect_rates_equal_keras_per_block():
    # keras divides by the blocks *before* depth scaling (21 for B0-B3): B1 has 27 blocks,
    # so its last ones drop at more than drop_connect_rate, here too.
    k = keras.applications.EfficientNetV2B1(weights=None, input_shape=(32, 32, 3))
    model = converter.from_keras_applications(k)
    theirs = {layer.name: layer.rate for layer in k.layers
              if isinstance(layer, keras.layers.Dropout)}
    ours = {}
    for block in model.blocks:
        stage, index = map(int, block.name.removeprefix("stage").split("_block"))
        if block.drop is not None:  # keras' names: block6d_drop is stage 6's 4th block's
            ours[f"block{stage}{chr(96 + index)}_drop"] = block.drop.rate
    assert ours == pytest.approx({n: r for n, r in theirs.items() if n != "top_dropout"})
    assert model.drop_connect_rate == pytest.approx(0.2)
    assert len(ours) == 21 and ours["block6i_drop"] == pytest.approx(0.2 * 26 / 21)
    assert theirs["top_dropout"] == model.dropout_layer.rate


@pytest.mark.parametrize("bad, fragment", [
    (lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), "'stem_bn'"),
    (lambda: "not a model", "'stem_bn'"),
    # EfficientNet (V1): its blocks per stage tell it apart.
    pytest.param(lambda: keras.applications.EfficientNetB0(
        weights=None, input_shape=(32, 32, 3), include_top=False),
        "blocks per stage [1, 2, 2, 3, 3, 4, 1]", marks=SLOW_ON_JAX, id="efficientnet_v1"),
])
def test_from_keras_applications_rejects_other_models(bad, fragment):
    helpers.assert_rejects(lambda: converter.from_keras_applications(bad()), ValueError,
                           "keras_model", fragment)


# --------------------------------------------------------------------------
# weights="imagenet": keras.applications' files, offline, stood in for by random ones


@pytest.mark.parametrize("top", [pytest.param(True, marks=SLOW_ON_JAX, id="top"),
                                 pytest.param(False, id="no_top")])
def test_imagenet_offline_then_a_placed_file(cache, offline, monkeypatch, top):
    name = f"efficientnetv2-b0{'' if top else '_notop'}.h5"
    kwargs = {} if top else {"include_top": False, "pooling": "avg", "input_shape": (64, 96, 3)}
    with pytest.raises(convert.WeightsDownloadError) as info:
        zoo.create_model("efficientnet_v2_b0", weights="imagenet", **kwargs)
    assert keras_v2.BASE_WEIGHTS_PATH + name in str(info.value)
    assert str(cache / name) in str(info.value)
    assert offline == ["storage.googleapis.com"]

    keras_kwargs = {key: value for key, value in kwargs.items() if key != "include_top"}
    writer = keras.applications.EfficientNetV2B0(weights=None, classifier_activation=None,
                                                 include_top=top, **keras_kwargs)
    helpers.publish_keras_file(monkeypatch, converter, "b0", randomize(writer), cache / name,
                               top, also=[keras_v2])
    reference = keras.applications.EfficientNetV2B0(
        weights="imagenet", classifier_activation=None, include_top=top, **keras_kwargs)
    model = zoo.create_model("efficientnet_v2_b0", weights="imagenet", **kwargs)
    x = pixels((2, *model.input_shape_), seed=3)
    helpers.assert_close(model(preprocess(x, "efficientnet_v2_b0")), reference(x))
    assert len(offline) == 1  # the cached file needed no network


# --------------------------------------------------------------------------
# Structure, features, summary, layouts


def test_layer_names_are_stages_and_blocks(gray):
    names = [layer.name for layer in finetune.top_level_layers(gray)]
    assert names[0] == "stem_conv" and names[-5:] == ["head_conv", "avg_pool", "dropout",
                                                      "classifier", "predictions"]
    assert names[1:-5] == [f"stage{s}_block{i}" for s, row in
                           enumerate(efficientnet_v2.architecture("b0")["stages"], 1)
                           for i in range(1, row[2] + 1)]
    paths = {w.path.split("/", 1)[1] for w in gray.weights}
    assert {"stage1_block1/project/conv/kernel", "stage2_block1/expand/conv/kernel",
            "stage4_block2/se/reduce/bias", "stage4_block2/depthwise/conv/kernel",
            "stage6_block8/project/bn/gamma", "head_conv/conv/kernel"} <= paths
    assert not any(p.startswith(("stage1", "stage2", "stage3")) and "/se/" in p for p in paths)


def test_feature_maps_at_a_non_square_size():
    model = EfficientNetV2("s", input_shape=(64, 96, 3), features_only=True)
    assert [(f["channels"], f["reduction"], f["layer"]) for f in model.feature_info] == [
        (24, 2, "stage1_block2"), (48, 4, "stage2_block4"), (64, 8, "stage3_block4"),
        (160, 16, "stage5_block9"), (256, 32, "stage6_block15")]
    maps = model(pixels((1, 64, 96, 3)))
    assert {name: tuple(value.shape) for name, value in maps.items()} == {
        "stage0": (1, 32, 48, 24), "stage1": (1, 16, 24, 48), "stage2": (1, 8, 12, 64),
        "stage3": (1, 4, 6, 160), "stage4": (1, 2, 3, 256)}
    some = EfficientNetV2("s", input_shape=(64, 96, 3), features_only=True, out_stages=(1, 3))
    assert list(some(pixels((1, 64, 96, 3)))) == ["stage1", "stage3"]
    assert some.blocks[-1].name == "stage5_block9" and some.head_conv is None


@pytest.mark.slow
def test_m_and_l_feature_maps_end_at_stage_7():
    # M and L end with a stride-1 stage 7: reduction 32's map is its last block.
    for variant, layer, channels in (("m", "stage7_block5", 512), ("l", "stage7_block7", 640)):
        model = EfficientNetV2(variant, input_shape=(32, 32, 3), features_only=True)
        assert (model.feature_info[-1]["layer"], model.feature_info[-1]["channels"]) == \
            (layer, channels)
        assert tuple(model(pixels((1, 32, 32, 3)))["stage4"].shape) == (1, 1, 1, channels)


def test_summary_opens_the_blocks(gray):
    lines = helpers.summary_lines(gray)
    rows = helpers.summary_rows(lines)
    start = [r["name"] for r in rows].index("stage2_block2")
    assert [(r["depth"], r["name"], r["type"], r["shape"]) for r in rows[start:start + 10]] == [
        (0, "stage2_block2", "FusedMBConv", "(None, 8, 8, 32)"),
        (1, "expand", "ConvBN", "(None, 8, 8, 128)"),
        (2, "conv", "Conv2D", "(None, 8, 8, 128)"),
        (2, "bn", "BatchNorm", "(None, 8, 8, 128)"),
        (2, "act", "Activation", "(None, 8, 8, 128)"),
        (1, "project", "ConvBN", "(None, 8, 8, 32)"),
        (2, "conv", "Conv2D", "(None, 8, 8, 32)"),
        (2, "bn", "BatchNorm", "(None, 8, 8, 32)"),
        (1, "drop", "Dropout", "(None, 8, 8, 32)"),
        (1, "add", "Add", "(None, 8, 8, 32)"),
    ]
    assert [(r["name"], r["type"]) for r in rows if r["depth"] == 0][6:8] == \
        [("stage4_block1", "MBConv"), ("stage4_block2", "MBConv")]
    assert sum(r["params"] for r in rows if r["depth"] == 0) == gray.count_params()
    assert helpers.summary_totals(lines)["Total"] == gray.count_params()


@slow_on_jax
def test_channels_first_matches_channels_last(gray):
    first = small(data_format="channels_first", input_shape=(1, 32, 32))
    first.set_weights(gray.get_weights())
    x = gray.example_inputs(batch_size=2, seed=3)
    np.testing.assert_allclose(
        helpers.to_numpy(first(np.transpose(x, (0, 3, 1, 2)), training=False)),
        helpers.to_numpy(gray(x, training=False)), atol=1e-5, rtol=0)


def test_defaults_and_config():
    model = small()
    config = model.get_config()
    assert (config["variant"], config["drop_connect_rate"], config["dropout"]) == ("b0", 0.2, 0.2)
    assert (config["bn_momentum"], config["bn_epsilon"]) == (0.9, 1e-3)
    assert small(dropout=0.0).dropout_layer is None
    restored = EfficientNetV2.from_config(config)
    assert type(restored) is EfficientNetV2 and restored.get_config() == config
    assert model.name == "efficientnet_v2_b0"
    assert EfficientNetV2("b1", include_top=False).input_shape_ == (240, 240, 3)


def test_gradient_free_weights_follow_drop_connect():
    assert small().gradient_free_weights == ("*/stage[4-7]_block1/project/bn/beta",)
    assert small(variant="b1", drop_connect_rate=0.0).gradient_free_weights == (
        "*/stage[4-7]_block*/project/bn/beta", "*/stage3_block3/project/bn/beta")


# --------------------------------------------------------------------------
# Dropout and drop-connect


def test_dropout_and_drop_connect_are_off_in_inference(gray):
    plain = gray.rebuilt(dropout=0.0, drop_connect_rate=0.0)
    assert plain.dropout_layer is None and all(b.drop is None for b in plain.blocks)
    x = gray.example_inputs(batch_size=4, seed=4)
    np.testing.assert_array_equal(helpers.to_numpy(gray(x, training=False)),
                                  helpers.to_numpy(plain(x, training=False)))
    assert not np.allclose(helpers.to_numpy(gray(x, training=True)),
                           helpers.to_numpy(gray(x, training=True)))


def test_a_models_fused_block_drops_whole_examples_at_the_keras_rate():
    # stage3_block2 is block 4 of B0's 21: rate 0.2 * 4 / 21, as keras' block3b_drop.
    model = small(seed=5, input_shape=(32, 32, 3))
    block = model.get_layer("stage3_block2")
    assert type(block).__name__ == "FusedMBConv" and block.drop.rate == 0.2 * 4 / 21
    twin = type(block).from_config({**block.get_config(), "drop_rate": 0.0})
    x = helpers.random_inputs((2000, 3, 3, block.filters), seed=6)
    twin.build(x.shape)
    twin.set_weights(block.get_weights())
    branch = helpers.to_numpy(twin(x, training=True)) - x
    got = helpers.to_numpy(block(x, training=True)) - x
    dropped = np.all(np.abs(got) < 1e-6, axis=(1, 2, 3))
    np.testing.assert_allclose(got[~dropped], branch[~dropped] / (1 - block.drop.rate),
                               rtol=1e-4, atol=1e-4)
    assert abs(dropped.mean() - 4 / 105) < 0.02, dropped.mean()  # 4.5 standard deviations


# --------------------------------------------------------------------------
# zoo.finetune by stage


@slow_on_jax
def test_freeze_all_but_the_last_stage_is_bit_identical_after_training():
    # Frozen BatchNorm runs on its moving statistics: one training-mode pass at momentum
    # 0 makes them a batch's, as a trained model's would be (else activations vanish).
    rng = np.random.default_rng(0)
    model = small(seed=1, bn_momentum=0.0)
    model(rng.standard_normal((8, 32, 32, 1)).astype("float32"), training=True)
    frozen = finetune.freeze(model, upto="stage5")
    layers = finetune.top_level_layers(model)
    trained = [f"stage6_block{i}" for i in range(1, 9)] + [
        "head_conv", "avg_pool", "dropout", "classifier", "predictions"]
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
    for variant in VARIANTS:
        name = f"efficientnet_v2_{variant}"
        constructor = getattr(efficientnet_v2, name)
        assert constructor.__name__ == name
        assert constructor(input_shape=(32, 32, 3), num_classes=2,
                           features_only=True, out_stages=(0,)).variant == variant
