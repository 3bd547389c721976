"""Shared pytest setup: the `slow` and `tensorflow_only` markers, quiet
TensorFlow, clean Keras state.

The suite runs on any Keras backend (`KERAS_BACKEND=jax pytest tests/blocks
...`); a test that needs TensorFlow itself (string-mode `text_rnn`,
`tf.distribute`, `tf.data`, SavedModel, TFLite) says so with
`@pytest.mark.tensorflow_only("why")` and is skipped elsewhere, with that
reason. TensorFlow is imported either way: it is a dependency of the zoo, and
the tf.data pipelines run under every backend.
"""

import os

# Set before anything imports TensorFlow; subprocesses inherit it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

BACKEND = keras.backend.backend()

# Files tests read, never collect: `--doctest-modules` would import them, and
# importing tests/fixtures/family/zoo_tiny_family.py registers its model in
# the session's registry (tests/test_family_contract.py copies it into a copy
# of the package instead).
collect_ignore = ["fixtures"]

# Docstring examples that need TensorFlow, by doctest name (a doctest cannot
# carry a marker): why, as for `tensorflow_only`.
TENSORFLOW_ONLY_DOCTESTS = {
    "zoo.models._text.TextClassifier": "its example is a string-mode text_rnn "
                                       "(TextVectorization: TensorFlow string ops)",
}


