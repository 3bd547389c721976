"""Bad calls of `zoo.export`: every one a clear error naming the argument and the value.

One row per bad call of `save`, `load`, `load_weights`, `format_from_path`,
`ServingModel` and `TFLiteModel`, and per bad file (a FIFO, a symlink to
`/dev/zero`, a directory named like a file, garbage). Each row runs in a
thread with a deadline, so a loader that blocks fails the row instead of
hanging the suite. `{d}` in a fragment is the row's scratch directory.
"""

import os
import threading

import numpy as np
import pytest

import helpers
import zoo
import zoo.export
from zoo.export import tflite

DEADLINE_S = 60


class Files:
    """Small models, their saved files and bad files, built once per module."""

    def __init__(self, folder):
        self.dir = folder
        self.resnet = zoo.create_model("resnet20", num_classes=3, input_shape=(16, 16, 1))
        self.mlp = zoo.create_model("einsum_mlp", num_classes=3, input_shape=(8,),
                                    hidden_units=(4,))
        self.h5 = zoo.export.save(self.resnet, folder / "good.h5")
        self.weights = zoo.export.save(self.resnet, folder / "good.weights.h5")
        self.tflite = zoo.export.load(zoo.export.save(self.mlp, folder / "good.tflite"))
        self.served = zoo.export.load(zoo.export.save(self.mlp, folder / "good_sm"))

    def path(self, name):
        return self.dir / name

    def fifo(self, name):
        path = self.dir / name
        if not os.path.lexists(path):
            os.mkfifo(path)
        return path

    def dev_zero(self, name):
        path = self.dir / name
        if not os.path.lexists(path):
            os.symlink("/dev/zero", path)
        return path

    def folder(self, name, content=None):
        path = self.dir / name
        path.mkdir(exist_ok=True)
        if content:
            (path / content).write_text("a user's file")
        return path

    def garbage(self, name):
        path = self.dir / name
        path.write_bytes(np.random.default_rng(0).bytes(4096))
        return path

    def regular(self, name):
        path = self.dir / name
        path.write_text("not a model")
        return path

    def with_lambda(self, suffix):
        """A model holding a Python lambda: loading it must never run it."""
        import keras
        inputs = keras.Input((3,))
        model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
        path = self.dir / f"lambda{suffix}"
        if suffix == ".keras":
            model.save(path)
        else:
            self.zoo_h5_with_config(path, keras.saving.serialize_keras_object(model))
        return path

    def zoo_h5_with_config(self, path, config):
        """A file claiming to be a zoo `.h5`, holding `config` (crafted by an attacker,
        who can write the checksums too: safe mode is what stops it)."""
        import json
        import h5py
        from zoo.export import _files
        with h5py.File(path, "w") as file:
            file.attrs["zoo_format"] = "zoo.h5"
            file.attrs["format_version"] = 1
            file.attrs["checksums"] = "sha256"
            dataset = file.create_dataset("config", data=np.bytes_(json.dumps(config)))
            dataset.attrs["sha256"] = _files.sha256(dataset[()])
            file.create_group("weights")
        return path

    def crafted_keras(self, name, edit):
        """A copy of a `.keras` archive whose config `edit(config)` changed."""
        import json
        import zipfile
        source = self.dir / "crafted_source.keras"
        if not source.exists():
            zoo.export.save(self.mlp, source)
        with zipfile.ZipFile(source) as archive:
            members = {member: archive.read(member) for member in archive.namelist()}
        config = json.loads(members["config.json"])
        edit(config)
        members["config.json"] = json.dumps(config).encode()
        path = self.dir / name
        with zipfile.ZipFile(path, "w") as archive:
            for member, data in members.items():
                archive.writestr(member, data)
        return path

    def unmarked(self, name, source, mark):
        """A copy of zoo file `source` whose checksums attribute `mark` was deleted and
        one weight edited since: the integrity check must not turn off with it."""
        import shutil

        import h5py
        path = self.dir / name
        shutil.copy(source, path)
        with h5py.File(path, "r+") as file:
            del file.attrs[mark]
            datasets = []
            file.visititems(lambda key, item: datasets.append(item)
                            if isinstance(item, h5py.Dataset) and item.dtype.kind == "f"
                            else None)
            datasets[0][...] = datasets[0][()] + 1.0
        return path

    def edited_tflite(self, name):
        """A copy of the TFLite file with its metadata's model name edited."""
        data = self.tflite.path.read_bytes()
        path = self.dir / name
        path.write_bytes(data.replace(b'"model_name": "einsum_mlp"',
                                      b'"model_name": "einsum_mlq"'))
        return path

    def saved_model_with_fifo(self):
        path = self.dir / "fifo_sm"
        if not path.exists():
            zoo.export.save(self.mlp, path)
            os.mkfifo(path / "variables" / "pipe")
        return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return Files(tmp_path_factory.mktemp("bad_export"))


