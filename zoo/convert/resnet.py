"""ResNet weights: keras.applications' ResNet50/101/152 (v1), torchvision/timm's (v1.5)."""

import re

import keras
import numpy as np

from zoo.blocks import BasicBlock, Bottleneck
from zoo.convert import _files
from zoo.convert._assign import (KERAS_CONV_BN, KERAS_DENSE, TORCH_CONV_BN, TORCH_DENSE,
                                 KerasWeights, Tensor, assign, keras_image_kwargs, layer_names)
from zoo.models.resnet import RESNET_SPECS, ResNet

FAMILY = ResNet

# keras.applications' conv bias, folded exactly into the BatchNorm's moving mean.
_KERAS_CONV_BN = {**KERAS_CONV_BN, "bn/moving_mean": Tensor("{1}/moving_mean", minus="{0}/bias")}


def _keras_unit(prefix):
    return f"{prefix}_conv", f"{prefix}_bn"


# zoo layer -> keras.applications' layers (unit 0: the projection shortcut).
KERAS_APPLICATIONS = [
    (r"stem_conv", _keras_unit("conv1"), _KERAS_CONV_BN),
    (r"stage(\d+)_block(\d+)/conv(\d+)",
     lambda s, b, n: _keras_unit(f"conv{s + 1}_block{b}_{n}"), _KERAS_CONV_BN),
    (r"stage(\d+)_block(\d+)/shortcut",
     lambda s, b: _keras_unit(f"conv{s + 1}_block{b}_0"), _KERAS_CONV_BN),
    (r"classifier", ("predictions",), KERAS_DENSE),
]

# zoo layer -> torchvision's and timm's modules.
TORCH = [
    (r"stem_conv", ("conv1", "bn1"), TORCH_CONV_BN),
    (r"stage(\d+)_block(\d+)/conv(\d+)",
     lambda s, b, n: (f"layer{s}.{b - 1}.conv{n}", f"layer{s}.{b - 1}.bn{n}"), TORCH_CONV_BN),
    (r"stage(\d+)_block(\d+)/shortcut",
     lambda s, b: (f"layer{s}.{b - 1}.downsample.0", f"layer{s}.{b - 1}.downsample.1"),
     TORCH_CONV_BN),
    (r"classifier", ("fc",), TORCH_DENSE),
]

# As keras/src/applications/resnet.py: md5 (with top, without top).
KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
KERAS_WEIGHTS_HASHES = {
    50: ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    101: ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    152: ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
}
_IMAGENET_EPSILON = 1.001e-5
_TORCH_EPSILON = 1e-5
_EXPANSION = {"basic": BasicBlock.expansion, "bottleneck": Bottleneck.expansion}


def keras_weights_file(depth, include_top):
    """keras.applications' file name of the ImageNet weights of ResNet-`depth` (v1)."""
    return f"resnet{depth}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"


def weight_sources(name):
    """The files behind `weights=` for registered ResNet `name` (`zoo.model_info`)."""
    sources = {"state_dict": {"origin": "a torchvision/timm ResNet v1.5 state dict "
                                        "(.safetensors or .npz path)"}}
    depth = int(name.removeprefix("resnet"))
    if depth in KERAS_WEIGHTS_HASHES:
        file_name = keras_weights_file(depth, True)
        sources["imagenet"] = {"origin": KERAS_WEIGHTS_URL + file_name, "file_name": file_name,
                               "file_hash": KERAS_WEIGHTS_HASHES[depth][0]}
    return sources


def from_keras_applications(keras_model, **overrides):
    """The zoo ResNet (`stride_in_1x1=True`) matching a keras.applications ResNet50/101/152.

    `overrides` are `ResNet` arguments to set differently; ones that change
    weights make the copy fail.

    Example:
    >>> k = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3))
    >>> model = from_keras_applications(k)  # with weights="imagenet": pretrained
    >>> model.count_params() < k.count_params()  # no conv biases
    True
    """
    layers = {layer.name: layer for layer in getattr(keras_model, "layers", [])}
    if "conv1_conv" not in layers or "conv2_block1_1_conv" not in layers \
            or "conv2_block1_preact_bn" in layers:
        raise ValueError(
            "keras_model must be a keras.applications ResNet50, ResNet101 or "
            f"ResNet152 (v1) model, received keras_model={keras_model!r}"
        )
    blocks = tuple(
        sum(1 for name in layers if name.startswith(f"conv{stage}_block") and name.endswith("_out"))
        for stage in (2, 3, 4, 5)
    )
    depths = [d for d, spec in RESNET_SPECS.items()
              if spec["block"] == "bottleneck" and spec["blocks"] == blocks]
    if not depths:
        raise ValueError(f"keras_model has stage sizes {blocks}, which match no bottleneck "
                         f"ResNet in RESNET_SPECS")
    model = ResNet(**{"depth": depths[0], "stride_in_1x1": True,
                      **keras_image_kwargs(keras_model, layers, layers["conv1_bn"]),
                      **overrides})
    source = KerasWeights(keras_model, "ResNet50, ResNet101 or ResNet152 (v1)")
    assign(model, source, KERAS_APPLICATIONS, strict=False)
    return model


