"""Shared test batteries: one call gives a new layer or model every check.

- `run_layer_test(...)`: the Keras layer contract (shapes eager/symbolic/
  `compute_output_shape`, config mirror and round-trip, one training step,
  mixed precision, channels_first).
- `run_model_test(...)`: build, forward, backward, config round-trip, summary
  and functional view.
- `run_in_fresh_process(code)`: runs Python in a new interpreter, because an
  in-process load can silently reuse registered objects.
- Ports: `randomize_reference`, `assert_close` and `publish_keras_file`
  (with the `offline` and `cache` fixtures of tests/models/conftest.py).

Everything here runs on the Keras backend of the test session
(`KERAS_BACKEND`): tensors are handled with `keras.ops` and NumPy, and the one
backend-specific step, taking gradients, is `loss_and_gradients`.

Tests import this module as `helpers` (`tests/` is on `sys.path` through
`tests/conftest.py`).
"""

import collections
import fnmatch
import hashlib
import inspect
import json
import os
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import tensorflow as tf

import zoo

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MIXED_POLICIES = ("mixed_float16", "mixed_bfloat16")

_BN_STATE = ("moving_mean", "moving_variance")


# --------------------------------------------------------------------------
# Small utilities


def random_inputs(shape, seed=0, dtype="float32"):
    """Standard-normal NumPy array of `shape`, reproducible by `seed`."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def to_numpy(x):
    return keras.ops.convert_to_numpy(keras.ops.cast(x, "float32"))


def dtype_name(x):
    return keras.backend.standardize_dtype(x.dtype)


def weight_snapshot(layer):
    """{variable path: NumPy copy} of every weight of `layer`."""
    return {v.path: np.array(keras.ops.convert_to_numpy(v)) for v in layer.weights}


def batchnorm_layers(layer):
    return [
        sub for sub in layer._flatten_layers(include_self=True, recursive=True)
        if isinstance(sub, keras.layers.BatchNormalization) and sub.built
    ]


def randomize_batchnorm(layer, seed=0):
    """Gives every BatchNormalization non-trivial gamma/beta/mean/variance.

    With the default statistics (0, 1) and parameters (1, 0) a BN is nearly
    the identity, so a wrong axis, a dropped bias or a lost moving statistic
    would go unnoticed by an output comparison. Kernels keep their
    initializer values.
    """
    rng = np.random.default_rng(seed)
    for bn in batchnorm_layers(layer):
        gamma, beta, mean, variance = bn.get_weights()
        bn.set_weights([
            rng.uniform(0.5, 1.5, gamma.shape).astype(gamma.dtype),
            rng.normal(0.0, 0.2, beta.shape).astype(beta.dtype),
            rng.normal(0.0, 0.2, mean.shape).astype(mean.dtype),
            rng.uniform(0.5, 1.5, variance.shape).astype(variance.dtype),
        ])


def randomize_reference(keras_model, seed=0):
    """Random BatchNorm statistics and parameters, and random convolution and Dense biases.

    Kernels are random already; at their initial values (BatchNorm 1, 0, 0, 1,
    biases 0) a mis-mapped weight would go unseen by a port test.
    """
    randomize_batchnorm(keras_model, seed)
    rng = np.random.default_rng(seed)
    for layer in keras_model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and layer.use_bias:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.2, bias.shape)])
    return keras_model


def assert_close(actual, expected, tolerance=1e-4):
    """Equal within `tolerance`, relative to the outputs' scale (at least 1)."""
    actual, expected = to_numpy(actual), to_numpy(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert np.abs(expected).max() > 1e-2  # not a degenerate output
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance * scale)


