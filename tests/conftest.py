"""Shared pytest setup: the `slow` marker, quiet TensorFlow, clean Keras state."""

import os

# Set before anything imports TensorFlow; subprocesses inherit it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes more than ~20 s on a laptop CPU; still runs in CI"
    )


@pytest.fixture(autouse=True)
def _restore_keras_config():
    """Undoes global Keras settings a test may change (dtype policy, layout)."""
    policy = keras.config.dtype_policy()
    data_format = keras.config.image_data_format()
    yield
    keras.config.set_dtype_policy(policy)
    keras.config.set_image_data_format(data_format)
