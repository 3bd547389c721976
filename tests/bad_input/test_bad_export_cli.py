"""Bad command lines of `python -m zoo.export`: usage errors before any work.

Most rows parse the flags into a fresh `flags.FlagValues` and call
`check_flags` in-process (a subprocess costs ~6 s): a row passes when the
parse raises `flags.Error` or `check_flags` raises `app.UsageError`, the two
errors `zoo._cli.run` turns into exit status 2 with a usage line, and the
message names the flag and the value. Files that pass the checks but not
the load (weights of another shape) run `load_source`, `main`'s step that
loads, whose `ValueError` `main` reports as a usage error. Two rows run the
real command line and check exactly that: status 2, `usage:`, no traceback,
nothing written; one fails in absl's parse, one in the load.
`{d}` in a row is the module's scratch directory.
"""

import os

import pytest
from absl import app, flags

import helpers
import zoo
import zoo.export
from zoo.export import __main__ as export_cli

USAGE_ERRORS = (app.UsageError, flags.Error)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A weights file, a whole model, and bad files, made once."""
    folder = tmp_path_factory.mktemp("bad_export_cli")
    model = zoo.create_model("resnet20", num_classes=3, input_shape=(16, 16, 1))
    zoo.export.save(model, folder / "r.weights.h5")
    zoo.export.save(model, folder / "r.keras")
    os.mkfifo(folder / "pipe.weights.h5")
    (folder / "dir.keras").mkdir()
    (folder / "users_dir").mkdir()
    (folder / "users_dir" / "notes.txt").write_text("mine")
    (folder / "a_file").write_text("a file, not a directory")
    return folder


def check(folder, *args):
    """Parses `args` into fresh flags and runs `check_flags` on them."""
    flag_values = flags.FlagValues()
    export_cli.define_flags(flag_values)
    flag_values(["zoo.export", *[a.format(d=folder) for a in args]])
    return export_cli.check_flags(flag_values)


WEIGHTS = "--weights={d}/r.weights.h5"
KERAS = "--weights={d}/r.keras"
RESNET = ["--model=resnet20", "--input_shape=16,16,1"]
P = pytest.param

CASES = [
    # ---- the required flags and empty values
    P(["--out={d}/x.keras"], ["--weights"], id="weights-missing"),
    P([WEIGHTS, *RESNET], ["--out"], id="out-missing"),
    P([WEIGHTS, *RESNET, "--out="], ["--out=''"], id="out-empty"),
    P(["--weights=", "--out={d}/x.keras"], ["--weights=''"], id="weights-empty"),
    # ---- --out and --format
    P([WEIGHTS, *RESNET, "--format=onnx", "--out={d}/x"], ["--format", "onnx"],
      id="format-unknown"),
    P([WEIGHTS, *RESNET, "--format=tflite", "--out={d}/x.keras"],
      ["--out={d}/x.keras", "format='tflite'", "'keras'"], id="format-tflite-out-keras"),
    P([WEIGHTS, *RESNET, "--format=h5", "--out={d}/x.keras"],
      ["--out={d}/x.keras", "format='h5'"], id="format-h5-out-keras"),
    P([WEIGHTS, *RESNET, "--format=keras", "--out={d}/x_dir"],
      ["--out={d}/x_dir", "'.keras'"], id="format-keras-out-without-suffix"),
    P([WEIGHTS, *RESNET, "--out={d}/x.zip"], ["--out={d}/x.zip", "'.zip'"],
      id="out-unknown-suffix"),
    P([WEIGHTS, *RESNET, "--out={d}/a_file/sub/x.keras"],
      ["--out={d}/a_file/sub/x.keras", "not a directory"], id="out-unwritable"),
    P([KERAS, "--out={d}/r.keras"], ["--out={d}/r.keras", "overwrite"],
      id="out-exists-without-overwrite"),
    P([KERAS, "--out={d}/users_dir", "--overwrite"], ["--out={d}/users_dir",
                                                       "not a SavedModel"],
      id="out-users-directory-with-overwrite"),
    P([KERAS, "--out={d}/dir.keras", "--overwrite"], ["--out={d}/dir.keras", "directory"],
      id="out-directory-named-like-a-file"),
    P([WEIGHTS, *RESNET, "--overwrite=maybe", "--out={d}/x.keras"], ["--overwrite", "maybe"],
      id="overwrite-not-a-bool"),
    # ---- --weights
    P(["--weights={d}/none.weights.h5", *RESNET, "--out={d}/x.keras"],
      ["--weights={d}/none.weights.h5", "No "], id="weights-file-missing"),
    P(["--weights={d}/m.tflite", "--out={d}/x.keras"], ["--weights={d}/m.tflite"],
      id="weights-tflite"),
    P(["--weights={d}/m.onnx", "--out={d}/x.keras"], ["--weights={d}/m.onnx", "'.onnx'"],
      id="weights-unknown-suffix"),
    P(["--weights={d}/pipe.weights.h5", *RESNET, "--out={d}/x.keras"],
      ["--weights={d}/pipe.weights.h5", "FIFO"], id="weights-fifo"),
    P(["--weights={d}/dir.keras", "--out={d}/x.h5"], ["--weights={d}/dir.keras", "directory"],
      id="weights-directory"),
    # ---- --model and its constructor flags
    P([WEIGHTS, "--out={d}/x.keras"], ["--model", "weights only"], id="model-missing"),
    P([WEIGHTS, "--model=resnet21", "--out={d}/x.keras"], ["--model='resnet21'"],
      id="model-unknown"),
    P([KERAS, "--model=resnet20", "--out={d}/x.h5"], ["--model", "whole model"],
      id="model-with-whole-model"),
    P([KERAS, "--num_classes=3", "--out={d}/x.h5"], ["--num_classes", "whole model"],
      id="num_classes-with-whole-model"),
    P([WEIGHTS, *RESNET, "--model_args={{bad", "--out={d}/x.keras"],
      ["--model_args", "JSON", "'{{bad'"], id="model_args-not-json"),
    P([WEIGHTS, *RESNET, "--model_args=[1, 2]", "--out={d}/x.keras"],
      ["--model_args='[1, 2]'", "JSON object"], id="model_args-not-an-object"),
    P([WEIGHTS, "--model=resnet20", "--num_classes=3", '--model_args={{"num_classes": 3}}',
       "--out={d}/x.keras"], ["num_classes", "give it once"], id="model_args-duplicates-flag"),
    P([WEIGHTS, "--model=resnet20", "--input_shape=a,b", "--out={d}/x.keras"],
      ["--input_shape='a,b'"], id="input_shape-not-ints"),
    P([WEIGHTS, "--model=resnet20", "--input_shape=0,16,1", "--out={d}/x.keras"],
      ["--input_shape='0,16,1'"], id="input_shape-zero"),
    P([WEIGHTS, "--model=resnet20", "--input_shape=", "--out={d}/x.keras"],
      ["--input_shape=''"], id="input_shape-empty"),
    P([WEIGHTS, *RESNET, "--num_classes=0", "--out={d}/x.keras"], ["num_classes", "0"],
      id="num_classes-zero"),
    # ---- format options
    P([WEIGHTS, *RESNET, "--version=0", "--out={d}/sm"], ["version", "0"], id="version-zero"),
    P([WEIGHTS, *RESNET, "--version=1", "--out={d}/x.keras"],
      ["--version=1", "saved_model", "--out={d}/x.keras"], id="version-for-keras"),
    P([WEIGHTS, *RESNET, "--quantization=float16", "--out={d}/x.h5"],
      ["--quantization=float16", "tflite"], id="quantization-for-h5"),
    P([WEIGHTS, *RESNET, "--quantization=int4", "--out={d}/x.tflite"],
      ["quantization", "int4"], id="quantization-unknown"),
    P([WEIGHTS, *RESNET, "--sequence_length=0", "--out={d}/x.tflite"],
      ["sequence_length", "0"], id="sequence_length-zero"),
    P([WEIGHTS, *RESNET, "--sequence_length=8", "--out={d}/sm"],
      ["--sequence_length=8", "tflite"], id="sequence_length-for-saved_model"),
    P([WEIGHTS, *RESNET, "--nofold_batchnorm", "--out={d}/x.keras"],
      ["--nofold_batchnorm", "saved_model or tflite", "--out={d}/x.keras"],
      id="nofold_batchnorm-for-keras"),
    P([WEIGHTS, *RESNET, "--fold_batchnorm", "--out={d}/x.weights.h5"],
      ["--fold_batchnorm", "saved_model or tflite"], id="fold_batchnorm-for-weights"),
    P([WEIGHTS, *RESNET, "--fold_batchnorm=maybe", "--out={d}/sm"],
      ["fold_batchnorm", "maybe"], id="fold_batchnorm-not-a-bool"),
]


@pytest.mark.parametrize("args, fragments", CASES)
def test_bad_export_flags(folder, args, fragments):
    before = sorted(p.name for p in folder.iterdir())
    helpers.assert_rejects(lambda: check(folder, *args), USAGE_ERRORS,
                           *[f.format(d=folder) for f in fragments])
    assert sorted(p.name for p in folder.iterdir()) == before


# Flags that pass the checks and files that do not load as asked.
LOAD_CASES = [
    # Built for 3 channels by default, the weights are for 1.
    P([WEIGHTS, "--model=resnet20", "--num_classes=3", "--out={d}/x.keras"],
      ["r.weights.h5", "(3, 3, 1, 16)", "(3, 3, 3, 16)"], id="weights-of-another-input-shape"),
]


@pytest.mark.parametrize("args, fragments", LOAD_CASES)
def test_files_that_do_not_load_as_asked(folder, args, fragments):
    before = sorted(p.name for p in folder.iterdir())
    plan = check(folder, *args)  # the flags themselves are fine
    flag_values = flags.FlagValues()
    export_cli.define_flags(flag_values)
    flag_values(["zoo.export", *[a.format(d=folder) for a in args]])
    helpers.assert_rejects(lambda: export_cli.load_source(plan, flag_values), ValueError,
                           *[f.format(d=folder) for f in fragments])
    assert sorted(p.name for p in folder.iterdir()) == before


def test_positional_arguments_are_a_usage_error():
    helpers.assert_rejects(lambda: export_cli.main(["zoo.export", "extra"]), app.UsageError,
                           "extra")


def test_good_flags_make_a_plan(folder):
    plan = check(folder, WEIGHTS, *RESNET, "--num_classes=3", "--out={d}/served",
                 "--version=2")
    assert plan.out_format == "saved_model" and plan.target == folder / "served" / "2"
    assert plan.model_arguments == {"num_classes": 3, "input_shape": (16, 16, 1)}


# End to end: exit status 2, a usage line, no traceback, nothing written;
# once for absl's parse (before any work) and once for a file that does not
# load (the load's ValueError, reported by `main`).
@pytest.mark.parametrize("args, names, before_any_work", [
    (["--weights={d}/r.keras", "--version=0", "--out={d}/sm"], ["--version", "0"], True),
    (["--weights={d}/r.weights.h5", "--model=resnet20", "--num_classes=3",
      "--out={d}/x.keras"], ["r.weights.h5", "(3, 3, 1, 16)", "(3, 3, 3, 16)"], False),
], ids=["parse version-zero", "load weights-of-another-input-shape"])
def test_bad_export_command_lines(folder, args, names, before_any_work):
    before = sorted(p.name for p in folder.iterdir())
    proc = helpers.run_module("zoo.export", *[a.format(d=folder) for a in args], timeout=120)
    output = helpers.assert_usage_error(proc, *names)
    assert "zoo.export: error:" in output
    # Rejected before any work: TensorFlow was not even described.
    assert ("zoo.export: TensorFlow" not in output) == before_any_work
    assert sorted(p.name for p in folder.iterdir()) == before


def test_the_table_is_big_enough():
    assert len(CASES) >= 20