def _unbuilt_model():
    import keras
    return keras.Sequential([keras.layers.Dense(2)], name="unbuilt")


S = zoo.export.save
L = zoo.export.load
W = zoo.export.load_weights
P = pytest.param

CASES = [
    # ---- save: the path argument
    P(lambda f: S(f.resnet, None), TypeError, ["path=None"], id="save-path-None"),
    P(lambda f: S(f.resnet, 123), TypeError, ["path=123"], id="save-path-int"),
    P(lambda f: S(f.resnet, ""), ValueError, ["path=''"], id="save-path-empty"),
    P(lambda f: S(f.resnet, "   "), ValueError, ["path='   '"], id="save-path-blank"),
    P(lambda f: S(f.resnet, b"m.h5"), TypeError, ["path=b'm.h5'"], id="save-path-bytes"),
    P(lambda f: S(f.resnet, "m\0.h5"), ValueError, ["path=", "NUL"], id="save-path-nul"),
    P(lambda f: S(f.resnet, f.path("m.zip")), ValueError, ["path='{d}/m.zip'", "'.zip'"],
      id="save-unknown-suffix"),
    # ---- save: overwrite must be a real bool
    P(lambda f: S(f.resnet, f.path("o1.h5"), overwrite="no"), TypeError,
      ["overwrite='no'"], id="save-overwrite-no"),
    P(lambda f: S(f.resnet, f.path("o2.h5"), overwrite="False"), TypeError,
      ["overwrite='False'"], id="save-overwrite-False-string"),
    P(lambda f: S(f.resnet, f.path("o3.h5"), overwrite=1), TypeError, ["overwrite=1"],
      id="save-overwrite-int"),
    P(lambda f: S(f.resnet, f.path("o4.h5"), overwrite=None), TypeError, ["overwrite=None"],
      id="save-overwrite-None"),
    P(lambda f: S(f.resnet, f.h5, overwrite="no"), TypeError, ["overwrite='no'"],
      id="save-overwrite-no-existing-file-kept"),
    # ---- save: format
    P(lambda f: S(f.resnet, f.path("m.keras"), format="onnx"), ValueError, ["format='onnx'"],
      id="save-format-unknown"),
    P(lambda f: S(f.resnet, f.path("m.keras"), format=""), ValueError, ["format=''"],
      id="save-format-empty"),
    P(lambda f: S(f.resnet, f.path("m.keras"), format=5), ValueError, ["format=5"],
      id="save-format-int"),
    P(lambda f: S(f.resnet, f.path("x.keras"), format="h5"), ValueError,
      ["format='h5'", "path='{d}/x.keras'", "'keras'"], id="save-format-h5-for-keras"),
    P(lambda f: S(f.resnet, f.path("x.h5"), format="keras"), ValueError,
      ["format='keras'", "path='{d}/x.h5'"], id="save-format-keras-for-h5"),
    P(lambda f: S(f.resnet, f.path("x.keras"), format="tflite"), ValueError,
      ["format='tflite'", "x.keras"], id="save-format-tflite-for-keras"),
    P(lambda f: S(f.resnet, f.path("x.tflite"), format="saved_model"), ValueError,
      ["format='saved_model'", "x.tflite"], id="save-format-saved_model-for-tflite"),
    P(lambda f: S(f.resnet, f.path("w.h5"), format="weights"), ValueError,
      ["format='weights'", "w.h5"], id="save-format-weights-for-h5"),
    P(lambda f: S(f.resnet, f.path("model_dir"), format="keras"), ValueError,
      ["format='keras'", "'.keras'", "model_dir"], id="save-format-keras-without-suffix"),
    # ---- save: the model argument
    P(lambda f: S(None, f.path("n.h5")), TypeError, ["model=None"], id="save-model-None"),
    P(lambda f: S("resnet20", f.path("n.h5")), TypeError, ["model='resnet20'"],
      id="save-model-name-string"),
    P(lambda f: S(_unbuilt_model(), f.path("u.keras")), ValueError, ["u.keras", "not built"],
      id="save-model-unbuilt"),
    # ---- save: what is at the target
    P(lambda f: S(f.resnet, f.h5), FileExistsError, ["good.h5", "overwrite=True"],
      id="save-existing-without-overwrite"),
    P(lambda f: S(f.resnet, f.folder("dir.h5"), overwrite=True), ValueError,
      ["'{d}/dir.h5'", "is a directory"], id="save-file-onto-directory"),
    P(lambda f: S(f.resnet, f.folder("users_dir", "notes.txt"), overwrite=True), ValueError,
      ["'{d}/users_dir'", "not a SavedModel", "nothing was deleted"],
      id="save-saved_model-onto-users-directory"),
    P(lambda f: S(f.resnet, f.regular("plainfile"), overwrite=True), ValueError,
      ["'{d}/plainfile'", "is a file"], id="save-saved_model-onto-file"),
    P(lambda f: S(f.resnet, helpers.unwritable_dir(f.dir) / "m.h5"), ValueError,
      ["path='{d}/a_file/results/m.h5'", "not a directory"], id="save-under-a-file"),
    # ---- save: options
    P(lambda f: S(f.mlp, f.path("v0"), version=0), ValueError, ["version=0"],
      id="save-version-zero"),
    P(lambda f: S(f.mlp, f.path("v1"), version="1"), ValueError, ["version='1'"],
      id="save-version-string"),
    P(lambda f: S(f.mlp, f.path("v2"), version=True), ValueError, ["version=True"],
      id="save-version-bool"),
    P(lambda f: S(f.resnet, f.path("opt.h5"), quantization="int8"), ValueError,
      ["takes no options", "quantization"], id="save-h5-with-tflite-option"),
    P(lambda f: S(f.mlp, f.path("q.tflite"), quantization="int4"), ValueError,
      ["quantization='int4'"], id="save-tflite-quantization-unknown"),
    P(lambda f: S(f.mlp, f.path("q2.tflite"), colour="red"), ValueError, ["colour"],
      id="save-tflite-unknown-option"),
    P(lambda f: S(f.mlp, f.path("sm_opt"), colour="red"), ValueError, ["colour"],
      id="save-saved_model-unknown-option"),
    P(lambda f: S(f.mlp, f.path("i8.tflite"), int8_io="yes"), TypeError, ["int8_io='yes'"],
      id="save-tflite-int8_io-string"),
    P(lambda f: S(f.resnet, f.path("fold_sm"), fold_batchnorm="yes"), TypeError,
      ["fold_batchnorm='yes'"], id="save-saved_model-fold_batchnorm-string"),
    P(lambda f: S(f.resnet, f.path("fold.tflite"), fold_batchnorm=1), TypeError,
      ["fold_batchnorm=1"], id="save-tflite-fold_batchnorm-int"),
    P(lambda f: S(f.resnet, f.path("fold.h5"), fold_batchnorm=True), ValueError,
      ["takes no options", "fold_batchnorm"], id="save-h5-with-fold_batchnorm"),
    P(lambda f: S(f.resnet, f.path("fold.keras"), fold_batchnorm=False), ValueError,
      ["takes no options", "fold_batchnorm"], id="save-keras-with-fold_batchnorm"),
    # ---- load: the arguments
    P(lambda f: L(None), TypeError, ["path=None"], id="load-path-None"),
    P(lambda f: L(123), TypeError, ["path=123"], id="load-path-int"),
    P(lambda f: L(""), ValueError, ["path=''"], id="load-path-empty"),
    P(lambda f: L(f.h5, format="pt"), ValueError, ["format='pt'"], id="load-format-unknown"),
    P(lambda f: L(f.h5, format="keras"), ValueError, ["format='keras'", "good.h5"],
      id="load-format-contradicts-suffix"),
    P(lambda f: L(f.path("missing.keras")), FileNotFoundError, ["'{d}/missing.keras'"],
      id="load-missing"),
    P(lambda f: L(f.weights), ValueError, ["good.weights.h5", "load_weights"],
      id="load-weights-only-file"),
    # ---- load: what is not a regular file, refused before it is opened
    P(lambda f: L(f.fifo("f.h5")), ValueError, ["path='{d}/f.h5'", "FIFO"], id="load-fifo-h5"),
    P(lambda f: L(f.fifo("f.keras")), ValueError, ["path='{d}/f.keras'", "FIFO"],
      id="load-fifo-keras"),
    P(lambda f: L(f.fifo("f.tflite")), ValueError, ["path='{d}/f.tflite'", "FIFO"],
      id="load-fifo-tflite"),
    P(lambda f: L(f.dev_zero("z.keras")), ValueError, ["path='{d}/z.keras'",
                                                       "character device"],
      id="load-dev-zero-keras"),
    P(lambda f: L(f.dev_zero("z.h5")), ValueError, ["path='{d}/z.h5'", "character device"],
      id="load-dev-zero-h5"),
    P(lambda f: L(f.dev_zero("z.tflite")), ValueError, ["path='{d}/z.tflite'",
                                                        "character device"],
      id="load-dev-zero-tflite"),
    P(lambda f: L(f.folder("x.keras")), ValueError, ["path='{d}/x.keras'", "directory"],
      id="load-directory-keras"),
    P(lambda f: L(f.folder("x.h5")), ValueError, ["path='{d}/x.h5'", "directory"],
      id="load-directory-h5"),
    P(lambda f: L(f.folder("x.tflite")), ValueError, ["path='{d}/x.tflite'", "directory"],
      id="load-directory-tflite"),
    P(lambda f: L(f.saved_model_with_fifo()), ValueError, ["'{d}/fifo_sm'", "pipe", "FIFO"],
      id="load-saved_model-holding-a-fifo"),
    P(lambda f: L(f.regular("not_a_dir")), ValueError, ["not_a_dir", "directory"],
      id="load-saved_model-regular-file"),
    P(lambda f: L(f.folder("empty_dir")), ValueError, ["empty_dir", "saved_model.pb"],
      id="load-saved_model-empty-directory"),
    P(lambda f: L(f.garbage("g.keras")), ValueError, ["g.keras"], id="load-garbage-keras"),
    P(lambda f: L(f.garbage("g.h5")), ValueError, ["g.h5", "HDF5"], id="load-garbage-h5"),
    P(lambda f: L(f.garbage("g.tflite")), ValueError, ["g.tflite", "TFLite"],
      id="load-garbage-tflite"),
    # ---- load: files that carry code or crafted configs (safe mode)
    P(lambda f: L(f.with_lambda(".keras")), ValueError, ["lambda.keras", "Lambda"],
      id="load-keras-with-lambda"),
    P(lambda f: L(f.with_lambda(".h5")), ValueError, ["lambda.h5", "Lambda", "safe mode"],
      id="load-h5-with-lambda"),
    P(lambda f: L(f.zoo_h5_with_config(f.path("crafted.h5"), {
        "module": "os", "class_name": "system", "config": {"command": "true"}})),
      ValueError, ["crafted.h5", "safe mode"], id="load-h5-crafted-config"),
    # Keras raises a bare TypeError for these, naming no file.
    P(lambda f: L(f.crafted_keras("list_config.keras",
                                  lambda c: c.__setitem__("config", [1, 2]))),
      ValueError, ["list_config.keras", "dict"], id="load-keras-crafted-config-list"),
    P(lambda f: L(f.crafted_keras("bad_argument.keras",
                                  lambda c: c["config"].__setitem__("num_classes", [3]))),
      ValueError, ["bad_argument.keras", "deserialized"], id="load-keras-crafted-argument"),
    # ---- integrity that a deleted attribute must not switch off
    P(lambda f: L(f.unmarked("unmarked.h5", f.h5, "checksums")), ValueError,
      ["unmarked.h5", "zoo_format='zoo.h5'", "lost its checksums"], id="load-h5-mark-deleted"),
    P(lambda f: W(f.resnet, f.unmarked("unmarked2.h5", f.h5, "checksums")), ValueError,
      ["unmarked2.h5", "lost its checksums"], id="load_weights-h5-mark-deleted"),
    P(lambda f: W(f.resnet, f.unmarked("unmarked.weights.h5", f.weights, "zoo_checksums")),
      ValueError, ["unmarked.weights.h5", "zoo_sha256", "lost its checksums"],
      id="load_weights-weights-h5-mark-deleted"),
    P(lambda f: tflite.read_metadata(f.edited_tflite("edited.tflite")), ValueError,
      ["edited.tflite", "SHA-256"], id="read_metadata-edited"),
    # ---- load_weights
    P(lambda f: W(None, f.weights), TypeError, ["model=None"], id="load_weights-model-None"),
    P(lambda f: W(f.resnet, None), TypeError, ["path=None"], id="load_weights-path-None"),
    P(lambda f: W(f.resnet, ""), ValueError, ["path=''"], id="load_weights-path-empty"),
    P(lambda f: W(f.resnet, f.path("m.tflite")), ValueError, ["path='{d}/m.tflite'"],
      id="load_weights-tflite"),
    P(lambda f: W(f.resnet, f.path("none.weights.h5")), FileNotFoundError,
      ["'{d}/none.weights.h5'"], id="load_weights-missing"),
    P(lambda f: W(f.resnet, f.fifo("f.weights.h5")), ValueError,
      ["path='{d}/f.weights.h5'", "FIFO"], id="load_weights-fifo"),
    P(lambda f: W(f.resnet, f.dev_zero("z.weights.h5")), ValueError,
      ["path='{d}/z.weights.h5'", "character device"], id="load_weights-dev-zero"),
    P(lambda f: W(zoo.create_model("resnet20", num_classes=5, input_shape=(16, 16, 1)),
                  f.weights), ValueError,
      ["good.weights.h5", "'classifier/vars/0'", "(64, 3)", "(64, 5)"],
      id="load_weights-another-shape"),
    P(lambda f: W(zoo.create_model("resnet20", num_classes=5, input_shape=(16, 16, 1)),
                  f.h5), ValueError, ["good.h5", "classifier/kernel", "(64, 3)", "(64, 5)"],
      id="load_weights-zoo-h5-another-shape"),
    # ---- format_from_path
    P(lambda f: zoo.export.format_from_path(None), TypeError, ["path=None"],
      id="format_from_path-None"),
    P(lambda f: zoo.export.format_from_path(""), ValueError, ["path=''"],
      id="format_from_path-empty"),
    P(lambda f: zoo.export.format_from_path("m.onnx"), ValueError, ["path='m.onnx'", ".onnx"],
      id="format_from_path-unknown-suffix"),
    # ---- ServingModel calls
    P(lambda f: f.served(None), TypeError, ["inputs=None"], id="ServingModel-None"),
    P(lambda f: f.served("hello"), ValueError, ["'features'", "'hello'"],
      id="ServingModel-string"),
    P(lambda f: f.served(np.ones((2, 8), complex)), ValueError, ["'features'", "complex"],
      id="ServingModel-complex"),
    P(lambda f: f.served(np.ones((2, 5), "float32")), ValueError, ["'features'", "(2, 5)"],
      id="ServingModel-wrong-shape"),
    P(lambda f: f.served({"images": np.ones((2, 8))}), ValueError, ["'features'", "images"],
      id="ServingModel-wrong-key"),
    # ---- TFLiteModel calls and construction
    P(lambda f: f.tflite(None), TypeError, ["inputs=None"], id="TFLiteModel-None"),
    P(lambda f: f.tflite("hello"), ValueError, ["inputs='hello'"], id="TFLiteModel-string"),
    P(lambda f: f.tflite(np.ones((2, 8), complex)), ValueError, ["complex"],
      id="TFLiteModel-complex"),
    P(lambda f: f.tflite(np.ones((2, 5), "float32")), ValueError, ["shape=(2, 5)"],
      id="TFLiteModel-wrong-shape"),
    P(lambda f: tflite.TFLiteModel(f.tflite.path, num_threads=0), ValueError,
      ["num_threads=0"], id="TFLiteModel-num_threads-zero"),
    P(lambda f: tflite.TFLiteModel(f.tflite.path, num_threads="2"), TypeError,
      ["num_threads='2'"], id="TFLiteModel-num_threads-string"),
    P(lambda f: tflite.TFLiteModel(None), TypeError, ["path=None"], id="TFLiteModel-path-None"),
]


