"""`benchmarks.xla`'s kernel-library settings (--onednn): which to measure,
each in a process of its own, what ran, and the merge of their records.

On a CPU TensorFlow runs either oneDNN's kernels or its own Eigen ones,
decided once when it is imported, from TF_ENABLE_ONEDNN_OPTS: so each
setting runs in a child process, `python -m benchmarks.xla --onednn=SETTING
...` with the variable set, unless this process already runs it.

Example:
>>> onednn_plan(["off"], gpu=False, machine="x86_64")["settings"]
['off']
"""

import json
import os
import pathlib
import platform
import shlex
import sys

import tensorflow as tf

from benchmarks import common

NAME = "xla"
MODULE = f"benchmarks.{NAME}"
ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
ONEDNN_SETTINGS = {
    "on": {"env": "1", "platform": "cpu/onednn", "label": "oneDNN"},
    "off": {"env": "0", "platform": "cpu/eigen", "label": "Eigen"},
}
NOT_APPLICABLE = "n/a"  # the one setting of a GPU or non-x86 host: not varied
# Set in a child's environment to the setting it runs: such a process
# measures in-process whatever kernels it got (and records a mismatch).
CHILD_VARIABLE = "BENCHMARKS_XLA_CHILD"
X86_64 = ("x86_64", "amd64")
STDERR_TAIL_LINES = 20
REPO = pathlib.Path(__file__).resolve().parents[1]
# The goal for the zoo's defaults: on every platform, the path a model's own
# compile() picks trains at >= this fraction of the best path's examples/s.
GOAL_DEFAULT_VS_BEST = 0.95


def current_setting():
    """The --onednn setting this process runs: "on" or "off"."""
    import zoo

    return "on" if zoo.ops.onednn_enabled() else "off"


def onednn_plan(requested=None, gpu=None, machine=None):
    """Which kernel-library settings to measure here.

    Args:
        requested: list of "on"/"off" (--onednn), or None for the default.
        gpu: whether TensorFlow sees a GPU (default: asked).
        machine: `platform.machine()` (default: this one).

    Returns:
        `{"applicable", "settings", "requested", "reason"}`: on an x86-64
        CPU host the requested settings (default on, off); on a GPU or
        non-x86 host the single setting "n/a".

    >>> onednn_plan(None, gpu=False, machine="x86_64")["settings"]
    ['on', 'off']
    >>> plan = onednn_plan(["on", "off"], gpu=True, machine="x86_64")
    >>> plan["applicable"], plan["settings"]
    (False, ['n/a'])
    """
    if gpu is None:
        gpu = bool(tf.config.list_physical_devices("GPU"))
    machine = (machine or platform.machine()).lower()
    asked = f" (--onednn={','.join(requested)} ignored)" if requested else ""
    if gpu:
        reason = ("GPU host: the models run on the GPU (cuDNN kernels); oneDNN is "
                  f"TensorFlow's CPU kernel library, not varied here{asked}")
    elif machine not in X86_64:
        reason = f"{machine} CPU: the oneDNN setting is varied on x86-64 CPUs only{asked}"
    else:
        return {"applicable": True, "settings": list(requested or ONEDNN_SETTINGS),
                "requested": requested,
                "reason": ("x86-64 CPU host: TensorFlow runs either oneDNN's CPU kernels or "
                           f"its own (Eigen), chosen by {ONEDNN_VARIABLE} when it is imported; "
                           "each setting is measured in a process of its own")}
    return {"applicable": False, "settings": [NOT_APPLICABLE], "requested": requested,
            "reason": reason}


def measures_in_process(plan):
    """Whether `plan`'s one setting is measured in this process: it is not
    varied (GPU, non-x86), this process already runs it, or this process is
    the child started for it (which measures whatever kernels it got, and
    flags a mismatch, rather than starting another)."""
    if len(plan["settings"]) != 1:
        return False
    setting = plan["settings"][0]
    return (not plan["applicable"] or setting == current_setting()
            or os.environ.get(CHILD_VARIABLE) == setting)


