"""Input-pipeline throughput against what resnet20's train step consumes.

Usage: `python -m benchmarks.data [--quick] [--datasets=cifar10]`.
"""

import contextlib
import gc
import math
import time

import keras
import tensorflow as tf
from absl import app

import zoo.data
from benchmarks import common
from zoo.data.tfds_common import DatasetNotPreparedError
from zoo.train import optim

NAME = "data"
DATASETS = ("digits", "cifar10")
MODEL, NUM_CLASSES, IMAGE_SIZE = "resnet20", 10, 32
GOAL = 10.0  # the pipeline should deliver at least 10x what the model consumes
FLAGS = {
    "datasets": common.flag(list(DATASETS), "Datasets to measure.", choices=DATASETS),
    "batch_size": common.flag(64, "Images per batch (zoo.train's default)."),
    "pipeline_images": common.flag(100_000, "Images per timed pipeline repeat, rounded up to "
                                   "whole epochs."),
    "train_steps": common.flag(20, "train_on_batch steps per timed repeat."),
    "fit_steps": common.flag(20, "Steps of each model.fit call, capped at the full batches of "
                             "one epoch; the steady state times all but the first.", lower_bound=2),
    "cifar_source": common.flag("auto", "cifar10 data: auto (the prepared TFDS dataset, else "
                                "mock data), mock (tfds.testing.mock_data), tfds (or fail).",
                                enum_values=["auto", "mock", "tfds"]),
    "mock_examples": common.flag(50_000, "Train examples of the mock cifar10 (the real "
                                 "split has 50,000)."),
}
QUICK = {"repeats": 3, "pipeline_images": 4096, "train_steps": 3, "fit_steps": 4, "warmup": 1,
         "mock_examples": 1024}
MOCK_NOTE = ("tfds.testing.mock_data(policy=USE_CODE): random uint8 images of the real shape "
             "32x32x3 and random labels in place of the prepared TFDS files; everything after "
             "reading is the real zoo.data pipeline (cache, shuffle, pad-4 crop + flip "
             "augmentation, scale to [0, 1], batch, prefetch). Its first epoch generates the "
             "examples in Python, so first_epoch_seconds is not a file-reading figure")
log = common.logger(NAME)


def resolve_cifar_source(requested, seed=0):
    """`(source, data_dir)`: "tfds" when cifar10 is prepared, else "mock"."""
    if requested == "mock":
        return "mock", None
    import tensorflow_datasets as tfds

    data_dir = str(tfds.builder("cifar10").data_dir_root)
    try:
        zoo.data.load("cifar10", split="train", batch_size=1, seed=seed)
    except DatasetNotPreparedError:
        if requested == "tfds":
            raise
        return "mock", data_dir
    return "tfds", data_dir


@contextlib.contextmanager
def data_source(name, cifar_source, data_dir, mock_examples):
    """Makes `zoo.data.load(name)` read what is measured; yields its provenance."""
    if name == "digits":
        yield {"kind": "embedded", "note": "zoo.data's embedded UCI digits (train split 1,438 "
                                           "images), resized to 32x32x1 once and cached"}
    elif cifar_source == "tfds":
        yield {"kind": "tfds", "data_dir": data_dir,
               "note": "the prepared TFDS cifar10 train split (50,000 images)"}
    else:
        import tensorflow_datasets as tfds

        with tfds.testing.mock_data(num_examples=mock_examples,
                                    policy=tfds.testing.MockPolicy.USE_CODE):
            yield {"kind": "mock", "mock_examples": mock_examples, "data_dir_searched": data_dir,
                   "note": MOCK_NOTE}


def load_call(name, batch_size, seed):
    """The `zoo.data.load` keywords zoo.train uses for `name`, and their text."""
    kwargs = {"split": "train", "batch_size": batch_size, "seed": seed,
              **({"image_size": IMAGE_SIZE} if name == "digits" else {})}
    args = ", ".join([repr(name)] + [f"{k}={v!r}" for k, v in kwargs.items()])
    return kwargs, f"zoo.data.load({args})"


