"""Tests for `zoo.models.efficientnet` and `zoo.convert.efficientnet` (the registry
battery: tests/test_all_models.py; bad arguments: tests/bad_input/test_bad_efficientnet.py).

keras.applications' EfficientNet preprocesses inside the model; the zoo's
does not, so every comparison feeds keras raw pixels in [0, 255] and the zoo
the same pixels preprocessed as the variant's record says.
"""


import keras
import numpy as np
import pytest
from keras.src.applications import efficientnet as keras_efficientnet

import helpers
import zoo
from zoo import convert, finetune
from zoo.convert import efficientnet as converter
from zoo.models import efficientnet
from zoo.models.efficientnet import EfficientNet

VARIANTS = list(efficientnet.EFFICIENTNET_SPECS)
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array(keras_efficientnet.IMAGENET_STDDEV_RGB)
# Over 20 s under JAX, which compiles each op of a first call (2-core AMD EPYC; 2-6 s on TF).
SLOW_ON_JAX = [pytest.mark.slow] if keras.backend.backend() == "jax" else []


def slow_on_jax(test):
    return pytest.mark.slow(test) if SLOW_ON_JAX else test


def small(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return EfficientNet(**{"variant": "b0", "num_classes": 3, "input_shape": (32, 32, 1),
                           **kwargs})


@pytest.fixture(scope="module")
def gray():
    return small()


def preprocess(pixels, name="efficientnet_b0"):
    """`pixels` in [0, 255] as the record of `name` says the zoo model takes them."""
    spec = zoo.model_info(name).weights["imagenet"]["preprocessing"]
    assert (spec["mode"], spec["channel_order"]) == ("torch", "rgb")
    return ((pixels - np.array(spec["mean"])) / np.array(spec["std"])).astype("float32")


def pixels(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def set_normalization(keras_model, variance):
    """Gives keras' in-model Normalization the ImageNet mean and `variance`."""
    layer, = [x for x in keras_model.layers if isinstance(x, keras.layers.Normalization)]
    layer.set_weights([IMAGENET_MEAN, variance, np.array(0)])
    layer.finalize_state()  # Normalization reads its weights here, as after a load
    return keras_model


# --------------------------------------------------------------------------
# Parameter counts, records


@pytest.mark.parametrize("variant", [
    pytest.param(v, marks=SLOW_ON_JAX if v in ("b0", "b1", "b2", "b3") else pytest.mark.slow)
    for v in VARIANTS])
def test_param_counts_equal_keras_applications(variant):
    k = getattr(keras.applications, f"EfficientNet{variant.upper()}")(weights=None)
    model = zoo.create_model(f"efficientnet_{variant}")
    assert model.input_shape_ == tuple(k.input_shape[1:]) and model.num_classes == 1000
    # keras' Normalization holds 7 numbers (mean, variance, count): preprocessing here.
    assert model.count_params() == k.count_params() - 7 == zoo.model_info(model.name).params
    assert helpers.count_weights(model.trainable_weights) == \
        helpers.count_weights(k.trainable_weights)


@slow_on_jax
def test_widths_and_depths_follow_keras_applications():
    # round_filters / round_repeats of keras.applications at width 1.4, depth 1.8 (B4).
    model = EfficientNet("b4", input_shape=(32, 32, 3))
    assert model.stem.filters == 48 and model.head_conv.filters == 1792
    assert [row[2:4] for row in efficientnet.architecture("b4")["stages"]] == [
        (2, 24), (4, 32), (4, 56), (6, 112), (6, 160), (8, 272), (2, 448)]
    assert len(model.blocks) == 32 and model.dropout == 0.4
    assert [(b.kernel_size, b.strides, b.expansion) for b in model.blocks][:4] == \
        [(3, 1, 1), (3, 1, 1), (3, 2, 6), (3, 1, 6)]


def test_records_name_keras_files_and_preprocessing():
    for variant, (_, _, size, _) in efficientnet.EFFICIENTNET_SPECS.items():
        record = zoo.model_info(f"efficientnet_{variant}")
        assert record.input_size == (size, size, 3)
        assert record.reference == f"keras.applications.EfficientNet{variant.upper()}"
        imagenet = record.weights["imagenet"]
        name = f"efficientnet{variant}.h5"
        assert (imagenet["origin"], imagenet["file_name"], imagenet["file_hash"]) == (
            keras_efficientnet.BASE_WEIGHTS_PATH + name, name,
            keras_efficientnet.WEIGHTS_HASHES[variant][0])
        assert converter.KERAS_WEIGHTS_HASHES[variant] == \
            keras_efficientnet.WEIGHTS_HASHES[variant]
        spec = imagenet["preprocessing"]
        np.testing.assert_allclose(spec["mean"], 255 * IMAGENET_MEAN, rtol=1e-12)
        np.testing.assert_allclose(spec["std"], 255 * IMAGENET_STD, rtol=1e-12)
        assert spec["resize"] == size + 32 and spec["crop_fraction"] == size / (size + 32)
        assert set(spec) == set(zoo.models._info.PREPROCESSING["torch"])


# --------------------------------------------------------------------------
# keras.applications weights


@pytest.fixture(scope="module")
def keras_b0():
    keras.utils.set_random_seed(0)
    k = keras.applications.EfficientNetB0(weights=None, input_shape=(64, 96, 3), classes=10,
                                          classifier_activation=None)
    # keras' Rescaling(1/255) and Normalization make the zoo's preprocessing exactly.
    return set_normalization(helpers.randomize_reference(k, seed=1), IMAGENET_STD ** 2)


def test_from_keras_applications_same_logits_non_square(keras_b0):
    k = keras_b0
    model = converter.from_keras_applications(k)
    assert isinstance(model, EfficientNet)
    assert (model.variant, model.num_classes, model.include_top, model.input_shape_) == \
        ("b0", 10, True, (64, 96, 3))
    assert (model.bn_momentum, model.bn_epsilon) == (0.99, 1e-3)  # keras' own
    assert (model.dropout, model.drop_connect_rate, model.classifier_activation) == \
        (0.2, 0.2, None)
    x = pixels((2, 64, 96, 3), seed=11)
    helpers.assert_close(model(preprocess(x), training=False), k(x, training=False))
    # The family module's shortcut is the same port.
    assert efficientnet.from_keras_applications(k, name="port").name == "port"


def test_drop_connect_rates_equal_keras_per_block(keras_b0):
    model = converter.from_keras_applications(keras_b0)
    theirs = {layer.name: layer.rate for layer in keras_b0.layers
              if isinstance(layer, keras.layers.Dropout)}
    ours = {}
    for block in model.blocks:
        stage, index = map(int, block.name.removeprefix("stage").split("_block"))
        if block.drop is not None:  # keras' names: block6d_drop is stage 6's 4th block's
            ours[f"block{stage}{'abcdefghijklm'[index - 1]}_drop"] = block.drop.rate
    assert ours == {name: rate for name, rate in theirs.items() if name != "top_dropout"}
    assert len(ours) == 9 and ours["block6d_drop"] == 0.2 * 14 / 16
    assert theirs["top_dropout"] == model.dropout_layer.rate


def test_from_keras_applications_odd_size_without_top_and_depth():
    # B1 has B0's widths and more blocks: only the depths tell them apart. 63x95:
    # every strided layer sees odd sizes, where keras' correct_pad pads 1/1 (2/2).
    k = keras.applications.EfficientNetB1(weights=None, input_shape=(63, 95, 3),
                                          include_top=False, pooling="avg")
    set_normalization(helpers.randomize_reference(k, seed=2), IMAGENET_STD ** 2)
    model = converter.from_keras_applications(k)
    assert (model.variant, model.include_top, model.pooling) == ("b1", False, "avg")
    assert len(model.blocks) == 23
    x = pixels((2, 63, 95, 3), seed=13)
    got, expected = model(preprocess(x), training=False), k(x, training=False)
    assert tuple(got.shape) == (2, 1280)
    helpers.assert_close(got, expected)


def test_keras_padding_without_a_known_size_differs_from_every_sized_one():
    # keras' correct_pad reads the static size: with input_shape=(None, None, 3)
    # it pads as for even sizes, so at an odd size its maps are smaller than
    # those of the same network built for that size. The zoo's "same" padding
    # equals keras built for the size (tests above), for any size.
    def sizes(input_shape):
        k = keras.applications.EfficientNetB0(weights=None, include_top=False,
                                              input_shape=input_shape)
        return tuple(k(pixels((1, 33, 33, 3))).shape)
    assert sizes((None, None, 3)) == (1, 1, 1, 1280) and sizes((33, 33, 3)) == (1, 2, 2, 1280)
    assert tuple(zoo.create_model("efficientnet_b0", include_top=False,
                                  input_shape=(None, None, 3))(pixels((1, 33, 33, 3))).shape) \
        == (1, 2, 2, 1280)


@pytest.mark.parametrize("bad, fragment", [
    (lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), "'stem_bn'"),
    (lambda: "not a model", "'stem_bn'"),
    (lambda: keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3),
                                            include_top=False), "'stem_bn'"),
])
def test_from_keras_applications_rejects_other_models(bad, fragment):
    helpers.assert_rejects(lambda: converter.from_keras_applications(bad()), ValueError,
                           "keras_model", fragment)


