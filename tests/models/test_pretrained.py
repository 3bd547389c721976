"""Pretrained weights: `zoo.create_model(name, weights=...)`.

Everything runs offline: the network is cut for the whole module (DNS
fails, as on a machine without network), and every weights file is made
here. keras.applications' ImageNet files are stood in for by a
keras.applications model with random weights (BatchNorm statistics and
convolution biases included), saved where Keras' cache keeps the real file;
timm/torchvision state dicts by random arrays under timm's names, which
keras-hub's own timm converter (an implementation the zoo did not write)
loads for comparison.
"""

import hashlib
import json
import socket
import time
import warnings

import h5py
import keras
import numpy as np
import pytest

import helpers
import zoo
from zoo import convert

RESNET_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
MOBILENET_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test of this module reaches the network: every name lookup fails.

    Returns the list of hosts that were looked up.
    """
    lookups = []

    def getaddrinfo(host, *args, **kwargs):
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (test: offline)")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


def place(keras_model, path):
    """Writes `keras_model`'s weights where Keras' cache keeps a downloaded file.

    keras.applications' files are legacy HDF5 (`.h5`, not `.weights.h5`),
    which `keras_model.save(....h5)` writes and `load_weights` reads.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    keras_model.save(str(path))
    return path


def publish(monkeypatch, depth, path, top=True):
    """Makes the file at `path` the published ResNet-`depth` weights (their md5)."""
    hashes = dict(convert.resnet.KERAS_WEIGHTS_HASHES)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    hashes[depth] = (md5, hashes[depth][1]) if top else (hashes[depth][0], md5)
    monkeypatch.setattr(convert.resnet, "KERAS_WEIGHTS_HASHES", hashes)


def images(shape, seed=1):
    return np.random.default_rng(seed).standard_normal((2, *shape)).astype("float32")


# -- weights="imagenet" (keras.applications) ------------------------------------


@pytest.mark.slow
def test_resnet50_imagenet_offline_then_placed_file(cache, offline, monkeypatch):
    # Offline, at once: the URL and the exact path to put the file at.
    start = time.perf_counter()
    with pytest.raises(OSError) as info:
        zoo.create_model("resnet50", weights="imagenet", input_shape=(64, 64, 3))
    name = "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
    message = str(info.value)
    assert isinstance(info.value, convert.WeightsDownloadError)
    assert RESNET_URL + name in message, message
    assert str(cache / name) in message, message
    assert offline == ["storage.googleapis.com"]  # one attempt, no retries
    assert time.perf_counter() - start < 60
    assert not (cache / name).exists()

    # A file placed at that path is used when it is the published one (its
    # md5; random weights here, so the test publishes their md5): the same
    # logits as Keras.
    reference = helpers.randomize_reference(keras.applications.ResNet50(
        weights=None, input_shape=(64, 64, 3), classifier_activation=None))
    place(reference, cache / name)
    publish(monkeypatch, 50, cache / name)
    model = zoo.create_model("resnet50", weights="imagenet", input_shape=(64, 64, 3))
    assert type(model) is zoo.resnet.ResNet and model.stride_in_1x1 is True
    assert (model.num_classes, model.bn_epsilon) == (1000, 1.001e-5)
    x = images((64, 64, 3))
    helpers.assert_close(model(x), reference(x))
    # The head is ImageNet-1k's: its classes are named.
    assert model.class_names == zoo.models.imagenet_class_names()
    best = np.argmax(np.asarray(model(x)), axis=-1)
    assert [row[0].name for row in zoo.decode_predictions(model(x), class_names=model.class_names)
            ] == [model.class_names[i] for i in best]
    # The same through the family module, softmax head included.
    model = zoo.resnet.resnet50(weights="imagenet", input_shape=(64, 64, 3),
                                classifier_activation="softmax")
    helpers.assert_close(model(x), keras.activations.softmax(reference(x)))
    assert len(offline) == 1  # the cached file needed no network


