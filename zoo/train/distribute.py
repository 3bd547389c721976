"""`--strategy`: one device, all local devices, several hosts, or a TPU.

`mirrored` runs over every local GPU or, without GPUs, the logical CPUs
(`--cpu_devices`); `multi_worker` needs each host's `TF_CONFIG` and runs on
the custom loop (Keras 3 `fit` fails under it).
"""

import json
import os
import tempfile

import tensorflow as tf

from zoo.train.config import shown


def split_cpu(num_devices):
    """Makes `num_devices` logical CPU devices; must run before TF starts."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * int(num_devices))


def make_strategy(name, tpu="local"):
    """The `tf.distribute.Strategy` named by `--strategy`; ValueError if it cannot run here."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = (tf.config.list_logical_devices("GPU")
                   or tf.config.list_logical_devices("CPU"))
        return tf.distribute.MirroredStrategy(devices=[d.name for d in devices])
    if name == "multi_worker":
        check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    return _tpu_strategy(tpu)  # TrainConfig allows no other name


def check_tf_config():
    """Validates TF_CONFIG for multi_worker; returns `(task_type, task_id)`."""
    raw = os.environ.get("TF_CONFIG")
    asked = shown("strategy", "multi_worker")
    if not raw:
        raise ValueError(
            f"{asked} needs the TF_CONFIG environment variable: "
            '{"cluster": {"worker": ["host1:port", "host2:port"]}, '
            '"task": {"type": "worker", "index": 0}} on each host')
    try:
        config = json.loads(raw)
        task = config["task"]
        workers = config["cluster"]["worker"]
        task_type, task_id = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{asked}: TF_CONFIG is not a valid cluster spec "
                         f"({error!r}), received TF_CONFIG={raw}") from None
    if task_type == "worker" and not 0 <= task_id < len(workers):
        raise ValueError(f"{asked}: TF_CONFIG task index {task_id} is not "
                         f"one of the {len(workers)} workers, received TF_CONFIG={raw}")
    return task_type, task_id


def _tpu_strategy(tpu):
    # TPUClusterResolver asks the GCE metadata server when it finds no TPU,
    # which hangs on a host without one: look for a TPU first.
    on_tpu_vm = os.path.exists("/dev/accel0") or os.path.exists("/dev/vfio/0")
    if tpu == "local" and not on_tpu_vm:
        raise ValueError(f"{shown('strategy', 'tpu')}: no TPU on this host (no /dev/accel0); on "
                         "a TPU VM run the same command there, or give "
                         f"{shown('tpu', 'NAME_OR_GRPC_ADDRESS')}")
    if tpu.startswith("grpc://"):
        _check_reachable(tpu)
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    # OSError: off Google Cloud, the metadata server lookup of a TPU name fails.
    except (ValueError, OSError, tf.errors.OpError) as error:
        raise ValueError(f"{shown('strategy', 'tpu')}: cannot reach {shown('tpu', tpu)}: "
                         f"{(str(error).splitlines() or [type(error).__name__])[0]}") from None
    return tf.distribute.TPUStrategy(resolver)


def _check_reachable(address, timeout=5.0):
    # TensorFlow waits without end on a gRPC address nobody listens on.
    import socket

    host, _, port = address[len("grpc://"):].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return
    except (OSError, ValueError) as error:
        raise ValueError(f"{shown('strategy', 'tpu')}: nothing answers at {shown('tpu', address)} "
                         f"({error})") from None


def is_chief(strategy):
    """Whether this process keeps the files (checkpoints, exports, logs)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if "chief" in resolver.cluster_spec().as_dict():
        return task_type == "chief"
    # A cluster without a "chief" job makes worker 0 the chief.
    return task_type in (None, "worker") and (task_id or 0) == 0


def worker_write_dir(strategy, directory):
    """`directory` for the chief; a scratch folder for the others (they must save too)."""
    if is_chief(strategy):
        return directory
    resolver = strategy.cluster_resolver
    return tempfile.mkdtemp(prefix=f"zoo_{resolver.task_type}{resolver.task_id}_")
