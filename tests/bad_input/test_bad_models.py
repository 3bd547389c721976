"""Bad arguments and bad calls for every model family and block.

Each row asserts the exception type and that the message names the argument
and shows the value received. Construction rows fail before any layer is
built, so they cost milliseconds; the called models are built once per
module. Every row runs on any Keras backend unless marked `tensorflow_only`
(`KERAS_BACKEND=jax pytest tests/bad_input/test_bad_models.py`).
"""

import keras
import numpy as np
import pytest

import zoo
import helpers
from helpers import assert_rejects
from zoo.blocks import BasicBlock, Bottleneck, ConvBN, EinsumDense, SequencePooling
from zoo.models.einsum_mlp import EinsumMLP
from zoo.models.resnet import ResNet
from zoo.models.text_rnn import TextRNN

NAN, INF = float("nan"), float("inf")
HUGE = 10**12
BOTH = (TypeError, ValueError)
STRING_MODE = pytest.mark.tensorflow_only(
    "string-mode text_rnn tokenizes with TensorFlow string ops")
EXPORT = pytest.mark.tensorflow_only("zoo.export writes TensorFlow formats")


def resnet(**kwargs):
    return zoo.create_model("resnet20", **{"num_classes": 3, "input_shape": (16, 16, 1),
                                           **kwargs})


def mlp(**kwargs):
    return EinsumMLP(**{"num_classes": 3, "hidden_units": (4,), "input_shape": (5,),
                        **kwargs})


def text(**kwargs):
    # Token mode runs on every backend; the argument checks come before the
    # string-mode backend check, so the rows say the same on each.
    return TextRNN(**{"num_classes": 2, "max_tokens": 20, "units": 4,
                      "embedding_dim": 4, "input_mode": "tokens", **kwargs})


def row(builder, kwargs, error, *fragments, id, marks=()):
    return pytest.param(builder, kwargs, error, fragments, id=id, marks=marks)