def pretrained_overrides(name, weights, overrides):
    """The `stride_in_1x1`, `bn_epsilon` (and `num_classes`) the weights need."""
    depth = int(name.removeprefix("resnet"))
    bottleneck = RESNET_SPECS[depth]["block"] == "bottleneck"
    imagenet = weights == "imagenet"
    # Basic blocks have no 1x1 convolution: there the argument changes nothing.
    wanted = imagenet
    given = overrides.get("stride_in_1x1", wanted)
    if bottleneck and given is not wanted:
        source = ("keras.applications' ImageNet weights are ResNet v1" if imagenet else
                  f"a PyTorch state dict ({weights.path}) is torchvision/timm's ResNet v1.5")
        raise ValueError(
            f"{name} with weights={'imagenet' if imagenet else weights.path!r} needs "
            f"stride_in_1x1={wanted}: {source}; received stride_in_1x1={given!r}")
    if bottleneck:
        overrides["stride_in_1x1"] = wanted
    overrides.setdefault("bn_epsilon", _IMAGENET_EPSILON if imagenet else _TORCH_EPSILON)
    fc = None if imagenet else weights.get("fc.weight")
    head = overrides.get("include_top", True) and not overrides.get("features_only", False)
    if fc is not None and head and "num_classes" not in overrides and np.ndim(fc) == 2:
        # The file's own head, whatever its classes (a fine-tuned checkpoint).
        overrides["num_classes"] = int(np.shape(fc)[0])
    if not imagenet and fc is None and head and "num_classes" not in overrides:
        # Else a random 1000-class head would pass for the pretrained one.
        raise ValueError(
            f"weights file {weights.path!r} has no classifier ('fc.weight'), and {name} "
            f"has one: pass num_classes=... for a new head of your classes, or "
            f"include_top=False for the backbone alone")
    return overrides


def load_pretrained(model, weights):
    """Loads `"imagenet"` (keras.applications) or a torchvision/timm `StateDict`."""
    config = model.get_config()
    v1 = weights == "imagenet"
    if RESNET_SPECS[config["depth"]]["block"] == "bottleneck" and config["stride_in_1x1"] != v1:
        # Same shapes, another network: the strides would sit on the wrong convolutions.
        source = "'imagenet' (ResNet v1)" if v1 else f"{weights.path!r} (ResNet v1.5)"
        raise ValueError(f"{model.name} has stride_in_1x1={config['stride_in_1x1']}, which "
                         f"the weights {source} do not fit: build it with "
                         f"stride_in_1x1={v1}")
    if weights == "imagenet":
        depth, top = config["depth"], _files.imagenet_top(model)
        _files.load_keras_imagenet(model, KERAS_APPLICATIONS, f"ResNet{depth}", KERAS_WEIGHTS_URL,
                                   keras_weights_file(depth, top),
                                   KERAS_WEIGHTS_HASHES[depth][0 if top else 1], top)
    else:
        _load_state_dict(model, weights)


def _load_state_dict(model, state_dict):
    """A torchvision/timm state dict into `model` (the head only where it fits)."""
    config = model.get_config()
    spec = RESNET_SPECS[config["depth"]]
    layers = layer_names(model)
    fc = state_dict.get("fc.weight")
    head = "classifier" in layers and fc is not None and np.ndim(fc) == 2 \
        and np.shape(fc)[0] == config["num_classes"]
    unused = [] if head else ["fc.weight", "fc.bias"]
    built = {int(match[1]) for match in map(re.compile(r"stage(\d+)_block\d+").fullmatch, layers)
             if match}
    skipped = tuple(f"layer{stage}." for stage in range(1, len(spec["blocks"]) + 1)
                    if stage not in built)
    unused += [name for name in state_dict if skipped and name.startswith(skipped)]
    assign(model, state_dict, TORCH, skip=() if head else ("classifier",), unused=unused)
    features = spec["filters"][-1] * _EXPANSION[spec["block"]]
    if fc is not None and (np.ndim(fc) != 2 or np.shape(fc)[1] != features):
        # A replaced head still tells the architecture (the model is dropped).
        raise ValueError(
            f"weights file {state_dict.path!r} does not fit {model.name}: tensor 'fc.weight' "
            f"has shape {tuple(np.shape(fc))}, expected (num_classes, {features})")
