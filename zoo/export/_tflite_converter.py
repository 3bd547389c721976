"""TensorFlow's TFLite converter on a SavedModel, in this process or in a child.

int8 calibration runs TensorFlow's C++ calibrator on the user's data, where
a crash would end the caller's process: `zoo.export.tflite` runs it in a
child (this file run as a script, importing only TensorFlow), where a crash
is an exit status. Float and float16 conversions run in the caller.
"""

import sys

if __name__ == "__main__":  # a script: its folder (zoo/export) must not shadow any import
    del sys.path[0]

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# The child's exit status when the converter refused the model (not a crash).
REFUSED = 3


def convert(saved_model, quantization, float_input, int8_io, calibration=None):
    """The flatbuffer of `saved_model`'s "serve" signature (builtin ops only)."""
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=["serve"])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        converter.representative_dataset = lambda: ([x] for x in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io:
            if float_input:
                converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    return converter.convert()


def main(saved_model, calibration, output, float_input, int8_io):
    """The child: int8 conversion calibrated on the examples saved at `calibration`."""
    examples = np.load(calibration, allow_pickle=False)
    try:
        flatbuffer = convert(saved_model, "int8", float_input == "1", int8_io == "1",
                             list(examples))
    except Exception as error:  # noqa: BLE001 -- ConverterError and friends, reported
        print(error, file=sys.stderr)
        return REFUSED
    with open(output, "wb") as file:
        file.write(flatbuffer)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
