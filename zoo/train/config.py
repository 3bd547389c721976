"""`TrainConfig`: every option of a training run, defined once.

Each field is an option: default, kind (`Int`, `Float`, `Choice`, ...: its
check and its flag) and help; `python -m zoo.train` generates its flags from
them. Errors name options as the caller wrote them: `loop='keras'` from
Python, `--loop=keras` within `naming_flags()` (the CLI).

Example:
>>> TrainConfig(model_name="einsum_mlp", epochs=2).epochs
2
>>> TrainConfig(loop="keras")
Traceback (most recent call last):
...
ValueError: loop must be one of ['fit', 'custom'], received loop='keras'
>>> with naming_flags():
...     TrainConfig(checkpoint_steps=5)
Traceback (most recent call last):
...
ValueError: --checkpoint_steps=5 needs --loop=custom (Keras fit checkpoints at epoch ends only)
"""

import contextlib
import contextvars
import dataclasses
import json
import os

from absl import flags

from zoo import _validation
from zoo.export import formats as export_formats

LOOPS = ("fit", "custom")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "step", "warmup")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
JIT_SETTINGS = ("auto", "on", "off", "probe")
MIXED_PRECISION = ("none", "mixed_float16", "mixed_bfloat16")
# The log keys of a run (zoo.train compiles one metric), `val_` ones with validation.
TRAINING_METRICS = ("loss", "accuracy")

_AS_FLAGS = contextvars.ContextVar("zoo_train_options_as_flags", default=False)


@contextlib.contextmanager
def naming_flags():
    """Within it, messages name options as the CLI's flags (`--model=resnet51`)."""
    token = _AS_FLAGS.set(True)
    try:
        yield
    finally:
        _AS_FLAGS.reset(token)


def name(field):
    """An option as the caller names it: `--model` on the CLI, `model_name` in Python."""
    return "--" + _flag(field) if _AS_FLAGS.get() else field


def shown(field, value):
    """An option and its value as the caller writes them.

    Example:
    >>> shown("loop", "custom"), shown("validate", False)
    ("loop='custom'", 'validate=False')
    >>> with naming_flags():
    ...     shown("loop", "custom"), shown("validate", False), shown("export", ["a.h5", "b"])
    ('--loop=custom', '--novalidate', '--export=a.h5,b')
    """
    if not _AS_FLAGS.get():
        return f"{field}={value!r}"
    if isinstance(value, bool):
        return f"--{'' if value else 'no'}{_flag(field)}"
    if isinstance(value, (list, tuple)):
        value = ",".join(map(os.fspath, value))
    elif isinstance(value, dict):
        value = json.dumps(value)
    text = os.fspath(value) if isinstance(value, (str, os.PathLike)) else repr(value)
    return f"--{_flag(field)}={text or repr(text)}"


@contextlib.contextmanager
def about_option(field, value, errors=ValueError):
    """Within it, `errors` become a ValueError led by `shown(field, value)`."""
    try:
        yield
    except errors as error:
        raise ValueError(f"{shown(field, value)}: {error}") from None


def _flag(field):
    return TrainConfig.__dataclass_fields__[field].metadata["option"].flag or field


@dataclasses.dataclass(frozen=True)
class Kind:
    """An option's type: its `check`, its absl `flag()`, how a flag value reads.

    With `optional`, None passes; a subclass's `_check` sees the other values.
    """
    optional: bool = dataclasses.field(default=False, kw_only=True)
    define = staticmethod(flags.DEFINE_string)

    def check(self, field, value):
        if value is not None or not self.optional:
            self._check(field, value)

    def flag(self):
        return self.define, {}

    def from_flag(self, value):
        return value


@dataclasses.dataclass(frozen=True)
class Int(Kind):
    """An int >= `low` (1 or 0)."""
    low: int

    def _check(self, field, value):
        check = _validation.positive_int if self.low == 1 else _validation.non_negative_int
        check(name(field), value, optional=self.optional)

    def flag(self):
        return flags.DEFINE_integer, {"lower_bound": self.low}


