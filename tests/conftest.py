"""Shared pytest setup: the `slow` and `tensorflow_only` markers, quiet
TensorFlow, clean Keras state.

The suite runs on any Keras backend (`KERAS_BACKEND=jax pytest tests/blocks
...`); a test that needs TensorFlow itself (string-mode `text_rnn`,
`tf.distribute`, `tf.data`, SavedModel, TFLite) says so with
`@pytest.mark.tensorflow_only("why")` and is skipped elsewhere, with that
reason. TensorFlow is imported either way: it is a dependency of the zoo, and
the tf.data pipelines run under every backend.
"""

import os

# Set before anything imports TensorFlow; subprocesses inherit it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

BACKEND = keras.backend.backend()

# Files tests read, never collect: `--doctest-modules` would import them, and
# importing tests/fixtures/family/zoo_tiny_family.py registers its model in
# the session's registry (tests/test_family_contract.py copies it into a copy
# of the package instead).
collect_ignore = ["fixtures"]

# Docstring examples that need TensorFlow, by doctest name (a doctest cannot
# carry a marker): why, as for `tensorflow_only`.
TENSORFLOW_ONLY_DOCTESTS = {
    "zoo.models.text_rnn": "string-mode text_rnn tokenizes with TextVectorization "
                           "(TensorFlow string ops)",
    "zoo.models.transformer": "string-mode transformer tokenizes with TextVectorization "
                              "(TensorFlow string ops)",
    "zoo.models._text.TextClassifier": "its example is a string-mode text_rnn "
                                       "(TextVectorization: TensorFlow string ops)",
}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes more than ~20 s on a laptop CPU; still runs in CI"
    )
    config.addinivalue_line(
        "markers", "tensorflow_only(reason): needs the TensorFlow backend itself; "
                   "skipped, with the reason, under any other KERAS_BACKEND"
    )


def tensorflow_only_reason(item):
    """Why `item` needs TensorFlow, or None when it runs on any backend."""
    marker = item.get_closest_marker("tensorflow_only")
    if marker is not None:
        reason = marker.args[0] if marker.args else marker.kwargs.get("reason")
        if not reason:
            raise pytest.UsageError(f"{item.nodeid}: tensorflow_only needs a reason")
        return reason
    if isinstance(item, pytest.DoctestItem):
        return TENSORFLOW_ONLY_DOCTESTS.get(item.name)
    return None


def pytest_collection_modifyitems(config, items):
    if BACKEND == "tensorflow":
        return
    for item in items:
        reason = tensorflow_only_reason(item)
        if reason:
            item.add_marker(pytest.mark.skip(
                reason=f"needs the TensorFlow backend (KERAS_BACKEND={BACKEND}): {reason}"))


@pytest.fixture
def non_tensorflow_backend(monkeypatch):
    """The Keras backend as the zoo sees it, made non-TensorFlow on TensorFlow.

    For tests of the checks that refuse TensorFlow-only options elsewhere
    (string-mode text_rnn, `bn_synchronized`): under another KERAS_BACKEND it
    is the real thing; under TensorFlow `keras.backend.backend()` answers
    "jax", which those checks, made before any layer exists, cannot tell from
    the real thing. Returns the backend's name.
    """
    if BACKEND == "tensorflow":
        monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    return keras.backend.backend()


@pytest.fixture(autouse=True)
def _restore_keras_config():
    """Undoes global Keras settings a test may change (dtype policy, layout),
    and clears the global TF seed, so each test sees the state of a fresh
    process: a seeded `Dataset.shuffle(seed=...)` order depends on the global
    seed too (`keras.utils.set_random_seed` sets it)."""
    tf.random.set_seed(None)
    policy = keras.config.dtype_policy()
    data_format = keras.config.image_data_format()
    yield
    keras.config.set_dtype_policy(policy)
    keras.config.set_image_data_format(data_format)