# --------------------------------------------------------------------------
# weights="imagenet": keras.applications' files, offline, stood in for by random ones


@pytest.mark.parametrize("top", [pytest.param(True, marks=SLOW_ON_JAX, id="top"),
                                 pytest.param(False, id="no_top")])
def test_imagenet_offline_then_a_placed_file(cache, offline, monkeypatch, top):
    name = f"efficientnetb0{'' if top else '_notop'}.h5"
    kwargs = {} if top else {"include_top": False, "pooling": "avg", "input_shape": (64, 96, 3)}
    with pytest.raises(convert.WeightsDownloadError) as info:
        zoo.create_model("efficientnet_b0", weights="imagenet", **kwargs)
    assert "https://storage.googleapis.com/keras-applications/" + name in str(info.value)
    assert str(cache / name) in str(info.value)
    assert offline == ["storage.googleapis.com"]

    # The published files' Normalization holds the std as its "variance"
    # (tensorflow/tensorflow#49930); keras' weights="imagenet" model adds a
    # Rescaling(1/sqrt(std)) for it. Both are in the zoo's preprocessing.
    writer = keras.applications.EfficientNetB0(
        weights=None, classifier_activation=None,
        **{key: value for key, value in kwargs.items() if key != "include_top"},
        include_top=top)
    helpers.publish_keras_file(
        monkeypatch, converter, "b0",
        set_normalization(helpers.randomize_reference(writer, seed=1), IMAGENET_STD),
        cache / name, top, also=[keras_efficientnet])
    reference = keras.applications.EfficientNetB0(
        weights="imagenet", classifier_activation=None, include_top=top,
        **{key: value for key, value in kwargs.items() if key != "include_top"})
    model = zoo.create_model("efficientnet_b0", weights="imagenet", **kwargs)
    x = pixels((2, *model.input_shape_), seed=3)
    helpers.assert_close(model(preprocess(x)), reference(x))
    assert len(offline) == 1  # the cached file needed no network


