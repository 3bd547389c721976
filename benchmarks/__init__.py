"""Benchmarks of the zoo, run as `python -m benchmarks.NAME`.

Each script compares paths side by side in one process (ratios, not absolute
times: machines are noisy), warms up before timing, reports compilation
separately, prints a markdown table and writes JSON and markdown to
`benchmarks/results/`. They run on one harness, `benchmarks.common`
(shared flags, `main`, models from the registry, timing, output), and
`benchmarks.report` joins the headline each one writes. Nothing under
`zoo/` imports this package.
"""

# Before any benchmark imports TensorFlow: importing zoo first lets it pick
# the CLIs' CPU kernels (oneDNN, unless TF_ENABLE_ONEDNN_OPTS is set; see
# zoo/_launch.py).
import zoo  # noqa: E402,F401
