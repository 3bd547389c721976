"""`python -m benchmarks` (the runner) and `benchmarks.report` on small
synthetic results. Never runs the real benchmarks: each has its own test."""

import json
import pathlib
import sys
import textwrap

import pytest

from benchmarks import __main__ as runner
from benchmarks import common, report

REPO = pathlib.Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _s(median, low=None, high=None):
    return {"median": median, "min": median if low is None else low,
            "max": median if high is None else high}


def _common(name, timestamp="2026-01-01T00:00:00+00:00"):
    return {"benchmark": name, "timestamp": timestamp,
            "device": {"kind": "cpu", "name": "Test CPU", "kernels": "Eigen",
                       "gpu_found": False},
            "versions": {"tensorflow": "2.99", "keras": "3.99", "python": "3.11"}}


def synthetic_results():
    """One small result per benchmark, shaped as each benchmark writes it."""
    def xla_paths(eager, graph, xla, utilization=(None, None, None)):
        return {p: {"train": {"examples_per_s": v}, "utilization": u} for p, v, u in
                zip(("eager", "graph", "xla"), (eager, graph, xla), utilization)}

    return {
        "xla": {**_common("xla"), "config": {}, "matmul": {}, "models": {
            "resnet20": {
                "paths": xla_paths(_s(50.0, 45.0, 55.0), _s(100.0, 90.0, 110.0),
                                   _s(150.0, 140.0, 160.0), (0.1, 0.2, 0.42)),
                "best_train_path": "xla", "zoo_default_path": "xla",
                "keras_default_path": "graph", "zoo_default_vs_best": _s(1.0),
                "zoo_default_vs_keras_default": _s(1.5, 1.4, 1.6),
                "meets_75pct_goal": False},
            "einsum_mlp": {
                "paths": xla_paths(_s(300.0), _s(400.0), _s(200.0)),
                "best_train_path": "graph", "zoo_default_path": "graph",
                "keras_default_path": "graph"},
        }},
        "resnet_vs_keras": {**_common("resnet_vs_keras"), "models": [
            {"name": "keras_resnet50", "label": "keras ResNet50", "images_per_s": _s(100.0)},
            {"name": "zoo_resnet50_v1", "label": "zoo v1", "images_per_s": _s(104.0)}],
            "ratios": {"zoo_resnet50_v1/keras_resnet50": _s(1.04, 1.01, 1.2)}},
        "vs_keras": {**_common("vs_keras"), "models": [
            {"name": "keras/densenet121", "label": "keras.applications.DenseNet121",
             "images_per_s": _s(50.0)},
            {"name": "zoo/densenet121", "label": "zoo densenet121", "images_per_s": _s(55.0)}],
            "ratios": {"densenet121": _s(1.1, 1.05, 1.15)}},
        "cudnn": {**_common("cudnn"), "variants": [
            {"name": f"lstm_unmasked_{c}_{m}", "cell": "lstm", "masked": False,
             "kernel": "generic"}
            for c in ("auto", "use_cudnn_false") for m in ("graph", "xla")],
            "ratios": {
                "lstm_unmasked_auto_graph/lstm_unmasked_use_cudnn_false_graph": _s(1.01),
                "lstm_unmasked_use_cudnn_false_xla/lstm_unmasked_use_cudnn_false_graph":
                    _s(0.85, 0.8, 0.9)}},
        "export": {**_common("export"), "results": {"resnet20": {
            "keras_call": {"1": {"latency_ms": _s(24.0)}},
            "keras_tf_function": {"1": {"ratio_vs_keras": _s(0.09)}},
            "saved_model": {"1": {"ratio_vs_tf_function": _s(0.96, 0.8, 0.99)}},
            "tflite": {"1": {"ratio_vs_keras": None, "error": "RuntimeError: boom"}}}}},
        "data": {**_common("data"), "results": {"digits": {
            "source": {"kind": "embedded"}, "ratio_pipeline_to_model": _s(380.0, 133.0, 823.0),
            "meets_10x_goal": True, "fit": {"ratio_to_train_on_batch": _s(0.97, 0.77, 1.01)}}}},
    }