# --------------------------------------------------------------------------
# Structure, features, summary, layouts


def test_layer_names_are_stages_and_blocks(gray):
    names = [layer.name for layer in finetune.top_level_layers(gray)]
    assert names[0] == "stem_conv" and names[-5:] == ["head_conv", "avg_pool", "dropout",
                                                      "classifier", "predictions"]
    assert names[1:-5] == [f"stage{s}_block{i}" for s, row in
                           enumerate(efficientnet.architecture("b0")["stages"], 1)
                           for i in range(1, row[2] + 1)]
    paths = {w.path.split("/", 1)[1] for w in gray.weights}
    assert {"stage2_block1/expand/conv/kernel", "stage2_block2/se/reduce/bias",
            "stage7_block1/project/bn/gamma", "head_conv/conv/kernel"} <= paths


def test_feature_maps_at_a_non_square_size():
    model = EfficientNet("b0", input_shape=(64, 96, 3), features_only=True)
    assert [(f["channels"], f["reduction"]) for f in model.feature_info] == \
        [(16, 2), (24, 4), (40, 8), (112, 16), (320, 32)]
    maps = model(pixels((1, 64, 96, 3)))
    assert {name: tuple(value.shape) for name, value in maps.items()} == {
        "stage0": (1, 32, 48, 16), "stage1": (1, 16, 24, 24), "stage2": (1, 8, 12, 40),
        "stage3": (1, 4, 6, 112), "stage4": (1, 2, 3, 320)}
    some = EfficientNet("b0", input_shape=(64, 96, 3), features_only=True, out_stages=(1, 3))
    assert list(some(pixels((1, 64, 96, 3)))) == ["stage1", "stage3"]
    assert some.blocks[-1].name == "stage5_block3" and some.head_conv is None


