"""Freeze and unfreeze a model's top-level layers, by stage, name or depth.

`trainable` reaches every nested sublayer. Recompile after a change (Keras
traces the train step with compile time's trainable variables); a frozen
BatchNormalization runs in inference mode and keeps its statistics.
"""

import numbers

import keras
import numpy as np

__all__ = ["freeze", "unfreeze", "top_level_layers"]


def top_level_layers(model):
    """The model's direct child layers, in call order (`model.layers` without `InputLayer`s).

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

    Exactly one selector: `upto` (every layer up to the last one named
    `upto` or starting with `upto + "_"`), `names` (a str or a list),
    `depth` (the first `depth` layers) or `predicate` (`layer -> bool`).
    Unselected layers keep their flag; a failed call changes nothing.

    Example:
    >>> model = keras.Sequential([keras.Input((4,)),
    ...                           keras.layers.Dense(8, name="stage1_dense"),
    ...                           keras.layers.Dense(8, name="stage2_dense"),
    ...                           keras.layers.Dense(2, name="classifier")])
    >>> freeze(model, upto="stage1")
    ['stage1_dense']
    >>> freeze(model, depth=2)
    ['stage1_dense', 'stage2_dense']
    """
    selected = _select(model, "freeze", upto=upto, names=names, depth=depth,
                       predicate=predicate)
    for layer in selected:
        _set_trainable(layer, False)
    return [layer.name for layer in selected]


def unfreeze(model, upto=None, *, names=None, depth=None, predicate=None):
    """Makes top-level sublayers of `model` trainable; returns their names.

    Takes the selectors of `freeze` (at most one; none: the whole model).
    On a frozen model only the selection becomes trainable.

    Example:
    >>> model = keras.Sequential([keras.Input((4,)),
    ...                           keras.layers.Dense(8, name="body"),
    ...                           keras.layers.Dense(2, name="head")])
    >>> model.trainable = False
    >>> unfreeze(model, names=["head"])
    ['head']
    >>> [(layer.name, layer.trainable) for layer in model.layers]
    [('body', False), ('head', True)]
    """
    selected = _select(model, "unfreeze", upto=upto, names=names, depth=depth,
                       predicate=predicate, allow_none=True)
    if selected is None:
        selected = top_level_layers(model)
    if not model.trainable:
        # Unfreezing the model reaches every sublayer: re-freeze the others.
        _set_trainable(model, True)
        for layer in top_level_layers(model):
            if not any(layer is chosen for chosen in selected):
                _set_trainable(layer, False)
    for layer in selected:
        _set_trainable(layer, True)
    return [layer.name for layer in selected]


def _set_trainable(layer, value):
    """`layer.trainable = value` for `layer` and every nested sublayer.

    Through the setter: TensorFlow's `__setattr__` skips an unchanged value.
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
    """Top-level sublayers chosen by the one selector given (None: none)."""
    _check_model(model, caller)
    selectors = dict(upto=upto, names=names, depth=depth, predicate=predicate)
    given = [key for key, value in selectors.items() if value is not None]
    if len(given) > 1 or not (given or allow_none):
        received = ", ".join(f"{k}={v!r}" for k, v in selectors.items())
        raise ValueError(f"{caller}() takes exactly one selector, received "
                         f"{len(given) or 'none'}: {received}")
    if not given:
        return None
    layers = top_level_layers(model)
    available = [layer.name for layer in layers]

    if upto is not None:
        if not isinstance(upto, str):
            raise TypeError(f"upto must be a layer name or name prefix (str), "
                            f"received upto={upto!r}")
        matches = [i for i, name in enumerate(available)
                   if upto and (name == upto or name.startswith(upto + "_"))]
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
        # A truthy non-bool (None from a forgotten return) would select by accident.
        if not isinstance(answer, (bool, np.bool_)):
            raise TypeError(f"predicate must return True or False, received "
                            f"predicate={predicate!r}, which returned {answer!r} for "
                            f"layer {layer.name!r}")
        if answer:
            selected.append(layer)
    return selected
