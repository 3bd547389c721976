"""ViT (zoo.models.vit): keras-hub's ViTBackbone + ViTImageClassifier, and timm's state dicts.

Parameter counts equal keras-hub's for every variant; a keras-hub model with
random weights ports to the same logits at a non-square input; a timm-named
state dict of distinct random tensors lands in the right slices.
"""

import json

import keras
import numpy as np
import pytest

import helpers
import zoo
from zoo import finetune
from zoo.convert import vit as convert_vit
from zoo.models import vit
from zoo.models.vit import ViT

keras_hub = pytest.importorskip("keras_hub")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

# JAX compiles each op per shape: a train step or a keras-hub model costs 15-25 s there.
JAX_SLOW = pytest.mark.slow if keras.backend.backend() == "jax" else (lambda test: test)
TINY = {"width": 24, "depth": 4, "num_heads": 3, "mlp_dim": 40, "patch_size": 8}


def small(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return ViT(**{"num_classes": 3, "input_shape": (32, 32, 3), **TINY, **kwargs})


@pytest.fixture(scope="module")
def model():
    return small()


def keras_hub_vit(image_shape=(32, 48, 3), num_classes=7, seed=0, **spec):
    """A keras-hub ViTBackbone and classifier, every weight random (biases, norms included)."""
    spec = {"patch_size": 8, "num_layers": 2, "num_heads": 3, "hidden_dim": 24, "mlp_dim": 40,
            **spec}
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.ViTBackbone(image_shape=image_shape, **spec)
    classifier = keras_hub.models.ViTImageClassifier(backbone=backbone, num_classes=num_classes,
                                                     activation=None)
    rng = np.random.default_rng(seed)
    for weight in classifier.weights:
        weight.assign(rng.normal(scale=0.3, size=weight.shape).astype("float32"))
    return backbone, classifier


# --------------------------------------------------------------------------
# Parameter counts: keras-hub's with the 1000-class head, and the record's


@pytest.mark.parametrize("name", [
    "vit_tiny_patch16_224", pytest.param("vit_small_patch16_224", marks=pytest.mark.slow),
    pytest.param("vit_base_patch16_224", marks=pytest.mark.slow)])
def test_param_counts_equal_keras_hub(name):
    backbone = keras_hub.models.ViTBackbone(
        image_shape=(224, 224, 3), patch_size=16, num_layers=vit.VIT_SPECS[name]["depth"],
        num_heads=vit.VIT_SPECS[name]["num_heads"], hidden_dim=vit.VIT_SPECS[name]["width"],
        mlp_dim=vit.VIT_SPECS[name]["mlp_dim"])
    reference = keras_hub.models.ViTImageClassifier(backbone=backbone, num_classes=1000)
    ours = zoo.create_model(name)
    assert ours.count_params() == reference.count_params() == zoo.model_info(name).params
    trainable = sum(int(np.prod(w.shape)) for w in ours.trainable_weights)
    assert trainable == sum(int(np.prod(w.shape)) for w in reference.trainable_weights)


def test_records():
    record = zoo.model_info("vit_tiny_patch16_224")
    assert record.reference.startswith("keras_hub.models.ViTBackbone(vit_tiny_patch16_224)")
    assert record.input_size == (224, 224, 3) and list(record.weights) == ["state_dict"]
    # timm's augreg weights: mean and std 0.5 in [0, 1] units, i.e. [-1, 1].
    preprocessing = record.weights["state_dict"]["preprocessing"]
    assert (preprocessing["mode"], preprocessing["mean"], preprocessing["std"]) == \
        ("tf", (127.5,) * 3, (127.5,) * 3)
    assert (preprocessing["crop_fraction"], preprocessing["interpolation"]) == (0.9, "bicubic")


# --------------------------------------------------------------------------
# Port from keras-hub


@JAX_SLOW
def test_from_keras_hub_same_logits_non_square():
    backbone, classifier = keras_hub_vit()
    model = convert_vit.from_keras_hub(backbone, classifier.output_dense)
    assert (model.width, model.depth, model.num_heads, model.patch_size) == (24, 2, 3, 8)
    assert model.input_shape_ == (32, 48, 3) and model.num_classes == 7
    x = helpers.random_inputs((2, 32, 48, 3), seed=1)
    helpers.assert_close(model(x), classifier(x))
    # Without the head: the class token after the final LayerNorm.
    headless = convert_vit.from_keras_hub(backbone)
    assert headless.include_top is False
    helpers.assert_close(headless(x), helpers.to_numpy(backbone(x))[:, 0])


@pytest.mark.parametrize("bad, fragment", [
    ({"use_mha_bias": False}, "ViTBackbone with biases"),
    ({"use_class_token": False}, "ViTBackbone with biases and a class token")])
def test_from_keras_hub_refuses_what_the_zoo_lacks(bad, fragment):
    backbone = keras_hub.models.ViTBackbone(image_shape=(16, 16, 3), patch_size=8, num_layers=1,
                                            num_heads=2, hidden_dim=8, mlp_dim=8, **bad)
    helpers.assert_rejects(lambda: convert_vit.from_keras_hub(backbone), ValueError, fragment,
                           "backbone=")
    helpers.assert_rejects(lambda: convert_vit.from_keras_hub(keras.Sequential()), ValueError,
                           "backbone must be a keras_hub.models.ViTBackbone")


# --------------------------------------------------------------------------
# timm state dicts


def timm_state(width=24, depth=4, mlp=40, classes=3, grid=16, seed=0):
    """A timm ViT state dict, each tensor distinct random values."""
    rng = np.random.default_rng(seed)
    shapes = {"cls_token": (1, 1, width), "pos_embed": (1, 1 + grid, width),
              "patch_embed.proj.weight": (width, 3, 8, 8), "patch_embed.proj.bias": (width,),
              "norm.weight": (width,), "norm.bias": (width,),
              "head.weight": (classes, width), "head.bias": (classes,)}
    for b in range(depth):
        shapes.update({
            f"blocks.{b}.norm1.weight": (width,), f"blocks.{b}.norm1.bias": (width,),
            f"blocks.{b}.attn.qkv.weight": (3 * width, width),
            f"blocks.{b}.attn.qkv.bias": (3 * width,),
            f"blocks.{b}.attn.proj.weight": (width, width), f"blocks.{b}.attn.proj.bias": (width,),
            f"blocks.{b}.norm2.weight": (width,), f"blocks.{b}.norm2.bias": (width,),
            f"blocks.{b}.mlp.fc1.weight": (mlp, width), f"blocks.{b}.mlp.fc1.bias": (mlp,),
            f"blocks.{b}.mlp.fc2.weight": (width, mlp), f"blocks.{b}.mlp.fc2.bias": (width,)})
    return {name: rng.normal(size=shape).astype("float32") for name, shape in shapes.items()}


def test_state_dict_lands_in_the_right_slices(tmp_path):
    state = timm_state()
    path = tmp_path / "vit.safetensors"
    safetensors_numpy.save_file(state, str(path))
    model = zoo.create_model("vit_tiny_patch16_224", weights=str(path), input_shape=(32, 32, 3),
                             **{k: v for k, v in TINY.items()})
    assert model.num_classes == 3  # from head.weight
    get = {w.path.split("/", 1)[1]: helpers.to_numpy(w) for w in model.weights}
    np.testing.assert_array_equal(get["patch_embed/class_token"], state["cls_token"])
    np.testing.assert_array_equal(get["patch_embed/position_embedding/embeddings"],
                                  state["pos_embed"][0])
    np.testing.assert_array_equal(get["patch_embed/projection/kernel"],
                                  state["patch_embed.proj.weight"].transpose(2, 3, 1, 0))
    qkv, qkv_bias = state["blocks.2.attn.qkv.weight"], state["blocks.2.attn.qkv.bias"]
    for index, part in enumerate(("query", "key", "value")):
        rows = slice(24 * index, 24 * (index + 1))
        # Head h of `part` is rows 8h..8h+7 of its third of qkv.
        np.testing.assert_array_equal(get[f"block3/attention/{part}/kernel"][:, 1, :],
                                      qkv[rows][8:16].T)
        np.testing.assert_array_equal(get[f"block3/attention/{part}/bias"].ravel(),
                                      qkv_bias[rows])
    np.testing.assert_array_equal(get["block1/attention/attention_output/kernel"][2],
                                  state["blocks.0.attn.proj.weight"][:, 16:24].T)
    np.testing.assert_array_equal(get["block4/ffn_intermediate/kernel"],
                                  state["blocks.3.mlp.fc1.weight"].T)
    np.testing.assert_array_equal(get["block4/ffn_norm/gamma"], state["blocks.3.norm2.weight"])
    np.testing.assert_array_equal(get["final_norm/beta"], state["norm.bias"])
    np.testing.assert_array_equal(get["classifier/kernel"], state["head.weight"].T)
    # A features_only model takes the blocks it has and leaves the rest of the file.
    early = zoo.create_model("vit_tiny_patch16_224", weights=str(path), features_only=True,
                             out_stages=(1,), input_shape=(32, 32, 3), **TINY)
    assert [b.name for b in early.blocks] == ["block1"]
    np.testing.assert_array_equal(helpers.to_numpy(early.blocks[0].ffn_output.kernel),
                                  state["blocks.0.mlp.fc2.weight"].T)
    # Every weight came from the file: no value of the model is left from its initializers.
    loaded = np.concatenate([v.ravel() for v in state.values()])
    assert all(np.isin(value.ravel(), loaded).all() for value in get.values())


def test_state_dict_gives_the_logits_of_keras_hub_with_the_same_tensors(tmp_path):
    """The mapping cross-checked: keras-hub read into timm's names, loaded from the file."""
    backbone, classifier = keras_hub_vit(image_shape=(32, 32, 3), num_classes=3, num_layers=4)
    state = convert_vit._keras_hub_state(backbone, classifier.output_dense)
    path = tmp_path / "vit.safetensors"
    safetensors_numpy.save_file({k: np.ascontiguousarray(v) for k, v in state.items()},
                                str(path))
    model = zoo.create_model("vit_tiny_patch16_224", weights=str(path), input_shape=(32, 32, 3),
                             **TINY)
    x = helpers.random_inputs((2, 32, 32, 3), seed=2)
    helpers.assert_close(model(x), classifier(x))


def test_to_state_dict_round_trips(tmp_path, model):
    state = convert_vit.to_state_dict(model)
    assert set(state) == set(timm_state())  # timm's names, every one
    assert state["blocks.1.attn.qkv.weight"].shape == (72, 24)
    path = tmp_path / "ours.safetensors"
    safetensors_numpy.save_file(state, str(path))
    loaded = zoo.create_model("vit_tiny_patch16_224", weights=str(path), input_shape=(32, 32, 3),
                              **TINY)
    for ours, theirs in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(helpers.to_numpy(ours), helpers.to_numpy(theirs))


def test_state_dict_that_does_not_fit_names_the_tensor(tmp_path):
    state = timm_state()
    state["blocks.1.attn.qkv.weight"] = state["blocks.1.attn.qkv.weight"][:-1]
    path = tmp_path / "bad.safetensors"
    safetensors_numpy.save_file(state, str(path))
    helpers.assert_rejects(
        lambda: zoo.create_model("vit_tiny_patch16_224", weights=str(path),
                                 input_shape=(32, 32, 3), **TINY),
        ValueError, "blocks.1.attn.qkv.weight", "(71, 24)")
    for name, value, fragment in (("pos_embed", state["pos_embed"][0], "(17, 24)"),
                                  ("blocks.0.attn.proj.weight", np.ones((24, 25), "float32"),
                                   "(24, 25)")):
        broken = {**timm_state(), name: value}
        safetensors_numpy.save_file(broken, str(path))
        helpers.assert_rejects(
            lambda: zoo.create_model("vit_tiny_patch16_224", weights=str(path),
                                     input_shape=(32, 32, 3), **TINY),
            ValueError, repr(name), fragment)
    del state["head.weight"], state["head.bias"]
    state["blocks.1.attn.qkv.weight"] = timm_state()["blocks.1.attn.qkv.weight"]
    safetensors_numpy.save_file(state, str(path))
    helpers.assert_rejects(
        lambda: zoo.create_model("vit_tiny_patch16_224", weights=str(path),
                                 input_shape=(32, 32, 3), **TINY),
        ValueError, "head.weight", "num_classes=")
    # The backbone alone loads it.
    headless = zoo.create_model("vit_tiny_patch16_224", weights=str(path), include_top=False,
                                input_shape=(32, 32, 3), **TINY)
    np.testing.assert_array_equal(helpers.to_numpy(headless.get_layer("final_norm").gamma),
                                  state["norm.weight"])


def test_state_dict_of_another_grid_or_patch_names_the_tensor(tmp_path):
    # No resampling of the position grid (keras-hub has none either): a file for
    # 224x224 images does not fit a 32x32 model, and the error says which tensor.
    path = tmp_path / "grid.safetensors"
    safetensors_numpy.save_file(timm_state(grid=36), str(path))
    helpers.assert_rejects(
        lambda: zoo.create_model("vit_tiny_patch16_224", weights=str(path),
                                 input_shape=(32, 32, 3), **TINY),
        ValueError, "pos_embed", "(37, 24)", "(17, 24)")
    helpers.assert_rejects(
        lambda: zoo.create_model("vit_tiny_patch16_224", weights=str(path),
                                 input_shape=(48, 48, 3), **{**TINY, "patch_size": 4}),
        ValueError, "patch_embed.proj.weight", "(24, 3, 8, 8)", "(24, 3, 4, 4)")


# --------------------------------------------------------------------------
# Feature maps, summary, layouts, config


def test_feature_maps_are_token_grids_at_the_patch_size(model):
    features = small(features_only=True, input_shape=(32, 48, 3))
    assert [(f["name"], f["channels"], f["reduction"], f["layer"])
            for f in features.feature_info] == [
        ("stage1", 24, 8, "block1"), ("stage2", 24, 8, "block2"), ("stage3", 24, 8, "block3"),
        ("stage4", 24, 8, "block4")]
    assert [r["layer"] for r in zoo.create_model("vit_base_patch16_224", features_only=True,
                                                 input_shape=(32, 32, 3)).feature_info] == \
        ["block3", "block6", "block9", "block12"]
    full = small(input_shape=(32, 48, 3))
    features.set_weights(full.get_weights()[:len(features.weights)])
    x = helpers.random_inputs((2, 32, 48, 3), seed=3)
    maps = features(x)
    assert {k: tuple(v.shape) for k, v in maps.items()} == {
        f"stage{s}": (2, 4, 6, 24) for s in range(1, 5)}
    # The map is block 2's patch tokens, row by row.
    tokens = full.patch_embed(x)
    for block in full.blocks[:2]:
        tokens = block(tokens)
    np.testing.assert_allclose(helpers.to_numpy(maps["stage2"]).reshape(2, 24, 24),
                               helpers.to_numpy(tokens)[:, 1:], atol=1e-5, rtol=0)
    early = small(features_only=True, out_stages=(2,))
    assert [b.name for b in early.blocks] == ["block1", "block2"] and early.final_norm is None


def test_summary_opens_the_blocks(model):
    lines = helpers.summary_lines(model)
    rows = helpers.summary_rows(lines)
    top = [(r["name"], r["type"], r["shape"]) for r in rows if r["depth"] == 0]
    assert top == [("patch_embed", "PatchEmbedding", "(None, 17, 24)"),
                   *[(f"block{b}", "TransformerEncoderBlock", "(None, 17, 24)")
                     for b in range(1, 5)],
                   ("final_norm", "LayerNormalization", "(None, 17, 24)"),
                   ("token_pool", "TokenPooling", "(None, 24)"),
                   ("classifier", "Dense", "(None, 3)"), ("predictions", "Activation", "(None, 3)")]
    inner = [(r["depth"], r["name"]) for r in rows if r["depth"] > 0][:3]
    assert inner == [(1, "projection"), (1, "position_embedding"), (1, "attention_norm")]
    assert helpers.summary_totals(lines)["Total"] == model.count_params()


def test_channels_first_matches_channels_last(model):
    first = small(data_format="channels_first", input_shape=(3, 32, 32))
    first.set_weights(model.get_weights())
    x = model.example_inputs(batch_size=2, seed=3)
    np.testing.assert_allclose(helpers.to_numpy(first(np.transpose(x, (0, 3, 1, 2)))),
                               helpers.to_numpy(model(x)), atol=1e-5, rtol=0)


def test_pooling_modes(model):
    x = model.example_inputs(batch_size=2, seed=6)
    tokens = model.patch_embed(x)
    for block in model.blocks:
        tokens = block(tokens)
    tokens = helpers.to_numpy(model.final_norm(tokens))
    for pooling, expected in ((None, tokens[:, 0]), ("avg", tokens[:, 1:].mean(1)),
                              ("max", tokens[:, 1:].max(1))):
        headless = small(include_top=False, pooling=pooling)
        headless.set_weights(model.get_weights()[:-2])
        np.testing.assert_allclose(helpers.to_numpy(headless(x)), expected, atol=1e-5, rtol=0)


def test_defaults_and_config(model):
    config = model.get_config()
    assert {k: config[k] for k in ("layer_norm_epsilon", "encoder_dropout",
                                   "attention_dropout")} == \
        {"layer_norm_epsilon": 1e-6, "encoder_dropout": 0.0, "attention_dropout": 0.0}
    assert type(ViT.from_config(config)) is ViT
    tiny = zoo.create_model("vit_tiny_patch16_224", input_shape=(32, 32, 3))
    assert (tiny.name, tiny.width, tiny.depth, tiny.num_heads, tiny.mlp_dim, tiny.patch_size) \
        == ("vit_tiny_patch16_224", 192, 12, 3, 768, 16)
    # Exact GELU, as timm's nn.GELU and keras-hub's "gelu".
    assert tiny.blocks[0].activation == "gelu"


def test_dropout_only_in_training(model):
    dropped = model.rebuilt(encoder_dropout=0.3, attention_dropout=0.2, dropout=0.1)
    assert dropped.blocks[0].dropout == 0.3 and dropped.blocks[0].attention_dropout == 0.2
    x = model.example_inputs(batch_size=2, seed=4)
    np.testing.assert_array_equal(helpers.to_numpy(dropped(x, training=False)),
                                  helpers.to_numpy(model(x, training=False)))
    assert not np.array_equal(helpers.to_numpy(dropped(x, training=True)),
                              helpers.to_numpy(model(x, training=True)))


@JAX_SLOW
def test_freeze_up_to_a_stage_is_bit_identical_after_training():
    model = small(seed=1)
    # Stage 2's map is block 2's output (feature_info): freeze up to that layer.
    frozen = finetune.freeze(model, upto=model.feature_info[1]["layer"])
    assert frozen == ["patch_embed", "block1", "block2"]
    before = helpers.weight_snapshot(model)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    rng = np.random.default_rng(0)
    for _ in range(2):
        model.train_on_batch(rng.standard_normal((4, 32, 32, 3)).astype("float32"),
                             rng.integers(0, 3, size=(4,)))
    after = helpers.weight_snapshot(model)
    layers = finetune.top_level_layers(model)
    frozen_paths = {v.path for layer in layers if layer.name in frozen for v in layer.weights}
    changed = sorted(p for p in frozen_paths if not np.array_equal(before[p], after[p]))
    assert not changed, f"frozen weights changed: {changed}"
    moved = [p for p in set(before) - frozen_paths if not np.array_equal(before[p], after[p])]
    assert any("block3/" in p for p in moved) and any("final_norm" in p for p in moved)


def hugging_face_names(state, width, depth):
    """timm's ViT tensors under Hugging Face's names (q, k, v apart): what keras-hub reads."""
    names = {"vit.embeddings.cls_token": "cls_token",
             "vit.embeddings.position_embeddings": "pos_embed",
             "vit.embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
             "vit.embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
             "vit.layernorm.weight": "norm.weight", "vit.layernorm.bias": "norm.bias"}
    hf = {theirs: state[ours] for theirs, ours in names.items()}
    for b in range(depth):
        ours, theirs = f"blocks.{b}", f"vit.encoder.layer.{b}"
        for index, part in enumerate(("query", "key", "value")):
            rows = slice(width * index, width * (index + 1))
            for kind in ("weight", "bias"):
                hf[f"{theirs}.attention.attention.{part}.{kind}"] = \
                    state[f"{ours}.attn.qkv.{kind}"][rows]
        for module, hf_module in (("attn.proj", "attention.output.dense"),
                                  ("norm1", "layernorm_before"), ("norm2", "layernorm_after"),
                                  ("mlp.fc1", "intermediate.dense"), ("mlp.fc2", "output.dense")):
            for kind in ("weight", "bias"):
                hf[f"{theirs}.{hf_module}.{kind}"] = state[f"{ours}.{module}.{kind}"]
    return {name: np.ascontiguousarray(value) for name, value in hf.items()}


@JAX_SLOW
def test_state_dict_mapping_agrees_with_keras_hubs_own_converter(tmp_path):
    """keras-hub's Hugging Face ViT converter, offline on a local preset, is the cross-check."""
    state = timm_state()
    timm_file = tmp_path / "timm.safetensors"
    safetensors_numpy.save_file(state, str(timm_file))
    preset = tmp_path / "preset"
    preset.mkdir()
    safetensors_numpy.save_file(hugging_face_names(state, 24, 4),
                                str(preset / "model.safetensors"))
    (preset / "config.json").write_text(json.dumps({
        "model_type": "vit", "image_size": 32, "patch_size": 8, "num_hidden_layers": 4,
        "num_attention_heads": 3, "hidden_size": 24, "intermediate_size": 40,
        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "qkv_bias": True}))
    backbone = keras_hub.models.ViTBackbone.from_preset(str(preset))
    ours = zoo.create_model("vit_tiny_patch16_224", weights=str(timm_file), include_top=False,
                            input_shape=(32, 32, 3), **TINY)
    x = helpers.random_inputs((2, 32, 32, 3), seed=7)
    helpers.assert_close(ours(x), helpers.to_numpy(backbone(x))[:, 0])