@pytest.mark.slow
def test_resnet50_imagenet_new_head_and_no_top(cache, monkeypatch):
    # num_classes != 1000 and include_top=False load keras' "notop" file.
    name = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    reference = helpers.randomize_reference(keras.applications.ResNet50(
        weights=None, include_top=False, pooling="avg", input_shape=(48, 48, 3)))
    place(reference, cache / name)
    publish(monkeypatch, 50, cache / name, top=False)
    features = zoo.create_model("resnet50", weights="imagenet", include_top=False,
                                pooling="avg", input_shape=(48, 48, 3))
    x = images((48, 48, 3))
    helpers.assert_close(features(x), reference(x))

    model = zoo.create_model("resnet50", weights="imagenet", num_classes=10,
                             input_shape=(40, 56, 3))  # any size: convolutional weights
    layers = {layer.name: layer for layer in reference.layers}
    np.testing.assert_array_equal(model.stem[0].conv.kernel.numpy(),
                                  layers["conv1_conv"].kernel.numpy())
    assert tuple(model.classifier.kernel.shape) == (2048, 10)  # a new head
    assert model.class_names is None and features.class_names is None  # not ImageNet's
    assert tuple(model(images((40, 56, 3))).shape) == (2, 10)


def test_imagenet_needs_v1_resnet():
    with pytest.raises(ValueError) as info:
        zoo.create_model("resnet50", weights="imagenet", stride_in_1x1=False)
    message = str(info.value)
    assert "stride_in_1x1" in message and "stride_in_1x1=False" in message, message
    assert "v1" in message and "resnet50" in message, message


@pytest.mark.parametrize("name", ["resnet18", "resnet20", "text_rnn"])
def test_imagenet_for_a_model_without_it(name):
    with pytest.raises(ValueError) as info:
        zoo.create_model(name, weights="imagenet")
    message = str(info.value)
    assert repr(name) in message and "weights='imagenet'" in message, message
    imagenet = [n for n in zoo.list_models(pretrained=True)
                if "imagenet" in zoo.model_info(n).weights]
    assert {"mobilenet_v2", "resnet50"} <= set(imagenet) and "resnet18" not in imagenet
    assert str(imagenet) in message, message


@pytest.mark.parametrize("kind", ["another-model", "random-bytes"])
def test_a_resnet_file_that_is_not_the_weights(cache, kind):
    # A ResNet file has a published md5: a file that differs is refused,
    # naming it, both md5s and the URL, and is left where it is.
    name = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    if kind == "another-model":
        place(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), cache / name)
    else:
        cache.mkdir(parents=True)
        (cache / name).write_bytes(np.random.default_rng(0).bytes(4096))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError) as info:
            zoo.create_model("resnet50", weights="imagenet", include_top=False,
                             input_shape=(32, 32, 3))
    message = str(info.value)
    md5 = hashlib.md5((cache / name).read_bytes()).hexdigest()
    for fragment in (str(cache / name), "Delete or replace", md5, RESNET_URL + name,
                     "4d473c1dd8becc155b73f8504c6f6626"):
        assert fragment in message, (fragment, message)
    assert (cache / name).exists()  # a file placed by hand is never deleted


@pytest.mark.slow
def test_a_published_resnet_file_with_nan_weights(cache, monkeypatch):
    # The md5 says which file it is, not that its values make a model.
    name = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    reference = keras.applications.ResNet50(weights=None, include_top=False,
                                            input_shape=(32, 32, 3))
    place(reference, cache / name)
    with h5py.File(cache / name, "r+") as file:
        file["model_weights/conv3_block2_2_bn/conv3_block2_2_bn/moving_variance"][5] = -1.0
    publish(monkeypatch, 50, cache / name, top=False)
    with pytest.raises(ValueError) as info:
        zoo.create_model("resnet50", weights="imagenet", include_top=False,
                         input_shape=(32, 32, 3))
    message = str(info.value)
    assert "'conv3_block2_2_bn/moving_variance'" in message and "negative" in message, message


