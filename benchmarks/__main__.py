"""Runs every benchmark, then merges their results into one report.

Each benchmark runs in its own process,

    python -m benchmarks.NAME --output_dir=DIR [--quick] [--repeats=N]

one after the other (they time the whole machine, so never two at once), so
a crash of one is recorded (its name, exit code and the last lines of its
stderr) and the others still run. Then `benchmarks.report` merges the
results in DIR into `<device>.json`, `<device>.md` and one chart per
benchmark, `<name>_<device>.png` (the charts need matplotlib: `pip install
-e ".[bench]"`). The exit code is non-zero when any benchmark failed.

--quick is a smoke run of every benchmark: every path exercised once, on the
smallest models that take it (xla and export: the smallest default model of
each modality, `common.smallest_models`, plus for export the smallest with
BatchNorm to fold), small inputs and batches, 1 warm-up call and 2 short
repeats. Compiling (tracing, Grappler, XLA) is most of its time, so fewer
models is what makes it quick: about 4 minutes on 2 CPU cores, against 13
with every default model (XLA compiles of the convolutional models under
both kernel libraries took 9 of them). Its figures are not to be quoted.

Usage:
  python -m benchmarks                                 # all, into benchmarks/results
  python -m benchmarks --quick --output_dir=/tmp/bench # smoke run, ~4 min on 2 cores
  python -m benchmarks --benchmarks=xla,cudnn --repeats=7
  python -m benchmarks.report --output_dir=DIR         # only rebuild the report
"""

import os
import pathlib
import shlex
import sys
import time

from absl import app, flags

from benchmarks import common, report

MODULE = "benchmarks"
# name -> module run as `python -m MODULE`. Order: cheap and independent first.
MIN_REPEATS = 5
BENCHMARKS = {
    "resnet_vs_keras": "benchmarks.resnet_vs_keras",
    "cudnn": "benchmarks.cudnn",
    "export": "benchmarks.export",
    "data": "benchmarks.data",
    "xla": "benchmarks.xla",
}
STDERR_TAIL_LINES = 20
REPO = pathlib.Path(__file__).resolve().parents[1]
DEVICES = ("cpu", "gpu")


def define_flags(flag_values):
    """Defines the command-line flags on `flag_values` (see `common.main`)."""
    flags.DEFINE_list("benchmarks", list(BENCHMARKS), "Benchmarks to run, from "
                      f"{','.join(BENCHMARKS)} (default: all).", flag_values=flag_values)
    flags.DEFINE_string("output_dir", "benchmarks/results", "Directory for every benchmark's "
                        "results and the report (created if missing).", flag_values=flag_values)
    flags.DEFINE_boolean("quick", False, "Pass --quick to every benchmark: a smoke run, "
                         "every path once on the smallest models, small inputs, 2 short "
                         "repeats (figures not to quote).", flag_values=flag_values)
    flags.DEFINE_integer("repeats", None, "Pass --repeats=N to every benchmark (default: each "
                         "one's own).", lower_bound=1, flag_values=flag_values)


