"""The checks of a whole command's configuration, run first in its entry point, before seeding, data,
model, trainer or any file in the run directory: :func:`validate_train` and :func:`validate_evaluate`.
Each group's values are checked by :mod:`src.config`'s rules; what relates two things (the network and
the machine's memory, files on disk, the trainer and this project's manual optimization) is written out by
hand here, a checkpoint against the configuration in :mod:`src.resume_checks`. Every refusal is one
:class:`UserError` line.
"""

import copy
import importlib
import itertools
import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import MISSING
from pathlib import Path
from typing import Any

import torch
from hydra.errors import InstantiationException
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Timer
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from src.cli import RANK_VARIABLES
from src.command_line import refuse_unknown_top_level_keys
from src.config import (
    MODES,
    MONITOR_MODES,
    MONITORS,
    SCHEDULE_MONITORS,
    SIZE_MAX,
    Activation,
    Cost,
    Data,
    Model,
    TorchvisionData,
    build_optimizer,
    check_class_arguments,
    check_value,
    choice,
    flag,
    group_options,
    integer,
    is_int,
    is_number,
    layer_sizes_text,
    memory_bytes,
    parse,
    parse_data,
    seed,
    setting,
    show,
)
from src.cuda_graph import capturable_off_gpu, decide, refused_on
from src.errors import UserError
from src.network.layers import chunk_sizes
from src.precisions import ACCEPTED_PRECISIONS, DEFAULT_PRECISION, LIGHTNING_PRECISION_ALIASES, PRECISIONS
from src.resume_checks import check_inputs_match, check_resume, check_schedule_state
from src.run_dir import refuse_unwritable_directory
from src.visualize import FIGURES_RULES


def validate_train(cfg: DictConfig) -> None:
    """Check ``python -m src.train``'s configuration and, when resuming, that ``ckpt_path`` is one of our
    checkpoints, holding the network and optimizer the configuration builds."""
    from src.checkpoint import load_checkpoint

    with config_errors():
        plain = to_plain(cfg)
    refuse_unknown_top_level_keys(plain, "train")
    check_value(seed(MISSING, "the seed"), plain.get("seed"), "seed")
    check_value(flag(MISSING), plain.get("test"), "test")
    model = parse(Model, plain["model"], "model")
    parse(Activation, plain["activation"], "activation")
    parse(Cost, plain["cost"], "cost")
    optimizer = build_optimizer(plain["optimizer"], [torch.zeros(1, requires_grad=True)])  # a throw-away one
    data, data_class = parse_data(plain["data"])
    check_data_files(data)
    check_trainer(plain["trainer"])
    check_max_steps(plain["trainer"], data)
    check_cuda_graph(model.cuda_graph, plain["trainer"], optimizer)
    check_half_precision_epsilon(optimizer, plain["trainer"])
    check_value(choice(MISSING, MONITORS), plain.get("monitor"), "monitor")
    check_value(choice(MISSING, MODES), plain.get("monitor_mode"), "monitor_mode")
    check_direction(plain["monitor"], plain["monitor_mode"], "monitor", "monitor_mode")
    check_monitors(plain.get("callbacks"), plain.get("scheduler"))
    check_callbacks(plain.get("callbacks"))
    check_validation_watched(plain["trainer"], plain.get("callbacks"), plain.get("scheduler"))
    epochs = last_epoch(plain["trainer"])
    check_scheduler(plain.get("scheduler"), optimizer, epochs)
    check_schedule_stepped(plain.get("callbacks"), plain.get("scheduler"))
    check_memory([data_class.in_features, *model.hidden, data_class.num_classes])
    if plain.get("ckpt_path") is not None:
        checkpoint = load_checkpoint(str(plain["ckpt_path"]))
        check_resume(checkpoint, plain, data_class)
        check_schedule_state(checkpoint, plain, optimizer, epochs)


