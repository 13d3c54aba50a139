"""A checkpoint's saved state checked against the configuration, before a run resumes from it
(:func:`check_resume`, :func:`check_schedule_state`) or is evaluated (:func:`check_inputs_match`): its
network's inputs, the learning-rate schedule, the loops' state, the optimizer's, the callbacks' and the
position in the training data, each as the configuration would build or Lightning would read it back.
:mod:`src.checks`'s ``validate_train`` and ``validate_evaluate`` call these. Every refusal is one
:class:`UserError` line.
"""

import copy
import dataclasses
import functools
import inspect
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

from src.config import (
    OPTIMIZERS,
    SIZE_MAX,
    Activation,
    build_optimizer,
    is_int,
    is_number,
    is_one_number,
    layer_sizes_text,
    parse,
    same,
    show,
)
from src.errors import UserError
from src.precisions import DEFAULT_PRECISION


def check_inputs_match(checkpoint: dict[str, Any], path: Any, data: dict[str, Any], data_class: type) -> None:
    """Raise :class:`UserError` unless the data has as many inputs and classes as the checkpoint's network."""
    from src.checkpoint import network_sizes

    hparams = checkpoint["hyper_parameters"]
    found = (data_class.in_features, data_class.num_classes)
    if (hparams["in_features"], hparams["num_classes"]) != found:
        name = f" {data['name']}" if "name" in data else ""
        raise UserError(
            f"ckpt_path={path}: its {layer_sizes_text(network_sizes(hparams))} network takes "
            f"{hparams['in_features']} inputs and {hparams['num_classes']} classes, but the data "
            f"({data_class.__name__}{name}) has {found[0]} inputs and {found[1]} classes: evaluate it on the "
            "data it was trained on (leave out data=...)"
        )


def check_resume(checkpoint: dict[str, Any], plain: dict[str, Any], data_class: type) -> None:
    """Raise :class:`UserError` unless the checkpoint holds the network and optimizer the configuration
    builds, and the learning-rate schedule it continues: resuming restores their state, which only fits
    those. It must also have been trained at the configured ``trainer.precision``: another would round a
    ``64-true`` run's weights to float32, or change the computation the run continues."""
    from src.checkpoint import network_sizes
    from src.schedule import LearningRateSchedule, resume_differences

    hparams = checkpoint["hyper_parameters"]
    activation = dataclasses.asdict(parse(Activation, plain["activation"], "activation"))
    settings = {  # name: (trained, configured)
        "layer sizes": (
            network_sizes(hparams),
            [data_class.in_features, *plain["model"]["hidden"], data_class.num_classes],
        ),
        "activation": (activation_text(hparams["activation"]), activation_text(activation)),
        "cost": (hparams["cost"], plain["cost"]["name"]),
        "optimizer": (hparams["optimizer"], plain["optimizer"]),
    }
    recorded = checkpoint.get("precision")  # older checkpoints don't record it
    if recorded is not None and recorded not in precisions_run(plain["trainer"]):
        settings["trainer.precision"] = (recorded, plain["trainer"].get("precision", DEFAULT_PRECISION))
    differences = [
        f"{name} {show_sizes_or_value(trained)} (configured: {show_sizes_or_value(configured)})"
        for name, (trained, configured) in settings.items()
        if trained != configured
    ]
    saved_schedule = nested(checkpoint, "callbacks", LearningRateSchedule.__name__)
    differences += resume_differences(saved_schedule, plain.get("scheduler"))
    if differences:
        raise UserError(
            f"ckpt_path={plain['ckpt_path']} was trained with {'; '.join(differences)}: resuming restores "
            "its weights, optimizer state and learning-rate schedule, so give the configuration it was "
            "trained with, or leave out ckpt_path to start a new run"
        )
    check_training_state(checkpoint, plain)
    check_callback_states(checkpoint, plain)
    check_early_stopping_patience(checkpoint, plain)
    check_resume_position(checkpoint, plain)
    check_something_left_to_train(checkpoint, plain)


