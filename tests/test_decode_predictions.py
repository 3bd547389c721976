"""ImageNet-1k class names ship with the package; `zoo.decode_predictions` names
any classifier's outputs (keras.applications' `decode_predictions`, for every model)."""

import pathlib

import keras_hub
import numpy as np
import pytest

import zoo
from zoo.models import _info


def test_imagenet_classes_are_keras_and_keras_hubs_in_head_order():
    classes = _info.imagenet_classes()
    assert len(classes) == 1000
    synsets = [synset for synset, _ in classes]
    # The published heads' order is the sorted WordNet synsets.
    assert synsets == sorted(synsets) and len(set(synsets)) == 1000
    assert [name for _, name in classes] == [
        keras_hub.utils.imagenet_id_to_name(i) for i in range(1000)]
    # Shipped inside the package (setup.py's package_data), read without a download.
    assert _info.IMAGENET_CLASSES_FILE.parent == pathlib.Path(zoo.models.__file__).parent


def test_class_names_are_distinct_with_keras_repeats_disambiguated():
    names = zoo.models.imagenet_class_names()
    keras_names = [name for _, name in _info.imagenet_classes()]
    assert len(set(names)) == 1000
    changed = {i: names[i] for i in range(1000) if names[i] != keras_names[i]}
    assert changed == {134: "crane (n02012849)", 517: "crane (n03126707)",
                       638: "maillot (n03710637)", 639: "maillot (n03710721)"}


def test_logits_are_named_best_first_with_softmax_scores():
    logits = np.zeros((2, 1000), "float32")
    logits[0, [1, 7, 999]] = [3.0, 5.0, 4.0]
    logits[1, 134] = 2.0
    first, second = zoo.decode_predictions(logits, top=3)
    assert [(p.index, p.name) for p in first] == [(7, "cock"), (999, "toilet_tissue"),
                                                  (1, "goldfish")]
    softmax = np.exp(logits[0]) / np.exp(logits[0]).sum()
    np.testing.assert_allclose([p.score for p in first], softmax[[7, 999, 1]], rtol=1e-6)
    assert second[0].name == "crane (n02012849)" and len(second) == 3


def test_probabilities_stay_probabilities_and_names_can_be_given():
    probabilities = np.array([[0.1, 0.6, 0.3]])
    [row] = zoo.decode_predictions(probabilities, top=5, class_names=["cat", "dog", "owl"])
    assert [(p.name, p.score) for p in row] == [("dog", 0.6), ("owl", 0.3), ("cat", 0.1)]
    # Forced logits: the same order, softmax scores.
    [row] = zoo.decode_predictions(probabilities, top=1, from_logits=True)
    assert row[0].index == 1 and row[0].name == "1"
    np.testing.assert_allclose(row[0].score, np.exp(0.6) / np.exp([0.1, 0.6, 0.3]).sum())


def test_a_model_with_its_own_class_names():
    model = zoo.create_model("resnet20", num_classes=3, input_shape=(8, 8, 1),
                             class_names=["cat", "dog", "owl"])
    outputs = model(np.ones((2, 8, 8, 1), "float32"))
    rows = zoo.decode_predictions(outputs, top=3, class_names=model.class_names)
    for row, logits in zip(rows, np.asarray(outputs)):
        assert [p.index for p in row] == list(np.argsort(-logits, kind="stable"))
        assert [p.name for p in row] == [model.class_names[p.index] for p in row]


@pytest.mark.parametrize("kwargs, error, fragments", [
    ({"outputs": np.zeros(1000)}, ValueError, ["outputs", "(1000,)"]),
    ({"outputs": np.zeros((1, 0))}, ValueError, ["outputs", "(1, 0)"]),
    ({"outputs": np.zeros((1, 3)), "class_names": ["a", "b"]}, ValueError,
     ["class_names", "2 classes", "3"]),
    ({"outputs": np.zeros((1, 2)), "class_names": ["a", "a"]}, ValueError, ["class_names", "'a'"]),
    ({"outputs": np.zeros((1, 3)), "top": 0}, ValueError, ["top", "0"]),
    ({"outputs": np.zeros((1, 3)), "from_logits": "yes"}, TypeError, ["from_logits", "'yes'"]),
])
def test_bad_arguments_name_themselves(kwargs, error, fragments):
    with pytest.raises(error) as info:
        zoo.decode_predictions(**kwargs)
    assert all(fragment in str(info.value) for fragment in fragments), str(info.value)