def decided_by(setting):
    """Who set TF_ENABLE_ONEDNN_OPTS in a child of this benchmark, or None."""
    if os.environ.get(CHILD_VARIABLE) == setting and setting in ONEDNN_SETTINGS:
        return (f"{ONEDNN_VARIABLE}={os.environ.get(ONEDNN_VARIABLE)} set by the parent "
                f"{MODULE} for --onednn={setting}")
    return None


def kernels_read_back(setting):
    """The kernel library this process runs, read back, and what was asked."""
    import zoo
    from zoo import _launch

    return {
        "requested": setting,
        "expected_platform": ONEDNN_SETTINGS.get(setting, {}).get("platform"),
        "platform": zoo.ops.tensorflow_platform(),
        "onednn_enabled": zoo.ops.onednn_enabled(),
        ONEDNN_VARIABLE: os.environ.get(ONEDNN_VARIABLE),
        "describe": zoo.ops.describe(),
        "decided_by": decided_by(setting) or _launch.decision,
    }


def seen_kernels(models):
    """Convolution/matmul executions of every traced path, summed by library,
    and each model's library per path."""
    totals = {"onednn": 0, "eigen": 0, "xla": 0, "onednn_ops": 0}
    per_model = {}
    for name, entry in models.items():
        for path, row in (entry.get("paths") or {}).items():
            counts = (row.get("evidence") or {}).get("kernels")
            if not counts or counts.get("library") is None:
                continue
            per_model.setdefault(name, {})[path] = counts["library"]
            for key in totals:
                totals[key] += counts.get(key, 0)
    return totals, per_model


def kernel_mismatch(setting, platform_read_back, seen):
    """Why the kernels that ran are not the ones `setting` asked for, or None.

    Args:
        setting: "on", "off" or "n/a".
        platform_read_back: `zoo.ops.tensorflow_platform()` in that process.
        seen: `{"onednn", "eigen", "onednn_ops"}` counts from the traces.

    >>> kernel_mismatch("on", "cpu/onednn", {"onednn": 9, "eigen": 1, "onednn_ops": 12}) is None
    True
    >>> kernel_mismatch("off", "cpu/eigen", {"onednn": 0, "eigen": 9, "onednn_ops": 2})
    '--onednn=off: the traces show 2 oneDNN (_Mkl*) op executions'
    >>> kernel_mismatch("on", "cpu/eigen", {"onednn": 0, "eigen": 9, "onednn_ops": 0})
    '--onednn=on asked for cpu/onednn, TensorFlow reports cpu/eigen'
    """
    if setting not in ONEDNN_SETTINGS:
        return None
    expected = ONEDNN_SETTINGS[setting]["platform"]
    if platform_read_back != expected:
        return f"--onednn={setting} asked for {expected}, TensorFlow reports {platform_read_back}"
    if setting == "on" and seen["eigen"] and not seen["onednn"]:
        return (f"--onednn=on: the traces show {seen['eigen']} Eigen convolution/matmul "
                "executions and no oneDNN ones")
    if setting == "off" and seen["onednn_ops"]:
        return f"--onednn=off: the traces show {seen['onednn_ops']} oneDNN (_Mkl*) op executions"
    return None


def setting_record(setting, measured, process):
    """One setting's record: what was measured, the kernels read back and seen."""
    read_back = kernels_read_back(setting)
    totals, per_model = seen_kernels(measured["models"])
    label = (ONEDNN_SETTINGS[setting]["label"] if setting in ONEDNN_SETTINGS
             else read_back["platform"] or measured["device"]["kind"])
    return {
        "setting": setting,
        "label": label,
        "kernels": {**read_back, "seen": totals, "seen_per_model": per_model,
                    "mismatch": kernel_mismatch(setting, read_back["platform"], totals)},
        "process": process,
        **measured,
    }


# --------------------------------------------------------------------------
# Child processes.


