"""Fixtures of the model tests: no network, and a Keras cache of each test's own."""

import socket

import keras
import pytest


@pytest.fixture
def offline(monkeypatch):
    """No network: every name lookup fails. Returns the hosts that were looked up."""
    lookups = []

    def getaddrinfo(host, *args, **kwargs):
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (test: offline)")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


@pytest.fixture
def cache(tmp_path, monkeypatch, offline):
    """An empty Keras cache (`$KERAS_HOME/models`) of this test's own, offline.

    For the zoo and keras.applications alike: `keras.utils.get_file` reads
    KERAS_HOME once, at import.
    """
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(keras.src.backend.config, "_KERAS_DIR", str(tmp_path / "keras_home"))
    return tmp_path / "keras_home" / "models"