CONSTRUCTION = [
    # -- ResNet --------------------------------------------------------------
    row(resnet, {"bn_momentum": NAN}, ValueError, "bn_momentum", "nan", id="resnet-bn_momentum-nan"),
    row(resnet, {"bn_momentum": INF}, ValueError, "bn_momentum", "inf", id="resnet-bn_momentum-inf"),
    row(resnet, {"bn_momentum": -0.1}, ValueError, "bn_momentum", "-0.1", id="resnet-bn_momentum-negative"),
    row(resnet, {"bn_momentum": 1.0}, ValueError, "bn_momentum", "1.0", id="resnet-bn_momentum-one"),
    row(resnet, {"bn_momentum": "x"}, TypeError, "bn_momentum", "'x'", id="resnet-bn_momentum-str"),
    row(resnet, {"bn_momentum": None}, TypeError, "bn_momentum", "None", id="resnet-bn_momentum-none"),
    row(resnet, {"bn_epsilon": NAN}, ValueError, "bn_epsilon", "nan", id="resnet-bn_epsilon-nan"),
    row(resnet, {"bn_epsilon": INF}, ValueError, "bn_epsilon", "inf", id="resnet-bn_epsilon-inf"),
    row(resnet, {"bn_epsilon": -1e-5}, ValueError, "bn_epsilon", "-1e-05", id="resnet-bn_epsilon-negative"),
    row(resnet, {"bn_epsilon": 0.0}, ValueError, "bn_epsilon", "0.0", id="resnet-bn_epsilon-zero"),
    row(resnet, {"bn_epsilon": "x"}, TypeError, "bn_epsilon", "'x'", id="resnet-bn_epsilon-str"),
    row(resnet, {"bn_epsilon": True}, TypeError, "bn_epsilon", "True", id="resnet-bn_epsilon-bool"),
    row(resnet, {"include_top": "no"}, TypeError, "include_top", "'no'", id="resnet-include_top-str-no"),
    row(resnet, {"include_top": "False"}, TypeError, "include_top", "'False'", id="resnet-include_top-str-False"),
    row(resnet, {"include_top": 1}, TypeError, "include_top", "1", id="resnet-include_top-int"),
    row(resnet, {"include_top": None}, TypeError, "include_top", "None", id="resnet-include_top-none"),
    row(lambda **kw: ResNet(depth=50, num_classes=3, **kw), {"stride_in_1x1": "False"},
        TypeError, "stride_in_1x1", "'False'", id="resnet50-stride_in_1x1-str"),
    row(resnet, {"zero_init_residual": "yes"}, TypeError, "zero_init_residual", "'yes'",
        id="resnet-zero_init_residual-str"),
    row(resnet, {"bn_synchronized": "no"}, TypeError, "bn_synchronized", "'no'",
        id="resnet-bn_synchronized-str"),
    row(resnet, {"name": ""}, ValueError, "name", "''", id="resnet-name-empty"),
    row(resnet, {"name": 3}, TypeError, "name", "3", id="resnet-name-int"),
    row(resnet, {"dtype": "int32"}, ValueError, "dtype", "'int32'", id="resnet-dtype-int32"),
    row(resnet, {"dtype": "bool"}, ValueError, "dtype", "'bool'", id="resnet-dtype-bool"),
    row(resnet, {"dtype": "x"}, ValueError, "dtype", "'x'", id="resnet-dtype-unknown"),
    row(resnet, {"trainable": "no"}, TypeError, "trainable", "'no'", id="resnet-trainable-str"),
    row(resnet, {"num_classes": HUGE}, ValueError, "num_classes", str(HUGE), "memory",
        id="resnet-num_classes-huge"),
    row(resnet, {"num_classes": 0}, ValueError, "num_classes", "0", id="resnet-num_classes-zero"),
    row(resnet, {"num_classes": -1}, ValueError, "num_classes", "-1", id="resnet-num_classes-negative"),
    row(resnet, {"num_classes": 2.5}, TypeError, "num_classes", "2.5", id="resnet-num_classes-float"),
    row(resnet, {"num_classes": "10"}, TypeError, "num_classes", "'10'", id="resnet-num_classes-str"),
    row(resnet, {"num_classes": True}, TypeError, "num_classes", "True", id="resnet-num_classes-bool"),
    row(lambda **kw: ResNet(**kw), {"depth": 42}, ValueError, "depth", "42", id="resnet-depth-unknown"),
    row(resnet, {"pooling": "mean"}, ValueError, "pooling", "'mean'", id="resnet-pooling-unknown"),
    row(resnet, {"pooling": ""}, ValueError, "pooling", "''", id="resnet-pooling-empty"),
    row(resnet, {"classifier_activation": "nope"}, ValueError, "classifier_activation", "'nope'",
        id="resnet-classifier_activation-unknown"),
    row(resnet, {"input_shape": (0, 16, 1)}, ValueError, "input_shape", "(0, 16, 1)",
        id="resnet-input_shape-zero"),
    row(resnet, {"input_shape": (16, 16)}, ValueError, "input_shape", "(16, 16)",
        id="resnet-input_shape-rank"),
    row(resnet, {"input_shape": "16"}, ValueError, "input_shape", "'16'", id="resnet-input_shape-str"),
    row(resnet, {"data_format": "NHWC"}, ValueError, "data_format", "'NHWC'",
        id="resnet-data_format-unknown"),
    # -- EinsumMLP -------------------------------------------------------------
    row(mlp, {"dropout": NAN}, ValueError, "dropout", "nan", id="mlp-dropout-nan"),
    row(mlp, {"dropout": 1.0}, ValueError, "dropout", "1.0", id="mlp-dropout-one"),
    row(mlp, {"dropout": -0.1}, ValueError, "dropout", "-0.1", id="mlp-dropout-negative"),
    row(mlp, {"dropout": "0.1"}, TypeError, "dropout", "'0.1'", id="mlp-dropout-str"),
    row(mlp, {"hidden_units": (0,)}, ValueError, "hidden_units", "(0,)", id="mlp-hidden_units-zero"),
    row(mlp, {"hidden_units": "128"}, ValueError, "hidden_units", "'128'", id="mlp-hidden_units-str"),
    row(mlp, {"hidden_units": (10**7, 10**7)}, ValueError, "hidden_units", "10000000", "memory",
        id="mlp-hidden_units-huge"),
    row(mlp, {"num_classes": HUGE}, ValueError, "num_classes", str(HUGE), id="mlp-num_classes-huge"),
    row(mlp, {"normalization": "group"}, ValueError, "normalization", "'group'",
        id="mlp-normalization-unknown"),
    row(mlp, {"activation": "nope"}, ValueError, "activation", "'nope'", id="mlp-activation-unknown"),
    row(mlp, {"input_shape": (0,)}, ValueError, "input_shape", "(0,)", id="mlp-input_shape-zero"),
    row(mlp, {"name": ""}, ValueError, "name", "''", id="mlp-name-empty"),
    row(mlp, {"dtype": "int32"}, ValueError, "dtype", "'int32'", id="mlp-dtype-int32"),
    row(mlp, {"classifier_activation": 3}, ValueError, "classifier_activation", "3",
        id="mlp-classifier_activation-int"),
    # -- TextRNN ---------------------------------------------------------------
    row(text, {"bidirectional": "no"}, TypeError, "bidirectional", "'no'", id="text-bidirectional-str"),
    row(text, {"unroll": "False"}, TypeError, "unroll", "'False'", id="text-unroll-str"),
    row(text, {"dropout": NAN}, ValueError, "dropout", "nan", id="text-dropout-nan"),
    row(text, {"recurrent_dropout": INF}, ValueError, "recurrent_dropout", "inf",
        id="text-recurrent_dropout-inf"),
    row(text, {"max_tokens": 2}, ValueError, "max_tokens", "2", id="text-max_tokens-two"),
    row(text, {"max_tokens": HUGE}, ValueError, "max_tokens", str(HUGE), "memory",
        id="text-max_tokens-huge"),
    row(text, {"num_classes": HUGE}, ValueError, "num_classes", str(HUGE), id="text-num_classes-huge"),
    row(text, {"sequence_length": 0}, ValueError, "sequence_length", "0", id="text-sequence_length-zero"),
    row(text, {"rnn": "transformer"}, ValueError, "rnn", "'transformer'", id="text-rnn-unknown"),
    row(text, {"head": "mean"}, ValueError, "head", "'mean'", id="text-head-unknown"),
    row(text, {"use_cudnn": "yes"}, ValueError, "use_cudnn", "'yes'", id="text-use_cudnn-str"),
    row(text, {"standardize": "upper"}, ValueError, "standardize", "'upper'", id="text-standardize-unknown"),
    row(text, {"vocabulary": "abc"}, ValueError, "vocabulary", "'abc'", id="text-vocabulary-str"),
    row(text, {"vocabulary": []}, ValueError, "vocabulary=[]", id="text-vocabulary-empty"),
    row(text, {"vocabulary": ["a", "a"]}, ValueError, "vocabulary=['a', 'a']", "repeats ['a']",
        id="text-vocabulary-repeated"),
    row(text, {"vocabulary": ["a", ""]}, ValueError, "vocabulary=['a', '']",
        id="text-vocabulary-misplaced-padding"),
    row(text, {"vocabulary": [f"w{i}" for i in range(30)]}, ValueError, "vocabulary=",
        "max_tokens=20", id="text-vocabulary-too-long"),
    row(text, {"vocabulary": [1, 2]}, ValueError, "vocabulary=[1, 2]", id="text-vocabulary-ints"),
    row(text, {"embedding_dim": 0}, ValueError, "embedding_dim", "0", id="text-embedding_dim-zero"),
    row(text, {"units": -1}, ValueError, "units", "-1", id="text-units-negative"),
    row(text, {"num_layers": 1.5}, TypeError, "num_layers", "1.5", id="text-num_layers-float"),
    row(text, {"ngrams": 0}, ValueError, "ngrams", "0", id="text-ngrams-zero"),
    row(text, {"input_mode": "bytes"}, ValueError, "input_mode", "'bytes'", id="text-input_mode-unknown"),
    row(text, {"name": ""}, ValueError, "name", "''", id="text-name-empty"),
    row(text, {"dtype": "int32"}, ValueError, "dtype", "'int32'", id="text-dtype-int32"),
    # -- blocks ------------------------------------------------------------------
    row(lambda **kw: ConvBN(4, 3, **kw), {"bn_momentum": NAN}, ValueError, "bn_momentum", "nan",
        id="convbn-bn_momentum-nan"),
    row(lambda **kw: ConvBN(4, 3, **kw), {"bn_epsilon": -1.0}, ValueError, "bn_epsilon", "-1.0",
        id="convbn-bn_epsilon-negative"),
    row(lambda **kw: ConvBN(4, 3, **kw), {"gamma_initializer": "nope"}, ValueError,
        "gamma_initializer", "'nope'", id="convbn-gamma_initializer-unknown"),
    row(lambda **kw: ConvBN(4, 3, **kw), {"name": ""}, ValueError, "name", "''", id="convbn-name-empty"),
    row(lambda **kw: ConvBN(4, 3, **kw), {"dtype": "int32"}, ValueError, "dtype", "'int32'",
        id="convbn-dtype-int32"),
    row(lambda **kw: ConvBN(4, 3, **kw), {"bn_synchronized": "no"}, TypeError, "bn_synchronized",
        "'no'", id="convbn-bn_synchronized-str"),
    row(lambda **kw: BasicBlock(4, **kw), {"zero_init_residual": "no"}, TypeError,
        "zero_init_residual", "'no'", id="basicblock-zero_init_residual-str"),
    row(lambda **kw: BasicBlock(4, **kw), {"bn_momentum": "x"}, TypeError, "bn_momentum", "'x'",
        id="basicblock-bn_momentum-str"),
    row(lambda **kw: BasicBlock(4, **kw), {"strides": 0}, ValueError, "strides", "0",
        id="basicblock-strides-zero"),
    row(lambda **kw: Bottleneck(4, **kw), {"stride_in_1x1": "False"}, TypeError, "stride_in_1x1",
        "'False'", id="bottleneck-stride_in_1x1-str"),
    row(lambda **kw: Bottleneck(4, **kw), {"bn_epsilon": NAN}, ValueError, "bn_epsilon", "nan",
        id="bottleneck-bn_epsilon-nan"),
    row(lambda **kw: EinsumDense("ab,bc->ac", 4, **kw), {"kernel_initializer": "nope"}, ValueError,
        "kernel_initializer", "'nope'", id="einsumdense-kernel_initializer-unknown"),
    row(lambda **kw: EinsumDense("ab,bc->ac", 4, **kw), {"kernel_regularizer": "nope"}, ValueError,
        "kernel_regularizer", "'nope'", id="einsumdense-kernel_regularizer-unknown"),
    row(lambda **kw: EinsumDense("ab,bc->ac", 4, **kw), {"bias_constraint": "nope"}, ValueError,
        "bias_constraint", "'nope'", id="einsumdense-bias_constraint-unknown"),
    row(lambda **kw: EinsumDense("ab,bc->ac", 4, **kw), {"name": ""}, ValueError, "name", "''",
        id="einsumdense-name-empty"),
    row(lambda **kw: EinsumDense.dense_head(**kw), {"units": 0}, ValueError, "units", "0",
        id="dense_head-units-zero"),
    row(lambda **kw: SequencePooling(**kw), {"mode": "sum"}, ValueError, "mode", "'sum'",
        id="sequencepooling-mode-unknown"),
    row(lambda **kw: SequencePooling(**kw), {"dtype": "int32"}, ValueError, "dtype", "'int32'",
        id="sequencepooling-dtype-int32"),
]