def test_imagenet_needs_rgb(cache):
    with pytest.raises(ValueError) as info:
        zoo.create_model("mobilenet_v2", alpha=0.35, weights="imagenet",
                         input_shape=(32, 32, 1))
    assert "input_shape=(32, 32, 1)" in str(info.value) and "3 channels" in str(info.value)


@pytest.mark.parametrize("top", [True, False], ids=["top", "no_top"])
def test_mobilenet_v2_imagenet(cache, offline, top):
    # alpha 0.35 at 96x96: the file keras.applications picks for that size.
    name = ("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96"
            f"{'' if top else '_no_top'}.h5")
    kwargs = {"alpha": 0.35, "input_shape": (96, 96, 3)}
    with pytest.raises(OSError) as info:
        zoo.create_model("mobilenet_v2", weights="imagenet", include_top=top, **kwargs)
    assert MOBILENET_URL + name in str(info.value) and str(cache / name) in str(info.value)

    reference = helpers.randomize_reference(keras.applications.MobileNetV2(
        weights=None, include_top=top, classifier_activation=None, **kwargs))
    place(reference, cache / name)
    # The file fits, but no published hash can say it is ImageNet's: it loads
    # with a warning naming it and its sha256, on every load.
    x = images((96, 96, 3))
    for _ in range(2):
        with pytest.warns(convert.UnverifiedWeightsWarning) as caught:
            model = zoo.create_model("mobilenet_v2", weights="imagenet", include_top=top,
                                     **kwargs)
        assert_unverified(caught, cache / name)
        helpers.assert_close(model(x), reference(x))
        assert model.class_names == (zoo.models.imagenet_class_names() if top else None)
    if top:  # the user's names win over ImageNet's
        mine = [f"class {i}" for i in range(1000)]
        with pytest.warns(convert.UnverifiedWeightsWarning):
            model = zoo.create_model("mobilenet_v2", weights="imagenet", class_names=mine,
                                     **kwargs)
        assert model.class_names == mine
    assert len(offline) == 1


def assert_unverified(caught, path):
    """The one unverified-file warning of `caught` names `path` and its sha256."""
    messages = [str(w.message) for w in caught
                if issubclass(w.category, convert.UnverifiedWeightsWarning)]
    assert len(messages) == 1, messages
    message = messages[0]
    assert str(path) in message and "no published hash" in message, message
    assert hashlib.sha256(path.read_bytes()).hexdigest() in message, message


def rename_layers(path, names):
    """Renames layers of the `.h5` file `path` (`names`: old -> new), as Keras'
    order-based loader ignores them."""
    with h5py.File(path, "r+") as file:
        group = file["model_weights"]
        layers = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["layer_names"]]
        for old, new in names.items():
            group.move(old, new)
        group.attrs["layer_names"] = [names.get(n, n).encode() for n in layers]


def test_mobilenet_v2_imagenet_file_with_its_published_layer_names(cache):
    # The published files were written by an earlier version of the model,
    # whose layers had other names (keras-team/keras#10047,
    # JonathanCMitchell/mobilenet_v2_keras#8): the structure check must not
    # compare names, or it would refuse the real file.
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96.h5"
    kwargs = {"alpha": 0.35, "input_shape": (96, 96, 3)}
    reference = helpers.randomize_reference(keras.applications.MobileNetV2(
        weights=None, classifier_activation=None, **kwargs))
    rename_layers(place(reference, cache / name), {
        "block_1_expand": "mobl1_conv_1_expand", "block_1_expand_BN": "bn1_conv_1_bn_expand",
        "predictions": "Logits"})
    with pytest.warns(convert.UnverifiedWeightsWarning) as caught:
        model = zoo.create_model("mobilenet_v2", weights="imagenet", **kwargs)
    assert_unverified(caught, cache / name)
    x = images((96, 96, 3))
    helpers.assert_close(model(x), reference(x))


# -- weights="....safetensors" / ".npz" (timm / torchvision state dicts) --------

SPECS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)),
         50: ("bottleneck", (3, 4, 6, 3))}


