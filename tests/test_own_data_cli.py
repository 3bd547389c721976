"""From a folder of one's own images to a trained, exported model that names the
classes of new image files, with the command lines only (issue 22's "done"):

    python -m zoo.train --dataset=folder:PATH --model_dir=... --export=...
    python -m zoo.predict --model=... new.png
"""

import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

COLORS = {"blue": (30, 60, 220), "green": (40, 200, 60), "red": (220, 40, 30)}


def write_png(path, color, seed, size):
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(color) + rng.normal(0, 25, (*size, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(pixels).numpy())
    return path


def cli(module, *flags, cwd, timeout=900):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-m", module, *flags], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A user's folder: photos/<color>/*.png (12 each, of several sizes) and new/."""
    root = tmp_path_factory.mktemp("project")
    for c, (name, color) in enumerate(COLORS.items()):
        for i in range(12):
            write_png(root / "photos" / name / f"img{i}.png", color, 100 * c + i,
                      (24 + i % 3 * 5, 20 + i % 4 * 4))
        write_png(root / "new" / f"{name}_photo.png", color, 999 + c, (40, 30))
    return root


@pytest.fixture(scope="module")
def trained(project):
    proc = cli("zoo.train", "--model=resnet20", "--dataset=folder:photos", "--image_size=16",
               "--epochs=4", "--batch_size=8", "--learning_rate=0.01",
               "--model_dir=runs/colors", "--export=exports/colors.tflite,exports/serving",
               cwd=project)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    return proc


def test_training_on_a_folder_checkpoints_validates_and_exports(project, trained):
    match = re.search(r"test_accuracy=([0-9.]+)", trained.stdout)
    assert match and float(match.group(1)) == 1.0, trained.stdout[-2000:]
    run = project / "runs" / "colors"
    assert (run / "checkpoint").is_file() and (run / "best.keras").is_file()
    assert list((run / "logs").rglob("events.out.tfevents.*"))  # TensorBoard
    assert (project / "exports" / "colors.tflite").is_file()
    # The piped progress is one line an epoch, not a progress bar's redraws.
    assert "\x1b[" not in trained.stdout and "\r" not in trained.stdout


@pytest.mark.parametrize("model", ["runs/colors", "exports/colors.tflite", "exports/serving"])
def test_the_trained_model_names_the_classes_of_new_image_files(project, trained, model):
    proc = cli("zoo.predict", f"--model={model}", "--top=3", "--json", "new", cwd=project)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 3
    for row in rows:
        truth = pathlib.Path(row["input"]).name.split("_")[0]
        names = [p["name"] for p in row["predictions"]]
        assert names[0] == truth and sorted(names) == sorted(COLORS), row


def test_a_rerun_resumes_and_fine_tuning_a_folder_model_keeps_its_names(project, trained):
    rerun = cli("zoo.train", "--model=resnet20", "--dataset=folder:photos", "--image_size=16",
                "--epochs=4", "--batch_size=8", "--learning_rate=0.01",
                "--model_dir=runs/colors", "--export=exports/colors.tflite,exports/serving",
                cwd=project)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "Resuming from" in rerun.stdout + rerun.stderr
    tuned = cli("zoo.train", "--model=resnet20", "--dataset=folder:photos", "--image_size=16",
                "--epochs=1", "--batch_size=8", "--init_from=runs/colors/best.keras",
                "--freeze_upto=stage3", "--model_dir=runs/tuned", cwd=project)
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    assert "Frozen (BatchNorm in inference mode)" in tuned.stdout
    out = subprocess.run(
        [sys.executable, "-c", "import zoo.export; m = zoo.export.load('runs/tuned/best.keras');"
         " print(m.class_names, m.preprocessing['image_size'])"],
        cwd=project, capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().endswith("['blue', 'green', 'red'] [16, 16]"), out.stderr[-2000:]


@pytest.mark.parametrize("dataset, fragment", [
    ("folder:nowhere", "does not exist"),
    ("folder:photos/red", "no subfolder"),
])
def test_bad_folders_are_usage_errors_naming_them(project, dataset, fragment):
    proc = cli("zoo.train", "--model=resnet20", f"--dataset={dataset}", cwd=project)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"--dataset={dataset}" in proc.stderr and fragment in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_a_csv_of_texts_trains_from_the_cli_and_names_classes_of_texts(tmp_path):
    # A header row and quoted texts with commas, as spreadsheets write them.
    rows = ["label,text"]
    for i in range(40):
        rows.append(f'good,"a fine, warm film {i}"')
        rows.append(f'bad,"a dull, cold film {i}"')
    (tmp_path / "reviews.csv").write_text("\n".join(rows) + "\n")
    proc = cli("zoo.train", "--model=text_rnn", "--dataset=csv:reviews.csv", "--epochs=10",
               "--batch_size=16", "--model_dir=runs/reviews", cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    assert float(re.search(r"test_accuracy=([0-9.]+)", proc.stdout).group(1)) == 1.0
    predicted = cli("zoo.predict", "--model=runs/reviews", "--top=1", "--json",
                    "a warm, fine film", "cold and dull", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    rows = [json.loads(line) for line in predicted.stdout.splitlines() if line.startswith("{")]
    assert [(r["input"], r["predictions"][0]["name"]) for r in rows] == [
        ("a warm, fine film", "good"), ("cold and dull", "bad")]