def check_schedule_state(
    checkpoint: dict[str, Any], plain: dict[str, Any], optimizer: torch.optim.Optimizer, epochs: int
) -> None:
    """The learning-rate schedule's saved state is data too, and torch's ``load_state_dict`` copies every
    entry of it onto the configured scheduler: it may hold only entries that scheduler has, those its
    arguments and the learning rate fix (``base_lrs``) equal to a new one's, the others (its progress,
    :data:`SCHEDULE_PROGRESS`) of the kind they start as; and the restored scheduler, stepped through the
    epochs left, must not fail or make the rate anything but a finite number >= 0. The epochs left count
    the checkpoint's own: its validation may have written it before the epoch's end stepped the schedule.
    ``optimizer`` is ``validate_train``'s throw-away one, ``epochs`` the run's."""
    from src.checkpoint import WRITTEN_BY
    from src.checks import step_through
    from src.schedule import SCHEDULE_PROGRESS, LearningRateSchedule, scheduler_arguments

    saved = nested(checkpoint, "callbacks", LearningRateSchedule.__name__)
    if not plain.get("scheduler") or not isinstance(saved, dict):  # check_resume compared their presence
        return
    where = f"ckpt_path={plain['ckpt_path']}: its learning-rate schedule"
    scheduler_class, arguments = scheduler_arguments(plain["scheduler"])
    highest = step_through(
        scheduler_class(copy.deepcopy(optimizer), **arguments), where, range(1, epochs + 1)
    )
    scheduler = scheduler_class(copy.deepcopy(optimizer), **arguments)
    new = scheduler.state_dict()
    state = {key: value for key, value in saved.items() if key not in ("pending", "_target_")}
    for key, value in state.items():
        if key not in new:
            raise UserError(
                f"{where} holds {key}={show(value)}, which {scheduler_class.__name__} has not: {WRITTEN_BY}"
            )
        if key in SCHEDULE_PROGRESS:
            kind, is_of_kind = progress_kind(new[key])
            if not is_of_kind(value):
                raise UserError(f"{where} holds {key}={show(value)}, not {kind}: {WRITTEN_BY}")
        elif not same(value, new[key]):
            raise UserError(
                f"{where} holds {key}={show(value)}, but the configured one's is {show(new[key])}: {WRITTEN_BY}"
            )
    pending = saved.get("pending")  # the monitored value of a validation the plateau has yet to judge
    if not (pending is None or (is_number(pending) and math.isfinite(pending))):
        raise UserError(f"{where} holds pending={show(pending)}, not a metric's value: {WRITTEN_BY}")
    lr = checkpoint["optimizer_states"][0]["param_groups"][0].get("lr")  # check_training_state: one group
    if not (is_number(lr) and 0 <= lr <= highest):
        raise UserError(
            f"ckpt_path={plain['ckpt_path']}: its optimizer state holds lr={show(lr)}, but the configured "
            f"schedule's rates run from 0 to {highest:.4g}: {WRITTEN_BY}"
        )
    scheduler.load_state_dict(state)
    scheduler.optimizer.param_groups[0]["lr"] = lr  # the rate training reached
    step_through(scheduler, where, range(checkpoint["epoch"] + 1, epochs + 1))


def progress_kind(new: Any) -> tuple[str, Callable[[Any], bool]]:
    """The kind of value a new scheduler's progress entry ``new`` is: in words, and the test of a value."""
    if isinstance(new, bool):
        return "true or false", lambda value: isinstance(value, bool)
    if is_int(new):
        return COUNT
    if isinstance(new, list):
        return (
            # of one rate: check_training_state, run first, refuses other than one parameter group
            f"a list of {len(new)} finite learning rate >= 0",
            lambda value: (
                isinstance(value, list)
                and len(value) == len(new)
                and all(is_number(rate) and math.isfinite(rate) and rate >= 0 for rate in value)
            ),
        )
    return "a number", lambda value: is_number(value) and not math.isnan(value)


