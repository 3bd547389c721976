"""The zoo's benchmarks, on the harness in `benchmarks.common`: `python -m benchmarks[.NAME]`."""

# Import zoo before any benchmark imports TensorFlow: it picks the CLIs' CPU
# kernels (oneDNN unless TF_ENABLE_ONEDNN_OPTS is set; zoo/_launch.py).
import zoo  # noqa: E402,F401
