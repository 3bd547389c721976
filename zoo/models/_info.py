"""One record per registered model: what the zoo knows about it, as data.

`zoo.model_info(name)` returns a `ModelInfo`; `zoo.list_models(pattern,
pretrained=True)` filters on it. A family states its records as class
attributes (family-wide values) and a `variant_info` table (registered name
-> the fields that differ for that model, timm's `default_cfgs`); code that
trains, exports, tests or benchmarks a model reads the record, never the
family's code.

Example:
>>> import zoo
>>> info = zoo.model_info("resnet50")
>>> info.family, info.input_size, sorted(info.weights)
('ResNet', (224, 224, 3), ['imagenet', 'state_dict'])
>>> info.weights["imagenet"]["preprocessing"]["mode"]
'caffe'
"""

import copy
import dataclasses

from zoo.models import _pretrained

# What `weights=` sources preprocess with: the conventions of
# `keras.applications.imagenet_utils.preprocess_input` (`mode`), with their
# numbers, in [0, 255] pixel units.
PREPROCESSING = {
    # keras.applications' ResNet (v1) weights: BGR, ImageNet mean removed, no scaling.
    "caffe": {"mode": "caffe", "channel_order": "bgr", "mean": (103.939, 116.779, 123.68),
              "std": None, "resize": 256, "crop_fraction": 0.875,
              "interpolation": "bilinear"},
    # torchvision/timm: RGB, ImageNet mean and standard deviation.
    "torch": {"mode": "torch", "channel_order": "rgb", "mean": (123.675, 116.28, 103.53),
              "std": (58.395, 57.12, 57.375), "resize": 256, "crop_fraction": 0.875,
              "interpolation": "bilinear"},
    # keras.applications' MobileNets: RGB scaled to [-1, 1].
    "tf": {"mode": "tf", "channel_order": "rgb", "mean": (127.5, 127.5, 127.5),
           "std": (127.5, 127.5, 127.5), "resize": 256, "crop_fraction": 0.875,
           "interpolation": "bilinear"},
}


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the zoo records about one registered model.

    Attributes:
        name: the registered name.
        family: the family class's name.
        modality: `"image"` or `"text"`.
        input_size: the default input shape (image: height, width,
            channels), or None where the input has no fixed size (texts).
        weights: `weights=` source -> record: `origin` (URL or what to
            pass), `file_hash`, `trained_on`, `preprocessing` (a
            `PREPROCESSING` entry: what inputs the weights expect).
        recipe: the training defaults `python -m zoo.train` uses.
        xla: platform -> whether XLA trains faster (`preferred_jit_compile`).
        xla_source: the results file the `xla` entries come from.
        benchmarked: whether `python -m benchmarks` measures it by default.
        small: constructor keywords for a small, fast instance (tests).
    """

    name: str
    family: str
    modality: str
    input_size: tuple = None
    weights: dict = dataclasses.field(default_factory=dict)
    recipe: dict = dataclasses.field(default_factory=dict)
    xla: dict = dataclasses.field(default_factory=dict)
    xla_source: str = None
    benchmarked: bool = False
    small: dict = dataclasses.field(default_factory=dict)


def info_of(family, name):
    """The `ModelInfo` of registered model `name` of `family` (a ZooModel class).

    Each `weights` record joins what the family states (`variant_info`:
    `trained_on`, `preprocessing`) and what its converter knows of the
    file (`weight_sources(name)` of its zoo/convert module: `origin`,
    `file_name`, `file_hash`).
    """
    # Copies: a caller editing its record changes no other.
    row = copy.deepcopy(family.variant_info.get(name, {}))
    stated = row.pop("weights", {})
    sources = {}
    if family.pretrained_weights.get(name):
        sources = _pretrained.converter(family).weight_sources(name)
    row["weights"] = {kind: {**stated.get(kind, {}), **copy.deepcopy(sources.get(kind, {}))}
                      for kind in family.pretrained_weights.get(name, ())}
    xla = row.pop("xla", None)
    if xla is None:
        xla = family.xla_defaults if isinstance(family.xla_defaults, dict) else {}
    benchmarked = family.benchmark_models is None or name in family.benchmark_models
    return ModelInfo(
        name=name, family=family.__name__, modality=family.modality,
        recipe=dict(family.training_defaults), xla=dict(xla),
        xla_source=getattr(family, "xla_source", None), benchmarked=benchmarked,
        small=dict(family.small_overrides), **row)
