"""The zoo's command lines pick TensorFlow's faster CPU kernels before it loads.

TensorFlow decides once, when it is imported, whether its CPU ops run
oneDNN's kernels or its own (Eigen): on by default only on CPUs with AVX-512
VNNI/BF16 or AMX, otherwise off unless `TF_ENABLE_ONEDNN_OPTS=1` is set.
oneDNN trains the zoo's ResNets 1.3x to 3.2x faster on the x86 CPUs measured
(and the other models about as fast; README, "Measured performance") and is
the only TensorFlow CPU path with channels_first convolutions, so
`python -m zoo.train`, `python -m zoo.export`, `zoo-train` and
`python -m benchmarks...` set `TF_ENABLE_ONEDNN_OPTS=1` first, on x86-64,
unless the user set the variable (any value is theirs to choose).

`python -m zoo.train` imports the `zoo` package before its `__main__`
runs, so the CLI is recognised here, from the command line Python was
started with, by `zoo/__init__.py` before it imports anything else. A
library user's `import zoo` changes nothing: set the variable yourself
before importing TensorFlow (README). Standard library only.
"""

import os
import platform
import sys

ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
# Set beside it when zoo set it, so child processes (the benchmark runner's)
# still report zoo's choice as zoo's.
SET_BY_ZOO_VARIABLE = "ZOO_SET_TF_ENABLE_ONEDNN_OPTS"
# `python -m MODULE` for these modules (and their submodules) is a zoo CLI.
CLI_MODULES = ("zoo.train", "zoo.export", "zoo.predict", "benchmarks")
CLI_SCRIPTS = ("zoo-train",)
_X86_64 = ("x86_64", "amd64")

# What this process did about oneDNN, for the CLIs' first line.
decision = None


def launched_cli(argv=None):
    """The zoo command this process was started as, or None.

    Args:
        argv: the interpreter's command line (default `sys.orig_argv`).

    Returns:
        `"zoo.train"`, `"zoo.export"`, `"benchmarks.xla"`... for
        `python [options] -m MODULE`, the script name for `zoo-train`, or None.

    Example:
    >>> launched_cli(["python3", "-X", "dev", "-m", "zoo.train", "--epochs=1"])
    'zoo.train'
    >>> launched_cli(["python3", "-m", "pytest"]) is None
    True
    """
    argv = list(getattr(sys, "orig_argv", sys.argv) if argv is None else argv)
    index = 1
    while index < len(argv):
        arg = argv[index]
        if arg == "--check-hash-based-pycs":
            index += 2
            continue
        if arg in ("-", "--") or not arg.startswith("-"):
            break
        # A cluster of one-letter options, e.g. -u, -OO, -Bm MODULE, -Xdev.
        for position, letter in enumerate(arg[1:], 1):
            if letter in "cmWX":
                value = arg[position + 1:]
                if not value:
                    index += 1
                    value = argv[index] if index < len(argv) else ""
                if letter == "c":
                    return None
                if letter == "m":
                    return value if _is_cli_module(value) else None
                break
        index += 1
    else:
        return _cli_script(argv[0]) if argv else None
    if index < len(argv) and argv[index] not in ("-", "--"):
        return _cli_script(argv[index])  # python path/to/zoo-train ...
    return _cli_script(argv[0]) if argv else None


def _is_cli_module(module):
    return any(module == m or module.startswith(m + ".") for m in CLI_MODULES)


def _cli_script(path):
    name = os.path.basename(path)
    return name if name in CLI_SCRIPTS else None


def prefer_onednn(environ=None, machine=None, tensorflow_loaded=None):
    """Sets `TF_ENABLE_ONEDNN_OPTS=1` where that is the CLI's default to set.

    Args:
        environ: the environment to change (default `os.environ`).
        machine: `platform.machine()` (for tests).
        tensorflow_loaded: whether TensorFlow is imported already (too
            late to choose); default: looked up in `sys.modules`.

    Returns:
        A sentence saying what was decided and why (also kept in `decision`).

    Example:
    >>> prefer_onednn({}, machine="x86_64", tensorflow_loaded=False)
    'TF_ENABLE_ONEDNN_OPTS=1 set by zoo (oneDNN: measured faster for convolutions)'
    >>> prefer_onednn({"TF_ENABLE_ONEDNN_OPTS": "0"}, machine="x86_64", tensorflow_loaded=False)
    'TF_ENABLE_ONEDNN_OPTS=0 set by the user'
    """
    global decision
    environ = os.environ if environ is None else environ
    machine = (platform.machine() if machine is None else machine).lower()
    if tensorflow_loaded is None:
        tensorflow_loaded = "tensorflow" in sys.modules
    if ONEDNN_VARIABLE in environ:
        value = environ[ONEDNN_VARIABLE]
        who = "zoo" if environ.get(SET_BY_ZOO_VARIABLE) == value else "the user"
        decision = f"{ONEDNN_VARIABLE}={value} set by {who}"
    elif machine not in _X86_64:
        decision = f"{ONEDNN_VARIABLE} unset: TensorFlow's default on {machine}"
    elif tensorflow_loaded:
        decision = f"{ONEDNN_VARIABLE} unset: TensorFlow was imported before zoo"
    else:
        environ[ONEDNN_VARIABLE] = environ[SET_BY_ZOO_VARIABLE] = "1"
        decision = f"{ONEDNN_VARIABLE}=1 set by zoo (oneDNN: measured faster for convolutions)"
    return decision


def configure():
    """What `import zoo` does first: the CLI default, and nothing for a library user."""
    if launched_cli() is not None:
        prefer_onednn()