def iterate_epochs(dataset, epochs):
    """Reads `epochs` whole epochs as a training loop does; returns images seen."""
    return sum(int(batch.shape[0]) for _ in range(epochs) for batch, _ in dataset)


def build_model(channels, seed):
    """`(resnet20 compiled as zoo.train does on a CPU, the call)`."""
    keras.utils.set_random_seed(seed)
    model = zoo.create_model(MODEL, num_classes=NUM_CLASSES, data_format="channels_last",
                             input_shape=(IMAGE_SIZE, IMAGE_SIZE, channels))
    d = zoo.model_info(MODEL).recipe
    args = (d["optimizer"], d["learning_rate"], d["weight_decay"])
    model.compile(optimizer=optim.make_optimizer(*args), metrics=["accuracy"], jit_compile=False,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, (f"zoo.train.optim.make_optimizer{args}, SparseCategoricalCrossentropy("
                   "from_logits=True), metrics=['accuracy'], jit_compile=False")


class StepTimes(keras.callbacks.Callback):
    """`time.perf_counter()` at the end of each train step."""

    def on_train_begin(self, logs=None):
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def steady_state(ends):
    """`(steps, seconds)` from the first step's end to the last's."""
    if len(ends) < 2:
        raise ValueError(f"need at least 2 step end times, received {len(ends)}")
    return len(ends) - 1, ends[-1] - ends[0]


def _stats(values):
    return {**common.summarize(values), "per_repeat": list(values)}


def measure_dataset(name, source, batch_size, repeats, pipeline_images, train_steps,
                    fit_steps, warmup, seed, tf_device):
    """Times one dataset's pipeline, resnet20's train step, and fit on both."""
    kwargs, call = load_call(name, batch_size, seed)
    dataset, build_s = common.timed(zoo.data.load, name, **kwargs)
    cardinality = int(dataset.cardinality())
    if cardinality == tf.data.INFINITE_CARDINALITY:
        raise ValueError(f"{call} is endless; this benchmark times whole epochs")
    # The first epoch fills the cache: never in the repeats.
    epoch_images, first_epoch_s = common.timed(iterate_epochs, dataset, 1)
    if epoch_images == 0:
        raise ValueError(f"{call} yielded no images")
    epochs, full_batches = math.ceil(pipeline_images / epoch_images), epoch_images // batch_size
    log(f"{name}: first epoch {epoch_images} images in {first_epoch_s:.2f} s")

    images, labels = next(iter(dataset))
    with tf.device(tf_device):  # the model's batch, held on its device
        images, labels = tf.identity(images), tf.identity(labels)
    (model, compiled), model_build_s = common.timed(build_model, int(images.shape[-1]), seed)
    _, first_step_s = common.timed(model.train_on_batch, images, labels)  # traces the step

    fit_steps = min(fit_steps, full_batches)  # full batches only
    step_times, fit_steady = StepTimes(), []

    def fit():
        # shuffle=False as in zoo.train: the pipeline shuffles.
        model.fit(dataset, epochs=1, steps_per_epoch=fit_steps, verbose=0, shuffle=False,
                  callbacks=[step_times])
        fit_steady.append(steady_state(step_times.ends))
        gc.collect()  # fit's unfinished iterator: its prefetch threads stop now

    candidates = {"pipeline": lambda: iterate_epochs(dataset, epochs),
                  "train_on_batch": lambda: [model.train_on_batch(images, labels)
                                             for _ in range(train_steps)][-1]}
    if fit_steps >= 2:
        candidates["fit"] = fit
    with tf.device(tf_device):
        timings = common.time_repeats(candidates, steps=1, repeats=repeats, warmup=warmup, log=log)
    pipe, train = timings["pipeline"], timings["train_on_batch"]
    pipe_ips = common.throughputs(pipe["repeat_s"], epochs * epoch_images)
    train_ips = common.throughputs(train["repeat_s"], train_steps * int(images.shape[0]))
    ratio = common.ratio_stats(pipe_ips, train_ips)
    case = {
        "dataset": name, "source": source, "pipeline_call": call,
        "element_spec": str(dataset.element_spec),
        "image_shape": [int(d) for d in images.shape[1:]], "batch_size": batch_size,
        "epoch_images": epoch_images, "epoch_batches": cardinality if cardinality >= 0 else None,
        "build_seconds": build_s, "first_epoch_seconds": first_epoch_s,
        "pipeline": {"epochs_per_repeat": epochs, "images_per_repeat": epochs * epoch_images,
                     "first_round_seconds": pipe["first_step_s"],
                     "warmup_seconds": pipe["warmup_s"], "repeat_seconds": pipe["repeat_s"],
                     "images_per_second": _stats(pipe_ips)},
        "model": {"name": MODEL, "params": int(model.count_params()), "compile": compiled,
                  "batch_shape": [int(d) for d in images.shape], "device": tf_device,
                  "build_seconds": model_build_s, "first_step_seconds": first_step_s,
                  "steps_per_repeat": train_steps, "first_round_seconds": train["first_step_s"],
                  "warmup_seconds": train["warmup_s"], "repeat_seconds": train["repeat_s"],
                  "images_per_second": _stats(train_ips)},
        "ratio_pipeline_to_model": ratio, "meets_10x_goal": ratio["median"] >= GOAL,
        "fit": None, "fit_skipped": None}
    if "fit" not in timings:
        case["fit_skipped"] = (f"{full_batches} full batch(es) of {batch_size} per epoch; the "
                               "steady-state figure needs 2")
        return case
    timed = fit_steady[-repeats:]  # after the first and the warm-up rounds
    fit_ips = [steps * batch_size / seconds for steps, seconds in timed]
    case["fit"] = {
        "call": (f"model.fit(dataset, epochs=1, steps_per_epoch={fit_steps}, verbose=0, "
                 "shuffle=False)"),
        "steps_per_call": fit_steps, "timed_steps_per_call": fit_steps - 1,
        "first_call_seconds": timings["fit"]["first_step_s"],
        "call_seconds": timings["fit"]["repeat_s"],
        "steady_seconds": [seconds for _, seconds in timed],
        "images_per_second": _stats(fit_ips),
        "ratio_to_train_on_batch": common.ratio_stats(fit_ips, train_ips)}
    return case


def run(output_dir, datasets, batch_size, repeats, pipeline_images, train_steps, fit_steps,
        warmup, cifar_source, mock_examples, seed):
    """Runs the benchmark and writes the results; returns the result dict."""
    config, device = common.arguments(locals()), common.device_info()
    try:
        source, data_dir = (resolve_cifar_source(cifar_source, seed) if "cifar10" in datasets
                            else (None, None))
    except DatasetNotPreparedError as error:
        raise app.UsageError(f"--cifar_source={cifar_source}: {error}") from None
    cases = {}
    for name in datasets:
        with data_source(name, source, data_dir, mock_examples) as provenance:
            cases[name] = measure_dataset(name, provenance, batch_size, repeats,
                                          pipeline_images, train_steps, fit_steps, warmup,
                                          seed, common.tf_device(device))
        keras.backend.clear_session()
        gc.collect()
    config.update(cifar_source_used=source, model=MODEL, tf_device=common.tf_device(device))
    result = {**common.envelope(NAME, f"zoo.data's throughput vs {MODEL}'s train step, and fit "
                                "with the two overlapped", config, device), "results": cases}
    return common.publish(NAME, result, output_dir, markdown, summary)


def _source_label(source):
    return {"mock": f"mock ({source.get('mock_examples')} random 32x32x3 images, real "
                    "pipeline)", "tfds": "TFDS (prepared)"}.get(source["kind"], "embedded")


def markdown(result):
    """The report: context, the pipeline and the fit tables."""
    cfg, rows, fit_rows = result["config"], [], []
    for name, case in result["results"].items():
        fit, model_ips = case["fit"], common.ratio_cell(case["model"]["images_per_second"], 0)
        rows.append([name, _source_label(case["source"]), "x".join(map(str, case["image_shape"])),
                     case["epoch_images"], f"{case['first_epoch_seconds']:.2f}",
                     common.ratio_cell(case["pipeline"]["images_per_second"], 0), model_ips,
                     common.ratio_cell(case["ratio_pipeline_to_model"], 1),
                     "yes" if case["meets_10x_goal"] else "no"])
        fit_rows.append([name, "", f"skipped: {case['fit_skipped']}", "", ""] if not fit else [
            name, fit["steps_per_call"], common.ratio_cell(fit["images_per_second"], 0),
            model_ips, common.ratio_cell(fit["ratio_to_train_on_batch"])])
    return "\n".join(common.header(
        f"Input pipeline vs {cfg['model']} train step", result,
        f"- model on {cfg['tf_device']}, tf.data on the CPU; batch size {cfg['batch_size']}; "
        f"{cfg['repeats']} repeats, candidates in turns after {cfg['warmup']} untimed round(s); "
        f"pipeline: whole epochs, >= {cfg['pipeline_images']} images per repeat; "
        f"train_on_batch: {cfg['train_steps']} steps per repeat",
        *(f"- {name}: `{case['pipeline_call']}`; {case['source']['note']}"
          for name, case in result["results"].items())) + [
        common.markdown_table(
            ["dataset", "source", "image", "epoch images", "first epoch s",
             "pipeline img/s median (min–max)", f"{cfg['model']} train img/s median (min–max)",
             "pipeline / model median (min–max)", f"≥ {GOAL:g}x"], rows, align="lllrrrrrc"),
        "", f"Ratios within each repeat; the goal: a median of at least {GOAL:g}.", "",
        "## Overlapped: model.fit on the pipeline", "",
        common.markdown_table(
            ["dataset", "fit steps", "fit img/s median (min–max)",
             "train_on_batch img/s median (min–max)", "fit / train_on_batch median (min–max)"],
            fit_rows, align="lrrrr"),
        "", "fit: `model.fit(dataset, steps_per_epoch=K)`, from the end of its first step to "
        "the end of its last, the pipeline sharing the CPUs. Near 1.0: no wait on input."]
    ) + "\n"


def summary(result):
    """Per dataset: pipeline / model and fit / train_on_batch."""
    rows, items = [], []
    for name, case in result["results"].items():
        ratio, goal = case["ratio_pipeline_to_model"], case["meets_10x_goal"]
        fit = case["fit"] and case["fit"]["ratio_to_train_on_batch"]
        rows.append([name, case["source"]["kind"], common.ratio_cell(ratio, 1),
                     "yes" if goal else "no", common.ratio_cell(fit) if fit else ""])
        items.append(common.summary_item(NAME, f"{name}/pipeline_to_model",
                                         f"{name}: pipeline / model images/s", ratio,
                                         "goal >= 10", meets_10x_goal=goal))
        if fit:
            items.append(common.summary_item(NAME, f"{name}/fit_to_train_on_batch",
                                             f"{name}: fit / train_on_batch images/s", fit,
                                             "near 1: steps do not wait on input"))
    return common.headline(f"Input pipeline vs {MODEL}'s train step",
                           ["dataset", "source", "pipeline / model median (min–max)", "≥ 10x",
                            "fit / train_on_batch"], rows, "llrcr", "Images/s ratios: the "
                           "pipeline should feed ten such models (≥ 10); fit near 1.0 means "
                           "steps do not wait on input.", items)


if __name__ == "__main__":
    common.main(__name__)
