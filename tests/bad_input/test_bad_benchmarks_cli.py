"""Bad input to the benchmark CLIs: `python -m benchmarks[.NAME]`.

Every benchmark CLI (cudnn, data, export, resnet_vs_keras, xla, the runner
`benchmarks.__main__` and `benchmarks.report`) runs on the harness in
`benchmarks.common`, and is checked in-process the way it runs: flags parsed
into a fresh `flags.FlagValues` (absl's type, bound and validator errors),
then `common.check_flags`, which `common.main` calls before any work.
A few rows run end to end: exit status 2, a usage line, no traceback.
"""

import importlib

import pytest
from absl import app, flags

from benchmarks import common
from helpers import assert_rejects, assert_usage_error, run_module, unwritable_dir

USAGE_ERRORS = (flags.Error, app.UsageError)


def parse_and_check(name, argv):
    """What `python -m benchmarks.NAME ARGV` checks before it starts."""
    return common.parse_flags(importlib.import_module(f"benchmarks.{name}"), argv)[1]


def row(name, argv, *fragments):
    return pytest.param(name, argv, fragments, id=f"{name} {argv}")


# {file}/x lies under a regular file: no directory can be made there.
ABSL_ROWS = [
    row("cudnn", "--cells=", "--cells="),
    row("cudnn", "--cells=rnn", "--cells=", "'rnn'", "lstm"),
    row("cudnn", "--cells=lstm,rnn", "--cells=", "'rnn'", "lstm,gru"),
    row("cudnn", "--batch_size=0", "--batch_size=0"),
    row("cudnn", "--sequence_length=0", "--sequence_length=0"),
    row("cudnn", "--units=0", "--units=0"),
    row("cudnn", "--repeats=0", "--repeats=0"),
    row("cudnn", "--steps=0", "--steps=0"),
    row("cudnn", "--warmup=0", "--warmup=0"),
    row("cudnn", "--seed=-1", "--seed=-1"),
    row("cudnn", "--quick=maybe", "--quick=maybe"),
    row("cudnn", "--output_dir=", "--output_dir=''", "empty path"),
    row("cudnn", "--output_dir={file}/x", "--output_dir=", "a_file/x"),
    row("data", "--datasets=", "--datasets="),
    row("data", "--datasets=imagenet", "--datasets=", "'imagenet'", "cifar10"),
    row("data", "--datasets=nope", "--datasets=", "'nope'", "digits,cifar10"),
    row("data", "--datasets=digits,cifar100", "--datasets=", "'cifar100'", "digits,cifar10"),
    row("data", "--fit_steps=1", "--fit_steps=1"),
    row("data", "--pipeline_images=0", "--pipeline_images=0"),
    row("data", "--cifar_source=web", "--cifar_source=web", "mock"),
    row("data", "--mock_examples=0", "--mock_examples=0"),
    row("data", "--seed=-3", "--seed=-3"),
    row("data", "--output_dir={file}/x", "--output_dir=", "a_file/x"),
    row("export", "--models=", "--models="),
    row("export", "--models=vgg", "--models=", "'vgg'", "resnet20"),
    row("export", "--models=resnet20,resnet21", "--models=resnet20,resnet21", "'resnet21'"),
    row("export", "--repeats=0", "--repeats=0"),
    row("export", "--iterations=0", "--iterations=0"),
    row("export", "--batch_sizes=1,0", "--batch_sizes=", "'0'"),
    row("export", "--batch_sizes=one", "--batch_sizes=", "'one'"),
    row("export", "--batch_sizes=", "--batch_sizes="),
    row("export", "--batch_sizes=0", "--batch_sizes=", "'0'"),
    row("export", "--batch_sizes=a", "--batch_sizes=", "'a'"),
    row("export", "--tflite_threads=-1", "--tflite_threads=-1"),
    row("export", "--image_size=4", "--image_size=4"),
    row("export", "--seed=-1", "--seed=-1"),
    row("export", "--warmup=0", "--warmup=0"),
    row("export", "--quick=maybe", "--quick=maybe"),
    row("export", "--output_dir=", "--output_dir=''", "empty path"),
    row("export", "--output_dir={file}/x", "--output_dir=", "a_file/x"),
    row("data", "--repeats=0", "--repeats=0"),
    row("data", "--batch_size=0", "--batch_size=0"),
    row("__main__", "--benchmarks=", "--benchmarks=", "(none given)"),
    row("__main__", "--benchmarks=foo", "--benchmarks=foo", "'foo'", "xla"),
    row("__main__", "--benchmarks=nope", "--benchmarks=nope", "'nope'",
        "xla,resnet_vs_keras,vs_keras,cudnn,export,data"),
    row("__main__", "--benchmarks=xla,nope", "--benchmarks=xla,nope", "'nope'",
        "xla,resnet_vs_keras,vs_keras,cudnn,export,data"),
    row("__main__", "--repeats=0", "--repeats=0"),
    row("__main__", "--repeats=nan", "--repeats", "'nan'"),
    row("__main__", "--repeats=two", "--repeats=two", "'two'"),
    # Fewer than 5 timed repeats only with --quick.
    row("__main__", "--repeats=3", "--repeats=3", "at least 5"),
    row("__main__", "--repeats=2", "--repeats=2", "--quick"),
    row("__main__", "--output_dir=", "--output_dir=''"),
    row("__main__", "--output_dir={file}/x", "--output_dir=", "a_file/x"),
    row("report", "--output_dir={file}/x", "--output_dir=", "a_file/x"),
    row("report", "--output_dir=", "--output_dir=''"),
    row("report", "--device=tpu", "--device=tpu", "cpu"),
    row("resnet_vs_keras", "--image_size=16", "--image_size=16"),
    row("resnet_vs_keras", "--batch_size=0", "--batch_size=0"),
    row("resnet_vs_keras", "--repeats=0", "--repeats=0"),
    row("resnet_vs_keras", "--steps=0", "--steps=0"),
    row("resnet_vs_keras", "--warmup=0", "--warmup=0"),
    row("resnet_vs_keras", "--output_dir={file}/x", "--output_dir=", "a_file/x"),
    row("resnet_vs_keras", "--seed=-1", "--seed=-1"),
    row("resnet_vs_keras", "--output_dir=", "--output_dir=''"),
    row("vs_keras", "--models=resnet20", "--models=resnet20", "'resnet20'", "mobilenet_v2"),
    row("vs_keras", "--models=", "--models=", "(none given)"),
    row("vs_keras", "--image_size=16", "--image_size=16"),
    row("vs_keras", "--steps=0", "--steps=0"),
    row("xla", "--models=", "--models=", "(none given)"),
    row("xla", "--models=vgg", "--models=vgg", "resnet20"),
    row("xla", "--models=resnet51", "--models=resnet51", "'resnet51'", "resnet50"),
    row("xla", "--models=resnet20,resnet51", "--models=resnet20,resnet51", "'resnet51'"),
    row("xla", "--paths=", "--paths=", "(none given)"),
    row("xla", "--paths=jit", "--paths=jit", "xla"),
    row("xla", "--onednn=", "--onednn=", "(none given)", "choose from on,off"),
    row("xla", "--onednn=maybe", "--onednn=maybe", "choose from on,off"),
    row("xla", "--onednn=on,sometimes", "--onednn=on,sometimes", "sometimes",
        "choose from on,off"),
    row("xla", "--min_repeat_s=nan", "--min_repeat_s=nan", "finite"),
    row("xla", "--min_repeat_s=inf", "--min_repeat_s=inf", "finite"),
    row("xla", "--min_repeat_s=-1", "--min_repeat_s=-1"),
    row("xla", "--repeats=2", "--repeats=2", "--quick"),
    row("xla", "--repeats=3", "--repeats=3", "at least 5"),
    row("xla", "--repeats=0", "--repeats=0"),
    row("xla", "--steps=0", "--steps=0"),
    row("xla", "--matmul_n=8", "--matmul_n=8"),
    row("xla", "--image_size=16", "--image_size=16"),
    row("xla", "--batch_size=0", "--batch_size=0"),
    row("xla", "--output_dir=", "--output_dir=''"),
    row("xla", "--output_dir={file}/x", "--output_dir=", "a_file/x"),
]