def _within_deadline(call):
    """`call()` in a daemon thread: its exception, or a failure if it blocks."""
    outcome = {}

    def target():
        try:
            outcome["value"] = call()
        except BaseException as error:  # noqa: BLE001 -- handed to the test thread
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(DEADLINE_S)
    assert not thread.is_alive(), f"still running after {DEADLINE_S} s: it hangs"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.mark.filterwarnings("ignore:.*carries no zoo checksums")
@pytest.mark.parametrize("call, error_types, fragments", CASES)
def test_bad_export_call(files, call, error_types, fragments):
    before = sorted(p.name for p in files.dir.iterdir())
    helpers.assert_rejects(lambda: _within_deadline(lambda: call(files)), error_types,
                           *[fragment.format(d=files.dir) for fragment in fragments])
    # A rejected save writes nothing and deletes nothing (rows may add their
    # own bad input files, never a model or scratch).
    after = sorted(p.name for p in files.dir.iterdir())
    assert not [name for name in after if name not in before and
                (name.endswith(".partial") or name.startswith("."))], after
    assert set(before) <= set(after)


def test_the_table_is_big_enough():
    assert len(CASES) >= 60


# ---- int8 calibration data that would make a wrong model, for every family:
# refused before the converter sees it (inf once crashed the process).