def validate_evaluate(cfg: DictConfig) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Check ``python -m src.evaluate``'s configuration; returns the checkpoint, the data configuration
    to test it on (the checkpoint's, with the keys of ``cfg.data`` over it) and the ``trainer.precision``
    to test at (the one the checkpoint was trained at, unless the configuration names one)."""
    from src.checkpoint import load_checkpoint, trained_precision

    require(cfg, "ckpt_path", "PATH (a .ckpt file written by python -m src.train)")
    with config_errors():
        trainer = to_plain(cfg.trainer)
    precision = trainer.pop("precision", None)  # null (conf/evaluate.yaml): the checkpoint's
    if precision is not None:
        check_precision(precision)
    check_trainer(trainer)
    if trainer.get("limit_test_batches", 1) == 0:
        raise UserError("trainer.limit_test_batches=0: evaluates nothing; leave it out to test every batch")
    checkpoint = load_checkpoint(str(cfg.ckpt_path))
    with config_errors():
        data = evaluation_data(cfg, checkpoint["hyper_parameters"].get("data"))
    settings, data_class = parse_data(data)
    check_inputs_match(checkpoint, cfg.ckpt_path, data, data_class)
    check_data_files(settings)
    if precision is None:
        return checkpoint, data, trained_precision(checkpoint)
    return checkpoint, data, long_precision(precision)


def check_data_files(data: Data) -> None:
    """For MNIST/Fashion-MNIST without download: the files in ``data.root``."""
    if isinstance(data, TorchvisionData) and not data.download:
        check_dataset_files(Path(data.root).expanduser(), data.name, data.val_size)


def check_dataset_files(root: Path, name: str, val_size: int) -> None:
    """Raise :class:`UserError` unless ``root`` holds the four ``name`` IDX files (``.gz`` or extracted),
    readable, well-formed and with more training images than ``val_size``."""
    import torchvision

    from src.data import TorchvisionDataModule

    fetch = f"put the {name} files in {root / name / 'raw'}/ or add data.download=true to fetch them"
    if not root.is_dir():
        raise UserError(
            f"data.root={root} {'is not a directory' if root.exists() else 'does not exist'}: {fetch}"
        )
    raw = root / name / "raw"
    for url, _ in getattr(torchvision.datasets, name).resources:
        file = next(
            (f for f in (raw / Path(url).stem, raw / Path(url).name) if f.is_file()), raw / Path(url).name
        )
        if not file.is_file():
            raise UserError(f"data.root={root} holds no {name} data (missing {file}): {fetch}")
        if not os.access(file, os.R_OK):
            raise UserError(f"data.root={root}: {file} can't be read (permission denied)")
    TorchvisionDataModule(name=name, root=str(root), val_size=val_size).check()


def check_trainer(trainer: dict[str, Any]) -> None:
    """What Lightning would accept and this project can't do, or would only fail on later; Lightning
    checks the rest when the trainer is built."""
    if "max_epochs" in trainer:
        check_value(integer(MISSING, 1, "the number of epochs"), trainer["max_epochs"], "trainer.max_epochs")
    check_precision(trainer.get("precision", DEFAULT_PRECISION))
    for key, minimum, meaning in (  # Lightning took the values below these, and ignored or misread them
        ("num_nodes", 1, ""),
        ("check_val_every_n_epoch", 1, ""),
        ("min_epochs", 0, "the least number of epochs"),
        ("log_every_n_steps", 1, "the number of training batches between logged steps"),
        ("num_sanity_val_steps", -1, "the number of validation batches run before training (-1: all)"),
    ):
        if trainer.get(key) is not None:
            check_value(integer(MISSING, minimum, meaning), trainer[key], f"trainer.{key}")
    deterministic = trainer.get("deterministic")
    if not (deterministic is None or isinstance(deterministic, bool) or deterministic == "warn"):
        raise UserError(  # Lightning ignored any other value
            f"trainer.deterministic={show(deterministic)}: must be true, false, warn or null"
        )
    interval = trainer.get("val_check_interval")
    if interval is not None and not (is_number(interval) and interval > 0):
        raise UserError(
            f"trainer.val_check_interval={show(interval)}: must be a fraction of an epoch (0 < x <= 1) or a "
            "number of training batches >= 1"
        )
    if trainer.get("accumulate_grad_batches", 1) != 1:
        raise UserError(
            f"trainer.accumulate_grad_batches={show(trainer['accumulate_grad_batches'])}: training takes one "
            "SGD step per mini-batch; for steps over more samples raise data.batch_size instead"
        )
    if trainer.get("gradient_clip_val") is not None:
        raise UserError(
            f"trainer.gradient_clip_val={show(trainer['gradient_clip_val'])}: not supported: training steps "
            "by hand (manual optimization), where Lightning does not clip; lower optimizer.lr instead"
        )
    accelerator = trainer.get("accelerator")
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise UserError(
            f"trainer.accelerator={accelerator}: torch {torch.__version__} finds no CUDA GPU on this machine; "
            "train on the CPU with trainer=cpu"
        )
    devices, cores = trainer.get("devices", 1), os.cpu_count() or 1
    if accelerator in (None, "auto") and not torch.cuda.is_available():
        accelerator = "cpu"  # what Lightning picks: the same processes compete for the same cores
    if accelerator == "cpu" and not (devices == "auto" or (is_int(devices) and devices >= 1)):
        raise UserError(  # Lightning's own line named neither the value nor the range (devices=-1, 0)
            f"trainer.devices={show(devices)}: the number of CPU processes must be an integer from 1 to "
            f"{cores} (this machine's cores), or auto"
        )
    if accelerator == "cpu" and is_int(devices) and devices > cores:
        raise UserError(
            f"trainer.devices={devices}: more CPU processes than this machine's {cores} cores would only "
            f"compete for them; choose at most {cores}"
        )
    check_launcher(trainer.get("num_nodes", 1))
    if trainer.get("limit_train_batches", 1) == 0:  # 0 or 0.0: and the untrained network was tested, exit 0
        raise UserError(
            f"trainer.limit_train_batches={show(trainer['limit_train_batches'])}: trains on no batch; give a "
            "number of batches >= 1 or a fraction of an epoch > 0"
        )
    max_steps = trainer.get("max_steps")
    if max_steps not in (None, -1) and not (is_int(max_steps) and max_steps >= 1):  # 0 trained nothing, too
        raise UserError(
            f"trainer.max_steps={show(max_steps)}: must be a number of SGD steps >= 1, or -1 (no limit: "
            "trainer.max_epochs ends the run)"
        )
    if trainer.get("max_time") is not None:
        check_max_time(trainer["max_time"])


def check_max_time(max_time: Any) -> None:
    """``trainer.max_time`` must be a duration Lightning reads (``DD:HH:MM:SS``, or a mapping of
    ``datetime.timedelta``'s arguments) and longer than nothing: a zero or negative one ended training at
    once, and the untrained network was tested, with exit code 0."""
    try:
        seconds = Timer(duration=max_time).time_remaining()
    except (MisconfigurationException, TypeError, ValueError, OverflowError, AttributeError):
        seconds = None  # no string of its format, no mapping of timedelta's arguments (days: -1.5 is one)
    if seconds is None or not seconds > 0:
        raise UserError(
            f"trainer.max_time={show(max_time)}: must be a duration > 0, as DD:HH:MM:SS (00:01:30:00) or a "
            "mapping ({hours: 1, minutes: 30})"
        )


LAUNCHER_VARIABLES = (*RANK_VARIABLES, "NODE_RANK", "GROUP_RANK", "WORLD_SIZE", "MASTER_ADDR")
"""What a process of a run over several nodes is started with: by torchrun, srun or LSF (the ranks), or
by hand as Lightning documents it (``MASTER_ADDR``, ``NODE_RANK``, ``WORLD_SIZE`` on each node)."""


def check_launcher(num_nodes: Any) -> None:
    """``trainer.num_nodes > 1`` in a process no launcher started: Lightning starts this node's processes
    and they wait for the other nodes' forever, in a rendezvous where even SIGTERM is not handled (only
    ``kill -9`` ends them)."""
    if is_int(num_nodes) and num_nodes > 1 and not any(name in os.environ for name in LAUNCHER_VARIABLES):
        raise UserError(
            f"trainer.num_nodes={num_nodes}: no launcher started this process (torchrun, srun) and it has no "
            f"NODE_RANK and MASTER_ADDR, so it would wait for the other nodes forever: start it on each node "
            '(README, "Several devices and mixed precision"), or leave num_nodes out'
        )


def check_precision(precision: Any) -> None:
    """``trainer.precision`` must be one Lightning knows and this project trains at (a number like 16 is
    Lightning's short name for ``16-mixed``, a float or bool is a typo)."""
    if str(precision) not in ACCEPTED_PRECISIONS or isinstance(precision, bool | float):
        raise UserError(f"trainer.precision={show(precision)}: choose one of {', '.join(PRECISIONS)}")


def long_precision(precision: Any) -> str:
    """``trainer.precision`` (checked by :func:`check_precision`) by the name ``Trainer.precision`` reports:
    Lightning's short names (``16``) are its aliases of the long ones (``16-mixed``)."""
    return LIGHTNING_PRECISION_ALIASES.get(str(precision), str(precision))


def check_max_steps(trainer: dict[str, Any], data: Data) -> None:
    """``trainer.max_steps`` counts SGD steps (mini-batches), but Lightning checks it only between its
    training batches, chunks of ``data.batches_per_step`` mini-batches: ``max_steps=5`` trained a whole
    chunk, 126 steps on the digits. Only chunks of one mini-batch stop where it says."""
    max_steps = trainer.get("max_steps")
    if max_steps not in (None, -1) and data.batches_per_step != 1:
        raise UserError(
            f"trainer.max_steps={show(max_steps)}: counts SGD steps, but training stops only between chunks of "
            f"data.batches_per_step={data.batches_per_step} mini-batches, so it would train more: add "
            "data.batches_per_step=1, or stop by epochs with trainer.max_epochs"
        )


FLOAT16_TINY = torch.finfo(torch.float16).tiny
"""The smallest normal float16 (6.104e-05)."""


def check_half_precision_epsilon(optimizer: torch.optim.Optimizer, trainer: dict[str, Any]) -> None:
    """Under ``trainer.precision=16-true`` the weights and the optimizer's state are float16, where Adam's,
    AdamW's and RMSprop's default ``eps`` (1e-08) rounds to 0: they divided by zero where a gradient's
    square underflowed, and training diverged at its second step with the advice to lower the rate."""
    eps = optimizer.defaults.get("eps")
    precision = long_precision(trainer.get("precision", DEFAULT_PRECISION))
    if precision == "16-true" and is_number(eps) and eps < FLOAT16_TINY:
        raise UserError(
            f"optimizer.eps={show(eps)}: under trainer.precision=16-true the optimizer's state is float16, "
            f"where eps must be at least {FLOAT16_TINY:.4g} (its smallest normal number; a smaller one rounds "
            "towards 0, and the optimizer divides by it): add +optimizer.eps=1e-4, or choose another precision"
        )


def check_cuda_graph(mode: str, trainer: dict[str, Any], optimizer: torch.optim.Optimizer) -> None:
    """What the configuration alone shows about the run (a CPU trainer, the precision, the optimizer,
    here built on a throw-away parameter) allows ``model.cuda_graph=on`` and ``optimizer.capturable``.
    What only the started run knows (``accelerator=auto``, the number of processes) is checked by
    :func:`src.cuda_graph.chunk_graphs_for`."""
    device_type = "cpu" if trainer.get("accelerator") == "cpu" else "cuda"  # gpu or auto: known later
    refusal = capturable_off_gpu(device_type, optimizer)
    if refusal is not None:
        raise UserError(refusal)
    if mode == "on":
        precision = long_precision(trainer.get("precision", DEFAULT_PRECISION))
        strategy = trainer.get("strategy")
        target = strategy.get("_target_", "") if isinstance(strategy, Mapping) else str(strategy or "")
        ddp = "ddp" in target.lower()  # DDPStrategy, or Lightning's names ddp, ddp_spawn, ...
        decision = decide(
            mode, device_type, precision, 1, optimizer, ddp, bool(trainer.get("detect_anomaly"))
        )
        if not decision.use_graph:
            raise UserError(refused_on(decision.reason))


def check_monitors(callbacks: Any, scheduler: Any) -> None:
    """Each callback's and the scheduler's ``monitor`` must name a metric training logs every epoch, and
    ``mode`` say which way is better: Lightning would only find a typo after the first epoch, or not at all."""
    watchers = {f"callbacks.{name}": (values, MONITORS) for name, values in (callbacks or {}).items()}
    watchers["scheduler"] = (scheduler or {}, SCHEDULE_MONITORS)
    for key, (values, metrics) in watchers.items():
        if not isinstance(values, Mapping):  # a callback switched off (null)
            continue
        if values.get("monitor") is not None:
            check_value(choice(MISSING, metrics), values["monitor"], f"{key}.monitor")
        if "mode" in values:
            check_value(choice(MISSING, MODES), values["mode"], f"{key}.mode")
            if values.get("monitor") is not None:
                check_direction(values["monitor"], values["mode"], f"{key}.monitor", f"{key}.mode")


def check_direction(monitor: str, mode: str, monitor_key: str, mode_key: str) -> None:
    """``mode`` must be the way ``monitor`` gets better (:data:`~src.config.MONITOR_MODES`): Lightning and
    torch take either, and ``max`` on a loss keeps the worst checkpoint and stops when the loss stops rising."""
    better = MONITOR_MODES[monitor]
    if mode != better:
        higher_or_lower = "higher" if better == "max" else "lower"
        raise UserError(
            f"{mode_key}={mode}: {monitor_key}={monitor} is better when {higher_or_lower}; use {mode_key}={better}"
        )


CALLBACK_RULES: dict[str, dict[str, Any]] = {
    "lightning.pytorch.callbacks.early_stopping.EarlyStopping": {
        # null: Lightning's RuntimeError after the first epoch (check_monitors judges the other values)
        "monitor": choice(MISSING, MONITORS),
        "patience": integer(MISSING, 0, "the number of validations without improvement that stops training"),
        # Lightning counts a value better when it beats the best by more than min_delta; a negative one
        # counted a worse value within it as better, and made it the best: the best drifted down, and
        # training stopped only on a fall larger than |min_delta| (never, for val/acc and min_delta=-1)
        "min_delta": setting(
            MISSING,
            "must be a finite number >= 0 (the least change of the monitored metric that counts as an "
            "improvement)",
            lambda value: is_number(value) and math.isfinite(value) and value >= 0,
        ),
    },
    "src.visualize.TensorBoardFigures": FIGURES_RULES,
}
"""The rules of the callback arguments that a kind (:func:`~src.config.annotation_kind`) can't say, by the
callback's class (``module.QualName``, the rules of a base class applying to its subclasses too)."""
HYDRA_KEYS = ("_target_", "_recursive_", "_convert_", "_partial_", "_args_")
"""The keys of a config entry that tell Hydra's ``instantiate`` how to build it: no arguments."""


def check_callbacks(callbacks: Any) -> None:
    """Each callback's arguments, before anything is built: of the kind its class's signature annotates,
    and within the range :data:`CALLBACK_RULES` gives. Lightning's ``EarlyStopping`` takes any value and
    failed with a ``TypeError`` at the first epoch it judged (``patience=null``, ``min_delta=abc``), and
    the callbacks of this project compared them with a traceback when built. A class that can't be found is
    left to :func:`src.instantiate.instantiate_entries`, which says so in one line."""
    for name, values in (callbacks or {}).items():
        if not (isinstance(values, Mapping) and isinstance(values.get("_target_"), str)):
            continue  # switched off (null), or src.instantiate refuses it in one line
        callback_class = named_class(values["_target_"])
        if callback_class is None:
            continue
        arguments = {key: value for key, value in values.items() if key not in HYDRA_KEYS}
        check_class_arguments(callback_class, arguments, f"callbacks.{name}", CALLBACK_RULES)
        if isinstance(arguments.get("dirpath"), str):  # a checkpoint's folder: else a traceback at its save
            refuse_unwritable_directory(
                Path(arguments["dirpath"]), f"callbacks.{name}.dirpath", arguments["dirpath"]
            )


def check_schedule_stepped(callbacks: Any, scheduler: Any) -> None:
    """A ``scheduler`` needs the callback that steps it (``callbacks.lr_schedule``): switched off, the run
    trained at a constant rate, silently."""
    from src.schedule import LearningRateSchedule

    target = f"{LearningRateSchedule.__module__}.{LearningRateSchedule.__name__}"
    stepped = any(
        isinstance(values, Mapping) and values.get("_target_") == target
        for values in (callbacks or {}).values()
    )
    if scheduler and not stepped:
        raise UserError(
            f"scheduler {show(scheduler.get('_target_'))}: no callback steps it ({target} is switched off, "
            "e.g. by callbacks.lr_schedule=null): put it back, or leave out the scheduler (scheduler=none)"
        )


def named_class(path: str) -> type | None:
    """The class ``module.Name`` names, imported as ``instantiate`` would import it; ``None`` where there is
    none (Hydra's ``get_class`` would log an error line of its own)."""
    module, _, name = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), name)
    except Exception:  # any failure to import: src.instantiate builds it next and reports it in one line
        return None
    return found if isinstance(found, type) else None