def child_command(setting, output_dir, measure_args, quick):
    """The command line of the child that measures `setting`: every
    measurement flag given explicitly, so that it measures what this one would.

    >>> child_command("off", "/tmp/x", {"models": ["a", "b"], "min_repeat_s": 1.0}, True)[3:]
    ['--onednn=off', '--output_dir=/tmp/x', '--models=a,b', '--min_repeat_s=1.0', '--quick']
    """
    cmd = [sys.executable, "-m", MODULE, f"--onednn={setting}", f"--output_dir={output_dir}"]
    for name, value in measure_args.items():
        value = ",".join(value) if isinstance(value, (list, tuple)) else value
        cmd.append(f"--{name}={value!r}" if isinstance(value, float) else f"--{name}={value}")
    return cmd + (["--quick"] if quick else [])


def child_env(setting, environ=None):
    """The environment of the child measuring `setting`."""
    env = dict(os.environ if environ is None else environ)
    env[ONEDNN_VARIABLE] = ONEDNN_SETTINGS[setting]["env"]
    env[CHILD_VARIABLE] = setting
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def run_child(cmd, env, workdir, log=None):
    """Runs one child; its stderr is echoed as it comes and its last lines kept.

    Its stdout (its own report) goes to `workdir/stdout.txt`, and the result
    it writes into `workdir` is read back.

    Returns:
        `(result or None, process record)`: the record holds `command`,
        `returncode`, `wall_s`, `first_line` (of its stdout), and, when it
        failed (non-zero exit, or no result written), `stderr_tail` and
        `reason`.
    """
    log = log or (lambda message: None)
    stdout_path = os.path.join(workdir, "stdout.txt")
    with open(stdout_path, "w", encoding="utf-8") as stdout:
        returncode, wall_s, tail = common.run_process(cmd, cwd=REPO, env=env, stdout=stdout,
                                                      tail_lines=STDERR_TAIL_LINES)
    record = {"mode": "child", "command": shlex.join(["python"] + cmd[1:]),
              "env": {k: env.get(k) for k in (ONEDNN_VARIABLE, CHILD_VARIABLE)},
              "returncode": returncode, "wall_s": wall_s}
    with open(stdout_path, encoding="utf-8", errors="replace") as f:
        record["first_line"] = f.readline().rstrip("\n") or None
    if record["first_line"]:
        log(f"child said: {record['first_line']}")
    result, problem = None, None
    paths = sorted(pathlib.Path(workdir).glob(f"{NAME}_*.json"))
    if paths:
        try:
            result = json.loads(paths[0].read_text(encoding="utf-8"))
        except ValueError as exc:
            problem = f"unreadable result {paths[0].name}: {exc}"
    elif returncode == 0:
        problem = f"exited 0 but wrote no {NAME}_<device>.json"
    if returncode != 0:
        problem = f"exit code {returncode}" + (f"; {problem}" if problem else "")
    if problem:
        record["reason"] = problem
        record["stderr_tail"] = tail
    return result, record


def measure_in_children(plan, measure_args, quick, workdir, log):
    """Each setting of `plan` in a child process, one after the other.

    Returns:
        `(settings, failed)`: setting -> its record, setting -> the process
        record of a child that crashed or wrote no record for its setting.
    """
    settings, failed = {}, {}
    for i, setting in enumerate(plan["settings"], 1):
        child_dir = os.path.join(workdir, setting)
        os.makedirs(child_dir)
        log(f"[{i}/{len(plan['settings'])}] --onednn={setting} "
            f"({ONEDNN_VARIABLE}={ONEDNN_SETTINGS[setting]['env']}) in a child process")
        cmd = child_command(setting, child_dir, measure_args, quick)
        child, record = run_child(cmd, child_env(setting), child_dir, log=log)
        entry = (child or {}).get("settings", {}).get(setting)
        if entry is not None:
            settings[setting] = {**entry, "process": {**entry.get("process", {}), **record}}
        if record.get("reason") or entry is None:
            record.setdefault("reason", f"its result holds no --onednn={setting} setting")
            record.setdefault("stderr_tail", [])
            failed[setting] = record
            log(f"--onednn={setting}: FAILED ({record['reason']}); the other settings "
                "still run")
        elif settings[setting]["kernels"].get("mismatch"):
            log(f"kernel mismatch: {settings[setting]['kernels']['mismatch']}")
    return settings, failed


# --------------------------------------------------------------------------
# The merge.


