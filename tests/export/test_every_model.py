"""Every registered model, every format: save here, load in a fresh process,
same outputs, config and vocabulary (`helpers.run_export_test`)."""

import pytest

import helpers
import zoo
from zoo.export import formats

# Whose full round-trip (SavedModel and TFLite conversion of tens of millions
# of parameters) takes more than ~20 s on 2 cores.
# The family's record names them (`slow_tests["export"]`), or counts more parameters than:
SLOW_PARAMS = 40_000_000
# Above it, the formats that reload the zoo model (.keras, .h5, weights) only: SavedModel and
# TFLite conversion of ViT-B's 86M parameters peaked at 12 GB in the test process, which
# the kernel killed on a 24 GB CI machine. Each family's smaller variants, the same code,
# take every format.
FULL_EXPORT_PARAMS = 60_000_000


def _registered():
    return [pytest.param(n, marks=pytest.mark.slow)
            if helpers.is_slow(n, "export", SLOW_PARAMS) else n for n in zoo.list_models()]


@pytest.mark.parametrize("name", _registered())
def test_every_format_round_trips_in_a_fresh_process(name, tmp_path):
    targets = list(helpers.EXPORT_TARGETS)
    if (zoo.model_info(name).params or 0) > FULL_EXPORT_PARAMS:
        targets = [t for t in targets if formats.FORMATS[t].reloads_model]
    report = helpers.run_export_test(helpers.small_model(name), tmp_path, formats=targets)
    assert set(report) == set(targets)


def test_every_family_takes_every_format_with_some_model():
    full = {zoo.registry.model_family(n) for n in zoo.list_models()
            if (zoo.model_info(n).params or 0) <= FULL_EXPORT_PARAMS}
    assert full == {zoo.registry.model_family(n) for n in zoo.list_models()}