def write_results(directory, results, device="cpu"):
    for name, result in results.items():
        (directory / f"{name}_{device}.json").write_text(json.dumps(result))
        (directory / f"{name}_{device}.md").write_text(
            f"# synthetic {name} report\n\n## details of {name}\n\nbody of {name}\n")


@pytest.fixture
def full_report(tmp_path):
    write_results(tmp_path, synthetic_results())
    lines = []
    paths = report.write_report(str(tmp_path), "cpu", log=lines.append)
    merged = json.loads((tmp_path / "cpu.json").read_text())
    return tmp_path, paths, merged, (tmp_path / "cpu.md").read_text(), lines


# ---------------------------------------------------------------------------
# The report.


def test_merged_json_holds_every_benchmark_and_a_summary(full_report):
    _, paths, merged, _, _ = full_report
    assert {"device", "versions", "timestamp", "benchmarks", "failed", "summary"} <= set(merged)
    assert list(merged["benchmarks"]) == list(common.BENCHMARKS)
    assert merged["benchmarks"]["xla"] == synthetic_results()["xla"]
    assert merged["failed"] == {} and merged["missing"] == []
    assert merged["device"]["name"] == "Test CPU" and merged["versions"]["tensorflow"] == "2.99"
    assert paths["json"].endswith("cpu.json") and paths["md"].endswith("cpu.md")

    summary = {(item["benchmark"], item["key"]): item for item in merged["summary"]}
    assert summary[("xla", "resnet20/xla")]["median"] == pytest.approx(1.5)
    # Of graph's median: the path's own min and max over graph's median.
    assert summary[("xla", "resnet20/xla")]["min"] == pytest.approx(1.4)
    assert summary[("xla", "resnet20/graph")]["median"] == 1.0
    assert summary[("xla", "resnet20/zoo_default_vs_keras_default")]["median"] == 1.5
    assert summary[("resnet_vs_keras", "zoo_resnet50_v1/keras_resnet50")]["max"] == 1.2
    assert summary[("vs_keras", "densenet121")]["median"] == 1.1
    assert summary[("data", "digits/pipeline_to_model")]["meets_10x_goal"] is True
    assert ("export", "resnet20@1/saved_model/ratio_vs_tf_function") in summary
    assert ("export", "resnet20@1/tflite/ratio_vs_keras") not in summary  # it failed
    assert {item["benchmark"] for item in merged["summary"]} == set(common.BENCHMARKS)


def test_markdown_has_the_headline_rows_then_each_report(full_report):
    _, _, _, md, _ = full_report
    for row in [
        "| resnet20 | eager | 50.0 (45.0–55.0) | 0.50 (0.45–0.55) |  | 10.0% |",
        "| resnet20 | graph | 100 (90–110) | 1.00 | Keras default | 20.0% |",
        "| resnet20 | xla | 150 (140–160) | 1.50 (1.40–1.60) | zoo default, best | 42.0% |",
        "| einsum_mlp | xla | 200 | 0.50 |  |  |",
        "| einsum_mlp | graph | 400 | 1.00 | zoo default, Keras default, best |  |",
        "| zoo v1 | 104 | 1.040 (1.010–1.200) |",
        "| lstm | unmasked | generic | 1.01 | 0.85 (0.80–0.90) |  |",
        "| resnet20 | 1 | 24.00 | 0.09 | 0.96 (0.80–0.99) | error |",
        "| digits | embedded | 380 (133–823) | yes | 0.97 (0.77–1.01) |",
    ]:
        assert row in md, row
    assert "- resnet20: zoo default xla; Keras default graph; best xla" in md
    assert "zoo default / Keras default 1.50 (1.40–1.60); 75% utilization goal: not met" in md
    # The headline comes first, the benchmarks' own reports after it, nested.
    headline = md.index("## Headline")
    assert md.index("### xla:") > headline
    assert md.index("## synthetic xla report") > md.index("### data:")
    assert "### details of xla" in md and "\n# synthetic" not in md