def check_validation_watched(trainer: dict[str, Any], callbacks: Any, scheduler: Any) -> None:
    """``trainer.limit_val_batches=0`` runs no validation: early stopping on a ``val/`` metric ended the
    run with Lightning's RuntimeError after the first epoch, and the plateau schedule silently never
    lowered the rate."""
    if trainer.get("limit_val_batches") != 0:
        return
    watchers = {f"callbacks.{name}": values for name, values in (callbacks or {}).items()}
    watchers["scheduler"] = scheduler
    for key, values in watchers.items():
        if not isinstance(values, Mapping):
            continue
        monitor = values.get("monitor")
        watches = key == "scheduler" or str(values.get("_target_", "")).endswith("EarlyStopping")
        if watches and isinstance(monitor, str) and monitor.startswith("val/"):
            raise UserError(
                f"trainer.limit_val_batches={show(trainer['limit_val_batches'])}: runs no validation, but "
                f"{key}.monitor={monitor} watches it: leave out limit_val_batches, or switch it off with "
                + ("scheduler=none" if key == "scheduler" else f"{key}=null")
            )


def check_scheduler(values: Any, optimizer: torch.optim.Optimizer, epochs: int) -> None:
    """The ``scheduler`` group (``conf/scheduler/``): empty (a constant rate), or a learning-rate
    scheduler that accepts its arguments, built here over a copy of ``optimizer`` and stepped
    through the run's ``epochs``: a rate that stops being a finite number >= 0, or arguments that fail
    only when stepped (``step_size=0``), are refused before training."""
    from src.schedule import described, scheduler_arguments

    if not values:
        return
    scheduler_class, arguments = scheduler_arguments(values)
    optimizer = copy.deepcopy(optimizer)  # the scheduler sets its rate and steps it
    try:
        scheduler = scheduler_class(optimizer, **arguments)
    except (TypeError, ValueError) as error:
        raise UserError(
            f"scheduler: {values['_target_']} refuses its arguments {show(arguments)} ({' '.join(str(error).split())})"
        ) from None
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) and not values.get("monitor"):
        raise UserError("scheduler.monitor is missing: ReduceLROnPlateau needs a metric, e.g. val/acc")
    step_through(scheduler, described(values), range(1, epochs + 1))


