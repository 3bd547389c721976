"""Freeze and unfreeze a model's top-level layers, by stage, name or depth.

Fine-tuning a pretrained network usually trains its head first, with the
body frozen, then unfreezes the later stages. `freeze` and `unfreeze` select
**top-level sublayers** (`top_level_layers(model)`: `model.layers` in call
order, any `InputLayer` left out; for a zoo ResNet: `stem_conv`,
`stage1_block1`, ..., `avg_pool`, `classifier`, `predictions`) and set their
`trainable` flag, which Keras passes down to every nested sublayer
(`ConvBN` -> `Conv2D`, `BatchNormalization` inside a `BasicBlock`).

Two Keras rules to know:

- **Recompile after changing `trainable`.** `fit()` / `train_on_batch()`
  trace their train step once, with the trainable variables of that moment;
  call `model.compile(...)` again after `freeze`/`unfreeze` (or
  `model.make_train_function(force=True)`), or the old selection trains.
- **A frozen BatchNormalization runs in inference mode.** With
  `trainable=False` a Keras 3 `BatchNormalization` normalizes with its
  moving statistics and leaves them untouched even when called with
  `training=True` (unlike Keras 2's TF1 behaviour). Frozen blocks thus stay
  bit-identical through training, moving mean and variance included.

A typical two-phase fine-tune of a zoo ResNet::

    freeze(model, upto="stage3")              # stem and stages 1-3
    model.compile(...); model.fit(...)        # trains stage 4 and the head
    unfreeze(model)                           # everything
    model.compile(optimizer=keras.optimizers.SGD(1e-3), ...); model.fit(...)

Example:
>>> import keras
>>> model = keras.Sequential([keras.Input((4,)),
...                           keras.layers.Dense(8, name="body"),
...                           keras.layers.Dense(2, name="head")])
>>> freeze(model, upto="body")
['body']
>>> [(layer.name, layer.trainable) for layer in model.layers]
[('body', False), ('head', True)]
>>> unfreeze(model)
['body', 'head']
"""

import numbers

import keras
import numpy as np

__all__ = ["freeze", "unfreeze", "top_level_layers"]

_SELECTORS = ("upto", "names", "depth", "predicate")


def top_level_layers(model):
    """The model's direct child layers, in call order.

    This is `model.layers` without `InputLayer`s: for a subclassed model
    the layers in the order its `__init__` assigned them (which zoo models
    keep equal to the call order), for a Sequential or functional model the
    order of the graph.

    Args:
        model: a `keras.Model` (or any `keras.layers.Layer` with sublayers).

    Returns:
        A list of `keras.layers.Layer`.

    Example:
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    >>> [layer.name for layer in top_level_layers(model)]
    ['d']
    """
    _check_model(model, "top_level_layers")
    layers = model.layers if hasattr(model, "layers") else \
        list(model._flatten_layers(include_self=False, recursive=False))
    return [layer for layer in layers if not isinstance(layer, keras.layers.InputLayer)]


def freeze(model, upto=None, *, names=None, depth=None, predicate=None):
    """Freezes top-level sublayers of `model`; returns the frozen names.

    Exactly one selector must be given:

    - `upto`: str. Every top-level sublayer from the first one up to and
      including the last one named `upto` or starting with `upto + "_"`:
      `upto="stage3"` freezes the stem and stages 1-3 of a ResNet,
      `upto="stage2_block1"` everything up to that block. (`"stage1"` does
      not match `"stage10_block1"`.)
    - `names`: list of str (or one str). Exactly these top-level sublayers.
    - `depth`: int in `[0, len(top_level_layers(model))]`. The first `depth`
      top-level sublayers.
    - `predicate`: callable `layer -> bool`, applied to each top-level
      sublayer; those for which it is true are frozen.

    Layers not selected keep their current `trainable` flag. Setting
    `trainable=False` reaches every nested sublayer; frozen
    `BatchNormalization` layers then use (and keep) their moving statistics
    even under `training=True`. Recompile the model afterwards: Keras traces
    the train step with the trainable variables of compile time.

    Args:
        model: a `keras.Model`.
        upto, names, depth, predicate: the selector, see above.

    Returns:
        list of str: names of the frozen top-level sublayers, in call order.

    Raises:
        TypeError: `model` is not a Keras model or layer, a selector has the
            wrong type (`upto` not a str, `depth` not an int, `predicate`
            not callable or answering something other than a bool).
        ValueError: if no selector or several are given, or the selector
            is invalid (unknown or empty name, `depth` out of range); the
            message names the argument and its value.

    Example:
    >>> model = keras.Sequential([keras.Input((4,)),
    ...                           keras.layers.Dense(8, name="stage1_dense"),
    ...                           keras.layers.Dense(8, name="stage2_dense"),
    ...                           keras.layers.Dense(2, name="classifier")])
    >>> freeze(model, upto="stage1")
    ['stage1_dense']
    >>> freeze(model, depth=2)
    ['stage1_dense', 'stage2_dense']
    >>> len(model.trainable_weights)  # the classifier's kernel and bias
    2
    >>> freeze(model, predicate=lambda layer: layer.name == "classifier")
    ['classifier']
    >>> model.trainable_weights
    []
    """
    selected = _select(model, "freeze", upto=upto, names=names, depth=depth,
                       predicate=predicate)
    for layer in selected:
        _set_trainable(layer, False)
    return [layer.name for layer in selected]