def test_one_chart_per_benchmark_is_written_when_matplotlib_imports(full_report):
    pytest.importorskip("matplotlib", reason="matplotlib is an optional extra (.[bench])")
    directory, paths, merged, md, lines = full_report
    names = list(common.BENCHMARKS)
    # One PNG per benchmark, beside its results, each shown under its headline.
    assert list(paths["charts"]) == names
    assert merged["charts"] == {name: f"{name}_cpu.png" for name in names}
    for name in names:
        png = directory / f"{name}_cpu.png"
        assert paths["charts"][name] == str(png)
        assert png.read_bytes()[:8] == PNG_MAGIC
        assert md.index(f"![{name} chart]({name}_cpu.png)") > md.index(f"### {name}:")
    assert not (directory / "cpu.png").exists()
    charts = report.chart_panels(merged)
    assert list(charts) == names
    (xla,) = charts["xla"]
    assert xla["kind"] == "grouped"
    assert xla["groups"]["resnet20"] == {"eager": (0.5, 0.45, 0.55), "graph": (1.0, 1.0, 1.0),
                                         "xla": (1.5, 1.4, 1.6)}
    (export,) = charts["export"]
    assert export["kind"] == "ratios"
    labels = [row[0] for row in export["rows"]]
    # The failed TFLite path has no bar; the benchmark's name is the figure's.
    assert labels == ["resnet20 batch 1: tf.function / Keras call",
                      "resnet20 batch 1: SavedModel / tf.function"]


def test_without_matplotlib_the_report_says_so_and_writes_the_rest(tmp_path, monkeypatch):
    write_results(tmp_path, synthetic_results())
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    lines = []
    paths = report.write_report(str(tmp_path), "cpu", log=lines.append)
    md = (tmp_path / "cpu.md").read_text()
    assert md.count("matplotlib is not installed") == 1
    assert report.NO_MATPLOTLIB in lines
    merged = json.loads((tmp_path / "cpu.json").read_text())
    assert merged["charts"] == {} and len(merged["benchmarks"]) == len(common.BENCHMARKS)
    assert paths["charts"] == {} and not list(tmp_path.glob("*.png"))


def test_missing_benchmarks_and_keys_leave_gaps_not_errors(tmp_path):
    results = synthetic_results()
    old = {k: v for k, v in results["resnet_vs_keras"].items() if k != "ratios"}
    write_results(tmp_path, {"resnet_vs_keras": old,
                             "xla": {**_common("xla"), "models": {"m": {"paths": None}}}})
    (tmp_path / "cudnn_cpu.json").write_text("{not json")
    report.write_report(str(tmp_path), "cpu", log=lambda line: None)
    merged = json.loads((tmp_path / "cpu.json").read_text())
    assert list(merged["benchmarks"]) == ["xla", "resnet_vs_keras"]
    assert merged["missing"] == ["vs_keras", "export", "data"]
    assert "unreadable_result" in merged["failed"]["cudnn"]
    md = (tmp_path / "cpu.md").read_text()
    assert "No per-model paths in the result." in md
    assert "| keras ResNet50 | 100 | 1 (baseline) |" in md
    assert "- not run (no result file): vs_keras, export, data" in md


def test_a_failed_benchmarks_older_result_is_left_out(tmp_path):
    write_results(tmp_path, synthetic_results())
    failed = {"xla": {"returncode": 3, "stderr_tail": ["ValueError: boom"],
                      "reason": "exit code 3"}}
    merged, sections = report.merge(str(tmp_path), "cpu", failed=failed)
    assert "xla" not in merged["benchmarks"] and "xla" not in sections
    assert merged["failed"]["xla"]["older_result_left_out"] == "2026-01-01T00:00:00+00:00"
    md = report.render_markdown(merged, sections, "(chart line)")
    assert "- xla: exit code 3" in md and "ValueError: boom" in md


def test_report_cli_rebuilds_from_the_files_there(tmp_path, capsys):
    assert common.run_module_in_process(report, [f"--output_dir={tmp_path}"]) == 1
    assert "no benchmark results" in capsys.readouterr().err
    write_results(tmp_path, {"data": synthetic_results()["data"]}, device="gpu")
    assert common.run_module_in_process(report, [f"--output_dir={tmp_path}"]) == 0
    merged = json.loads((tmp_path / "gpu.json").read_text())
    assert list(merged["benchmarks"]) == ["data"] and not (tmp_path / "cpu.json").exists()