def test_summary_opens_the_blocks(gray):
    lines = helpers.summary_lines(gray)
    rows = helpers.summary_rows(lines)
    start = [r["name"] for r in rows].index("stage2_block2")
    assert [(r["depth"], r["name"], r["type"], r["shape"]) for r in rows[start:start + 17]] == [
        (0, "stage2_block2", "MBConv", "(None, 8, 8, 24)"),
        (1, "expand", "ConvBN", "(None, 8, 8, 144)"),
        (2, "conv", "Conv2D", "(None, 8, 8, 144)"),
        (2, "bn", "BatchNorm", "(None, 8, 8, 144)"),
        (2, "act", "Activation", "(None, 8, 8, 144)"),
        (1, "depthwise", "ConvBN", "(None, 8, 8, 144)"),
        (2, "conv", "DepthwiseConv2D", "(None, 8, 8, 144)"),
        (2, "bn", "BatchNorm", "(None, 8, 8, 144)"),
        (2, "act", "Activation", "(None, 8, 8, 144)"),
        (1, "se", "SqueezeExcite", "(None, 8, 8, 144)"),
        (2, "reduce", "Conv2D", "(None, 1, 1, 6)"),
        (2, "expand", "Conv2D", "(None, 1, 1, 144)"),
        (1, "project", "ConvBN", "(None, 8, 8, 24)"),
        (2, "conv", "Conv2D", "(None, 8, 8, 24)"),
        (2, "bn", "BatchNorm", "(None, 8, 8, 24)"),
        (1, "drop", "Dropout", "(None, 8, 8, 24)"),
        (1, "add", "Add", "(None, 8, 8, 24)"),
    ]
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
    assert small(variant="b2").dropout == 0.3 and small(dropout=0.0).dropout_layer is None
    assert type(EfficientNet.from_config(config)) is EfficientNet
    assert model.name == "efficientnet_b0"
    assert EfficientNet("b1", include_top=False).input_shape_ == (240, 240, 3)


def test_gradient_free_weights_follow_drop_connect():
    assert small().gradient_free_weights == ("*/stage[2-7]_block1/project/bn/beta",
                                             "*/stage1_block1/project/bn/beta")
    assert small(variant="b2", drop_connect_rate=0.0).gradient_free_weights == (
        "*/stage[2-7]_block*/project/bn/beta", "*/stage1_block2/project/bn/beta")


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


def test_a_models_block_drops_whole_examples_at_the_keras_rate():
    # stage6_block4 is block 14 of 16: rate 0.2 * 14 / 16 = 0.175, as keras' block6d_drop.
    model = small(seed=5, input_shape=(32, 32, 3))
    block = model.get_layer("stage6_block4")
    assert block.drop.rate == 0.2 * 14 / 16
    twin = type(block).from_config({**block.get_config(), "drop_rate": 0.0})
    x = helpers.random_inputs((2000, 1, 1, block.filters), seed=6)
    twin.build(x.shape)
    twin.set_weights(block.get_weights())
    branch = helpers.to_numpy(twin(x, training=True)) - x
    got = helpers.to_numpy(block(x, training=True)) - x
    dropped = np.all(np.abs(got) < 1e-6, axis=(1, 2, 3))
    np.testing.assert_allclose(got[~dropped], branch[~dropped] / (1 - block.drop.rate),
                               rtol=1e-4, atol=1e-4)
    assert abs(dropped.mean() - 0.175) < 0.04, dropped.mean()  # 4 standard deviations


# --------------------------------------------------------------------------
# zoo.finetune by stage


@slow_on_jax
def test_freeze_all_but_the_last_stage_is_bit_identical_after_training():
    # Frozen BatchNorm runs on its moving statistics: at their initial (0, 1)
    # an untrained EfficientNet's activations vanish (swish and the gates
    # halve them, block after block), and nothing trains. One training-mode
    # pass at momentum 0 makes them a batch's, as a trained model's would be.
    rng = np.random.default_rng(0)
    model = small(seed=1, bn_momentum=0.0)
    model(rng.standard_normal((8, 32, 32, 1)).astype("float32"), training=True)
    frozen = finetune.freeze(model, upto="stage6")
    layers = finetune.top_level_layers(model)
    trained = ["stage7_block1", "head_conv", "avg_pool", "dropout", "classifier",
               "predictions"]
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