def precisions_run(trainer: dict[str, Any]) -> tuple[str, ...]:
    """The names a checkpoint may record for a run of ``trainer``'s precision: Lightning's long name, and
    ``bf16-mixed`` for ``16-mixed`` where the run may be on the CPU (Lightning runs it as that there)."""
    from src.checks import long_precision

    precision = long_precision(trainer.get("precision", DEFAULT_PRECISION))
    maybe_cpu = trainer.get("accelerator", "auto") in ("cpu", "auto")
    return (precision, "bf16-mixed") if precision == "16-mixed" and maybe_cpu else (precision,)


def check_training_state(checkpoint: dict[str, Any], plain: dict[str, Any]) -> None:
    """What Lightning restores besides the weights is data too: the loops' state (:func:`check_loop_state`)
    and the optimizer's (:func:`check_optimizer_state`)."""
    where = f"ckpt_path={plain['ckpt_path']}"
    check_loop_state(checkpoint, where)
    check_optimizer_state(checkpoint, plain, where)


FIRST_LIGHTNING_LAYOUT = "2.0.0"
"""The oldest ``pytorch-lightning_version`` a checkpoint may record: Lightning migrates an older one from
Lightning 1's layout, which fails on this project's (``KeyError: 'epoch_loop.batch_loop...'``)."""
PROGRESS_ORDER = ("ready", "started", "processed", "completed")
"""The counts of a Lightning progress tracker, each at most the one before it."""


def check_loop_state(checkpoint: dict[str, Any], where: str) -> None:
    """The Lightning version the checkpoint records, which Lightning parses to migrate it; the epoch and
    step counters, counts up to :data:`~src.config.SIZE_MAX`; the loops' state, which Lightning reads back
    by name: every mapping and entry a new trainer's has (:func:`loop_state_mismatch`), each tracker's
    counts in :data:`PROGRESS_ORDER`, and the training data's position (:func:`check_data_position`); and
    no learning-rate schedulers of Lightning's (this project steps its own, :mod:`src.schedule`)."""
    from packaging.version import InvalidVersion, Version

    from src.checkpoint import WRITTEN_BY

    version = checkpoint.get("pytorch-lightning_version")
    try:
        recent = isinstance(version, str) and Version(version) >= Version(FIRST_LIGHTNING_LAYOUT)
    except InvalidVersion:
        recent = False
    if not recent:
        raise UserError(
            f"{where}: its pytorch-lightning_version={show(version)} is not a Lightning version from "
            f"{FIRST_LIGHTNING_LAYOUT} on: {WRITTEN_BY}"
        )
    trackers = progress_trackers(nested(checkpoint, "loops"))
    counters = [checkpoint.get("epoch"), checkpoint.get("global_step")]
    counters += [count for tracker in trackers for count in tracker.values()]
    if not all(is_count(count) for count in counters):
        raise UserError(f"{where}: its epoch, step or loop counters are not counts: {WRITTEN_BY}")
    mismatch = loop_state_mismatch(new_loops_state(), checkpoint.get("loops"), "loops")
    if mismatch is not None:
        raise UserError(
            f"{where}: its {mismatch} (Lightning's loops read back every entry they save): {WRITTEN_BY}"
        )
    for tracker in trackers:
        counts = [tracker[key] for key in PROGRESS_ORDER if key in tracker]
        if counts != sorted(counts, reverse=True):
            raise UserError(
                f"{where}: its loops' progress counts {show(tracker)} are out of order (each of "
                f"{', '.join(PROGRESS_ORDER)} at most the one before): {WRITTEN_BY}"
            )
    check_data_position(nested(checkpoint, "loops", "fit_loop", "state_dict"), where)
    schedulers = checkpoint.get("lr_schedulers")
    if not (isinstance(schedulers, list) and not schedulers):  # Lightning reads it even where it is empty
        raise UserError(
            f"{where}: its lr_schedulers={show(schedulers)} is not Lightning's empty list (this project steps "
            f"its own schedule, saved with its callbacks): {WRITTEN_BY}"
        )


LOOPS = ("fit_loop", "validate_loop", "test_loop", "predict_loop")
"""The loops whose state a Lightning checkpoint keeps under ``loops``."""


