"""The README's fine-tuning command lines, run verbatim, save what they promise.

The block is read from README.md at test time ("### Fine-tuning", its ```sh
block) and each command runs as written, in an empty working directory: the
base model is trained and exported, then its head alone is fine-tuned and
saved (`--model_dir`, `--export`), with the frozen stages bit-identical.
"""

import os
import pathlib
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def fine_tuning_commands():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Fine-tuning"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [shlex.split(line) for line in block.replace("\\\n", " ").splitlines()
            if line.strip()]


def test_the_block_is_found_and_saves_its_result():
    commands = fine_tuning_commands()
    assert [c[:3] for c in commands] == [["python", "-m", "zoo.train"]] * 2
    assert any(flag.startswith("--export=") for flag in commands[1])


@pytest.mark.slow
def test_fine_tuning_commands_run_verbatim_and_keep_frozen_weights(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    for command in fine_tuning_commands():
        proc = subprocess.run([sys.executable, *command[1:]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=1200)
        assert proc.returncode == 0, (command, proc.stderr[-3000:])
    second = fine_tuning_commands()[1]
    exported = [f.split("=", 1)[1] for f in second if f.startswith("--export=")][0]
    code = f"""
import numpy as np, zoo.export
base = zoo.export.load("out/base.keras")
tuned = zoo.export.load({exported!r})
same = {{w.path.split("/", 1)[1]: bool(np.array_equal(w.numpy(), t.numpy()))
        for w, t in zip(base.weights, tuned.weights)}}
print(all(v for k, v in same.items() if k.startswith(("stem", "stage1", "stage2", "stage3"))),
      any(not v for k, v in same.items() if k.startswith("classifier")), tuned.class_names)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == (
        "True True ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']"), out.stderr[-2000:]