def _small(name):
    model = zoo.create_model(name, **zoo.model_info(name).small)
    if model.needs_adapt:  # a text model learns its vocabulary first
        model.adapt(model.example_inputs(batch_size=8))
    return model, model.example_inputs(batch_size=4)


FLOAT_CALIBRATION = [
    ("nan", lambda x: np.full_like(x, np.nan), ["batch 0", "non-finite"]),
    ("inf", lambda x: np.where(x > 0, np.inf, x), ["batch 0", "non-finite"]),
    ("huge", lambda x: x * 1e30, ["batch 0", "input range"]),
    ("int", lambda x: x.astype("int64"), ["batch 0", "int64", "floats"]),
    ("bool", lambda x: x > 0, ["batch 0", "bool"]),
    ("complex", lambda x: x.astype("complex64"), ["batch 0", "complex64"]),
    ("second-batch-nan", lambda x: [x, np.full_like(x, np.nan)], ["batch 1", "non-finite"]),
]
TOKEN_CALIBRATION = [
    ("id-out-of-range", lambda x: np.where(x > 0, 10**6, x), ["batch 0", "token ids"]),
    ("floats", lambda x: x.astype("float32"), ["batch 0", "float32"]),
]
ANY_CALIBRATION = [
    ("int-scalar", lambda x: 5, ["representative_data=5", "iterable"]),
    ("string", lambda x: "images/", ["representative_data='images/'"]),
]


