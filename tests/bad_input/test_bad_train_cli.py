"""Bad input to the training CLI (`python -m zoo.train`) and to `zoo.train.train`.

Every value is checked once, before any work, by `zoo.train.TrainConfig`
(`zoo/train/config.py`), whose messages name the option as the caller does:
`--loop=keras` on the command line, `loop='keras'` from Python. Most rows
run in-process: the flags are parsed into a fresh `flags.FlagValues`
(absl's own parse errors: type, bounds, choices) and then checked by
`zoo.train.__main__.check_flags`, exactly what `main` does first. Errors
only the run can find (no TF_CONFIG, no TPU, a warm-up longer than the run,
a model of the other modality, a checkpoint that does not fit) run `main`
itself in-process on those fresh flags: the `app.UsageError` it raises is
what `zoo._cli` turns into exit status 2. A few rows run the CLI end to
end, one per path to that exit (absl's parse, `check_flags`, the run):
status 2, a usage line, no traceback, no epoch.
"""

import os

import pytest
from absl import app, flags

import zoo
import zoo.export
import zoo.train
from helpers import assert_rejects, assert_usage_error, run_module, unwritable_dir
from zoo.train import __main__ as train_cli

FAST = ("--model=einsum_mlp", "--dataset=digits", "--image_size=8", "--epochs=1")
USAGE_ERRORS = (flags.Error, app.UsageError)
RUNNING_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def parse_and_check(argv):
    """What `python -m zoo.train ARGV` checks before it starts: parse, then check."""
    flag_values = flags.FlagValues()
    train_cli.define_flags(flag_values)
    flag_values(["zoo.train", *FAST, *argv])
    return train_cli.check_flags(flag_values)


def run_main(argv, monkeypatch):
    """`python -m zoo.train ARGV` in this process: fresh flags, then `main` on them.

    `main` reads the module's `FLAGS`; pointing it at a fresh, parsed
    `FlagValues` runs exactly what the command line runs after parsing.
    """
    flag_values = flags.FlagValues()
    train_cli.define_flags(flag_values)
    flag_values(["zoo.train", *FAST, *argv])
    monkeypatch.setattr(train_cli, "FLAGS", flag_values)
    monkeypatch.delenv("TF_CONFIG", raising=False)  # only a multi-worker host has one
    return train_cli.main(["zoo.train"])


def row(argv, *fragments, id=None):
    """A table row: the flags, and what the message must name (flag and value)."""
    return pytest.param(list(argv), fragments, id=id or " ".join(argv))


