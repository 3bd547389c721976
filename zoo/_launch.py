"""The zoo's command lines pick TensorFlow's faster CPU kernels before it loads.

TensorFlow picks oneDNN or Eigen kernels once, at import; oneDNN trains the
ResNets faster on x86 (README, "Measured performance"). So a CLI, known by
the interpreter's command line, sets `TF_ENABLE_ONEDNN_OPTS=1` on x86-64
unless the user set it; `import zoo` in a library changes nothing.
"""

import os
import platform
import sys

ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
# Set beside it, so child processes still report zoo's choice as zoo's.
SET_BY_ZOO_VARIABLE = "ZOO_SET_TF_ENABLE_ONEDNN_OPTS"
# `python -m MODULE` for these modules (and their submodules) is a zoo CLI.
CLI_MODULES = ("zoo.train", "zoo.export", "zoo.predict", "benchmarks")
CLI_SCRIPTS = ("zoo-train",)
_X86_64 = ("x86_64", "amd64")

# What this process did about oneDNN, for the CLIs' first line.
decision = None


def launched_cli(argv=None):
    """The zoo CLI that started this process ("zoo.train"...), or None."""
    argv = list(getattr(sys, "orig_argv", sys.argv) if argv is None else argv)
    args = iter(argv[1:])
    for arg in args:  # the interpreter's options, as Python reads them
        if arg == "--check-hash-based-pycs":
            next(args, None)
        elif arg in ("-", "--"):
            break
        elif not arg.startswith("-"):
            return _cli_script(arg)  # python path/to/zoo-train ...
        # A cluster of one-letter options, e.g. -u, -OO, -Bm MODULE, -Xdev.
        for position, letter in enumerate(arg[1:], 1):
            if letter in "cmWX":
                value = arg[position + 1:] or next(args, "")
                if letter == "c":
                    return None
                if letter == "m":
                    return value if _is_cli_module(value) else None
                break
    return _cli_script(argv[0]) if argv else None


def _is_cli_module(module):
    return any(module == m or module.startswith(m + ".") for m in CLI_MODULES)


def _cli_script(path):
    name = os.path.basename(path)
    return name if name in CLI_SCRIPTS else None


def prefer_onednn(environ=None, machine=None, tensorflow_loaded=None):
    """Sets `TF_ENABLE_ONEDNN_OPTS=1` where that is the CLI's default; returns (and keeps in
    `decision`) a sentence saying what was decided and why.
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