@dataclasses.dataclass(frozen=True)
class Float(Kind):
    """A finite real number within bounds (`*_open`: the bound excluded)."""
    low: float
    high: float = None
    low_open: bool = False
    high_open: bool = False

    def _check(self, field, value):
        _validation.finite_float(name(field), value, self.low, self.high,
                                 low_open=self.low_open, high_open=self.high_open)

    def flag(self):
        # absl's bounds are closed; the check above refines them.
        return flags.DEFINE_float, {"lower_bound": self.low, "upper_bound": self.high}


@dataclasses.dataclass(frozen=True)
class Choice(Kind):
    """One of `choices`; the flag takes their `str`."""
    choices: tuple
    enum_flag: bool = True  # False: a string flag (absl's enum message hides '')

    def _check(self, field, value):
        _validation.one_of(name(field), value, self.choices)

    def flag(self):
        if not self.enum_flag:
            return super().flag()
        return flags.DEFINE_enum, {"enum_values": [str(c) for c in self.choices]}

    def from_flag(self, text):
        # `--verbose=2` is 2; a string no choice reads as stays, for the check to show.
        return {str(c): c for c in self.choices}.get(text, text)


@dataclasses.dataclass(frozen=True)
class Bool(Kind):
    """True or False (a real bool: "no" is not False)."""
    define = staticmethod(flags.DEFINE_bool)

    def _check(self, field, value):
        _validation.boolean(name(field), value)


@dataclasses.dataclass(frozen=True)
class Text(Kind):
    """A non-empty string (`what` it names)."""
    what: str

    def _check(self, field, value):
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name(field)} must be a non-empty {self.what}, "
                             f"received {name(field)}={value!r}")


@dataclasses.dataclass(frozen=True)
class Paths(Kind):
    """A list or tuple of non-empty paths (a lone string is refused: it is no list)."""
    define = staticmethod(flags.DEFINE_list)

    def _check(self, field, value):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name(field)} must be a list of paths, "
                             f"received {name(field)}={value!r}")
        for path in value:
            if not isinstance(path, (str, os.PathLike)) or not os.fspath(path).strip():
                raise ValueError(f"{name(field)} must be a list of non-empty paths, received "
                                 f"{shown(field, list(map(str, value)))} (an empty entry)")


@dataclasses.dataclass(frozen=True)
class JsonObject(Kind):
    """A dict with string keys; the flag takes it as a JSON object."""
    reserved: tuple = ()  # keys the run sets otherwise

    def _check(self, field, value):
        if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
            what = "a JSON object" if _AS_FLAGS.get() else "a dict with string keys"
            raise ValueError(f"{name(field)} must be {what}, received {name(field)}={value!r}")
        for key in self.reserved:
            if key in value:
                source = name(key) if key == "num_classes" else "the dataset and " + name(
                    "image_size")
                raise ValueError(f"{shown(field, value)} sets {key!r}, which the run sets from "
                                 f"{source}")

    def from_flag(self, text):
        # Text that is no JSON object stays text, for the check to show as received.
        try:
            return text if text is None else json.loads(text)
        except json.JSONDecodeError:
            return text


@dataclasses.dataclass(frozen=True)
class Option:
    """A field's `kind`, `help`, `flag` (None: the field's name), extra `check`."""
    kind: Kind
    help: str
    flag: str = None
    check: object = None


def _option(default, kind, help, flag=None, check=None):
    option = Option(kind, help, flag, check)
    return dataclasses.field(default=default, metadata={"option": option})


def options():
    """`(field name, default, Option)` of every `TrainConfig` field, in order."""
    return [(f.name, f.default, f.metadata["option"]) for f in dataclasses.fields(TrainConfig)]


def metrics_of_run(validate):
    """The metric names `monitor` may take for a run (`validate`: with val_*)."""
    return list(TRAINING_METRICS) + ([f"val_{m}" for m in TRAINING_METRICS] if validate else [])


def _registered(field, value):
    import zoo.data
    import zoo.registry

    lookup = zoo.registry.get_constructor if field == "model_name" else zoo.data.info
    with about_option(field, value):
        lookup(value)


def _writable_dir(field, path):
    """Fails unless the directory `path` can be made or filled."""
    existing = os.path.abspath(os.fspath(path))
    if os.path.exists(existing) and not os.path.isdir(existing):
        raise ValueError(f"{shown(field, path)} is a file, not a directory")
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{shown(field, path)} cannot be written: it lies under {existing}, "
                         "a regular file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{shown(field, path)} cannot be written: {existing} is not writable")


