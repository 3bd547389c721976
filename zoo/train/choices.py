"""The choices of the training flags, importable without TensorFlow.

`python -m zoo.train --help` should answer at once: absl needs these lists
when it defines the flags, before anything imports TensorFlow (seconds).
"""

LOOPS = ("fit", "custom")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "step", "warmup")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
JIT_SETTINGS = ("auto", "on", "off", "probe")
MIXED_PRECISION = ("none", "mixed_float16", "mixed_bfloat16")