def test_the_report_joins_the_summary_each_benchmark_wrote(tmp_path):
    # A benchmark the report has never heard of: its own headline, items and
    # chart panel are taken as written, and its layout is never read.
    panel = {"title": "widgets per path, a = 1.0", "ylabel": "widgets / a",
             "groups": {"m1": {"a": [1.0, 1.0, 1.0], "b": [2.0, 1.5, 2.5]}}}
    result = {**_common("widgets"), "layout": {"nothing": "the report reads"}, "summary": {
        "title": "Widgets per second", "markdown": "| m | a/b |\n|:---|---:|\n| m1 | 2.0 |",
        "items": [common.summary_item("widgets", "m1/b", "m1: b / a", _s(2.0, 1.5, 2.5),
                                      "> 1: faster")],
        "chart": panel}}
    ratios = {**_common("ratios"), "summary": {
        "title": "Ratios", "markdown": "body",
        "items": [common.summary_item("ratios", "r", "r: x / y", 0.5, "< 1: slower")]}}
    write_results(tmp_path, {"widgets": result, "ratios": ratios})
    report.write_report(str(tmp_path), "cpu", names=["widgets", "ratios"], log=lambda line: None)
    merged = json.loads((tmp_path / "cpu.json").read_text())
    assert [item["key"] for item in merged["summary"]] == ["m1/b", "r"]
    assert merged["summary"][0]["min"] == 1.5
    md = (tmp_path / "cpu.md").read_text()
    assert "### widgets: Widgets per second\n\n| m | a/b |" in md
    assert "### ratios: Ratios\n\nbody\n" in md
    charts = report.chart_panels(merged)
    assert charts["widgets"][0]["groups"]["m1"]["b"] == (2.0, 1.5, 2.5)
    assert charts["widgets"][0]["title"] == "widgets per path, a = 1.0"
    # The other one: its items, one bar each.
    assert charts["ratios"] == [{"kind": "ratios", "title": "Ratios",
                                 "xlabel": charts["ratios"][0]["xlabel"],
                                 "rows": [("r: x / y", 0.5, 0.5, 0.5)]}]


def _bars_and_labels(fig):
    """Per axes of a chart: the number of bars drawn and the tick labels."""
    from matplotlib.container import BarContainer

    out = []
    for ax in fig.axes:
        bars = sum(len(c) for c in ax.containers if isinstance(c, BarContainer))
        ticks = ax.get_yticklabels() if ax.get_xscale() == "log" else ax.get_xticklabels()
        out.append((bars, [t.get_text() for t in ticks]))
    return out


def test_no_bar_for_a_path_that_did_not_run(tmp_path):
    results = synthetic_results()
    xla = results["xla"]
    # text_rnn: Keras refused XLA (its xla path ran graph mode), as the table says.
    xla["models"]["text_rnn"] = {
        "paths": {"eager": {"train": {"examples_per_s": _s(40.0)}},
                  "graph": {"train": {"examples_per_s": _s(800.0)}},
                  "xla": {"train": {"examples_per_s": _s(810.0)},
                          "evidence": {"xla_refused": True}}},
        "best_train_path": "graph", "zoo_default_path": "graph", "keras_default_path": "graph"}
    # einsum_mlp's xla failed: an error, no figure.
    xla["models"]["einsum_mlp"]["paths"]["xla"] = {"train": None, "error": "XlaError: boom"}
    # cudnn: Keras ran an XLA variant without XLA (refused).
    cudnn = results["cudnn"]
    for v in cudnn["variants"]:
        v["xla"] = False  # what the model ended up with: the xla variants were refused
    write_results(tmp_path, {"xla": xla, "cudnn": cudnn, "export": results["export"]})
    report.write_report(str(tmp_path), "cpu", log=lambda line: None)
    merged = json.loads((tmp_path / "cpu.json").read_text())
    md = (tmp_path / "cpu.md").read_text()
    # The tables still say what happened ...
    assert "| text_rnn | xla | 810 | 1.01 | XLA refused |  |" in md
    assert "| einsum_mlp | xla | error: XlaError: boom |" in md
    items = {(i["benchmark"], i["key"]): i for i in merged["summary"]}
    assert items[("xla", "text_rnn/xla")]["ran"] is False
    assert items[("xla", "resnet20/xla")]["ran"] is True
    xla_key = "lstm_unmasked_use_cudnn_false_xla/lstm_unmasked_use_cudnn_false_graph"
    assert items[("cudnn", xla_key)]["ran"] is False
    # ... and the charts draw no bar for those paths.
    charts = report.chart_panels(merged)
    (panel,) = charts["xla"]
    assert panel["groups"]["text_rnn"] == {"eager": (0.05, 0.05, 0.05),
                                           "graph": (1.0, 1.0, 1.0)}
    assert "xla" not in panel["groups"]["einsum_mlp"]
    assert set(panel["groups"]["resnet20"]) == {"eager", "graph", "xla"}
    (rows,) = [p["rows"] for p in charts["cudnn"]]
    assert [r[0] for r in rows] == ['lstm unmasked: use_cudnn="auto" / generic, graph']
    pytest.importorskip("matplotlib", reason="matplotlib is an optional extra (.[bench])")
    ((bars, labels),) = _bars_and_labels(report.draw_chart("xla", charts["xla"], "cpu"))
    assert bars == 3 + 2 + 2 and labels == ["resnet20", "einsum_mlp", "text_rnn"]


