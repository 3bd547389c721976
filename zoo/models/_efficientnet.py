"""The EfficientNet network, written once for both generations (`efficientnet`, `efficientnet_v2`).

A 3x3/2 stem, stages of MBConv-like blocks whose residual branches drop
with a rate rising linearly in depth (drop-connect), a 1x1 head conv. A
family subclass names its variants (`specs`, `name_prefix`) and states
each one's `architecture(variant)`: a dict of

- `stem`, `head`: the stem's and the head conv's output channels;
- `stages`: per stage, (block class, kernel size, repeats, output channels,
  expansion, first stride, squeeze-excite ratio);
- `size`: the image size; `dropout`: the default dropout before the classifier;
- `drop_divisor`: block `b` (from 0) drops with `drop_connect_rate * b / drop_divisor`.
"""

from zoo import _validation
from zoo.blocks import ConvBN
from zoo.models._image import ImageClassifier, chain_until, last_at_each_reduction
from zoo.models._info import PREPROCESSING


def imagenet_preprocessing(mode, size):
    """keras' in-model preprocessing (`_info.PREPROCESSING[mode]`) at the paper's crop.

    Example:
    >>> imagenet_preprocessing("efficientnet", 224)["resize"]
    256
    """
    return {**PREPROCESSING[mode], "resize": size + 32, "crop_fraction": size / (size + 32)}


def block_rows(stages):
    """Per block of `stages` rows: (name, block class, kernel, channels, expansion, stride, SE).

    Example:
    >>> [(row[0], row[5]) for row in block_rows([(None, 3, 2, 16, 1, 2, 0.25)])]
    [('stage1_block1', 2), ('stage1_block2', 1)]
    """
    return [(f"stage{stage}_block{index}", block, kernel, filters, expansion,
             stride if index == 1 else 1, se_ratio)
            for stage, (block, kernel, repeats, filters, expansion, stride, se_ratio)
            in enumerate(stages, 1) for index in range(1, repeats + 1)]


class EfficientNetBase(ImageClassifier):
    """The network both EfficientNet families build (see the module doc); not registered."""

    specs = name_prefix = None  # a family's: variant -> spec row, and "efficientnet_"

    @staticmethod
    def architecture(variant):
        """The variant's architecture (see the module doc)."""
        raise NotImplementedError

    # bn_momentum: not keras.applications' 0.99, too slow for short runs from scratch (the
    # moving statistics lag, and 49+ BatchNorms compound it in inference).
    def __init__(self, variant="b0", drop_connect_rate=0.2, dropout=None, bn_momentum=0.9,
                 bn_epsilon=1e-3, bn_synchronized=False, **kwargs):
        self.variant = _validation.one_of("variant", variant, list(self.specs))
        self.drop_connect_rate = _validation.fraction("drop_connect_rate", drop_connect_rate)
        spec = self.architecture(self.variant)
        rows, divisor = block_rows(spec["stages"]), spec["drop_divisor"]
        if self.drop_connect_rate * (len(rows) - 1) >= divisor:
            raise ValueError(f"drop_connect_rate must be below {divisor}/{len(rows) - 1} for "
                             f"{variant} (the last block's rate is drop_connect_rate * "
                             f"{len(rows) - 1} / {divisor}), received "
                             f"drop_connect_rate={drop_connect_rate!r}")
        kwargs.setdefault("name", self.name_prefix + variant)
        super().__init__(dropout=spec["dropout"] if dropout is None else dropout, **kwargs)
        unit_args = self._set_batch_norm(bn_momentum, bn_epsilon, bn_synchronized)
        self.stem = ConvBN(spec["stem"], 3, strides=2, activation="swish", padding="same",
                           name="stem_conv", **unit_args)
        # Made lazily: none after the last stage a features_only model returns.
        self.blocks = chain_until((block(
            filters, kernel, stride, expansion, se_ratio, name=name, **unit_args,
            drop_rate=self.drop_connect_rate * number / divisor) for number, (
                name, block, kernel, filters, expansion, stride, se_ratio) in enumerate(rows)),
            self.last_stage_layer)
        self.head_conv = None if self.features_only else ConvBN(
            spec["head"], 1, activation="swish", name="head_conv", **unit_args)
        self._add_head(spec["head"])

    @property
    def default_image_size(self):
        return self.architecture(self.variant)["size"]

    def stage_table(self):
        """The last block at each resolution (the stem halves it), by the blocks' strides."""
        return last_at_each_reduction([
            (stride, filters, f"stage{stage}_block{repeats}") for stage, (_, _, repeats, filters,
            _, stride, _) in enumerate(self.architecture(self.variant)["stages"], 1)], 2)

    def _body(self):
        return [self.stem, *self.blocks, self.head_conv]

    def get_config(self):
        return {**super().get_config(), "variant": self.variant,
                "drop_connect_rate": self.drop_connect_rate, **self._batch_norm_config()}