@pytest.mark.parametrize("name", helpers.one_per_family())
def test_bad_calibration_data(tmp_path, name):
    model, x = _small(name)
    path = tmp_path / "m.tflite"
    twin = model.token_twin(None, 8)
    loops = any(type(layer).__name__ in ("LSTM", "GRU", "SimpleRNN", "RNN")
                for layer in model._flatten_layers(include_self=False, recursive=True))
    if loops:  # int8 is refused for recurrent loops, whatever the data
        helpers.assert_rejects(
            lambda: S(model, path, quantization="int8", representative_data=x), ValueError,
            "quantization='int8'", "recurrent")
        return
    data = x if twin is None else twin[0].example_inputs(batch_size=4)
    rows = ANY_CALIBRATION + (FLOAT_CALIBRATION if data.dtype.kind == "f"
                              else TOKEN_CALIBRATION)
    for index, (kind, spoil, fragments) in enumerate(rows):
        # The checks run on the BatchNorm-folded copy, which takes seconds to make: the
        # first row as saved by default, the others without the fold.
        fold = {} if index == 0 else {"fold_batchnorm": False}
        helpers.assert_rejects(
            lambda: S(model, path, quantization="int8", representative_data=spoil(data), **fold),
            ValueError, "representative_data", *fragments)
        assert not path.exists(), kind
    # Given where nothing uses it: an error, as int8_io is.
    for quantization in (None, "float16"):
        helpers.assert_rejects(
            lambda: S(model, path, quantization=quantization, representative_data=data,
                      fold_batchnorm=False),
            ValueError, "representative_data", f"quantization={quantization!r}")


