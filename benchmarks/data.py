"""Input-pipeline throughput against what resnet20's train step consumes.

Question: does a training step ever wait on `zoo.data`? For each dataset
(--datasets), in ONE process, this measures in images per second:

  - `pipeline`: the train split exactly as `zoo.train` loads it
    (`load_call`): digits, the embedded 1,438 train images resized to
    32x32x1; cifar10, uint8 32x32x3 images -> cache -> shuffle -> pad-4 crop
    + flip -> scale -> batch -> prefetch, from the prepared TFDS files when
    there are some (`--cifar_source=auto|tfds`), else from
    `tfds.testing.mock_data` (`MOCK_NOTE`: random images of the real shape,
    --mock_examples of them, through the same pipeline; the JSON records
    which, `source`). Iterated from Python, whole epochs, as a training loop
    reads it; the first epoch (it fills the cache) is timed on its own
    (`first_epoch_seconds`), then each timed repeat reads as many whole
    epochs as reach --pipeline_images images;
  - `train_on_batch`: the consumer, resnet20 built for the dataset's images
    and compiled as `zoo.train` compiles it on a CPU (`build_model`), timed
    over --train_steps calls on one fixed batch of the pipeline held in
    (device) memory, so it never waits on input (NumPy logs: every step
    ends synchronized);
  - the ratio pipeline / train_on_batch, per repeat (median, min, max) and
    of the medians. The goal (`meets_10x_goal`): the median ratio is at
    least 10, i.e. the pipeline could feed ten such models;
  - `fit` (the overlapped case): `model.fit(dataset, epochs=1,
    steps_per_epoch=K, verbose=0, shuffle=False)` on the same pipeline and
    model, the input now prepared on the same CPUs while the model trains
    (K = --fit_steps, capped at the full batches of one epoch), in steady
    state: from the end of the first step to the end of the last (a
    callback's timestamps), so fit's start-up stays out. Its ratio to
    train_on_batch near 1.0 means steps do not wait on input.

Recipe (DESIGN.md, "Benchmarks"): per dataset, the first epoch and the
model's first step (tracing) are timed apart; then the three candidates
(pipeline, train_on_batch, fit) take turns, A, B, C, ..., A, B, C, ...
(`common.time_repeats`), after --warmup untimed rounds (the first of which
traces fit's step), so that a slow spell of the machine hits all three.
Ratios are taken within each repeat.

Prints markdown tables and writes data_<cpu|gpu>.json and .md to
--output_dir. The pipeline always runs on the CPU (tf.data); the model runs
on the GPU when TensorFlow finds one.

Usage:
  python -m benchmarks.data                       # about two minutes on 2 CPU cores
  python -m benchmarks.data --quick               # smoke run, well under a minute
  python -m benchmarks.data --datasets=cifar10 --batch_size=128
"""

import contextlib
import gc
import math
import time

import keras
import tensorflow as tf
from absl import app, flags

from benchmarks import common

NAME = "data"
MODULE = f"benchmarks.{NAME}"
DATASETS = ("digits", "cifar10")
MODEL = "resnet20"
NUM_CLASSES = 10
IMAGE_SIZE = 32  # zoo.train's default --image_size; CIFAR's native size
GOAL = 10.0  # the pipeline should deliver at least 10x what the model consumes
CIFAR_SOURCES = ("auto", "mock", "tfds")
CIFAR_TRAIN_EXAMPLES = 50_000
QUICK = {"repeats": 3, "pipeline_images": 4096, "train_steps": 3, "fit_steps": 4,
         "warmup": 1, "mock_examples": 1024}
MOCK_NOTE = ("tfds.testing.mock_data(policy=USE_CODE): random uint8 images of the real shape "
             "32x32x3 and random labels in place of the prepared TFDS files; everything after "
             "reading is the real zoo.data pipeline (cache, shuffle, pad-4 crop + flip "
             "augmentation, scale to [0, 1], batch, prefetch). The first epoch generates the "
             "examples in Python instead of reading files, so first_epoch_seconds is not a "
             "file-reading figure; later epochs read the cache, as with real data")

log = common.logger(NAME)


