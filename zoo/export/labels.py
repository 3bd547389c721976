"""What a saved model needs to name its predictions: class names, preprocessing.

Keras files keep them in the model's config; a SavedModel in
`assets.extra/zoo_labels.json`, a `.tflite` in its zoo metadata.

Example:
>>> import zoo
>>> model = zoo.create_model("resnet20", num_classes=2, input_shape=(8, 8, 1),
...                          class_names=["cat", "dog"])
>>> of_model(model)
{'class_names': ['cat', 'dog'], 'preprocessing': None, 'outputs_logits': True}
"""

import json
import pathlib

SAVED_MODEL_FILE = pathlib.Path("assets.extra") / "zoo_labels.json"
KEYS = ("class_names", "preprocessing", "outputs_logits")


def of_model(model):
    """The labels record of a Keras model (None values where it has none)."""
    return {key: getattr(model, key, None) for key in KEYS}


def write_saved_model(model, directory):
    """Writes `model`'s record into the SavedModel `directory`."""
    target = pathlib.Path(directory) / SAVED_MODEL_FILE
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(of_model(model), indent=1), encoding="utf-8")


def read_saved_model(directory):
    """The record of the SavedModel `directory` (all None for a foreign one)."""
    path = pathlib.Path(directory) / SAVED_MODEL_FILE
    if not path.is_file():
        return dict.fromkeys(KEYS)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{str(path)!r} cannot be read as the zoo's labels record "
                         f"({error})") from None
    return from_record(record, str(path))


def from_record(record, where):
    """The known keys of a record, checked; ValueError naming `where`."""
    from zoo import _validation

    record = record or {}
    try:
        names = _validation.class_names(record.get("class_names"))
        preprocessing = _validation.json_dict("preprocessing", record.get("preprocessing"))
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    logits = record.get("outputs_logits")
    if logits is not None and not isinstance(logits, bool):
        raise ValueError(f"{where}: outputs_logits must be true, false or null, received "
                         f"{logits!r}")
    return {"class_names": names, "preprocessing": preprocessing, "outputs_logits": logits}
