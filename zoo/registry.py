"""Model registry: named constructors, looked up by name or shell pattern.

Every model family registers its public constructors here with
`@register_model`; `create_model` and `list_models` are the only way the rest
of the package (training CLI, export, benchmarks, tests) discovers models, so a
newly registered model is trained, exported and tested without further wiring.

Example:
>>> import zoo
>>> zoo.list_models("resnet1*")
['resnet101', 'resnet110', 'resnet152', 'resnet18']
"""

import difflib
import fnmatch

_MODEL_CONSTRUCTORS = {}


def register_model(constructor):
    """Registers a model constructor under its function name.

    Args:
        constructor: callable. Returns a model; keyword arguments are the
            model's overrides (`num_classes=...`, `input_shape=...`).

    Returns:
        The constructor itself, so this works as a decorator.

    Raises:
        ValueError: if another constructor already holds the name.
    """
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
    return constructor


def list_models(pattern="*"):
    """Lists registered model names matching a shell-style pattern.

    Args:
        pattern: str. `fnmatch` pattern, e.g. `"resnet*"` or `"resnet[235]?"`.

    Returns:
        Sorted list of names.
    """
    if not isinstance(pattern, str):
        raise ValueError(f"pattern must be a string, received pattern={pattern!r}")
    return sorted(n for n in _MODEL_CONSTRUCTORS if fnmatch.fnmatchcase(n, pattern))


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