@pytest.mark.parametrize("builder, kwargs, error, fragments", CONSTRUCTION)
def test_bad_constructor_argument(builder, kwargs, error, fragments):
    assert_rejects(lambda: builder(**kwargs), error, *fragments)



def test_numpy_scalars_are_real_values():
    """NumPy ints and bools are what they look like, and configs stay JSON."""
    model = resnet(num_classes=np.int64(3), include_top=np.bool_(True), bn_momentum=0)
    config = model.get_config()
    assert (config["num_classes"], config["include_top"], config["bn_momentum"]) == (3, True, 0.0)
    assert type(config["num_classes"]) is int and type(config["include_top"]) is bool
    # A float32 width is the width it rounds from (np.float32(0.35) != 0.35).
    assert zoo.create_model("mobilenet_v2", alpha=np.float32(0.35),
                            input_shape=(32, 32, 3)).get_config()["alpha"] == 0.35


@pytest.mark.parametrize("call, error, fragments", [
    pytest.param(lambda: zoo.create_model(None), ValueError, ("name=None",), id="create-none"),
    pytest.param(lambda: zoo.create_model(""), ValueError, ("name=''",), id="create-empty"),
    pytest.param(lambda: zoo.create_model("resnet51"), ValueError, ("name='resnet51'", "resnet50"),
                 id="create-typo"),
    pytest.param(lambda: zoo.create_model("resnet20", no_such_argument=1), BOTH,
                 ("no_such_argument",), id="create-unknown-override"),
    pytest.param(lambda: zoo.list_models(3), ValueError, ("pattern=3",), id="list-pattern-int"),
    pytest.param(lambda: zoo.ops.conv2d_as_matmul_applies(
        (8, 2, 2, 8), (1, 1, 8, 8), platform="warp9"), ValueError,
        ("platform='warp9'", "cpu/onednn"), id="ops-unknown-platform"),
])
def test_bad_registry_call(call, error, fragments):
    assert_rejects(call, error, *fragments)


