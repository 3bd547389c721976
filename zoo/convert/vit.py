"""ViT weights: timm's `vit_*_patch16_224` state dicts and keras-hub's `ViTBackbone`.

A keras-hub model is read into timm's names and layouts, so both go
through one mapping table (`TORCH`).
"""

import keras
import numpy as np

from zoo import _validation
from zoo.convert._assign import TORCH_DENSE, StateDict, Tensor, assign, check_rgb, layer_names
from zoo.models.vit import ViT

FAMILY = ViT

_NORM = {"gamma": "{0}.weight", "beta": "{0}.bias"}
# Fused q, k, v and the projection are split and shaped in `_zoo_layouts` (names in brackets).
_PROJECTION = {"kernel": "{0}.weight[{1}]", "bias": "{0}.bias[{1}]"}

# zoo layer -> timm's modules (block b is timm's blocks.{b - 1}).
TORCH = [
    (r"patch_embed", (), {"class_token": "cls_token"}),
    (r"patch_embed/projection", ("patch_embed.proj",),
     {"kernel": Tensor("{0}.weight", "conv2d"), "bias": "{0}.bias"}),
    (r"patch_embed/position_embedding", (), {"embeddings": "pos_embed[0]"}),
    (r"block(\d+)/attention_norm", lambda b: (f"blocks.{b - 1}.norm1",), _NORM),
    (r"block(\d+)/attention/(query|key|value)",
     lambda b, part: (f"blocks.{b - 1}.attn.qkv", part), _PROJECTION),
    (r"block(\d+)/attention/attention_output",
     lambda b: (f"blocks.{b - 1}.attn.proj", "heads"), _PROJECTION),
    (r"block(\d+)/ffn_norm", lambda b: (f"blocks.{b - 1}.norm2",), _NORM),
    (r"block(\d+)/ffn_intermediate", lambda b: (f"blocks.{b - 1}.mlp.fc1",), TORCH_DENSE),
    (r"block(\d+)/ffn_output", lambda b: (f"blocks.{b - 1}.mlp.fc2",), TORCH_DENSE),
    (r"final_norm", ("norm",), _NORM),
    (r"classifier", ("head",), TORCH_DENSE),
]


def weight_sources(name):
    """The files behind `weights=` for registered ViT `name` (`zoo.model_info`)."""
    return {"state_dict": {"origin": f"a timm {name} state dict (.safetensors or .npz path)"}}


def _zoo_layouts(state_dict, num_heads):
    """`state_dict` with q, k, v split from `qkv` and shaped as the zoo's `EinsumDense`s."""
    tensors = {}
    for name, value in state_dict.items():
        stem, _, kind = name.rpartition(".")
        if name == "pos_embed":
            if np.ndim(value) != 3 or np.shape(value)[0] != 1:
                raise ValueError(f"weights file {state_dict.path!r}: tensor 'pos_embed' has "
                                 f"shape {np.shape(value)}, not (1, positions, width)")
            tensors["pos_embed[0]"] = np.asarray(value)[0]
        elif stem.endswith(".attn.qkv") and kind in ("weight", "bias"):
            value = np.asarray(value)
            width = value.shape[0] // 3
            shape = (3 * width, width) if kind == "weight" else (3 * width,)
            if value.shape != shape or not width or width % num_heads:
                raise ValueError(f"weights file {state_dict.path!r}: tensor {name!r} has shape "
                                 f"{value.shape}, not q, k and v fused for {num_heads} heads")
            for part, chunk in zip(("query", "key", "value"), np.split(value, 3, axis=0)):
                # (out, in) -> (in, heads, head size); a bias (out,) -> (heads, head size).
                shaped = (chunk.T.reshape(width, num_heads, -1) if kind == "weight"
                          else chunk.reshape(num_heads, -1))
                tensors[f"{name}[{part}]"] = shaped
        elif stem.endswith(".attn.proj") and kind == "weight":
            value = np.asarray(value)
            if value.ndim != 2 or value.shape[1] % num_heads:
                raise ValueError(f"weights file {state_dict.path!r}: tensor {name!r} has shape "
                                 f"{value.shape}, not (width, width) for {num_heads} heads")
            tensors[f"{name}[heads]"] = value.T.reshape(num_heads, -1, value.shape[0])
        elif stem.endswith(".attn.proj") and kind == "bias":
            tensors[f"{name}[heads]"] = np.asarray(value)
        else:
            tensors[name] = value
    return StateDict(tensors, state_dict.path)


