"""The zoo's benchmarks: `python -m benchmarks[.NAME]`, on the harness in
`benchmarks.common`. Nothing under `zoo/` imports this package."""

# Import zoo before any benchmark imports TensorFlow: it picks the CLIs' CPU
# kernels (oneDNN unless TF_ENABLE_ONEDNN_OPTS is set; zoo/_launch.py).
import zoo  # noqa: E402,F401