def timm_state_dict(depth, num_classes=1000, seed=0):
    """Random weights under timm's (and torchvision's) ResNet names, in their shapes.

    Written from torchvision's `resnet.py` layout, not from the zoo's
    mapping: `conv1`/`bn1`, `layer<s>.<i>.conv<n>`/`.bn<n>`, `downsample.0/1`
    on the first block of a stage that changes shape, `fc`; BatchNorm with
    random statistics and a `num_batches_tracked` counter.
    """
    rng = np.random.default_rng(seed)
    block, blocks = SPECS[depth]
    tensors = {}

    def conv(name, out_channels, in_channels, size):
        fan_in = in_channels * size * size
        tensors[f"{name}.weight"] = (rng.standard_normal((out_channels, in_channels, size, size))
                                     * np.sqrt(2 / fan_in)).astype("float32")

    def bn(name, channels):
        tensors[f"{name}.weight"] = rng.uniform(0.5, 1.5, channels).astype("float32")
        tensors[f"{name}.bias"] = rng.normal(0, 0.2, channels).astype("float32")
        tensors[f"{name}.running_mean"] = rng.normal(0, 0.2, channels).astype("float32")
        tensors[f"{name}.running_var"] = rng.uniform(0.5, 2.0, channels).astype("float32")
        tensors[f"{name}.num_batches_tracked"] = np.array(100, dtype="int64")

    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    channels = 64
    for stage, (count, width) in enumerate(zip(blocks, (64, 128, 256, 512)), 1):
        out = width * 4 if block == "bottleneck" else width
        for index in range(count):
            prefix = f"layer{stage}.{index}"
            if block == "bottleneck":
                units = [(width, channels, 1), (width, width, 3), (out, width, 1)]
            else:
                units = [(width, channels, 3), (width, width, 3)]
            for number, (o, i, k) in enumerate(units, 1):
                conv(f"{prefix}.conv{number}", o, i, k)
                bn(f"{prefix}.bn{number}", o)
            if index == 0 and (stage > 1 or channels != out):
                conv(f"{prefix}.downsample.0", out, channels, 1)
                bn(f"{prefix}.downsample.1", out)
            channels = out
    tensors["fc.weight"] = (rng.standard_normal((num_classes, channels)) * 0.05).astype("float32")
    tensors["fc.bias"] = rng.normal(0, 0.1, num_classes).astype("float32")
    return tensors


def save_safetensors(tensors, path):
    from safetensors.numpy import save_file

    save_file(tensors, str(path))
    return path


def keras_hub_classifier(tensors, depth, directory):
    """keras-hub's ResNet, loaded by its timm converter from a local timm checkpoint.

    keras-hub reads a folder with timm's `config.json` (its "architecture"
    field selects the converter) and `model.safetensors`, with no network.
    """
    import keras_hub

    directory.mkdir()
    save_safetensors(tensors, directory / "model.safetensors")
    (directory / "config.json").write_text(json.dumps({
        "architecture": f"resnet{depth}", "num_classes": int(tensors["fc.weight"].shape[0]),
        "num_features": int(tensors["fc.weight"].shape[1])}))
    return keras_hub.models.ResNetImageClassifier.from_preset(str(directory))


@pytest.mark.parametrize("depth", [18, pytest.param(50, marks=pytest.mark.slow)])
def test_state_dict_matches_keras_hub_timm_converter(tmp_path, depth):
    tensors = timm_state_dict(depth, num_classes=1000)
    reference = keras_hub_classifier(tensors, depth, tmp_path / "preset")
    path = save_safetensors(tensors, tmp_path / "model.safetensors")
    model = zoo.create_model(f"resnet{depth}", weights=path, input_shape=(64, 64, 3))
    assert model.stride_in_1x1 is False and model.bn_epsilon == 1e-5
    x = images((64, 64, 3))
    helpers.assert_close(model(x), reference(x))
    # Feature maps too: keras-hub's backbone against the zoo without its top.
    body = zoo.create_model(f"resnet{depth}", weights=str(path), include_top=False,
                            input_shape=(64, 64, 3))
    helpers.assert_close(body(x), reference.backbone(x))


