"""One way for the zoo's absl command lines to reject bad input: exit 2, usage, no traceback.

absl exits 1 for a bad flag as for a failed run; the zoo's CLIs follow
argparse instead (status 2 and a usage line), so scripts can tell them apart.
"""

import sys

USAGE_EXIT_CODE = 2


def usage_exit(prog, message):
    """Prints the usage error (argparse's two lines) to stderr; exits with 2."""
    print(f"usage: python -m {prog} [--flag=value ...] "
          "(--helpfull lists the flags)", f"{prog}: error: {message}",
          sep="\n", file=sys.stderr)
    sys.exit(USAGE_EXIT_CODE)


def run(main, prog):
    """`absl.app.run(main)`; `app.UsageError` and flag errors exit as `usage_exit`."""
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