def test_a_chart_panel_holds_at_most_max_bars(tmp_path):
    # Many items (export's grid of every default model: ~50) and a grouped
    # chart of 12 models x 3 paths: split into panels, whole groups together.
    items = [common.summary_item("many", f"m{m}@{b}/{r}", f"m{m} batch {b}: ratio {r}",
                                 _s(0.5 + m / 10), "x")
             for m in range(8) for b in (1, 32) for r in range(3)]
    groups = {f"model{m}": {p: [1.0 + m / 10, 1.0, 3.0] for p in ("eager", "graph", "xla")}
              for m in range(12)}
    many = {**_common("many"), "summary": {"title": "Many", "markdown": "", "items": items}}
    wide = {**_common("wide"), "summary": {"title": "Wide", "markdown": "", "items": [],
                                           "chart": {"title": "paths", "ylabel": "x / graph",
                                                     "groups": groups}}}
    write_results(tmp_path, {"many": many, "wide": wide})
    paths = report.write_report(str(tmp_path), "cpu", names=["many", "wide"],
                                log=lambda line: None)
    charts = report.chart_panels(json.loads((tmp_path / "cpu.json").read_text()))
    rows = [row for panel in charts["many"] for row in panel["rows"]]
    assert [r[0] for r in rows] == [i["label"] for i in items]  # none lost, in order
    assert len(charts["many"]) == 2 and len(charts["wide"]) == 2
    for panel in charts["many"]:
        assert len(panel["rows"]) <= report.MAX_BARS
        # A model and batch size's rows stay in one panel.
        prefixes = {r[0].split(":")[0] for r in panel["rows"]}
        assert all(sum(r[0].startswith(p + ":") for r in panel["rows"]) == 3 for p in prefixes)
    assert [p["title"] for p in charts["wide"]] == ["paths (1/2)", "paths (2/2)"]
    assert [list(p["groups"]) for p in charts["wide"]] == [
        [f"model{m}" for m in range(6)], [f"model{m}" for m in range(6, 12)]]
    pytest.importorskip("matplotlib", reason="matplotlib is an optional extra (.[bench])")
    assert set(paths["charts"]) == {"many", "wide"}
    drawn = _bars_and_labels(report.draw_chart("wide", charts["wide"], "cpu"))
    assert drawn == [(18, [f"model{m}" for m in range(6)]),
                     (18, [f"model{m}" for m in range(6, 12)])]
    drawn = _bars_and_labels(report.draw_chart("many", charts["many"], "cpu"))
    assert [bars for bars, _ in drawn] == [24, 24]
    assert [label for _, labels in drawn for label in labels] == [i["label"] for i in items]


def test_demote_headings_skips_code_fences():
    assert report.demote_headings("# a\ntext #x\n```\n# code\n```\n## b") == \
        "## a\ntext #x\n```\n# code\n```\n### b"


# ---------------------------------------------------------------------------
# The runner.