def publish_keras_file(monkeypatch, converter, key, keras_model, path, top=True, also=()):
    """Saves `keras_model` as the keras.applications file at `path` (in Keras' cache) and
    makes its hash the published one of `key` in `converter.KERAS_WEIGHTS_HASHES`.

    keras.applications' files are legacy HDF5 (`.h5`), which `save` writes.
    The hash is an md5 or a sha256, as the one it replaces. `also`: more
    modules whose `WEIGHTS_HASHES` get the same table (keras.applications').
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    keras_model.save(str(path))
    hashes = dict(converter.KERAS_WEIGHTS_HASHES)
    pair = list(hashes[key])
    algorithm = hashlib.sha256 if len(pair[0 if top else 1]) == 64 else hashlib.md5
    pair[0 if top else 1] = algorithm(path.read_bytes()).hexdigest()
    hashes[key] = tuple(pair)
    monkeypatch.setattr(converter, "KERAS_WEIGHTS_HASHES", hashes)
    for module in also:
        monkeypatch.setattr(module, "WEIGHTS_HASHES", hashes)
    return path


def init_parameter_names(cls):
    """Named `__init__` parameters of `cls` and of the bases its `**kwargs` reach.

    Walks the MRO while each `__init__` forwards `**kwargs`, stopping at
    Keras' own classes (whose arguments, `name`/`dtype`/`trainable`, the base
    `get_config()` covers).
    """
    names = []
    for klass in cls.__mro__:
        if klass.__module__.split(".")[0] == "keras":
            break
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        forwards = False
        for p in params:
            if p.name == "self":
                continue
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                forwards = True
            elif p.kind is not inspect.Parameter.VAR_POSITIONAL and p.name not in names:
                names.append(p.name)
        if not forwards:
            break
    return names


def base_config_keys(cls=keras.layers.Layer):
    """Keys every Layer/Model config has (`name`, `trainable`, `dtype`), and
    those of the Keras layer `cls` extends (Keras' BatchNormalization's for
    `zoo.blocks.BatchNorm`), which Keras' own `get_config` writes."""
    keys = set(keras.layers.Layer().get_config())
    keras_base = next(klass for klass in cls.__mro__
                      if klass.__module__.split(".")[0] == "keras")
    if keras_base not in (keras.layers.Layer, keras.Model):
        keys |= set(inspect.signature(keras_base.__init__).parameters) - {"self", "kwargs"}
    return keys


def _json_roundtrip(config):
    """What a config becomes after being written to and read from a file."""
    return json.loads(json.dumps(config))


def assert_config_mirrors_init(layer_or_model, init_kwargs=None):
    """Config keys == `__init__` parameters (+ Keras' base keys), one for one."""
    cls = type(layer_or_model)
    config = layer_or_model.get_config()
    base_keys = base_config_keys(cls)
    params = set(init_parameter_names(cls))
    extra = set(config) - params - base_keys
    missing = params - set(config)
    assert not extra and not missing, (
        f"{cls.__name__}.get_config() does not mirror __init__: keys not accepted "
        f"by __init__: {sorted(extra)}; __init__ arguments missing from the "
        f"config: {sorted(missing)}"
    )
    # The config must be plain JSON: .keras files store it as such.
    json.dumps(config)
    for key, value in (init_kwargs or {}).items():
        if isinstance(value, (bool, int, float)) and key in config:
            assert config[key] == value, (
                f"{cls.__name__}.get_config()[{key!r}] == {config[key]!r}, "
                f"constructed with {key}={value!r}"
            )
    return config


def _call(layer, x, training=False):
    return layer(x, training=training)