# ---------------------------------------------------------------------------
# Calls: one model per family, built once.

@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    built = {
        "resnet": resnet(),
        "mlp": mlp(),
        "tokens": text(sequence_length=5),
    }
    if keras.backend.backend() == "tensorflow":
        strings = TextRNN(num_classes=2, max_tokens=20, units=4, embedding_dim=4)
        strings.adapt(["a good film", "a bad film"])
        built["strings"] = strings
    return built


CALLS = [
    pytest.param("resnet", None, TypeError, ("inputs=None",), id="resnet-none"),
    pytest.param("resnet", "hello", TypeError, ("inputs='hello'",), id="resnet-str"),
    pytest.param("resnet", [[1.0]], TypeError, ("inputs=[[1.0]]",), id="resnet-list"),
    pytest.param("resnet", np.ones((1, 16, 16, 1), np.complex64), TypeError,
                 ("inputs", "dtype=complex64"), id="resnet-complex"),
    pytest.param("resnet", np.ones((1, 16, 16, 1), np.int32), TypeError,
                 ("inputs", "dtype=int32"), id="resnet-int"),
    pytest.param("resnet", np.ones((1, 16, 16, 1), bool), TypeError,
                 ("inputs", "dtype=bool"), id="resnet-bool"),
    pytest.param("resnet", np.ones((1, 0, 16, 1), np.float32), ValueError,
                 ("inputs", "shape=(1, 0, 16, 1)"), id="resnet-zero-height"),
    pytest.param("resnet", np.ones((16, 16, 1), np.float32), ValueError,
                 ("inputs", "shape=(16, 16, 1)"), id="resnet-rank3"),
    pytest.param("resnet", np.ones((1, 16, 16, 3), np.float32), ValueError,
                 ("inputs", "(1, 16, 16, 3)", "channels"), id="resnet-wrong-channels"),
    pytest.param("mlp", None, TypeError, ("inputs=None",), id="mlp-none"),
    pytest.param("mlp", "hello", TypeError, ("inputs='hello'",), id="mlp-str"),
    pytest.param("mlp", np.ones((2, 5), np.complex128), TypeError,
                 ("inputs", "dtype=complex128"), id="mlp-complex"),
    pytest.param("mlp", np.ones((2, 0), np.float32), ValueError,
                 ("inputs", "shape=(2, 0)"), id="mlp-zero-features"),
    pytest.param("mlp", np.ones((2, 5, 1), np.float32), ValueError,
                 ("inputs", "shape=(2, 5, 1)"), id="mlp-rank3"),
    pytest.param("mlp", np.ones((2, 6), np.float32), ValueError,
                 ("inputs", "shape=(2, 6)"), id="mlp-wrong-features"),
    pytest.param("tokens", None, TypeError, ("inputs=None",), id="tokens-none"),
    pytest.param("tokens", np.array([[1, -3, 0, 0, 0]]), ValueError,
                 ("inputs", "-3", "max_tokens=20"), id="tokens-negative-id"),
    pytest.param("tokens", np.array([[1, 20, 0, 0, 0]]), ValueError,
                 ("inputs", "20", "max_tokens=20"), id="tokens-id-max_tokens"),
    pytest.param("tokens", np.array([[1, 2, 3, 4, 5, 6]]), ValueError,
                 ("inputs", "shape=(1, 6)", "sequence_length=5"), id="tokens-too-long"),
    pytest.param("tokens", np.ones((1, 5), np.float32), ValueError,
                 ("inputs", "dtype=float32"), id="tokens-float"),
    pytest.param("tokens", np.ones((5,), np.int32), ValueError,
                 ("inputs", "shape=(5,)"), id="tokens-rank1"),
    pytest.param("tokens", ["a good film"], ValueError, ("inputs", "string"), id="tokens-texts"),
    pytest.param("tokens", np.ones((1, 5), np.complex64), TypeError,
                 ("inputs", "complex64"), id="tokens-complex"),
    pytest.param("strings", "a good film", TypeError, ("inputs='a good film'", "['a good film']"),
                 id="strings-lone-str", marks=STRING_MODE),
    pytest.param("strings", np.ones((2, 3), np.float32), ValueError,
                 ("inputs", "dtype=float32"), id="strings-float", marks=STRING_MODE),
    pytest.param("strings", None, TypeError, ("inputs=None",), id="strings-none", marks=STRING_MODE),
    pytest.param("strings", ["a good film", "bad \ud800 film"], ValueError,
                 ("inputs", "element 1", "'\\ud800'", "surrogate"), id="strings-lone-surrogate",
                 marks=STRING_MODE),
]