FAKE_OK = """
import json, sys
flags = dict(a.lstrip("-").split("=", 1) if "=" in a else (a.lstrip("-"), True)
             for a in sys.argv[1:])
result = {"benchmark": "ok", "timestamp": "t", "argv": sys.argv[1:],
          "device": {"kind": "cpu", "name": "fake"}, "versions": {}}
with open(flags["output_dir"] + "/ok_cpu.json", "w") as f:
    json.dump(result, f)
with open(flags["output_dir"] + "/ok_cpu.md", "w") as f:
    f.write("# fake ok report\\n")
print("ok ran")
"""
FAKE_CRASH = """
import sys
for i in range(30):
    print(f"crash log line {i}", file=sys.stderr)
print("RuntimeError: the last words", file=sys.stderr)
sys.exit(3)
"""


@pytest.fixture
def fake_benchmarks(tmp_path, monkeypatch):
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "fake_crash_bench.py").write_text(textwrap.dedent(FAKE_CRASH))
    (modules / "fake_ok_bench.py").write_text(textwrap.dedent(FAKE_OK))
    (modules / "fake_silent_bench.py").write_text("print('wrote nothing')\n")
    monkeypatch.setenv("PYTHONPATH", str(modules))
    monkeypatch.setattr(common, "BENCHMARKS", {"crash": "fake_crash_bench",
                                               "ok": "fake_ok_bench",
                                               "silent": "fake_silent_bench"})
    return tmp_path / "out"


def test_runner_records_a_crash_and_runs_the_others(fake_benchmarks, capfd):
    out = fake_benchmarks
    code = common.run_module_in_process(runner, [f"--output_dir={out}", "--quick",
                                                 "--repeats=2"])
    captured = capfd.readouterr()
    assert code == 1
    # First, what the benchmarks will run on and why.
    assert captured.out.startswith("benchmarks: TensorFlow "), captured.out[:300]
    assert "[1/3] crash: FAILED (exit code 3)" in captured.out
    assert "[2/3] ok: ok in" in captured.out and "ok ran" in captured.out
    assert "[3/3] silent: FAILED (no result file written)" in captured.out
    assert "crash log line 0" in captured.err  # its stderr is shown as it runs

    ok = json.loads((out / "ok_cpu.json").read_text())
    assert ok["argv"] == [f"--output_dir={out}", "--quick", "--repeats=2"]
    merged = json.loads((out / "cpu.json").read_text())
    assert list(merged["benchmarks"]) == ["ok"]
    crash = merged["failed"]["crash"]
    assert crash["returncode"] == 3 and crash["reason"] == "exit code 3"
    assert crash["stderr_tail"][-1] == "RuntimeError: the last words"
    assert len(crash["stderr_tail"]) == common.STDERR_TAIL_LINES
    assert "wrote no" in merged["failed"]["silent"]["reason"]
    assert set(merged["runner"]["wall_s"]) == {"crash", "ok", "silent"}
    assert "- crash: exit code 3" in (out / "cpu.md").read_text()


def test_runner_picks_benchmarks_and_exits_zero_when_all_pass(fake_benchmarks, capfd):
    out = fake_benchmarks
    assert common.run_module_in_process(runner, [f"--output_dir={out}", "--benchmarks=ok"]) == 0
    captured = capfd.readouterr()
    assert "crash" not in captured.out
    assert json.loads((out / "ok_cpu.json").read_text())["argv"] == [f"--output_dir={out}"]


# Bad flags and an unwritable --output_dir are rejected in-process by
# tests/bad_input/test_bad_benchmarks_cli.py, and end to end there (exit
# status 2, a usage line, no traceback) once per benchmark CLI.


