"""BatchNorm folding for inference exports, and the op counts that show it.

SavedModel and TFLite exports trace `model.folded()` (each `ConvBN`'s
BatchNorm folded into its convolution, on a copy) unless
`fold_batchnorm=False`. Folding removes every BatchNorm op from a
SavedModel; the TFLite converter folds them itself, so there it changes
only rounding. Measurements: `tests/export/test_fold.py`.

Example:
>>> import collections
>>> batchnorm_ops(collections.Counter({"Conv2D": 20, "Rsqrt": 19, "Mul": 38}))
19
"""

import collections

from zoo import _validation

# Op types only a BatchNorm puts in a zoo graph (`Rsqrt`: Keras' own BatchNormalization).
BATCHNORM_OPS = ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "Rsqrt")


def inference_model(model, fold_batchnorm=True):
    """The model an inference export traces: `model.folded()` where it has one, else `model`."""
    if not _validation.boolean("fold_batchnorm", fold_batchnorm):
        return model
    folded = getattr(model, "folded", None)
    return model if folded is None else folded()


def batchnorm_ops(op_counts):
    """How many of `op_counts` (a SavedModel's, see `BATCHNORM_OPS`) are BatchNorm ops."""
    return sum(op_counts.get(op, 0) for op in BATCHNORM_OPS)


def op_difference(unfolded, folded):
    """What folding changed between two op counts: `removed`, `added` and `total`."""
    unfolded, folded = collections.Counter(unfolded), collections.Counter(folded)
    return {"removed": dict(sorted((unfolded - folded).items())),
            "added": dict(sorted((folded - unfolded).items())),
            "total": {"unfolded": sum(unfolded.values()), "folded": sum(folded.values())}}


__all__ = ["BATCHNORM_OPS", "batchnorm_ops", "inference_model", "op_difference"]