@pytest.mark.parametrize("name, argv, fragments", ABSL_ROWS)
def test_absl_benchmarks_reject_bad_flags_naming_flag_and_value(name, argv, fragments,
                                                                tmp_path):
    regular_file = unwritable_dir(tmp_path).parent
    argv = argv.replace("{file}", str(regular_file))
    assert_rejects(lambda: parse_and_check(name, [argv]), USAGE_ERRORS, *fragments)


# End to end, once per CLI (benchmarks.data's is in tests/benchmarks/test_data.py:
# cifar10 from TFDS without the data, which needs a process with its own
# TFDS_DATA_DIR).
@pytest.mark.parametrize("module, flag, names", [
    ("benchmarks.xla", "--min_repeat_s=nan", ["--min_repeat_s=nan", "finite"]),
    ("benchmarks.resnet_vs_keras", "--seed=-1", ["--seed=-1"]),
    ("benchmarks", "--benchmarks=foo", ["--benchmarks=foo", "'foo'", "xla"]),
    ("benchmarks.report", "--device=tpu", ["--device=tpu"]),
    ("benchmarks.cudnn", "--cells=lstm,rnn", ["--cells=", "'rnn'", "lstm,gru"]),
    ("benchmarks.export", "--models=resnet20,resnet21", ["--models=resnet20,resnet21",
                                                         "'resnet21'"]),
], ids=["xla min_repeat_s=nan", "resnet_vs_keras seed=-1", "runner benchmarks=foo",
        "report device=tpu", "cudnn cells=lstm,rnn", "export models=resnet20,resnet21"])
def test_benchmark_cli_exits_2_with_usage_and_no_traceback(module, flag, names):
    proc = run_module(module, flag, timeout=120)
    output = assert_usage_error(proc, *names)
    assert f"{module}: error:" in output


@pytest.mark.parametrize("name", ["cudnn", "data", "export", "resnet_vs_keras", "xla",
                                  "__main__"])
def test_good_flags_pass_the_checks(name, tmp_path):
    output_dir = parse_and_check(name, ["--quick", f"--output_dir={tmp_path / 'out'}"])
    assert output_dir == str(tmp_path / "out")
