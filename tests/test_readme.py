"""The README's Python examples run, and do what their comments say.

Every ```python fenced block of README.md is read at test time (so a new
block is tested as soon as it is written) and run in a fresh Python process,
in an empty working directory (blocks write files such as `out/...`), with
the repository on PYTHONPATH.

The code runs as written. What it may be given, and nothing more:

- `STAND_INS`: a definition of a name the README leaves to the reader
  (`train_texts`, `images`, ...), run before the block, only when the block
  uses that name without defining it.
- `REWRITES`: textual substitutions where running as written would need the
  network. There is one: ImageNet weights become random ones (below).
- `CHECKS`: assertions run after a block, in its namespace, holding it to
  what its comments promise (`# (4, 10)`, a listing, `# True`...); keyed by a
  distinctive line of the block.

A failure's traceback names README.md and the README's own line numbers.
"""

import ast
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# The README had this many ```python blocks when this test was written: fewer
# means the parser (or the README) lost some, which must not pass silently.
MIN_BLOCKS = 5

# Seconds before a block counts as hung.
TIMEOUT = 600

# Blocks measured above ~20 s on the 2-core development CPU, keyed like CHECKS
# (a distinctive line): marked `slow`, still run in CI. Measured (two runs, a
# busy machine): README.md:118 21.6/18.3 s, :164 27.4/27.7 s; :40 (two
# ResNet-50s) 11.1/19.5 s, :65 6.5/9.4 s, :83 (text_rnn) 15.0/10.5 s.
SLOW = (
    # Builds keras.applications.ResNet50 and the matching zoo model, copies weights.
    'keras.applications.ResNet50(weights="imagenet")',
    # Saves h5, SavedModel and int8 TFLite (calibration), loads the SavedModel.
    'zoo.export.save(model, "out/resnet20_serving", version=1)',
    # "Pretrained weights": a ResNet-50 and a MobileNetV2 (random weights
    # here, REWRITES); 30.8 s on a busy 2-core machine.
    'model = zoo.create_model("resnet50", weights="imagenet")',
)

# name -> code defining it, for names the README leaves to the reader.
STAND_INS = {
    # text_rnn block: `model.adapt(train_texts)`; the README means "your
    # training texts". A few dozen sentences of the offline sentiment data.
    "train_texts": (
        "from zoo.data import sentiment as _sentiment\n"
        "train_texts = _sentiment.generate(48, seed=0)[0]\n"
    ),
    # export block: int8 calibration data, `representative_data=train_images`,
    # for resnet20 with input_shape=(32, 32, 1): a small float32 batch in [0, 1].
    "train_images": (
        "import numpy as _np\n"
        "train_images = _np.random.default_rng(0).random((16, 32, 32, 1), dtype=_np.float32)\n"
    ),
    # export block: `served(images)`, "numpy in": a float32 batch of the same shape.
    "images": (
        "import numpy as _np\n"
        "images = _np.random.default_rng(1).random((4, 32, 32, 1), dtype=_np.float32)\n"
    ),
}

# The only rewrite of README code: ImageNet weights need the network, so the
# pretrained ResNet50 becomes a randomly initialized one, at a small input
# size to keep it quick. `from_keras_applications` copies weights the same way
# whatever their values (its parity with Keras is tested in tests/models/).
REWRITES = {
    'weights="imagenet"': 'weights=None, input_shape=(64, 64, 3)',
}