def pretrained_overrides(name, weights, overrides):
    """The `num_classes` of the file's head (timm's `head.weight`), unless given."""
    head = weights.get("head.weight")
    wanted = overrides.get("include_top", True) and not overrides.get("features_only", False)
    if head is not None and wanted and "num_classes" not in overrides and np.ndim(head) == 2:
        overrides["num_classes"] = int(np.shape(head)[0])
    if head is None and wanted and "num_classes" not in overrides:
        # Else a random 1000-class head would pass for the pretrained one.
        raise ValueError(
            f"weights file {weights.path!r} has no classifier ('head.weight'), and {name} "
            f"has one: pass num_classes=... for a new head of your classes, or "
            f"include_top=False for the backbone alone")
    return overrides


def load_pretrained(model, weights):
    """Loads a timm ViT `StateDict` (the head where the model has one of its size)."""
    check_rgb(model, weights.path)
    config = model.get_config()
    layers = layer_names(model)
    head = weights.get("head.weight")
    fits = "classifier" in layers and np.ndim(head) == 2 \
        and np.shape(head)[0] == config["num_classes"]
    unused = [] if fits else ["head.weight", "head.bias"]
    built = sum(1 for name in layers if name.startswith("block"))
    # Blocks after the last one built (features_only) are left out.
    unused += [name for name in weights if name.split(".")[0] == "blocks"
               and name.split(".")[1].isdigit() and int(name.split(".")[1]) >= built]
    if "final_norm" not in layers:
        unused += ["norm.weight", "norm.bias"]
    source = _zoo_layouts(weights, config["num_heads"])
    unused = [name for name in source if name.split("[")[0] in unused]
    assign(model, source, TORCH, skip=() if fits else ("classifier",), unused=unused)


def to_state_dict(model):
    """A zoo ViT's weights as a timm state dict (what `load_pretrained` reads back)."""
    numpy = keras.ops.convert_to_numpy
    layers = layer_names(model)
    embed = model.get_layer("patch_embed")
    state = {"cls_token": numpy(embed.class_token),
             "pos_embed": numpy(embed.position_embedding.embeddings)[None],
             "patch_embed.proj.weight": numpy(embed.projection.kernel).transpose(3, 2, 0, 1),
             "patch_embed.proj.bias": numpy(embed.projection.bias)}
    blocks = sorted((name for name in layers if name.startswith("block")),
                    key=lambda name: int(name[len("block"):]))
    for index, name in enumerate(blocks):
        block, prefix = model.get_layer(name), f"blocks.{index}"
        attention = block.attention
        _torch_norm(state, f"{prefix}.norm1", block.attention_norm)
        _torch_qkv(state, f"{prefix}.attn.qkv",
                   [getattr(attention, part) for part in ("query", "key", "value")])
        _torch_dense(state, f"{prefix}.attn.proj", attention.attention_output, heads_first=True)
        _torch_norm(state, f"{prefix}.norm2", block.ffn_norm)
        _torch_dense(state, f"{prefix}.mlp.fc1", block.ffn_intermediate)
        _torch_dense(state, f"{prefix}.mlp.fc2", block.ffn_output)
    if "final_norm" in layers:
        _torch_norm(state, "norm", model.get_layer("final_norm"))
    if "classifier" in layers:
        _torch_dense(state, "head", model.get_layer("classifier"))
    # Contiguous: safetensors writes an array's buffer as it lies in memory.
    return {name: np.ascontiguousarray(value) for name, value in state.items()}


def _torch_dense(state, prefix, layer, heads_first=False):
    # Keras' (in, heads, size) or (heads, size, out) kernels, flattened to torch's (out, in).
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    kernel = kernel.reshape(-1, kernel.shape[-1]) if heads_first \
        else kernel.reshape(kernel.shape[0], -1)
    state[f"{prefix}.weight"] = kernel.T
    state[f"{prefix}.bias"] = keras.ops.convert_to_numpy(layer.bias).ravel()


