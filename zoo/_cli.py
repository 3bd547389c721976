"""One way for the zoo's absl command lines to reject bad input: exit 2, usage, no traceback.

absl's `app.run` exits 1 both for a flag it cannot parse and for an
`app.UsageError`, the status of a failed run, and prints the module
docstring before the error. The zoo's CLIs follow argparse's convention
instead, so scripts and CI can tell "you called it wrong" from "it ran and
failed": a usage error prints

    usage: python -m zoo.train [--flag=value ...] (--helpfull lists the flags)
    zoo.train: error: --epochs=0: must be >= 1

to stderr and exits with status 2, before any work starts.

Example:
>>> usage_message("zoo.train", "--epochs=0: must be >= 1").splitlines()[1]
'zoo.train: error: --epochs=0: must be >= 1'
"""

import sys

USAGE_EXIT_CODE = 2


def usage_message(prog, message):
    """The two lines a usage error prints (argparse's layout)."""
    return (f"usage: python -m {prog} [--flag=value ...] (--helpfull lists the flags)\n"
            f"{prog}: error: {message}")


def usage_exit(prog, message):
    """Prints the usage error to stderr and exits with status 2."""
    print(usage_message(prog, message), file=sys.stderr)
    sys.exit(USAGE_EXIT_CODE)


def run(main, prog):
    """`absl.app.run(main)`, with usage errors as `usage_exit` reports them.

    Args:
        main: `main(argv)` of an absl program; raising `app.UsageError`
            (or `flags.ValidationError`) in it is a usage error.
        prog: str. The module name users type after `python -m`.
    """
    from absl import app, flags

    def parse(argv):
        try:
            return flags.FLAGS(argv)
        except flags.Error as error:
            usage_exit(prog, str(error).strip())

    def checked_main(argv):
        try:
            return main(argv)
        except (app.UsageError, flags.ValidationError) as error:
            usage_exit(prog, str(error).strip())

    app.run(checked_main, flags_parser=parse)
