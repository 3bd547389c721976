"""One record per registered model, as data (`zoo.model_info`, `zoo.list_models`)."""

import copy
import dataclasses

from zoo.models import _pretrained

# `keras.applications.imagenet_utils.preprocess_input` modes, in [0, 255] pixel units.
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

    `weights` maps each `weights=` source to `origin`, `file_hash`,
    `trained_on` and `preprocessing` (a `PREPROCESSING` entry); `xla` maps
    platform -> whether XLA trains faster; `small`, `portable` and
    `distributed` are the keywords of a small instance, of one that runs on
    every Keras backend, and of one that trains on several replicas.
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
    portable: dict = dataclasses.field(default_factory=dict)
    distributed: dict = dataclasses.field(default_factory=dict)


def info_of(family, name):
    """The `ModelInfo` of `name`: `variant_info` joined with the converter's sources."""
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
        small=dict(family.small_overrides), portable=dict(family.portable_overrides),
        distributed=dict(family.distributed_overrides), **row)