# {tmp} is replaced by the test's tmp_path; {file} by a regular file in it.
CLI_ROWS = [
    # absl rejects these while parsing: type, bounds and choices.
    row(["--epochs=0"], "--epochs=0"),
    row(["--epochs=1.5"], "--epochs=1.5"),
    row(["--batch_size=-4"], "--batch_size=-4"),
    row(["--image_size=0"], "--image_size=0"),
    row(["--optimizer=rmsprop"], "--optimizer=rmsprop", "adamw"),
    row(["--lr_schedule=linear"], "--lr_schedule=linear", "warmup"),
    row(["--loop=keras"], "--loop=keras", "custom"),
    row(["--strategy=gpu"], "--strategy=gpu", "mirrored"),
    row(["--jit_compile=yes"], "--jit_compile=yes", "auto", "probe"),
    row(["--mixed_precision=fp16"], "--mixed_precision=fp16", "mixed_float16"),
    row(["--verbose=3"], "--verbose=3"),
    row(["--seed=-1"], "--seed=-1"),
    row(["--keep_checkpoints=0"], "--keep_checkpoints=0"),
    row(["--checkpoint_steps=-1"], "--checkpoint_steps=-1"),
    row(["--early_stopping_patience=-1"], "--early_stopping_patience=-1"),
    row(["--histogram_freq=-1"], "--histogram_freq=-1"),
    row(["--num_classes=0"], "--num_classes=0"),
    row(["--cpu_devices=0"], "--cpu_devices=0"),
    row(["--learning_rate=-1"], "--learning_rate=-1"),
    row(["--learning_rate=abc"], "--learning_rate=abc"),
    row(["--weight_decay=-0.1"], "--weight_decay=-0.1"),
    row(["--warmup_epochs=-1"], "--warmup_epochs=-1"),
    row(["--label_smoothing=1.5"], "--label_smoothing=1.5"),
    row(["--deterministic=no"], "--deterministic", "no"),
    row(["--validate=maybe"], "--validate", "maybe"),
    row(["--no_such_flag=1"], "no_such_flag"),
    # Finite numbers: absl's bounds let NaN and inf through.
    row(["--learning_rate=nan"], "--learning_rate=nan"),
    row(["--learning_rate=inf"], "--learning_rate=inf"),
    row(["--learning_rate=0"], "--learning_rate=0.0"),
    row(["--weight_decay=nan"], "--weight_decay=nan"),
    row(["--weight_decay=inf"], "--weight_decay=inf"),
    row(["--warmup_epochs=nan"], "--warmup_epochs=nan"),
    row(["--warmup_epochs=inf"], "--warmup_epochs=inf"),
    row(["--label_smoothing=nan"], "--label_smoothing=nan"),
    # Empty strings were silently "not given".
    row(["--model="], "--model=''"),
    row(["--dataset="], "--dataset=''"),
    row(["--monitor="], "--monitor=''", "val_accuracy", "loss"),
    row(["--freeze_upto="], "--freeze_upto=''"),
    row(["--model_dir="], "--model_dir=''"),
    row(["--init_from="], "--init_from=''"),
    row(["--tpu="], "--tpu=''"),
    row(["--export="], "--export=''"),
    row(["--export={tmp}/a.keras,,{tmp}/b.h5"], "--export=", "an empty entry"),
    # Names the run does not have.
    row(["--model=resnet51"], "--model=resnet51", "resnet50"),
    row(["--dataset=mnistt"], "--dataset=mnistt", "digits"),
    row(["--monitor=val_acc"], "--monitor='val_acc'", "val_accuracy"),
    row(["--monitor=precision"], "--monitor='precision'", "accuracy"),
    row(["--monitor=val_loss", "--novalidate", "--early_stopping_patience=2"],
        "--monitor=val_loss", "--novalidate", "'loss'"),
    row(["--monitor=val_accuracy", "--novalidate", "--model_dir={tmp}/run"],
        "--monitor=val_accuracy", "--novalidate"),
    row(["--export={tmp}/model.txt"], "--export=", "model.txt", ".txt"),
    row(["--export={tmp}/model.zip"], "--export=", "model.zip", ".zip"),
    # Places that cannot be written: refused before training, not after it.
    row(["--model_dir={file}/run"], "--model_dir=", "a_file", "regular file"),
    row(["--model_dir={file}"], "--model_dir=", "a_file", "not a directory"),
    row(["--export={file}/out/model.keras"], "--export=", "a_file", "not a directory"),
    row(["--export={tmp}/ok.keras,{file}/model.h5"], "--export=", "model.h5",
        "not a directory"),
    # Flags valid one by one that do not go together.
    row(["--checkpoint_steps=5"], "--checkpoint_steps=5", "--loop=custom"),
    row(["--checkpoint_steps=5", "--loop=custom"], "--checkpoint_steps=5", "--model_dir"),
    row(["--strategy=multi_worker", "--loop=fit"], "--strategy=multi_worker", "--loop=fit"),
    row(["--jit_compile=probe", "--strategy=mirrored"], "--jit_compile=probe",
        "--strategy=mirrored"),
    row(["--optimizer=adam", "--weight_decay=0.1"], "--optimizer=adam", "--weight_decay=0.1"),
    # Constructor arguments: a JSON object, without what the run sets itself.
    row(["--model_args={dropout: 0.1}"], "--model_args='{dropout: 0.1}'", "JSON object"),
    row(["--model_args=[0.1]"], "--model_args=[0.1]", "JSON object"),
    row(['--model_args={"num_classes": 3}'], '--model_args={"num_classes": 3}',
        "--num_classes"),
    row(['--model_args={"input_shape": [8, 8, 1]}'], "'input_shape'", "--image_size"),
]


def _paths(argv, tmp_path):
    regular_file = unwritable_dir(tmp_path).parent  # tmp_path/a_file, a regular file
    return [a.replace("{tmp}", str(tmp_path)).replace("{file}", str(regular_file))
            for a in argv]


@pytest.mark.parametrize("argv, fragments", CLI_ROWS)
def test_bad_flags_are_usage_errors_naming_flag_and_value(argv, fragments, tmp_path):
    assert_rejects(lambda: parse_and_check(_paths(argv, tmp_path)), USAGE_ERRORS, *fragments)