def _export_targets(field, paths):
    import zoo.export

    for path in paths:
        # Before training: zoo.export replaces only a model file of the same kind.
        with about_option(field, path, (TypeError, ValueError)):
            zoo.export.check_save_target(path, overwrite=True)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every option of `zoo.train.train()` and of `python -m zoo.train`'s flags.

    Options left None take the model family's recipe (`zoo.model_info`) or the
    dataset's (num_classes); each field's help is in `options()`.

    Raises:
        ValueError: naming the option and the value, for a bad value or combination.
    """

    model_name: str = _option("resnet20", Text("name"),
                              "Registered model name (see zoo.list_models()).",
                              flag="model", check=_registered)
    dataset: str = _option("digits", Text("name"), "Dataset name (see zoo.data.DATASETS).",
                           check=_registered)
    epochs: int = _option(None, Int(1, optional=True),
                          "Number of training epochs (default: the model's).")
    batch_size: int = _option(64, Int(1), "Examples per training step, over all replicas.")
    image_size: int = _option(32, Int(1), "Height and width images are resized to "
                              "(digits; MNIST and CIFAR have a fixed size).")
    optimizer: str = _option(None, Choice(OPTIMIZERS, optional=True),
                             "sgd: SGD with Nesterov momentum 0.9; adam; adamw: Adam with "
                             "decoupled weight decay (default: the model's).")
    learning_rate: float = _option(None, Float(0.0, low_open=True, optional=True),
                                   "Peak learning rate (default: the model's).")
    weight_decay: float = _option(None, Float(0.0, optional=True),
                                  "Decoupled weight decay, sgd and adamw (default: the model's).")
    lr_schedule: str = _option("cosine", Choice(SCHEDULES),
                               "constant; cosine: decay to 0; step: /10 at 50% and 75% of the "
                               "steps; warmup: linear warm-up over --warmup_epochs, then cosine.")
    warmup_epochs: float = _option(1.0, Float(0.0), "Warm-up length of --lr_schedule=warmup.")
    label_smoothing: float = _option(0.0, Float(0.0, 1.0, high_open=True),
                                     "Label smoothing of the cross-entropy, in [0, 1).")
    loop: str = _option("fit", Choice(LOOPS),
                        "fit: Keras fit; custom: explicit tf.GradientTape loop in a tf.function "
                        "(default: fit, custom for --strategy=multi_worker).")
    strategy: str = _option("default", Choice(STRATEGIES),
                            "default: one device; mirrored: all local GPUs (or --cpu_devices "
                            "logical CPUs); multi_worker: several hosts, each with its TF_CONFIG "
                            "(custom loop); tpu: the TPU named by --tpu.")
    tpu: str = _option("local", Text("name"), "TPU name or grpc:// address for --strategy=tpu "
                       "(local: this TPU VM).")
    jit_compile: str = _option("auto", Choice(JIT_SETTINGS),
                               "XLA: on, off, or auto (the path measured faster for this model "
                               "family and device: off on CPU).")
    mixed_precision: str = _option("none", Choice(MIXED_PRECISION),
                                   "Keras dtype policy; mixed_float16 adds dynamic loss scaling.")
    deterministic: bool = _option(False, Bool(), "TensorFlow op determinism: with --seed, a "
                                  "run (resumed or not) gives bit-identical weights.")
    seed: int = _option(0, Int(0), "Seed of weights, data split, shuffling and augmentation.")
    verbose: object = _option("auto", Choice(("auto", 0, 1, 2)),
                              "Progress: 1 = progress bar, 2 = one line per epoch, 0 = "
                              "silent; auto: 1 on a terminal, else 2.")
    export: tuple = _option((), Paths(), "Paths to save the trained model to, format from each "
                            f"suffix ({export_formats.describe()}); existing files are "
                            "replaced.", check=_export_targets)
    model_dir: str = _option(None, Text("name or path", optional=True),
                             "Checkpoints (tf.train.CheckpointManager, every epoch), TensorBoard "
                             "logs and best.keras go here; rerunning the same command resumes "
                             "from the latest checkpoint.", check=_writable_dir)
    keep_checkpoints: int = _option(3, Int(1), "How many checkpoints --model_dir keeps.")
    checkpoint_steps: int = _option(0, Int(0), "Also checkpoint every this many steps inside "
                                    "an epoch (--loop=custom; 0: epoch ends only).")
    validate: bool = _option(True, Bool(), "Evaluate on the test split after every epoch "
                             "(val_loss, val_accuracy).")
    early_stopping_patience: int = _option(0, Int(0), "Stop after this many epochs without "
                                           "improvement of --monitor (0: never).")
    monitor: str = _option("val_accuracy", Choice(tuple(metrics_of_run(True)), enum_flag=False),
                           "Metric of early stopping and best.keras.")
    save_best: bool = _option(True, Bool(), "Keep --model_dir/best.keras, the model at its "
                              "best --monitor.")
    histogram_freq: int = _option(0, Int(0), "Weight histograms in TensorBoard every this many "
                                  "epochs (0: none).")
    init_from: str = _option(None, Text("name or path", optional=True),
                             "Start from the weights of a saved model (.keras or zoo .h5) or of "
                             "a --model_dir's latest checkpoint; a classifier of another size "
                             "is a new head.")
    num_classes: int = _option(None, Int(1, optional=True),
                               "Classifier width (default: the dataset's classes); with "
                               "--init_from, another width than the source's is a new head.")
    model_args: dict = _option(None, JsonObject(("num_classes", "input_shape", "data_format"),
                                                optional=True),
                               "More constructor arguments of --model, as a JSON object, e.g. "
                               '\'{"drop_path_rate": 0.1}\' (see zoo.model_info(--model)).')
    freeze_upto: str = _option(None, Text("name or path", optional=True),
                               "Freeze the model up to and including this layer or stage (e.g. "
                               "stage3: the stem and stages 1-3) before training; see "
                               "zoo.finetune.freeze.")

    def __post_init__(self):
        def expand(value):  # `~` as a shell would: `--flag=~/x` reaches us unexpanded
            if isinstance(value, (str, os.PathLike)):
                return os.path.expanduser(os.fspath(value))
            return value

        for field in ("model_dir", "init_from"):
            object.__setattr__(self, field, expand(getattr(self, field)))
        if isinstance(self.export, (list, tuple)):  # the flag's list; a tuple keeps it frozen
            object.__setattr__(self, "export", tuple(map(expand, self.export)))
        for field, _, option in options():
            value = getattr(self, field)
            option.kind.check(field, value)
            if option.check is not None and value is not None:
                option.check(field, value)
        self._check_combinations()

    def _check_combinations(self):
        if self.strategy == "multi_worker" and self.loop == "fit":
            raise ValueError(
                f"{shown('strategy', 'multi_worker')} runs on {shown('loop', 'custom')}: Keras 3 "
                "fit fails under MultiWorkerMirroredStrategy (Attempt to convert a value "
                f"(PerReplica...)); received {shown('loop', 'fit')}")
        if self.jit_compile == "probe" and self.strategy != "default":
            raise ValueError(f"{shown('jit_compile', 'probe')} times single-device steps; with "
                             f"{shown('strategy', self.strategy)} use "
                             f"{shown('jit_compile', 'auto')}, on or off")
        if self.checkpoint_steps and self.loop != "custom":
            raise ValueError(f"{shown('checkpoint_steps', self.checkpoint_steps)} needs "
                             f"{shown('loop', 'custom')} (Keras fit checkpoints at epoch ends "
                             "only)")
        if self.checkpoint_steps and not self.model_dir:
            raise ValueError(f"{shown('checkpoint_steps', self.checkpoint_steps)} needs "
                             f"{name('model_dir')}")
        if self.optimizer == "adam" and self.weight_decay:
            raise ValueError(
                f"{shown('optimizer', 'adam')} takes no weight decay (use "
                f"{shown('optimizer', 'adamw')} for decoupled decay), received "
                f"{shown('weight_decay', self.weight_decay)}")
        monitored = self.early_stopping_patience or (self.save_best and self.model_dir)
        if self.monitor.startswith("val_") and not self.validate and monitored:
            raise ValueError(
                f"{shown('monitor', self.monitor)} needs validation; drop "
                f"{shown('validate', False)} or monitor a training metric: one of "
                f"{metrics_of_run(False)}")