def meets_default_goal(zoo_default_vs_best):
    """Whether the zoo's default path is within the goal of the best one:
    its train examples/s >= GOAL_DEFAULT_VS_BEST x the best path's (medians);
    None when either was not measured.

    >>> meets_default_goal(1.0), meets_default_goal(0.95), meets_default_goal(0.9)
    (True, True, False)
    >>> meets_default_goal(None) is None
    True
    """
    if zoo_default_vs_best is None:
        return None
    return bool(zoo_default_vs_best >= GOAL_DEFAULT_VS_BEST - 1e-12)


def headline_rows(settings, failed):
    """One row per setting and model: graph and XLA train examples/s, the best
    and the zoo's default path, the goal, and the kernels seen. A failed
    setting gives one row saying so."""
    rows = []
    for setting, record in settings.items():
        for name, entry in record.get("models", {}).items():
            paths = entry["paths"]

            def train(path):
                row = paths.get(path) if path else None
                return row["train"]["examples_per_s"] if row and row.get("train") else None

            traced = {p: r["evidence"]["kernels"] for p, r in paths.items()
                      if "kernels" in (r.get("evidence") or {})}
            xla_row = paths.get("xla") or {}
            best, default = entry["best_train_path"], entry["zoo_default_path"]
            ratio = entry.get("zoo_default_vs_best")
            if train(best) and train(default):  # of the medians, as the child computed it
                ratio = train(default)["median"] / train(best)["median"]
            rows.append({
                "model": name, "setting": setting, "label": record["label"],
                "platform": record["kernels"]["platform"],
                "graph": train("graph"), "xla": train("xla"),
                "xla_refused": bool((xla_row.get("evidence") or {}).get("xla_refused")),
                "xla_error": xla_row.get("error"),
                "best": best, "zoo_default": default,
                "zoo_default_vs_best": ratio,
                "meets_goal": meets_default_goal(ratio),
                "kernels_seen": {p: k.get("library") for p, k in traced.items()},
                "kernel_counts": {p: {lib: k.get(lib) for lib in ("onednn", "eigen", "xla")}
                                  for p, k in traced.items()},
                "mismatch": record["kernels"].get("mismatch"),
            })
    for setting, record in failed.items():
        if setting not in settings:
            rows.append({"model": None, "setting": setting,
                         "label": ONEDNN_SETTINGS.get(setting, {}).get("label", setting),
                         "failed": record.get("reason") or "failed"})
    return rows


def goal_summary(rows):
    """`{"rule", "met", "missed", "unknown"}` over the headline rows: met is
    True when every model meets the goal under every setting, False when one
    misses it, None when none misses it but some could not be judged (a
    setting that failed, a default path that was not measured)."""
    missed = [f"{r['model']} ({r['label']})" for r in rows if r.get("meets_goal") is False]
    unknown = [f"{r['model'] or 'every model'} ({r['label']})" for r in rows
               if r.get("meets_goal") is None]
    return {"rule": f"zoo default path's train examples/s >= {GOAL_DEFAULT_VS_BEST} x the "
                    "best path's (medians), for every model and kernel library",
            "met": False if missed else (None if unknown or not rows else True),
            "missed": missed, "unknown": unknown}


def merge(settings, failed, plan, config, device, description, wall_s=None):
    """The benchmark's result from each setting's record."""
    settings = {s: settings[s] for s in plan["settings"] if s in settings}
    failed = {s: failed[s] for s in plan["settings"] if s in failed}
    rows = headline_rows(settings, failed)
    device = dict(device)
    if plan["applicable"]:
        device["kernels"] = " and ".join(
            f"{ONEDNN_SETTINGS[s]['label']} (--onednn={s})" for s in plan["settings"]) + (
            ", one process each" if len(plan["settings"]) > 1 else "")
    config = {**config, "onednn": list(plan["settings"]), "wall_s": wall_s}
    return {
        **common.envelope(NAME, description, device, config),
        "onednn": plan,
        "settings": settings,
        "failed": failed,
        "mismatches": {s: r["kernels"]["mismatch"] for s, r in settings.items()
                       if r["kernels"].get("mismatch")},
        "headline": rows,
        "goal": goal_summary(rows),
    }