# --------------------------------------------------------------------------
# Layers


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_shape,
    expected_output_shape,
    *,
    seed=0,
    run_training=True,
    expect_all_trainable_updated=True,
    run_mixed_precision=True,
    run_channels_first=None,
    atol=1e-6,
    channels_first_atol=1e-5,
):
    """Runs the Keras layer contract on `layer_cls(**init_kwargs)`.

    Args:
        layer_cls: the Layer class.
        init_kwargs: dict of constructor arguments.
        input_shape: tuple, full input shape including the batch dimension
            (channels_last layout unless `init_kwargs` says otherwise).
        expected_output_shape: tuple, full output shape.
        seed: int. Seed of the random inputs and weights.
        run_training: bool. Do one SGD step and check weights move.
        expect_all_trainable_updated: bool. Every trainable variable must
            change in that step (`False` for e.g. zero-initialized residual
            branches, where the kernels behind a zero gamma get no gradient).
        run_mixed_precision: bool. Check `mixed_float16` / `mixed_bfloat16`.
        run_channels_first: bool or None. Compare against a channels_first
            twin; `None` means: when the layer takes `data_format` and the
            input is 4D channels_last.
        atol: float. Tolerance of the config round-trip comparison.
        channels_first_atol: float. Tolerance of the layout comparison.

    Returns:
        The built layer used for the eager checks.
    """
    input_shape = tuple(input_shape)
    expected_output_shape = tuple(expected_output_shape)
    x = random_inputs(input_shape, seed)

    # (a) eager, compute_output_shape and symbolic shapes agree.
    layer = layer_cls(**init_kwargs)
    y = _call(layer, x)
    randomize_batchnorm(layer, seed)
    y = _call(layer, x)
    assert tuple(y.shape) == expected_output_shape, (
        f"eager output shape {tuple(y.shape)} != expected {expected_output_shape}")
    assert np.all(np.isfinite(to_numpy(y))), "eager output has NaN/Inf"
    assert tuple(layer.compute_output_shape(input_shape)) == expected_output_shape
    unbatched = (None,) + expected_output_shape[1:]
    assert tuple(layer.compute_output_shape((None,) + input_shape[1:])) == unbatched

    symbolic = layer_cls(**init_kwargs)(keras.Input(shape=input_shape[1:]))
    assert tuple(symbolic.shape) == unbatched, (
        f"symbolic output shape {tuple(symbolic.shape)} (keras.Input) != {unbatched}")
    symbolic = layer_cls(**init_kwargs)(keras.KerasTensor(input_shape))
    assert tuple(symbolic.shape) == expected_output_shape, (
        f"symbolic output shape {tuple(symbolic.shape)} (KerasTensor) != "
        f"{expected_output_shape}")

    # (b) config: mirrors __init__, from_config and (de)serialize round-trip.
    config = assert_config_mirrors_init(layer, init_kwargs)
    expected = to_numpy(y)
    clone = layer_cls.from_config(_json_roundtrip(config))
    _call(clone, x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(to_numpy(_call(clone, x)), expected, atol=atol, rtol=0,
                               err_msg="from_config(get_config()) changed the outputs")
    assert _json_roundtrip(clone.get_config()) == _json_roundtrip(config)

    serialized = _json_roundtrip(keras.saving.serialize_keras_object(layer))
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is layer_cls, f"deserialized a {type(revived).__name__}"
    _call(revived, x)
    revived.set_weights(layer.get_weights())
    np.testing.assert_allclose(to_numpy(_call(revived, x)), expected, atol=atol, rtol=0,
                               err_msg="serialize/deserialize_keras_object changed outputs")
    assert [w.path.split("/", 1)[-1] for w in revived.weights] == \
        [w.path.split("/", 1)[-1] for w in layer.weights], "weight names changed"

    # (c) one training step.
    if run_training:
        train_one_step(layer, x, expect_all_trainable_updated=expect_all_trainable_updated)

    # (d) mixed precision: compute dtype out, float32 variables.
    if run_mixed_precision and "dtype" not in init_kwargs:
        for policy in MIXED_POLICIES:
            check_mixed_precision(layer_cls, init_kwargs, x, policy)

    # (e) channels_first twin with the same weights.
    if run_channels_first is None:
        run_channels_first = (
            "data_format" in init_parameter_names(layer_cls)
            and len(input_shape) == 4
            and init_kwargs.get("data_format") in (None, "channels_last")
        )
    if run_channels_first:
        check_channels_first(layer_cls, init_kwargs, x, expected_output_shape,
                             seed=seed, atol=channels_first_atol)
    return layer


def train_one_step(layer, x, expect_all_trainable_updated=True, learning_rate=0.1,
                   seed=1, clipnorm=1.0):
    """One SGD step on `mean((layer(x) - target)**2)`; checks what must move.

    Works for layers and models. Each variable's gradient is clipped to norm
    `clipnorm`: a freshly initialized deep ResNet on a batch of 2 has
    gradient norms of 1e4-1e6 (BN over few values), and one unclipped step
    sends its inference outputs to Inf. Returns the loss.
    """
    before = weight_snapshot(layer)
    y_shape = tuple(_call(layer, x).shape)
    target = random_inputs(y_shape, seed)
    variables = layer.trainable_variables
    assert variables, f"{layer.name} has no trainable variables"
    loss, grads = loss_and_gradients(layer, x, target)
    loss_value = float(to_numpy(loss))
    assert np.isfinite(loss_value), f"training loss is {loss_value}"
    for v, g in zip(variables, grads):
        assert g is not None, f"no gradient reaches {v.path}"
        assert np.all(np.isfinite(to_numpy(g))), f"gradient of {v.path} has NaN/Inf"
    # Weights the family declares gradient-free by construction (the
    # contract's `gradient_free_weights`): their gradient must be zero up to
    # rounding, and they need not move.
    patterns = getattr(layer, "gradient_free_weights", ())
    gradient_free = {v.path for v in variables
                     if any(fnmatch.fnmatch(v.path, p) for p in patterns)}
    largest = max(float(np.abs(to_numpy(g)).max()) for g in grads)
    for v, g in zip(variables, grads):
        if v.path in gradient_free:
            assert float(np.abs(to_numpy(g)).max()) <= 1e-5 * largest, (
                f"{v.path} is declared gradient-free but gets a gradient")
    keras.optimizers.SGD(learning_rate, clipnorm=clipnorm).apply(grads, variables)

    after = weight_snapshot(layer)
    moved = {path for path in before if not np.array_equal(before[path], after[path])}
    trainable = {v.path for v in variables} - gradient_free
    if expect_all_trainable_updated:
        assert trainable <= moved, f"trainable weights did not move: {sorted(trainable - moved)}"
    else:
        assert trainable & moved, "no trainable weight moved"
    for bn in batchnorm_layers(layer):
        for name in _BN_STATE:
            path = getattr(bn, name).path
            assert path in moved, f"BatchNorm statistic {path} not updated by training=True"
    frozen = {v.path for v in layer.non_trainable_variables} - {
        getattr(bn, name).path for bn in batchnorm_layers(layer) for name in _BN_STATE}
    assert not frozen & moved, f"non-trainable weights moved: {sorted(frozen & moved)}"
    return loss_value


def classifier_train_step(model, x, y, optimizer):
    """A `tf.function` running one `optimizer` step on the mean sparse
    cross-entropy of `model(x, training=True)` (logits) against labels `y`;
    it returns the loss. TensorFlow backend only."""
    import tensorflow as tf

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                y, model(x, training=True), from_logits=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                      model.trainable_variables))
        return loss
    return step


