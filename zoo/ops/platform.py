"""Where the Keras backend runs: device type and, on TensorFlow, kernel library.

TensorFlow's oneDNN and Eigen CPU kernels differ in speed by up to 2x and
disagree on whether XLA pays off (`benchmarks/results/xla_cpu.md`).
"""

import functools

import keras


def accelerator_type():
    """`"gpu"`, `"tpu"` or `"cpu"`: the first device type Keras lists.

    Example:
    >>> accelerator_type() in ("cpu", "gpu", "tpu")
    True
    """
    devices = [d.lower() for d in keras.distribution.list_devices()]
    for kind in ("tpu", "gpu"):
        if any(d.startswith(kind) for d in devices):
            return kind
    return "cpu"


def onednn_enabled():
    """Whether TensorFlow runs its oneDNN CPU kernels in this process (False on other backends).

    Example:
    >>> isinstance(onednn_enabled(), bool)
    True
    """
    if keras.backend.backend() != "tensorflow":
        return False
    return _tensorflow_onednn_enabled()


@functools.cache
def _tensorflow_onednn_enabled():
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # the private module moved: ask the kernels instead
        from zoo.ops.layout import channels_first_conv_supported

        # Of TensorFlow's CPU kernels only oneDNN's run NCHW convolutions.
        return channels_first_conv_supported(cpu_only=True)
    return bool(_pywrap_util_port.IsMklEnabled())


def tensorflow_platform():
    """`"gpu"`, `"tpu"`, `"cpu/onednn"` or `"cpu/eigen"` (`xla_defaults` keys), or None.

    Example:
    >>> tensorflow_platform() in ("gpu", "tpu", "cpu/onednn", "cpu/eigen", None)
    True
    """
    if keras.backend.backend() != "tensorflow":
        return None
    kind = accelerator_type()
    if kind != "cpu":
        return kind
    return "cpu/onednn" if onednn_enabled() else "cpu/eigen"


def describe():
    """One line naming the backend, device and kernels that run the models.

    Example:
    >>> describe().split(" ")[0] in ("TensorFlow", "JAX", "Torch", "NumPy", "OpenVINO")
    True
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        names = {"jax": "JAX", "torch": "Torch", "numpy": "NumPy", "openvino": "OpenVINO"}
        version = ""
        try:
            version = " " + __import__(backend).__version__
        except (ImportError, AttributeError):
            pass
        return f"{names.get(backend, backend)}{version} (Keras {keras.__version__}) on {accelerator_type()}"
    import tensorflow as tf

    platform = tensorflow_platform()
    kernels = {"cpu/onednn": "oneDNN CPU kernels", "cpu/eigen": "TensorFlow's own (Eigen) CPU kernels",
               "gpu": "GPU kernels (cuDNN)", "tpu": "TPU"}[platform]
    return f"TensorFlow {tf.__version__} (Keras {keras.__version__}) on {platform}: {kernels}"