# Tests over ~15 s on 2 cores (oneDNN off, other work running: about twice
# an idle machine's time), measured 2026-12-07 with `--durations`: marked
# slow here, by node id prefix, so `make test` stays within its budget and
# `make test-slow` (CI runs both) runs them. Mostly fresh processes (CLI
# runs, round-trips) and training runs. A test whose own decorator says
# slow needs no entry.
SLOW_TESTS = (
    "tests/benchmarks/test_cudnn.py::test_simulated_gpu_takes_cudnn_path_refuses_xla_and_reports_errors",  # 20 s
    "tests/benchmarks/test_runner.py::test_quick_runs_measure_the_smallest_model_of_each_modality",  # 33 s
    "tests/blocks/test_conv2d.py::test_a_resnet_train_step_equals_the_one_with_keras_convolutions",  # 19 s
    "tests/blocks/test_inverted_residual.py::test_channels_first_with_onednn_off",  # 15 s
    "tests/data/test_sentiment.py::test_data_and_shuffle_identical_across_processes",  # 15 s
    "tests/data/test_sentiment.py::test_masked_lstm_reads_word_order",  # 22 s
    "tests/export/test_cli.py::test_export_cli_converts_whole_model_and_weights",  # 17 s
    "tests/export/test_every_model.py::test_every_format_round_trips_in_a_fresh_process[mobilenet_v2]",  # 41 s
    "tests/export/test_every_model.py::test_every_format_round_trips_in_a_fresh_process[resnet110]",  # 60 s
    "tests/export/test_every_model.py::test_every_format_round_trips_in_a_fresh_process[resnet18]",  # 34 s
    "tests/export/test_every_model.py::test_every_format_round_trips_in_a_fresh_process[resnet32]",  # 22 s
    "tests/export/test_every_model.py::test_every_format_round_trips_in_a_fresh_process[resnet34]",  # 30 s
    "tests/export/test_every_model.py::test_every_format_round_trips_in_a_fresh_process[resnet44]",  # 17 s
    "tests/export/test_every_model.py::test_every_format_round_trips_in_a_fresh_process[resnet50]",  # 35 s
    "tests/export/test_every_model.py::test_every_format_round_trips_in_a_fresh_process[resnet56]",  # 27 s
    "tests/export/test_keras_formats.py::test_a_save_killed_mid_write_leaves_the_old_file_loadable",  # 20 s
    "tests/export/test_keras_formats.py::test_whole_model_round_trip_in_fresh_process[resnet20-.h5]",  # 16 s
    "tests/export/test_keras_formats.py::test_whole_model_round_trip_in_fresh_process[resnet20-.keras]",  # 17 s
    "tests/export/test_keras_formats.py::test_whole_model_round_trip_in_fresh_process[text_rnn-.h5]",  # 24 s
    "tests/export/test_keras_formats.py::test_whole_model_round_trip_in_fresh_process[text_rnn-.keras]",  # 15 s
    "tests/export/test_saved_model.py::test_round_trip_in_fresh_process_and_cli_signature[einsum_mlp]",  # 27 s
    "tests/export/test_saved_model.py::test_round_trip_in_fresh_process_and_cli_signature[resnet20]",  # 30 s
    "tests/export/test_saved_model.py::test_round_trip_in_fresh_process_and_cli_signature[text_rnn]",  # 28 s
    "tests/export/test_saved_model.py::test_text_vocabulary_travels_without_the_python_model",  # 19 s
    "tests/export/test_tflite.py::test_image_models_float_and_float16[einsum_mlp-kwargs1]",  # 21 s
    "tests/export/test_tflite.py::test_image_models_float_and_float16[resnet20-kwargs0]",  # 26 s
    "tests/export/test_tflite.py::test_int8_digits_accuracy_drop_is_small_and_the_file_small",  # 15 s
    "tests/export/test_tflite.py::test_text_rnn_float_and_float16_with_its_vocabulary[last]",  # 20 s
    "tests/models/test_einsum_mlp.py::test_keras_file_round_trip_in_fresh_process",  # 20 s
    "tests/models/test_resnet.py::test_keras_file_round_trip_in_fresh_process",  # 17 s
    "tests/models/test_text_rnn.py::test_keras_file_round_trip_keeps_vocabulary_in_fresh_process",  # 16 s
    "tests/models/test_text_rnn.py::test_text_rnn_adapts_and_trains_on_mocked_imdb_reviews",  # 17 s
    "tests/ops/test_layout.py::test_channels_first_runs_with_onednn_off_and_on[0-cpu/eigen-False]",  # 16 s
    "tests/test_all_models.py::test_every_registered_model[resnet101]",  # 23 s
    "tests/test_all_models.py::test_every_registered_model[resnet110]",  # 15 s
    "tests/test_all_models.py::test_every_registered_model[resnet152]",  # 20 s
    "tests/test_finetune.py::test_freeze_by_names_and_predicate",  # 16 s
    "tests/test_finetune.py::test_recompile_is_needed_after_changing_trainable",  # 18 s
    "tests/test_finetune.py::test_unfreeze_restores_and_then_everything_moves",  # 20 s
    "tests/test_launch.py::test_export_first_line_names_kernels",  # 18 s
    "tests/test_launch.py::test_library_import_changes_nothing",  # 21 s
    "tests/test_launch.py::test_train_first_line_names_kernels_path_and_why[0-cpu/eigen-TF_ENABLE_ONEDNN_OPTS=0",  # 22 s
    "tests/test_launch.py::test_train_first_line_names_kernels_path_and_why[None-cpu/onednn-TF_ENABLE_ONEDNN_OPTS=1",  # 23 s
    "tests/test_own_data_cli.py::test_a_csv_of_texts_trains_from_the_cli_and_names_classes_of_texts",  # 25 s
    "tests/test_own_data_cli.py::test_a_rerun_resumes_and_fine_tuning_a_folder_model_keeps_its_names",  # 37 s
    "tests/test_predict.py::test_cli_usage_errors_exit_2",  # 15 s
    "tests/test_predict.py::test_every_model_format_carries_class_names_and_preprocessing",  # 18 s
    "tests/test_predict.py::test_the_cli_names_the_classes_of_image_files_with_every_format",  # 30 s
    "tests/test_readme.py::test_readme_block[L104-os.environ_KERAS_BACKEND_jax_before_kera]",  # 24 s
    "tests/test_train.py::test_einsum_mlp_trains_from_the_cli",  # 18 s
    "tests/test_train.py::test_fine_tune_head_only_keeps_frozen_weights_bit_identical",  # 41 s
    "tests/test_train.py::test_init_from_a_model_dir_checkpoint",  # 37 s
    "tests/test_train.py::test_model_dir_checkpoints_each_epoch_and_a_rerun_resumes",  # 51 s
    "tests/test_train.py::test_model_dir_of_another_model_is_a_usage_error",  # 14 s
    "tests/test_train.py::test_nan_loss_stops_and_keeps_the_last_good_checkpoint",  # 37 s
    "tests/test_train.py::test_num_classes_replaces_the_head_when_fine_tuning",  # 32 s
    "tests/train/test_checkpoints.py::test_the_cli_resumes_from_the_newest_intact_checkpoint",  # 15 s
    "tests/train/test_cli_options.py::test_flagfile_gives_the_command_line_result",  # 20 s
    "tests/train/test_distribute.py::test_mirrored_cli_trains_resnet20_with_synchronized_batchnorm",  # 49 s
    "tests/train/test_jit.py::test_a_saved_compiled_model_loads_compiled_in_a_fresh_process",  # 16 s
    "tests/train/test_jit.py::test_cli_probe_reports_both_timings_and_its_choice",  # 23 s
    "tests/train/test_jit.py::test_compile_config_keeps_auto_so_a_loaded_model_resolves_it_again",  # 31 s
    "tests/train/test_resume_paths.py::test_a_relative_model_dir_resumes_from_another_working_directory",  # 33 s
)
# Module fixtures whose setup is a training run: every test using one is slow.
SLOW_FIXTURES = {
    "tests/test_train.py": {"pretrained_run", "pretrained"},
    "tests/test_own_data_cli.py": {"trained"},
    "tests/export/test_cli.py": {"trained"},
    "tests/train/test_resume_paths.py": {"first_epoch"},
    "tests/data/test_tfds_text.py": {"fresh_process"},
}


