"""--strategy: MirroredStrategy over two logical CPUs equals one device;
MultiWorkerMirroredStrategy over two local worker processes (TF_CONFIG on
127.0.0.1) trains and both workers end with identical weights."""

import json
import os
import re
import socket
import subprocess
import sys
import textwrap

import pytest

DIGEST = re.compile(r"weights_sha256=([0-9a-f]{16})")
ACCURACY = re.compile(r"test_accuracy=([0-9.]+)")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}

# One epoch of einsum_mlp without dropout (its masks would differ per
# replica) on fixed digits batches, under one device and under two mirrored
# CPU replicas, with Keras fit and with the custom loop.
SAME_RESULT_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np, keras, tensorflow as tf
    from zoo.train import distribute
    distribute.split_cpu(2)
    import zoo, zoo.data
    from zoo.losses import SparseCrossentropy
    from zoo.train.loops import CustomLoop

    def train(strategy, loop):
        keras.utils.set_random_seed(0)
        stream = zoo.data.load("digits", batch_size=64, image_size=8, start_epoch=0)
        with strategy.scope():
            model = zoo.create_model("einsum_mlp", num_classes=10, dropout=0.0,
                                     input_shape=(8, 8, 1))
            model.compile(optimizer=keras.optimizers.SGD(0.1),
                          loss=SparseCrossentropy(10), jit_compile=False)
            model.optimizer.build(model.trainable_variables)
        if loop == "fit":
            model.fit(stream, epochs=1, steps_per_epoch=23, verbose=0)
        elif loop == "custom":
            CustomLoop(model, SparseCrossentropy(10, reduction=None), strategy).fit(
                stream, epochs=1, steps_per_epoch=23, verbose=0)
        # loop == "untrained": the initial weights
        return [np.asarray(w).tolist() for w in model.get_weights()]

    mirrored = distribute.make_strategy("mirrored")
    out = {"replicas": mirrored.num_replicas_in_sync}
    for loop in ("fit", "custom"):
        one, two = train(tf.distribute.get_strategy(), loop), train(mirrored, loop)
        out[loop] = max(float(np.max(np.abs(np.subtract(a, b)))) for a, b in zip(one, two))
        out[loop + "_moved"] = max(float(np.max(np.abs(np.subtract(a, b))))
                                   for a, b in zip(one, train(tf.distribute.get_strategy(),
                                                              "untrained")))
    print(json.dumps(out))
""")


def test_mirrored_over_two_cpu_replicas_matches_one_device():
    proc = subprocess.run([sys.executable, "-c", SAME_RESULT_SCRIPT], capture_output=True,
                          text=True, timeout=240, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    for loop in ("fit", "custom"):
        assert result[loop + "_moved"] > 1e-2  # training moved the weights ...
        assert result[loop] < 1e-5, result  # ... the same way on 1 and on 2 replicas


def test_mirrored_cli_trains_resnet20_with_synchronized_batchnorm():
    proc = subprocess.run(
        [sys.executable, "-m", "zoo.train", "--model=resnet20", "--image_size=8", "--epochs=2",
         "--verbose=0", "--strategy=mirrored", "--cpu_devices=2"],
        capture_output=True, text=True, timeout=300, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # One device reaches 0.96 here (tests/train/test_resume.py setup).
    assert float(ACCURACY.search(proc.stdout).group(1)) > 0.9


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_multi_worker_two_local_processes_end_with_identical_weights(tmp_path):
    workers = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    model_dir, export = tmp_path / "run", tmp_path / "model.weights.h5"
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "zoo.train", "--strategy=multi_worker", "--model=resnet20",
             "--image_size=8", "--epochs=2", "--verbose=0", f"--model_dir={model_dir}",
             f"--export={export}"],
            env={**ENV, "TF_CONFIG": json.dumps(tf_config)},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=400)
        assert proc.returncode == 0, err[-3000:]
        outputs.append(out)
    # The CLI says it runs the custom loop rather than failing inside Keras.
    assert all("training with --loop=custom" in out for out in outputs)
    digests = [DIGEST.search(out).group(1) for out in outputs]
    assert digests[0] == digests[1]
    accuracies = [float(ACCURACY.search(out).group(1)) for out in outputs]
    assert accuracies[0] == accuracies[1] > 0.5
    # Only the chief (worker 0) keeps files: the export and the checkpoints.
    assert export.exists()
    assert "exports=" in outputs[0] and "exports=" not in outputs[1]
    assert sorted(p.name for p in model_dir.glob("ckpt-*.index")) == ["ckpt-23.index",
                                                                      "ckpt-46.index"]