def test_xla_headline_shows_every_kernel_library(tmp_path):
    # benchmarks.xla since --onednn: one record per CPU kernel library.
    old = synthetic_results()["xla"]
    paths = old["models"]["einsum_mlp"]["paths"]
    record = {"best_train_path": "graph", "zoo_default_path": "graph",
              "keras_default_path": "graph", "meets_default_goal": True}
    result = {**_common("xla"), "config": {}, "onednn": {"applicable": True,
                                                           "settings": ["on", "off"]},
              "settings": {
                  "on": {"setting": "on", "label": "oneDNN",
                         "models": {"einsum_mlp": {**record, "paths": paths}}},
                  "off": {"setting": "off", "label": "Eigen",
                          "models": {"einsum_mlp": {**record, "paths": {
                              **paths, "xla": {"train": {"examples_per_s": _s(600.0)}}},
                              "best_train_path": "xla", "zoo_default_vs_best": _s(0.67),
                              "meets_default_goal": False}}}},
              "failed": {}, "mismatches": {"off": "the traces show 2 oneDNN ops"},
              "goal": {"met": False, "missed": ["einsum_mlp (Eigen)"]}}
    write_results(tmp_path, {"xla": result})
    report.write_report(str(tmp_path), "cpu", log=lambda line: None)
    md = (tmp_path / "cpu.md").read_text()
    for row in [
        "| einsum_mlp | oneDNN | graph | 400 | 1.00 | zoo default, Keras default, best |  |",
        "| einsum_mlp | oneDNN | xla | 200 | 0.50 |  |  |",
        "| einsum_mlp | Eigen | xla | 600 | 1.50 | best |  |",
    ]:
        assert row in md, row
    assert "- einsum_mlp (Eigen): zoo default graph; Keras default graph; best xla; " \
           "zoo default / best 0.67; default ≥ 0.95 x best: not met" in md
    assert "every model and kernel library: missed for einsum_mlp (Eigen)" in md
    assert "kernel mismatch (--onednn=off): the traces show 2 oneDNN ops" in md
    merged = json.loads((tmp_path / "cpu.json").read_text())
    keys = {item["key"] for item in merged["summary"]}
    assert {"einsum_mlp@oneDNN/xla", "einsum_mlp@Eigen/xla",
            "einsum_mlp@Eigen/zoo_default_vs_best"} <= keys
    # One panel per kernel library, a group per model.
    on, off = report.chart_panels(merged)["xla"]
    assert on["title"].startswith("oneDNN kernels: ") and off["title"].startswith("Eigen ")
    assert list(on["groups"]) == list(off["groups"]) == ["einsum_mlp"]
    assert off["groups"]["einsum_mlp"]["xla"][0] == pytest.approx(1.5)


def test_launch_line_names_backend_kernels_and_who_chose_them():
    from benchmarks import common
    from zoo import ops

    line = common.launch_line("benchmarks.demo", why="set by a test")
    assert line == f"benchmarks.demo: {ops.describe()} (set by a test)"
    # Without touching the devices (the runner): the same platform.
    quiet = common.launch_line("benchmarks", why="x", initialize_devices=False)
    assert f" on {ops.tensorflow_platform()}: " in quiet and quiet.endswith(" (x)")
    assert common.launch_line("m").startswith("m: TensorFlow ")


# ---------------------------------------------------------------------------
# The harness every benchmark runs on (benchmarks.common).


def _flag_values(quick, argv, defaults=None, models=False, min_repeats=None):
    """`argv` parsed and checked for a benchmark with these presets and flags."""
    import types

    module = types.SimpleNamespace(__name__="demo", QUICK=quick, DEFAULTS=defaults or {},
                                   FLAGS={"models": common.MODELS_FLAG} if models else {},
                                   MIN_REPEATS=min_repeats)
    return common.parse_flags(module, argv)


def test_common_flags_quick_presets_yield_to_explicit_flags(tmp_path):
    quick = {"repeats": 2, "warmup": 1}
    fv, output_dir = _flag_values(quick, ["--quick", "--repeats=3", f"--output_dir={tmp_path}"],
                                  defaults={"warmup": 4})
    assert output_dir == str(tmp_path)
    assert (fv.repeats, fv.warmup, fv.seed) == (3, 1, 0)
    assert "--repeats=2, --warmup=1" in fv["quick"].help


def test_common_flags_hold_full_runs_to_the_least_repeats(tmp_path):
    with pytest.raises(common.app.UsageError, match="--repeats=3: at least 5 .*--quick"):
        _flag_values({}, ["--repeats=3", f"--output_dir={tmp_path}"], min_repeats=5)
    _, output_dir = _flag_values({}, ["--repeats=3", "--quick", f"--output_dir={tmp_path}"],
                                 min_repeats=5)
    assert output_dir == str(tmp_path)