@pytest.mark.parametrize("family, inputs, error, fragments", CALLS)
def test_bad_call(models, family, inputs, error, fragments):
    assert_rejects(lambda: models[family](inputs), error, *fragments)


EXAMPLE_INPUTS = [
    pytest.param("resnet", {"batch_size": -1}, ValueError, ("batch_size", "-1"), id="resnet-batch-negative"),
    pytest.param("resnet", {"batch_size": 1.5}, TypeError, ("batch_size", "1.5"), id="resnet-batch-float"),
    pytest.param("resnet", {"batch_size": True}, TypeError, ("batch_size", "True"), id="resnet-batch-bool"),
    pytest.param("resnet", {"seed": -1}, ValueError, ("seed", "-1"), id="resnet-seed-negative"),
    pytest.param("mlp", {"unknown_dim": 0}, ValueError, ("unknown_dim", "0"), id="mlp-unknown_dim-zero"),
    pytest.param("mlp", {"batch_size": "2"}, TypeError, ("batch_size", "'2'"), id="mlp-batch-str"),
    pytest.param("tokens", {"batch_size": -1}, ValueError, ("batch_size", "-1"), id="tokens-batch-negative"),
    pytest.param("tokens", {"seed": NAN}, TypeError, ("seed", "nan"), id="tokens-seed-nan"),
]