def test_npz_and_safetensors_give_the_same_model(tmp_path):
    tensors = timm_state_dict(18, num_classes=10)
    np.savez(tmp_path / "resnet18.npz", **tensors)
    save_safetensors(tensors, tmp_path / "resnet18.safetensors")
    a = zoo.create_model("resnet18", weights=tmp_path / "resnet18.npz", input_shape=(32, 32, 3))
    b = zoo.create_model("resnet18", weights=tmp_path / "resnet18.safetensors",
                         input_shape=(32, 32, 3))
    assert a.num_classes == b.num_classes == 10  # the file's own head
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.classifier.kernel.numpy(), tensors["fc.weight"].T)
    np.testing.assert_array_equal(a.classifier.bias.numpy(), tensors["fc.bias"])


def test_state_dict_with_another_num_classes_gets_a_new_head(tmp_path):
    tensors = timm_state_dict(18)
    path = save_safetensors(tensors, tmp_path / "model.safetensors")
    model = zoo.create_model("resnet18", weights=path, num_classes=7, input_shape=(32, 32, 3))
    assert tuple(model.classifier.kernel.shape) == (512, 7)
    np.testing.assert_array_equal(model.stem[0].conv.kernel.numpy(),
                                  tensors["conv1.weight"].transpose(2, 3, 1, 0))
    body = zoo.create_model("resnet18", weights=path, include_top=False, input_shape=(32, 32, 3))
    np.testing.assert_array_equal(body.blocks[-1].branch[-1].bn.moving_variance.numpy(),
                                  tensors["layer4.1.bn2.running_var"])


def _file_error(tmp_path, tensors, name="resnet18", **kwargs):
    path = save_safetensors(tensors, tmp_path / "bad.safetensors")
    with pytest.raises(ValueError) as info:
        zoo.create_model(name, weights=path, input_shape=(32, 32, 3), **kwargs)
    message = str(info.value)
    assert str(path) in message, message
    return message


def test_state_dict_of_another_architecture(tmp_path):
    # resnet18's weights into resnet34: its layer1 has a third block.
    message = _file_error(tmp_path, timm_state_dict(18), "resnet34")
    assert "'layer1.2.conv1.weight'" in message and "resnet34" in message, message


@pytest.mark.slow
def test_basic_block_weights_into_a_bottleneck_resnet(tmp_path):
    message = _file_error(tmp_path, timm_state_dict(18), "resnet50")
    assert "'layer1.0.conv1.weight'" in message, message
    assert "(64, 64, 3, 3)" in message and "(64, 64, 1, 1)" in message, message


def test_state_dict_missing_extra_or_misshapen_tensor(tmp_path):
    tensors = timm_state_dict(18)
    del tensors["layer2.0.bn1.running_var"]
    message = _file_error(tmp_path, tensors)
    assert "no tensor 'layer2.0.bn1.running_var'" in message, message

    tensors = timm_state_dict(18)
    tensors["layer4.1.se.fc1.weight"] = np.zeros((32, 512, 1, 1), "float32")
    message = _file_error(tmp_path, tensors)
    assert "'layer4.1.se.fc1.weight'" in message and "no place" in message, message

    tensors = timm_state_dict(18)
    tensors["layer3.1.bn2.weight"] = np.ones(255, "float32")
    message = _file_error(tmp_path, tensors)
    assert "'layer3.1.bn2.weight'" in message and "(255,)" in message, message

    # A head of the right classes on the wrong features, explicitly asked for.
    tensors = timm_state_dict(18)
    tensors["fc.weight"] = np.zeros((1000, 2048), "float32")
    message = _file_error(tmp_path, tensors, num_classes=1000)
    assert "'fc.weight'" in message and "(1000, 2048)" in message, message


