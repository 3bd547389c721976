"""Tests for `zoo.registry`: register_model, create_model, list_models."""

import ast
import re
import types

import pytest

import helpers
import zoo
from zoo import registry
from zoo.models import resnet

RESNETS = ["resnet101", "resnet110", "resnet152", "resnet18", "resnet20",
           "resnet32", "resnet34", "resnet44", "resnet50", "resnet56"]
RESNETS_V2 = ["resnet101_v2", "resnet152_v2", "resnet50_v2"]


@pytest.fixture
def clean_registry():
    """Restores the registry dicts after a test that registers throwaways."""
    saved = dict(registry._MODEL_CONSTRUCTORS), dict(registry._MODEL_FAMILIES)
    yield registry._MODEL_CONSTRUCTORS
    for registered, before in zip((registry._MODEL_CONSTRUCTORS, registry._MODEL_FAMILIES),
                                  saved):
        registered.clear()
        registered.update(before)


def _suggestions(message):
    match = re.search(r"Did you mean one of (\[.*?\])\?", message)
    return ast.literal_eval(match[1]) if match else []


@pytest.mark.parametrize("pattern, expected", [
    ("resnet*", sorted(RESNETS + RESNETS_V2)),
    ("resnet1??", ["resnet101", "resnet110", "resnet152"]),
    ("resnet1?", ["resnet18"]),
    ("resnet[235]?", ["resnet20", "resnet32", "resnet34", "resnet50", "resnet56"]),
    ("resnet50", ["resnet50"]),
    ("*net5?", ["resnet50", "resnet56"]),
    ("RESNET*", []),  # case-sensitive, on every OS
    ("no_such_model*", []),
])
def test_list_models_patterns(pattern, expected):
    assert zoo.list_models(pattern) == expected


def test_list_models_default_is_everything_sorted():
    names = zoo.list_models()
    assert names == sorted(names) == zoo.list_models("*")
    assert set(RESNETS) <= set(names)
    assert isinstance(names, list)


@pytest.mark.parametrize("pattern", [None, 5, ["resnet*"], b"resnet*"])
def test_list_models_non_string_pattern(pattern):
    with pytest.raises(ValueError, match="pattern"):
        zoo.list_models(pattern)


def test_create_model_with_overrides():
    model = zoo.create_model("resnet20", num_classes=7, input_shape=(16, 16, 1))
    assert isinstance(model, resnet.ResNet)
    assert (model.depth, model.num_classes, model.name) == (20, 7, "resnet20")
    assert tuple(model(model.example_inputs(batch_size=2)).shape) == (2, 7)
    assert zoo.create_model("resnet50", stride_in_1x1=True, num_classes=3,
                            input_shape=(32, 32, 3)).stride_in_1x1 is True


def test_create_model_can_override_the_keras_name():
    # `name` is a keras.Model argument every constructor forwards; the
    # registry's own positional parameter must not swallow it.
    model = zoo.create_model("resnet20", num_classes=3, input_shape=(16, 16, 1), name="tiny")
    assert model.name == "tiny"


def test_create_model_matches_direct_constructor():
    a = zoo.create_model("resnet20", num_classes=4)
    b = resnet.resnet20(num_classes=4)
    assert a.get_config() == b.get_config()
    assert registry.get_constructor("resnet20") is resnet.resnet20


def test_create_model_passes_bad_overrides_through():
    with pytest.raises(ValueError, match="num_classes"):
        zoo.create_model("resnet20", num_classes=0)
    with pytest.raises((TypeError, ValueError), match="no_such_argument"):
        zoo.create_model("resnet20", no_such_argument=1)


@pytest.mark.parametrize("name, close", [
    ("resnet51", "resnet50"),
    ("resnet_50", "resnet50"),
    ("resnet2", "resnet20"),
    ("ResNet18", "resnet18"),
])
def test_unknown_name_suggests_close_matches(name, close):
    with pytest.raises(ValueError) as info:
        zoo.create_model(name)
    message = str(info.value)
    assert repr(name) in message
    assert close in _suggestions(message), message