# Errors the run finds, before any epoch. {base} is a resnet20 for 16x16
# digits saved as .keras (the `base` fixture); {tmp} the test's tmp_path.
RUN_ROWS = [
    row(["--strategy=multi_worker"], "--strategy=multi_worker", "TF_CONFIG"),
    # No TPU here: it must fail at once, not wait for one.
    row(["--strategy=tpu"], "--strategy=tpu", "no TPU"),
    # Nobody listens there: TensorFlow itself would wait for ever.
    row(["--strategy=tpu", "--tpu=grpc://127.0.0.1:1"], "--strategy=tpu",
        "--tpu=grpc://127.0.0.1:1"),
    row(["--lr_schedule=warmup", "--warmup_epochs=100"], "--warmup_epochs=100"),
    row(["--model=resnet20", "--dataset=sentiment"], "--model=resnet20", "--dataset=sentiment"),
    row(["--model=text_rnn", "--dataset=digits"], "--model=text_rnn", "--dataset=digits"),
    row(["--image_size=16", "--init_from={base}", "--model=resnet32"], "--init_from",
        "does not fit"),
    row(["--model=resnet20", "--image_size=16", "--init_from={base}", "--freeze_upto=stage9"],
        "--freeze_upto=stage9", "stage9"),
    row(["--model=resnet20", "--image_size=16", "--init_from={base}", "--num_classes=5"],
        "--num_classes=5", "10 classes", "--dataset=digits"),
    # The constructor's own errors, named as the flag that passed the argument.
    row(['--model_args={"dropout": 1.5}'], '--model_args={"dropout": 1.5}', "dropout=1.5"),
    row(['--model_args={"no_such_argument": 1}'], "--model_args=", "no_such_argument"),
]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """An untrained resnet20 for 16x16 digits, as `--init_from` reads it."""
    path = tmp_path_factory.mktemp("base") / "base.keras"
    zoo.export.save(zoo.create_model("resnet20", num_classes=10, input_shape=(16, 16, 1)), path)
    return path


@pytest.mark.parametrize("argv, fragments", RUN_ROWS)
def test_errors_the_run_finds_are_usage_errors_before_any_epoch(argv, fragments, base,
                                                                tmp_path, monkeypatch, capsys):
    argv = [a.replace("{base}", str(base)) for a in _paths(argv, tmp_path)]
    assert_rejects(lambda: run_main(argv, monkeypatch), app.UsageError, *fragments)
    assert "Epoch 1" not in "".join(capsys.readouterr())


def test_positional_arguments_are_a_usage_error():
    assert_rejects(lambda: train_cli.main(["zoo.train", "digits"]), app.UsageError,
                   "Unexpected positional arguments: ['digits']")


@pytest.mark.parametrize("target", ["saved_model_dir", "model.keras"])
def test_export_onto_a_users_directory_is_refused_before_training(target, tmp_path):
    # --export replaces model files, never a directory of the user's files.
    users_dir = tmp_path / target
    users_dir.mkdir()
    (users_dir / "notes.txt").write_text("mine")
    assert_rejects(lambda: parse_and_check([f"--export={users_dir}"]), USAGE_ERRORS,
                   "--export=", str(users_dir))
    assert (users_dir / "notes.txt").read_text() == "mine"


@pytest.mark.skipif(RUNNING_AS_ROOT, reason="root writes into read-only directories")
@pytest.mark.parametrize("flag, target", [("--model_dir", "run"), ("--export", "m.keras")])
def test_read_only_output_places_are_refused_before_training(flag, target, tmp_path):
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    read_only.chmod(0o555)
    try:
        assert_rejects(lambda: parse_and_check([f"{flag}={read_only / target}"]),
                       USAGE_ERRORS, flag, str(read_only), "not writable")
    finally:
        read_only.chmod(0o755)


def test_good_flags_pass_the_checks(tmp_path):
    config = parse_and_check([f"--model_dir={tmp_path}/run", "--monitor=loss",
                              f"--export={tmp_path}/new/m.keras", "--learning_rate=0.1",
                              "--verbose=2"])
    assert isinstance(config, zoo.train.TrainConfig)
    assert (config.model_name, config.epochs, config.learning_rate) == ("einsum_mlp", 1, 0.1)
    assert config.model_dir == f"{tmp_path}/run"
    assert config.export == (f"{tmp_path}/new/m.keras",)
    assert config.verbose == 2 and config.loop == "fit"
    assert not os.path.exists(f"{tmp_path}/run")  # checked, not created


def test_multi_worker_without_loop_runs_the_custom_loop(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["localhost:1"]}, '
                                    '"task": {"type": "worker", "index": 0}}')
    assert parse_and_check(["--strategy=multi_worker"]).loop == "custom"


def test_the_flags_are_the_config_options():
    flag_values = flags.FlagValues()
    train_cli.define_flags(flag_values)
    defined = set(flag_values) - {"cpu_devices", "log_device_placement"}
    options = {option.flag or field for field, _, option in zoo.train.config.options()}
    assert defined == options and len(options) == 32


# `zoo.train.train(...)`: the same checks, as ValueErrors naming the keyword.
def lib(overrides, *fragments, id):
    """A row: `train()` overrides of a valid call, and what the message names."""
    return pytest.param(overrides, fragments, id=id)