def last_epoch(trainer: dict[str, Any]) -> int:
    """The last epoch a run may train: ``trainer.max_epochs``; where it is left out, Lightning's 1000, or
    :data:`~src.config.SIZE_MAX` (no limit) where ``max_steps`` or ``max_time`` ends the run instead."""
    if "max_epochs" in trainer:
        return trainer["max_epochs"]
    if trainer.get("max_steps", -1) not in (None, -1) or trainer.get("max_time") is not None:
        return SIZE_MAX
    return 1000


SCHEDULE_EPOCHS_CHECKED = 100_000
"""The most epochs :func:`step_through` steps a schedule through before training. A step takes about 7 µs
here, so no ``trainer.max_epochs`` makes the check take more than a second or so. Later epochs are checked
as the run reaches them (:func:`src.schedule.check_rate`)."""


def step_through(scheduler: Any, what: str, epochs: range) -> float:
    """Step ``scheduler`` (``what`` begins the messages) after each of ``epochs``, the first
    :data:`SCHEDULE_EPOCHS_CHECKED` of them at most, a plateau schedule with a metric that never improves:
    it must not fail, and its rate must stay a finite number >= 0. Returns the highest rate it had, from
    before the first step on."""
    from src.schedule import check_rate

    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    highest = scheduler.optimizer.param_groups[0]["lr"]
    scheduler.optimizer.step()  # no gradients, no change: torch warns of a scheduler stepped before its optimizer
    for epoch in itertools.islice(epochs, SCHEDULE_EPOCHS_CHECKED):
        try:
            scheduler.step(0.0) if plateau else scheduler.step()
        except (ArithmeticError, AttributeError, TypeError, ValueError) as error:
            raise UserError(f"{what} fails ({type(error).__name__}: {error})") from None
        lr = scheduler.optimizer.param_groups[0]["lr"]
        check_rate(what, lr, epoch)
        highest = max(highest, lr)
    return highest


