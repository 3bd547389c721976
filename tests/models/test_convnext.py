"""Tests for `zoo.models.convnext` and `zoo.convert.convnext` (the registry battery:
tests/test_all_models.py)."""


import keras
import numpy as np
import pytest
from keras.src.applications import convnext as keras_convnext

import helpers
import zoo
from zoo import convert, finetune
from zoo.models import convnext
from zoo.models.convnext import ConvNeXt

URL = "https://storage.googleapis.com/tensorflow/keras-applications/convnext/"
# JAX runs a forward pass op by op, compiling each op for each new shape: a
# ConvNeXt-T (18 blocks) costs 8-20 s per test there (277 s in all, 2 cores), 1-5 s on
# TensorFlow.
pytestmark = [pytest.mark.slow] if keras.backend.backend() == "jax" else []
VARIANTS = {"tiny": "ConvNeXtTiny", "small": "ConvNeXtSmall", "base": "ConvNeXtBase",
            "large": "ConvNeXtLarge", "xlarge": "ConvNeXtXLarge"}


def small(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return ConvNeXt(**{"num_classes": 3, "input_shape": (32, 32, 3), **kwargs})


@pytest.fixture(scope="module")
def model():
    return small()


def preprocess(pixels):
    """What keras' in-model Normalization does, as the record's preprocessing says."""
    spec = zoo.model_info("convnext_tiny").weights["imagenet"]["preprocessing"]
    return ((pixels - np.array(spec["mean"], "float32")) /
            np.array(spec["std"], "float32")).astype("float32")


def pixels(shape, seed):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def randomize(keras_model, seed):
    """Random LayerNorm gammas and betas, biases and layer scales (kernels are random
    already): at their initial values (1, 0, 0, 1e-6) a mis-mapped one goes unseen."""
    rng = np.random.default_rng(seed)
    for weight in keras_model.weights:
        if not weight.path.endswith("kernel"):
            weight.assign(rng.normal(0.5 if weight.path.endswith("gamma") else 0, 0.3,
                                     weight.shape).astype("float32"))


# --------------------------------------------------------------------------
# Parameter counts: keras.applications' with the 1000-class head, and the record's


@pytest.mark.parametrize("variant", [
    "tiny", "small", "base", pytest.param("large", marks=pytest.mark.slow),
    pytest.param("xlarge", marks=pytest.mark.slow)])  # 1.4 GB of float32 weights, twice
def test_param_counts_equal_keras_applications(variant):
    name = f"convnext_{variant}"
    k = getattr(keras.applications, VARIANTS[variant])(weights=None)
    model = zoo.create_model(name)
    assert model.input_shape_ == (224, 224, 3) and model.num_classes == 1000
    assert model.count_params() == k.count_params() == zoo.model_info(name).params
    assert helpers.count_weights(model.trainable_weights) == \
        helpers.count_weights(k.trainable_weights)
    assert zoo.model_info(name).reference == f"keras.applications.{VARIANTS[variant]}"


def test_variants_follow_keras_configs():
    for variant, (depths, widths) in convnext.CONVNEXT_SPECS.items():
        config = keras_convnext.MODEL_CONFIGS[variant]
        assert (list(depths), list(widths)) == (config["depths"], config["projection_dims"])


# --------------------------------------------------------------------------
# keras.applications weights (random LayerNorms, biases and layer scales show a mis-map)


@pytest.fixture(scope="module")
def keras_tiny():
    keras.utils.set_random_seed(0)
    k = keras.applications.ConvNeXtTiny(weights=None, input_shape=(64, 96, 3), classes=10,
                                        classifier_activation=None)
    randomize(k, seed=1)
    return k


def test_from_keras_applications_same_logits_non_square(keras_tiny):
    k = keras_tiny
    model = convnext.from_keras_applications(k)
    assert isinstance(model, ConvNeXt)
    assert (model.variant, model.num_classes, model.include_top, model.input_shape_) == \
        ("tiny", 10, True, (64, 96, 3))
    assert model.count_params() == k.count_params()
    # keras takes raw pixels (its model normalizes); the zoo model the normalized ones.
    x = pixels((2, 64, 96, 3), seed=11)
    expected = k(x, training=False)
    helpers.assert_close(model(preprocess(x), training=False), expected)
    # Overrides that change no weight keep the logits.
    tuned = convnext.from_keras_applications(k, dropout=0.2, drop_path_rate=0.1, name="tuned")
    assert (tuned.dropout, tuned.drop_path_rate, tuned.name) == (0.2, 0.1, "tuned")
    helpers.assert_close(tuned(preprocess(x), training=False), expected)


@pytest.mark.parametrize("pooling, shape", [("max", (2, 768)), (None, (2, 1, 2, 768))])
def test_from_keras_applications_without_top(pooling, shape):
    # keras' include_top=False ends in a LayerNorm (after the pooling, if any): head_norm.
    k = keras.applications.ConvNeXtTiny(weights=None, input_shape=(40, 75, 3),
                                        include_top=False, pooling=pooling)
    randomize(k, seed=2)
    model = convnext.from_keras_applications(k)
    assert (model.include_top, model.pooling, model.head_norm.axis) == (False, pooling, [-1])
    x = pixels((2, 40, 75, 3), seed=13)
    assert tuple(model(preprocess(x)).shape) == shape
    helpers.assert_close(model(preprocess(x), training=False), k(x, training=False))


@pytest.mark.parametrize("bad, fragments", [
    (lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), ("'stem_conv'",)),
    (lambda: "not a model", ("'stem_conv'",)),
    # keras.applications' own ConvNeXt builder with another layout.
    (lambda: keras_convnext.ConvNeXt([2, 2, 2, 2], [16, 32, 64, 128], include_top=False,
                                     input_shape=(32, 32, 3), name="other"),
     ("(2, 2, 2, 2)", "(16, 32, 64, 128)", "tiny")),
])
def test_from_keras_applications_rejects_other_models(bad, fragments):
    helpers.assert_rejects(lambda: convnext.from_keras_applications(bad()), ValueError,
                           "keras_model", *fragments)


