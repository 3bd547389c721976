"""Runs the registered benchmarks, each in a process of its own, and writes the report.

Usage: `python -m benchmarks [--quick] [--output_dir=DIR] [--benchmarks=xla,cudnn]`.
"""

import shlex
import sys
import time

from benchmarks import common, report

COMMON = ("output_dir", "quick", "repeats")
DEFAULTS = {"repeats": None}
FLAGS = {"benchmarks": common.flag(lambda: list(common.BENCHMARKS), "Benchmarks to run "
                                   "(default: all registered).", kind="list",
                                   choices=lambda: list(common.BENCHMARKS))}
MIN_REPEATS = 5
LAUNCH = False


def run(benchmarks, output_dir, quick, repeats):
    """Runs the benchmarks and writes the report; returns the exit code."""
    # This process only starts the others: it leaves the devices (a GPU's memory) alone.
    print(common.launch_line("benchmarks", initialize_devices=False), flush=True)
    start, runs, failed, devices = time.perf_counter(), {}, {}, []
    for i, name in enumerate(benchmarks, 1):
        cmd = common.command_line(common.BENCHMARKS[name], output_dir=output_dir, quick=quick,
                                  repeats=repeats)
        print(f"[{i}/{len(benchmarks)}] {name}: {shlex.join(['python'] + cmd[1:])}", flush=True)
        try:
            record, wrote = runs[name] = common.run_benchmark(cmd, output_dir, name)
        except KeyboardInterrupt:
            failed[name] = {"returncode": None, "reason": "interrupted", "stderr_tail": []}
            print(f"[{i}/{len(benchmarks)}] {name}: interrupted; writing the report", flush=True)
            break
        if "reason" in record:
            failed[name] = record
        devices += [d for d in wrote if d not in devices]
        status = "ok" if name not in failed else "FAILED ({})".format(
            "no result file written" if record["returncode"] == 0 else record["reason"])
        print(f"[{i}/{len(benchmarks)}] {name}: {status} in {record['wall_s']:.1f} s", flush=True)
    total_s = time.perf_counter() - start
    print("\nwall time per benchmark:\n" + "".join(
        f"  {name:<16} {r['wall_s']:7.1f} s"
        + (f"  FAILED: {failed[name]['reason']}" if name in failed else "") + "\n"
        for name, (r, _) in runs.items()) + f"  {'total':<16} {total_s:7.1f} s", flush=True)
    runner = {"command": " ".join(["python", "-m", "benchmarks"] + sys.argv[1:]),
              "benchmarks": benchmarks, "quick": quick, "repeats": repeats,
              "wall_s": {name: r["wall_s"] for name, (r, _) in runs.items()}, "total_s": total_s}
    # Failures belong to this machine's device: the first one results were written for.
    devices = devices or [common.device_info()["kind"]]
    for device in devices:
        report.write_report(output_dir, device, failed=failed if device == devices[0] else None,
                            runner=runner)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr, flush=True)
    interrupted = any(r.get("reason") == "interrupted" for r in failed.values())
    return 130 if interrupted else 1 if failed else 0


if __name__ == "__main__":
    common.main(__name__)