@functools.cache
def new_loops_state() -> dict[str, Any]:
    """The loops' state a new Lightning trainer would save in a checkpoint: the mappings and entries
    Lightning reads back when resuming (each loop's public ``state_dict()``)."""
    import logging

    import lightning as L

    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    level = rank_zero.level
    rank_zero.setLevel(logging.WARNING)  # no "GPU available: ..." lines for a trainer that never runs
    try:
        trainer = L.Trainer(
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="cpu",
            devices=1,
        )
    finally:
        rank_zero.setLevel(level)
    return {name: getattr(trainer, name).state_dict() for name in LOOPS}


def loop_state_mismatch(new: dict[str, Any], saved: Any, path: str) -> str | None:
    """Where the loops' state ``saved`` (at ``path``) lacks a mapping or an entry ``new`` has, or holds
    another kind of value: a mapping, a flag or a count up to :data:`~src.config.SIZE_MAX`; ``None`` if
    nowhere. Entries ``new`` has not (a data loader's position) are left to other checks."""
    if not isinstance(saved, dict):
        return f"{path} is {show(saved)}, not a mapping"
    for key, value in new.items():
        if key not in saved:
            return f"{path} holds no {key}"
        inner = saved[key]
        if isinstance(value, dict):
            mismatch = loop_state_mismatch(value, inner, f"{path}.{key}")
            if mismatch is not None:
                return mismatch
        elif isinstance(value, bool) and not isinstance(inner, bool):
            return f"{path}.{key}={show(inner)} is not true or false"
        elif is_int(value) and not is_count(inner):
            return f"{path}.{key}={show(inner)} is not a count"
    return None


def check_data_position(loop_state: dict[str, Any], where: str) -> None:
    """The training data's position Lightning saves beside the fit loop's state (``combined_loader``: one
    :class:`src.data.MiniBatchChunks` state, or none where ``overfit_batches`` replaced the sampler) must
    be one :class:`~src.data.ResumableLoader` can restore: a mapping of counts."""
    from src.checkpoint import WRITTEN_BY

    if "combined_loader" not in loop_state:
        return
    loaders = loop_state["combined_loader"]
    one = isinstance(loaders, list) and len(loaders) == 1 and isinstance(loaders[0], dict)
    if not (one and all(isinstance(key, str) and is_count(count) for key, count in loaders[0].items())):
        raise UserError(
            f"{where}: its loops.fit_loop.state_dict.combined_loader={show(loaders)} is not the position of "
            f"one training data loader (a mapping of counts): {WRITTEN_BY}"
        )


def check_optimizer_state(checkpoint: dict[str, Any], plain: dict[str, Any], where: str) -> None:
    """The optimizer's state: its settings those of the configured optimizer (its hyper_parameters, checked
    against the configuration, and torch's defaults): a learning rate hidden there would be the one
    training used; and each parameter's state (a momentum buffer, ...) what the configured optimizer keeps,
    tensors of the weights' shape and dtype, finite."""
    from src.checkpoint import WRITTEN_BY

    states = checkpoint.get("optimizer_states")
    groups = nested(states[0], "param_groups") if isinstance(states, list) and len(states) == 1 else None
    one_group = isinstance(groups, list) and len(groups) == 1 and isinstance(groups[0], dict)
    if not (one_group and isinstance(nested(states[0], "state"), dict)):
        raise UserError(
            f"{where}: its optimizer_states are not the state of one torch optimizer: {WRITTEN_BY}"
        )
    params = checkpoint["state_dict"]["net.params"]  # checked by src.checkpoint.check_structure
    reference = stepped_optimizer_state(plain["optimizer"], params.shape, params.dtype)
    group, scheduled = groups[0], bool(plain.get("scheduler"))
    name = OPTIMIZERS[plain["optimizer"]["_target_"]].__name__
    unknown = [key for key in group if key not in reference["param_groups"][0] and key != "initial_lr"]
    if unknown:
        raise UserError(
            f"{where}: its optimizer state holds {unknown[0]}, which {name} has not: {WRITTEN_BY}"
        )
    for key, default in reference["param_groups"][0].items():
        configured = plain["optimizer"].get(key, default)
        saved = group.get(key)
        if key == "lr" and scheduled:  # a schedule moves lr; it keeps the configured one as initial_lr
            saved = group.get("initial_lr", saved)
            agrees = same(saved, configured) or (
                "initial_lr" not in group and is_number(saved) and 0 < saved <= configured
            )
        else:
            agrees = same(as_list(saved), as_list(configured))
        if not agrees:
            said = (
                f"its hyper_parameters (and this configuration) say optimizer.{key}={show(configured)}"
                if key in plain["optimizer"]
                else f"{name}'s is {show(default)}"
            )
            raise UserError(
                f"{where}: its optimizer state holds {key}={show(saved)}, but {said}: {WRITTEN_BY}"
            )
    check_parameter_state(states[0]["state"], reference["state"].get(0, {}), where)