def test_state_dict_is_resnet_v1_5(tmp_path):
    path = save_safetensors(timm_state_dict(18), tmp_path / "model.safetensors")
    with pytest.raises(ValueError) as info:
        zoo.create_model("resnet50", weights=path, stride_in_1x1=True)
    assert "stride_in_1x1=True" in str(info.value) and "v1.5" in str(info.value)


def test_state_dict_for_a_model_without_it(tmp_path):
    path = save_safetensors(timm_state_dict(18), tmp_path / "model.safetensors")
    with pytest.raises(ValueError) as info:
        zoo.create_model("mobilenet_v2", weights=path)
    message = str(info.value)
    assert "'mobilenet_v2'" in message and str(path) in message, message
    state_dicts = [n for n in zoo.list_models(pretrained=True)
                   if "state_dict" in zoo.model_info(n).weights]
    assert {"resnet18", "resnet50"} <= set(state_dicts) and "mobilenet_v2" not in state_dicts
    assert str(state_dicts) in message, message


def test_safetensors_is_optional(tmp_path, monkeypatch):
    path = save_safetensors(timm_state_dict(18), tmp_path / "model.safetensors")
    monkeypatch.setitem(__import__("sys").modules, "safetensors", None)
    monkeypatch.setitem(__import__("sys").modules, "safetensors.numpy", None)
    with pytest.raises(ImportError) as info:
        zoo.create_model("resnet18", weights=path)
    assert "pip install safetensors" in str(info.value), str(info.value)
    assert "zoo[weights]" in str(info.value), str(info.value)


@pytest.mark.slow  # a fresh interpreter imports TensorFlow: ~25 s on 2 busy cores
def test_no_weights_is_as_before():
    # weights=None (the default) imports no weights reader and opens no socket.
    out = helpers.run_in_fresh_process("""
        import socket, sys

        def no_network(*args, **kwargs):
            raise AssertionError("network used")

        socket.getaddrinfo = socket.create_connection = no_network
        import zoo
        model = zoo.create_model("resnet50", input_shape=(32, 32, 3))
        same = zoo.create_model("resnet50", weights=None, input_shape=(32, 32, 3))
        print(model.stride_in_1x1, same.stride_in_1x1, "safetensors" in sys.modules,
              "keras_hub" in sys.modules)
    """)
    assert out.split() == ["False", "False", "False", "False"], out


def test_features_only_backbone_loads_the_stages_it_has(tmp_path):
    # A features_only model has no head and no stage after the last one asked
    # for: the file's later stages and its fc are left out, not an error.
    tensors = timm_state_dict(18)
    path = save_safetensors(tensors, tmp_path / "model.safetensors")
    backbone = zoo.create_model("resnet18", weights=path, features_only=True,
                                out_stages=(1, 2), input_shape=(32, 32, 3))
    full = zoo.create_model("resnet18", weights=path, input_shape=(32, 32, 3))
    np.testing.assert_array_equal(backbone.blocks[-1].branch[0].conv.kernel.numpy(),
                                  tensors["layer2.1.conv1.weight"].transpose(2, 3, 1, 0))
    x = images((32, 32, 3))
    features = backbone(x)["stage2"]
    y = full.stem[0](keras.ops.convert_to_tensor(x))
    for layer in full.stem[1:] + full.blocks[:4]:  # stem, then stages 1 and 2
        y = layer(y)
    helpers.assert_close(features, y)


def test_the_contract_documents_pretrained_weights():
    from zoo.models.base import ZooModel

    for item in ("info", "variants", "weights"):
        assert f"`{item}`" in ZooModel.__doc__, item
    # The registered constructors keep their identity (registry keys, docs).
    constructor = zoo.registry.get_constructor("resnet50")
    assert constructor is zoo.resnet.resnet50
    assert (constructor.__name__, constructor.__module__, constructor.__qualname__) == \
        ("resnet50", "zoo.models.resnet", "resnet50")
    assert constructor.__doc__.startswith("ResNet-50")
    family = zoo.registry.model_family("resnet50")
    assert family.info["variants"]["resnet50"]["weights"].keys() == {"imagenet", "state_dict"}