@pytest.mark.parametrize("name", ["xyz", None, ["resnet50"], 50])
def test_unknown_or_unhashable_name_is_a_value_error(name):
    with pytest.raises(ValueError, match="Unknown model"):
        registry.get_constructor(name)


def test_register_returns_the_function_and_lists_it(clean_registry):
    def zoo_test_throwaway(**kwargs):
        return kwargs

    assert registry.register_model(zoo_test_throwaway) is zoo_test_throwaway
    assert "zoo_test_throwaway" in zoo.list_models()
    assert zoo.create_model("zoo_test_throwaway", a=1) == {"a": 1}


def _first_definition():
    def zoo_test_throwaway(**kwargs):
        return 1
    return zoo_test_throwaway


def _second_definition():
    def zoo_test_throwaway(**kwargs):
        return 2
    return zoo_test_throwaway


def test_duplicate_name_from_a_different_function_fails(clean_registry):
    registry.register_model(_first_definition())
    with pytest.raises(ValueError) as info:
        registry.register_model(_second_definition())
    assert "zoo_test_throwaway" in str(info.value)
    assert zoo.create_model("zoo_test_throwaway") == 1  # the first one kept


def test_duplicate_name_from_another_module_fails(clean_registry):
    # A plugin module defining its own top-level `resnet50` has the same
    # __qualname__ as zoo's; it must not silently replace zoo's constructor.
    def resnet50(**kwargs):
        return "impostor"

    resnet50.__qualname__ = "resnet50"
    resnet50.__module__ = "some_plugin.models"
    with pytest.raises(ValueError, match="resnet50"):
        registry.register_model(resnet50)
    assert registry.get_constructor("resnet50") is resnet.resnet50


def test_reregistering_the_same_function_is_harmless(clean_registry):
    # What a module reload does: a new function object, same module and name,
    # wrapped again by `@ResNet.register` (which adds `weights=`).
    original = resnet.resnet20
    inner = original.__wrapped__
    reloaded = resnet.ResNet.register(types.FunctionType(
        inner.__code__, inner.__globals__, inner.__name__, inner.__defaults__,
        inner.__closure__))
    assert reloaded is not original
    assert (reloaded.__module__, reloaded.__qualname__) == \
        (original.__module__, original.__qualname__)
    assert registry.register_model(original) is original
    assert registry.register_model(reloaded) is reloaded
    assert zoo.list_models("resnet*") == sorted(RESNETS + RESNETS_V2)
    assert registry.model_family("resnet20") is resnet.ResNet  # still known


def test_a_family_registration_records_the_class(clean_registry):
    def zoo_test_family_member(**kwargs):
        return resnet.ResNet(depth=20, **kwargs)

    registered = resnet.ResNet.register(zoo_test_family_member)
    # The registered function wraps the constructor (adding `weights=`) and
    # keeps its name, module, qualname and docstring.
    assert registered.__wrapped__ is zoo_test_family_member
    assert registered.__qualname__ == zoo_test_family_member.__qualname__
    assert registry.get_constructor("zoo_test_family_member") is registered
    assert registry.model_family("zoo_test_family_member") is resnet.ResNet

    def zoo_test_plain(**kwargs):
        return kwargs

    registry.register_model(zoo_test_plain)
    assert registry.model_family("zoo_test_plain") is None


def test_a_spec_row_variant_registers_a_named_documented_constructor(clean_registry):
    fixed = resnet.ResNet.variant("zoo_test_resnet20", "ResNet-20.", depth=20)
    assert (fixed.__name__, fixed.__qualname__, fixed.__module__, fixed.__doc__) == (
        "zoo_test_resnet20", "zoo_test_resnet20", "zoo.models.resnet", "ResNet-20.")
    assert registry.get_constructor("zoo_test_resnet20") is fixed
    assert registry.model_family("zoo_test_resnet20") is resnet.ResNet
    model = zoo.create_model("zoo_test_resnet20", num_classes=3, input_shape=(8, 8, 1))
    assert (model.depth, model.name, model.num_classes) == (20, "zoo_test_resnet20", 3)
    assert zoo.create_model("zoo_test_resnet20", input_shape=(8, 8, 1), name="mine").name == "mine"
    # The row's arguments are the variant: repeating one is refused, not silently honoured.
    with pytest.raises(TypeError, match="depth"):
        zoo.create_model("zoo_test_resnet20", depth=32)
    # Unless the family replaces them (timm's rule, ViT's).
    wide = resnet.ResNet.variant("zoo_test_resnet20r", "ResNet-20.", replaceable=True, depth=20)
    assert wide(depth=32, input_shape=(8, 8, 1)).depth == 32