def check_parameter_state(state: dict[Any, Any], reference: dict[str, Any], where: str) -> None:
    """The optimizer's state of the network's one parameter (``net.params``, index 0), if it took a step:
    only the entries ``reference`` (the configured optimizer's after a step) has, each a finite tensor of
    its shape and dtype, or the ``None`` or finite number it holds there."""
    from src.checkpoint import WRITTEN_BY

    entries = state.get(0, {})
    if set(state) - {0} or not isinstance(entries, dict):
        raise UserError(
            f"{where}: its optimizer state is not that of one parameter, net.params: {WRITTEN_BY}"
        )
    for key, value in entries.items():
        if key not in reference:
            raise UserError(
                f"{where}: its optimizer state of net.params holds {show(key)}, which the optimizer has not: {WRITTEN_BY}"
            )
        expected = reference[key]
        if isinstance(expected, torch.Tensor):
            kind = f"a finite {str(expected.dtype).removeprefix('torch.')} tensor of shape {list(expected.shape)}"
            fits = (
                isinstance(value, torch.Tensor)
                and (value.shape, value.dtype, value.layout)
                == (expected.shape, expected.dtype, torch.strided)
                and bool(torch.isfinite(value).all())
            )
        elif expected is None:
            kind, fits = "null", value is None
        else:
            kind, fits = "a finite number", is_number(value) and math.isfinite(value)
        if not fits:
            raise UserError(
                f"{where}: its optimizer state of net.params holds {key}={show(value)}, not {kind}: {WRITTEN_BY}"
            )


def stepped_optimizer_state(
    values: Mapping[str, Any], shape: torch.Size, dtype: torch.dtype
) -> dict[str, Any]:
    """The ``state_dict()`` of the optimizer group ``values`` over one parameter of ``shape`` and ``dtype``
    after one step with a zero gradient: its settings as configured, and the state it keeps for the
    parameter. The step is taken with ``capturable`` off, which torch steps only on a GPU: it keeps the
    same entries."""
    parameter = torch.zeros(shape, dtype=dtype, requires_grad=True)
    settings = build_optimizer(values, [parameter]).state_dict()["param_groups"]
    optimizer = build_optimizer(
        {**values, "capturable": False} if "capturable" in values else values, [parameter]
    )
    parameter.grad = torch.zeros_like(parameter)
    optimizer.step()
    return {"param_groups": settings, "state": optimizer.state_dict()["state"]}


def progress_trackers(loops: Any) -> list[dict[str, Any]]:
    """Every progress tracker of Lightning's in a checkpoint's ``loops``: its ``total`` and ``current``
    entries, at every level."""
    if not isinstance(loops, dict):
        return []
    trackers = [part for key, part in loops.items() if key in ("total", "current") and isinstance(part, dict)]
    return trackers + [tracker for value in loops.values() for tracker in progress_trackers(value)]


def as_list(value: Any) -> Any:
    """A tuple as a list (the YAML of ``betas`` against torch's tuple)."""
    return list(value) if isinstance(value, tuple) else value