def loss_and_gradients(layer, x, target):
    """`mean((layer(x, training=True) - target)**2)` and its gradients.

    Returns `(loss, grads)`, the gradients in the order of
    `layer.trainable_variables`. Like a training call, it updates the
    layer's non-trainable state (BatchNorm moving statistics, seeds).
    TensorFlow records the call on a tape; JAX differentiates a pure
    function of the variables (`stateless_call`), so the new state is
    assigned back afterwards.
    """
    target = keras.ops.convert_to_tensor(target, "float32")

    def loss_of(y, target):
        return keras.ops.mean(keras.ops.square(keras.ops.cast(y, "float32") - target))

    backend = keras.backend.backend()
    if backend == "tensorflow":
        with tf.GradientTape() as tape:
            loss = loss_of(layer(x, training=True), target)
        return loss, tape.gradient(loss, layer.trainable_variables)
    if backend == "jax":
        import jax

        # `stateless_call` runs `call` itself, which takes `training` only if
        # it says so (`layer(x, training=...)` drops it for the others).
        kwargs = ({"training": True}
                  if "training" in inspect.signature(layer.call).parameters else {})

        def pure_loss(trainable, non_trainable, x, target):
            y, non_trainable = layer.stateless_call(trainable, non_trainable, x, **kwargs)
            return loss_of(y, target), non_trainable

        # Compiled, as Keras' JAX trainer compiles its train step: run op by
        # op, the backward pass compiles each op's gradient for each new shape
        # (30 s for a ResNet-50 where one XLA compile takes 7 s).
        (loss, state), grads = jax.jit(jax.value_and_grad(pure_loss, has_aux=True))(
            [v.value for v in layer.trainable_variables],
            [v.value for v in layer.non_trainable_variables], x, target)
        for variable, value in zip(layer.non_trainable_variables, state):
            variable.assign(value)
        return loss, grads
    raise NotImplementedError(f"no gradient helper for the {backend!r} backend")