# distinctive line of a block -> assertions run after it, in its namespace.
CHECKS = {
    # names[:3]  # ['tench', 'goldfish', 'great_white_shark']
    # zoo.decode_predictions(logits, top=2)[0][0]  # Prediction(name='goldfish', ...)
    'names = zoo.models.imagenet_class_names()': (
        "assert names[:3] == ['tench', 'goldfish', 'great_white_shark'], names[:3]\n"
        "_best = zoo.decode_predictions(logits, top=2)[0]\n"
        "assert (_best[0].name, _best[0].index) == ('goldfish', 1), _best\n"
        "assert abs(_best[0].score - np.exp(5) / (np.exp(5) + 999)) < 1e-6, _best\n"
    ),
    # [f["reduction"] for f in backbone.feature_info]   # [2, 4, 8, 16, 32]
    'backbone = zoo.create_model("densenet121", features_only=True': (
        "assert [f['reduction'] for f in backbone.feature_info] == [2, 4, 8, 16, 32]\n"
        "assert zoo.model_info('resnet50_v2').reference == 'keras.applications.ResNet50V2'\n"
        "assert tuple(model(model.example_inputs(batch_size=2)).shape) == (2, 10)\n"
        "assert model.input_shape_ == (64, 96, 3)\n"
    ),
    # zoo.list_models("resnet*")  # ['resnet101', 'resnet110', ..., 'resnet56']
    # logits = model(model.example_inputs(batch_size=4))  # (4, 10); logits by default
    'zoo.list_models("resnet*")': (
        "import keras as _keras, numpy as _np\n"
        "_names = zoo.list_models('resnet*')\n"
        "assert _names[:3] == ['resnet101', 'resnet101_v2', 'resnet110'], _names\n"
        "assert _names[-1] == 'resnet56', _names\n"
        "assert _names == sorted(_names) and all(n.startswith('resnet') for n in _names), _names\n"
        "assert isinstance(model, _keras.Model) and type(model) is resnet.ResNet, type(model)\n"
        "assert isinstance(view, _keras.Model), type(view)\n"
        "assert tuple(logits.shape) == (4, 10), logits.shape\n"
        "assert not _np.allclose(_np.sum(_np.asarray(logits), -1), 1.0), 'probabilities, not logits'\n"
    ),
    # Bottleneck(64, strides=2, ...)  # 1x1 -> 3x3/2 -> 1x1 (x4) + projection
    # EinsumDense("...i,ij->...j", output_shape=64)  # == keras.layers.Dense(64)
    # EinsumDense.dense_head(10)  # "nhwc,hwck->nk": Flatten+Dense without the Flatten
    'from zoo.blocks import ConvBN, BasicBlock, Bottleneck': (
        "import numpy as _np\n"
        "_y = Bottleneck(64, strides=2, stride_in_1x1=False)(_np.zeros((2, 8, 8, 32), 'float32'))\n"
        "assert tuple(_y.shape) == (2, 4, 4, 256), _y.shape\n"
        "_y = EinsumDense('...i,ij->...j', output_shape=64)(_np.zeros((2, 5), 'float32'))\n"
        "assert tuple(_y.shape) == (2, 64), _y.shape\n"
        "_y = EinsumDense.dense_head(10)(_np.zeros((2, 4, 4, 3), 'float32'))\n"
        "assert tuple(_y.shape) == (2, 10), _y.shape\n"
    ),
    # model(["not bad at all", "good, not great"])  # logits (2, 2)
    # model.cudnn_eligible  # True: the defaults meet every cuDNN condition
    'model.adapt(train_texts)': (
        "_y = model(['not bad at all', 'good, not great'])\n"
        "assert tuple(_y.shape) == (2, 2), _y.shape\n"
        "assert model.cudnn_eligible is True, model.cudnn_eligible\n"
    ),
    # os.environ["KERAS_BACKEND"] = "jax"; model.jit_compile  # True: Keras' default on JAX
    # logits = text_model(vectorizer(["not bad at all"]))   # (1, 2)
    'os.environ["KERAS_BACKEND"] = "jax"': (
        "assert keras.backend.backend() == 'jax', keras.backend.backend()\n"
        "assert model.jit_compile is True, model.jit_compile\n"
        "assert tuple(logits.shape) == (1, 2), logits.shape\n"
    ),
    # os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1"); ops.describe()
    # TensorFlow 2.21.0 (Keras 3.15.1) on cpu/onednn: oneDNN CPU kernels
    'os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")': (
        "import os as _os\n"
        "assert ops.describe().startswith('TensorFlow '), ops.describe()\n"
        "assert ops.onednn_enabled() is (_os.environ['TF_ENABLE_ONEDNN_OPTS'] != '0')\n"
    ),
    # mobilenet_v2.from_keras_applications(...); small = mobilenet_v2.mobilenet_v2(alpha=0.35, ...)
    'mobilenet_v2.from_keras_applications(': (
        "import numpy as _np\n"
        "assert isinstance(model, mobilenet_v2.MobileNetV2) and model.alpha == 1.0\n"
        "_y = small(_np.zeros((2, 32, 32, 1), 'float32'))\n"
        "assert tuple(_y.shape) == (2, 10) and small.alpha == 0.35, (_y.shape, small.alpha)\n"
    ),
    # transformer(["not bad at all", "good, not great"])  # logits (2, 2)
    'transformer.adapt(train_texts)': (
        "_y = transformer(['not bad at all', 'good, not great'])\n"
        "assert tuple(_y.shape) == (2, 2), _y.shape\n"
        "assert transformer.vocabulary is not None and len(transformer.vocabulary) > 2\n"
    ),
    # resnet.from_keras_applications(...) builds the matching zoo model.
    'resnet.from_keras_applications(': (
        "assert isinstance(model, resnet.ResNet), type(model)\n"
    ),
    # save h5 / SavedModel (version=1) / int8 TFLite; served(images): numpy in, numpy out
    'zoo.export.save(model, "out/resnet20.h5")': (
        "import os as _os, numpy as _np\n"
        "for _p in ('out/resnet20.h5', 'out/resnet20_serving/1', 'out/resnet20_int8.tflite'):\n"
        "    assert _os.path.exists(_p), _p\n"
        "_y = served(images)\n"
        "assert isinstance(_y, _np.ndarray), type(_y)\n"
        "assert _y.shape == (len(images), 10), _y.shape\n"
    ),
}

