"""The face every zoo model shares: a functional view and a real summary.

Keras prints `?` for the output shapes of a subclassed model, and even the
functional view of one (`keras.Model(inputs, model.call(inputs))`) keeps
custom `Layer` blocks closed: their inner layers are not nodes of the
functional graph. `ZooModel.summary()` instead traces `call` once,
symbolically, with every sublayer's `call` temporarily wrapped on the
instance, and prints what each one produced, nested blocks opened up.
"""

import contextlib
import functools
import math

import keras
import numpy as np

from zoo import ops, registry
from zoo import _validation
from zoo.models import _info, _pretrained

_MISSING = object()


def _count(variables):
    return sum(math.prod(v.shape) for v in variables)


def _format_shape(shape):
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return ", ".join(_format_shape(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _static_dim(dim):
    """A dimension as the summary prints it: an int, or None when unknown.

    TensorFlow traces unknown dimensions as None; JAX traces them as
    symbolic expressions (`dynamic_dimension`, or `floordiv(...)` after a
    strided layer), which have no int value. Either way the size is not
    known before the call, so both print as None, as Keras' own
    `compute_output_spec` reports them.
    """
    return int(dim) if isinstance(dim, (int, np.integer)) else None


def _is_empty_batch(inputs):
    """Whether `inputs` is a batch of 0 examples with a fully known shape.

    A symbolic `keras.Input` never is: it must flow through the layers to
    make a functional graph.
    """
    if keras.backend.is_keras_tensor(inputs):
        return False
    try:
        shape = tuple(inputs.shape)
    except (TypeError, ValueError):
        return False
    return bool(shape) and all(isinstance(d, (int, np.integer)) for d in shape) \
        and shape[0] == 0


def _weight_key(variable):
    # Paths start with the model's name, which a rebuilt twin shares by config.
    return variable.path.split("/", 1)[-1]


def _foldable_layers(model):
    """The sublayers, at any depth, that can fold a BatchNorm (`fold_batchnorm()`)."""
    return [layer for layer in model._flatten_layers(include_self=False, recursive=True)
            if callable(getattr(layer, "fold_batchnorm", None))]


def _shapes_of(outputs):
    """Static shapes of a (possibly nested) call result, with None kept."""
    leaves = keras.tree.flatten(outputs)
    shapes = [tuple(getattr(t, "shape", ())) for t in leaves]
    shapes = [tuple(_static_dim(d) for d in s) for s in shapes]
    return shapes[0] if len(shapes) == 1 else shapes


# Keras' probability losses by the names `compile` takes, with their
# from_logits twins' classes.
_PROBABILITY_LOSSES = {
    "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
    "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
    "binary_crossentropy": keras.losses.BinaryCrossentropy,
}
_PROBABILITY_LOSSES.update({
    alias: _PROBABILITY_LOSSES[name] for alias, name in (
        ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"),
        ("CategoricalCrossentropy", "categorical_crossentropy"),
        ("BinaryCrossentropy", "binary_crossentropy"))})


def _loss_for_outputs(model, loss):
    """`loss` fitted to what `model` returns (see `ZooModel.compile`)."""
    if isinstance(loss, str) or loss in (keras.losses.sparse_categorical_crossentropy,
                                         keras.losses.categorical_crossentropy,
                                         keras.losses.binary_crossentropy):
        key = loss if isinstance(loss, str) else loss.__name__
        if model.outputs_logits and key in _PROBABILITY_LOSSES:
            return _PROBABILITY_LOSSES[key](from_logits=True)
        return loss
    from_logits = getattr(loss, "from_logits", None)
    if not isinstance(from_logits, bool) or not (
            model.outputs_logits or getattr(model, "classifier_activation", None) == "softmax"):
        return loss
    if from_logits != model.outputs_logits:
        outputs = ("logits (classifier_activation=None)" if model.outputs_logits else
                   f"probabilities (classifier_activation="
                   f"{model.classifier_activation!r})")
        raise ValueError(
            f"loss={type(loss).__name__}(from_logits={from_logits}) does not fit "
            f"{model.name!r}, which returns {outputs}: pass "
            f"{type(loss).__name__}(from_logits={model.outputs_logits}), or the loss by "
            f"its name, which the zoo fits to the outputs")
    return loss


def _losses_for_outputs(model, args, kwargs):
    """`compile`'s arguments with the loss (positional or keyword) fitted."""
    args = list(args)
    if len(args) >= 2:
        loss, put = args[1], lambda value: args.__setitem__(1, value)
    elif "loss" in kwargs:
        loss, put = kwargs["loss"], lambda value: kwargs.__setitem__("loss", value)
    else:
        return tuple(args), kwargs
    if isinstance(loss, dict):
        put({key: _loss_for_outputs(model, value) for key, value in loss.items()})
    elif isinstance(loss, (list, tuple)):
        put(type(loss)(_loss_for_outputs(model, value) for value in loss))
    elif loss is not None:
        put(_loss_for_outputs(model, loss))
    return tuple(args), kwargs


class ZooModel(keras.Model):
    """Base class of every zoo model, and the family contract.

    A model family is one module in `zoo/models/` (found and imported by
    `zoo.models`, no list to edit). It defines a subclass of `ZooModel` and
    registers its public constructors with `@Family.register`; everything
    else in the zoo (registry, training, export, the test battery, the
    benchmarks) reads a family only through what is listed here, never
    through its names or private attributes.

    A family class implements:

    - `__init__`: checks every argument (through `zoo._validation`) before
      creating any layer; image families accept `num_classes`,
      `input_shape` and `data_format`, text families `num_classes`,
      `max_tokens` (vocabulary size) and `sequence_length` (tokens per
      text, or None): what `zoo.train` and the benchmarks pass.
    - `call(inputs, training=None)`, `get_config()` mirroring `__init__`.
    - `input_signature`: a `keras.InputSpec` of the natural input (batch
      None); `example_inputs()` derives random inputs from it (a family
      whose inputs are not random floats, e.g. texts, overrides it).

    It sets, as class attributes (data, read before any model is built
    through `zoo.registry.model_family(name)`):

    - `modality`: `"image"` or `"text"`: the datasets it trains on.
    - `small_overrides`: constructor keywords for a small, fast instance
      (tests, `--quick` runs); `portable_overrides`: the keywords that make
      it run on every Keras backend (e.g. token ids instead of strings);
      `distributed_overrides`: the keywords for training on more than one
      replica (e.g. synchronized BatchNorm).
    - `training_defaults`: the recipe `python -m zoo.train` uses for the
      options left open; `xla_defaults`: whether XLA is the faster train
      path, per platform, as `python -m benchmarks.xla` measured
      (benchmarks/results/xla_<device>.md; a test holds the CPU entries to
      the recorded results). Either may be a property when it depends on
      the instance.
    - `benchmark_models`: the registered names the benchmarks measure by
      default (None: all of the family's).
    - `gradient_free_weights`: `fnmatch` patterns of weight paths that get
      no gradient in training mode by construction (MobileNetV2's linear
      projection BN `beta`: only convolutions follow it, and the next
      BatchNorm subtracts the batch mean, constant shifts included); the
      test battery checks that their gradient is zero instead of requiring
      them to move [none].
    - `pretrained_weights`: registered name -> the kinds of pretrained
      weights its constructor loads with `weights=` (zoo/models/_pretrained.py):
      `"imagenet"` (`weights="imagenet"`, downloaded into Keras' cache) and
      `"state_dict"` (`weights="path/model.safetensors"` or `.npz`: a
      PyTorch state dict, e.g. timm's or torchvision's) [none: `weights`
      other than None is a ValueError listing the models that have them].
      The family's converter, a module of `zoo/convert/` (not of the
      family), loads them: its mapping tables by layer name, its
      `load_pretrained(model, weights)` and, where the weights need
      constructor keywords, `pretrained_overrides(name, weights,
      overrides)` (see `zoo.convert`).

    It may override these hooks (defaults in brackets):

    - `needs_adapt` / `adapt(data)`: whether the model must see training
      inputs before it trains (a text model learning its vocabulary), and
      how it does [False / nothing].
    - `token_twin(sequence_length, default_sequence_length)`: for formats
      without string ops (TFLite), the same weights in a model of integer
      inputs and the settings of the tokenizer to run before it [None: the
      model's inputs need no such step].
    - `check_inputs(inputs)`: extra checks of what the model is called on,
      after the shared ones (None, a lone string or list, a complex or
      wrong-kind dtype, a wrong rank, an empty non-batch dimension) against
      `input_signature`. Call `super().check_inputs(inputs)` (after any
      check whose message says more for the family's own inputs, as
      text_rnn's "expects string inputs ... build with input_mode='tokens'").
    - `check_savable()`: raise a `ValueError` when the model cannot be
      saved as it is (e.g. a text model without a vocabulary, whose file
      would not load). `zoo.export.save` calls it before writing anything,
      in every format, and so do `model.save(...)` / `save_weights(...)`;
      `keras.saving.save_model` reaches it through `save_own_variables`,
      after Keras has opened the file [never].
    - `summary_notes()`: lines `summary()` prints under the table, for what
      the shapes alone would leave unsaid (e.g. a channels_first ResNet
      computing in NHWC on a platform without NCHW convolutions) [none].

    It inherits `functional()`, `summary()`, `layer_table()`, `rebuilt()`,
    `folded()` and `preferred_jit_compile()`. A block that can fold its
    BatchNorm into a convolution for inference defines `fold_batchnorm()`
    (as `zoo.blocks.ConvBN` does); `folded()` and the SavedModel and TFLite
    exports find it by that method, not by the block's class. The base arguments (`name`, `dtype`,
    `trainable`) are checked here: `name` must be a non-empty string,
    `dtype` a float dtype or policy. A call on an empty batch (batch size
    0) returns an empty output of the right shape and dtype without running
    any layer: some backends' kernels fail on empty batches (TensorFlow's
    CPU LSTM, its oneDNN convolutions).

    A convolutional image family subclasses
    `zoo.models._image.ImageClassifier` (a `ZooModel`): it sets
    `input_shape_`, `data_format` and `compute_format`, lists its layers in
    `_layers_in_order()`, and gets `modality`, `input_signature`, the
    input checks, the layout transposes, `build`, `call` and the summary's
    layout note.

    A text family subclasses `zoo.models._text.TextClassifier` (a
    `ZooModel`), which implements the text side of this contract once:
    `TextVectorization` inside the model, the vocabulary (`adapt`), the
    string and token input modes, their checks, `token_twin`,
    `check_savable`, `input_signature` and `example_inputs`. The family
    builds what comes after the token ids (`self._tokens(inputs)`).

    A new family gets the rest with no other edit: it is listed by
    `zoo.list_models()`, built small and run through the whole battery by
    `tests/test_all_models.py` and `tests/export/test_every_model.py`,
    trained by `python -m zoo.train --model=...`, exported by
    `zoo.export.save`, and measured by `python -m benchmarks.*`
    (tests/test_family_contract.py drops a module in and checks each).
    """

    modality = "image"
    small_overrides = {"num_classes": 5}
    portable_overrides = {}
    distributed_overrides = {}
    benchmark_models = None
    gradient_free_weights = ()
    # A family's known-good recipe (overridden per family).
    training_defaults = {"optimizer": "adamw", "learning_rate": 1e-3,
                         "weight_decay": 1e-4, "epochs": 10}
    # Keras 3.15's own "auto" is off on CPU-only hosts and on for every
    # model on a GPU host (unless a layer cannot compile), recurrent models
    # included, which then lose the cuDNN kernel.
    xla_defaults = {"cpu/onednn": False, "cpu/eigen": False, "gpu": True, "tpu": True}
    needs_adapt = False
    pretrained_weights = {}
    # Registered name -> the fields of its `model_info` that differ from
    # the family's (zoo/models/_info.py).
    variant_info = {}
    xla_source = None

    @classmethod
    def model_info(cls, name):
        """The `zoo.models._info.ModelInfo` of registered model `name` of this family."""
        return _info.info_of(cls, name)

    @classmethod
    def register(cls, constructor):
        """Registers `constructor` (which builds a `cls`) as a model of this family.

        Used as a decorator in a family module (`@ResNet.register` over
        `def resnet50(**kwargs)`), it records the family with the name, so
        the contract can be read before any model is built.

        The registered function (also what the module's name holds, with
        the constructor's name and docstring) takes one more keyword,
        `weights` (default None): `"imagenet"` or the path of a
        `.safetensors` / `.npz` state dict, for the models listed in the
        family's `pretrained_weights` (zoo/models/_pretrained.py). The
        model is built from the other arguments (as the family's converter
        in zoo/convert/ completes them), then the converter loads the
        weights.

        Example:
        >>> import zoo
        >>> family = zoo.registry.model_family("resnet50")
        >>> family.__name__, family.modality
        ('ResNet', 'image')
        """
        @functools.wraps(constructor)  # name, module, qualname: registry keys
        def build(*args, weights=None, **overrides):
            if weights is None:
                return constructor(*args, **overrides)
            return _pretrained.build(cls, constructor.__name__,
                                     functools.partial(constructor, *args), weights, overrides)

        return registry.register_model(build, family=cls)

    def __init__(self, *args, class_names=None, preprocessing=None, **kwargs):
        _validation.layer_kwargs(kwargs)
        super().__init__(*args, **kwargs)
        self.class_names = class_names
        self.preprocessing = preprocessing

    @property
    def class_names(self):
        """list of str or None: the name of each output class, in logit order.

        Saved with the model (its config, so `.keras` and `.h5`; SavedModel
        and TFLite exports carry it as metadata), set by `zoo.train` from
        the dataset, and read by `zoo.predict` to name what it finds. A
        list shorter than `num_classes` names the first classes only.
        """
        return self._class_names

    @class_names.setter
    def class_names(self, value):
        self._class_names = _validation.class_names(
            value, getattr(self, "num_classes", None))

    @property
    def preprocessing(self):
        """dict or None: how raw inputs became what the model was trained on.

        For image models trained by `zoo.train`: `image_size`, `channels`,
        `interpolation`, `scale` and `offset` (`pixels * scale + offset`),
        `channel_order` (`zoo.data.images.preprocessing`); `zoo.predict`
        applies it to image files. Saved with the model, as `class_names`.
        """
        return self._preprocessing

    @preprocessing.setter
    def preprocessing(self, value):
        self._preprocessing = _validation.json_dict("preprocessing", value)

    def get_config(self):
        config = super().get_config()
        # Checked again here: a family sets num_classes after ZooModel.__init__.
        _validation.class_names(self.class_names, getattr(self, "num_classes", None))
        return {**config, "class_names": self.class_names, "preprocessing": self.preprocessing}

    @property
    def outputs_logits(self):
        """Whether the head returns logits (no final activation) rather than scores.

        A model without a head (`include_top=False`, `features_only=True`)
        returns neither: False.
        """
        if getattr(self, "features_only", False) or not getattr(self, "include_top", True):
            return False
        activation = getattr(self, "classifier_activation", None)
        return activation in (None, "linear") or (
            callable(activation) and getattr(activation, "__name__", "") == "linear")

    def __call__(self, *args, **kwargs):
        # Override: no Keras hook sees the inputs before Keras converts them.
        inputs = args[0] if args else kwargs.get("inputs", _MISSING)
        if inputs is not _MISSING:
            self.check_inputs(inputs)
            if _is_empty_batch(inputs):
                # Traced with an unknown batch (a symbolic batch of 0 trips
                # some layers' shape inference) and the signature's dtype
                # (texts arrive as NumPy object arrays, which have none).
                spec = self.compute_output_spec(keras.KerasTensor(
                    (None,) + tuple(inputs.shape)[1:], dtype=self.input_signature.dtype))
                # One empty output per output (a features_only model returns a dict).
                return keras.tree.map_structure(
                    lambda out: keras.ops.zeros((0,) + tuple(out.shape)[1:], dtype=out.dtype),
                    spec)
        return super().__call__(*args, **kwargs)

    def check_inputs(self, inputs):
        """Raises a TypeError/ValueError naming `inputs` when the model cannot take them.

        Args:
            inputs: what the model is called on.
        """
        _validation.model_inputs(self.name, inputs, self.input_signature)

    def check_savable(self):
        """Raises a ValueError when the model cannot be saved as it is (default: never)."""

    def summary_notes(self):
        """Lines printed under the summary table (default: none)."""
        return []

    def adapt(self, data, batch_size=None, steps=None):
        """Learns what the model must know of its inputs before training (default: nothing)."""

    def token_twin(self, sequence_length=None, default_sequence_length=None):
        """For formats without string ops: `(twin, tokenizer)`, or None (default).

        Args:
            sequence_length: int or None. Tokens per example in the twin.
            default_sequence_length: int or None. What the twin takes when
                neither `sequence_length` nor the model fixes it.

        Returns:
            None when the model's inputs need no tokenizer; otherwise the
            same weights in a model of int token ids (`rebuilt`) and a dict
            of the `keras.layers.TextVectorization` settings that turn texts
            into those ids (`vocabulary`, `standardize`, `split`, `ngrams`,
            `max_tokens`, `sequence_length`).
        """
        return None

    def rebuilt(self, **changes):
        """This model rebuilt from its config with `changes`, weights copied over.

        Raises:
            ValueError: if the changes alter the weights' names or shapes.

        Example:
        >>> import zoo
        >>> model = zoo.create_model("einsum_mlp", num_classes=3, input_shape=(4,))
        >>> twin = model.rebuilt(dropout=0.0)
        >>> [w.shape for w in twin.weights] == [w.shape for w in model.weights]
        True
        """
        twin = type(self).from_config({**self.get_config(), **changes})
        if not twin.built:
            spec = twin.input_signature
            twin.build((None,) + tuple(spec.shape[1:]))
        ours, theirs = [_weight_key(w) for w in self.weights], [_weight_key(w) for w in twin.weights]
        if ours != theirs or [tuple(w.shape) for w in self.weights] != \
                [tuple(w.shape) for w in twin.weights]:
            raise ValueError(
                f"Cannot rebuild {self.name!r} with {changes}: the weights differ "
                f"({ours} vs {theirs})")
        twin.set_weights(self.get_weights())
        return twin

    def folded(self):
        """A copy of this model for inference, each BatchNorm folded into its convolution.

        Every sublayer (at any depth) with a `fold_batchnorm()` method, such
        as `zoo.blocks.ConvBN`, folds it in a copy (`rebuilt()`): its kernel
        scaled and a bias added instead of the BatchNorm, the same inference
        outputs up to float rounding. This model is left untouched. The copy
        is for inference only: calling it with `training=True` raises a
        `ValueError`. `zoo.export.save` exports this copy for SavedModel and
        TFLite unless `fold_batchnorm=False`.

        Returns:
            The folded copy; `self` when no sublayer folds (nothing would
            change, e.g. a text model).

        Example:
        >>> import numpy as np, zoo
        >>> model = zoo.create_model("resnet20", num_classes=3, input_shape=(16, 16, 1))
        >>> inference = model.folded()
        >>> x = model.example_inputs(batch_size=2)
        >>> bool(np.allclose(inference(x), model(x, training=False), rtol=1e-5, atol=1e-5))
        True
        >>> mlp = zoo.create_model("einsum_mlp", input_shape=(4,))
        >>> mlp.folded() is mlp  # no BatchNorm to fold: no copy
        True
        """
        if not _foldable_layers(self):
            return self
        twin = self.rebuilt()
        for layer in _foldable_layers(twin):
            layer.fold_batchnorm()
        return twin

    # Override: Keras opens the file before any hook runs (`.h5` runs none).
    def save(self, filepath, *args, **kwargs):
        """`keras.Model.save`, refused before any file is opened when
        `check_savable()` says the model cannot be saved."""
        self.check_savable()
        return super().save(filepath, *args, **kwargs)

    # Override: as `save`, Keras opens the file before `save_own_variables` runs.
    def save_weights(self, filepath, *args, **kwargs):
        """`keras.Model.save_weights`, refused as `save` is."""
        self.check_savable()
        return super().save_weights(filepath, *args, **kwargs)

    def save_own_variables(self, store):
        # Keras' hook, called on every `.keras` / `.weights.h5` save whatever
        # the entry point (`keras.saving.save_model` too) before it writes
        # this model's variables (after it opened the file).
        self.check_savable()
        super().save_own_variables(store)

    def preferred_jit_compile(self, platform=None):
        """The `jit_compile` that `compile(jit_compile="auto")` uses.

        Args:
            platform: a key of `xla_defaults`: `"cpu/onednn"`, `"cpu/eigen"`,
                `"gpu"` or `"tpu"`; `"cpu"` means the CPU with the kernels
                this process runs. None means where this process runs
                (`zoo.ops.tensorflow_platform()`).

        Returns:
            On TensorFlow, a bool from the family's `xla_defaults` (False
            for an unknown platform). On other backends `"auto"`: Keras' own
            default (XLA on JAX), since the zoo's figures are TensorFlow's.

        Example:
        >>> import zoo
        >>> zoo.create_model("resnet20", num_classes=10).preferred_jit_compile("cpu/onednn")
        False
        """
        if platform is None:
            platform = ops.tensorflow_platform()
            if platform is None:
                return "auto"
        elif platform == "cpu":
            platform = "cpu/onednn" if ops.onednn_enabled() else "cpu/eigen"
        return bool(self.xla_defaults.get(platform, False))

    def compile(self, *args, jit_compile="auto", **kwargs):
        """`keras.Model.compile`, with logits-aware losses and `jit_compile="auto"`.

        Zoo classifiers return logits (`classifier_activation=None`, the
        default). Keras' string losses `"sparse_categorical_crossentropy"`,
        `"categorical_crossentropy"` and `"binary_crossentropy"` expect
        probabilities, and on logits they train silently badly; on a model
        that returns logits they are compiled as their `from_logits=True`
        loss objects. A loss object whose `from_logits` disagrees with the
        model's outputs (`from_logits=False` on logits, True on softmax
        scores) is refused with a `ValueError` that says which to pass.

        Keras resolves "auto" by host (XLA on any GPU host, off on CPU-only
        ones); on TensorFlow zoo models resolve it to the path measured
        faster for the family on this device and kernel library
        (`preferred_jit_compile`). An explicit True or False is passed on
        unchanged. The compile config keeps "auto", so a saved model
        resolves it again on the backend and machine it is loaded on.
        """
        # Override: no Keras hook sees the loss before Keras builds `CompileLoss` of it.
        if "loss" in kwargs or args:
            args, kwargs = _losses_for_outputs(self, args, kwargs)
        self._jit_compile_auto = jit_compile == "auto"
        if self._jit_compile_auto:
            jit_compile = False if kwargs.get("run_eagerly") else self.preferred_jit_compile()
        super().compile(*args, jit_compile=jit_compile, **kwargs)

    def get_compile_config(self):
        # Keras' hook for a custom `compile`: the config keeps "auto" as asked.
        config = super().get_compile_config()
        if config and getattr(self, "_jit_compile_auto", False):
            config["jit_compile"] = "auto"
        return config

    def compile_from_config(self, config):
        """Recompiles a loaded model as it was saved (optimizer, loss, metrics)."""
        # Override: Keras' own skips every model whose `compile()` is overridden.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            # Keras builds the optimizer here too, so that loading the
            # optimizer's saved variables finds them.
            self.optimizer.build(self.trainable_variables)

    def predict(self, x, *args, **kwargs):
        """`keras.Model.predict`, leaving the model usable when it raises.

        On JAX, Keras (3.15.1 still) detaches the variables' values for the
        duration of `predict` (to save memory) and reattaches them at the
        end; an error in between, such as a wrong input shape found while
        tracing, leaves every variable empty and the model failing at its
        next call with "'NoneType' object is not callable". (`fit` and
        `evaluate` trace before they detach.) Here the values are put back
        before the error goes on; predicting changes no weights.
        """
        # Override: no hook runs when Keras' JAX `predict` raises.
        values = ([variable.value for variable in self.variables]
                  if keras.backend.backend() == "jax" else None)
        try:
            return super().predict(x, *args, **kwargs)
        except BaseException:
            if values is not None:
                for variable, value in zip(self.variables, values):
                    variable.assign(value)
            raise

    @property
    def input_signature(self):
        """`keras.InputSpec` of the model's natural input (batch dim None)."""
        raise NotImplementedError(f"{type(self).__name__} must define input_signature")

    def example_inputs(self, batch_size=2, seed=0, unknown_dim=32):
        """Random inputs matching `input_signature`, for tests and benchmarks.

        Args:
            batch_size: int >= 0. Leading dimension; 0 gives an empty batch,
                which the model answers with an empty output.
            seed: int >= 0. NumPy seed, so two calls give identical arrays.
            unknown_dim: int >= 1. Size used for dimensions the signature
                leaves as `None` (e.g. image height and width).

        Returns:
            A NumPy array.

        Raises:
            TypeError, ValueError: for a bad argument (named in the message).
        """
        self._check_example_args(batch_size, seed, unknown_dim)
        spec = self.input_signature
        shape = (batch_size,) + tuple(unknown_dim if d is None else d for d in spec.shape[1:])
        rng = np.random.default_rng(seed)
        return rng.standard_normal(shape).astype(spec.dtype or "float32")

    @staticmethod
    def _check_example_args(batch_size, seed, unknown_dim):
        """The checks of `example_inputs`, shared with the families' overrides."""
        _validation.non_negative_int("batch_size", batch_size)
        _validation.non_negative_int("seed", seed)
        _validation.positive_int("unknown_dim", unknown_dim)

    def _predictions_layer(self, classifier_activation):
        """The head's final activation, named "predictions".

        Under mixed precision it runs in float32, as the Keras mixed-precision
        guide recommends (softmax and the loss are unstable in float16), so
        outputs are float32; otherwise it keeps the model's dtype policy.
        """
        policy = self.dtype_policy
        mixed = policy.compute_dtype != policy.variable_dtype
        return keras.layers.Activation(
            classifier_activation or "linear", name="predictions",
            dtype=policy.variable_dtype if mixed else policy)

    def functional(self):
        """A functional `keras.Model` over the same layers and weights.

        Useful for `plot_model`, for formats that need a static graph, and for
        anything that expects `model.layers` to be graph nodes. Training the
        view trains this model: the variables are shared.
        """
        spec = self.input_signature
        inputs = keras.Input(shape=spec.shape[1:], dtype=spec.dtype, name=spec.name)
        return keras.Model(inputs, self.call(inputs), name=f"{self.name}_functional")

    def summary(
        self,
        line_length=None,
        print_fn=None,
        expand_nested=True,
        show_trainable=False,
    ):
        """Prints every layer with its output shape and parameter count.

        Unlike `keras.Model.summary` on a subclassed model, shapes are real
        (traced from `input_signature`) and blocks are opened up.

        Args:
            line_length: int or None. Total width (default 100).
            print_fn: callable or None. Called with each line (default `print`).
            expand_nested: bool. Show the layers inside blocks, indented.
            show_trainable: bool. Add a column telling whether each layer is
                trainable.
        """
        print_fn = print_fn or print
        rows = self.layer_table()
        if not expand_nested:
            rows = [r for r in rows if r["depth"] == 0]
        width = line_length or 100
        name_w = max(40, int(width * 0.45))
        shape_w = max(20, width - name_w - 14 - (10 if show_trainable else 0))
        header = f"{'Layer (type)':<{name_w}}{'Output Shape':<{shape_w}}{'Param #':>14}"
        if show_trainable:
            header += f"{'Trainable':>10}"
        rule = "=" * len(header)
        lines = [f'Model: "{self.name}" ({type(self).__name__})', rule, header, rule]
        for row in rows:
            label = "  " * row["depth"] + f"{row['name']} ({row['type']})"
            line = f"{label:<{name_w}}{_format_shape(row['shape']):<{shape_w}}{row['params']:>14,}"
            if show_trainable:
                line += f"{'Y' if row['trainable'] else 'N':>10}"
            lines.append(line)
        trainable = _count(self.trainable_weights)
        non_trainable = _count(self.non_trainable_weights)
        lines += [
            rule,
            f"Total params: {trainable + non_trainable:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {non_trainable:,}",
            *self.summary_notes(),
            "_" * len(header),
        ]
        for line in lines:
            print_fn(line)

    def layer_table(self):
        """Traces `call` once and returns one row per sublayer (its first call).

        Returns:
            A list of dicts with keys `name` (the layer's name), `path` (its
            position in the layer tree, `/`-joined), `type`, `depth`
            (0 = direct child of the model), `shape` (output shape, batch
            None), `params` (weights of the layer and its sublayers) and
            `trainable`, in call order, parents before their children.
        """
        rows, stack = [], []
        paths, recorded = {}, set()

        def wrap(layer, original_call):
            def recording_call(*args, **kwargs):
                if id(layer) in recorded:  # a shared layer: its first call speaks
                    return original_call(*args, **kwargs)
                recorded.add(id(layer))
                row = {
                    "name": layer.name,
                    "path": paths[id(layer)],
                    "type": type(layer).__name__,
                    "depth": len(stack),
                    "params": _count(layer.weights),
                    "trainable": layer.trainable,
                    "shape": None,
                }
                rows.append(row)
                stack.append(layer)
                try:
                    outputs = original_call(*args, **kwargs)
                finally:
                    stack.pop()
                row["shape"] = _shapes_of(outputs)
                return outputs

            return recording_call

        with contextlib.ExitStack() as restore:
            for path, layer in self._walk_layers():
                paths[id(layer)] = path
                original = layer.call
                # Shadow the bound method on the instance only; the class and
                # every other instance stay untouched, and `finally` removes it.
                layer.call = wrap(layer, original)
                restore.callback(self._unwrap, layer)
            spec = self.input_signature
            # compute_output_spec traces `call` with placeholder tensors, so
            # every sublayer runs its real `call` (not its shape function) and
            # unknown dimensions stay None.
            self.compute_output_spec(keras.KerasTensor(spec.shape, dtype=spec.dtype))
        return rows

    @staticmethod
    def _unwrap(layer):
        # `call` was set as an instance attribute; deleting it re-exposes the
        # class method.
        if "call" in vars(layer):
            object.__delattr__(layer, "call")

    def _walk_layers(self, layer=None, prefix=""):
        layer = self if layer is None else layer
        for child in layer._layers:
            path = f"{prefix}{child.name}"
            yield path, child
            if _opens(child):
                yield from self._walk_layers(child, path + "/")


def _opens(layer):
    """Whether the summary shows a layer's sublayers.

    Our blocks open up, and so do Keras' wrappers (a Bidirectional's forward
    and backward layers are worth seeing). Other Keras layers' internals (an
    RNN's cell, run once per time step; TextVectorization's lookup table) are
    implementation details, as in Keras' own summary.
    """
    if not type(layer).__module__.startswith("keras."):
        return True
    return isinstance(layer, (keras.layers.Bidirectional, keras.layers.Wrapper))
