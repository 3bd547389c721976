"""Every registered model, every format: save here, load in a fresh process,
same outputs, config and vocabulary (`helpers.run_export_test`)."""

import pytest

import helpers
import zoo

# Whose full round-trip (SavedModel and TFLite conversion of tens of millions
# of parameters) takes more than ~20 s on 2 cores.
# The family's record names them (`slow_tests["export"]`), or counts more parameters than:
SLOW_PARAMS = 40_000_000


def _registered():
    return [pytest.param(n, marks=pytest.mark.slow)
            if helpers.is_slow(n, "export", SLOW_PARAMS) else n for n in zoo.list_models()]


@pytest.mark.parametrize("name", _registered())
def test_every_format_round_trips_in_a_fresh_process(name, tmp_path):
    report = helpers.run_export_test(helpers.small_model(name), tmp_path)
    assert set(report) == set(helpers.EXPORT_TARGETS)