@pytest.mark.parametrize("name", ["no_such_model", None])
def test_model_family_of_an_unknown_name_is_a_value_error(name):
    with pytest.raises(ValueError, match="Unknown model"):
        registry.model_family(name)


def test_registry_is_populated_by_import_in_a_fresh_process():
    out = helpers.run_in_fresh_process("""
        import zoo
        print(",".join(zoo.list_models()))
    """)
    assert out.strip().split(",") == zoo.list_models()


def test_model_info_is_one_record_per_registered_model():
    from zoo.models._info import family_table

    for name in zoo.list_models():
        info = zoo.model_info(name)
        family = registry.model_family(name)
        assert (info.name, info.family, info.modality) == (name, family.__name__,
                                                           family.modality)
        table = family_table(family)
        for field in ("recipe", "small", "portable", "distributed", "xla_source"):
            assert getattr(info, field) == table[field], (name, field)
        assert set(info.weights) == set(table["variants"].get(name, {}).get("weights", ()))
        assert set(info.xla) == {"cpu/onednn", "cpu/eigen", "gpu", "tpu"}
    assert zoo.model_info("resnet50").distributed == {"bn_synchronized": True}
    resnet50 = zoo.model_info("resnet50")
    assert resnet50.input_size == (224, 224, 3) and zoo.model_info("resnet20").input_size == (
        32, 32, 3)
    imagenet = resnet50.weights["imagenet"]
    # keras.applications' own file, URL and md5 (keras/src/applications/resnet.py).
    assert imagenet["origin"] == ("https://storage.googleapis.com/tensorflow/keras-applications/"
                                  "resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5")
    assert imagenet["file_hash"] == "2cb95161c43110f7111970584f804107"
    assert imagenet["preprocessing"]["mean"] == (103.939, 116.779, 123.68)
    assert resnet50.weights["state_dict"]["preprocessing"]["std"] == (58.395, 57.12, 57.375)
    # The measured XLA defaults are what the model uses.
    assert zoo.model_info("resnet20").xla == zoo.create_model(
        "resnet20", num_classes=2).xla_defaults
    # A record is a copy: editing it changes no other.
    imagenet["preprocessing"]["mean"] = None
    assert zoo.model_info("resnet50").weights["imagenet"]["preprocessing"]["mean"] is not None


def test_list_models_filters_on_pretrained_weights():
    with_weights = zoo.list_models(pretrained=True)
    # The records that list a weights source, and the known ones among them.
    assert with_weights == [name for name in zoo.list_models()
                            if zoo.registry.model_family(name) and zoo.model_info(name).weights]
    assert {"mobilenet_v2", "resnet101", "resnet152", "resnet18", "resnet34",
            "resnet50"} <= set(with_weights)
    assert not {"resnet20", "text_rnn", "einsum_mlp"} & set(with_weights)
    assert sorted(with_weights + zoo.list_models(pretrained=False)) == zoo.list_models()
    assert zoo.list_models("resnet1*", pretrained=True) == ["resnet101", "resnet101_v2",
                                                           "resnet152", "resnet152_v2",
                                                           "resnet18"]
    with pytest.raises(ValueError, match="pretrained='yes'"):
        zoo.list_models(pretrained="yes")
    with pytest.raises(ValueError, match="resnet5000"):
        zoo.model_info("resnet5000")


def test_list_models_pretrained_counts_a_familyless_model_as_without_weights():
    name = "zoo_test_plain_for_pretrained"
    registry.register_model(types.FunctionType(
        (lambda **kwargs: None).__code__, {}, name))
    try:
        assert name not in zoo.list_models(pretrained=True)
        assert name in zoo.list_models(pretrained=False)
    finally:
        registry._MODEL_CONSTRUCTORS.pop(name, None)
        registry._MODEL_FAMILIES.pop(name, None)
