"""The generic loader of zoo/convert/: `assign` and its mapping tables.

On a tiny model of zoo blocks (a `ConvBN` stem, a depthwise `ConvBN`, a
`Dense` classifier), with state dicts and Keras models written here: the
layouts, the all-or-nothing assignment, and the message naming the first
tensor that does not fit (missing, extra, wrong shape, wrong layer kind).
The families' own tables are tested through `weights=` and
`from_keras_applications` (tests/models/test_pretrained.py and the family
tests).
"""

import ast
import pathlib

import keras
import numpy as np
import pytest

import helpers
import zoo
from zoo import convert
from zoo.blocks import ConvBN
from zoo.models import _pretrained

TORCH_TABLE = [
    (r"stem_conv", ("conv1", "bn1"), convert.TORCH_CONV_BN),
    (r"block(\d+)/dw", lambda b: (f"blocks.{b - 1}.conv", f"blocks.{b - 1}.bn"),
     convert.TORCH_DEPTHWISE_BN),
    (r"classifier", ("fc",), convert.TORCH_DENSE),
]


class Block(keras.layers.Layer):
    """A layer holding a depthwise `ConvBN` named `dw` (paths `block<k>/dw/...`)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dw = ConvBN(None, 3, depthwise=True, name="dw")

    def build(self, input_shape):
        self.dw.build(input_shape)

    def call(self, x):
        return self.dw(x)


def tiny(name="tiny"):
    model = keras.Sequential([
        keras.Input((6, 6, 3)),
        ConvBN(4, 3, name="stem_conv"),
        Block(name="block1"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, name="classifier"),
    ], name=name)
    return model


def state_dict(tmp_path, seed=0, **changes):
    rng = np.random.default_rng(seed)
    tensors = {
        "conv1.weight": rng.standard_normal((4, 3, 3, 3)),
        "blocks.0.conv.weight": rng.standard_normal((4, 1, 3, 3)),
        "fc.weight": rng.standard_normal((2, 4)),
        "fc.bias": rng.standard_normal(2),
    }
    for bn in ("bn1", "blocks.0.bn"):
        tensors.update({f"{bn}.weight": rng.uniform(0.5, 1.5, 4),
                        f"{bn}.bias": rng.standard_normal(4),
                        f"{bn}.running_mean": rng.standard_normal(4),
                        f"{bn}.running_var": rng.uniform(0.5, 1.5, 4),
                        f"{bn}.num_batches_tracked": np.array(7)})
    tensors = {name: np.asarray(value, "float32" if value.ndim else "int64")
               for name, value in tensors.items()}
    for name, value in changes.items():
        name = name.replace("__", ".")
        if value is None:
            del tensors[name]
        else:
            tensors[name] = value
    return convert.StateDict(tensors, tmp_path / "model.safetensors")


def weights_of(model):
    return {w.path.split("/", 1)[1]: keras.ops.convert_to_numpy(w) for w in model.weights}


def test_torch_layouts_and_names(tmp_path):
    model, tensors = tiny(), state_dict(tmp_path)
    convert.assign(model, tensors, TORCH_TABLE)
    got = weights_of(model)
    np.testing.assert_array_equal(got["stem_conv/conv/kernel"],
                                  tensors["conv1.weight"].transpose(2, 3, 1, 0))
    # A depthwise kernel: (channels, 1, kh, kw) -> Keras' (kh, kw, channels, 1).
    assert got["block1/dw/conv/kernel"].shape == (3, 3, 4, 1)
    np.testing.assert_array_equal(got["block1/dw/conv/kernel"],
                                  tensors["blocks.0.conv.weight"].transpose(2, 3, 0, 1))
    np.testing.assert_array_equal(got["block1/dw/bn/moving_variance"],
                                  tensors["blocks.0.bn.running_var"])
    np.testing.assert_array_equal(got["classifier/kernel"], tensors["fc.weight"].T)
    np.testing.assert_array_equal(got["stem_conv/bn/gamma"], tensors["bn1.weight"])


@pytest.mark.parametrize("changes, fragments", [
    ({"bn1__running_var": None}, ["it has no tensor 'bn1.running_var'",
                                  "(for tiny/stem_conv/bn/moving_variance)"]),
    ({"blocks__0__conv__weight": np.zeros((4, 4, 3, 3), "float32")},
     ["tensor 'blocks.0.conv.weight' has shape (4, 4, 3, 3), expected (4, 1, 3, 3)",
      "tiny/block1/dw/conv/kernel"]),
    ({"fc__bias": np.zeros(3, "float32")}, ["tensor 'fc.bias' has shape (3,), expected (2,)"]),
    ({"head__fc__weight": np.zeros((2, 4), "float32"), "extra": np.zeros(1, "float32")},
     ["tensor 'head.fc.weight' has no place in tiny", "2 such tensors"]),
], ids=["missing", "wrong-shape", "wrong-shape-last", "extra"])
def test_the_first_tensor_that_does_not_fit_is_named_and_nothing_is_assigned(
        tmp_path, changes, fragments):
    model = tiny()
    before = weights_of(model)
    message = helpers.assert_rejects(
        lambda: convert.assign(model, state_dict(tmp_path, **changes), TORCH_TABLE),
        ValueError, f"weights file {str(tmp_path / 'model.safetensors')!r} does not fit tiny",
        *fragments)
    assert "num_batches_tracked" not in message, message
    for path, value in weights_of(model).items():  # all or nothing
        np.testing.assert_array_equal(value, before[path], err_msg=path)


def test_the_first_misfit_in_the_models_order(tmp_path):
    # Two tensors do not fit: the one of the earlier layer is named.
    bad = state_dict(tmp_path, fc__weight=np.zeros((2, 5), "float32"),
                     bn1__bias=np.zeros(5, "float32"))
    helpers.assert_rejects(lambda: convert.assign(tiny(), bad, TORCH_TABLE), ValueError,
                           "'bn1.bias'")


def test_skip_unused_and_strict(tmp_path):
    model = tiny()
    fresh = weights_of(model)["classifier/kernel"]
    tensors = state_dict(tmp_path, fc__weight=np.zeros((10, 4), "float32"),
                         fc__bias=np.zeros(10, "float32"))
    # A new head: the classifier is left as it is, the file's fc is not loaded.
    helpers.assert_rejects(lambda: convert.assign(model, tensors, TORCH_TABLE,
                                                  skip=["classifier"]),
                           ValueError, "'fc.weight' has no place")
    convert.assign(model, tensors, TORCH_TABLE, skip=["classifier"],
                   unused=["fc.weight", "fc.bias"])
    np.testing.assert_array_equal(weights_of(model)["classifier/kernel"], fresh)
    convert.assign(tiny(), tensors, TORCH_TABLE, skip=["classifier"], strict=False)


def test_a_weight_no_row_takes(tmp_path):
    helpers.assert_rejects(
        lambda: convert.assign(tiny(), state_dict(tmp_path), TORCH_TABLE[:2]), ValueError,
        "no row of its mapping table takes the weight tiny/classifier/kernel")


def keras_source(conv_kind=keras.layers.Conv2D, seed=0):
    """A keras.applications-like model: biased conv + BN, a depthwise conv, `predictions`."""
    rng = np.random.default_rng(seed)
    depthwise = (keras.layers.DepthwiseConv2D(3, use_bias=False, name="dw")
                 if conv_kind is keras.layers.Conv2D else keras.layers.Conv2D(4, 3, name="dw"))
    source = keras.Sequential([
        keras.Input((6, 6, 3)),
        keras.layers.Conv2D(4, 3, name="c1"),
        keras.layers.BatchNormalization(name="c1_bn"),
        depthwise,
        keras.layers.BatchNormalization(name="dw_bn"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, name="predictions"),
    ])
    source.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32")
                        for w in source.weights])
    return source


KERAS_TABLE = [
    (r"stem_conv", ("c1", "c1_bn"),
     {**convert.KERAS_CONV_BN,
      "bn/moving_mean": convert.Tensor("{1}/moving_mean", minus="{0}/bias")}),
    (r"block1/dw", ("dw", "dw_bn"), convert.KERAS_CONV_BN),
    (r"classifier", ("predictions",), convert.KERAS_DENSE),
]


def test_keras_weights_by_layer_name_with_the_bias_folded():
    source = keras_source()
    model = tiny()
    convert.assign(model, convert.KerasWeights(source, "Tiny"), KERAS_TABLE)
    got = weights_of(model)
    layers = {layer.name: layer for layer in source.layers}
    kernel, bias = layers["c1"].get_weights()
    np.testing.assert_array_equal(got["stem_conv/conv/kernel"], kernel)
    np.testing.assert_allclose(got["stem_conv/bn/moving_mean"],
                               layers["c1_bn"].moving_mean.numpy() - bias)
    np.testing.assert_array_equal(got["block1/dw/conv/kernel"], layers["dw"].kernel.numpy())
    np.testing.assert_array_equal(got["classifier/bias"], layers["predictions"].bias.numpy())


def test_keras_weights_name_the_layer_that_does_not_fit():
    # A layer of another kind: the zoo layer's Keras class is what it must be.
    helpers.assert_rejects(
        lambda: convert.assign(tiny(), convert.KerasWeights(
            keras_source(conv_kind=keras.layers.DepthwiseConv2D), "Tiny"), KERAS_TABLE),
        ValueError, "keras_model must be a keras.applications Tiny", "its layer 'dw' is a "
        "Conv2D, not a DepthwiseConv2D")
    # A layer of the right kind with other shapes.
    source = keras_source()
    narrow = keras.Sequential([keras.Input((6, 6, 3)), keras.layers.Dense(3, name="predictions")])
    bad = type("Impostor", (), {"layers": [narrow.layers[-1] if layer.name == "predictions"
                                           else layer for layer in source.layers]})()
    helpers.assert_rejects(
        lambda: convert.assign(tiny(), convert.KerasWeights(bad, "Tiny"), KERAS_TABLE),
        ValueError, "keras_model's layer 'predictions' has a weight 'kernel' of shape (3, 3)",
        "'tiny/classifier/kernel' ((4, 2))")
    # A missing layer.
    gone = type("Impostor", (), {"layers": [layer for layer in source.layers
                                            if layer.name != "c1_bn"]})()
    helpers.assert_rejects(
        lambda: convert.assign(tiny(), convert.KerasWeights(gone, "Tiny"), KERAS_TABLE),
        ValueError, "its layer 'c1_bn' is missing, not a BatchNormalization")


# -- the registry: how `weights=` finds a family's converter --------------------


def test_every_family_with_pretrained_weights_has_a_converter():
    for family in {zoo.registry.model_family(name) for name in zoo.list_models(pretrained=True)}:
            port = convert.converter_for(family)
            assert port.family is family and port.module.FAMILY is family
            assert callable(port.module.load_pretrained), family
    with pytest.raises(NotImplementedError, match="zoo/convert/"):
        convert.converter_for(zoo.registry.model_family("einsum_mlp"))


def test_the_family_modules_never_import_the_converters():
    # zoo/convert imports zoo/models: the way back would be a cycle. The
    # converters register themselves into zoo.models._pretrained instead.
    root = pathlib.Path(zoo.__file__).parent / "models"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.startswith("zoo.convert") for n in names), path
    assert _pretrained.converter(zoo.resnet.ResNet).module is convert.resnet


def test_the_old_names_are_the_converters():
    k = keras.applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(32, 32, 3),
                                       include_top=False)
    model = zoo.mobilenet_v2.from_keras_applications(k, name="ported")
    assert (type(model), model.name, model.alpha) == (zoo.mobilenet_v2.MobileNetV2, "ported",
                                                      0.35)
    with pytest.raises(ValueError, match="keras_model"):
        zoo.resnet.from_keras_applications(k)