def check_mixed_precision(layer_cls, init_kwargs, x, policy):
    """Output in the compute dtype, every variable in float32, both ways of
    asking for the policy (global and `dtype=`)."""
    compute_dtype = keras.DTypePolicy(policy).compute_dtype

    def check(layer, how):
        y = _call(layer, x)
        assert dtype_name(y) == compute_dtype, (
            f"{how}: output dtype {dtype_name(y)} != compute dtype {compute_dtype}")
        assert np.all(np.isfinite(to_numpy(y))), f"{how}: output has NaN/Inf"
        bad = {v.path: dtype_name(v) for v in layer.weights if dtype_name(v) != "float32"}
        assert not bad, f"{how}: variables not float32: {bad}"
        symbolic = layer_cls(**init_kwargs, **({} if how.startswith("global") else
                                                {"dtype": policy}))
        out = symbolic(keras.Input(shape=x.shape[1:]))
        assert dtype_name(out) == compute_dtype, (
            f"{how}: symbolic output dtype {dtype_name(out)} != {compute_dtype}")

    previous = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy(policy)
        check(layer_cls(**init_kwargs), f"global policy {policy}")
    finally:
        keras.config.set_dtype_policy(previous)

    layer = layer_cls(**init_kwargs, dtype=policy)
    check(layer, f"dtype={policy!r}")
    _check_mixed_values(layer_cls, init_kwargs, layer, x, policy)
    revived = layer_cls.from_config(_json_roundtrip(layer.get_config()))
    assert revived.dtype_policy.name == policy, (
        f"config round-trip lost dtype={policy!r}: got {revived.dtype_policy.name!r}")


# Largest |mixed - float32| / max|float32| accepted: a few units of the
# compute dtype's rounding (float16 ~1e-3, bfloat16 ~8e-3), accumulated.
MIXED_TOLERANCE = {"mixed_float16": 2e-2, "mixed_bfloat16": 1e-1}


def _check_mixed_values(layer_cls, init_kwargs, layer, x, policy):
    """The mixed-precision layer computes what its float32 twin computes.

    Dtypes alone miss a kernel that is wrong in float16 (TensorFlow's oneDNN
    einsum with an ellipsis was off by ~100%: zoo/blocks/einsum_dense.py).
    """
    reference = layer_cls(**init_kwargs, dtype="float32")
    _call(reference, x)
    reference.set_weights(layer.get_weights())
    expected, got = to_numpy(_call(reference, x)), to_numpy(_call(layer, x))
    scale = max(float(np.abs(expected).max()), 1e-6)
    error = float(np.abs(got - expected).max()) / scale
    assert error <= MIXED_TOLERANCE[policy], (
        f"dtype={policy!r}: outputs differ from float32 by {error:.3g} of their scale "
        f"(tolerance {MIXED_TOLERANCE[policy]})")


def check_channels_first(layer_cls, init_kwargs, x, expected_output_shape, seed=0,
                         atol=1e-5):
    """Same weights, NCHW inputs -> the NHWC outputs, transposed."""
    last = layer_cls(**{**init_kwargs, "data_format": "channels_last"})
    _call(last, x)
    randomize_batchnorm(last, seed)
    first = layer_cls(**{**init_kwargs, "data_format": "channels_first"})
    x_first = np.transpose(x, (0, 3, 1, 2))
    _call(first, x_first)
    # Keras stores conv kernels as (kh, kw, in, out) for both layouts.
    first.set_weights(last.get_weights())
    expected = np.transpose(to_numpy(_call(last, x)), (0, 3, 1, 2))
    got = to_numpy(_call(first, x_first))
    assert got.shape == expected.shape
    e = expected_output_shape
    assert tuple(first.compute_output_shape(x_first.shape)) == (e[0], e[3], e[1], e[2])
    np.testing.assert_allclose(got, expected, atol=atol, rtol=0,
                               err_msg="channels_first output != transposed channels_last")


# --------------------------------------------------------------------------
# Models

_ROW = re.compile(r"^(?P<indent> *)(?P<name>\S+) \((?P<type>\w+)\)\s+(?P<shape>\(.*\))\s+"
                  r"(?P<params>[\d,]+)(?:\s+(?P<trainable>[YN]))?$")


def summary_lines(model, **kwargs):
    """`model.summary(...)` output as a list of lines."""
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return lines


def summary_rows(lines):
    """Parsed layer rows of a `ZooModel.summary()`: dicts with `depth`,
    `name`, `type`, `shape` (the printed string) and `params` (int)."""
    rows = []
    for line in lines:
        match = _ROW.match(line)
        if match:
            rows.append({
                "depth": len(match["indent"]) // 2,
                "name": match["name"],
                "type": match["type"],
                "shape": match["shape"],
                "params": int(match["params"].replace(",", "")),
                "trainable": match["trainable"],
            })
    return rows