def check_flags(flag_values):
    """Known benchmarks; at least 5 timed repeats for a published figure
    (fewer only with --quick); a writable --output_dir. Returns its path."""
    names = [n.strip() for n in flag_values.benchmarks if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if not names or unknown:
        raise app.UsageError(
            f"--benchmarks={','.join(flag_values.benchmarks)!r}: "
            + (f"unknown benchmark(s) {', '.join(unknown)}; " if unknown else "empty; ")
            + f"choose from {','.join(BENCHMARKS)}")
    flag_values.benchmarks = list(dict.fromkeys(names))
    return common.check_flags(flag_values, {}, min_repeats=MIN_REPEATS)


def command(name, output_dir, quick=False, repeats=None):
    """The command line that runs benchmark `name`."""
    cmd = [sys.executable, "-m", BENCHMARKS[name], f"--output_dir={output_dir}"]
    if quick:
        cmd.append("--quick")
    if repeats is not None:
        cmd.append(f"--repeats={repeats}")
    return cmd


def _child_env():
    """This environment, with the repository on PYTHONPATH so `-m benchmarks.NAME`
    imports this checkout's packages whatever the working directory."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def run_one(name, cmd, log=print):
    """Runs one benchmark: its stdout passes through, its stderr is echoed and
    its last lines kept.

    Returns:
        `{"returncode", "wall_s", "stderr_tail", "command"}`.
    """
    returncode, wall_s, tail = common.run_process(cmd, cwd=REPO, env=_child_env(),
                                                  tail_lines=STDERR_TAIL_LINES)
    return {"returncode": returncode, "wall_s": wall_s, "stderr_tail": tail,
            "command": shlex.join(["python"] + cmd[1:])}


def fresh_results(output_dir, name, since):
    """Devices for which `name` wrote `<name>_<device>.json` at or after `since`."""
    devices = []
    for device in DEVICES:
        path = os.path.join(output_dir, f"{name}_{device}.json")
        try:
            if os.path.getmtime(path) >= since - 1.0:
                devices.append(device)
        except OSError:
            pass
    return devices


def device_kind():
    """"gpu" when TensorFlow sees a GPU (where the benchmarks then run), else "cpu"."""
    import tensorflow as tf

    return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"


def run_from_flags(flag_values, output_dir):
    """Runs the benchmarks and writes the report; returns the exit code."""
    names = flag_values.benchmarks
    # What the benchmarks will run on; this process only starts them, so it
    # leaves the devices (a GPU's memory) alone.
    common.print_launch_line(MODULE, initialize_devices=False)

    total_start = time.perf_counter()
    runs, failed, devices = {}, {}, []
    interrupted = False
    for i, name in enumerate(names, 1):
        cmd = command(name, output_dir, quick=flag_values.quick, repeats=flag_values.repeats)
        print(f"[{i}/{len(names)}] {name}: {shlex.join(['python'] + cmd[1:])}",
              flush=True)
        started = time.time()
        try:
            record = run_one(name, cmd)
        except KeyboardInterrupt:
            failed[name] = {"returncode": None, "reason": "interrupted", "stderr_tail": []}
            print(f"[{i}/{len(names)}] {name}: interrupted; writing the report",
                  flush=True)
            interrupted = True
            break
        runs[name] = record
        wrote = fresh_results(output_dir, name, started)
        if record["returncode"] != 0:
            failed[name] = {**record, "reason": f"exit code {record['returncode']}"}
            status = f"FAILED (exit code {record['returncode']})"
        elif not wrote:
            failed[name] = {**record, "reason": f"exited 0 but wrote no {name}_<device>.json"}
            status = "FAILED (no result file written)"
        else:
            devices += [d for d in wrote if d not in devices]
            status = "ok"
        print(f"[{i}/{len(names)}] {name}: {status} in {record['wall_s']:.1f} s",
              flush=True)
    total_s = time.perf_counter() - total_start

    print("\nwall time per benchmark:", flush=True)
    for name, record in runs.items():
        mark = "" if name not in failed else f"  FAILED: {failed[name]['reason']}"
        print(f"  {name:<16} {record['wall_s']:7.1f} s{mark}")
    print(f"  {'total':<16} {total_s:7.1f} s", flush=True)

    runner = {
        "command": shlex.join(["python", "-m", MODULE]
                              + [flag_values[n].serialize() for n in
                                 ("benchmarks", "output_dir", "quick", "repeats")
                                 if flag_values[n].present]),
        "benchmarks": names,
        "quick": flag_values.quick,
        "repeats": flag_values.repeats,
        "wall_s": {name: record["wall_s"] for name, record in runs.items()},
        "total_s": total_s,
    }
    names = list(dict.fromkeys(list(report.BENCHMARKS) + list(BENCHMARKS)))
    # Failures belong to this machine's device: the first one results were written for.
    devices = devices or [device_kind()]
    for device in devices:
        report.write_report(output_dir, device, names=names,
                            failed=failed if device == devices[0] else None, runner=runner)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr, flush=True)
    if interrupted:
        return 130
    return 1 if failed else 0


if __name__ == "__main__":
    common.main(MODULE, define_flags, check_flags, run_from_flags, launch=False)
