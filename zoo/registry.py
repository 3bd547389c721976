"""Model registry: named constructors, looked up by name or shell pattern.

The only way the rest of the package discovers models: a newly registered
model is trained, exported, tested and benchmarked without further wiring.
"""

import difflib
import fnmatch

_MODEL_CONSTRUCTORS = {}
# name -> the family class its constructor builds (the contract, readable unbuilt).
_MODEL_FAMILIES = {}


def register_model(constructor=None, *, family=None):
    """Registers a model constructor under its function name (a decorator, bare or with `family`).

    Raises:
        ValueError: if another constructor already holds the name.
    """
    if constructor is None:
        return lambda function: register_model(function, family=family)
    name = constructor.__name__
    existing = _MODEL_CONSTRUCTORS.get(name)
    # Re-registering the same function (a module reload) is harmless.
    if existing is not None and (existing.__module__, existing.__qualname__) != (
            constructor.__module__, constructor.__qualname__):
        raise ValueError(
            f"A model named {name!r} is already registered by "
            f"{existing.__module__}.{existing.__qualname__}"
        )
    _MODEL_CONSTRUCTORS[name] = constructor
    if family is not None or existing is None:  # a bare re-registration keeps the family
        _MODEL_FAMILIES[name] = family
    return constructor


def list_models(pattern="*", pretrained=None):
    """Sorted registered names matching an `fnmatch` pattern.

    `pretrained`: None (all), True or False (whether `weights=` can load any).

    Example:
    >>> list_models("resnet*", pretrained=True)
    ['resnet101', 'resnet101_v2', 'resnet152', 'resnet152_v2', 'resnet18', 'resnet34',
     'resnet50', 'resnet50_v2']
    """
    if not isinstance(pattern, str):
        raise ValueError(f"pattern must be a string, received pattern={pattern!r}")
    if pretrained not in (None, True, False):
        raise ValueError(f"pretrained must be None, True or False, received "
                         f"pretrained={pretrained!r}")
    names = sorted(n for n in _MODEL_CONSTRUCTORS if fnmatch.fnmatchcase(n, pattern))
    if pretrained is None:
        return names
    # A model registered without a family has no record, hence no weights.
    return [n for n in names
            if bool(_MODEL_FAMILIES.get(n) and model_info(n).weights) == pretrained]


def model_info(name):
    """The record the zoo keeps of registered model `name` (`zoo.models._info.ModelInfo`).

    Example:
    >>> info = model_info("resnet20")
    >>> info.input_size, info.recipe["optimizer"], info.benchmarked
    ((32, 32, 3), 'sgd', True)
    """
    family = model_family(name)
    if family is None:
        raise ValueError(f"model {name!r} was registered without a family: it has no record")
    return family.model_info(name)


def get_constructor(name):
    """Returns the registered constructor for `name` (a ValueError lists close names)."""
    try:
        return _MODEL_CONSTRUCTORS[name]
    except (KeyError, TypeError):
        pass
    known = sorted(_MODEL_CONSTRUCTORS)
    close = difflib.get_close_matches(str(name), known, n=5, cutoff=0.5)
    hint = f" Did you mean one of {close}?" if close else ""
    raise ValueError(
        f"Unknown model name={name!r}.{hint} Registered models: {known}"
    )


def model_family(name):
    """The family class that registered model `name` builds, or None if not recorded.

    Example:
    >>> import zoo
    >>> zoo.registry.model_family("resnet20").__name__
    'ResNet'
    """
    get_constructor(name)
    return _MODEL_FAMILIES.get(name)


def create_model(name, /, **overrides):
    """Builds registered model `name` with `overrides` (`name` itself is positional-only here).

    Example:
    >>> import zoo
    >>> zoo.create_model("resnet20", num_classes=10).name
    'resnet20'
    """
    return get_constructor(name)(**overrides)
