"""Bad command lines of `python -m zoo.export`: usage errors before any work.

Most rows parse the flags into a fresh `flags.FlagValues` and call
`check_flags` in-process (a subprocess costs ~6 s): a row passes when the
parse raises `flags.Error` or `check_flags` raises `app.UsageError`, the two
errors `zoo._cli.run` turns into exit status 2 with a usage line, and the
message names the flag and the value. Files that pass the checks but not
the load (weights of another shape) run `load_source`, `main`'s step that
loads, and calibration data that does not fit the model
`representative_inputs`, the step after it; `main` reports their
`ValueError` as a usage error. Three rows run the
real command line and check exactly that: status 2, `usage:`, no traceback,
nothing written; one fails in absl's parse, one in the load, one in
`check_flags` (a whole model given to --weights).
`{d}` in a row is the module's scratch directory.
"""

import os

import numpy as np
import pytest
from absl import app, flags

import helpers
import zoo
import zoo.export
from zoo.export import __main__ as export_cli

USAGE_ERRORS = (app.UsageError, flags.Error)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A weights file, a whole model, calibration data, and bad files, made once."""
    folder = tmp_path_factory.mktemp("bad_export_cli")
    model = zoo.create_model("resnet20", num_classes=3, input_shape=(16, 16, 1))
    zoo.export.save(model, folder / "r.weights.h5")
    zoo.export.save(model, folder / "r.keras")
    # The zoo's checksums mark deleted, then a weight edited.
    import shutil

    import h5py
    shutil.copy(folder / "r.weights.h5", folder / "unmarked.weights.h5")
    with h5py.File(folder / "unmarked.weights.h5", "r+") as file:
        del file.attrs["zoo_checksums"]
        kernel = file["classifier/vars/0"]
        kernel[...] = kernel[()] + 1.0
    os.mkfifo(folder / "pipe.weights.h5")
    (folder / "dir.keras").mkdir()
    (folder / "dir.weights.h5").mkdir()
    (folder / "users_dir").mkdir()
    (folder / "users_dir" / "notes.txt").write_text("mine")
    (folder / "a_file").write_text("a file, not a directory")
    # --representative_data: good, then bad, .npy arrays and image folders.
    rng = np.random.default_rng(0)
    np.save(folder / "cal.npy", rng.random((4, 16, 16, 1), dtype="float32"))
    np.save(folder / "cal_shape.npy", rng.random((4, 8, 8, 1), dtype="float32"))
    np.save(folder / "cal_rgb.npy", rng.random((4, 16, 16, 3), dtype="float32"))
    np.save(folder / "cal_uint8.npy", np.zeros((4, 16, 16, 1), "uint8"))
    nan = rng.random((4, 16, 16, 1), dtype="float32")
    nan[2, 3, 4, 0] = np.nan
    np.save(folder / "cal_nan.npy", nan)
    np.save(folder / "cal_empty.npy", np.zeros((0, 16, 16, 1), "float32"))
    np.save(folder / "cal_bool.npy", np.ones((4, 16, 16, 1), bool))
    np.save(folder / "cal_objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (folder / "cal_text.npy").write_text("not an array")
    os.mkfifo(folder / "cal_pipe.npy")
    (folder / "bad_images" / "cats").mkdir(parents=True)
    (folder / "bad_images" / "cats" / "a.png").write_text("not a PNG")
    return folder


def parse(folder, *args):
    """Fresh flags holding `args`."""
    flag_values = flags.FlagValues()
    export_cli.define_flags(flag_values)
    flag_values(["zoo.export", *[a.format(d=folder) for a in args]])
    return flag_values


def check(folder, *args):
    """Parses `args` into fresh flags and runs `check_flags` on them."""
    return export_cli.check_flags(parse(folder, *args))


WEIGHTS = "--weights={d}/r.weights.h5"
KERAS = "--model_file={d}/r.keras"
INT8 = "--quantization=int8"
RESNET = ["--model=resnet20", "--input_shape=16,16,1"]
P = pytest.param

CASES = [
    # ---- the required flags and empty values
    P(["--out={d}/x.keras"], ["--model_file", "--weights"], id="source-missing"),
    P([WEIGHTS, *RESNET], ["--out"], id="out-missing"),
    P([WEIGHTS, *RESNET, "--out="], ["--out=''"], id="out-empty"),
    P(["--weights=", "--out={d}/x.keras"], ["--weights=''"], id="weights-empty"),
    P(["--model_file=", "--out={d}/x.keras"], ["--model_file=''"], id="model_file-empty"),
    P([KERAS, WEIGHTS, "--out={d}/x.h5"],
      ["--model_file={d}/r.keras", "--weights={d}/r.weights.h5", "not both"],
      id="model_file-and-weights"),
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
    # ---- --weights and --model_file: each takes its own kind of file
    P(["--weights={d}/none.weights.h5", *RESNET, "--out={d}/x.keras"],
      ["--weights={d}/none.weights.h5", "No "], id="weights-file-missing"),
    P(["--model_file={d}/none.keras", "--out={d}/x.h5"],
      ["--model_file={d}/none.keras", "No "], id="model_file-missing"),
    P(["--weights={d}/m.tflite", "--out={d}/x.keras"], ["--weights={d}/m.tflite"],
      id="weights-tflite"),
    P(["--model_file={d}/m.tflite", "--out={d}/x.keras"], ["--model_file={d}/m.tflite"],
      id="model_file-tflite"),
    P(["--weights={d}/m.onnx", "--out={d}/x.keras"], ["--weights={d}/m.onnx", "'.onnx'"],
      id="weights-unknown-suffix"),
    P(["--weights={d}/pipe.weights.h5", *RESNET, "--out={d}/x.keras"],
      ["--weights={d}/pipe.weights.h5", "FIFO"], id="weights-fifo"),
    P(["--weights={d}/dir.weights.h5", *RESNET, "--out={d}/x.h5"],
      ["--weights={d}/dir.weights.h5", "directory"], id="weights-directory"),
    P(["--model_file={d}/dir.keras", "--out={d}/x.h5"],
      ["--model_file={d}/dir.keras", "directory"], id="model_file-directory"),
    # A whole model given to --weights (the flag's old meaning), and the reverse.
    P(["--weights={d}/r.keras", "--out={d}/x.h5"],
      ["--weights={d}/r.keras", "whole model", "--model_file={d}/r.keras"],
      id="weights-given-a-keras-model"),
    P(["--weights={d}/m.h5", *RESNET, "--out={d}/x.keras"],
      ["--weights={d}/m.h5", "whole model", "--model_file={d}/m.h5"],
      id="weights-given-an-h5-model"),
    P(["--model_file={d}/r.weights.h5", "--out={d}/x.keras"],
      ["--model_file={d}/r.weights.h5", "weights only", "--weights={d}/r.weights.h5",
       "--model"], id="model_file-given-weights"),
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
    # ---- --representative_data: int8 only, a folder of images or a .npy
    P([KERAS, "--representative_data={d}/cal.npy", "--out={d}/x.tflite"],
      ["--representative_data={d}/cal.npy", "--quantization=int8", "--quantization=None"],
      id="representative_data-without-quantization"),
    P([KERAS, "--quantization=float16", "--representative_data={d}/cal.npy",
       "--out={d}/x.tflite"],
      ["--representative_data={d}/cal.npy", "--quantization=int8", "--quantization=float16"],
      id="representative_data-with-float16"),
    P([KERAS, INT8, "--representative_data=", "--out={d}/x.tflite"],
      ["--representative_data=''"], id="representative_data-empty"),
    P([KERAS, INT8, "--representative_data={d}/none.npy", "--out={d}/x.tflite"],
      ["--representative_data={d}/none.npy", "No "], id="representative_data-missing"),
    P([KERAS, INT8, "--representative_data={d}/no_dir", "--out={d}/x.tflite"],
      ["--representative_data={d}/no_dir", "nothing", "folder of images or a .npy"],
      id="representative_data-missing-folder"),
    P([KERAS, INT8, "--representative_data={d}/a_file", "--out={d}/x.tflite"],
      ["--representative_data={d}/a_file", "folder of images or a .npy"],
      id="representative_data-not-npy"),
    P([KERAS, INT8, "--representative_data={d}/users_dir", "--out={d}/x.tflite"],
      ["--representative_data={d}/users_dir", "no image files", ".png"],
      id="representative_data-folder-without-images"),
    P([KERAS, INT8, "--representative_data={d}/cal_text.npy", "--out={d}/x.tflite"],
      ["--representative_data={d}/cal_text.npy", "not a readable .npy"],
      id="representative_data-npy-not-an-array"),
    P([KERAS, INT8, "--representative_data={d}/cal_objects.npy", "--out={d}/x.tflite"],
      ["--representative_data={d}/cal_objects.npy", "not a readable .npy"],
      id="representative_data-npy-pickled-objects"),
    P([KERAS, INT8, "--representative_data={d}/cal_empty.npy", "--out={d}/x.tflite"],
      ["--representative_data={d}/cal_empty.npy", "no examples", "(0, 16, 16, 1)"],
      id="representative_data-npy-empty"),
    P([KERAS, INT8, "--representative_data={d}/cal_bool.npy", "--out={d}/x.tflite"],
      ["--representative_data={d}/cal_bool.npy", "numbers", "bool"],
      id="representative_data-npy-bool"),
    P([KERAS, INT8, "--representative_data={d}/cal_pipe.npy", "--out={d}/x.tflite"],
      ["--representative_data={d}/cal_pipe.npy", "FIFO"], id="representative_data-fifo"),
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
    P(["--weights={d}/unmarked.weights.h5", *RESNET, "--num_classes=3", "--out={d}/x.keras"],
      ["unmarked.weights.h5", "lost its checksums"], id="weights-checksums-mark-deleted"),
]


# Calibration data that passes the flag checks but does not fit the model
# (read by `main` once the model is loaded; its ValueError is a usage error).
CALIBRATION_CASES = [
    P(["--representative_data={d}/cal_shape.npy"],
      ["--representative_data={d}/cal_shape.npy", "(4, 8, 8, 1)", "(batch, 16, 16, 1)"],
      id="npy-of-another-shape"),
    P(["--representative_data={d}/cal_rgb.npy"],
      ["--representative_data={d}/cal_rgb.npy", "(4, 16, 16, 3)", "(batch, 16, 16, 1)"],
      id="npy-of-another-channel-count"),
    P(["--representative_data={d}/cal_uint8.npy"],
      ["--representative_data={d}/cal_uint8.npy", "uint8", "float32", "[0, 1]"],
      id="npy-of-integers-for-a-float-model"),
    P(["--representative_data={d}/cal_nan.npy"],
      ["--representative_data={d}/cal_nan.npy", "1 NaN or infinite"], id="npy-with-nan"),
    P(["--representative_data={d}/bad_images"],
      ["--representative_data={d}/bad_images", "{d}/bad_images/cats/a.png"],
      id="folder-with-a-file-that-is-no-image"),
]


@pytest.mark.parametrize("args, fragments", CALIBRATION_CASES)
def test_calibration_data_that_does_not_fit_the_model(folder, args, fragments):
    flag_values = parse(folder, KERAS, INT8, *args, "--out={d}/x.tflite")
    plan = export_cli.check_flags(flag_values)  # the flags themselves are fine
    model = export_cli.load_source(plan, flag_values)
    helpers.assert_rejects(lambda: export_cli.representative_inputs(plan.calibration, model),
                           ValueError, *[f.format(d=folder) for f in fragments])


def test_good_calibration_data_makes_a_plan(folder):
    flag_values = parse(folder, KERAS, INT8, "--representative_data={d}/cal.npy",
                        "--out={d}/x.tflite")
    plan = export_cli.check_flags(flag_values)
    assert plan.calibration == export_cli.Calibration("npy", f"{folder}/cal.npy", None)
    model = export_cli.load_source(plan, flag_values)
    inputs = export_cli.representative_inputs(plan.calibration, model)
    np.testing.assert_array_equal(inputs, np.load(folder / "cal.npy"))
    # At most `limit` rows, evenly spaced, the first and the last included.
    spread = export_cli.representative_inputs(plan.calibration, model, limit=3)
    np.testing.assert_array_equal(spread, np.load(folder / "cal.npy")[[0, 2, 3]])


@pytest.mark.parametrize("args, fragments", LOAD_CASES)
def test_files_that_do_not_load_as_asked(folder, args, fragments):
    before = sorted(p.name for p in folder.iterdir())
    flag_values = parse(folder, *args)
    plan = export_cli.check_flags(flag_values)  # the flags themselves are fine
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
    (["--model_file={d}/r.keras", "--version=0", "--out={d}/sm"], ["--version", "0"], True),
    (["--weights={d}/r.weights.h5", "--model=resnet20", "--num_classes=3",
      "--out={d}/x.keras"], ["r.weights.h5", "(3, 3, 1, 16)", "(3, 3, 3, 16)"], False),
    (["--weights={d}/r.keras", "--out={d}/x.h5"],
     ["--weights={d}/r.keras", "--model_file={d}/r.keras"], True),
], ids=["parse version-zero", "load weights-of-another-input-shape",
        "check whole-model-given-to-weights"])
def test_bad_export_command_lines(folder, args, names, before_any_work):
    before = sorted(p.name for p in folder.iterdir())
    proc = helpers.run_module("zoo.export", *[a.format(d=folder) for a in args], timeout=120)
    output = helpers.assert_usage_error(proc, *[n.format(d=folder) for n in names])
    assert "zoo.export: error:" in output
    # Rejected before any work: TensorFlow was not even described.
    assert ("zoo.export: TensorFlow" not in output) == before_any_work
    assert sorted(p.name for p in folder.iterdir()) == before


def test_the_table_is_big_enough():
    assert len(CASES) >= 20