def unfreeze(model, upto=None, *, names=None, depth=None, predicate=None):
    """Makes top-level sublayers of `model` trainable; returns their names.

    Takes the selectors of `freeze` (at most one); with none, the whole
    model becomes trainable. Unfreezing a layer sets `trainable=True` on all
    of its nested sublayers too. If the model itself was frozen
    (`model.trainable = False`), unfreezing a selection makes the model
    trainable again with only that selection trainable. Recompile the model
    afterwards.

    Args:
        model: a `keras.Model`.
        upto, names, depth, predicate: the selector, see `freeze`; all None
            for every layer.

    Returns:
        list of str: names of the unfrozen top-level sublayers, in call order.

    Raises:
        TypeError, ValueError: as for `freeze` (no selector is fine here).

    Example:
    >>> model = keras.Sequential([keras.Input((4,)),
    ...                           keras.layers.Dense(8, name="body"),
    ...                           keras.layers.Dense(2, name="head")])
    >>> model.trainable = False
    >>> unfreeze(model, names=["head"])
    ['head']
    >>> [(layer.name, layer.trainable) for layer in model.layers]
    [('body', False), ('head', True)]
    >>> unfreeze(model)
    ['body', 'head']
    >>> len(model.trainable_weights)
    4
    """
    selected = _select(model, "unfreeze", upto=upto, names=names, depth=depth,
                       predicate=predicate, allow_none=True)
    if selected is None:
        _set_trainable(model, True)
        return [layer.name for layer in top_level_layers(model)]
    if not model.trainable:
        # Making the model trainable reaches every sublayer; all of them were
        # frozen (the cascade of `model.trainable = False`), so re-freeze the
        # top-level layers that were not selected.
        _set_trainable(model, True)
        chosen = {id(layer) for layer in selected}
        for layer in top_level_layers(model):
            if id(layer) not in chosen:
                _set_trainable(layer, False)
    for layer in selected:
        _set_trainable(layer, True)
    return [layer.name for layer in selected]


def _set_trainable(layer, value):
    """`layer.trainable = value` for `layer` and every nested sublayer.

    Plain assignment is not enough on the TensorFlow backend: its
    `__setattr__` skips assigning a value that is already the attribute's
    (`if getattr(self, name) is value: return`), so `block.trainable = True`
    on a block that is trainable while its BatchNormalization was frozen
    never reaches the BatchNormalization. Calling the property's setter on
    each layer, innermost ones included, sidesteps that short circuit.
    """
    for sub in layer._flatten_layers(include_self=True, recursive=True):
        prop = getattr(type(sub), "trainable", None)
        if isinstance(prop, property) and prop.fset is not None:
            prop.fset(sub, value)
        else:
            sub.trainable = value


def _check_model(model, caller):
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"{caller}() takes a keras.Model (or a Layer with sublayers), "
                        f"received model={model!r}")


def _select(model, caller, *, upto, names, depth, predicate, allow_none=False):
    """Top-level sublayers chosen by the one given selector (None: no selector).

    Every selector is checked, and the whole selection made, before any
    layer changes, so a failed call changes nothing.
    """
    _check_model(model, caller)
    given = {key: value for key, value in
             zip(_SELECTORS, (upto, names, depth, predicate)) if value is not None}
    if len(given) > 1:
        shown = ", ".join(f"{key}={value!r}" for key, value in given.items())
        raise ValueError(f"{caller}() takes exactly one of upto, names, depth, predicate; "
                         f"received {shown}")
    if not given:
        if allow_none:
            return None
        raise ValueError(f"{caller}() needs one selector: upto, names, depth or "
                         f"predicate; received none (upto=None, names=None, depth=None, "
                         f"predicate=None)")

    layers = top_level_layers(model)
    available = [layer.name for layer in layers]

    if upto is not None:
        if not isinstance(upto, str):
            raise TypeError(f"upto must be a layer name or name prefix (str), "
                            f"received upto={upto!r}")
        if not upto:
            raise ValueError(f"upto must be a non-empty layer name or name prefix, "
                             f"received upto={upto!r}; available layers: {available}")
        matches = [i for i, name in enumerate(available)
                   if name == upto or name.startswith(upto + "_")]
        if not matches:
            raise ValueError(f"upto matches no top-level layer of {model.name!r}, "
                             f"received upto={upto!r}; available layers: {available}")
        return layers[:matches[-1] + 1]

    if names is not None:
        wanted = [names] if isinstance(names, str) else names
        if not isinstance(wanted, (list, tuple, set, frozenset)) or \
                not all(isinstance(name, str) for name in wanted):
            raise TypeError(f"names must be a layer name or a non-empty list of layer "
                            f"names (str), received names={names!r}")
        if not wanted:
            raise ValueError(f"names must be a non-empty list of layer names, "
                             f"received names={names!r}")
        unknown = [name for name in wanted if name not in available]
        if unknown:
            raise ValueError(f"names has {unknown} that are not top-level layers of "
                             f"{model.name!r}, received names={names!r}; "
                             f"available layers: {available}")
        return [layer for layer in layers if layer.name in set(wanted)]

    if depth is not None:
        message = (f"depth must be an int in [0, {len(layers)}] (the number of "
                   f"top-level layers of {model.name!r}), received depth={depth!r}")
        if isinstance(depth, (bool, np.bool_)) or not isinstance(depth, numbers.Integral):
            raise TypeError(message)
        if not 0 <= depth <= len(layers):
            raise ValueError(message)
        return layers[:int(depth)]

    if not callable(predicate):
        raise TypeError(f"predicate must be a callable layer -> bool, "
                        f"received predicate={predicate!r}")
    selected = []
    for layer in layers:
        answer = predicate(layer)
        # A truthy non-bool (a name, None from a forgotten return) would
        # select layers nobody meant to.
        if not isinstance(answer, (bool, np.bool_)):
            raise TypeError(f"predicate must return True or False, received "
                            f"predicate={predicate!r}, which returned {answer!r} for "
                            f"layer {layer.name!r}")
        if answer:
            selected.append(layer)
    return selected
