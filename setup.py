"""Install the zoo package: `pip install -e .` or `pip install -e ".[test]"`."""

import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent

setup(
    name="zoo",
    version="0.1.0",
    description="A TensorFlow/Keras model zoo: readable subclassed models, "
                "every export format, measured fast paths.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["zoo", "zoo.*"]),
    package_data={"zoo.data": ["*.csv.gz", "*.md"], "zoo.models": ["*.txt"]},
    install_requires=[
        "tensorflow>=2.16",  # Keras 3
        "tensorflow-datasets",
        # tensorflow-datasets imports it when downloading but does not declare it.
        "importlib_resources",
        "absl-py",
        "numpy",
        "h5py",  # zoo's whole-model .h5 (zoo.export)
        "tensorboard",  # TensorFlow 2.21 no longer installs it; zoo.train logs to it
    ],
    extras_require={
        # xdist: the suite runs one test file per core (pytest.ini); matplotlib:
        # the benchmark report's chart is tested too; jax (CPU): CI runs the
        # backend-neutral tests a second time on Keras' JAX backend (.ci/run).
        # safetensors and keras-hub: tests/models/test_pretrained.py reads
        # .safetensors state dicts and checks the ResNet mapping against
        # keras-hub's own timm converter.
        "test": ["pytest>=7", "pytest-xdist", "matplotlib", "jax[cpu]", "safetensors",
                 "keras-hub>=0.32"],
        # `weights="model.safetensors"` (zoo/convert/_files.py); .npz needs nothing.
        "weights": ["safetensors"],
        "gpu": ["tensorflow[and-cuda]>=2.16"],
        "bench": ["matplotlib"],  # the chart of `python -m benchmarks` (optional)
    },
    entry_points={"console_scripts": ["zoo-train=zoo.train.__main__:run"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
