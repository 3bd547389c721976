"""BatchNorm folding for inference exports, and the op counts that show it.

A SavedModel or a TFLite file holds an inference graph, where each
BatchNormalization after a convolution is a fixed affine map per channel.
`zoo.export.save` therefore writes these two formats (those whose
`zoo.export.formats.Format` takes `fold_batchnorm`) from `model.folded()`
(every `zoo.blocks.ConvBN` with its BatchNorm folded into its convolution:
a scaled kernel plus a bias), unless `fold_batchnorm=False`. The model
given to `save` is never changed: the folding happens on a copy, and a
model with nothing to fold (a text model, `einsum_mlp`) is exported as it
is, without a copy. The `.keras`, `.h5` and weights formats keep the model
as it is (they are for training on) and refuse the option.

What folding removes from the files (`ServingModel.op_counts()`,
`TFLiteModel.op_counts()`, `batchnorm_ops`; tests/export/test_fold.py
holds these to the files written, resnet20 and mobilenet_v2 small, TF 2.21):

- SavedModel: every BatchNorm op. Unfolded, each BatchNorm runs in the
  serving graph, because the graph reads the variables at run time: one
  `FusedBatchNormV3` (`zoo.blocks.BatchNorm`; Keras' own layer would be an
  `Rsqrt` and multiplies and adds) reading 4 variables. Folded there is
  none, only a `BiasAdd` per convolution reading 1 (resnet20: 298 ops ->
  172: 21 `FusedBatchNormV3`, 63 variable reads and their 63 captured
  handles fewer, 21 `BiasAdd` more). On the CPU,
  Grappler then fuses either form with its convolution and activation into
  one `_FusedConv2D` (`zoo.ops.bias_add` says why the bias is a `BiasAdd`),
  so the two graphs run the same number of kernels.
- TFLite: no op. The converter freezes the variables and folds each
  BatchNorm's constant multiply and add into the convolution itself, so
  the folded and unfolded files hold the same operators (resnet20: 21
  `CONV_2D`, 9 `ADD` (the residual adds), no `MUL`; the same for int8 and
  float16) and differ by float rounding only. Folding first only gives the
  converter less to do.

Example:
>>> import collections
>>> batchnorm_ops(collections.Counter({"Conv2D": 20, "Rsqrt": 19, "Mul": 38}))
19
"""

import collections

from zoo import _validation

# Op types that only a BatchNorm puts in a zoo model's TensorFlow graph:
# TensorFlow's fused kernels, and the `Rsqrt(moving_variance + epsilon)`
# that Keras' own BatchNormalization computes (no zoo layer normalizes
# otherwise; a LayerNormalization would, in a transformer, which has no
# BatchNorm to fold).
BATCHNORM_OPS = ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "Rsqrt")


def inference_model(model, fold_batchnorm=True):
    """The model a SavedModel or TFLite export traces.

    Args:
        model: the model given to `zoo.export.save`.
        fold_batchnorm: bool. Fold each BatchNorm into its convolution.

    Returns:
        `model.folded()` for a zoo model with something to fold, else
        `model` itself (also for `fold_batchnorm=False` and for plain Keras
        models, which have no `folded()`).

    Raises:
        TypeError, ValueError (one `ArgumentTypeError`): `fold_batchnorm`
            is not a bool.
    """
    if not _validation.boolean("fold_batchnorm", fold_batchnorm):
        return model
    folded = getattr(model, "folded", None)
    return model if folded is None else folded()


def batchnorm_ops(op_counts):
    """How many of `op_counts` (a SavedModel's, see `BATCHNORM_OPS`) are BatchNorm ops."""
    return sum(op_counts.get(op, 0) for op in BATCHNORM_OPS)


def op_difference(unfolded, folded):
    """What folding changed between two op counts.

    Args:
        unfolded, folded: `collections.Counter`s of op types
            (`op_counts()` of the two exports).

    Returns:
        A dict: `removed` and `added` (op type -> count, sorted by type),
        and `total` (`{"unfolded": n, "folded": m}`).
    """
    unfolded, folded = collections.Counter(unfolded), collections.Counter(folded)
    return {"removed": dict(sorted((unfolded - folded).items())),
            "added": dict(sorted((folded - unfolded).items())),
            "total": {"unfolded": sum(unfolded.values()), "folded": sum(folded.values())}}


__all__ = ["BATCHNORM_OPS", "batchnorm_ops", "inference_model", "op_difference"]