def test_models_come_from_the_registry_and_the_contract(tmp_path):
    import zoo
    from zoo import registry

    defaults = common.default_models()
    assert defaults and set(defaults) <= set(zoo.list_models())
    for name in zoo.list_models():
        assert (name in defaults) == zoo.model_info(name).benchmarked, name
        assert common.modality(name) == registry.model_family(name).modality
    fv, _ = _flag_values({}, [f"--output_dir={tmp_path}"], models=True)
    assert fv.models == defaults
    # Any registered name, cleaned of spaces and repeats.
    fv, _ = _flag_values({}, ["--models= resnet18 ,resnet18,text_rnn",
                              f"--output_dir={tmp_path}"], models=True)
    assert fv.models == ["resnet18", "text_rnn"]


def test_quick_runs_measure_the_smallest_model_of_each_modality(tmp_path):
    defaults = common.default_models()
    size = {name: common.model_size(name) for name in defaults}
    modalities = list(dict.fromkeys(common.modality(n) for n in defaults))
    chosen = common.smallest_models()
    # One per modality, the fewest weight tensors of its modality, in registry order.
    assert sorted(common.modality(n) for n in chosen) == sorted(modalities)
    assert chosen == [n for n in defaults if n in chosen]
    for name in chosen:
        assert size[name] == min(s for n, s in size.items()
                                 if common.modality(n) == common.modality(name))
    # A path only some models take: the smallest of those is added.
    biggest = max(defaults, key=lambda n: size[n][1])  # the most parameters
    also = common.smallest_models(also=[lambda m: m.count_params() >= size[biggest][1]])
    assert also == [n for n in defaults if n in chosen or n == biggest]
    assert common.smallest_models(names=["resnet18", "resnet34"]) == ["resnet18"]
    # --quick's preset of --models, computed only when applied; --models given wins.
    quick = {"repeats": 2, "models": common.smallest_models}
    fv, _ = _flag_values(quick, ["--quick", f"--output_dir={tmp_path}"], models=True)
    assert fv.models == chosen and fv.repeats == 2
    assert "--models=the smallest default models" in fv["quick"].help
    fv, _ = _flag_values(quick, ["--quick", "--models=resnet18", f"--output_dir={tmp_path}"],
                         models=True)
    assert fv.models == ["resnet18"]


@pytest.mark.parametrize("names, fragments", [
    (["vgg"], ["--models=vgg", "'vgg'", "resnet20"]),
    (["resnet20", "resnet21"], ["--models=resnet20,resnet21", "'resnet21'"]),
    ([""], ["--models=", "(none given)", "text_rnn"]),
])
def test_check_models_names_the_flag_and_the_unknown_names(names, fragments):
    with pytest.raises(common.app.UsageError) as error:
        common.check_list("models", names, common.registered_models)
    for fragment in fragments:
        assert fragment in str(error.value), (fragment, str(error.value))


def test_a_family_registered_later_is_benchmarked_by_default(monkeypatch):
    from zoo import registry
    from zoo.models.base import ZooModel

    class Probe(ZooModel):
        modality = "text"
        info = {"benchmarked": ("probe_small",)}

    def probe_small(**kwargs):
        return Probe(**kwargs)

    def probe_large(**kwargs):
        return Probe(**kwargs)

    for constructor in (probe_small, probe_large):
        monkeypatch.setitem(registry._MODEL_CONSTRUCTORS, constructor.__name__, constructor)
        monkeypatch.setitem(registry._MODEL_FAMILIES, constructor.__name__, Probe)
    assert "probe_small" in common.default_models()
    assert "probe_large" not in common.default_models()
    assert common.check_list("models", ["probe_large"], common.registered_models) == \
        ["probe_large"]
    assert common.modality("probe_small") == "text"


def test_publish_writes_the_summary_the_report_reads(tmp_path, capsys):
    result = {**_common("demo"), "figures": [1.0, 2.0]}

    def summary(result):
        return {"title": "Demo", "markdown": "body", "chart": None,
                "items": [common.summary_item("demo", "k", "figures", max(result["figures"]),
                                              "> 1: more")]}

    common.publish("demo", result, str(tmp_path), lambda result: "# demo\n", summary)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo_cpu.json", "demo_cpu.md"]
    written = json.loads((tmp_path / "demo_cpu.json").read_text())
    assert written["summary"]["items"][0]["median"] == 2.0
    assert "# demo" in capsys.readouterr().out
    assert report.summary_of("demo", written)["title"] == "Demo"
    assert "no summary" in report.summary_of("demo", result | {"summary": None})["markdown"]