# --------------------------------------------------------------------------
# weights="imagenet": keras.applications' files, offline


def test_imagenet_offline_names_the_url_and_the_cache_path(cache):
    with pytest.raises(convert.WeightsDownloadError) as info:
        zoo.create_model("convnext_tiny", weights="imagenet", input_shape=(32, 32, 3))
    assert URL + "convnext_tiny.h5" in str(info.value)
    assert str(cache / "convnext_tiny.h5") in str(info.value)
    record = zoo.model_info("convnext_tiny").weights["imagenet"]
    assert record["file_hash"] == keras_convnext.WEIGHTS_HASHES["convnext_tiny"][0]
    assert record["preprocessing"] == convnext.PREPROCESSING
    assert zoo.model_info("convnext_xlarge").weights["imagenet"]["origin"] == \
        URL + "convnext_xlarge.h5"


def test_imagenet_file_with_another_hash_is_refused(cache, monkeypatch):
    cache.mkdir(parents=True)
    (cache / "convnext_tiny.h5").write_bytes(b"not the weights")
    helpers.assert_rejects(
        lambda: zoo.create_model("convnext_tiny", weights="imagenet", input_shape=(32, 32, 3)),
        ValueError, str(cache / "convnext_tiny.h5"), "sha256",
        keras_convnext.WEIGHTS_HASHES["convnext_tiny"][0])


@pytest.mark.slow  # 15-20 s: two 28M-parameter models and an HDF5 file of 110 MB
def test_imagenet_file_placed_in_the_cache_gives_keras_logits(cache, monkeypatch):
    reference = keras.applications.ConvNeXtTiny(weights=None, input_shape=(64, 64, 3),
                                                classifier_activation=None)
    randomize(reference, seed=3)
    helpers.publish_keras_file(monkeypatch, convert.convnext, "tiny", reference,
                               cache / "convnext_tiny.h5", top=True)
    model = zoo.create_model("convnext_tiny", weights="imagenet", input_shape=(64, 64, 3))
    x = pixels((2, 64, 64, 3), seed=14)
    helpers.assert_close(model(preprocess(x)), reference(x))