LIBRARY_ROWS = [
    lib({"validate": "no"}, "validate='no'", id="validate='no'"),
    lib({"deterministic": "False"}, "deterministic='False'", id="deterministic='False'"),
    lib({"save_best": 1}, "save_best=1", id="save_best=1"),
    lib({"batch_size": True}, "batch_size=True", id="batch_size=True"),
    lib({"epochs": 2.5}, "epochs=2.5", id="epochs=2.5"),
    lib({"seed": -1}, "seed=-1", id="seed=-1"),
    lib({"verbose": 3}, "verbose=3", id="verbose=3"),
    lib({"learning_rate": float("nan")}, "learning_rate=nan", id="learning_rate=nan"),
    lib({"learning_rate": "0.1"}, "learning_rate='0.1'", id="learning_rate='0.1'"),
    lib({"label_smoothing": float("inf")}, "label_smoothing=inf", id="label_smoothing=inf"),
    lib({"num_classes": 0}, "num_classes=0", id="num_classes=0"),
    lib({"monitor": ""}, "monitor=''", "val_accuracy", id="monitor=''"),
    lib({"monitor": None}, "monitor=None", id="monitor=None"),
    lib({"model_dir": ""}, "model_dir=''", id="model_dir=''"),
    lib({"freeze_upto": ""}, "freeze_upto=''", id="freeze_upto=''"),
    lib({"init_from": ""}, "init_from=''", id="init_from=''"),
    lib({"export": "out.keras"}, "export='out.keras'", id="export='out.keras'"),
    lib({"export": ["out.keras", ""]}, "export=['out.keras', '']", "an empty entry",
        id="export=['out.keras', '']"),
    lib({"loop": None}, "loop=None", id="loop=None"),
    lib({"model_args": "dropout=0.1"}, "model_args='dropout=0.1'", "a dict",
        id="model_args='dropout=0.1'"),
    lib({"model_args": {"num_classes": 3}}, "model_args={'num_classes': 3}", "num_classes",
        id="model_args={'num_classes': 3}"),
    lib({"model_name": "resnet51"}, "model_name='resnet51'", "resnet50",
        id="model_name='resnet51'"),
    # Valid one by one, not together: each option named as a keyword.
    lib({"checkpoint_steps": 5}, "checkpoint_steps=5", "loop='custom'",
        id="checkpoint_steps=5"),
    lib({"optimizer": "adam", "weight_decay": 0.1}, "optimizer='adam'", "weight_decay=0.1",
        id="optimizer='adam', weight_decay=0.1"),
]


@pytest.mark.parametrize("overrides, fragments", LIBRARY_ROWS)
def test_train_rejects_bad_arguments_before_any_work(overrides, fragments):
    arguments = {"model_name": "einsum_mlp", "dataset": "digits", "image_size": 8,
                 "epochs": 1, **overrides}
    model_name = arguments.pop("model_name")
    dataset = arguments.pop("dataset")
    message = assert_rejects(lambda: zoo.train.train(model_name, dataset, **arguments),
                             ValueError, *fragments)
    assert "--" not in message  # Python's terms, not the command line's
    # The same check, as a TrainConfig is made: the one place options are checked.
    assert_rejects(lambda: zoo.train.TrainConfig(model_name=model_name, dataset=dataset,
                                                 **arguments), ValueError, *fragments)


def test_train_takes_a_config_and_rejects_an_unknown_keyword():
    config = zoo.train.TrainConfig(model_name="einsum_mlp", image_size=8)
    with pytest.raises(TypeError, match="epoch"):
        zoo.train.train(config=config, epoch=1)


def test_freeze_upto_a_layer_the_model_lacks_fails_before_any_data(monkeypatch):
    import zoo.data

    def no_data(*args, **kwargs):
        raise AssertionError("data was loaded before --freeze_upto was checked")

    monkeypatch.setattr(zoo.data, "load", no_data)
    assert_rejects(lambda: zoo.train.train("einsum_mlp", "digits", image_size=8, epochs=1,
                                           freeze_upto="stage9"),
                   ValueError, "freeze_upto='stage9'", "dense1")


# End to end: what a user sees, once per path to the usage error (absl's
# parse, check_flags, the run). Each costs a process start (~4-6 s).
@pytest.mark.parametrize("argv, names", [
    (["--epochs=0"], ["--epochs=0"]),
    (["--learning_rate=nan"], ["--learning_rate=nan"]),
    (["--freeze_upto=stage9"], ["--freeze_upto=stage9", "dense1"]),
], ids=["parse epochs=0", "check learning_rate=nan", "run freeze_upto=stage9"])
def test_cli_exits_2_with_usage_and_no_traceback(argv, names):
    proc = run_module("zoo.train", *FAST, "--verbose=2", *argv, timeout=120)
    output = assert_usage_error(proc, *names)
    assert "zoo.train: error:" in output
    assert "Epoch 1" not in output