def test_an_int8_file_that_is_float_inside_is_refused(files, tmp_path, monkeypatch):
    # Backstop behind the data checks: a conversion that calibrated nothing.
    monkeypatch.setattr(tflite, "_calibration_problem", lambda batch, model: None)
    x = files.mlp.example_inputs(batch_size=4)
    helpers.assert_rejects(
        lambda: S(files.mlp, tmp_path / "nan.tflite", quantization="int8",
                  representative_data=np.full_like(x, np.nan)),
        ValueError, "float32 weight tensors", "representative_data")
    assert not (tmp_path / "nan.tflite").exists()
    # inf ends TensorFlow's calibrator with SIGSEGV ("scale out of expressed type
    # range"); it runs in a child process, so this one gets a ValueError.
    helpers.assert_rejects(
        lambda: S(files.mlp, tmp_path / "inf.tflite", quantization="int8",
                  representative_data=np.where(x > 0, np.inf, x)),
        ValueError, "representative_data", "int8")
    assert not (tmp_path / "inf.tflite").exists()


@pytest.mark.parametrize("suffix", [".keras", ".h5", ".weights.h5", ".tflite", ""])
def test_a_save_where_nothing_can_be_written_names_the_target(files, suffix):
    # /proc takes no new files, for root too; the error named the hidden scratch.
    target = f"/proc/zoo_model{suffix}"
    with pytest.raises(OSError) as info:
        S(files.mlp, target)
    assert target in str(info.value) and ".partial" not in str(info.value), str(info.value)