@pytest.mark.slow
def test_imagenet_no_top_file_for_a_new_head(cache, monkeypatch):
    reference = keras.applications.ConvNeXtTiny(weights=None, include_top=False,
                                                pooling="avg", input_shape=(48, 48, 3))
    randomize(reference, seed=4)
    helpers.publish_keras_file(monkeypatch, convert.convnext, "tiny", reference,
                               cache / "convnext_tiny_notop.h5", top=False)
    features = zoo.create_model("convnext_tiny", weights="imagenet", include_top=False,
                                pooling="avg", input_shape=(48, 48, 3))
    x = pixels((2, 48, 48, 3), seed=15)
    helpers.assert_close(features(preprocess(x)), reference(x))
    model = zoo.create_model("convnext_tiny", weights="imagenet", num_classes=7,
                             input_shape=(40, 56, 3))
    assert tuple(model.classifier.kernel.shape) == (768, 7)  # a new head
    np.testing.assert_array_equal(helpers.to_numpy(model.head_norm.gamma),
                                  helpers.to_numpy(features.head_norm.gamma))


# --------------------------------------------------------------------------
# Feature maps, structure, summary, layouts


def test_feature_maps_at_reductions_4_to_32():
    maps_model = small(features_only=True, input_shape=(32, 64, 3))
    assert [(f["name"], f["channels"], f["reduction"], f["layer"]) for f in
            maps_model.feature_info] == [
        ("stage1", 96, 4, "stage1_block3"), ("stage2", 192, 8, "stage2_block3"),
        ("stage3", 384, 16, "stage3_block9"), ("stage4", 768, 32, "stage4_block3")]
    maps = maps_model(helpers.random_inputs((2, 32, 64, 3)))
    assert {name: tuple(v.shape) for name, v in maps.items()} == {
        "stage1": (2, 8, 16, 96), "stage2": (2, 4, 8, 192), "stage3": (2, 2, 4, 384),
        "stage4": (2, 1, 2, 768)}
    assert maps_model.head_norm is None and maps_model.pool is None
    early = small(features_only=True, out_stages=(1, 2))
    assert [b.name for b in early.blocks][-3:] == ["stage2_block1", "stage2_block2",
                                                   "stage2_block3"]


def test_last_stage_is_the_headless_model_before_its_layer_norm(model):
    headless = small(include_top=False)
    features = small(features_only=True, out_stages=(4,))
    features.set_weights(headless.get_weights()[:-2])  # all but head_norm's gamma, beta
    x = helpers.random_inputs((2, 32, 32, 3), seed=5)
    stage4 = helpers.to_numpy(features(x)["stage4"])
    np.testing.assert_allclose(helpers.to_numpy(headless(x)),
                               helpers.to_numpy(headless.head_norm(stage4)), atol=1e-6)


def test_summary_opens_the_blocks(model):
    lines = helpers.summary_lines(model)
    rows = helpers.summary_rows(lines)
    start = [r["name"] for r in rows].index("stage2_block1")
    assert [(r["depth"], r["name"], r["type"], r["shape"]) for r in rows[start:start + 7]] == [
        (0, "stage2_block1", "ConvNeXtBlock", "(None, 4, 4, 192)"),
        (1, "depthwise", "DepthwiseConv2D", "(None, 4, 4, 192)"),
        (1, "norm", "LayerNormalization", "(None, 4, 4, 192)"),
        (1, "pointwise1", "Dense", "(None, 4, 4, 768)"),
        (1, "act", "Activation", "(None, 4, 4, 768)"),
        (1, "pointwise2", "Dense", "(None, 4, 4, 192)"),
        (1, "layer_scale", "LayerScale", "(None, 4, 4, 192)"),
    ]
    top = [(r["name"], r["shape"]) for r in rows if r["depth"] == 0]
    assert top[:6] == [("stem_conv", "(None, 8, 8, 96)"), ("stem_norm", "(None, 8, 8, 96)"),
                       ("stage1_block1", "(None, 8, 8, 96)"), ("stage1_block2", "(None, 8, 8, 96)"),
                       ("stage1_block3", "(None, 8, 8, 96)"),
                       ("stage2_downsample_norm", "(None, 8, 8, 96)")]
    assert top[-5:] == [("stage4_block3", "(None, 1, 1, 768)"), ("avg_pool", "(None, 768)"),
                        ("head_norm", "(None, 768)"), ("classifier", "(None, 3)"),
                        ("predictions", "(None, 3)")]
    assert sum(r["params"] for r in rows if r["depth"] == 0) == model.count_params()
    assert helpers.summary_totals(lines)["Total"] == model.count_params()


def test_channels_first_matches_channels_last(model):
    first = small(data_format="channels_first", input_shape=(3, 32, 32))
    first.set_weights(model.get_weights())
    x = helpers.random_inputs((2, 32, 32, 3), seed=3)
    np.testing.assert_allclose(
        helpers.to_numpy(first(np.transpose(x, (0, 3, 1, 2)), training=False)),
        helpers.to_numpy(model(x, training=False)), atol=1e-4, rtol=0)