def define_flags(flag_values):
    """Defines the command-line flags on `flag_values` (see `common.main`)."""
    common.define_common_flags(flag_values, QUICK, repeats=5, warmup=1, help={
        "repeats": "Timed repeats per candidate, taken in turns "
                   "(pipeline, train_on_batch, fit, pipeline, ...).",
        "warmup": "Untimed rounds of every candidate before the repeats "
                  "(the first traces fit's step).",
        "seed": "Seed of the pipelines' shuffle and augmentation and of the model's "
                "initializers."})
    flags.DEFINE_list("datasets", list(DATASETS),
                      f"Datasets to measure, from {','.join(DATASETS)}.", flag_values=flag_values)
    flags.DEFINE_integer("batch_size", 64, "Images per batch, for the pipeline and the model "
                         "(zoo.train's default).", lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("pipeline_images", 100_000, "Images per timed pipeline repeat, "
                         "rounded up to whole epochs.", lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("train_steps", 20, "train_on_batch steps per timed repeat.",
                         lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("fit_steps", 20, "Steps of each model.fit call (steps_per_epoch); "
                         "the steady-state figure times the last fit_steps - 1 of them. "
                         "Capped at the full batches of one epoch.", lower_bound=2,
                         flag_values=flag_values)
    flags.DEFINE_enum("cifar_source", "auto", list(CIFAR_SOURCES),
                      "cifar10 data: auto (the prepared TFDS dataset when there is one, else "
                      "mock data), mock (tfds.testing.mock_data), tfds (the prepared dataset, "
                      "or fail).", flag_values=flag_values)
    flags.DEFINE_integer("mock_examples", CIFAR_TRAIN_EXAMPLES,
                         "Train examples of the mock cifar10 (the real split has 50,000).",
                         lower_bound=1, flag_values=flag_values)
    flags.register_validator(
        "datasets", lambda names: bool(names) and all(n.strip() in DATASETS for n in names),
        message=f"--datasets must be a comma-separated, non-empty subset of {','.join(DATASETS)}",
        flag_values=flag_values)


# --------------------------------------------------------------------------
# Data.


def resolve_cifar_source(requested, seed=0):
    """`"tfds"` when cifar10 is prepared in the TFDS data_dir, else `"mock"`.

    Args:
        requested: one of `CIFAR_SOURCES`. "mock" is returned as is; "tfds"
            must find the prepared dataset.
        seed: passed to the probing `zoo.data.load`.

    Returns:
        `(source, data_dir)`: "tfds" or "mock", and the TFDS data_dir root
        that was looked in (None for a forced "mock").

    Raises:
        zoo.data.tfds_common.DatasetNotPreparedError: `requested == "tfds"`
            and the dataset is not prepared (fails at once, no download).
    """
    if requested == "mock":
        return "mock", None
    import tensorflow_datasets as tfds  # slow import, needed only for cifar10

    import zoo.data
    from zoo.data.tfds_common import DatasetNotPreparedError

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
    """Makes `zoo.data.load(name, ...)` read what the benchmark measures.

    Yields the provenance dict stored in the results as `source`. Mock data
    is active only inside the `with` block, so a dataset built in it must
    also be iterated in it.
    """
    if name == "digits":
        yield {"kind": "embedded",
               "note": "zoo.data's embedded UCI digits (1,797 8x8 images, train split "
                       "1,438), resized to 32x32x1 once and cached"}
    elif cifar_source == "tfds":
        yield {"kind": "tfds", "data_dir": data_dir,
               "note": "the prepared TFDS cifar10 train split (50,000 images)"}
    else:
        import tensorflow_datasets as tfds

        with tfds.testing.mock_data(num_examples=mock_examples,
                                    policy=tfds.testing.MockPolicy.USE_CODE):
            yield {"kind": "mock", "mock_examples": mock_examples,
                   "real_train_examples": CIFAR_TRAIN_EXAMPLES,
                   "data_dir_searched": data_dir, "note": MOCK_NOTE}


def load_call(name, batch_size, seed):
    """The `zoo.data.load` keywords zoo.train uses for `name`, and their text."""
    kwargs = {"split": "train", "batch_size": batch_size, "seed": seed}
    if name == "digits":
        kwargs["image_size"] = IMAGE_SIZE
    text = ", ".join([repr(name)] + [f"{k}={v!r}" for k, v in kwargs.items()])
    return kwargs, f"zoo.data.load({text})"


def iterate_epochs(dataset, epochs):
    """Reads `epochs` whole epochs as a training loop does; returns images seen."""
    images = 0
    for _ in range(epochs):
        for batch, _labels in dataset:
            images += int(batch.shape[0])
    return images


def _finite_cardinality(dataset, call):
    count = int(dataset.cardinality())
    if count == tf.data.INFINITE_CARDINALITY:
        raise ValueError(f"{call} is endless; this benchmark times whole epochs")
    return count if count >= 0 else None  # unknown: counted on the first epoch


# --------------------------------------------------------------------------
# Model.


def build_model(channels, seed):
    """resnet20 for 32x32 images of `channels`, compiled as zoo.train does on a CPU.

    zoo.train builds the model's `training_defaults` optimizer with
    `zoo.train.optim.make_optimizer` and a learning-rate schedule; the
    schedule does not change the cost of a step, so a constant learning rate
    stands in for it. Its loss, `zoo.losses.SparseCrossentropy`, computes
    Keras' sparse cross-entropy from logits when label_smoothing is 0 (its
    default), which is used here. jit_compile=False is what zoo.train's
    `auto` picks on a CPU, kept on a GPU too for one comparable step.

    Returns:
        `(model, description of the compile call)`.
    """
    import zoo
    from zoo.train import optim

    keras.utils.set_random_seed(seed)
    model = zoo.create_model(MODEL, num_classes=NUM_CLASSES,
                             input_shape=(IMAGE_SIZE, IMAGE_SIZE, channels),
                             data_format="channels_last")
    defaults = model.training_defaults
    args = (defaults["optimizer"], defaults["learning_rate"], defaults["weight_decay"])
    model.compile(optimizer=optim.make_optimizer(*args),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=False)
    return model, (f"zoo.train.optim.make_optimizer{args}, "
                   "SparseCategoricalCrossentropy(from_logits=True), "
                   "metrics=['accuracy'], jit_compile=False")


class StepTimes(keras.callbacks.Callback):
    """Records `time.perf_counter()` at the end of every train step.

    Keras converts the step's logs to Python numbers before calling a
    callback that is not marked async-safe, as this one, so each timestamp
    is taken after the step's work is done.
    """

    def __init__(self):
        super().__init__()
        self.ends = []

    def on_train_begin(self, logs=None):
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def steady_state(ends):
    """`(steps, seconds)` from the first step's end to the last's."""
    if len(ends) < 2:
        raise ValueError(f"need at least 2 step end times, received {len(ends)}")
    return len(ends) - 1, ends[-1] - ends[0]


# --------------------------------------------------------------------------
# The run.


def _stats(values):
    return {**common.summarize(values), "per_repeat": list(values)}


def _ratio(numerators, denominators):
    per_repeat = common.per_repeat_ratios(numerators, denominators)
    return {**common.summarize(per_repeat), "per_repeat": per_repeat,
            "of_medians": (common.summarize(numerators)["median"]
                           / common.summarize(denominators)["median"])}


def measure_dataset(name, source, batch_size, repeats, pipeline_images, train_steps,
                    fit_steps, warmup, seed, tf_device):
    """Times one dataset's pipeline, resnet20's train step, and fit on both.

    Must run inside `data_source(name, ...)`. Returns the per-dataset
    result dict (see the module docstring).
    """
    import zoo.data

    kwargs, call = load_call(name, batch_size, seed)
    log(f"{name}: {call} ({source['kind']} data)")
    start = time.perf_counter()
    dataset = zoo.data.load(name, **kwargs)
    build_s = time.perf_counter() - start
    cardinality = _finite_cardinality(dataset, call)

    # The first epoch fills the cache: timed on its own, never in the repeats.
    start = time.perf_counter()
    epoch_images = iterate_epochs(dataset, 1)
    first_epoch_s = time.perf_counter() - start
    if epoch_images == 0:
        raise ValueError(f"{call} yielded no images")
    full_batches = epoch_images // batch_size
    epochs = math.ceil(pipeline_images / epoch_images)
    log(f"{name}: first epoch {epoch_images} images in {first_epoch_s:.2f} s; "
         f"{epochs} epoch(s) per timed repeat")

    # The model's batch: the pipeline's first batch, held on the model's device.
    images, labels = next(iter(dataset))
    with tf.device(tf_device):
        images, labels = tf.identity(images), tf.identity(labels)
    channels = int(images.shape[-1])
    start = time.perf_counter()
    model, compiled = build_model(channels, seed)
    model_build_s = time.perf_counter() - start
    start = time.perf_counter()
    model.train_on_batch(images, labels)  # traces the train step
    first_step_s = time.perf_counter() - start
    log(f"{name}: {MODEL} first train step (tracing) {first_step_s:.2f} s")

    # fit reads full batches only: a short last batch would change the count.
    fit_steps_used = min(fit_steps, full_batches)
    step_times = StepTimes()
    fit_steady = []  # (steps, seconds) of each fit call, in call order

    def pipeline_block():
        return iterate_epochs(dataset, epochs)

    def train_block():
        logs = None
        for _ in range(train_steps):
            logs = model.train_on_batch(images, labels)
        return logs

    def fit_block():
        # shuffle=False as in zoo.train: the pipeline shuffles (Keras would
        # ignore shuffle=True for a dataset, with a warning).
        model.fit(dataset, epochs=1, steps_per_epoch=fit_steps_used, verbose=0,
                  shuffle=False, callbacks=[step_times])
        fit_steady.append(steady_state(step_times.ends))
        # fit leaves its unfinished iterator behind; collect it now, so its
        # prefetch threads do not run into the next candidate's turn.
        gc.collect()

    candidates = {"pipeline": pipeline_block, "train_on_batch": train_block}
    if fit_steps_used >= 2:
        candidates["fit"] = fit_block
    else:
        log(f"{name}: fit skipped: {full_batches} full batch(es) per epoch, 2 needed")
    with tf.device(tf_device):
        timings = common.time_repeats(candidates, steps=1, repeats=repeats, warmup=warmup,
                                      log=log)

    pipe_t, train_t = timings["pipeline"], timings["train_on_batch"]
    pipe_ips = common.throughputs(pipe_t["repeat_s"], epochs * epoch_images)
    train_ips = common.throughputs(train_t["repeat_s"], train_steps * int(images.shape[0]))
    ratio = _ratio(pipe_ips, train_ips)
    case = {
        "dataset": name,
        "source": source,
        "pipeline_call": call,
        "element_spec": str(dataset.element_spec),
        "image_shape": [int(d) for d in images.shape[1:]],
        "batch_size": batch_size,
        "epoch_images": epoch_images,
        "epoch_batches": cardinality,
        "build_seconds": build_s,
        "first_epoch_seconds": first_epoch_s,
        "pipeline": {
            "epochs_per_repeat": epochs,
            "images_per_repeat": epochs * epoch_images,
            "first_round_seconds": pipe_t["first_step_s"],
            "warmup_seconds": pipe_t["warmup_s"],
            "repeat_seconds": pipe_t["repeat_s"],
            "images_per_second": _stats(pipe_ips),
        },
        "model": {
            "name": MODEL,
            "params": int(model.count_params()),
            "compile": compiled,
            "batch_shape": [int(d) for d in images.shape],
            "device": tf_device,
            "build_seconds": model_build_s,
            "first_step_seconds": first_step_s,
            "steps_per_repeat": train_steps,
            "first_round_seconds": train_t["first_step_s"],
            "warmup_seconds": train_t["warmup_s"],
            "repeat_seconds": train_t["repeat_s"],
            "images_per_second": _stats(train_ips),
        },
        "ratio_pipeline_to_model": ratio,
        "meets_10x_goal": ratio["median"] >= GOAL,
        "fit": None,
        "fit_skipped": None,
    }
    if "fit" in timings:
        fit_t = timings["fit"]
        # fit_steady holds the first round and the warm-up rounds, then the repeats.
        timed = fit_steady[-repeats:]
        fit_ips = [steps * batch_size / seconds for steps, seconds in timed]
        case["fit"] = {
            "call": (f"model.fit(dataset, epochs=1, steps_per_epoch={fit_steps_used}, "
                     "verbose=0, shuffle=False)"),
            "steps_per_call": fit_steps_used,
            "timed_steps_per_call": fit_steps_used - 1,
            "first_call_seconds": fit_t["first_step_s"],
            "call_seconds": fit_t["repeat_s"],
            "steady_seconds": [seconds for _, seconds in timed],
            "images_per_second": _stats(fit_ips),
            "ratio_to_train_on_batch": _ratio(fit_ips, train_ips),
        }
    else:
        case["fit_skipped"] = (f"{full_batches} full batch(es) of {batch_size} per epoch; "
                               "the steady-state figure needs 2")
    return case


def run(datasets, batch_size, repeats, pipeline_images, train_steps, fit_steps, warmup,
        cifar_source, mock_examples, seed, output_dir):
    """Runs the benchmark and writes the results; returns the result dict."""
    device = common.device_info()
    tf_device = common.tf_device(device)
    log(f"device: {device['kind']} ({device['name']}); kernels: {device['kernels']}")
    source, data_dir = (resolve_cifar_source(cifar_source, seed) if "cifar10" in datasets
                        else (None, None))
    if source:
        log(f"cifar10: {source} data (--cifar_source={cifar_source}, TFDS data_dir "
             f"{data_dir})")

    cases = {}
    for name in datasets:
        with data_source(name, source, data_dir, mock_examples) as provenance:
            cases[name] = measure_dataset(
                name, provenance, batch_size, repeats, pipeline_images, train_steps,
                fit_steps, warmup, seed, tf_device)
        keras.backend.clear_session()
        gc.collect()

    description = ("input-pipeline throughput (zoo.data, as zoo.train loads it) vs the "
                   f"train-step throughput of {MODEL}, and fit's steady-state throughput "
                   "with the two overlapped")
    config = {
        "datasets": list(datasets),
        "batch_size": batch_size,
        "repeats": repeats,
        "pipeline_images": pipeline_images,
        "train_steps": train_steps,
        "fit_steps": fit_steps,
        "warmup": warmup,
        "seed": seed,
        "cifar_source": cifar_source,
        "cifar_source_used": source,
        "mock_examples": mock_examples,
        "model": MODEL,
        "tf_device": tf_device,
        "goal": f"median per-repeat ratio pipeline / train_on_batch >= {GOAL:g}",
        "pipeline": ("images/s of whole epochs read from Python (`for images, labels in "
                     "dataset`), each repeat as many epochs as reach --pipeline_images; "
                     "the first epoch (cache fill) timed apart"),
        "train_on_batch": ("images/s of --train_steps Model.train_on_batch calls on one "
                           "fixed batch of the pipeline held in device memory (never waits "
                           "on input; NumPy logs, so synchronized every step)"),
        "fit": ("images/s of model.fit(dataset, steps_per_epoch=K) from the end of its "
                "first step to the end of its last (K - 1 full batches); the pipeline "
                "and the model share the CPUs"),
        "order": ("per dataset: first epoch, first train step; then the candidates "
                  "pipeline, train_on_batch, fit take turns (--warmup untimed rounds, "
                  "then --repeats timed ones)"),
    }
    result = {**common.envelope(NAME, description, device, config), "results": cases}
    common.publish(NAME, result, render_markdown(result), output_dir, summary=summary)
    return result


# --------------------------------------------------------------------------
# Report.


def _cell(stats, digits=0):
    return (f"{stats['median']:.{digits}f} "
            f"({stats['min']:.{digits}f}–{stats['max']:.{digits}f})")


def _source_label(source):
    if source["kind"] == "mock":
        return f"mock ({source['mock_examples']} random 32x32x3 images, real pipeline)"
    if source["kind"] == "tfds":
        return "TFDS (prepared)"
    return "embedded"


def render_markdown(result):
    """The report: context lines, the two tables and how to read them."""
    cfg = result["config"]
    rows, fit_rows = [], []
    for name, case in result["results"].items():
        ratio = case["ratio_pipeline_to_model"]
        rows.append([
            name, _source_label(case["source"]), "x".join(map(str, case["image_shape"])),
            case["epoch_images"], f"{case['first_epoch_seconds']:.2f}",
            _cell(case["pipeline"]["images_per_second"]),
            _cell(case["model"]["images_per_second"]),
            _cell(ratio, 1), "yes" if case["meets_10x_goal"] else "no",
        ])
        fit = case["fit"]
        if fit:
            fit_rows.append([name, fit["steps_per_call"], _cell(fit["images_per_second"]),
                             _cell(case["model"]["images_per_second"]),
                             _cell(fit["ratio_to_train_on_batch"], 2)])
        else:
            fit_rows.append([name, "", f"skipped: {case['fit_skipped']}", "", ""])
    table = common.markdown_table(
        ["dataset", "source", "image", "epoch images", "first epoch s",
         "pipeline img/s median (min–max)", f"{cfg['model']} train img/s median (min–max)",
         "pipeline / model median (min–max)", f"≥ {GOAL:g}x"],
        rows, align="lllrrrrrc")
    fit_table = common.markdown_table(
        ["dataset", "fit steps", "fit img/s median (min–max)",
         "train_on_batch img/s median (min–max)", "fit / train_on_batch median (min–max)"],
        fit_rows, align="lrrrr")
    lines = [
        f"# Input pipeline vs {cfg['model']} train step",
        "",
        *common.context_lines(result, f"; model on {cfg['tf_device']}, tf.data on the CPU"),
        f"- batch size {cfg['batch_size']}; {cfg['repeats']} repeats, candidates in turns "
        f"after {cfg['warmup']} untimed round(s); pipeline: whole epochs, at least "
        f"{cfg['pipeline_images']} images per repeat; train_on_batch: {cfg['train_steps']} "
        f"steps per repeat",
    ]
    for name, case in result["results"].items():
        lines.append(f"- {name}: `{case['pipeline_call']}`; {case['source']['note']}")
    lines += [
        f"- {result['timestamp']}, `{result['command']}`",
        "",
        table,
        "",
        "Pipeline: images/s reading whole epochs from Python, the cache already filled (the "
        "first epoch, which fills it, is \"first epoch s\"). Model: images/s of "
        f"`train_on_batch` on one fixed batch held in memory, so it never waits on input. "
        f"The ratio is taken within each repeat; the goal is a median of at least {GOAL:g}.",
        "",
        "## Overlapped: model.fit on the pipeline",
        "",
        fit_table,
        "",
        "fit: `model.fit(dataset, epochs=1, steps_per_epoch=K, verbose=0, shuffle=False)`, "
        "images/s from the end of the first step to the end of the last (K - 1 full "
        "batches), so the iterator's start-up is left out; the pipeline now shares the "
        "CPUs with the model. A ratio near 1.0 means steps do not wait on input (both "
        "columns come from the same repeats, so the ratio is taken within each).",
    ]
    return "\n".join(lines) + "\n"


def summary(result):
    """The report's headline (see `common.publish`): per dataset, pipeline /
    model and fit / train_on_batch."""
    rows, items = [], []
    for name, case in result["results"].items():
        ratio = case["ratio_pipeline_to_model"]
        fit = case["fit"] and case["fit"]["ratio_to_train_on_batch"]
        goal = case["meets_10x_goal"]
        rows.append([name, case["source"]["kind"], common.ratio_cell(ratio, 1),
                     "yes" if goal else "no", common.ratio_cell(fit) if fit else ""])
        items.append(common.summary_item(NAME, f"{name}/pipeline_to_model",
                                         f"{name}: pipeline / model images/s", ratio,
                                         "goal >= 10", meets_10x_goal=goal))
        if fit:
            items.append(common.summary_item(NAME, f"{name}/fit_to_train_on_batch",
                                             f"{name}: fit / train_on_batch images/s", fit,
                                             "near 1: steps do not wait on input"))
    table = common.markdown_table(["dataset", "source", "pipeline / model median (min–max)",
                                   "≥ 10x", "fit / train_on_batch"], rows, align="llrcr")
    return {"title": f"Input pipeline vs {MODEL}'s train step",
            "markdown": f"{table}\n\nImages/s ratios: the pipeline should feed ten such "
                        "models (≥ 10); fit near 1.0 means steps do not wait on input.",
            "items": items, "chart": None}


# The shared checks are all this benchmark needs; returns the output directory.
check_flags = common.flag_checker(QUICK)


def run_from_flags(flag_values, output_dir):
    from zoo.data.tfds_common import DatasetNotPreparedError

    try:
        run(datasets=list(dict.fromkeys(d.strip() for d in flag_values.datasets)),
            batch_size=flag_values.batch_size, repeats=flag_values.repeats,
            pipeline_images=flag_values.pipeline_images, train_steps=flag_values.train_steps,
            fit_steps=flag_values.fit_steps, warmup=flag_values.warmup,
            cifar_source=flag_values.cifar_source, mock_examples=flag_values.mock_examples,
            seed=flag_values.seed, output_dir=output_dir)
    except DatasetNotPreparedError as error:
        raise app.UsageError(f"--cifar_source={flag_values.cifar_source}: {error}") from None


if __name__ == "__main__":
    common.main(MODULE, define_flags, check_flags, run_from_flags)