def check_something_left_to_train(checkpoint: dict[str, Any], plain: dict[str, Any]) -> None:
    """Refuse a resume that would train nothing: the checkpoint has reached ``trainer.max_epochs`` (or
    ``max_steps``) already, or it is where early stopping or the plateau schedule's ``max_reductions``
    ended its run. Lightning would end ``fit`` at once and test it, or train on where the run, never
    stopped, would not have."""
    where = f"ckpt_path={plain['ckpt_path']}"
    trainer = plain["trainer"]
    epochs_done = nested(checkpoint, "loops", "fit_loop", "epoch_progress", "current", "processed")
    for key, done, unit in (
        ("max_epochs", epochs_done, "epochs"),
        ("max_steps", checkpoint.get("global_step"), "SGD steps"),
    ):
        limit = trainer.get(key)
        if is_int(done) and limit not in (None, -1) and done >= limit:
            raise UserError(
                f"trainer.{key}={limit}: {where} has trained {done} {unit} already, so resuming it would "
                f"train nothing: give trainer.{key} greater than {done} (to test it, run python -m "
                f"src.evaluate {where})"
            )
    ended_by = what_ended_the_run(nested(checkpoint, "callbacks") or {}, plain)
    if ended_by is not None:
        raise UserError(
            f"{where} is where {ended_by} ended its run, so resuming it with the same settings would train "
            f"nothing (to test it, run python -m src.evaluate {where})"
        )


def saved_early_stopping(saved: Any, plain: dict[str, Any]) -> Iterator[tuple[str, Mapping[str, Any], Any]]:
    """Each configured early-stopping callback: its name, its settings and the state the checkpoint's
    callbacks' state ``saved`` holds for it (``None`` if none)."""
    from lightning.pytorch.callbacks import EarlyStopping

    for name, values in (plain.get("callbacks") or {}).items():
        if not (isinstance(values, Mapping) and str(values.get("_target_", "")).endswith("EarlyStopping")):
            continue
        mode = values.get("mode", early_stopping_default("mode"))
        key = EarlyStopping(monitor=values.get("monitor"), mode=mode).state_key
        yield name, values, nested(saved, key)


def check_callback_states(checkpoint: dict[str, Any], plain: dict[str, Any]) -> None:
    """Lightning hands each callback the state saved under its key as it is (``if state:``, a truth a tensor
    of two numbers has not): the callbacks' states must be mappings, and those of early stopping and of
    the model checkpoints hold entries of the kinds Lightning reads (:data:`EARLY_STOPPING_STATE`,
    :data:`MODEL_CHECKPOINT_STATE`); a best score that is a string failed at the first validation."""
    from src.checkpoint import WRITTEN_BY

    where = f"ckpt_path={plain['ckpt_path']}"
    states = checkpoint.get("callbacks")
    if states is None:  # Lightning restores no callback
        return
    if not isinstance(states, dict):
        raise UserError(
            f"{where}: its callbacks={show(states)} is not a mapping of callback states: {WRITTEN_BY}"
        )
    for key, state in states.items():
        if not isinstance(state, dict):
            raise UserError(f"{where}: its state of {key} is {show(state)}, not a mapping: {WRITTEN_BY}")
    for name, _, state in saved_early_stopping(states, plain):
        if state is not None:  # else trained without it: it starts afresh
            check_state_entries(state, EARLY_STOPPING_STATE, f"{where}: its state of callbacks.{name}")
    for key, state in states.items():
        if key.startswith("ModelCheckpoint{"):  # the state key of Lightning's class and of ours
            check_state_entries(state, MODEL_CHECKPOINT_STATE, f"{where}: its state of {key}")


def check_state_entries(
    state: dict[str, Any], rules: dict[str, tuple[str, Callable[[Any], bool], bool]], where: str
) -> None:
    """``state`` may hold only the entries ``rules`` names, each of its kind (in words, and its test), and
    must hold those the rule marks required (read without a default)."""
    from src.checkpoint import WRITTEN_BY

    missing = [key for key, (_, _, required) in rules.items() if required and key not in state]
    if missing:
        raise UserError(f"{where} lacks {', '.join(missing)}: {WRITTEN_BY}")
    for key, value in state.items():
        if key not in rules:
            raise UserError(f"{where} holds {show(key)}, which Lightning's callback has not: {WRITTEN_BY}")
        kind, is_of_kind, _ = rules[key]
        if not is_of_kind(value):
            raise UserError(f"{where} holds {key}={show(value)}, not {kind}: {WRITTEN_BY}")