def test_defaults_and_config(model):
    config = model.get_config()
    assert (config["variant"], config["drop_path_rate"], config["layer_scale_init_value"]) == \
        ("tiny", 0.0, 1e-6)  # keras.applications'
    assert type(ConvNeXt.from_config(config)) is ConvNeXt
    assert model.name == "convnext_tiny" and model.dropout_layer is None
    assert model.head_norm.epsilon == model.blocks[1].epsilon == 1e-6
    assert [helpers.to_numpy(b.layer_scale.gamma)[0] for b in model.blocks[2:4]] == \
        [np.float32(1e-6)] * 2
    base = zoo.create_model("convnext_base", input_shape=(32, 32, 3), features_only=True,
                            out_stages=(1,))  # the stem and stage 1 only: cheap
    assert (base.name, base.feature_info[0]["channels"]) == ("convnext_base", 128)


def test_sizes_from_the_smallest_and_unknown():
    flexible = ConvNeXt(num_classes=2, input_shape=(None, None, 3))
    for size in (convnext.MIN_IMAGE_SIZE, 45):
        assert tuple(flexible(helpers.random_inputs((1, size, size, 3))).shape) == (1, 2)


# --------------------------------------------------------------------------
# Stochastic depth and dropout


def test_drop_path_rises_linearly_and_is_off_in_inference():
    # Layer scales of 0.5: at 1e-6 a dropped branch would hardly change the output.
    model = small(layer_scale_init_value=0.5)
    dropping = model.rebuilt(drop_path_rate=0.5)
    blocks = [b for b in dropping.blocks if isinstance(b, convnext.ConvNeXtBlock)]
    np.testing.assert_allclose([b.drop_path_rate for b in blocks], np.linspace(0, 0.5, 18),
                               atol=1e-12)  # keras' np.linspace schedule
    assert blocks[0].drop_path is None and blocks[-1].drop_path.rate == 0.5
    x = helpers.random_inputs((8, 32, 32, 3), seed=4)
    np.testing.assert_array_equal(helpers.to_numpy(dropping(x, training=False)),
                                  helpers.to_numpy(model(x, training=False)))
    assert not np.allclose(helpers.to_numpy(dropping(x, training=True)),
                           helpers.to_numpy(model(x, training=True)), atol=1e-3)


def test_dropout_only_in_training(model):
    dropped = model.rebuilt(dropout=0.5)
    assert dropped.dropout_layer.rate == 0.5
    x = helpers.random_inputs((2, 32, 32, 3), seed=4)
    np.testing.assert_array_equal(helpers.to_numpy(dropped(x, training=False)),
                                  helpers.to_numpy(model(x, training=False)))


# --------------------------------------------------------------------------
# zoo.finetune by stage


@pytest.mark.slow  # ~20 s on 2 shared cores: compiling the train step of 28M parameters
def test_freeze_up_to_a_stage_is_bit_identical_after_training():
    trained = small(seed=1, layer_scale_init_value=0.5)
    frozen = finetune.freeze(trained, upto="stage2")
    assert frozen == ["stem_conv", "stem_norm", "stage1_block1", "stage1_block2",
                      "stage1_block3", "stage2_downsample_norm", "stage2_downsample_conv",
                      "stage2_block1", "stage2_block2", "stage2_block3"]
    layers = finetune.top_level_layers(trained)
    before = helpers.weight_snapshot(trained)
    trained.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    jit_compile=False)
    rng = np.random.default_rng(0)
    for _ in range(2):
        trained.train_on_batch(rng.standard_normal((4, 32, 32, 3)).astype("float32"),
                               rng.integers(0, 3, size=(4,)))
    after = helpers.weight_snapshot(trained)
    frozen_paths = {v.path for layer in layers if layer.name in frozen for v in layer.weights}
    assert any(p.endswith("layer_scale/gamma") for p in frozen_paths)
    changed = sorted(p for p in frozen_paths if not np.array_equal(before[p], after[p]))
    assert not changed, f"frozen weights changed: {changed}"
    moved = [p for p in set(before) - frozen_paths if not np.array_equal(before[p], after[p])]
    assert any("stage3_block1/" in p for p in moved) and any("head_norm" in p for p in moved)
