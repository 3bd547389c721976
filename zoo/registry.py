"""Model registry: named constructors, looked up by name or shell pattern.

Every model family registers its public constructors here, with
`@Family.register` (`zoo.models.base.ZooModel.register`, which records the
family class too) or a plain `@register_model`; `create_model`,
`list_models` and `model_family` are the only way the rest of the package
(training CLI, export, benchmarks, tests) discovers models, so a newly
registered model is trained, exported, tested and benchmarked without
further wiring.

Example:
>>> import zoo
>>> zoo.list_models("resnet1*")
['resnet101', 'resnet110', 'resnet152', 'resnet18']
"""

import difflib
import fnmatch

_MODEL_CONSTRUCTORS = {}
# name -> the class its constructor builds, for constructors registered with
# a family: what code outside the family reads the contract from before (or
# without) building a model.
_MODEL_FAMILIES = {}


def register_model(constructor=None, *, family=None):
    """Registers a model constructor under its function name.

    Args:
        constructor: callable. Returns a model; keyword arguments are the
            model's overrides (`num_classes=...`, `input_shape=...`).
        family: the class the constructor builds (a `ZooModel` subclass,
            whose class attributes are the family contract), or None.
            Family modules register through `@Family.register`, which
            passes it.

    Returns:
        The constructor itself, so this works as a decorator, bare
        (`@register_model`) or with a family (`@register_model(family=...)`).

    Raises:
        ValueError: if another constructor already holds the name.
    """
    if constructor is None:
        return lambda function: register_model(function, family=family)
    name = constructor.__name__
    existing = _MODEL_CONSTRUCTORS.get(name)
    # Re-registering the same function (a module reload) is harmless; two
    # different functions under one name would make lookups ambiguous.
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
    """Lists registered model names matching a shell-style pattern.

    Args:
        pattern: str. `fnmatch` pattern, e.g. `"resnet*"` or `"resnet[235]?"`.
        pretrained: None (every model), True (only those `weights=` can
            load pretrained weights into, per `model_info(name).weights`)
            or False (only those without).

    Returns:
        Sorted list of names.

    Example:
    >>> list_models("resnet*", pretrained=True)
    ['resnet101', 'resnet152', 'resnet18', 'resnet34', 'resnet50']
    """
    if not isinstance(pattern, str):
        raise ValueError(f"pattern must be a string, received pattern={pattern!r}")
    if pretrained not in (None, True, False):
        raise ValueError(f"pretrained must be None, True or False, received "
                         f"pretrained={pretrained!r}")
    names = sorted(n for n in _MODEL_CONSTRUCTORS if fnmatch.fnmatchcase(n, pattern))
    if pretrained is None:
        return names
    return [n for n in names if bool(model_info(n).weights) == pretrained]


def model_info(name):
    """The record the zoo keeps of registered model `name` (`zoo.models._info.ModelInfo`).

    Its default input size, the preprocessing and origin of each source of
    pretrained weights, its training recipe, measured XLA defaults,
    benchmark membership and small test overrides, as data.

    Raises:
        ValueError: for an unknown name, as `create_model` does.

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
    """Returns the registered constructor for `name`.

    Raises:
        ValueError: for an unknown name, listing the closest registered names.
    """
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
    """The class that registered model `name` builds, or None if not recorded.

    Its class attributes are the family contract (`zoo.models.base.ZooModel`):
    `modality`, `small_overrides`, `training_defaults`, ...

    Raises:
        ValueError: for an unknown name, as `create_model` does.

    Example:
    >>> import zoo
    >>> zoo.registry.model_family("resnet20").__name__
    'ResNet'
    """
    get_constructor(name)
    return _MODEL_FAMILIES.get(name)


def create_model(name, /, **overrides):
    """Builds a registered model.

    Args:
        name: str. A name from `list_models()`.
        **overrides: keyword arguments passed to the constructor (`name`
            included: `name` itself is positional-only here).

    Returns:
        The model.

    Example:
    >>> import zoo
    >>> zoo.create_model("resnet20", num_classes=10).name
    'resnet20'
    """
    return get_constructor(name)(**overrides)