def summary_totals(lines):
    """{"Total": int, "Trainable": int, "Non-trainable": int} from summary lines."""
    totals = {}
    for line in lines:
        match = re.match(r"^(Total|Trainable|Non-trainable) params: ([\d,]+)", line)
        if match:
            totals[match[1]] = int(match[2].replace(",", ""))
    return totals


def count_weights(variables):
    return int(sum(np.prod(v.shape) for v in variables))


def run_model_test(
    model_fn,
    *,
    inputs=None,
    expected_output_shape=None,
    batch_size=2,
    seed=0,
    expect_all_trainable_updated=True,
    check_summary=True,
    check_functional=True,
    atol=1e-5,
):
    """Build, forward, backward, config round-trip, summary, functional view.

    Args:
        model_fn: zero-argument callable returning a fresh model.
        inputs: model inputs; default `model.example_inputs(batch_size, seed)`.
        expected_output_shape: tuple or None. Checked when given.
        batch_size, seed: for the default inputs.
        expect_all_trainable_updated: see `train_one_step`.
        check_summary: compare `summary()` totals to the model's own counts.
        check_functional: compare `functional()` outputs to the model's.
        atol: output tolerance of the round-trips (relative to the output
            scale when that exceeds 1).

    Returns:
        The trained model.
    """
    model = model_fn()
    x = model.example_inputs(batch_size=batch_size, seed=seed) if inputs is None else inputs

    y = model(x, training=False)
    if expected_output_shape is not None:
        assert tuple(y.shape) == tuple(expected_output_shape), (
            f"output shape {tuple(y.shape)} != {tuple(expected_output_shape)}")
    assert np.all(np.isfinite(to_numpy(y))), "forward output has NaN/Inf"
    y_train = model(x, training=True)
    assert tuple(y_train.shape) == tuple(y.shape)
    assert np.all(np.isfinite(to_numpy(y_train))), "training-mode output has NaN/Inf"

    train_one_step(model, x, expect_all_trainable_updated=expect_all_trainable_updated,
                   learning_rate=0.01)

    expected = to_numpy(model(x, training=False))
    tol = atol * max(1.0, float(np.abs(expected).max()))
    assert np.all(np.isfinite(expected)), "output after one training step has NaN/Inf"

    config = assert_config_mirrors_init(model)
    serialized = _json_roundtrip(keras.saving.serialize_keras_object(model))
    clone = keras.saving.deserialize_keras_object(serialized)
    assert type(clone) is type(model), f"deserialized a {type(clone).__name__}"
    assert _json_roundtrip(clone.get_config()) == _json_roundtrip(config)
    if not clone.built:
        clone(x)
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(to_numpy(clone(x, training=False)), expected, atol=tol, rtol=0,
                               err_msg="config round-trip changed the outputs")

    if check_summary and hasattr(model, "layer_table"):
        lines = summary_lines(model)
        assert not any("?" in line for line in lines), "summary shows unknown shapes"
        totals = summary_totals(lines)
        trainable = count_weights(model.trainable_weights)
        non_trainable = count_weights(model.non_trainable_weights)
        assert totals == {"Total": model.count_params(), "Trainable": trainable,
                          "Non-trainable": non_trainable}, totals
        assert trainable + non_trainable == model.count_params()
    if check_functional and hasattr(model, "functional"):
        view = model.functional()
        assert view.count_params() == model.count_params()
        np.testing.assert_allclose(to_numpy(view(x, training=False)), expected, atol=tol,
                                   rtol=0, err_msg="functional() view differs from the model")
    return model


# --------------------------------------------------------------------------
# Fresh processes


def run_module(module, *args, timeout=300, env=None, unset=()):
    """Runs `python -m module args` from the repository root, as a user would.

    TensorFlow's C++ logging is quiet; `env` adds to the environment and
    `unset` names variables to remove (e.g. `TF_ENABLE_ONEDNN_OPTS`, which
    CI's oneDNN-off pass sets, to test what a CLI picks by itself).
    Returns the `subprocess.CompletedProcess` (text stdout and stderr).
    """
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    for name in unset:
        full_env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO_ROOT, capture_output=True,
        text=True, timeout=timeout, env=full_env)