# Runs the pieces in one namespace, as one script would, each compiled under
# its own file name and line offset so that tracebacks point at README lines.
RUNNER = """\
import json, sys
namespace = {"__name__": "__main__", "__builtins__": __builtins__}
for filename, first_line, source in json.load(open(sys.argv[1])):
    exec(compile("\\n" * (first_line - 1) + source, filename, "exec"), namespace)
"""


def python_blocks(text):
    """[(line of the first code line, code)] for every ```python fence.

    Fences may be indented (inside a list item); the indentation is removed.
    """
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = re.match(r"^(\s*)```\s*python\s*$", lines[i])
        if not match:
            i += 1
            continue
        indent = len(match.group(1))
        start = i + 1
        end = start
        while end < len(lines) and not re.match(r"^\s*```\s*$", lines[end]):
            end += 1
        if end == len(lines):
            raise ValueError(f"README.md:{i + 1}: unterminated ```python block")
        code = "\n".join(line[indent:] if line[:indent].isspace() else line.lstrip()
                         for line in lines[start:end])
        blocks.append((start + 1, code + "\n"))
        i = end + 1
    return blocks


def names_used_and_defined(code):
    """(names read, names bound) anywhere in `code`."""
    used, defined = set(), set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else defined).add(node.id)
        elif isinstance(node, ast.alias):
            defined.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
    return used, defined


def _block_id(line, code):
    """L<line>-<first line that is not an import>, e.g. L83-model_zoo.create_model_text_rnn."""
    lines = [l.strip() for l in code.splitlines() if l.strip() and not l.startswith("#")]
    first = next((l for l in lines if not l.startswith(("import ", "from "))),
                 lines[0] if lines else "")
    slug = re.sub(r"[^A-Za-z0-9_.]+", "_", first).strip("_")[:40]
    return f"L{line}-{slug}"


def _keyed(table, code):
    return [value for key, value in table.items() if key in code]


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def _params():
    for line, code in BLOCKS:
        marks = [pytest.mark.slow] if any(key in code for key in SLOW) else []
        yield pytest.param(line, code, id=_block_id(line, code), marks=marks)


def test_readme_blocks_found():
    assert len(BLOCKS) >= MIN_BLOCKS, (
        f"found {len(BLOCKS)} ```python blocks in README.md, expected at least "
        f"{MIN_BLOCKS}: {[line for line, _ in BLOCKS]}")
    for line, code in BLOCKS:
        ast.parse(code, f"README.md:{line}")  # each is valid Python on its own


def test_parser():
    text = ("x\n```python\na = 1\n```\n```sh\nls\n```\n"
            "- item\n\n  ```python\n  if a:\n      b = 2\n  ```\n")
    assert python_blocks(text) == [(3, "a = 1\n"), (11, "if a:\n    b = 2\n")]
    with pytest.raises(ValueError, match="unterminated"):
        python_blocks("```python\na = 1\n")
    assert names_used_and_defined("import numpy as np\nx = f(images)\n") == (
        {"f", "images"}, {"np", "x"})


def test_tables_refer_to_readme():
    """A stand-in, rewrite, check or slow mark that no block needs is stale."""
    readme = "\n".join(code for _, code in BLOCKS)
    for table in (STAND_INS, REWRITES, CHECKS, SLOW):
        for key in table:
            assert key in readme, f"{key!r} is in no README block any more"


@pytest.mark.parametrize("line, code", list(_params()))
def test_readme_block(line, code, tmp_path):
    used, defined = names_used_and_defined(code)
    stand_ins = "".join(STAND_INS[name] for name in STAND_INS
                        if name in used and name not in defined)
    source = code
    for old, new in REWRITES.items():
        source = source.replace(old, new)
    assert source.count("\n") == code.count("\n")  # README line numbers still hold
    checks = "".join(_keyed(CHECKS, code))

    pieces = [[str(tmp_path / "stand_ins.py"), 1, stand_ins],
              [str(README), line, source],
              [str(tmp_path / "checks.py"), 1, checks]]
    for path, _, text in (pieces[0], pieces[2]):
        Path(path).write_text(text)  # for the traceback's source lines and reruns
    (tmp_path / "pieces.json").write_text(json.dumps(pieces))
    (tmp_path / "runner.py").write_text(RUNNER)

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(tmp_path / "runner.py"), str(tmp_path / "pieces.json")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    seconds = time.perf_counter() - start
    print(f"README.md:{line}: exit {result.returncode} in {seconds:.1f} s")
    # TensorFlow's C++ info lines (oneDNN, no CUDA) survive TF_CPP_MIN_LOG_LEVEL.
    stderr = "".join(l for l in result.stderr.splitlines(keepends=True)
                     if not re.match(r"I\d{4} |WARNING: All log messages before absl", l))
    assert result.returncode == 0, (
        f"README.md block at line {line} failed (exit {result.returncode}, "
        f"{seconds:.1f} s; stand-ins {sorted(n for n in STAND_INS if n in used and n not in defined)}, "
        f"files in {tmp_path}). stderr tail:\n{stderr[-3000:]}")