def check_memory(sizes: list[int]) -> None:
    """Refuse a network whose weights and gradients alone (float32) would not fit in this machine's memory,
    before allocating them."""
    count = sum(chunk_sizes(sizes))
    needed, available = 2 * 4 * count, memory_bytes()
    if needed > available:
        raise UserError(
            f"model.hidden={show(sizes[1:-1])}: a {layer_sizes_text(sizes)} network has {count} weights and "
            f"biases, {needed / 2**30:.1f} GiB with their gradients in float32, more than this machine's "
            f"{available / 2**30:.1f} GiB of memory"
        )


def evaluation_data(cfg: DictConfig, trained: dict[str, Any] | None) -> dict[str, Any]:
    """The data to test on: the checkpoint's (``trained``) with ``cfg.data``'s keys over it, or
    ``cfg.data`` alone where it names another data module (``data=mnist`` for a digits checkpoint)."""
    if trained is not None:  # never download into a folder a checkpoint names; data.download=true may
        trained = {key: value for key, value in trained.items() if key != "download"}
    if cfg.get("data") is None:
        if trained is None:
            raise UserError(
                f"ckpt_path={cfg.ckpt_path} doesn't record its training data: pass {group_options('data', 'data=')}"
            )
        return trained
    with open_dict(cfg):  # the data groups' `seed: ${seed}`; the seed only shuffles training data
        cfg.setdefault("seed", (trained or {}).get("seed", Data.seed))
    override = to_plain(cfg.data)
    if trained is None or override.get("_target_", trained["_target_"]) != trained["_target_"]:
        return override
    return {**trained, **override}