def assert_usage_error(proc, *names):
    """A command line rejected cleanly: exit status 2 (argparse's and the zoo
    CLIs' usage error, `zoo/_cli.py`), a usage line, no traceback, and a
    message naming each of `names` (the flag, the value). Returns the output."""
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, (proc.returncode, output[-2000:])
    assert "Traceback" not in output, output[-3000:]
    assert "usage:" in output.lower(), output[-2000:]
    for name in names:
        assert name in output, (name, output[-2000:])
    return output


def assert_rejects(call, error_types, *fragments):
    """`call()` raises one of `error_types` whose message holds every fragment.

    The bad-input tables (tests/bad_input/) pass the argument's name and the
    value as it appears in the message (usually its repr), so a message that
    names neither, or a raw error from inside TensorFlow, fails. Returns the
    message.
    """
    try:
        call()
    except error_types as error:
        message = str(error)
    except Exception as error:  # noqa: BLE001 -- the wrong type is the failure
        raise AssertionError(
            f"expected {error_types}, got {type(error).__name__}: {error}") from error
    else:
        raise AssertionError(f"expected {error_types}, nothing was raised")
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def unwritable_dir(tmp_path):
    """A path that cannot become a directory: it lies under a regular file."""
    regular_file = tmp_path / "a_file"
    regular_file.write_text("not a directory")
    return regular_file / "results"


def run_in_fresh_process(code, *, timeout=600, cwd=None, env=None):
    """Runs `code` with `python -c` in a new interpreter; returns its stdout.

    The interpreter is the one running the tests (the venv's), with the
    repository root on `PYTHONPATH` and TensorFlow's C++ logging quiet.

    Raises:
        AssertionError: if the process exits non-zero (its stderr tail is in
            the message).
    """
    full_env = dict(os.environ)
    full_env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (REPO_ROOT, full_env.get("PYTHONPATH")) if p)
    full_env.update(env or {})
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd or REPO_ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"fresh process exited with {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-5000:]}"
        )
    return result.stdout


# --------------------------------------------------------------------------
# Small variants of registered models (registry-driven tests)

def small_overrides(name):
    """Constructor overrides that keep registered model `name` small (and
    runnable on the session's Keras backend): its record's `small`, plus
    its `portable` keywords off TensorFlow (`zoo.model_info`)."""
    if zoo.registry.model_family(name) is None:  # registered without a family: no record
        return {"num_classes": 5}
    info = zoo.model_info(name)
    return {**info.small, **(info.portable if keras.backend.backend() != "tensorflow" else {})}


def is_slow(name, kind, params_limit):
    """Whether test `kind` of registered model `name` is slow: its record says so
    (`slow_tests`), or counts more than `params_limit` parameters."""
    if zoo.registry.model_family(name) is None:
        return False
    info = zoo.model_info(name)
    return name in info.slow_tests.get(kind, ()) or (info.params or 0) > params_limit


def family_representatives():
    """Each family's benchmarked models (else its first), in registry order: the
    family's code path, once (its variants differ only in their spec rows)."""
    from zoo.models._info import family_table

    chosen, seen = [], set()
    for name in zoo.list_models():
        family = zoo.registry.model_family(name)
        if family is None or family in seen:
            continue
        seen.add(family)
        names = [n for n in zoo.list_models() if zoo.registry.model_family(n) is family]
        chosen += family_table(family)["benchmarked"] or [
            min(names, key=lambda n: zoo.model_info(n).params or 0)]
    return [name for name in zoo.list_models() if name in chosen]


def one_per_family():
    """The first of each family's `family_representatives()`: its smallest benchmarked model."""
    chosen = {}
    for name in family_representatives():
        chosen.setdefault(zoo.registry.model_family(name), name)
    return sorted(chosen.values())


def small_model(name, seed=0):
    """A small, ready-to-call instance of a registered model (vocabulary adapted)."""
    keras.utils.set_random_seed(seed)
    model = zoo.create_model(name, **small_overrides(name))
    if model.needs_adapt:  # e.g. a text model learns its vocabulary first
        model.adapt(model.example_inputs(batch_size=8))
    return model


# --------------------------------------------------------------------------
# Export round-trips (DESIGN.md: a round-trip loads in a fresh process,
# because an in-process load can silently reuse registered objects)

