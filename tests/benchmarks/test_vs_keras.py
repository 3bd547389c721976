"""`python -m benchmarks.vs_keras`, run as a user runs it. Never asserts speed."""

import json
import math

import pytest

import zoo
from benchmarks import vs_keras
from helpers import run_module


def test_every_twin_is_a_keras_application_with_the_records_parameter_count():
    names = vs_keras.twin_models()
    assert "mobilenet_v2" in names and "resnet20" not in names
    for name in names:
        reference = zoo.model_info(name).reference
        assert reference.startswith("keras.applications."), (name, reference)
        assert zoo.model_info(name).params > 0, name


@pytest.mark.slow
def test_quick_run_times_each_model_against_its_twin(tmp_path):
    proc = run_module("benchmarks.vs_keras", "--quick", "--batch_size=4",
                      "--models=mobilenet_v2", f"--output_dir={tmp_path}", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (json_path,) = tmp_path.glob("vs_keras_*.json")
    result = json.loads(json_path.read_text())
    assert result["benchmark"] == "vs_keras" and result["config"]["models"] == ["mobilenet_v2"]
    models = {m["name"]: m for m in result["models"]}
    assert list(models) == ["keras/mobilenet_v2", "zoo/mobilenet_v2"]
    assert models["keras/mobilenet_v2"]["label"] == "keras.applications.MobileNetV2"
    # The same network: equal parameter counts, and the same layers counted.
    keras_row, zoo_row = models["keras/mobilenet_v2"], models["zoo/mobilenet_v2"]
    assert keras_row["params"] == zoo_row["params"]
    assert keras_row["batchnorm_layers"] == zoo_row["batchnorm_layers"] == 52
    # Kernel evidence read off each graph: only the zoo's BatchNorms are fused.
    assert (keras_row["fused_batchnorm_ops"], zoo_row["fused_batchnorm_ops"]) == (0, 52)
    for m in models.values():
        assert m["jit_compile"] is False and len(m["images_per_s_per_repeat"]) == 2
        for ips, seconds in zip(m["images_per_s_per_repeat"], m["repeat_s"]):
            assert ips == pytest.approx(4 * 2 / seconds) and math.isfinite(ips)
    ratio = result["ratios"]["mobilenet_v2"]
    assert ratio["min"] <= ratio["median"] <= ratio["max"]
    markdown = (tmp_path / json_path.name.replace(".json", ".md")).read_text()
    assert "| zoo mobilenet_v2 | 2,270,794 |" in markdown
    assert [item["key"] for item in result["summary"]["items"]] == ["mobilenet_v2"]