def _measured_slow(item):
    path = item.nodeid.split("::", 1)[0]
    return item.nodeid.startswith(SLOW_TESTS) or bool(
        SLOW_FIXTURES.get(path, set()) & set(getattr(item, "fixturenames", ())))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes more than ~20 s on a laptop CPU; still runs in CI"
    )
    config.addinivalue_line(
        "markers", "tensorflow_only(reason): needs the TensorFlow backend itself; "
                   "skipped, with the reason, under any other KERAS_BACKEND"
    )


def tensorflow_only_reason(item):
    """Why `item` needs TensorFlow, or None when it runs on any backend."""
    marker = item.get_closest_marker("tensorflow_only")
    if marker is not None:
        reason = marker.args[0] if marker.args else marker.kwargs.get("reason")
        if not reason:
            raise pytest.UsageError(f"{item.nodeid}: tensorflow_only needs a reason")
        return reason
    if isinstance(item, pytest.DoctestItem):
        return TENSORFLOW_ONLY_DOCTESTS.get(item.name)
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _measured_slow(item):
            item.add_marker(pytest.mark.slow)
    if BACKEND == "tensorflow":
        return
    for item in items:
        reason = tensorflow_only_reason(item)
        if reason:
            item.add_marker(pytest.mark.skip(
                reason=f"needs the TensorFlow backend (KERAS_BACKEND={BACKEND}): {reason}"))


@pytest.fixture
def non_tensorflow_backend(monkeypatch):
    """The Keras backend as the zoo sees it, made non-TensorFlow on TensorFlow.

    For tests of the checks that refuse TensorFlow-only options elsewhere
    (string-mode text_rnn, `bn_synchronized`): under another KERAS_BACKEND it
    is the real thing; under TensorFlow `keras.backend.backend()` answers
    "jax", which those checks, made before any layer exists, cannot tell from
    the real thing. Returns the backend's name.
    """
    if BACKEND == "tensorflow":
        monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    return keras.backend.backend()


@pytest.fixture(autouse=True)
def _restore_keras_config():
    """Undoes global Keras settings a test may change (dtype policy, layout),
    and clears the global TF seed, so each test sees the state of a fresh
    process: a seeded `Dataset.shuffle(seed=...)` order depends on the global
    seed too (`keras.utils.set_random_seed` sets it)."""
    tf.random.set_seed(None)
    policy = keras.config.dtype_policy()
    data_format = keras.config.image_data_format()
    yield
    keras.config.set_dtype_policy(policy)
    keras.config.set_image_data_format(data_format)