def is_count(value: Any) -> bool:
    """An integer from 0 to :data:`~src.config.SIZE_MAX` (torch's int64: Lightning turned a count of 10**30
    into "Overflow when unpacking long long")."""
    return is_int(value) and 0 <= value <= SIZE_MAX


def is_stopping_reason(value: Any) -> bool:
    """One of the values of Lightning's ``EarlyStoppingReason`` (not stopped, stalled, ...)."""
    from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

    return is_int(value) and value in {reason.value for reason in EarlyStoppingReason}


def is_score(value: Any) -> bool:
    """``None`` or a metric's value (:func:`~src.config.is_one_number`): a model checkpoint's score."""
    return value is None or is_one_number(value)


def is_path(value: Any) -> bool:
    return isinstance(value, str)


COUNT, SCORE, PATH, TEXT = (
    ("a count >= 0", is_count),
    ("null or one number (not NaN) in a tensor", is_score),
    ("a string", is_path),
    ("null or a string", lambda value: value is None or isinstance(value, str)),
)
EARLY_STOPPING_STATE: dict[str, tuple[str, Callable[[Any], bool], bool]] = {
    "wait_count": (*COUNT, True),
    "stopped_epoch": (*COUNT, True),
    "patience": (*COUNT, True),
    "best_score": ("one number (not NaN) in a tensor", is_one_number, True),
    "stopping_reason": ("the value of one of Lightning's EarlyStoppingReason", is_stopping_reason, False),
    "stopping_reason_message": (*TEXT, False),
}
"""Each entry of the state Lightning's ``EarlyStopping`` saves: its kind, and whether
``EarlyStopping.load_state_dict`` reads it without a default."""
MODEL_CHECKPOINT_STATE: dict[str, tuple[str, Callable[[Any], bool], bool]] = {
    "monitor": (*TEXT, False),
    "best_model_score": (*SCORE, True),
    "best_model_path": (*PATH, False),
    "current_score": (*SCORE, False),
    "dirpath": (*TEXT, False),
    "best_k_models": (
        "a mapping of paths to scores",
        lambda value: (
            isinstance(value, dict)
            and all(is_path(path) and is_score(score) for path, score in value.items())
        ),
        False,
    ),
    "kth_best_model_path": (*PATH, False),
    "kth_value": (*SCORE, False),
    "last_model_path": (*PATH, False),
}
"""The same for ``ModelCheckpoint`` (Lightning's, and this project's :class:`~src.callbacks.BestCheckpoint`,
which keeps its paths only where they name checkpoints beside the one resumed)."""


def early_stopping_default(argument: str) -> Any:
    """Lightning's default for an ``EarlyStopping`` argument that a configuration leaves out."""
    from lightning.pytorch.callbacks import EarlyStopping

    return inspect.signature(EarlyStopping).parameters[argument].default


def check_early_stopping_patience(checkpoint: dict[str, Any], plain: dict[str, Any]) -> None:
    """Lightning's ``EarlyStopping`` restores its ``patience`` from the checkpoint: another configured
    patience would be silently replaced by the one the run was trained with."""
    for name, values, state in saved_early_stopping(nested(checkpoint, "callbacks") or {}, plain):
        configured = values.get("patience", early_stopping_default("patience"))
        saved = nested(state, "patience")
        if is_int(saved) and saved != configured:
            raise UserError(
                f"ckpt_path={plain['ckpt_path']} was trained with callbacks.{name}.patience={saved} "
                f"(configured: {show(configured)}): resuming restores early stopping's patience and count "
                f"from the checkpoint, so give callbacks.{name}.patience={saved}, or leave out ckpt_path to "
                "start a new run"
            )