def _export_targets():
    """Every registered format (`zoo.export.formats`) -> the name a test saves it as."""
    from zoo.export import formats

    return {name: f"model{format.suffixes[0]}" if format.suffixes else name
            for name, format in formats.FORMATS.items()}


EXPORT_TARGETS = _export_targets()
# Max abs difference of the outputs after the round-trip, scaled by
# max(1, largest |output|): untrained deep ResNets give logits in the
# thousands, where TFLite's float32 kernels differ from TensorFlow's by ~3e-7
# relative (rounding), above 1e-4 absolute. Every other format is exact here.
EXPORT_TOLERANCE = collections.defaultdict(lambda: 1e-5, tflite=1e-4)

_LOAD_EXPORTS = """
import json, numpy as np, keras
import zoo, zoo.export
from zoo.export import formats
folder, targets, probe = {folder!r}, {targets!r}, {probe!r}
x = np.load(folder + "/x.npy", allow_pickle=True)
expected = np.load(folder + "/expected.npy")
config = json.load(open(folder + "/config.json"))
report = {{}}
for format, target in targets.items():
    path = folder + "/" + target
    reloads = formats.FORMATS[format].reloads_model
    if formats.FORMATS[format].kind == formats.WEIGHTS:
        model = keras.saving.deserialize_keras_object(config)
        zoo.export.load_weights(model, path)
    else:
        model = zoo.export.load(path)
    outputs = np.asarray(keras.ops.convert_to_numpy(model(x)), dtype="float32")
    report[format] = {{
        "shape": list(outputs.shape),
        "max_diff": float(np.abs(outputs - expected).max()),
        "type": type(model).__name__,
        "name": getattr(model, "name", None),
        "config": model.get_config() if reloads else None,
        "vocabulary": list(getattr(model, "vocabulary", None) or []),
        "probe": eval(probe) if probe and reloads else None}}
print(json.dumps(report))
"""


def run_export_test(model, folder, formats=tuple(EXPORT_TARGETS), inputs=None, probe=None):
    """Saves `model` in `formats`, loads each in a fresh process, checks it.

    Asserts, per format: the same output shape, outputs within
    `EXPORT_TOLERANCE` (scaled by the largest |output|), and, for the
    formats that load the zoo model again (`Format.reloads_model`: `.keras`,
    `.h5`, weights into a model rebuilt from config): the same class, name,
    config and vocabulary.

    Args:
        model: a built model.
        folder: pathlib.Path. An empty folder for the files.
        formats: names from `EXPORT_TARGETS` (default: every registered format).
        inputs: what to call the model on (default: 3 `example_inputs`).
        probe: a Python expression evaluated on each loaded Keras-format
            model in the fresh process (e.g. `"model.layers[0].equation"`),
            for family-specific checks by the caller.

    Returns:
        The fresh process's report: format -> dict with `shape`,
        `max_diff`, `type`, `name`, `config`, `vocabulary`, `probe`.
    """
    import zoo.export  # TensorFlow's file formats: only for the tests that export
    from zoo.export import formats as registry

    x = model.example_inputs(batch_size=3, seed=1) if inputs is None else inputs
    expected = to_numpy(model(x, training=False)).astype("float32")
    targets = {format: EXPORT_TARGETS[format] for format in formats}
    for format, target in targets.items():
        zoo.export.save(model, folder / target, format=format)
    np.save(folder / "x.npy", x, allow_pickle=True)
    np.save(folder / "expected.npy", expected)
    (folder / "config.json").write_text(json.dumps(keras.saving.serialize_keras_object(model)))

    out = run_in_fresh_process(_LOAD_EXPORTS.format(
        folder=str(folder), targets=targets, probe=probe))
    report = json.loads(out.strip().splitlines()[-1])
    assert set(report) == set(targets)
    scale = max(1.0, float(np.abs(expected).max()))
    config = json.loads(json.dumps(model.get_config()))
    vocabulary = list(getattr(model, "vocabulary", None) or [])
    for format, result in report.items():
        assert result["shape"] == list(expected.shape), (format, result["shape"])
        assert result["max_diff"] < EXPORT_TOLERANCE[format] * scale, (format, result["max_diff"])
        if registry.FORMATS[format].reloads_model:
            assert (result["type"], result["name"]) == (type(model).__name__, model.name), format
            assert result["config"] == config, format
            assert result["vocabulary"] == vocabulary, format
    return report
