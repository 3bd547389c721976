"""DenseNet weights: keras.applications' `DenseNet121`, `DenseNet169` and `DenseNet201`."""

import keras

from zoo import _validation
from zoo.convert import _files
from zoo.convert._assign import KERAS_CONV_BN, KERAS_DENSE, KerasWeights, assign, \
    keras_image_kwargs
from zoo.models.densenet import DENSENET_SPECS, DenseNet

FAMILY = DenseNet

_KERAS_BN = {name: f"{{0}}/{name}" for name in ("gamma", "beta", "moving_mean",
                                                 "moving_variance")}
_KERAS_CONV = {"kernel": "{0}/kernel"}

# zoo layer -> keras.applications' layers: dense block s is keras' conv{s+1}, the
# transition after it pool{s+1}; a dense layer's units are 0 (bn), 1 (conv, bn), 2 (conv).
KERAS_APPLICATIONS = [
    (r"stem_conv", ("conv1_conv", "conv1_bn"), KERAS_CONV_BN),
    (r"stage(\d+)/layer(\d+)/norm", lambda s, n: (f"conv{s + 1}_block{n}_0_bn",), _KERAS_BN),
    (r"stage(\d+)/layer(\d+)/bottleneck",
     lambda s, n: (f"conv{s + 1}_block{n}_1_conv", f"conv{s + 1}_block{n}_1_bn"), KERAS_CONV_BN),
    (r"stage(\d+)/layer(\d+)/conv", lambda s, n: (f"conv{s + 1}_block{n}_2_conv",), _KERAS_CONV),
    (r"stage(\d+)_transition/norm", lambda s: (f"pool{s + 1}_bn",), _KERAS_BN),
    (r"stage(\d+)_transition/conv", lambda s: (f"pool{s + 1}_conv",), _KERAS_CONV),
    (r"final_norm", ("bn",), _KERAS_BN),
    (r"classifier", ("predictions",), KERAS_DENSE),
]

# As keras/src/applications/densenet.py: md5 (with top, without top).
KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
KERAS_WEIGHTS_HASHES = {
    121: ("9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    169: ("d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    201: ("1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
}


def keras_weights_file(depth, include_top):
    """keras.applications' file name of the ImageNet weights of DenseNet-`depth`."""
    return (f"densenet{depth}_weights_tf_dim_ordering_tf_kernels"
            f"{'' if include_top else '_notop'}.h5")


def weight_sources(name):
    """The file behind `weights="imagenet"` for registered DenseNet `name` (`zoo.model_info`)."""
    depth = int(name.removeprefix("densenet"))
    file_name = keras_weights_file(depth, True)
    return {"imagenet": {"origin": KERAS_WEIGHTS_URL + file_name, "file_name": file_name,
                         "file_hash": KERAS_WEIGHTS_HASHES[depth][0]}}


def from_keras_applications(keras_model, **overrides):
    """Builds the zoo DenseNet matching a `keras.applications.DenseNet*`, weights copied.

    `overrides` are `DenseNet` arguments to set differently; ones that
    change weights make the copy fail.

    Example:
    >>> k = keras.applications.DenseNet121(weights=None, input_shape=(32, 32, 3),
    ...                                    include_top=False)
    >>> model = from_keras_applications(k)  # with weights="imagenet": pretrained
    >>> model.depth, model.count_params() == k.count_params()
    (121, True)
    """
    source = KerasWeights(keras_model, "DenseNet121, DenseNet169 or DenseNet201")
    stem_bn = source.layer("conv1_bn", keras.layers.BatchNormalization)
    found = tuple(sum(1 for name in source.layers
                      if name.startswith(f"conv{stage}_block") and name.endswith("_concat"))
                  for stage in (2, 3, 4, 5))
    depths = [depth for depth, spec in DENSENET_SPECS.items() if spec == found]
    if not depths:
        raise ValueError(
            f"keras_model has dense blocks of {found} layers, which match no DenseNet of "
            f"{ {d: s for d, s in DENSENET_SPECS.items()} }; received keras_model="
            f"{_validation.preview(keras_model)}")
    model = DenseNet(**{"depth": depths[0],
                        **keras_image_kwargs(keras_model, source.layers, stem_bn),
                        **overrides})
    assign(model, source, KERAS_APPLICATIONS, strict=False)
    return model


def load_pretrained(model, weights):
    """keras.applications' ImageNet weights, with the top for a 1000-class head."""
    depth, top = model.get_config()["depth"], _files.imagenet_top(model)
    _files.load_keras_imagenet(model, KERAS_APPLICATIONS, f"DenseNet{depth}", KERAS_WEIGHTS_URL,
                               keras_weights_file(depth, top),
                               KERAS_WEIGHTS_HASHES[depth][0 if top else 1], top)
