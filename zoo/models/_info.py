"""Metadata as data: one table per family, one record per model (`zoo.model_info`).

A family states its table as the class attribute `info`: values for every
model of the family, and `variants`, a row per registered model of what
differs for it. A subclass's table adds to its base class's, key by key.

Example:
>>> import zoo
>>> record = zoo.model_info("resnet50")
>>> record.recipe["optimizer"], sorted(record.weights), record.input_size
('sgd', ['imagenet', 'state_dict'], (224, 224, 3))
"""

import collections
import copy
import dataclasses
import functools
import pathlib

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
    # keras.applications' EfficientNet (inside its model): Rescaling(1/255),
    # Normalization(ImageNet mean, "variance" = std, tensorflow/tensorflow#49930),
    # Rescaling(1/sqrt(std)): torch's numbers. The paper's bicubic crop (B0's here).
    "efficientnet": {"mode": "torch", "channel_order": "rgb", "mean": (123.675, 116.28, 103.53),
                     "std": (58.395, 57.12, 57.375), "resize": 256, "crop_fraction": 0.875,
                     "interpolation": "bicubic"},
    # keras.applications' ConvNeXt (inside its model, include_preprocessing=True):
    # Normalization(255 * ImageNet mean, (255 * std) ** 2); the paper's bicubic crop.
    "convnext": {"mode": "torch", "channel_order": "rgb", "mean": (123.675, 116.28, 103.53),
                 "std": (58.395, 57.12, 57.375), "resize": 256, "crop_fraction": 0.875,
                 "interpolation": "bicubic"},
    # keras.applications' EfficientNetV2-S/M/L (inside its model): Rescaling(1/128, offset=-1),
    # [-1, 1) as "tf" but by 128, not 127.5 (V2-B0..B3 use "efficientnet"'s numbers).
    "efficientnet_v2": {"mode": "efficientnet_v2", "channel_order": "rgb",
                        "mean": (128.0, 128.0, 128.0), "std": (128.0, 128.0, 128.0),
                        "resize": 256, "crop_fraction": 0.875, "interpolation": "bicubic"},
}



def keras_imagenet(preprocessing, trained_on="ImageNet-1k"):
    """A model row's `weights` for keras.applications' ImageNet file (its converter adds
    the file's origin and hash).

    Example:
    >>> keras_imagenet(PREPROCESSING["tf"])["imagenet"]["trained_on"]
    'ImageNet-1k (keras.applications)'
    """
    return {"imagenet": {"trained_on": f"{trained_on} (keras.applications)",
                         "preprocessing": preprocessing}}


# keras.applications' ImageNet-1k classes, shipped with the package (no download).
IMAGENET_CLASSES_FILE = pathlib.Path(__file__).with_name("imagenet_classes.txt")


@functools.lru_cache(maxsize=1)
def imagenet_classes():
    """The 1,000 ImageNet-1k classes in the order of every published head: (WordNet
    synset, keras' name) pairs.

    Example:
    >>> classes = imagenet_classes()
    >>> len(classes), classes[0], classes[999]
    (1000, ('n01440764', 'tench'), ('n15075141', 'toilet_tissue'))
    """
    rows = [line.split(" ", 1) for line in IMAGENET_CLASSES_FILE.read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    return tuple((synset, name) for synset, name in rows)


def imagenet_class_names():
    """keras' ImageNet-1k class names in head order, as `class_names` takes them: the
    two names keras repeats ("crane": the bird and the machine; "maillot") carry their
    synset, as class names must be distinct.

    Example:
    >>> names = imagenet_class_names()
    >>> names[0], names[134], names[517]
    ('tench', 'crane (n02012849)', 'crane (n03126707)')
    """
    counts = collections.Counter(name for _, name in imagenet_classes())
    return [f"{name} ({synset})" if counts[name] > 1 else name
            for synset, name in imagenet_classes()]


# What a family's table holds, with the values of a family that states none.
DEFAULTS = {
    # The known-good training recipe (`zoo.train` fills the options left None).
    "recipe": {"optimizer": "adamw", "learning_rate": 1e-3, "weight_decay": 1e-4,
               "epochs": 10},
    # Platform -> whether XLA trains faster. Keras' own "auto" is on for every
    # model on a GPU host, where RNNs then lose cuDNN.
    "xla": {"cpu/onednn": False, "cpu/eigen": False, "gpu": True, "tpu": True},
    "xla_source": None,  # the results file the `xla` values come from
    "small": {"num_classes": 5},  # the keywords of a small instance (tests)
    # Test kind ("battery", "battery_jax", "export") -> the models whose test of
    # that kind takes over ~20 s on 2 cores (measured): slow in the suite.
    "slow_tests": {},
    "portable": {},  # ... of one that runs on every Keras backend
    "distributed": {},  # ... of one that trains on several replicas
    "benchmarked": None,  # the models benchmarks put forward; None: all
    # Registered name -> `input_size`, `xla`, `weights` (the `weights=` kinds
    # it loads -> `trained_on`, `preprocessing`; the converter adds the rest),
    # `reference` (the network it is provably equal to) and `params` (its
    # parameter count with the 1,000-class head: the reference's, less any
    # in-model preprocessing constants the zoo states as `preprocessing`).
    "variants": {},
}


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the zoo records about one registered model (see `DEFAULTS`)."""

    name: str
    family: str
    modality: str
    input_size: tuple = None
    reference: str = None
    params: int = None
    weights: dict = dataclasses.field(default_factory=dict)
    recipe: dict = dataclasses.field(default_factory=dict)
    xla: dict = dataclasses.field(default_factory=dict)
    xla_source: str = None
    benchmarked: bool = False
    small: dict = dataclasses.field(default_factory=dict)
    slow_tests: dict = dataclasses.field(default_factory=dict)
    portable: dict = dataclasses.field(default_factory=dict)
    distributed: dict = dataclasses.field(default_factory=dict)


def family_table(family):
    """`family`'s table: `DEFAULTS`, then each class's `info` from the base down (a copy)."""
    table = dict(DEFAULTS)
    for cls in reversed(family.__mro__):
        table.update(vars(cls).get("info", {}))
    return copy.deepcopy(table)


def weight_kinds(family, name):
    """The `weights=` kinds (`"imagenet"`, `"state_dict"`) model `name` loads."""
    return tuple(family_table(family)["variants"].get(name, {}).get("weights", ()))


def info_of(family, name, sources):
    """The `ModelInfo` of `name`: its family's table, its row, the converter's `sources`."""
    table = family_table(family)
    row = table.pop("variants").get(name, {})
    weights = row.pop("weights", {})
    benchmarked = table.pop("benchmarked")
    return ModelInfo(
        name=name, family=family.__name__, modality=family.modality,
        benchmarked=benchmarked is None or name in benchmarked,
        weights={kind: {**stated, **sources.get(kind, {})}
                 for kind, stated in weights.items()},
        **{**table, **row})