@contextmanager
def config_errors() -> Iterator[None]:
    """Turn OmegaConf's errors (a ``???`` value left missing, a broken ``${...}`` interpolation) into a
    :class:`UserError` naming the key."""
    try:
        yield
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", None) or "config"
        message = " ".join(str(getattr(error, "msg", None) or error).split("full_key:")[0].split())
        raise UserError(f"{key}: {message}") from None


@contextmanager
def refused_arguments(key: str) -> Iterator[None]:
    """Turn an error raised while instantiating config group ``key`` into a :class:`UserError` naming it:
    e.g. a Trainer argument Lightning refuses (``trainer.accelerator=gpu`` on a machine without one). A
    :class:`UserError` the class raises itself names its key already, and is raised as it is."""
    try:
        yield
    except InstantiationException as error:
        cause = error.__cause__ or error
        if isinstance(cause, UserError):  # "callbacks.x: UserError: callbacks.x.key=..." said it twice
            raise cause from None
        raise UserError(f"{key}: {type(cause).__name__}: {' '.join(str(cause).split())}") from None


def to_plain(node: Any) -> Any:
    """A config node as plain Python values, interpolations resolved."""
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def require(cfg: DictConfig, key: str, example: str) -> None:
    """Raise :class:`UserError` if the mandatory ``key`` (``???`` in the config file) was not given."""
    if OmegaConf.is_missing(cfg, key):
        raise UserError(f"{key} is missing: pass {key}={example}")