def _torch_qkv(state, prefix, projections):
    parts = {}
    for projection in projections:
        _torch_dense(parts, "part", projection)
        for kind in ("weight", "bias"):
            parts.setdefault(kind, []).append(parts.pop(f"part.{kind}"))
    for kind in ("weight", "bias"):
        state[f"{prefix}.{kind}"] = np.concatenate(parts[kind])


def _torch_norm(state, prefix, layer):
    state[f"{prefix}.weight"] = keras.ops.convert_to_numpy(layer.gamma)
    state[f"{prefix}.bias"] = keras.ops.convert_to_numpy(layer.beta)


def _keras_hub_state(backbone, classifier_dense):
    """keras-hub ViT weights in timm's names and layouts."""
    embedding = backbone.get_layer("vit_patching_and_embedding")
    encoder = backbone.get_layer("vit_encoder")
    numpy = keras.ops.convert_to_numpy
    state = {"cls_token": numpy(embedding.class_token),
             "pos_embed": numpy(embedding.position_embedding.embeddings)[None],
             "patch_embed.proj.weight":
                 numpy(embedding.patch_embedding.kernel).transpose(3, 2, 0, 1),
             "patch_embed.proj.bias": numpy(embedding.patch_embedding.bias)}
    for index, block in enumerate(encoder.encoder_layers):
        prefix = f"blocks.{index}"
        _torch_norm(state, f"{prefix}.norm1", block.layer_norm_1)
        _torch_qkv(state, f"{prefix}.attn.qkv",
                   [block.mha.query_dense, block.mha.key_dense, block.mha.value_dense])
        _torch_dense(state, f"{prefix}.attn.proj", block.mha.output_dense, heads_first=True)
        _torch_norm(state, f"{prefix}.norm2", block.layer_norm_2)
        _torch_dense(state, f"{prefix}.mlp.fc1", block.mlp.dense_1)
        _torch_dense(state, f"{prefix}.mlp.fc2", block.mlp.dense_2)
    _torch_norm(state, "norm", encoder.layer_norm)
    if classifier_dense is not None:
        _torch_dense(state, "head", classifier_dense)
    return {name: np.ascontiguousarray(value) for name, value in state.items()}


def from_keras_hub(backbone, classifier_dense=None, **overrides):
    """The zoo ViT equal to a keras-hub `ViTBackbone` (+ its classifier's `Dense`), weights copied.

    Without `classifier_dense` the model has no head and returns the class
    token after the final LayerNorm (`include_top=False`).
    """
    config = backbone.get_config() if hasattr(backbone, "get_config") else {}
    needed = ("image_shape", "patch_size", "num_layers", "num_heads", "hidden_dim", "mlp_dim")
    if any(key not in config for key in needed) or not all(
            config.get(flag, True) for flag in ("use_mha_bias", "use_mlp_bias",
                                                "use_class_token", "use_patch_bias")):
        raise ValueError(
            "backbone must be a keras_hub.models.ViTBackbone with biases and a class token, "
            f"received backbone={_validation.preview(backbone)}")
    patch = config["patch_size"]
    patch = patch if isinstance(patch, int) else tuple(patch)
    if not isinstance(patch, int) and patch[0] != patch[1]:
        raise ValueError(f"backbone has patch_size={patch}; the zoo's ViT takes square "
                         f"patches only")
    head = {"include_top": False} if classifier_dense is None else {
        "num_classes": classifier_dense.units,
        "classifier_activation": _validation.activation_of(classifier_dense)}
    model = ViT(**{
        "width": config["hidden_dim"], "depth": config["num_layers"],
        "num_heads": config["num_heads"], "mlp_dim": config["mlp_dim"],
        "patch_size": patch if isinstance(patch, int) else patch[0],
        "encoder_dropout": config.get("dropout_rate", 0.0),
        "attention_dropout": config.get("attention_dropout", 0.0),
        "layer_norm_epsilon": config.get("layer_norm_epsilon", 1e-6),
        "input_shape": tuple(config["image_shape"]),
        "data_format": getattr(backbone, "data_format", None),
        **head, **overrides})
    state = StateDict(_keras_hub_state(backbone, classifier_dense), "keras-hub ViTBackbone")
    load_pretrained(model, state)
    return model
