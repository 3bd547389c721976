"""Shared pytest setup: the `slow` marker, quiet TensorFlow, clean Keras state."""

import os

# Set before anything imports TensorFlow; subprocesses inherit it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes more than ~20 s on a laptop CPU; still runs in CI"
    )


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
