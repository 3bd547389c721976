"""Rerunning resumes from any --model_dir spelling: relative, from another
working directory, `~`, through a symlink; and `make demo`'s own command line,
verbatim, twice (README: "Running it again resumes from the checkpoint").

Each run is a fresh `python -m zoo.train` process, started in a temporary
working directory as a user would from their project folder.
"""

import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULT = re.compile(r"^model=.* test_accuracy=([0-9.]+) .*checkpoint=(\S+).* "
                    r"weights_sha256=([0-9a-f]{16})$", re.MULTILINE)
SHORT = ("--model=resnet20", "--dataset=digits", "--image_size=8", "--batch_size=128",
         "--verbose=2", "--novalidate", "--nosave_best")


def train_in(cwd, *flags, home=None, timeout=900):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if home is not None:
        env["HOME"] = str(home)
    proc = subprocess.run([sys.executable, "-m", "zoo.train", *flags], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (flags, proc.stdout[-2000:], proc.stderr[-3000:])
    match = RESULT.search(proc.stdout)
    assert match, proc.stdout[-2000:]
    return proc.stdout + proc.stderr, match


def demo_flags():
    """`make demo`'s flags, read from the Makefile (continuation lines joined)."""
    text = (REPO_ROOT / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(r"^DEMO_FLAGS \?= (.*)$", text, re.MULTILINE)
    assert match, "no DEMO_FLAGS in the Makefile"
    return shlex.split(match.group(1))


@pytest.fixture(scope="module")
def first_epoch(tmp_path_factory):
    """One epoch into the relative `runs/r20` of a project folder."""
    project = tmp_path_factory.mktemp("project")
    output, match = train_in(project, *SHORT, "--epochs=1", "--model_dir=runs/r20")
    assert match.group(2).startswith(str(project / "runs" / "r20")) or \
        match.group(2).startswith("runs/r20"), match.group(2)
    return project


def test_a_relative_model_dir_resumes_from_another_working_directory(first_epoch, tmp_path):
    elsewhere = first_epoch / "notebooks"
    elsewhere.mkdir(exist_ok=True)
    output, match = train_in(elsewhere, *SHORT, "--epochs=2", "--model_dir=../runs/r20")
    assert "Resuming from" in output and "(epoch 1 of 2 done" in output, output[-2000:]
    assert "runs/r20/runs" not in output  # the doubled path of the bug
    assert "Epoch 1/2" not in output and "Epoch 2/2" in output
    assert pathlib.Path(first_epoch / "runs" / "r20" / "checkpoint").is_file()


def test_tilde_and_symlinked_model_dirs_resume(first_epoch, tmp_path):
    home = tmp_path / "home"
    (home / "runs").mkdir(parents=True)
    os.symlink(first_epoch / "runs" / "r20", home / "runs" / "linked")
    # `~` as a flag value: no shell expands `--model_dir=~/...`.
    output, _ = train_in(tmp_path, *SHORT, "--epochs=1", "--model_dir=~/runs/linked",
                         home=home)
    assert "Resuming from" in output, output[-2000:]
    assert not (tmp_path / "~").exists()  # no folder literally named "~"


@pytest.mark.slow
def test_make_demo_command_line_twice_resumes_to_the_same_model(tmp_path):
    flags = demo_flags()
    assert "--model_dir=runs/demo" in flags  # relative, as the README runs it
    first_output, first = train_in(tmp_path, *flags)
    second_output, second = train_in(tmp_path, *flags)
    assert "Resuming from" in second_output and "Epoch 1/" not in second_output
    # The same model: weights bit-identical, the same accuracy, same checkpoint.
    assert second.groups() == first.groups()
    assert (tmp_path / "runs" / "demo" / "saved_model" / "saved_model.pb").is_file()
