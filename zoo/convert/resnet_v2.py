"""ResNetV2 weights: keras.applications' `ResNet50V2`, `ResNet101V2` and `ResNet152V2`."""

import re

import keras

from zoo import _validation
from zoo.convert import _files
from zoo.convert._assign import KERAS_CONV_BN, KERAS_DENSE, KerasWeights, assign, \
    keras_image_kwargs
from zoo.models.resnet_v2 import RESNET_V2_SPECS, ResNetV2

FAMILY = ResNetV2

# A plain convolution with bias (the stem, `conv3`, the projection shortcut) and a BatchNorm.
KERAS_CONV = {"kernel": "{0}/kernel", "bias": "{0}/bias"}
KERAS_BN = {name: f"{{0}}/{name}" for name in ("gamma", "beta", "moving_mean", "moving_variance")}


def _keras_block(stage, block):
    """keras.applications' prefix of block `block` of zoo stage `stage` (conv2..conv5)."""
    return f"conv{stage + 1}_block{block}"


# zoo layer -> keras.applications' layers.
KERAS_APPLICATIONS = [
    (r"stem_conv", ("conv1_conv",), KERAS_CONV),
    (r"stage(\d+)_block(\d+)/preact_bn", lambda s, b: (f"{_keras_block(s, b)}_preact_bn",),
     KERAS_BN),
    (r"stage(\d+)_block(\d+)/conv([12])",
     lambda s, b, n: (f"{_keras_block(s, b)}_{n}_conv", f"{_keras_block(s, b)}_{n}_bn"),
     KERAS_CONV_BN),
    (r"stage(\d+)_block(\d+)/conv3", lambda s, b: (f"{_keras_block(s, b)}_3_conv",),
     KERAS_CONV),
    (r"stage(\d+)_block(\d+)/shortcut", lambda s, b: (f"{_keras_block(s, b)}_0_conv",),
     KERAS_CONV),
    (r"post_bn", ("post_bn",), KERAS_BN),
    (r"classifier", ("predictions",), KERAS_DENSE),
]

# As keras/src/applications/resnet.py (`WEIGHTS_HASHES`): md5 (with top, without top).
KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
KERAS_WEIGHTS_HASHES = {
    50: ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    101: ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    152: ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}


def keras_weights_file(depth, include_top):
    """keras.applications' file name of the ImageNet weights of ResNet-`depth` v2."""
    return (f"resnet{depth}v2_weights_tf_dim_ordering_tf_kernels"
            f"{'' if include_top else '_notop'}.h5")


def weight_sources(name):
    """The file behind `weights="imagenet"` for registered model `name` (`zoo.model_info`)."""
    depth = int(name.removeprefix("resnet").removesuffix("_v2"))
    file_name = keras_weights_file(depth, True)
    return {"imagenet": {"origin": KERAS_WEIGHTS_URL + file_name, "file_name": file_name,
                         "file_hash": KERAS_WEIGHTS_HASHES[depth][0]}}


def from_keras_applications(keras_model, **overrides):
    """Builds the zoo ResNetV2 matching a keras.applications ResNet50V2/101V2/152V2, weights copied.

    `overrides` are `ResNetV2` arguments to set differently; ones that
    change weights make the copy fail.

    Example:
    >>> k = keras.applications.ResNet50V2(weights=None, input_shape=(64, 64, 3))
    >>> model = from_keras_applications(k)  # with weights="imagenet": pretrained
    >>> model.depth, model.count_params() == k.count_params()
    (50, True)
    """
    application = "ResNet50V2, ResNet101V2 or ResNet152V2"
    source = KerasWeights(keras_model, application)
    source.layer("conv1_conv", keras.layers.Conv2D)
    source.layer("conv2_block1_preact_bn", keras.layers.BatchNormalization)
    post_bn = source.layer("post_bn", keras.layers.BatchNormalization)
    blocks = tuple(sum(1 for name in source.layers
                       if re.fullmatch(f"conv{stage}_block\\d+_out", name))
                   for stage in (2, 3, 4, 5))
    depths = [depth for depth, spec in RESNET_V2_SPECS.items() if spec == blocks]
    if not depths:
        raise ValueError(
            f"keras_model has {blocks} blocks in stages conv2-conv5, which match no "
            f"{application} ({RESNET_V2_SPECS}); received keras_model="
            f"{_validation.preview(keras_model)}")
    model = ResNetV2(**{"depth": depths[0],
                        **keras_image_kwargs(keras_model, source.layers, post_bn),
                        **overrides})
    assign(model, source, KERAS_APPLICATIONS, strict=False)
    return model


def load_pretrained(model, weights):
    """keras.applications' ImageNet weights (the top file for a 1000-class head)."""
    depth, top = model.get_config()["depth"], _files.imagenet_top(model)
    _files.load_keras_imagenet(model, KERAS_APPLICATIONS, f"ResNet{depth}V2", KERAS_WEIGHTS_URL,
                               keras_weights_file(depth, top),
                               KERAS_WEIGHTS_HASHES[depth][0 if top else 1], top)