@pytest.mark.parametrize("training", ["yes", "no", 1, 0.0, [True]])
@pytest.mark.parametrize("name", helpers.one_per_family())
def test_training_is_a_bool(name, training):
    # Keras reads any truthy value as True: training="no" would train BatchNorm.
    info = zoo.model_info(name)
    model = zoo.create_model(name, **info.small, **info.portable)
    x = model.example_inputs(batch_size=1)
    assert_rejects(lambda: model(x, training=training), BOTH, "training",
                   f"training={training!r}")


@pytest.mark.parametrize("family, kwargs, error, fragments", EXAMPLE_INPUTS)
def test_bad_example_inputs(models, family, kwargs, error, fragments):
    assert_rejects(lambda: models[family].example_inputs(**kwargs), error, *fragments)


@pytest.mark.parametrize("family", ["resnet", "mlp", "tokens",
                                    pytest.param("strings", marks=STRING_MODE)])
def test_empty_batch_gives_empty_output(models, family):
    """Batch size 0 is allowed: an empty output of the right shape and dtype."""
    model = models[family]
    outputs = model(model.example_inputs(batch_size=0))
    assert tuple(outputs.shape) == (0, model.num_classes)
    assert keras.backend.standardize_dtype(outputs.dtype) == "float32"


def test_out_of_range_ids_become_oov_in_a_traced_call(models):
    """Inside `predict` (a traced graph) the ids are not known at call time:
    an id the embedding has no row for reads as the OOV id 1, never garbage."""
    model = models["tokens"]
    bad = np.array([[2, 99, 3, 0, 0], [-4, 2, 0, 0, 0]], np.int32)
    oov = np.array([[2, 1, 3, 0, 0], [1, 2, 0, 0, 0]], np.int32)
    np.testing.assert_array_equal(model.predict(bad, verbose=0), model.predict(oov, verbose=0))


# ---------------------------------------------------------------------------
# text_rnn: adapt and save before adapt (string mode: TensorFlow only).