def what_ended_the_run(saved: Any, plain: dict[str, Any]) -> str | None:
    """Which of the configured stopping rules had ended the run whose callbacks' state ``saved`` holds,
    in words; ``None`` if none had. Lightning restores their state, so they would only stop later."""
    for _, values, state in saved_early_stopping(saved, plain):
        patience, waited = nested(state, "patience"), nested(state, "wait_count")
        stalled = is_int(patience) and is_int(waited) and waited >= max(patience, 1)
        if stalled or (is_int(nested(state, "stopped_epoch")) and state["stopped_epoch"] > 0):
            plural = "" if waited == 1 else "s"
            return (
                f"early stopping (after {waited} validation{plural} without a better {values.get('monitor')})"
            )
    # a flag as training reads it: check_schedule_state refuses any other value
    if nested(saved, "LearningRateSchedule", "should_stop") is True:
        reductions = nested(saved, "LearningRateSchedule", "max_reductions")
        return f"the plateau schedule (scheduler.max_reductions={reductions} reached)"
    return None


def check_resume_position(checkpoint: dict[str, Any], plain: dict[str, Any]) -> None:
    """A checkpoint written in the middle of an epoch records how many chunks of it were trained; they
    are only the same samples with the same ``data.batch_size`` and ``data.batches_per_step``, and the same
    training set in the same shuffled order (:data:`TRAINING_ORDER`)."""
    progress = nested(checkpoint, "loops", "fit_loop", "epoch_loop.batch_progress")
    chunks = nested(progress, "current", "completed")
    trained = checkpoint["hyper_parameters"].get("data") or {}
    last_batch = nested(progress, "is_last_batch")  # Lightning reads any false value as the epoch's middle
    if last_batch is None or last_batch or not chunks:
        return
    if plain["trainer"].get("overfit_batches") not in (None, 0, 0.0):
        raise UserError(
            f"ckpt_path={plain['ckpt_path']} stopped in the middle of an epoch, after {chunks} of its batches, "
            f"and under trainer.overfit_batches={show(plain['trainer']['overfit_batches'])} Lightning's "
            "sequential batches have no position to resume from (the epoch would start again, training its "
            "first batches twice): resume from the last.ckpt beside it, written at the end of an epoch"
        )
    keys = ("batches_per_step", "batch_size")
    if all(key in trained for key in keys) and any(trained[key] != plain["data"].get(key) for key in keys):
        configured = ", ".join(f"data.{key}={show(plain['data'].get(key))}" for key in keys)
        raise UserError(
            f"ckpt_path={plain['ckpt_path']} stopped in the middle of an epoch, after {chunks} of its chunks "
            f"(data.batches_per_step={trained['batches_per_step']} mini-batches of "
            f"data.batch_size={trained['batch_size']}; configured: {configured}): resume it with those "
            "sizes, so that the epoch goes on at the sample where it stopped"
        )
    changed = [
        f"data.{key}={show(trained[key])} (configured: {show(plain['data'].get(key))})"
        for key in TRAINING_ORDER
        if key in trained and trained[key] != plain["data"].get(key)
    ]
    if changed:
        raise UserError(
            f"ckpt_path={plain['ckpt_path']} stopped in the middle of an epoch, after {chunks} of its chunks, "
            f"trained with {'; '.join(changed)}: the epoch goes on at the sample where it stopped only in "
            "the same shuffled order of the same training set, so resume it with those settings (seed= "
            "sets data.seed)"
        )


TRAINING_ORDER = (
    "_target_",
    "name",
    "seed",
    "split_seed",
    "val_fraction",
    "test_fraction",
    "val_size",
    "train_size",
)
"""The data settings that choose the training set and its shuffled order, the same in every epoch."""


def nested(container: Any, *keys: str) -> Any:
    """``container[key][key]...``, or ``None`` where a level is missing or not a dict (a checkpoint is
    data from outside)."""
    for key in keys:
        if not isinstance(container, dict):
            return None
        container = container.get(key)
    return container


def activation_text(activation: Mapping[str, Any]) -> str:
    """``tanh``, or ``leaky_relu(negative_slope=0.01)``: the slope only matters to leaky_relu."""
    if activation["name"] != "leaky_relu":
        return activation["name"]
    return f"leaky_relu(negative_slope={show(activation['negative_slope'])})"


def show_sizes_or_value(value: Any) -> str:
    """Layer sizes as ``64-16-16-10``, anything else as :func:`show` writes it."""
    return layer_sizes_text(value) if isinstance(value, list) else show(value)
