"""`ZooModel`: the family contract, a functional view and a real summary."""

import contextlib
import functools
import math
import numbers

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
    """An int, or None when unknown (JAX traces unknown dims as symbolic expressions)."""
    return int(dim) if isinstance(dim, (int, np.integer)) else None


def _is_empty_batch(inputs):
    """Whether `inputs` is a concrete batch of 0 examples with a fully known shape."""
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


# Keras' probability losses by name -> their classes (built with from_logits=True).
_PROBABILITY_LOSSES = {
    name: cls for cls, snake in (
        (keras.losses.SparseCategoricalCrossentropy, "sparse_categorical_crossentropy"),
        (keras.losses.CategoricalCrossentropy, "categorical_crossentropy"),
        (keras.losses.BinaryCrossentropy, "binary_crossentropy"))
    for name in (snake, cls.__name__)}


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

    A family is one module in `zoo/models/` with a `ZooModel` subclass whose
    constructors are registered with `@Family.register`; the rest of the zoo
    reads a family only through this contract.

    Implement `__init__` (checks every argument first; image families take
    `num_classes`, `input_shape`, `data_format`, text families `num_classes`,
    `max_tokens`, `sequence_length`), `call`, `get_config`, and
    `input_signature` (a `keras.InputSpec`, batch None), from which
    `example_inputs()` draws inputs.

    Metadata, readable unbuilt through `zoo.registry.model_family`: `info`,
    the family's table (`zoo.models._info.DEFAULTS` lists its keys: `recipe`,
    `xla`, `small`, `portable`, `distributed`, `benchmarked`, and `variants`,
    a row per model whose `weights` lists what `weights=` loads);
    `zoo.model_info(name)` joins it with the weight files of the family's
    converter in `zoo/convert/`. Class attributes: `modality` ("image" or
    "text"); `gradient_free_weights` (fnmatch patterns of weights with zero
    gradient by construction). `xla_defaults` reads the table (a family may
    make it depend on the model's arguments).

    Hooks [default]: `needs_adapt` / `adapt(data)` [False / nothing];
    `token_twin(...)` for formats without string ops [None];
    `check_inputs(inputs)` for extra input checks (call super);
    `check_savable()`, raising ValueError before any save [never];
    `summary_notes()` [none].

    Inherited: `functional()`, `summary()`, `layer_table()`, `rebuilt()`,
    `folded()` (folds every block with a `fold_batchnorm()`) and
    `preferred_jit_compile()`. An empty batch returns an empty output
    without running any layer. Image families subclass
    `zoo.models._image.ImageClassifier`, text families
    `zoo.models._text.TextClassifier`.
    """

    modality = "image"
    info = {}  # the family's metadata table (`zoo.models._info`)
    gradient_free_weights = ()
    needs_adapt = False

    @classmethod
    def model_info(cls, name):
        """The `zoo.models._info.ModelInfo` of registered model `name` of this family."""
        sources = {}
        if _info.weight_kinds(cls, name):
            sources = _pretrained.converter(cls).weight_sources(name)
        return _info.info_of(cls, name, sources)

    @classmethod
    def family_table(cls):
        """The family's metadata table, its base classes' filled in (a copy)."""
        return _info.family_table(cls)

    @property
    def xla_defaults(self):
        """Platform -> whether XLA trains this model faster (its table's `xla`)."""
        return self.family_table()["xla"]

    @classmethod
    def register(cls, constructor):
        """Registers `constructor` as a model of this family (a decorator).

        The registered function takes one more keyword, `weights` (None,
        `"imagenet"` or a `.safetensors` / `.npz` state dict path) for the
        models whose row in `info["variants"]` lists `weights`; with the
        1,000-class head, the model then names ImageNet-1k's classes
        (`class_names`, unless given).
        """
        @functools.wraps(constructor)  # name, module, qualname: registry keys
        def build(*args, weights=None, **overrides):
            if weights is None:
                return constructor(*args, **overrides)
            return _pretrained.build(cls, constructor.__name__,
                                     functools.partial(constructor, *args), weights, overrides)

        return registry.register_model(build, family=cls)

    @classmethod
    def variant(cls, name, doc, replaceable=False, **arguments):
        """Registers `name(**kwargs)`: this family built with `arguments` (a spec row).

        The spec-table form of `register`, for families whose variants differ
        only in constructor arguments. `kwargs` add to `arguments`; repeating
        one is a TypeError unless `replaceable` (timm's rule: ViT's width,
        depth...). The model's `name` defaults to the registered one.

        Example: `resnet50_v2 = ResNetV2.variant("resnet50_v2", "ResNet-50 v2.", depth=50)`.
        """
        def constructor(**kwargs):
            if replaceable:
                return cls(**{"name": name, **arguments, **kwargs})
            return cls(**arguments, **{"name": name, **kwargs})

        constructor.__name__ = constructor.__qualname__ = name
        constructor.__module__, constructor.__doc__ = cls.__module__, doc
        return cls.register(constructor)

    def __init__(self, *args, class_names=None, preprocessing=None, **kwargs):
        _validation.layer_kwargs(kwargs)
        super().__init__(*args, **kwargs)
        self.class_names = class_names
        self.preprocessing = preprocessing

    @property
    def class_names(self):
        """list of str or None: the name of each output class, in logit order (saved)."""
        return self._class_names

    @class_names.setter
    def class_names(self, value):
        self._class_names = _validation.class_names(
            value, getattr(self, "num_classes", None))

    @property
    def preprocessing(self):
        """dict or None: how raw inputs became the training inputs (saved; see `zoo.predict`)."""
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
        """Whether the head returns logits; False for a model without a head."""
        if getattr(self, "features_only", False) or not getattr(self, "include_top", True):
            return False
        activation = getattr(self, "classifier_activation", None)
        return activation in (None, "linear") or (
            callable(activation) and getattr(activation, "__name__", "") == "linear")

    def __call__(self, *args, **kwargs):
        # Override: no Keras hook sees the inputs before Keras converts them.
        training = kwargs.get("training")
        if isinstance(training, (str, bytes, numbers.Number, list, tuple, dict)):
            # Keras reads any truthy value as True: "no" would train BatchNorm.
            _validation.boolean("training", training, optional=True)
        inputs = args[0] if args else kwargs.get("inputs", _MISSING)
        if inputs is not _MISSING:
            self.check_inputs(inputs)
            if _is_empty_batch(inputs):
                # Unknown batch: a symbolic batch of 0 trips some shape inference.
                spec = self.compute_output_spec(keras.KerasTensor(
                    (None,) + tuple(inputs.shape)[1:], dtype=self.input_signature.dtype))
                # One empty output per output (a features_only model returns a dict).
                return keras.tree.map_structure(
                    lambda out: keras.ops.zeros((0,) + tuple(out.shape)[1:], dtype=out.dtype),
                    spec)
        return super().__call__(*args, **kwargs)

    def check_inputs(self, inputs):
        """Raises a TypeError/ValueError naming `inputs` when the model cannot take them."""
        _validation.model_inputs(self.name, inputs, self.input_signature)

    def check_savable(self):
        """Raises a ValueError when the model cannot be saved as it is (default: never)."""

    def summary_notes(self):
        """Lines printed under the summary table (default: none)."""
        return []

    def adapt(self, data, batch_size=None, steps=None):
        """Learns what the model must know of its inputs before training (default: nothing)."""

    def token_twin(self, sequence_length=None, default_sequence_length=None):
        """For formats without string ops: `(token-id twin, tokenizer settings)`, or None."""
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
        """A copy for inference with every `fold_batchnorm()` sublayer folded; `self` if none.

        Example:
        >>> import numpy as np, zoo
        >>> model = zoo.create_model("resnet20", num_classes=3, input_shape=(16, 16, 1))
        >>> inference = model.folded()
        >>> x = model.example_inputs(batch_size=2)
        >>> bool(np.allclose(inference(x), model(x, training=False), rtol=1e-5, atol=1e-5))
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
        """`keras.Model.save`, refused first when `check_savable()` raises."""
        self.check_savable()
        return super().save(filepath, *args, **kwargs)

    # Override: as `save`, Keras opens the file before `save_own_variables` runs.
    def save_weights(self, filepath, *args, **kwargs):
        """`keras.Model.save_weights`, refused as `save` is."""
        self.check_savable()
        return super().save_weights(filepath, *args, **kwargs)

    def save_own_variables(self, store):
        # Reached by every `.keras` / `.weights.h5` save, `keras.saving.save_model` too.
        self.check_savable()
        super().save_own_variables(store)

    def preferred_jit_compile(self, platform=None):
        """The `jit_compile` that `compile(jit_compile="auto")` uses.

        Args:
            platform: a key of `xla_defaults`, `"cpu"` (this process' CPU
                kernels) or None (where this process runs).

        Returns:
            A bool from `xla_defaults` on TensorFlow; `"auto"` on other backends.

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

        On a model returning logits, Keras' probability losses given by name
        become their `from_logits=True` objects; a loss object whose
        `from_logits` disagrees with the outputs is a `ValueError`. "auto"
        resolves to `preferred_jit_compile()` and stays "auto" in the config.
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
            # So that loading the optimizer's saved variables finds them.
            self.optimizer.build(self.trainable_variables)

    def predict(self, x, *args, **kwargs):
        """`keras.Model.predict`, leaving the model usable when it raises.

        Keras' JAX `predict` detaches the variables' values and does not
        reattach them when it raises; here they are put back.
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
        """Random NumPy inputs matching `input_signature` (`unknown_dim` for None dims)."""
        self._check_example_args(batch_size, seed, unknown_dim)
        spec = self.input_signature
        shape = (batch_size,) + tuple(unknown_dim if d is None else d for d in spec.shape[1:])
        rng = np.random.default_rng(seed)
        return rng.standard_normal(shape).astype(spec.dtype or "float32")

    @staticmethod
    def _check_example_args(batch_size, seed, unknown_dim):
        _validation.non_negative_int("batch_size", batch_size)
        _validation.non_negative_int("seed", seed)
        _validation.positive_int("unknown_dim", unknown_dim)

    def _predictions_layer(self, classifier_activation):
        """The head's final activation, named "predictions"; float32 under mixed precision."""
        policy = self.dtype_policy
        mixed = policy.compute_dtype != policy.variable_dtype
        return keras.layers.Activation(
            classifier_activation or "linear", name="predictions",
            dtype=policy.variable_dtype if mixed else policy)

    def functional(self):
        """A functional `keras.Model` over the same layers and (shared) weights."""
        spec = self.input_signature
        inputs = keras.Input(shape=spec.shape[1:], dtype=spec.dtype, name=spec.name)
        return keras.Model(inputs, self.call(inputs), name=f"{self.name}_functional")

    def summary(self, line_length=None, print_fn=None, expand_nested=True, show_trainable=False):
        """Prints every layer with its traced output shape and parameter count, blocks opened."""
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
            rule, f"Total params: {trainable + non_trainable:,}",
            f"Trainable params: {trainable:,}", f"Non-trainable params: {non_trainable:,}",
            *self.summary_notes(), "_" * len(header)
        ]
        for line in lines:
            print_fn(line)

    def layer_table(self):
        """Traces `call` once; one dict per sublayer (`name`, `path`, `type`, `depth`,
        `shape`, `params`, `trainable`), in call order, parents first."""
        rows, stack = [], []
        paths, recorded = {}, set()

        def wrap(layer, original_call):
            def recording_call(*args, **kwargs):
                if id(layer) in recorded:  # a shared layer: its first call speaks
                    return original_call(*args, **kwargs)
                recorded.add(id(layer))
                row = {
                    "name": layer.name, "path": paths[id(layer)], "type": type(layer).__name__,
                    "depth": len(stack), "params": _count(layer.weights),
                    "trainable": layer.trainable, "shape": None
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
                # Shadow the bound method on this instance only.
                layer.call = wrap(layer, original)
                restore.callback(self._unwrap, layer)
            spec = self.input_signature
            # Runs every sublayer's real `call`, unknown dimensions kept None.
            self.compute_output_spec(keras.KerasTensor(spec.shape, dtype=spec.dtype))
        return rows

    @staticmethod
    def _unwrap(layer):
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
    """Whether the summary shows a layer's sublayers: ours and Keras' wrappers do."""
    if not type(layer).__module__.startswith("keras."):
        return True
    return isinstance(layer, (keras.layers.Bidirectional, keras.layers.Wrapper))