ADAPT = [
    pytest.param([], ValueError, ("data=[]",), id="empty-list"),
    pytest.param((), ValueError, ("data=()",), id="empty-tuple"),
    pytest.param(np.array([], dtype=object), ValueError, ("data=array([]",), id="empty-array"),
    pytest.param("one string", ValueError, ("data='one string'", "[data]"), id="lone-str"),
    pytest.param(b"one string", ValueError, ("data=b'one string'",), id="lone-bytes"),
    pytest.param(None, TypeError, ("data=None",), id="none"),
    pytest.param(3, TypeError, ("data=3",), id="number"),
    pytest.param(["a film", 3], ValueError, ("data=", "element 1", "3"), id="non-text-element"),
    pytest.param(["", "  "], ValueError, ("no words", "data="), id="no-words"),
]


@STRING_MODE
@pytest.mark.parametrize("data, error, fragments", ADAPT)
def test_bad_adapt(data, error, fragments):
    model = TextRNN(num_classes=2, max_tokens=20, units=4, embedding_dim=4)
    assert_rejects(lambda: model.adapt(data), error, *fragments)
    assert model.vocabulary is None


@STRING_MODE
def test_bad_adapt_keeps_the_previous_vocabulary(models):
    model = models["strings"]
    before = model.vocabulary
    assert_rejects(lambda: model.adapt(["", "?!"]), ValueError, "no words")
    assert model.vocabulary == before
    assert tuple(model.vectorizer.get_vocabulary()) == before


@STRING_MODE
def test_adapt_an_empty_dataset():
    import tensorflow as tf

    model = TextRNN(num_classes=2, max_tokens=20, units=4, embedding_dim=4)
    empty = tf.data.Dataset.from_tensor_slices(tf.constant([], tf.string))
    assert_rejects(lambda: model.adapt(empty), ValueError, "empty dataset", "data=")


@STRING_MODE
@pytest.mark.parametrize("kwargs, error, fragments", [
    pytest.param({"batch_size": 0}, ValueError, ("batch_size", "0"), id="batch_size-zero"),
    pytest.param({"steps": "2"}, TypeError, ("steps", "'2'"), id="steps-str"),
])
def test_bad_adapt_options(kwargs, error, fragments):
    model = TextRNN(num_classes=2, max_tokens=20, units=4, embedding_dim=4)
    assert_rejects(lambda: model.adapt(["a film"], **kwargs), error, *fragments)


def test_adapt_on_a_token_model():
    assert_rejects(lambda: text().adapt(["a film"]), ValueError, "input_mode='tokens'")


@pytest.fixture
def unadapted():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("string-mode text_rnn needs the TensorFlow backend")
    return TextRNN(num_classes=2, max_tokens=20, units=4, embedding_dim=4)


# `writes_nothing`: refused before a file is opened. Keras' own
# `keras.saving.save_model` opens its zip file first and leaves it behind.
@STRING_MODE
@pytest.mark.parametrize("save, writes_nothing", [
    pytest.param(lambda m, d: m.save(d / "m.keras"), True, id="keras-model.save"),
    pytest.param(lambda m, d: m.save_weights(d / "m.weights.h5"), True, id="keras-save_weights"),
    pytest.param(lambda m, d: keras.saving.save_model(m, d / "m.keras"), False,
                 id="keras.saving.save_model"),
    pytest.param(lambda m, d: zoo.export.save(m, d / "m.keras"), True, id="export-keras",
                 marks=EXPORT),
    pytest.param(lambda m, d: zoo.export.save(m, d / "m.h5"), True, id="export-h5", marks=EXPORT),
    pytest.param(lambda m, d: zoo.export.save(m, d / "m_saved_model", format="saved_model"),
                 True, id="export-saved_model", marks=EXPORT),
    pytest.param(lambda m, d: zoo.export.save(m, d / "m.tflite"), True, id="export-tflite",
                 marks=EXPORT),
])
def test_saving_before_adapt_fails_at_save_time(unadapted, tmp_path, save, writes_nothing):
    import zoo.export  # noqa: F401 -- used by the rows

    assert_rejects(lambda: save(unadapted, tmp_path), ValueError,
                   "no vocabulary", "adapt", repr(unadapted.name))
    if writes_nothing:
        assert not list(tmp_path.iterdir()), list(tmp_path.iterdir())
