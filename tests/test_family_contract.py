"""The family contract (`zoo.models.base.ZooModel`): a family module dropped
into `zoo/models/` is picked up with no other edit — by the registry, the
test battery, export, training and the benchmarks.

The module (tests/fixtures/family/zoo_tiny_family.py) goes into a copy of the
package, never into this checkout: other tests, in parallel, list every
registered model.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import helpers
import zoo
from zoo.models._info import DEFAULTS, family_table
from zoo.models.base import ZooModel

FAMILY = pathlib.Path(helpers.REPO_ROOT, "tests", "fixtures", "family", "zoo_tiny_family.py")
NAME = "zoo_tiny_classifier"
NAMES = [NAME, "zoo_tiny_classifier_16"]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A copy of the repository with the family module added to zoo/models/."""
    root = tmp_path_factory.mktemp("checkout")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "results", ".venv")
    for name in ("zoo", "tests", "benchmarks"):
        shutil.copytree(pathlib.Path(helpers.REPO_ROOT, name), root / name, ignore=ignore)
    shutil.copy(pathlib.Path(helpers.REPO_ROOT, "pytest.ini"), root)
    shutil.copy(FAMILY, root / "zoo" / "models")
    return root


def _run(checkout, *args, timeout=600):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(PYTHONPATH=str(checkout), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, *args], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _ok(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_every_family_states_its_contract():
    for name in zoo.list_models():
        family = zoo.registry.model_family(name)
        assert family is not None and issubclass(family, ZooModel), name
        assert family.modality in ("image", "text"), name
        table = family_table(family)
        assert set(table) == set(DEFAULTS), name  # no key the zoo does not read
        for key in ("recipe", "xla", "small", "portable", "distributed", "variants"):
            assert isinstance(table[key], dict), (name, key)
        assert set(table["variants"]) <= set(zoo.list_models()), name
        assert table["benchmarked"] is None or set(table["benchmarked"]) <= \
            set(zoo.list_models()), name


def test_the_contract_is_documented_on_the_base_class():
    doc = ZooModel.__doc__
    for item in ("modality", "info", "gradient_free_weights", "needs_adapt",
                 "token_twin", "check_inputs", "check_savable", "summary_notes",
                 "input_signature", "example_inputs", "@Family.register"):
        assert f"`{item}" in doc, item


@pytest.mark.slow
def test_a_dropped_in_family_is_registered(checkout):
    out = _ok(_run(checkout, "-c", (
        "import json, zoo\n"
        "from zoo import zoo_tiny_family\n"
        f"model = zoo.create_model({NAME!r}, num_classes=3)\n"
        "print(json.dumps({'listed': zoo.list_models('zoo_tiny*'),\n"
        f"    'family': zoo.registry.model_family({NAME!r}).__name__,\n"
        "    'module': zoo_tiny_family.__name__,\n"
        "    'shape': list(model(model.example_inputs(batch_size=2)).shape)}))\n")))
    assert json.loads(out.strip().splitlines()[-1]) == {
        "listed": NAMES, "family": "TinyNet", "module": "zoo.models.zoo_tiny_family",
        "shape": [2, 3]}


@pytest.mark.slow
def test_a_dropped_in_family_gets_the_test_battery_and_every_export(checkout):
    out = _ok(_run(checkout, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
                   "addopts=", "-rA", "-k", NAME,
                   "tests/test_all_models.py", "tests/export/test_every_model.py"))
    passed = [line for line in out.splitlines() if line.startswith("PASSED")]
    # The battery, the feature maps of its benchmarked model and every export
    # format, for each registered constructor.
    assert sorted(passed) == sorted(
        [f"PASSED tests/test_all_models.py::test_every_registered_model[{name}]"
         for name in NAMES]
        + [f"PASSED tests/test_all_models.py::"
           f"test_every_image_model_returns_the_feature_maps_its_feature_info_lists[{NAME}]"]
        + ["PASSED tests/export/test_every_model.py::"
           f"test_every_format_round_trips_in_a_fresh_process[{name}]" for name in NAMES]
    ), out[-3000:]


@pytest.mark.slow
def test_a_dropped_in_family_trains_and_exports_from_the_cli(checkout, tmp_path):
    _ok(_run(checkout, "-m", "zoo.train", f"--model={NAME}", "--dataset=digits",
             "--image_size=8", "--epochs=1", f"--export={tmp_path / 'tiny.keras'}"))
    out = _ok(_run(checkout, "-c", (
        "import zoo.export\n"
        f"model = zoo.export.load({str(tmp_path / 'tiny.keras')!r})\n"
        "print(type(model).__name__, model.name)\n")))
    assert out.split()[-2:] == ["TinyNet", NAME]


@pytest.mark.slow
def test_a_dropped_in_family_is_benchmarked(checkout, tmp_path):
    out = _ok(_run(checkout, "-c", (
        "from benchmarks import common\n"
        "print(','.join(common.default_models()))\n")))
    assert NAME in out.strip().splitlines()[-1].split(",")
    _ok(_run(checkout, "-m", "benchmarks.export", "--quick", f"--models={NAME}",
             f"--output_dir={tmp_path}"))
    results = json.loads(next(tmp_path.glob("export_*.json")).read_text())
    assert NAME in json.dumps(results)
