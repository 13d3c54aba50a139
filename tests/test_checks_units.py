"""Fast checks of src/checks.py, the checks a command runs on its whole configuration before anything
else, and of src/resume_checks.py, a checkpoint's saved state checked before resuming, calling each
directly: with the configurations Hydra composes from conf/, checkpoints made of the
parts Lightning saves (the network's hyperparameters, a torch optimizer's state, a Lightning trainer's
loop counters, the callbacks' states), tiny MNIST files in ``tmp_path``. Each check's accepted case, and
the exact one-line refusal naming the value and what is allowed. The commands themselves, resuming a real
run included, are tested in the slow tests (tests/test_checkpoints.py, tests/test_train.py)."""

import copy
import functools
import gzip
import os
from pathlib import Path
from types import SimpleNamespace

import hydra
import lightning as L
import pytest
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from lightning.pytorch.callbacks import EarlyStopping
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import ValidationError
from runs import compose_config, options, refused, write_idx

import src.checks as checks
import src.resume_checks as resume_checks
from src.checkpoint import load_checkpoint
from src.checks import (
    LAUNCHER_VARIABLES,
    check_callbacks,
    check_cuda_graph,
    check_data_files,
    check_dataset_files,
    check_max_steps,
    check_memory,
    check_monitors,
    check_precision,
    check_scheduler,
    check_trainer,
    check_validation_watched,
    config_errors,
    evaluation_data,
    last_epoch,
    long_precision,
    refused_arguments,
    step_through,
    validate_evaluate,
    validate_train,
)
from src.config import MONITOR_MODES, SIZE_MAX, DigitsData, TorchvisionData, build_optimizer, show
from src.data import DigitsDataModule, SyntheticDataModule, TorchvisionDataModule
from src.errors import UserError
from src.lit import MLPClassifier
from src.resume_checks import (
    check_callback_states,
    check_early_stopping_patience,
    check_inputs_match,
    check_parameter_state,
    check_resume,
    check_resume_position,
    check_schedule_state,
    check_something_left_to_train,
    check_training_state,
    progress_trackers,
)
from src.schedule import LearningRateSchedule

WRITTEN_BY = "give a .ckpt file written by python -m src.train"
CHOOSE_PRECISION = "choose one of 32-true, 64-true, 16-mixed, bf16-mixed, 16-true, bf16-true"


@functools.cache
def composed(name: str, *overrides: str) -> DictConfig:
    """``conf/<name>.yaml`` with ``overrides``, as Hydra composes it for the command (the checks write
    nothing into its output directory)."""
    return compose_config(name, Path("/nonexistent/run"), *overrides)


def config(*overrides: str, name: str = "train") -> DictConfig:
    """:func:`composed` with the overrides that choose options (``data=mnist``, ``seed=7``); those of a
    dotted key (``data.batch_size=20``, ``+trainer.max_steps=3``, ``~trainer.max_epochs``) are then set in
    it as Hydra sets them, which is quicker than composing each anew."""
    dotted = [override for override in overrides if "." in override.split("=")[0]]
    cfg = copy.deepcopy(composed(name, *(override for override in overrides if override not in dotted)))
    for override in OverridesParser.create().parse_overrides(dotted):
        if override.is_delete():
            parent, _, last = override.key_or_group.rpartition(".")
            with open_dict(cfg):
                del OmegaConf.select(cfg, parent)[last]
        else:
            OmegaConf.update(cfg, override.key_or_group, override.value(), force_add=True)
    return cfg


def plain_config(*overrides: str, name: str = "train") -> dict:
    """:func:`config` as plain values, what most checks read."""
    return OmegaConf.to_container(config(*overrides, name=name), resolve=True)


# --- the trainer ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "precision", ["32-true", "64-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true"]
)
def test_every_precision_lightning_names_is_accepted(precision):
    check_precision(precision)
    assert long_precision(precision) == precision


@pytest.mark.parametrize(
    ("short", "long"),
    [(32, "32-true"), ("32", "32-true"), (64, "64-true"), (16, "16-mixed"), ("bf16", "bf16-mixed")],
)
def test_lightnings_short_precision_names_are_accepted_as_its_long_ones(short, long):
    check_precision(short)
    assert long_precision(short) == long


@pytest.mark.parametrize(
    ("precision", "shown"),
    [(16.0, "16.0"), (True, "true"), ("8", '"8"'), ("32-mixed", "32-mixed"), (None, "null")],
)
def test_another_precision_is_one_line_naming_lightnings(precision, shown):
    assert refused(check_precision, precision) == f"trainer.precision={shown}: {CHOOSE_PRECISION}"


def test_the_cpu_trainer_of_conf_is_accepted(tmp_path):
    check_trainer(plain_config()["trainer"])
    check_trainer({})  # Lightning's defaults


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_epochs": 0}, "trainer.max_epochs=0: the number of epochs must be an integer >= 1"),
        ({"max_epochs": -1}, "trainer.max_epochs=-1: the number of epochs must be an integer >= 1"),
        ({"max_epochs": 2.0}, "trainer.max_epochs=2.0: the number of epochs must be an integer >= 1"),
        ({"precision": 8}, f"trainer.precision=8: {CHOOSE_PRECISION}"),
        ({"num_nodes": 0}, "trainer.num_nodes=0: must be an integer >= 1"),
        ({"check_val_every_n_epoch": 0}, "trainer.check_val_every_n_epoch=0: must be an integer >= 1"),
        ({"check_val_every_n_epoch": True}, "trainer.check_val_every_n_epoch=true: must be an integer >= 1"),
        *(
            (
                {"val_check_interval": value},
                f"trainer.val_check_interval={shown}: must be a fraction of an epoch (0 < x <= 1) or a number of "
                "training batches >= 1",
            )
            for value, shown in ((0, "0"), (0.0, "0.0"), (-0.5, "-0.5"), ("0.5", '"0.5"'), (True, "true"))
        ),
        *(
            (
                {"accumulate_grad_batches": value},
                f"trainer.accumulate_grad_batches={value}: training takes one SGD step per mini-batch; for "
                "steps over more samples raise data.batch_size instead",
            )
            for value in (2, 0)
        ),
        *(
            (
                {"gradient_clip_val": value},
                f"trainer.gradient_clip_val={value}: not supported: training steps by hand (manual "
                "optimization), where Lightning does not clip; lower optimizer.lr instead",
            )
            for value in (0.5, 0)
        ),
    ],
)
def test_a_trainer_setting_this_project_cannot_follow_is_one_line(settings, message):
    assert refused(check_trainer, settings) == message


@pytest.mark.parametrize(
    "settings",
    [
        {"max_epochs": 1, "num_nodes": 1, "check_val_every_n_epoch": 1},
        {"num_nodes": None, "check_val_every_n_epoch": None, "val_check_interval": None},
        {"val_check_interval": 0.25},
        {"val_check_interval": 1},
        {"val_check_interval": 1e-9},
        {"accumulate_grad_batches": 1, "gradient_clip_val": None},
        {"precision": "16"},
    ],
)
def test_trainer_settings_within_their_ranges_are_accepted(settings):
    check_trainer(settings)


@pytest.mark.parametrize("accelerator", ["gpu", "cuda"])
def test_a_gpu_trainer_without_a_gpu_is_one_line(accelerator, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert refused(check_trainer, {"accelerator": accelerator}) == (
        f"trainer.accelerator={accelerator}: torch {torch.__version__} finds no CUDA GPU on this machine; "
        "train on the CPU with trainer=cpu"
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    check_trainer({"accelerator": accelerator, "devices": 64})  # GPUs, not the CPU's cores


@pytest.mark.parametrize("devices", [0, -1, 1.5, "2", None, [0]])
def test_a_number_of_cpu_processes_that_is_none_is_one_line_with_the_range(devices, monkeypatch):
    """Lightning's own line for devices=-1 named neither the value nor the range (a tester)."""
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert refused(check_trainer, {"accelerator": "cpu", "devices": devices}) == (
        f"trainer.devices={show(devices)}: the number of CPU processes must be an integer from 1 to 4 (this "
        "machine's cores), or auto"
    )


def test_the_number_of_cpu_processes_is_checked_as_read_from_the_yaml(monkeypatch):
    """Strings equal to this file's "cpu" and "auto", not the same objects (which ``is`` would find)."""
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert refused(check_trainer, plain_config("trainer=cpu", "trainer.devices=0")["trainer"]) == (
        "trainer.devices=0: the number of CPU processes must be an integer from 1 to 4 (this machine's cores), "
        "or auto"
    )
    check_trainer(plain_config("trainer=cpu", "trainer.devices=auto")["trainer"])


@pytest.mark.parametrize("batches", [0, 0.0])
def test_training_on_no_batch_is_refused(batches):
    """``debug=limit trainer.limit_train_batches=0`` tested an untrained network and ended with exit 0."""
    assert refused(check_trainer, {"limit_train_batches": batches}) == (
        f"trainer.limit_train_batches={batches}: trains on no batch; give a number of batches >= 1 or a "
        "fraction of an epoch > 0"
    )
    check_trainer({"limit_train_batches": 0.1})


def test_several_nodes_without_a_launcher_are_refused_before_they_wait_forever(monkeypatch):
    """``trainer=ddp_cpu trainer.num_nodes=2`` started its 2 processes, which waited for the other node's
    in a rendezvous that even SIGTERM did not end (a tester killed it with -9 after 11 minutes)."""
    for name in LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert refused(check_trainer, {"accelerator": "cpu", "devices": 2, "num_nodes": 2}) == (
        "trainer.num_nodes=2: no launcher started this process (torchrun, srun) and it has no NODE_RANK and "
        'MASTER_ADDR, so it would wait for the other nodes forever: start it on each node (README, "Several '
        'devices and mixed precision"), or leave num_nodes out'
    )
    check_trainer({"accelerator": "cpu", "devices": 2, "num_nodes": 1})
    for name in ("LOCAL_RANK", "SLURM_PROCID", "NODE_RANK", "MASTER_ADDR"):  # torchrun, srun, by hand
        monkeypatch.setenv(name, "0")
        check_trainer({"accelerator": "cpu", "devices": 2, "num_nodes": 2})
        monkeypatch.delenv(name)


def test_more_cpu_processes_than_cores_is_one_line(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    check_trainer({"accelerator": "cpu", "devices": 4})
    check_trainer({"accelerator": "cpu", "devices": "auto"})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    check_trainer({"accelerator": "auto", "devices": 5})  # GPUs: Lightning checks their number
    check_trainer({"devices": 5})  # Lightning's default accelerator is auto
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for settings in ({"accelerator": "cpu"}, {"accelerator": "auto"}, {}):  # auto runs on the CPU here
        assert refused(check_trainer, {**settings, "devices": 5}) == (
            "trainer.devices=5: more CPU processes than this machine's 4 cores would only compete for them; "
            "choose at most 4"
        )
        check_trainer({**settings, "devices": 4})
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # unknown: one core
    check_trainer({"accelerator": "cpu"})  # one device by default
    assert refused(check_trainer, {"accelerator": "cpu", "devices": 2}) == (
        "trainer.devices=2: more CPU processes than this machine's 1 cores would only compete for them; "
        "choose at most 1"
    )
    # as read from conf/trainer/cpu.yaml: an equal string, not this file's "cpu" object
    assert refused(check_trainer, plain_config("trainer=cpu", "trainer.devices=2")["trainer"]).startswith(
        "trainer.devices=2: more CPU processes than this machine's 1 cores"
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"min_epochs": -3}, "trainer.min_epochs=-3: the least number of epochs must be an integer >= 0"),
        (
            {"log_every_n_steps": -1},
            "trainer.log_every_n_steps=-1: the number of training batches between logged steps must be an "
            "integer >= 1",
        ),
        (
            {"num_sanity_val_steps": -5},
            "trainer.num_sanity_val_steps=-5: the number of validation batches run before training (-1: all) "
            "must be an integer >= -1",
        ),
        ({"deterministic": "maybe"}, "trainer.deterministic=maybe: must be true, false, warn or null"),
        ({"deterministic": 1}, "trainer.deterministic=1: must be true, false, warn or null"),
    ],
)
def test_trainer_settings_lightning_ignored_or_misread_are_one_line(settings, message):
    """Each was taken by Lightning and ignored or misread, exit code 0 (a tester)."""
    assert refused(check_trainer, settings) == message


@pytest.mark.parametrize(
    "settings",
    [
        {"min_epochs": 0},
        {"log_every_n_steps": 1},
        {"num_sanity_val_steps": -1},
        {"num_sanity_val_steps": 0},
        {"deterministic": True},
        {"deterministic": "warn"},
        {"deterministic": None},
    ],
    ids=repr,
)
def test_trainer_settings_lightning_reads_are_accepted(settings):
    check_trainer(settings)


@pytest.mark.parametrize("steps", [0, -2, 1.5, "10", True])
def test_a_number_of_sgd_steps_that_trains_none_or_is_none_is_one_line(steps):
    """``trainer.max_steps=0`` tested an untrained network and ended with exit 0 (a tester)."""
    assert refused(check_trainer, {"max_steps": steps}) == (
        f"trainer.max_steps={show(steps)}: must be a number of SGD steps >= 1, or -1 (no limit: "
        "trainer.max_epochs ends the run)"
    )
    for steps in (None, -1, 1, 10**6):
        check_trainer({"max_steps": steps})


@pytest.mark.parametrize(
    "duration",
    ["00:00:00:00", "abc", "1:00", 60, 1.5, {"days": -1}, {"seconds": 0}, {"weeks": "x"}, {"fortnights": 1}],
    ids=repr,
)
def test_a_time_limit_that_is_no_time_or_no_duration_is_one_line(duration):
    """A zero or negative ``trainer.max_time`` ended training at once and tested the untrained network, exit
    0; a number of seconds failed in Lightning with a message about ``total_seconds`` (a tester)."""
    assert refused(check_trainer, {"max_time": duration}) == (
        f"trainer.max_time={show(duration)}: must be a duration > 0, as DD:HH:MM:SS (00:01:30:00) or a mapping "
        "({hours: 1, minutes: 30})"
    )


@pytest.mark.parametrize(
    "duration", ["00:00:00:01", "2:12:00:00", {"minutes": 1.5}, {"days": 1, "hours": -1}]
)
def test_a_time_limit_lightning_reads_is_accepted(duration):
    check_trainer({"max_time": duration})


def test_max_steps_is_refused_unless_each_chunk_is_one_mini_batch():
    for max_steps in (None, -1):
        check_max_steps({"max_steps": max_steps}, DigitsData(batches_per_step=4))
    check_max_steps({}, DigitsData(batches_per_step=4))
    check_max_steps({"max_steps": 5}, DigitsData(batches_per_step=1))
    for max_steps in (5, 0):
        assert refused(check_max_steps, {"max_steps": max_steps}, DigitsData(batches_per_step=4)) == (
            f"trainer.max_steps={max_steps}: counts SGD steps, but training stops only between chunks of "
            "data.batches_per_step=4 mini-batches, so it would train more: add data.batches_per_step=1, or stop "
            "by epochs with trainer.max_epochs"
        )


# --- CUDA graphs, the monitors, the schedule -----------------------------------------------------------


def optimizer(name: str = "SGD", **arguments) -> torch.optim.Optimizer:
    return getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)], lr=0.1, **arguments)


def test_a_capturable_optimizer_off_the_gpu_is_one_line():
    assert refused(check_cuda_graph, "auto", {"accelerator": "cpu"}, optimizer("Adam", capturable=True)) == (
        "optimizer.capturable=true: torch runs a capturable Adam step only on a GPU, and this run trains on "
        "the cpu; leave optimizer.capturable out"
    )
    for accelerator in ("gpu", "auto", None):  # a GPU, or perhaps one: known when the run starts
        check_cuda_graph("auto", {"accelerator": accelerator}, optimizer("Adam", capturable=True))


SUGGESTION = "; choose model.cuda_graph=auto (trains eagerly here) or off"


@pytest.mark.parametrize(
    ("trainer", "reason"),
    [
        ({"accelerator": "cpu"}, "the network trains on the cpu"),
        ({"accelerator": "gpu", "precision": 16}, "trainer.precision=16-mixed"),
        (
            {"accelerator": "gpu", "strategy": {"_target_": "lightning.pytorch.strategies.DDPStrategy"}},
            "trainer=ddp",
        ),
        ({"accelerator": "gpu", "strategy": "DDP_spawn"}, "trainer=ddp"),
        ({"accelerator": "gpu", "detect_anomaly": True}, "trainer.detect_anomaly=true"),
    ],
)
def test_cuda_graphs_on_where_the_configuration_shows_they_cannot_run_is_one_line(trainer, reason):
    message = refused(check_cuda_graph, "on", trainer, optimizer())
    assert message.startswith(f"model.cuda_graph=on: {reason}")
    assert message.endswith(SUGGESTION)


@pytest.mark.parametrize(
    ("mode", "trainer"),
    [
        ("on", {"accelerator": "gpu"}),
        ("on", {}),  # accelerator auto, 32-true
        (
            "on",
            {"accelerator": "gpu", "precision": "bf16-mixed", "strategy": "auto", "detect_anomaly": False},
        ),
        (
            "on",
            {
                "accelerator": "gpu",
                "strategy": {"_target_": "lightning.pytorch.strategies.SingleDeviceStrategy"},
            },
        ),
        ("on", {"accelerator": "gpu", "strategy": None}),
        ("auto", {"accelerator": "cpu", "precision": 16, "detect_anomaly": True}),
        ("off", {"accelerator": "gpu", "strategy": "ddp"}),
    ],
)
def test_cuda_graphs_where_they_can_run_or_are_not_asked_for_are_accepted(mode, trainer):
    check_cuda_graph(mode, trainer, optimizer())


def test_monitors_of_metrics_training_logs_are_accepted(tmp_path):
    plain = plain_config("callbacks=early_stopping", "scheduler=plateau")
    check_monitors(plain["callbacks"], plain["scheduler"])
    check_monitors(None, None)
    check_monitors({"early_stopping": None}, {})  # switched off
    check_monitors({"early_stopping": {"monitor": None, "mode": "min"}}, {"monitor": "val/loss"})
    for metric, mode in MONITOR_MODES.items():
        check_monitors({"early_stopping": {"monitor": metric, "mode": mode}}, None)


@pytest.mark.parametrize(
    ("callbacks", "scheduler", "message"),
    [
        (
            {"early_stopping": {"monitor": "val/ac"}},
            None,
            "callbacks.early_stopping.monitor=val/ac: choose one of val/acc, val/loss, val/acc_best, train/loss",
        ),
        (
            {"model_checkpoint": {"monitor": "val/acc", "mode": "maximum"}},
            None,
            "callbacks.model_checkpoint.mode=maximum: choose one of max, min",
        ),
        (
            {"model_checkpoint": {"monitor": "val/acc", "mode": None}},
            None,
            "callbacks.model_checkpoint.mode=null: choose one of max, min",
        ),
        (
            None,
            {"monitor": "train/loss"},
            "scheduler.monitor=train/loss: choose one of val/acc, val/loss, val/acc_best",
        ),
        (None, {"monitor": "val/loss", "mode": "up"}, "scheduler.mode=up: choose one of max, min"),
        (  # Lightning would keep the checkpoint of the highest loss
            {"model_checkpoint": {"monitor": "val/loss", "mode": "max"}},
            None,
            "callbacks.model_checkpoint.mode=max: callbacks.model_checkpoint.monitor=val/loss is better when "
            "lower; use callbacks.model_checkpoint.mode=min",
        ),
        (
            None,
            {"monitor": "val/acc", "mode": "min"},
            "scheduler.mode=min: scheduler.monitor=val/acc is better when higher; use scheduler.mode=max",
        ),
        (  # a callback switched off ends nothing: the ones after it are checked
            {"model_checkpoint": None, "early_stopping": {"monitor": "val/ac"}},
            None,
            "callbacks.early_stopping.monitor=val/ac: choose one of val/acc, val/loss, val/acc_best, train/loss",
        ),
    ],
)
def test_a_monitor_or_mode_training_never_logs_is_one_line(callbacks, scheduler, message):
    assert refused(check_monitors, callbacks, scheduler) == message


EARLY_STOPPING = "lightning.pytorch.callbacks.EarlyStopping"
PATIENCE = "the number of validations without improvement that stops training must be an integer >= 0"
MIN_DELTA = (
    "must be a finite number >= 0 (the least change of the monitored metric that counts as an improvement)"
)


def early_stopping(**changes) -> dict:
    """callbacks=early_stopping's callbacks, its early stopping's arguments changed."""
    callbacks = plain_config("callbacks=early_stopping")["callbacks"]
    callbacks["early_stopping"] |= changes
    return callbacks


def test_every_callback_of_conf_takes_its_arguments():
    check_callbacks(plain_config("callbacks=early_stopping")["callbacks"])
    check_callbacks(None)
    check_callbacks({"early_stopping": None, "mine": {"size": 2}})  # off, and no config: src.instantiate's


@pytest.mark.parametrize(
    "before", [None, {"size": 2}, {"_target_": "no.such.Callback"}], ids=["off", "no_target", "unknown_class"]
)
def test_the_callbacks_after_one_the_checks_leave_to_instantiate_are_checked(before):
    """A callback switched off, or one that :mod:`src.instantiate` refuses, does not end the checks."""
    callbacks = {"first": before, **early_stopping(patience=-1)}
    assert refused(check_callbacks, callbacks) == f"callbacks.early_stopping.patience=-1: {PATIENCE}"


@pytest.mark.parametrize(
    "changes",
    [
        {"patience": 0},  # stops at the first validation without improvement, as 1 does
        {"patience": 10**6, "min_delta": 0},
        {"min_delta": 0.01, "stopping_threshold": 0.99, "divergence_threshold": 0},
        {"stopping_threshold": None, "check_on_train_epoch_end": None, "strict": False},
        {
            "check_on_train_epoch_end": True,
            "check_finite": False,
            "log_rank_zero_only": True,
            "verbose": False,
        },
        {"monitor": "val/loss", "mode": "min"},
    ],
)
def test_early_stopping_arguments_lightning_reads_as_meant_are_accepted(changes):
    check_callbacks(early_stopping(**changes))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        # a TypeError after the first epoch
        ({"min_delta": "abc"}, f"min_delta=abc: {MIN_DELTA}"),
        # a TypeError at the first validation without improvement
        ({"patience": None}, f"patience=null: {PATIENCE}"),
        ({"patience": "abc"}, f"patience=abc: {PATIENCE}"),
        ({"patience": "3"}, f'patience="3": {PATIENCE}'),
        # accepted, and read otherwise than meant: -1 stopped at the first validation without improvement,
        # 1.5 as 2, a negative min_delta took a worse value for the best, nan and inf never improved
        ({"patience": -1}, f"patience=-1: {PATIENCE}"),
        ({"patience": 1.5}, f"patience=1.5: {PATIENCE}"),
        ({"patience": True}, f"patience=true: {PATIENCE}"),
        ({"min_delta": -1}, f"min_delta=-1: {MIN_DELTA}"),
        ({"min_delta": float("nan")}, f"min_delta=nan: {MIN_DELTA}"),
        ({"min_delta": float("inf")}, f"min_delta=inf: {MIN_DELTA}"),
        ({"min_delta": None}, f"min_delta=null: {MIN_DELTA}"),
        # no metric: Lightning's RuntimeError after the first epoch
        ({"monitor": None}, "monitor=null: choose one of val/acc, val/loss, val/acc_best, train/loss"),
        ({"stopping_threshold": "high"}, "stopping_threshold=high: must be a number or null"),
        ({"divergence_threshold": True}, "divergence_threshold=true: must be a number or null"),
        ({"stopping_threshold": float("nan")}, "stopping_threshold=nan: must be a number or null"),
        ({"check_finite": 1}, "check_finite=1: must be true or false"),
        ({"verbose": "yes"}, "verbose=yes: must be true or false"),
        ({"strict": None}, "strict=null: must be true or false"),
        ({"log_rank_zero_only": 0}, "log_rank_zero_only=0: must be true or false"),
        ({"check_on_train_epoch_end": "auto"}, "check_on_train_epoch_end=auto: must be true, false or null"),
        ({"mode": 1}, "mode=1: must be a string"),  # validate_train's check_monitors names the modes first
    ],
)
def test_early_stopping_arguments_lightning_fails_on_or_misreads_are_one_line(changes, message):
    assert refused(check_callbacks, early_stopping(**changes)) == f"callbacks.early_stopping.{message}"


def test_a_subclass_of_early_stopping_follows_its_rules():
    callbacks = early_stopping(
        _target_=f"{EarlyStopping.__module__}.{EarlyStopping.__qualname__}", patience=-1
    )
    assert refused(check_callbacks, callbacks) == f"callbacks.early_stopping.patience=-1: {PATIENCE}"
    callbacks["early_stopping"]["_target_"] = f"{__name__}.PatientStopping"
    assert refused(check_callbacks, callbacks) == f"callbacks.early_stopping.patience=-1: {PATIENCE}"


class PatientStopping(EarlyStopping):
    pass


@pytest.mark.parametrize(
    ("name", "changes", "message"),
    [
        # src.visualize.TensorBoardFigures compared "abc" < 1: a TypeError naming neither key nor rule
        ("tensorboard_figures", {"every_n_epochs": "abc"}, "every_n_epochs=abc: must be an integer >= 1"),
        ("tensorboard_figures", {"every_n_epochs": 1.5}, "every_n_epochs=1.5: must be an integer >= 1"),
        ("tensorboard_figures", {"every_n_epochs": 0}, "every_n_epochs=0: must be an integer >= 1"),
        ("tensorboard_figures", {"max_misclassified": -1}, "max_misclassified=-1: must be an integer >= 0"),
        (
            "tensorboard_figures",
            {"max_misclassified": None},
            "max_misclassified=null: must be an integer >= 0",
        ),
        # src.callbacks.BestCheckpoint(**kwargs) passes them on to Lightning's ModelCheckpoint
        ("model_checkpoint", {"save_top_k": "all"}, "save_top_k=all: must be an integer"),
        ("model_checkpoint", {"save_last": "yes"}, "save_last=yes: must be true, false, link or null"),
        ("last_checkpoint", {"every_n_epochs": 0.5}, "every_n_epochs=0.5: must be an integer or null"),
        ("interrupt_checkpoint", {"dirpath": 5}, "dirpath=5: must be a string or null"),
    ],
)
def test_a_callback_argument_not_of_the_kind_its_class_annotates_is_one_line(name, changes, message):
    callbacks = plain_config()["callbacks"]
    callbacks[name] |= changes
    assert refused(check_callbacks, callbacks) == f"callbacks.{name}.{message}"


@pytest.mark.parametrize(
    "entry",
    [
        {"_target_": "nowhere.Callback", "patience": -1},
        {"_target_": "src.callbacks.Nowhere"},
        {"_target_": "builtins.dict", "patience": -1},
        {"_target_": "builtins.len"},
        {"_target_": "src.callbacks.StopOnSignal", "every": 2},
        {"_target_": f"{__name__}.PatientStopping", "_partial_": True},
        {"_target_": 5},
    ],
    ids=repr,
)
def test_a_class_that_cannot_be_found_or_an_argument_it_does_not_take_is_left_to_instantiate(entry):
    """src.instantiate builds them next, and names what fails in one line (tests/test_errors.py)."""
    check_callbacks({"mine": entry})


def test_no_validation_is_refused_where_early_stopping_or_the_plateau_schedule_watches_it(tmp_path):
    for limit in (0, 0.0):
        plain = plain_config("callbacks=early_stopping", f"+trainer.limit_val_batches={limit}")
        assert refused(
            check_validation_watched, plain["trainer"], plain["callbacks"], plain["scheduler"]
        ) == (
            f"trainer.limit_val_batches={limit}: runs no validation, but callbacks.early_stopping.monitor=val/acc "
            "watches it: leave out limit_val_batches, or switch it off with callbacks.early_stopping=null"
        )
    plain = plain_config("scheduler=plateau", "scheduler.monitor=val/loss", "+trainer.limit_val_batches=0")
    assert refused(check_validation_watched, plain["trainer"], plain["callbacks"], plain["scheduler"]) == (
        "trainer.limit_val_batches=0: runs no validation, but scheduler.monitor=val/loss watches it: leave out "
        "limit_val_batches, or switch it off with scheduler=none"
    )
    stopping = {"_target_": "lightning.pytorch.callbacks.EarlyStopping", "monitor": "val/acc"}
    assert refused(  # a callback switched off ends nothing: the ones after it are checked
        check_validation_watched, {"limit_val_batches": 0}, {"off": None, "early_stopping": stopping}, None
    ).startswith(
        "trainer.limit_val_batches=0: runs no validation, but callbacks.early_stopping.monitor=val/acc"
    )


def test_no_validation_is_accepted_where_nothing_stops_or_schedules_on_it(tmp_path):
    # the default callbacks: the best checkpoint by val/acc is only never saved
    plain = plain_config("+trainer.limit_val_batches=0")
    assert plain["callbacks"]["model_checkpoint"]["monitor"] == "val/acc"
    check_validation_watched(plain["trainer"], plain["callbacks"], plain["scheduler"])
    stopping = {"_target_": "lightning.pytorch.callbacks.EarlyStopping", "monitor": "val/acc"}
    check_validation_watched({"limit_val_batches": 0}, {"early_stopping": None}, None)
    check_validation_watched(
        {"limit_val_batches": 0}, {"early_stopping": {**stopping, "monitor": "train/loss"}}, {}
    )
    check_validation_watched(
        {"limit_val_batches": 0}, {"early_stopping": {**stopping, "monitor": None}}, None
    )
    check_validation_watched({"limit_val_batches": 0}, None, {"_target_": "x", "monitor": None})
    for limit in (1, 0.5, None):  # validation runs
        check_validation_watched(
            {"limit_val_batches": limit}, {"early_stopping": stopping}, {"monitor": "val/acc"}
        )


STEP = "torch.optim.lr_scheduler.StepLR"


def test_no_scheduler_is_a_constant_rate():
    check_scheduler(None, optimizer(), 40)
    check_scheduler({}, optimizer(), 40)


def test_every_scheduler_of_conf_builds_and_steps_on_a_copy_of_the_optimizer(tmp_path):
    for name in options("scheduler"):
        sgd = optimizer()
        check_scheduler(plain_config(f"scheduler={name}")["scheduler"], sgd, 40)
        assert sgd.param_groups[0]["lr"] == 0.1
        assert "initial_lr" not in sgd.param_groups[0]


@pytest.mark.parametrize(
    ("values", "epochs", "message"),
    [
        (
            {"patience": 2},
            40,
            "scheduler={patience: 2}: settings without a scheduler to take them; choose one with "
            f"scheduler={', '.join(options('scheduler')[:-1])} or {options('scheduler')[-1]}",
        ),
        (
            {"_target_": STEP, "stepsize": 2, "monitor": "val/acc"},
            40,
            f"scheduler: {STEP} refuses its arguments {{stepsize: 2}} (StepLR.__init__() got an unexpected keyword "
            "argument 'stepsize')",
        ),
        (
            {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau", "mode": "max"},
            40,
            "scheduler.monitor is missing: ReduceLROnPlateau needs a metric, e.g. val/acc",
        ),
        (
            {"_target_": "src.schedule.ReduceLROnPlateau", "monitor": None},
            40,
            "scheduler.monitor is missing: ReduceLROnPlateau needs a metric, e.g. val/acc",
        ),
        (
            {"_target_": STEP, "step_size": 0},
            1,
            f"scheduler: {STEP} with {{step_size: 0}} fails (ZeroDivisionError: integer modulo by zero)",
        ),
        (
            {"_target_": STEP, "step_size": "2"},
            1,
            f'scheduler: {STEP} with {{step_size: "2"}} fails (TypeError: unsupported operand '
            "type(s) for %: 'int' and 'str')",
        ),
        (  # built and stepped without fault until its first milestone
            {"_target_": "torch.optim.lr_scheduler.MultiStepLR", "milestones": [3], "gamma": "half"},
            3,
            "scheduler: torch.optim.lr_scheduler.MultiStepLR with {milestones: [3], gamma: half} fails (TypeError: "
            "unsupported operand type(s) for ** or pow(): 'str' and 'int')",
        ),
        (
            {"_target_": STEP, "step_size": 2, "gamma": -1},
            2,
            f"scheduler: {STEP} with {{step_size: 2, gamma: -1}} makes the learning rate -0.1 after epoch 2: it "
            "must stay a finite number >= 0",
        ),
        (  # a negative factor: the first reduction turns the rate negative (torch's rel threshold 1e-4)
            {
                "_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau",
                "monitor": "val/acc",
                "mode": "max",
                "factor": -1.0,
                "min_lr": -1.0,
                "patience": 0,
            },
            3,
            "scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau with {mode: max, factor: -1.0, min_lr: -1.0, "
            "patience: 0} makes the learning rate -0.1 after epoch 2: it must stay a finite number >= 0",
        ),
        (  # the same whatever the threshold: the metric never changes, so it never improves
            {
                "_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau",
                "monitor": "val/loss",
                "mode": "max",
                "threshold": -0.5,
                "factor": -1.0,
                "min_lr": -1.0,
                "patience": 1,
            },
            4,
            "scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau with {mode: max, threshold: -0.5, factor: -1.0, "
            "min_lr: -1.0, patience: 1} makes the learning rate -0.1 after epoch 3: it must stay a finite number >= 0",
        ),
        (
            {"_target_": STEP, "step_size": 3, "gamma": float("nan")},
            40,
            f"scheduler: {STEP} with {{step_size: 3, gamma: nan}} makes the learning rate nan after epoch 3: it "
            "must stay a finite number >= 0",
        ),
        (
            {"_target_": STEP, "step_size": 1, "gamma": float("inf")},
            40,
            f"scheduler: {STEP} with {{step_size: 1, gamma: inf}} makes the learning rate inf after epoch 1: it "
            "must stay a finite number >= 0",
        ),
    ],
)
def test_a_scheduler_that_cannot_be_built_or_stepped_through_the_run_is_one_line(values, epochs, message):
    assert refused(check_scheduler, values, optimizer(), epochs) == message


def test_a_schedule_is_stepped_through_every_epoch_of_the_run_and_no_further():
    falling = {"_target_": STEP, "step_size": 2, "gamma": -1}
    check_scheduler(falling, optimizer(), 1)  # the rate turns negative after the second epoch
    check_scheduler({"_target_": STEP, "step_size": 1, "gamma": 0.0}, optimizer(), 3)  # 0 is a rate
    refused(check_scheduler, falling, optimizer(), 2)
    later = {"_target_": STEP, "step_size": 3, "gamma": -1}  # negative after the third
    check_scheduler(later, optimizer(), 2)
    refused(check_scheduler, later, optimizer(), 3)


# --- memory ---------------------------------------------------------------------------------------------


def test_a_network_that_fits_in_memory_exactly_is_accepted(monkeypatch):
    # 784-1000000-20-10: 785 * 1000000 + 1000001 * 20 + 21 * 10 = 805000230 weights and biases, 8 bytes each
    monkeypatch.setattr(checks, "memory_bytes", lambda: 6440001840)
    check_memory([784, 1000000, 20, 10])
    check_memory([64, 16, 16, 10])


def test_a_network_too_large_for_memory_is_one_line(monkeypatch):
    monkeypatch.setattr(checks, "memory_bytes", lambda: 6440001839)
    assert refused(check_memory, [784, 1000000, 20, 10]) == (
        "model.hidden=[1000000, 20]: a 784-1000000-20-10 network has 805000230 weights and biases, 6.0 GiB "
        "with their gradients in float32, more than this machine's 6.0 GiB of memory"
    )
    monkeypatch.setattr(checks, "memory_bytes", lambda: 3 * 2**29)
    assert refused(check_memory, [64, 300000000, 10]) == (  # 65 * 300000000 + 300000001 * 10 weights
        "model.hidden=[300000000]: a 64-300000000-10 network has 22500000010 weights and biases, 167.6 GiB "
        "with their gradients in float32, more than this machine's 1.5 GiB of memory"
    )
    monkeypatch.setattr(checks, "memory_bytes", lambda: 100)
    assert refused(check_memory, [784, 10]) == (  # 7850 weights and biases, 62800 bytes
        "model.hidden=[]: a 784-10 network has 7850 weights and biases, 0.0 GiB with their gradients in "
        "float32, more than this machine's 0.0 GiB of memory"
    )


def test_each_layer_counts_its_inputs_and_one_bias_per_neuron(monkeypatch):
    # 63-5-10: 5 * (63 + 1) + 10 * (5 + 1) = 380 weights and biases, 3040 bytes (odd sizes)
    monkeypatch.setattr(checks, "memory_bytes", lambda: 3040)
    check_memory([63, 5, 10])
    monkeypatch.setattr(checks, "memory_bytes", lambda: 3039)
    assert refused(check_memory, [63, 5, 10]) == (
        "model.hidden=[5]: a 63-5-10 network has 380 weights and biases, 0.0 GiB with their gradients in "
        "float32, more than this machine's 0.0 GiB of memory"
    )


def test_a_network_of_no_hidden_layer_as_large_as_memory_is_accepted(monkeypatch):
    monkeypatch.setattr(checks, "memory_bytes", lambda: 62800)
    check_memory([784, 10])


# --- the data's files ------------------------------------------------------------------------------------

FETCH = "put the MNIST files in {raw}/ or add data.download=true to fetch them"


def test_files_in_root_are_not_looked_for_when_they_will_be_downloaded(tmp_path):
    check_data_files(TorchvisionData(root=str(tmp_path / "nothing"), download=True))
    check_data_files(DigitsData())


def test_a_missing_root_is_one_line(tmp_path):
    root = tmp_path / "nothing"
    assert refused(check_data_files, TorchvisionData(root=str(root))) == (
        f"data.root={root} does not exist: {FETCH.format(raw=root / 'MNIST' / 'raw')}"
    )
    (tmp_path / "file").write_text("")
    assert refused(check_dataset_files, tmp_path / "file", "FashionMNIST", 10) == (
        f"data.root={tmp_path / 'file'} is not a directory: put the FashionMNIST files in "
        f"{tmp_path / 'file' / 'FashionMNIST' / 'raw'}/ or add data.download=true to fetch them"
    )


@pytest.mark.parametrize(
    "missing",
    [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ],
)
def test_a_missing_file_is_one_line_naming_it_as_downloaded(tmp_path, missing):
    raw = write_idx(tmp_path, "MNIST") / "MNIST" / "raw"
    (raw / missing).unlink()
    assert refused(check_dataset_files, tmp_path, "MNIST", 10) == (
        f"data.root={tmp_path} holds no MNIST data (missing {raw / missing}.gz): {FETCH.format(raw=raw)}"
    )


def test_the_files_gzipped_as_downloaded_or_extracted_are_read(tmp_path):
    raw = write_idx(tmp_path, "MNIST", n_train=40) / "MNIST" / "raw"
    check_dataset_files(tmp_path, "MNIST", 39)
    for file in list(raw.iterdir())[:2]:  # some gzipped, some extracted
        (raw / f"{file.name}.gz").write_bytes(gzip.compress(file.read_bytes()))
        file.unlink()
    check_dataset_files(tmp_path, "MNIST", 39)
    for file in raw.iterdir():  # an extracted file is read before its .gz
        if file.suffix != ".gz":
            (raw / f"{file.name}.gz").write_bytes(b"not gzip")
    check_dataset_files(tmp_path, "MNIST", 39)


def test_a_root_of_a_home_folder_is_expanded(tmp_path, monkeypatch):
    write_idx(tmp_path / "data", "FashionMNIST", n_train=40)
    monkeypatch.setenv("HOME", str(tmp_path))
    check_data_files(TorchvisionData(name="FashionMNIST", root="~/data", val_size=39))


def test_validation_images_as_many_as_training_images_are_refused(tmp_path):
    write_idx(tmp_path, "MNIST", n_train=40)
    assert refused(check_dataset_files, tmp_path, "MNIST", 40).startswith(
        "data.val_size=40: must be less than the 40 images of"
    )


@pytest.mark.parametrize("gzipped_beside", [False, True])
def test_an_unreadable_file_is_one_line(tmp_path, monkeypatch, gzipped_beside):
    """The extracted file is the one read where both lie in the folder: its permission counts."""
    raw = write_idx(tmp_path, "MNIST") / "MNIST" / "raw"
    unreadable = raw / "t10k-images-idx3-ubyte"
    if gzipped_beside:
        (raw / f"{unreadable.name}.gz").write_bytes(gzip.compress(unreadable.read_bytes()))
    access = os.access
    # the tests may run as root, who may read anything: the permission is denied by a stand-in
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != unreadable and access(path, mode))
    assert refused(check_dataset_files, tmp_path, "MNIST", 10) == (
        f"data.root={tmp_path}: {unreadable} can't be read (permission denied)"
    )


# --- evaluation ---------------------------------------------------------------------------------------


def save_checkpoint(tmp_path, data: dict | None, precision: str | None = None, **network) -> Path:
    """An untrained network saved as ``src.train`` saves one (digits' 64-16-16-10 unless ``network``
    says otherwise), trained on ``data``, at ``precision`` if it records one."""
    sizes = {"in_features": 64, "num_classes": 10, "hidden": [16, 16], **network}
    model = MLPClassifier(**sizes, data=data)
    checkpoint = {"hyper_parameters": dict(model.hparams), "state_dict": model.state_dict()}
    if precision is not None:
        checkpoint["precision"] = precision
    path = tmp_path / "trained.ckpt"
    torch.save(checkpoint, path)
    return path


def evaluate_config(path: Path | str | None, *overrides: str) -> DictConfig:
    """``python -m src.evaluate``'s configuration, with ``ckpt_path=path`` unless ``path`` is ``None``."""
    cfg = config(*overrides, name="evaluate")
    if path is not None:
        cfg.ckpt_path = str(path)
    return cfg


def test_evaluate_without_a_checkpoint_is_one_line(tmp_path):
    assert refused(validate_evaluate, evaluate_config(None)) == (
        "ckpt_path is missing: pass ckpt_path=PATH (a .ckpt file written by python -m src.train)"
    )


def test_evaluate_tests_at_the_precision_the_checkpoint_was_trained_at_unless_told(tmp_path):
    data = plain_config("seed=7")["data"]
    path = save_checkpoint(tmp_path, data, precision="64-true")
    checkpoint, tested, precision = validate_evaluate(evaluate_config(path))
    assert precision == "64-true"
    assert tested == data
    assert checkpoint["hyper_parameters"]["data"] == data
    assert validate_evaluate(evaluate_config(path, "trainer.precision=16"))[2] == "16-mixed"
    assert validate_evaluate(evaluate_config(path, "trainer.precision=32-true"))[2] == ("32-true")
    # without a recorded precision: its weights' dtype
    path = save_checkpoint(tmp_path, data)
    assert validate_evaluate(evaluate_config(path))[2] == "32-true"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.precision=8", f"trainer.precision=8: {CHOOSE_PRECISION}"),
        ("trainer.precision=16.0", f"trainer.precision=16.0: {CHOOSE_PRECISION}"),
        (
            "+trainer.limit_test_batches=0",
            "trainer.limit_test_batches=0: evaluates nothing; leave it out to test every batch",
        ),
        (
            "+trainer.accumulate_grad_batches=2",
            "trainer.accumulate_grad_batches=2: training takes one SGD step",
        ),
    ],
)
def test_evaluates_trainer_is_checked_before_the_checkpoint_is_read(tmp_path, override, message):
    path = tmp_path / "no.ckpt"  # never read
    assert refused(validate_evaluate, evaluate_config(path, override)).startswith(message)


def test_evaluate_with_one_test_batch_is_accepted(tmp_path):
    path = save_checkpoint(tmp_path, plain_config()["data"])
    validate_evaluate(evaluate_config(path, "+trainer.limit_test_batches=1"))
    # only 0 is this check's: Lightning refuses a negative limit itself, in its own words
    validate_evaluate(evaluate_config(path, "+trainer.limit_test_batches=-1"))


def test_evaluate_on_data_of_another_shape_is_one_line(tmp_path):
    path = save_checkpoint(tmp_path, plain_config()["data"])
    assert refused(validate_evaluate, evaluate_config(path, "data=mnist")) == (
        f"ckpt_path={path}: its 64-16-16-10 network takes 64 inputs and 10 classes, but the data "
        "(TorchvisionDataModule MNIST) has 784 inputs and 10 classes: evaluate it on the data it was trained "
        "on (leave out data=...)"
    )


def test_inputs_and_classes_are_both_compared(tmp_path):
    checkpoint = {"hyper_parameters": {"in_features": 784, "num_classes": 12, "hidden": [5]}}
    assert refused(check_inputs_match, checkpoint, "a.ckpt", {"train_size": 1}, SyntheticDataModule) == (
        "ckpt_path=a.ckpt: its 784-5-12 network takes 784 inputs and 12 classes, but the data "
        "(SyntheticDataModule) has 784 inputs and 10 classes: evaluate it on the data it was trained on "
        "(leave out data=...)"
    )
    checkpoint["hyper_parameters"]["num_classes"] = 10
    check_inputs_match(checkpoint, "a.ckpt", {"name": "MNIST"}, TorchvisionDataModule)
    check_inputs_match(checkpoint, "a.ckpt", {}, SyntheticDataModule)


def test_a_checkpoints_data_is_never_downloaded_into(tmp_path):
    """The checkpoint's ``data.download=true`` is dropped: its root is checked for the files instead."""
    data = {**plain_config("data=mnist", f"data.root={tmp_path / 'mnist'}")["data"], "download": True}
    path = save_checkpoint(tmp_path, data, in_features=784)
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    assert refused(validate_evaluate, evaluate_config(path)) == (
        f"data.root={tmp_path / 'mnist'} does not exist: {FETCH.format(raw=raw)}"
    )
    # downloading is for the command line to ask
    assert evaluation_data(evaluate_config(path), data) == {
        key: value for key, value in data.items() if key != "download"
    }


def test_the_data_given_goes_over_the_checkpoints_of_the_same_module(tmp_path):
    trained = plain_config("seed=7", "data.batch_size=20")["data"]
    cfg = evaluate_config("a.ckpt", "data=digits", "data.eval_batch_size=50")
    assert evaluation_data(cfg, trained) == {**trained, "eval_batch_size": 50, "batch_size": 10}
    # data.seed is ${seed}: the checkpoint's seed, never the evaluate command's own
    assert trained["seed"] == 7


def test_data_settings_without_a_data_module_go_over_the_checkpoints(tmp_path):
    trained = plain_config("seed=7")["data"]
    cfg = evaluate_config("a.ckpt", "+data.eval_batch_size=50")
    assert evaluation_data(cfg, trained) == {**trained, "eval_batch_size": 50}


def test_a_data_setting_left_out_is_the_checkpoints_for_the_module_its_file_names(tmp_path):
    """Read from the checkpoint, the module's name is a string equal to the configuration's, not the same
    object; what the configuration leaves out is the checkpoint's."""
    path = save_checkpoint(tmp_path, plain_config("data.split_seed=5")["data"])
    trained = load_checkpoint(str(path))["hyper_parameters"]["data"]
    cfg = evaluate_config(path, "data=digits", "~data.split_seed")
    assert evaluation_data(cfg, trained)["split_seed"] == 5


def test_another_data_module_replaces_the_checkpoints(tmp_path):
    trained = plain_config("seed=7")["data"]
    cfg = evaluate_config("a.ckpt", "data=synthetic_mnist")
    expected = plain_config("data=synthetic_mnist", "seed=7")["data"]
    assert evaluation_data(cfg, trained) == expected
    # either way round: a module named after the checkpoint's or before it
    trained = plain_config("data=synthetic_mnist", "seed=7")["data"]
    cfg = evaluate_config("a.ckpt", "data=digits")
    assert evaluation_data(cfg, trained) == plain_config("seed=7")["data"]


def test_data_given_for_a_checkpoint_without_its_data_is_taken_as_it_is(tmp_path):
    cfg = evaluate_config("a.ckpt", "data=digits")
    assert evaluation_data(cfg, None) == plain_config("seed=0")["data"]  # Data.seed


def test_no_data_for_a_checkpoint_without_its_data_is_one_line(tmp_path):
    cfg = evaluate_config("a.ckpt")
    data = ", ".join(f"data={name}" for name in options("data")[:-1])
    assert refused(evaluation_data, cfg, None) == (
        f"ckpt_path=a.ckpt doesn't record its training data: pass {data} or data={options('data')[-1]}"
    )
    trained = plain_config()["data"]
    assert evaluation_data(cfg, trained) == trained


# --- the configuration's own errors -------------------------------------------------------------------


def test_a_broken_interpolation_is_one_line_naming_its_key(tmp_path):
    with pytest.raises(UserError) as error, config_errors():
        raise ValidationError("a value of the wrong type")  # raised as such: no msg, no full_key set
    assert str(error.value) == "config: a value of the wrong type"
    cfg = OmegaConf.create({"trainer": {"max_epochs": "${nope}"}, "seed": 1})
    with pytest.raises(UserError) as error, config_errors():
        checks.to_plain(cfg)
    assert str(error.value) == "trainer.max_epochs: Interpolation key 'nope' not found"
    with config_errors():
        assert checks.to_plain(OmegaConf.create({"a": "${b}", "b": 2})) == {"a": 2, "b": 2}
    assert checks.to_plain([1]) == [1]  # plain values stay


def test_arguments_the_trainer_refuses_are_one_line_naming_the_group():
    with pytest.raises(UserError) as error, refused_arguments("trainer"):
        hydra.utils.instantiate({"_target_": "datetime.timedelta", "days": "x"})
    assert str(error.value) == "trainer: TypeError: unsupported type for timedelta days component: str"
    with refused_arguments("trainer"):
        hydra.utils.instantiate({"_target_": "datetime.timedelta", "days": 1})


def test_a_refusal_of_the_class_built_is_raised_as_it_is():
    """It names its key already: wrapped, it read "callbacks.tensorboard_figures: UserError:
    callbacks.tensorboard_figures.every_n_epochs=0: ..."."""
    with pytest.raises(UserError) as error, refused_arguments("callbacks.tensorboard_figures"):
        hydra.utils.instantiate(
            {"_target_": "src.visualize.TensorBoardFigures", "every_n_epochs": 0, "max_misclassified": 0}
        )
    assert str(error.value) == "callbacks.tensorboard_figures.every_n_epochs=0: must be an integer >= 1"


def test_the_training_configuration_of_conf_is_accepted(tmp_path):
    validate_train(config())
    validate_train(config("callbacks=early_stopping", "scheduler=plateau"))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("seed=-1", "seed=-1: the seed must be an integer from 0 to 4294967295"),
        ("test=1", "test=1: must be true or false"),
        ("trainer.max_epochs=0", "trainer.max_epochs=0: the number of epochs must be an integer >= 1"),
        ("+trainer.max_steps=3", "trainer.max_steps=3: counts SGD steps"),
        ("monitor=val/ac", "monitor=val/ac: choose one of val/acc, val/loss, val/acc_best, train/loss"),
        ("monitor_mode=maximum", "monitor_mode=maximum: choose one of max, min"),
        ("monitor=val/loss", "monitor_mode=max: monitor=val/loss is better when lower; use monitor_mode=min"),
        (
            "callbacks.model_checkpoint.monitor=val/ac",
            "callbacks.model_checkpoint.monitor=val/ac: choose one",
        ),
        ("+trainer.limit_val_batches=0", "trainer.limit_val_batches=0: runs no validation, but scheduler."),
        ("scheduler.factor=2", "scheduler: src.schedule.ReduceLROnPlateau refuses its arguments"),
        ("scheduler.patience=-1", "scheduler.patience=-1: the number of stalled epochs to wait before"),
        (
            "callbacks.tensorboard_figures.every_n_epochs=abc",
            "callbacks.tensorboard_figures.every_n_epochs=abc: ",
        ),
        ("model.hidden=[100000000000]", "model.hidden=[100000000000]: a 64-100000000000-10 network"),
        ("model.cuda_graph=on", "model.cuda_graph=on: the network trains on the cpu"),
        ("trainer.max_epochs=${nope}", "trainer.max_epochs: Interpolation key 'nope' not found"),
        ("callbacks.lr_schedule=null", "scheduler src.schedule.ReduceLROnPlateau: no callback steps it"),
        (
            "callbacks.last_checkpoint.dirpath=/proc/x",
            "callbacks.last_checkpoint.dirpath=/proc/x: can't write",
        ),
    ],
)
def test_validate_train_runs_every_check(tmp_path, override, message):
    cfg = config("scheduler=plateau", override)
    assert refused(validate_train, cfg).startswith(message)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("callbacks.early_stopping.min_delta=abc", f"callbacks.early_stopping.min_delta=abc: {MIN_DELTA}"),
        ("callbacks.early_stopping.patience=null", f"callbacks.early_stopping.patience=null: {PATIENCE}"),
        ("callbacks.early_stopping.mode=1", "callbacks.early_stopping.mode=1: choose one of max, min"),
    ],
)
def test_early_stopping_is_checked_before_training(override, message):
    assert refused(validate_train, config("callbacks=early_stopping", override)) == message


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "rmsprop"])
def test_an_epsilon_float16_rounds_towards_0_is_refused_under_16_true(optimizer):
    """Each diverged at its second SGD step under ``trainer.precision=16-true``, and the message advised a
    smaller learning rate (a tester)."""
    assert refused(validate_train, config(f"optimizer={optimizer}", "trainer.precision=16-true")) == (
        "optimizer.eps=1e-08: under trainer.precision=16-true the optimizer's state is float16, where eps must "
        "be at least 6.104e-05 (its smallest normal number; a smaller one rounds towards 0, and the optimizer "
        "divides by it): add +optimizer.eps=1e-4, or choose another precision"
    )
    assert refused(
        validate_train, config(f"optimizer={optimizer}", "trainer.precision=16-true", "+optimizer.eps=6e-5")
    ).startswith("optimizer.eps=6e-05: under trainer.precision=16-true")
    validate_train(config(f"optimizer={optimizer}", "trainer.precision=16-true", "+optimizer.eps=6.2e-5"))
    for precision in ("32-true", "bf16-true", "16-mixed", "64-true"):
        validate_train(config(f"optimizer={optimizer}", f"trainer.precision={precision}"))
    validate_train(config("optimizer=sgd", "trainer.precision=16-true"))  # no eps


def test_a_schedule_needs_the_callback_that_steps_it():
    """``callbacks.lr_schedule=null scheduler=step`` trained at a constant rate, silently (a tester)."""
    assert refused(validate_train, config("callbacks.lr_schedule=null", "scheduler=step")) == (
        "scheduler torch.optim.lr_scheduler.StepLR: no callback steps it (src.schedule.LearningRateSchedule is "
        "switched off, e.g. by callbacks.lr_schedule=null): put it back, or leave out the scheduler "
        "(scheduler=none)"
    )
    validate_train(config("callbacks.lr_schedule=null"))  # no schedule: nothing to step
    validate_train(
        config(
            "callbacks.lr_schedule=null",
            "+callbacks.mine._target_=src.schedule.LearningRateSchedule",
            "+callbacks.mine.scheduler=${scheduler}",
            "scheduler=step",
        )
    )


@pytest.mark.parametrize("name", ["model_checkpoint", "last_checkpoint"])
def test_a_checkpoint_folder_that_cannot_be_written_is_one_line_before_training(tmp_path, name):
    """It was a traceback at the first save, after an epoch's training (a tester)."""
    (tmp_path / "file").write_text("")
    for folder, why in (
        (tmp_path / "file" / "checkpoints", "Not a directory"),
        ("/proc/x", "No such file or directory"),
    ):
        assert refused(validate_train, config(f"callbacks.{name}.dirpath={folder}")) == (
            f"callbacks.{name}.dirpath={folder}: can't write there ({why}): give a directory you can write to "
            f"with callbacks.{name}.dirpath=..."
        )
    validate_train(config(f"callbacks.{name}.dirpath={tmp_path / 'new' / 'checkpoints'}"))
    assert not (tmp_path / "new").exists()


def test_a_missing_data_root_is_refused_before_training(tmp_path):
    cfg = config("data=mnist", f"data.root={tmp_path / 'nothing'}")
    assert refused(validate_train, cfg).startswith(f"data.root={tmp_path / 'nothing'} does not exist")


def test_a_schedule_is_stepped_through_lightnings_1000_epochs_where_the_trainer_sets_none():
    """Without trainer.max_epochs Lightning trains 1000 epochs (it warns so): the schedule's check steps
    through them all, not one (which let a rate turn negative at epoch 2 through)."""
    falling = ["scheduler=step", "scheduler.step_size=1000", "scheduler.gamma=-1"]
    message = refused(validate_train, config(*falling, "~trainer.max_epochs"))
    assert message.endswith("makes the learning rate -3 after epoch 1000: it must stay a finite number >= 0")
    falling[1] = "scheduler.step_size=1001"
    validate_train(config(*falling, "~trainer.max_epochs"))
    refused(validate_train, config(*falling, "trainer.max_epochs=1001"))


# --- resuming ---------------------------------------------------------------------------------------------

CKPT = "trained.ckpt"
AS_WRITTEN = f"ckpt_path={CKPT}: its optimizer_states are not the state of one torch optimizer: {WRITTEN_BY}"
NOT_COUNTS = f"ckpt_path={CKPT}: its epoch, step or loop counters are not counts: {WRITTEN_BY}"
LOOPS = f"ckpt_path={CKPT}: its loops{{}} (Lightning's loops read back every entry they save): {WRITTEN_BY}"


def checkpoint(
    plain: dict, epochs: int = 1, steps: int = 8, chunks: int = 2, callbacks=None, **saved
) -> dict:
    """What ``python -m src.train`` with the configuration ``plain`` saves after ``epochs`` epochs (the last
    ended by ``chunks`` chunks, ``steps`` SGD steps in all), with the callbacks' states ``callbacks``;
    ``saved`` replaces a top-level entry (``precision``, ...)."""
    model = MLPClassifier(
        64,
        10,
        **plain["model"],
        activation=plain["activation"],
        cost=plain["cost"]["name"],
        optimizer=plain["optimizer"],
        data=plain["data"],
    )
    loops = copy.deepcopy(resume_checks.new_loops_state())
    fit = loops["fit_loop"]
    for part in ("current", "total"):
        fit["epoch_progress"][part].update(
            ready=epochs, started=epochs, processed=epochs, completed=epochs - 1
        )
        fit["epoch_loop.batch_progress"][part].update(
            ready=chunks, started=chunks, processed=chunks, completed=chunks
        )
        fit["epoch_loop.manual_optimization.optim_step_progress"][part].update(ready=steps, completed=steps)
    fit["epoch_loop.batch_progress"]["is_last_batch"] = True
    return {
        "epoch": epochs - 1,
        "global_step": steps,
        "loops": loops,
        "callbacks": callbacks or {},
        "optimizer_states": [trained_optimizer(plain, model).state_dict()],
        "state_dict": dict(model.state_dict()),
        "hyper_parameters": dict(model.hparams),
        "precision": plain["trainer"]["precision"],
        "pytorch-lightning_version": L.__version__,
        "lr_schedulers": [],
        **saved,
    }


def trained_optimizer(plain: dict, model: MLPClassifier) -> torch.optim.Optimizer:
    """The configured optimizer, with the configured schedule started on it as a run starts it (a
    schedule keeps the configured rate as ``initial_lr``)."""
    built = build_optimizer(plain["optimizer"], model.parameters())
    LearningRateSchedule(plain["scheduler"]).on_train_start(SimpleNamespace(optimizers=[built]), model)
    return built


def resumed(*overrides: str) -> dict:
    """The training configuration with ``overrides``, resuming from ``CKPT``."""
    return {**plain_config("trainer.max_epochs=3", *overrides), "ckpt_path": CKPT}


def test_a_checkpoint_of_the_configuration_resumes():
    plain = resumed()
    check_resume(checkpoint(plain), plain, DigitsDataModule)
    plain = resumed(
        "callbacks=early_stopping", "scheduler=plateau", "optimizer=adam", "activation=leaky_relu"
    )
    stopping = early_stopping_state(patience=5, wait_count=2)
    check_resume(
        checkpoint(
            plain, callbacks={**stopping, "LearningRateSchedule": plateau_state(plain["scheduler"], 1)}
        ),
        plain,
        DigitsDataModule,
    )


@pytest.mark.parametrize(
    ("configured", "differences"),
    [
        (["model.hidden=[32]"], "layer sizes 64-16-16-10 (configured: 64-32-10)"),
        (["activation=tanh"], "activation sigmoid (configured: tanh)"),
        (["cost=cross_entropy"], "cost mse (configured: cross_entropy)"),
        (
            ["optimizer.lr=0.5"],
            "optimizer {_target_: torch.optim.SGD, lr: 3.0} (configured: {_target_: torch.optim.SGD, lr: 0.5})",
        ),
        (
            ["model.hidden=[16]", "cost=cross_entropy"],
            "layer sizes 64-16-16-10 (configured: 64-16-10); cost mse (configured: cross_entropy)",
        ),
        (["scheduler=step"], "scheduler none (configured: torch.optim.lr_scheduler.StepLR)"),
        (
            ["scheduler=step", "trainer.precision=64-true"],
            "trainer.precision 32-true (configured: 64-true); scheduler none (configured: "
            "torch.optim.lr_scheduler.StepLR)",
        ),
    ],
)
def test_resuming_with_another_network_optimizer_or_schedule_is_one_line(configured, differences):
    plain = resumed(*configured)
    assert refused(check_resume, checkpoint(resumed()), plain, DigitsDataModule) == (
        f"ckpt_path={CKPT} was trained with {differences}: resuming restores its weights, optimizer state and "
        "learning-rate schedule, so give the configuration it was trained with, or leave out ckpt_path to start "
        "a new run"
    )


def test_leaky_relus_slope_is_compared_and_no_other_activations():
    trained = checkpoint(resumed("activation=leaky_relu"))
    plain = resumed("activation=leaky_relu", "activation.negative_slope=0.2")
    assert refused(check_resume, trained, plain, DigitsDataModule).startswith(
        f"ckpt_path={CKPT} was trained with activation leaky_relu(negative_slope=0.01) (configured: "
        "leaky_relu(negative_slope=0.2)): resuming"
    )
    plain = resumed("activation.negative_slope=0.2")  # sigmoid's slope means nothing
    check_resume(checkpoint(resumed()), plain, DigitsDataModule)


@pytest.mark.parametrize(
    ("recorded", "trainer", "configured"),
    [
        ("64-true", {}, "32-true"),
        ("64-true", {"precision": None}, "32-true"),  # Lightning's default
        ("bf16-true", {"precision": None}, "32-true"),
        ("bf16-mixed", {"accelerator": "cpu"}, "32-true"),  # only 16-mixed runs as bf16-mixed on a CPU
        ("bf16-mixed", {"precision": "16-mixed", "accelerator": "gpu"}, "16-mixed"),
        ("16-mixed", {"precision": "bf16-mixed"}, "bf16-mixed"),
        ("32-true", {"precision": 16, "accelerator": "gpu"}, "16"),
        ("bf16-true", {"precision": "bf16"}, "bf16"),
    ],
)
def test_resuming_at_another_precision_is_one_line(recorded, trainer, configured):
    plain = resumed()
    plain["trainer"].update(trainer)
    plain["trainer"] = {key: value for key, value in plain["trainer"].items() if value is not None}
    assert refused(
        check_resume, checkpoint(resumed(), precision=recorded), plain, DigitsDataModule
    ).startswith(
        f"ckpt_path={CKPT} was trained with trainer.precision {recorded} (configured: {configured}): resuming"
    )


@pytest.mark.parametrize(
    ("recorded", "trainer"),
    [
        (None, {"precision": "64-true"}),  # older checkpoints record none
        ("32-true", {"precision": None}),
        ("64-true", {"precision": 64}),
        ("16-mixed", {"precision": 16, "accelerator": "gpu"}),
        ("bf16-mixed", {"precision": "16-mixed", "accelerator": "cpu"}),  # Lightning's 16-mixed on a CPU
        ("bf16-mixed", {"precision": "16", "accelerator": None}),  # auto: perhaps on a CPU
        ("bf16-mixed", {"precision": "bf16-mixed", "accelerator": "gpu"}),
    ],
)
def test_resuming_at_the_precision_trained_at_is_accepted(recorded, trainer):
    plain = resumed()
    plain["trainer"].update(trainer)
    plain["trainer"] = {key: value for key, value in plain["trainer"].items() if value is not None}
    trained = checkpoint(resumed(), precision=recorded)
    if recorded is None:
        del trained["precision"]
    check_resume(trained, plain, DigitsDataModule)


def tampered(change, *overrides: str) -> dict:
    trained = checkpoint(resumed(*overrides))
    change(trained)
    return trained


def fit_loop(trained: dict) -> dict:
    return trained["loops"]["fit_loop"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(epoch=-1), NOT_COUNTS),
        (lambda c: c.pop("epoch"), NOT_COUNTS),
        (lambda c: c.update(global_step="8"), NOT_COUNTS),
        (lambda c: c.update(global_step=True), NOT_COUNTS),
        (lambda c: c.update(global_step=8.0), NOT_COUNTS),
        (lambda c: fit_loop(c)["epoch_progress"]["current"].update(processed=-1), NOT_COUNTS),
        (lambda c: fit_loop(c)["epoch_loop.val_loop.batch_progress"]["total"].update(ready=-1), NOT_COUNTS),
        (lambda c: c["loops"]["test_loop"]["batch_progress"]["current"].update(started=None), NOT_COUNTS),
        (lambda c: c["loops"].pop("fit_loop"), LOOPS.format(" holds no fit_loop")),
        (lambda c: c["loops"].update(fit_loop=[]), LOOPS.format(".fit_loop is [], not a mapping")),
        (lambda c: c.pop("loops"), LOOPS.format(" is null, not a mapping")),
        (
            lambda c: fit_loop(c).update(epoch_progress=None),
            LOOPS.format(".fit_loop.epoch_progress is null, not a mapping"),
        ),
        (
            lambda c: fit_loop(c)["epoch_progress"].pop("current"),
            LOOPS.format(".fit_loop.epoch_progress holds no current"),
        ),
        (
            lambda c: fit_loop(c)["epoch_progress"]["total"].pop("ready"),
            LOOPS.format(".fit_loop.epoch_progress.total holds no ready"),
        ),
        (
            lambda c: fit_loop(c)["epoch_loop.batch_progress"].pop("is_last_batch"),
            LOOPS.format(".fit_loop.epoch_loop.batch_progress holds no is_last_batch"),
        ),
        (
            lambda c: fit_loop(c).update(state_dict="x"),
            LOOPS.format(".fit_loop.state_dict is x, not a mapping"),
        ),
        (lambda c: c.pop("optimizer_states"), AS_WRITTEN),
        (lambda c: c.update(optimizer_states=c["optimizer_states"][0]), AS_WRITTEN),
        (lambda c: c.update(optimizer_states=c["optimizer_states"] * 2), AS_WRITTEN),
        (lambda c: c.update(optimizer_states=[]), AS_WRITTEN),
        (lambda c: c.update(optimizer_states=[None]), AS_WRITTEN),
        (
            lambda c: c["optimizer_states"][0].update(
                param_groups=c["optimizer_states"][0]["param_groups"] * 2
            ),
            AS_WRITTEN,
        ),
        (lambda c: c["optimizer_states"][0].update(param_groups=[]), AS_WRITTEN),
        (lambda c: c["optimizer_states"][0].update(param_groups=[[0.1]]), AS_WRITTEN),
        (lambda c: c["optimizer_states"][0].update(param_groups={"lr": 3.0}), AS_WRITTEN),
        (lambda c: c["optimizer_states"][0].update(state=[]), AS_WRITTEN),
        (lambda c: c["optimizer_states"][0].pop("state"), AS_WRITTEN),
        (
            lambda c: c["optimizer_states"][0]["param_groups"][0].update(lr=1e30),
            f"ckpt_path={CKPT}: its optimizer state holds lr=1e+30, but its hyper_parameters (and this "
            f"configuration) say optimizer.lr=3.0: {WRITTEN_BY}",
        ),
        (
            lambda c: c["optimizer_states"][0]["param_groups"][0].update(lr=1.5),  # no schedule lowers it
            f"ckpt_path={CKPT}: its optimizer state holds lr=1.5, but its hyper_parameters (and this "
            f"configuration) say optimizer.lr=3.0: {WRITTEN_BY}",
        ),
        (
            lambda c: c["optimizer_states"][0]["param_groups"][0].pop("lr"),
            f"ckpt_path={CKPT}: its optimizer state holds lr=null, but its hyper_parameters (and this "
            f"configuration) say optimizer.lr=3.0: {WRITTEN_BY}",
        ),
    ],
)
def test_resuming_checks_the_state_lightning_restores(change, message):
    assert refused(check_training_state, tampered(change), resumed()) == message


@pytest.mark.parametrize(
    "change",
    [
        lambda c: None,
        lambda c: c.update(epoch=0, global_step=0),
        lambda c: fit_loop(c)["epoch_loop.batch_progress"].update(is_last_batch=False),
    ],
)
def test_counts_from_zero_and_a_torch_optimizers_state_are_accepted(change):
    check_training_state(tampered(change), resumed())


@pytest.mark.parametrize(
    ("value", "shown"),
    # the string "true" is shown quoted: "is_last_batch=true is not true or false" read as nonsense
    [(0, "0"), ("true", '"true"'), (None, "null"), (torch.tensor([1.0, 2.0]), "a tensor of shape [2]")],
)
def test_a_last_batch_flag_that_is_no_flag_is_one_line(value, shown):
    """Lightning reads ``is_last_batch`` as a truth: a tensor of two numbers has none."""
    trained = tampered(lambda c: fit_loop(c)["epoch_loop.batch_progress"].update(is_last_batch=value))
    assert refused(check_training_state, trained, resumed()) == LOOPS.format(
        f".fit_loop.epoch_loop.batch_progress.is_last_batch={shown} is not true or false"
    )


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("momentum", torch.tensor([0.9, 0.9]), "a tensor of shape [2]"),
        ("momentum", torch.tensor(0.5), "0.5"),
        ("lr", torch.tensor([3.0, 3.0]), "a tensor of shape [2]"),
    ],
)
def test_a_tensor_in_the_optimizer_state_equals_no_setting(key, value, shown):
    """Comparing a tensor of two numbers with a setting failed with torch's "Boolean value of Tensor with
    more than one value is ambiguous"; one of one number is no plain setting either."""
    plain = resumed("optimizer=momentum")
    trained = checkpoint(plain)
    trained["optimizer_states"][0]["param_groups"][0][key] = value
    assert refused(check_training_state, trained, plain).startswith(
        f"ckpt_path={CKPT}: its optimizer state holds {key}={shown}, but its hyper_parameters"
    )


def test_a_list_holding_a_tensor_equals_no_setting():
    plain = resumed("optimizer=adam", "+optimizer.betas=[0.9,0.99]")
    trained = checkpoint(plain)
    trained["optimizer_states"][0]["param_groups"][0]["betas"] = (torch.tensor([0.9, 0.9]), 0.99)
    assert refused(check_training_state, trained, plain).startswith(
        f"ckpt_path={CKPT}: its optimizer state holds betas=[a tensor of shape [2], 0.99], but its hyper_parameters"
    )


@pytest.mark.parametrize(
    ("version", "shown"),
    [
        (None, "null"),
        ("x", "x"),
        ("1.9.5", "1.9.5"),
        ("0.1.0", "0.1.0"),
        (2, "2"),
        (torch.tensor([1.0, 2.0]), "a tensor of shape [2]"),
    ],
)
def test_a_lightning_version_lightning_would_migrate_or_cannot_parse_is_one_line(version, shown):
    """Lightning parses it and migrates an older checkpoint from Lightning 1's layout: KeyError
    'epoch_loop.batch_loop.optimizer_loop.optim_progress' on this project's."""
    trained = tampered(lambda c: c.update({"pytorch-lightning_version": version}))
    assert refused(check_training_state, trained, resumed()) == (
        f"ckpt_path={CKPT}: its pytorch-lightning_version={shown} is not a Lightning version from 2.0.0 on: "
        f"{WRITTEN_BY}"
    )
    trained.pop("pytorch-lightning_version")
    assert "pytorch-lightning_version=null" in refused(check_training_state, trained, resumed())


@pytest.mark.parametrize("version", ["2.0.0", L.__version__, "99.0"])
def test_a_lightning_version_from_2_on_is_accepted(version):
    check_training_state(tampered(lambda c: c.update({"pytorch-lightning_version": version})), resumed())


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.update(global_step=2**63),
        lambda c: fit_loop(c)["epoch_progress"]["total"].update(ready=2**63, started=2**63),
    ],
)
def test_a_count_past_int64_is_one_line(change):
    """Lightning turned a count of 10**30 into "Overflow when unpacking long long"."""
    assert refused(check_training_state, tampered(change), resumed()) == NOT_COUNTS


@pytest.mark.parametrize(
    ("value", "shown"),
    [(-1, "-1"), ("3", '"3"'), (None, "null"), (torch.tensor([1.0, 2.0]), "a tensor of shape [2]")],
)
def test_a_count_of_the_steps_logged_that_is_no_count_is_one_line(value, shown):
    """Lightning adds 1 to ``_batches_that_stepped`` whatever it holds."""
    trained = tampered(lambda c: fit_loop(c)["epoch_loop.state_dict"].update(_batches_that_stepped=value))
    assert refused(check_training_state, trained, resumed()) == LOOPS.format(
        f".fit_loop.epoch_loop.state_dict._batches_that_stepped={shown} is not a count"
    )


def test_a_progress_tracker_counts_in_order():
    """Lightning takes an epoch's ``completed`` count as its current epoch: 10**30 of them behind one
    processed ended the run with Lightning's MisconfigurationException."""
    check_training_state(tampered(lambda c: c.update(global_step=2**63 - 1)), resumed())
    trained = tampered(lambda c: fit_loop(c)["epoch_progress"]["current"].update(completed=2))
    assert refused(check_training_state, trained, resumed()) == (
        f"ckpt_path={CKPT}: its loops' progress counts {{ready: 1, completed: 2, started: 1, processed: 1}} are "
        f"out of order (each of ready, started, processed, completed at most the one before): {WRITTEN_BY}"
    )
    trained = tampered(
        lambda c: fit_loop(c)["epoch_loop.manual_optimization.optim_step_progress"]["total"].update(ready=7)
    )
    assert "are out of order" in refused(check_training_state, trained, resumed())


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        (lambda c: c.update(lr_schedulers=[{"x": 1}]), "[{x: 1}]"),
        (lambda c: c.update(lr_schedulers=None), "null"),
        (lambda c: c.update(lr_schedulers=-1), "-1"),
        (lambda c: c.pop("lr_schedulers"), "null"),
    ],
)
def test_lightnings_learning_rate_schedulers_are_an_empty_list(change, shown):
    """This project steps its own schedule; Lightning iterated over whatever ``lr_schedulers`` held, and
    without it said the checkpoint held only the model (KeyError)."""
    check_training_state(tampered(lambda c: None), resumed())
    assert refused(check_training_state, tampered(change), resumed()) == (
        f"ckpt_path={CKPT}: its lr_schedulers={shown} is not Lightning's empty list (this project steps its own "
        f"schedule, saved with its callbacks): {WRITTEN_BY}"
    )


def param_group(trained: dict) -> dict:
    return trained["optimizer_states"][0]["param_groups"][0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda g: g.update(bogus=1), "holds bogus, which SGD has not"),
        (lambda g: g.update(bogus=1, other=2), "holds bogus, which SGD has not"),  # the first of them
        (lambda g: g.update(dampening="x"), "holds dampening=x, but SGD's is 0"),
        (lambda g: g.update(dampening=None), "holds dampening=null, but SGD's is 0"),
        (
            lambda g: g.update(weight_decay=torch.tensor([1.0, 2.0])),
            "holds weight_decay=a tensor of shape [2], but SGD's is 0",
        ),
        (lambda g: g.update(maximize=1), "holds maximize=1, but SGD's is false"),
        (lambda g: g.update(params=[0, 1]), "holds params=[0, 1], but SGD's is [0]"),
        (lambda g: g.update(params=None), "holds params=null, but SGD's is [0]"),
        (lambda g: g.pop("nesterov"), "holds nesterov=null, but SGD's is false"),
        (
            lambda g: g.update(momentum=0.5),
            "holds momentum=0.5, but its hyper_parameters (and this configuration) say optimizer.momentum=0.9",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_every_setting_of_the_optimizer_state_is_the_configured_optimizers(change, message):
    """Settings the configuration leaves to torch's defaults too: ``dampening='x'`` failed in torch's
    step, ``params=None`` in its ``load_state_dict``."""
    plain = resumed("optimizer=momentum")
    trained = checkpoint(plain)
    change(param_group(trained))
    assert (
        refused(check_training_state, trained, plain)
        == f"ckpt_path={CKPT}: its optimizer state {message}: {WRITTEN_BY}"
    )


def momentum_state(trained: dict, **entries) -> dict:
    """``trained`` whose optimizer took a step: net.params' momentum buffer, with ``entries`` over it."""
    params = trained["state_dict"]["net.params"]
    trained["optimizer_states"][0]["state"] = {0: {"momentum_buffer": torch.zeros_like(params), **entries}}
    return trained


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"momentum_buffer": "x"}, "holds momentum_buffer=x, not a finite float32 tensor of shape [1482]"),
        (
            {"momentum_buffer": torch.zeros(2)},
            "holds momentum_buffer=a tensor of shape [2], not a finite float32 tensor of shape [1482]",
        ),
        (
            {"momentum_buffer": torch.zeros(1482, dtype=torch.float64)},
            "holds momentum_buffer=a tensor of shape [1482], not a finite float32 tensor of shape [1482]",
        ),
        (
            {"momentum_buffer": torch.full((1482,), float("nan"))},
            "holds momentum_buffer=a tensor of shape [1482], not a finite float32 tensor of shape [1482]",
        ),
        (
            {"momentum_buffer": torch.zeros(1482).to_sparse()},
            "holds momentum_buffer=a tensor of shape [1482], not a finite float32 tensor of shape [1482]",
        ),
        (
            {"momentum_buffer": None},
            "holds momentum_buffer=null, not a finite float32 tensor of shape [1482]",
        ),
        ({"step": 1}, "holds step, which the optimizer has not"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_the_optimizer_state_of_the_weights_is_what_the_optimizer_keeps(entries, message):
    """A momentum buffer that is no tensor of the weights' shape failed in torch's step (``'str' object
    has no attribute 'mul_'``, or a size mismatch)."""
    plain = resumed("optimizer=momentum")
    trained = momentum_state(checkpoint(plain), **entries)
    assert refused(check_training_state, trained, plain) == (
        f"ckpt_path={CKPT}: its optimizer state of net.params {message}: {WRITTEN_BY}"
    )


def test_the_optimizer_state_of_another_parameter_is_one_line():
    plain = resumed("optimizer=momentum")
    for state in ({1: {}}, {0: {}, "1": {}}, {0: [1]}):
        trained = checkpoint(plain)
        trained["optimizer_states"][0]["state"] = state
        assert refused(check_training_state, trained, plain) == (
            f"ckpt_path={CKPT}: its optimizer state is not that of one parameter, net.params: {WRITTEN_BY}"
        )


def test_an_entry_the_optimizer_keeps_as_none_must_be_none():
    """An older torch keeps plain SGD's ``momentum_buffer`` as ``None``: a checkpoint of it holds ``None``
    there, and nothing else."""
    reference = {"momentum_buffer": None}
    check_parameter_state({0: {"momentum_buffer": None}}, reference, f"ckpt_path={CKPT}")
    assert refused(check_parameter_state, {0: {"momentum_buffer": 0.5}}, reference, f"ckpt_path={CKPT}") == (
        f"ckpt_path={CKPT}: its optimizer state of net.params holds momentum_buffer=0.5, not null: {WRITTEN_BY}"
    )


@pytest.mark.parametrize(
    ("overrides", "dtype"),
    [
        ((), torch.float32),
        (("trainer.precision=64-true",), torch.float64),
        (("optimizer=adam",), torch.float32),
    ],
)
def test_the_state_a_step_of_the_configured_optimizer_leaves_is_accepted(overrides, dtype):
    plain = resumed("optimizer=momentum", *overrides)
    trained = checkpoint(plain)
    trained["state_dict"]["net.params"] = trained["state_dict"]["net.params"].to(dtype)
    model_parameter = torch.zeros_like(trained["state_dict"]["net.params"], requires_grad=True)
    optimizer = build_optimizer(plain["optimizer"], [model_parameter])
    model_parameter.grad = torch.ones_like(model_parameter)
    optimizer.step()
    trained["optimizer_states"] = [optimizer.state_dict()]
    check_training_state(trained, plain)
    trained["optimizer_states"][0]["state"] = {}  # no step taken yet
    check_training_state(trained, plain)


def test_a_scheduled_checkpoint_read_back_from_a_file_resumes():
    """Read back from a file, its names are new strings, not the interned ones torch wrote: they are
    compared by value (``initial_lr``, which a schedule adds to the optimizer's settings)."""
    import io

    plain = resumed("optimizer=momentum", "scheduler=step")
    buffer = io.BytesIO()
    torch.save(checkpoint(plain), buffer)
    buffer.seek(0)
    trained = torch.load(buffer, weights_only=True)
    assert "initial_lr" in trained["optimizer_states"][0]["param_groups"][0]
    check_training_state(trained, plain)


def test_the_state_of_a_capturable_optimizer_is_checked_without_a_gpu():
    """torch steps a ``capturable`` Adam only on a GPU: the state it keeps is read from a step without."""
    plain = resumed("optimizer=adam", "+optimizer.capturable=true")
    trained = checkpoint(plain)
    parameter = torch.zeros_like(trained["state_dict"]["net.params"], requires_grad=True)
    optimizer = build_optimizer({**plain["optimizer"], "capturable": False}, [parameter])
    parameter.grad = torch.ones_like(parameter)
    optimizer.step()
    state = optimizer.state_dict()
    state["param_groups"][0]["capturable"] = True  # as a run on a GPU saves it
    trained["optimizer_states"] = [state]
    check_training_state(trained, plain)
    state["param_groups"][0]["capturable"] = False
    assert refused(check_training_state, trained, plain).startswith(
        f"ckpt_path={CKPT}: its optimizer state holds capturable=false, but its hyper_parameters"
    )


@pytest.mark.parametrize(
    ("loaders", "shown"),
    [
        (
            [{"epoch": 0, "chunks_trained": "x", "world_size": 1}],
            "[{epoch: 0, chunks_trained: x, world_size: 1}]",
        ),
        ([{"epoch": -1}], "[{epoch: -1}]"),
        ([], "[]"),
        ([{"epoch": 0}, {"epoch": 0}], "[{epoch: 0}, {epoch: 0}]"),
        ({"epoch": 0}, "{epoch: 0}"),
        ([5], "[5]"),
        (None, "null"),
    ],
)
def test_a_data_position_the_loader_cannot_restore_is_one_line(loaders, shown):
    """The training loader's position (``src.data.MiniBatchChunks``' state): a mid-epoch resume slices the
    epoch's chunks at ``chunks_trained``."""
    trained = tampered(lambda c: fit_loop(c)["state_dict"].update(combined_loader=loaders))
    assert refused(check_training_state, trained, resumed()) == (
        f"ckpt_path={CKPT}: its loops.fit_loop.state_dict.combined_loader={shown} is not the position of one "
        f"training data loader (a mapping of counts): {WRITTEN_BY}"
    )


@pytest.mark.parametrize("loaders", [[{"epoch": 1, "chunks_trained": 3, "world_size": 1}], [{}]])
def test_a_data_position_of_counts_or_none_is_accepted(loaders):
    """``[{}]``: ``trainer.overfit_batches`` swapped in Lightning's sampler, which has no position."""
    check_training_state(
        tampered(lambda c: fit_loop(c)["state_dict"].update(combined_loader=loaders)), resumed()
    )


def test_the_loops_state_of_a_new_trainer_is_read_quietly(caplog):
    """Building the trainer logs none of Lightning's "GPU available" lines (a trainer built as usual does,
    as the first half shows), and leaves its logger's level as it was."""
    import logging

    trainer_arguments = {"logger": False, "enable_checkpointing": False, "accelerator": "cpu", "devices": 1}
    trainer = L.Trainer(**trainer_arguments, enable_progress_bar=False, enable_model_summary=False)
    assert any("GPU available" in record.getMessage() for record in caplog.records)
    caplog.clear()
    level = logging.getLogger("lightning.pytorch.utilities.rank_zero").level
    loops = resume_checks.new_loops_state.__wrapped__()
    assert loops == trainer._checkpoint_connector._get_loops_state_dict()  # what Lightning writes
    assert loops["fit_loop"]["epoch_loop.batch_progress"]["is_last_batch"] is False
    assert not any("GPU available" in record.getMessage() for record in caplog.records)
    assert logging.getLogger("lightning.pytorch.utilities.rank_zero").level == level


def test_progress_trackers_are_the_totals_and_currents_at_every_level():
    loops = {
        "total": {"ready": 1, "completed": 2},
        "state_dict": {"steps": 9, "current": {"ready": 3}},
        "current": {"ready": 4},
        "is_last_batch": {"total": 5},
        "other": 6,
    }
    trackers = [{"ready": 1, "completed": 2}, {"ready": 4}, {"ready": 3}]
    assert progress_trackers(loops) == trackers  # a count beside is_last_batch is no tracker's
    assert progress_trackers({"total": 5, "current": [6]}) == []
    assert progress_trackers(None) == []
    assert progress_trackers([{"total": {"ready": 1}}]) == []


@pytest.mark.parametrize(
    ("overrides", "key", "saved", "shown"),
    [
        (
            ["optimizer=momentum"],
            "momentum",
            0.5,
            "momentum=0.5, but its hyper_parameters (and this configuration) say optimizer.momentum=0.9",
        ),
        (
            ["optimizer=adam", "+optimizer.betas=[0.9,0.99]"],
            "betas",
            (0.9, 0.9),
            "betas=[0.9, 0.9], but its hyper_parameters (and this configuration) say optimizer.betas=[0.9, 0.99]",
        ),
        (
            ["optimizer=adam", "+optimizer.weight_decay=0.1"],
            "weight_decay",
            0,
            "weight_decay=0, but its hyper_parameters (and this configuration) say optimizer.weight_decay=0.1",
        ),
    ],
)
def test_every_optimizer_setting_is_compared_with_its_state(overrides, key, saved, shown):
    trained = checkpoint(resumed(*overrides))
    check_training_state(trained, resumed(*overrides))  # torch keeps betas as a tuple, the YAML a list
    trained["optimizer_states"][0]["param_groups"][0][key] = saved
    assert refused(check_training_state, trained, resumed(*overrides)) == (
        f"ckpt_path={CKPT}: its optimizer state holds {shown}: {WRITTEN_BY}"
    )


def test_under_a_schedule_only_the_rate_is_read_from_initial_lr():
    """A schedule keeps the configured rate as ``initial_lr``; the other settings stay as configured."""
    plain = resumed("optimizer=momentum", "scheduler=step")
    trained = checkpoint(plain)
    assert trained["optimizer_states"][0]["param_groups"][0]["initial_lr"] == 0.5
    check_training_state(trained, plain)
    trained["optimizer_states"][0]["param_groups"][0]["nesterov"] = True
    assert refused(
        check_training_state, trained, {**plain, "optimizer": {**plain["optimizer"], "nesterov": False}}
    ) == (
        f"ckpt_path={CKPT}: its optimizer state holds nesterov=true, but its hyper_parameters (and this "
        f"configuration) say optimizer.nesterov=false: {WRITTEN_BY}"
    )


def test_a_target_is_no_optimizer_state():
    trained = checkpoint(resumed())
    assert "_target_" not in trained["optimizer_states"][0]["param_groups"][0]
    check_training_state(trained, resumed())


@pytest.mark.parametrize(
    "group",
    [
        {"lr": 1.5, "initial_lr": 3.0},  # the schedule's rate, from the configured one
        {"lr": 3.0, "initial_lr": 3.0},
        {"lr": 1.5},  # no initial_lr: any rate a schedule could have lowered it to
        {"lr": 3.0},
        {"lr": 1e-300},
    ],
)
def test_a_scheduled_rate_may_be_lower_than_the_configured_one(group):
    trained = checkpoint(resumed("scheduler=step"))
    assert trained["optimizer_states"][0]["param_groups"][0]["initial_lr"] == 3.0
    trained["optimizer_states"][0]["param_groups"][0].pop("initial_lr")
    trained["optimizer_states"][0]["param_groups"][0].update(group)
    check_training_state(trained, resumed("scheduler=step"))


@pytest.mark.parametrize(
    ("group", "shown"),
    [
        ({"lr": 3.0, "initial_lr": 2.0}, "2.0"),
        ({"lr": 1.5, "initial_lr": None}, "null"),
        ({"lr": 0.0}, "0.0"),
        ({"lr": -1.0}, "-1.0"),
        ({"lr": 3.5}, "3.5"),
        ({"lr": "1.5"}, '"1.5"'),
    ],
)
def test_a_scheduled_rate_from_another_rate_is_one_line(group, shown):
    trained = checkpoint(resumed("scheduler=step"))
    trained["optimizer_states"][0]["param_groups"][0].pop("initial_lr")
    trained["optimizer_states"][0]["param_groups"][0].update(group)
    assert refused(check_training_state, trained, resumed("scheduler=step")) == (
        f"ckpt_path={CKPT}: its optimizer state holds lr={shown}, but its hyper_parameters (and this "
        f"configuration) say optimizer.lr=3.0: {WRITTEN_BY}"
    )


@pytest.mark.parametrize(
    ("key", "done", "unit", "limit"),
    [
        ("max_epochs", 3, "epochs", 3),
        ("max_epochs", 4, "epochs", 3),
        ("max_steps", 8, "SGD steps", 8),
        ("max_steps", 9, "SGD steps", 8),
    ],
)
def test_resuming_where_the_run_reached_its_end_is_one_line(key, done, unit, limit):
    plain = resumed(f"++trainer.{key}={limit}")
    trained = checkpoint(plain, epochs=done) if key == "max_epochs" else checkpoint(plain, steps=done)
    assert refused(check_something_left_to_train, trained, plain) == (
        f"trainer.{key}={limit}: ckpt_path={CKPT} has trained {done} {unit} already, so resuming it would train "
        f"nothing: give trainer.{key} greater than {done} (to test it, run python -m src.evaluate "
        f"ckpt_path={CKPT})"
    )


@pytest.mark.parametrize(
    "overrides",
    [
        ["trainer.max_epochs=4"],
        ["trainer.max_epochs=-1"],
        ["+trainer.max_steps=9"],
        ["+trainer.max_steps=-1"],
    ],
)
def test_resuming_before_the_end_is_accepted(overrides):
    plain = resumed(*overrides)
    check_something_left_to_train(checkpoint(plain, epochs=2, steps=8), plain)


def test_a_checkpoint_without_its_epoch_count_is_not_refused_for_it():
    plain = resumed("trainer.max_epochs=1")
    trained = checkpoint(plain, epochs=1)
    fit_loop(trained)["epoch_progress"]["current"]["processed"] = None
    check_something_left_to_train(trained, plain)


def early_stopping_state(monitor: str = "val/acc", mode: str = "max", **state) -> dict:
    """What Lightning saves of an ``EarlyStopping`` callback, under its key, with ``state`` set."""
    callback = EarlyStopping(monitor=monitor, mode=mode)
    for key, value in state.items():
        setattr(callback, key, value)
    return {callback.state_key: callback.state_dict()}


def plateau_state(scheduler: dict, stalls: int) -> dict:
    """What ``LearningRateSchedule`` saves of the plateau schedule ``scheduler`` after ``stalls`` epochs
    without a better metric."""
    schedule = LearningRateSchedule(scheduler)
    trainer = SimpleNamespace(optimizers=[optimizer()], should_stop=False)
    schedule.on_train_start(trainer, None)
    for _ in range(stalls + 1):
        schedule.pending = 0.5
        schedule.on_train_epoch_end(trainer, SimpleNamespace(log=lambda *args, **kwargs: None))
    return schedule.state_dict()


STOPPING = f"ckpt_path={CKPT}: its state of callbacks.early_stopping"


def stopping_checkpoint(**state) -> dict:
    """A checkpoint of ``callbacks=early_stopping`` whose early stopping's state has ``state`` set."""
    return checkpoint(
        resumed("callbacks=early_stopping"), callbacks=early_stopping_state(patience=5, **state)
    )


def early_stopping_entries(trained: dict) -> dict:
    return next(value for key, value in trained["callbacks"].items() if key.startswith("EarlyStopping"))


def test_the_early_stopping_state_lightning_saves_resumes():
    plain = resumed("callbacks=early_stopping")
    for state in (
        {},
        {"wait_count": 2, "best_score": torch.tensor(0.5, dtype=torch.float64)},
        {"stopped_epoch": 4},
    ):
        check_callback_states(stopping_checkpoint(**state), plain)
    trained = stopping_checkpoint()
    for key in ("stopping_reason", "stopping_reason_message"):  # an older Lightning's state lacks them
        del early_stopping_entries(trained)[key]
    check_callback_states(trained, plain)
    check_callback_states(checkpoint(plain), plain)  # trained without it


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: s.update(best_score="0.5"),
            'holds best_score="0.5", not one number (not NaN) in a tensor',
        ),
        (lambda s: s.update(best_score=0.5), "holds best_score=0.5, not one number (not NaN) in a tensor"),
        (
            lambda s: s.update(best_score=torch.tensor([0.5, 0.6])),
            "holds best_score=a tensor of shape [2], not one number (not NaN) in a tensor",
        ),
        (
            lambda s: s.update(best_score=torch.tensor(float("nan"))),
            "holds best_score=nan, not one number (not NaN) in a tensor",
        ),
        (
            lambda s: s.update(best_score=torch.tensor(1)),
            "holds best_score=1, not one number (not NaN) in a tensor",
        ),
        (lambda s: s.update(wait_count="2"), 'holds wait_count="2", not a count >= 0'),
        (lambda s: s.update(stopped_epoch=-3), "holds stopped_epoch=-3, not a count >= 0"),
        (lambda s: s.update(patience=5.0), "holds patience=5.0, not a count >= 0"),
        (
            lambda s: s.update(stopping_reason=99),
            "holds stopping_reason=99, not the value of one of Lightning's EarlyStoppingReason",
        ),
        (
            lambda s: s.update(stopping_reason=True),
            "holds stopping_reason=true, not the value of one of Lightning's EarlyStoppingReason",
        ),
        (
            lambda s: s.update(stopping_reason_message=5),
            "holds stopping_reason_message=5, not null or a string",
        ),
        (lambda s: s.update(extra=1), "holds extra, which Lightning's callback has not"),
        (lambda s: s.pop("best_score"), "lacks best_score"),
        (lambda s: [s.pop(key) for key in ("patience", "wait_count")], "lacks wait_count, patience"),
        (lambda s: s.pop("stopped_epoch"), "lacks stopped_epoch"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_an_early_stopping_state_lightning_would_fail_on_is_one_line(change, message):
    trained = stopping_checkpoint()
    change(early_stopping_entries(trained))
    assert refused(check_callback_states, trained, resumed("callbacks=early_stopping")) == (
        f"{STOPPING} {message}: {WRITTEN_BY}"
    )


def model_checkpoint_state(**entries) -> tuple[str, dict]:
    """The key and the state Lightning saves of a ``ModelCheckpoint`` on ``val/acc`` with two checkpoints,
    with ``entries`` over it."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    callback = ModelCheckpoint(dirpath="checkpoints", monitor="val/acc", mode="max", save_top_k=2)
    callback.best_k_models = {
        "checkpoints/epoch_000.ckpt": torch.tensor(0.5),
        "checkpoints/epoch_001.ckpt": torch.tensor(0.7),
    }
    callback.best_model_path, callback.best_model_score = "checkpoints/epoch_001.ckpt", torch.tensor(0.7)
    callback.kth_best_model_path, callback.kth_value = "checkpoints/epoch_000.ckpt", torch.tensor(0.5)
    return callback.state_key, {**callback.state_dict(), **entries}


def test_the_model_checkpoint_state_lightning_saves_resumes():
    plain = resumed()
    for entries in ({}, {"best_model_score": None, "current_score": None, "best_k_models": {}}):
        key, state = model_checkpoint_state(**entries)
        check_callback_states(checkpoint(plain, callbacks={key: state}), plain)
    key, state = model_checkpoint_state()
    only_the_score = {"best_model_score": state["best_model_score"]}  # Lightning reads the rest with defaults
    check_callback_states(checkpoint(plain, callbacks={key: only_the_score}), plain)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            {"best_model_score": "0.7"},
            'holds best_model_score="0.7", not null or one number (not NaN) in a tensor',
        ),
        (
            {"kth_value": torch.tensor([0.5, 0.6])},
            "holds kth_value=a tensor of shape [2], not null or one number (not NaN) in a tensor",
        ),
        (
            {"current_score": torch.tensor(float("nan"))},
            "holds current_score=nan, not null or one number (not NaN) in a tensor",
        ),
        (
            {"best_k_models": {"checkpoints/epoch_000.ckpt": "x"}},
            "holds best_k_models={checkpoints/epoch_000.ckpt: x}, not a mapping of paths to scores",
        ),
        ({"best_k_models": [1]}, "holds best_k_models=[1], not a mapping of paths to scores"),
        ({"dirpath": 5}, "holds dirpath=5, not null or a string"),
        ({"best_model_path": None}, "holds best_model_path=null, not a string"),
        ({"extra": 1}, "holds extra, which Lightning's callback has not"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_model_checkpoint_state_lightning_would_fail_on_is_one_line(entries, message):
    """A best score that is a string failed when the next checkpoint competed with it."""
    key, state = model_checkpoint_state(**entries)
    plain = resumed()
    assert refused(check_callback_states, checkpoint(plain, callbacks={key: state}), plain) == (
        f"ckpt_path={CKPT}: its state of {key} {message}: {WRITTEN_BY}"
    )
    del state["best_model_score"]
    assert refused(check_callback_states, checkpoint(plain, callbacks={key: state}), plain).endswith(
        f"lacks best_model_score: {WRITTEN_BY}"
    )


def test_a_callback_state_that_is_no_mapping_is_one_line():
    """Lightning hands a callback its state after ``if state:``, a truth a tensor of two numbers has not."""
    trained = stopping_checkpoint()
    key = next(key for key in trained["callbacks"] if key.startswith("EarlyStopping"))
    for state, shown in (([1, 2], "[1, 2]"), (torch.tensor([1.0, 2.0]), "a tensor of shape [2]")):
        trained["callbacks"][key] = state
        assert refused(check_callback_states, trained, resumed("callbacks=early_stopping")) == (
            f"ckpt_path={CKPT}: its state of {key} is {shown}, not a mapping: {WRITTEN_BY}"
        )
    trained["callbacks"] = [1]
    assert refused(check_callback_states, trained, resumed("callbacks=early_stopping")) == (
        f"ckpt_path={CKPT}: its callbacks=[1] is not a mapping of callback states: {WRITTEN_BY}"
    )
    trained["callbacks"] = None  # Lightning restores no callback
    check_callback_states(trained, resumed("callbacks=early_stopping"))


def scheduled(plain: dict, epochs: int) -> dict:
    """What ``python -m src.train`` saves at the end of ``epochs`` epochs under ``plain``'s schedule (a
    plateau's every epoch a stall): the schedule's state, and the rate it reached in the optimizer's."""
    trained = checkpoint(plain, epochs=epochs)
    built = throwaway(plain)
    schedule = LearningRateSchedule(plain["scheduler"])
    trainer = SimpleNamespace(optimizers=[built], should_stop=False)
    schedule.on_train_start(trainer, None)
    for _ in range(epochs):
        if isinstance(schedule.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            schedule.pending = 0.5
        schedule.on_train_epoch_end(trainer, SimpleNamespace(log=lambda *args, **kwargs: None))
    trained["callbacks"] = {"LearningRateSchedule": schedule.state_dict()}
    trained["optimizer_states"][0]["param_groups"][0]["lr"] = built.param_groups[0]["lr"]
    return trained


def throwaway(plain: dict) -> torch.optim.Optimizer:
    """The optimizer ``validate_train`` builds of ``plain`` on one throw-away parameter."""
    return build_optimizer(plain["optimizer"], [torch.zeros(1, requires_grad=True)])


def with_scheduler(scheduler: dict) -> dict:
    return {**resumed(), "scheduler": scheduler}


LR = "torch.optim.lr_scheduler"


@pytest.mark.parametrize(
    "plain",
    [
        resumed("scheduler=step"),
        resumed("scheduler=cosine"),
        resumed("scheduler=plateau"),
        resumed("scheduler=plateau", "scheduler.max_reductions=0", "optimizer=momentum"),
        with_scheduler({"_target_": f"{LR}.MultiStepLR", "milestones": [1, 2], "gamma": 0.5}),
        with_scheduler({"_target_": f"{LR}.ExponentialLR", "gamma": 0.9}),
        with_scheduler({"_target_": f"{LR}.ConstantLR"}),
        with_scheduler({"_target_": f"{LR}.LinearLR", "start_factor": 0.5}),
        with_scheduler({"_target_": f"{LR}.PolynomialLR", "total_iters": 3}),
        with_scheduler({"_target_": f"{LR}.CosineAnnealingWarmRestarts", "T_0": 1, "T_mult": 2}),
        with_scheduler(
            {"_target_": f"{LR}.ReduceLROnPlateau", "monitor": "val/acc", "mode": "max", "patience": 0}
        ),
    ],
    ids=lambda plain: plain["scheduler"]["_target_"].rsplit(".", 1)[1],
)
def test_the_state_every_scheduler_saves_resumes(plain):
    for epochs in (1, 2):
        check_schedule_state(scheduled(plain, epochs), plain, throwaway(plain), 3)


def test_no_schedule_has_no_state_to_check():
    plain = resumed()
    trained = scheduled(resumed("scheduler=step"), 2)
    check_schedule_state(trained, plain, throwaway(plain), 3)  # check_resume refuses the difference
    trained["callbacks"] = {"LearningRateSchedule": "not a state"}
    check_schedule_state(trained, resumed("scheduler=step"), throwaway(plain), 3)


SAVED = f"ckpt_path={CKPT}: its learning-rate schedule holds"


def saved_schedule(trained: dict) -> dict:
    return trained["callbacks"]["LearningRateSchedule"]


def saved_lr(trained: dict, lr) -> None:
    trained["optimizer_states"][0]["param_groups"][0]["lr"] = lr


@pytest.mark.parametrize(
    ("scheduler", "change", "message"),
    [
        ("step", lambda c: saved_schedule(c).update(optimizer=1), "optimizer=1, which StepLR has not"),
        ("step", lambda c: saved_schedule(c).update(verbose=True), "verbose=true, which StepLR has not"),
        (
            "step",
            lambda c: saved_schedule(c).update(base_lrs=[1e6]),
            "base_lrs=[1000000.0], but the configured one's is [3.0]",
        ),
        (
            "step",
            lambda c: saved_schedule(c).update(gamma=0.25),
            "gamma=0.25, but the configured one's is 0.5",
        ),
        (
            "plateau",
            lambda c: saved_schedule(c).update(mode="min"),
            "mode=min, but the configured one's is max",
        ),
        (
            "plateau",
            lambda c: saved_schedule(c).update(max_reductions=9),
            "max_reductions=9, but the configured one's is null",
        ),
        ("step", lambda c: saved_schedule(c).update(last_epoch="2"), 'last_epoch="2", not a count >= 0'),
        ("step", lambda c: saved_schedule(c).update(last_epoch=-1), "last_epoch=-1, not a count >= 0"),
        ("step", lambda c: saved_schedule(c).update(last_epoch=True), "last_epoch=true, not a count >= 0"),
        ("step", lambda c: saved_schedule(c).update(last_epoch=2.0), "last_epoch=2.0, not a count >= 0"),
        (
            "step",
            lambda c: saved_schedule(c).update(last_epoch=2**63),  # past torch's int64
            "last_epoch=9223372036854775808, not a count >= 0",
        ),
        ("step", lambda c: saved_schedule(c).update(_is_initial=1), "_is_initial=1, not true or false"),
        (
            "step",
            lambda c: saved_schedule(c).update(_last_lr=[1.0, 2.0]),
            "_last_lr=[1.0, 2.0], not a list of 1 finite learning rate >= 0",
        ),
        (
            "step",
            lambda c: saved_schedule(c).update(_last_lr=[]),
            "_last_lr=[], not a list of 1 finite learning rate >= 0",
        ),
        (
            "step",
            lambda c: saved_schedule(c).update(_last_lr=[-1.0]),
            "_last_lr=[-1.0], not a list of 1 finite learning rate >= 0",
        ),
        (
            "step",
            lambda c: saved_schedule(c).update(_last_lr=[float("inf")]),
            "_last_lr=[inf], not a list of 1 finite learning rate >= 0",
        ),
        (
            "step",
            lambda c: saved_schedule(c).update(_last_lr=["1"]),
            '_last_lr=["1"], not a list of 1 finite learning rate >= 0',
        ),
        (
            "step",
            lambda c: saved_schedule(c).update(_last_lr=1.0),
            "_last_lr=1.0, not a list of 1 finite learning rate >= 0",
        ),
        ("plateau", lambda c: saved_schedule(c).update(best=float("nan")), "best=nan, not a number"),
        ("plateau", lambda c: saved_schedule(c).update(best="0.9"), 'best="0.9", not a number'),
        ("plateau", lambda c: saved_schedule(c).update(best=None), "best=null, not a number"),
        ("plateau", lambda c: saved_schedule(c).update(reductions=-1), "reductions=-1, not a count >= 0"),
        (
            "plateau",
            lambda c: saved_schedule(c).update(should_stop="no"),
            "should_stop=no, not true or false",
        ),
        (
            "plateau",
            lambda c: saved_schedule(c).update(pending="0.5"),
            'pending="0.5", not a metric\'s value',
        ),
        (
            "plateau",
            lambda c: saved_schedule(c).update(pending=float("nan")),
            "pending=nan, not a metric's value",
        ),
        (
            "step",
            lambda c: saved_schedule(c).update(pending=float("-inf")),
            "pending=-inf, not a metric's value",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_saved_schedule_state_that_is_not_the_configured_schedulers_is_one_line(scheduler, change, message):
    plain = resumed(f"scheduler={scheduler}")
    trained = scheduled(plain, 2)
    change(trained)
    assert (
        refused(check_schedule_state, trained, plain, throwaway(plain), 3)
        == f"{SAVED} {message}: {WRITTEN_BY}"
    )


@pytest.mark.parametrize(
    ("lr", "shown"), [(3.0001, "3.0001"), (-0.1, "-0.1"), ("1.5", '"1.5"'), (None, "null")]
)
def test_a_saved_rate_outside_the_configured_schedules_is_one_line(lr, shown):
    plain = resumed("scheduler=step")
    trained = scheduled(plain, 2)
    saved_lr(trained, lr)
    assert refused(check_schedule_state, trained, plain, throwaway(plain), 3) == (
        f"ckpt_path={CKPT}: its optimizer state holds lr={shown}, but the configured schedule's rates run from 0 "
        f"to 3: {WRITTEN_BY}"
    )


def test_the_saved_rate_may_be_any_the_configured_schedule_takes_in_the_run():
    """The highest: here a cosine rising to its eta_min; a plateau's rates only fall."""
    plain = with_scheduler({"_target_": f"{LR}.CosineAnnealingLR", "T_max": 3, "eta_min": 5.0})
    for lr in (0, 1.5, 5.0):
        trained = scheduled(plain, 2)
        saved_lr(trained, lr)
        check_schedule_state(trained, plain, throwaway(plain), 3)
    saved_lr(trained, 5.001)
    assert "rates run from 0 to 5:" in refused(check_schedule_state, trained, plain, throwaway(plain), 3)
    plain = resumed("scheduler=plateau")
    trained = scheduled(plain, 2)
    saved_lr(trained, 3.0)
    check_schedule_state(trained, plain, throwaway(plain), 3)


def test_the_highest_rate_is_the_schedules_within_the_run():
    """A cosine rising towards an eta_min of 5 over T_max 4 epochs reaches 4 in a run of 2: a rate it would
    reach only later is refused."""
    plain = with_scheduler({"_target_": f"{LR}.CosineAnnealingLR", "T_max": 4, "eta_min": 5.0})
    trained = scheduled(plain, 1)
    saved_lr(trained, 4.0)
    check_schedule_state(trained, plain, throwaway(plain), 2)
    saved_lr(trained, 4.5)
    assert "rates run from 0 to 4:" in refused(check_schedule_state, trained, plain, throwaway(plain), 2)


def test_the_restored_schedule_is_stepped_through_the_epochs_left_and_no_further(monkeypatch):
    """A checkpoint of epoch 1 (the second) may be the one its validation wrote, before the epoch's end
    stepped the schedule: a resumed run ends that epoch again, so it steps once more where the run has
    2 epochs, and not at all where it had 1."""
    plain = resumed("scheduler=cosine")
    trained = scheduled(plain, 2)
    stepped: list[list[int]] = []
    step_through = checks.step_through

    def recorded(scheduler, what, epochs):
        stepped.append(list(epochs))
        return step_through(scheduler, what, epochs)

    monkeypatch.setattr(checks, "step_through", recorded)
    for epochs, left in ((1, []), (2, [2]), (3, [2, 3])):
        stepped.clear()
        check_schedule_state(trained, plain, throwaway(plain), epochs)
        assert stepped == [list(range(1, epochs + 1)), left]  # the whole run's rates, then the epochs left
    trained["epoch"] = 2  # the epoch after the checkpoint's: 3, not 2 * 2 (a mutant's, the same for 1)
    stepped.clear()
    check_schedule_state(trained, plain, throwaway(plain), 4)
    assert stepped[1] == [3, 4]


def test_stepping_through_returns_the_highest_rate_from_the_first():
    falling = torch.optim.lr_scheduler.ExponentialLR(optimizer(), gamma=0.5)
    assert step_through(falling, "falling", range(1, 4)) == 0.1
    assert falling.optimizer.param_groups[0]["lr"] == 0.0125
    rising = torch.optim.lr_scheduler.ExponentialLR(optimizer(), gamma=2.0)
    assert step_through(rising, "rising", range(1, 3)) == 0.4


@pytest.mark.parametrize(
    "trainer, last",
    [
        ({"max_epochs": 7}, 7),
        ({"max_epochs": 7, "max_steps": 30}, 7),
        ({}, 1000),  # Lightning's default
        ({"max_steps": -1, "max_time": None}, 1000),
        ({"max_steps": 30}, SIZE_MAX),  # Lightning trains without an epoch limit then
        ({"max_time": "00:00:01:00"}, SIZE_MAX),
    ],
)
def test_the_last_epoch_of_a_run_is_max_epochs_or_lightnings_default(trainer, last):
    assert last_epoch(trainer) == last


def test_a_schedule_is_stepped_through_its_first_epochs_only(
    monkeypatch,
):
    """``trainer.max_epochs=100000000 scheduler=step`` spent minutes in the check, stepping the schedule
    once per epoch of the run, before training began. The later epochs' rates are checked as the run
    reaches them (tests/test_schedule_units.py)."""
    monkeypatch.setattr(checks, "SCHEDULE_EPOCHS_CHECKED", 40)
    values = {"_target_": "torch.optim.lr_scheduler.StepLR", "step_size": 50, "gamma": -1.0}
    check_scheduler(values, optimizer(), SIZE_MAX)  # the rate turns negative after epoch 50
    stepped = torch.optim.lr_scheduler.StepLR(optimizer(), step_size=50)
    assert step_through(stepped, "stepped", range(1, SIZE_MAX)) == 0.1
    assert stepped.last_epoch == 40


ENDED = (
    f"ckpt_path={CKPT} is where {{}} ended its run, so resuming it with the same settings would train nothing "
    f"(to test it, run python -m src.evaluate ckpt_path={CKPT})"
)


@pytest.mark.parametrize(
    ("patience", "state", "ended_by"),
    [
        (5, {"wait_count": 5}, "after 5 validations without a better val/acc"),
        (5, {"wait_count": 6}, "after 6 validations without a better val/acc"),
        (0, {"wait_count": 1}, "after 1 validation without a better val/acc"),
        (5, {"wait_count": 2, "stopped_epoch": 3}, "after 2 validations without a better val/acc"),
        (5, {"wait_count": 0, "stopped_epoch": 1}, "after 0 validations without a better val/acc"),
    ],
)
def test_resuming_where_early_stopping_ended_the_run_is_one_line(patience, state, ended_by):
    plain = resumed("callbacks=early_stopping", f"callbacks.early_stopping.patience={patience}")
    trained = checkpoint(plain, callbacks=early_stopping_state(patience=patience, **state))
    assert refused(check_something_left_to_train, trained, plain) == ENDED.format(
        f"early stopping ({ended_by})"
    )


@pytest.mark.parametrize(
    ("patience", "state"),
    [
        (5, {"wait_count": 4}),
        (0, {"wait_count": 0}),
        (5, {"wait_count": 4, "stopped_epoch": 0}),
        (5, {"wait_count": None}),
    ],
)
def test_resuming_where_early_stopping_would_go_on_is_accepted(patience, state):
    plain = resumed("callbacks=early_stopping", f"callbacks.early_stopping.patience={patience}")
    check_something_left_to_train(
        checkpoint(plain, callbacks=early_stopping_state(patience=patience, **state)), plain
    )


def test_early_stopping_is_found_under_its_monitor_and_mode():
    """Lightning keys each callback's state by its monitor and mode: another one's state is not this one's."""
    plain = resumed(
        "callbacks=early_stopping",
        "callbacks.early_stopping.monitor=val/loss",
        "~callbacks.early_stopping.mode",
    )
    stalled = early_stopping_state("val/loss", "min", patience=5, wait_count=5)
    assert refused(
        check_something_left_to_train, checkpoint(plain, callbacks=stalled), plain
    ) == ENDED.format("early stopping (after 5 validations without a better val/loss)")
    other = early_stopping_state("val/loss", "max", patience=5, wait_count=5)
    check_something_left_to_train(checkpoint(plain, callbacks=other), plain)
    plain["callbacks"]["early_stopping"] = None  # switched off
    check_something_left_to_train(checkpoint(plain, callbacks=stalled), plain)
    plain["callbacks"] = None
    check_something_left_to_train(checkpoint(plain, callbacks=stalled), plain)


def test_resuming_where_the_plateau_schedule_ended_the_run_is_one_line():
    plain = resumed("scheduler=plateau", "scheduler.max_reductions=2", "scheduler.patience=0")
    ended_state = plateau_state(plain["scheduler"], 3)
    ended = ENDED.format("the plateau schedule (scheduler.max_reductions=2 reached)")
    trained = checkpoint(plain, callbacks={"LearningRateSchedule": ended_state})
    assert trained["callbacks"]["LearningRateSchedule"]["should_stop"] is True
    assert refused(check_something_left_to_train, trained, plain) == ended
    check_something_left_to_train(
        checkpoint(plain, callbacks={"LearningRateSchedule": plateau_state(plain["scheduler"], 2)}), plain
    )
    trained["callbacks"] = None
    check_something_left_to_train(trained, plain)
    for flag in (1, torch.tensor([1.0, 2.0])):  # not a flag: check_schedule_state refuses it
        trained = checkpoint(plain, callbacks={"LearningRateSchedule": {**ended_state, "should_stop": flag}})
        check_something_left_to_train(trained, plain)


@pytest.mark.parametrize(("saved", "configured"), [(5, 2), (2, 5), (5, None), (1000, 1001)])
def test_resuming_with_another_early_stopping_patience_is_one_line(saved, configured):
    patience = (
        [f"callbacks.early_stopping.patience={configured}"]
        if configured
        else ["~callbacks.early_stopping.patience"]
    )
    plain = resumed("callbacks=early_stopping", *patience)
    trained = checkpoint(plain, callbacks=early_stopping_state(patience=saved, wait_count=1))
    assert refused(check_early_stopping_patience, trained, plain) == (
        f"ckpt_path={CKPT} was trained with callbacks.early_stopping.patience={saved} (configured: {configured or 3}): "
        "resuming restores early stopping's patience and count from the checkpoint, so give "
        f"callbacks.early_stopping.patience={saved}, or leave out ckpt_path to start a new run"
    )


def test_resuming_with_the_same_early_stopping_patience_is_accepted():
    plain = resumed("callbacks=early_stopping", "callbacks.early_stopping.patience=1000")  # compared by value
    check_early_stopping_patience(
        checkpoint(plain, callbacks=early_stopping_state(patience=int("1000"))), plain
    )
    plain = resumed("callbacks=early_stopping", "~callbacks.early_stopping.patience")  # EarlyStopping's 3
    check_early_stopping_patience(checkpoint(plain, callbacks=early_stopping_state(patience=3)), plain)
    check_early_stopping_patience(checkpoint(plain, callbacks=early_stopping_state(patience=None)), plain)
    check_early_stopping_patience(checkpoint(plain), plain)
    plain = resumed()  # no early stopping configured: a saved one is not restored
    check_early_stopping_patience(checkpoint(plain, callbacks=early_stopping_state(patience=9)), plain)


def in_the_middle(plain: dict, chunks: int = 2) -> dict:
    trained = checkpoint(plain, chunks=chunks)
    fit_loop(trained)["epoch_loop.batch_progress"]["is_last_batch"] = False
    return trained


MIDDLE = f"ckpt_path={CKPT} stopped in the middle of an epoch, after 2 of its chunks"


@pytest.mark.parametrize(
    ("configured", "message"),
    [
        (
            ["data.batch_size=20"],
            f"{MIDDLE} (data.batches_per_step=4 mini-batches of data.batch_size=10; configured: "
            "data.batches_per_step=4, data.batch_size=20): resume it with those sizes, so that the epoch goes on "
            "at the sample where it stopped",
        ),
        (
            ["data.batches_per_step=2"],
            f"{MIDDLE} (data.batches_per_step=4 mini-batches of data.batch_size=10; configured: "
            "data.batches_per_step=2, data.batch_size=10): resume it with those sizes, so that the epoch goes on "
            "at the sample where it stopped",
        ),
        (
            ["seed=7"],
            f"{MIDDLE}, trained with data.seed=12345 (configured: 7): the epoch goes on at the sample where it "
            "stopped only in the same shuffled order of the same training set, so resume it with those settings "
            "(seed= sets data.seed)",
        ),
        (
            ["data.val_fraction=0.2", "data.split_seed=3", "seed=7"],
            f"{MIDDLE}, trained with data.seed=12345 (configured: 7); data.split_seed=0 (configured: 3); "
            "data.val_fraction=0.1 (configured: 0.2): the epoch goes on",
        ),
        (
            ["data.test_fraction=0.3"],
            f"{MIDDLE}, trained with data.test_fraction=0.2 (configured: 0.3): the epoch goes on",
        ),
        (
            ["+trainer.overfit_batches=2"],
            f"ckpt_path={CKPT} stopped in the middle of an epoch, after 2 of its batches, and under "
            "trainer.overfit_batches=2 Lightning's sequential batches have no position to resume from (the epoch "
            "would start again, training its first batches twice): resume from the last.ckpt beside it, written "
            "at the end of an epoch",
        ),
        *(  # any other value than 0 (a fraction, all batches, a count, one Lightning refuses later) is refused
            (
                [f"+trainer.overfit_batches={value}"],
                f"ckpt_path={CKPT} stopped in the middle of an epoch, after 2 of its batches, and under "
                f"trainer.overfit_batches={value} Lightning's",
            )
            for value in ("0.5", "1.0", "1", "-1", "-1.0")
        ),
    ],
)
def test_resuming_in_the_middle_of_an_epoch_needs_the_same_samples_in_the_same_order(configured, message):
    trained = in_the_middle(resumed("data.batches_per_step=4"))
    assert refused(
        check_resume_position, trained, resumed("data.batches_per_step=4", *configured)
    ).startswith(message)


@pytest.mark.parametrize(
    "configured",
    [
        [],
        ["data.eval_batch_size=7"],
        ["+trainer.overfit_batches=0"],
        ["+trainer.overfit_batches=0.0"],
        ["trainer.max_epochs=9"],
    ],
)
def test_resuming_in_the_middle_of_an_epoch_with_its_order_is_accepted(configured):
    check_resume_position(in_the_middle(resumed()), resumed(*configured))


def test_the_sizes_are_compared_by_value():
    sizes = ("data.batch_size=1000", "data.batches_per_step=300")  # no small ints CPython keeps one of
    check_resume_position(in_the_middle(resumed(*sizes)), resumed(*sizes))


def test_the_order_matters_only_in_the_middle_of_an_epoch():
    plain = resumed("seed=7", "data.batch_size=20", "+trainer.overfit_batches=2")
    check_resume_position(checkpoint(resumed()), plain)  # at its end
    check_resume_position(in_the_middle(resumed(), chunks=0), plain)
    trained = in_the_middle(resumed())
    fit_loop(trained)["epoch_loop.batch_progress"]["is_last_batch"] = None
    check_resume_position(trained, plain)
    fit_loop(trained)["epoch_loop.batch_progress"]["is_last_batch"] = 0  # Lightning reads it as False
    assert refused(check_resume_position, trained, plain).startswith(
        f"ckpt_path={CKPT} stopped in the middle"
    )


def test_the_settings_a_checkpoint_does_not_record_are_not_compared():
    trained = in_the_middle(resumed())
    for key in ("batch_size", "seed"):
        del trained["hyper_parameters"]["data"][key]
    check_resume_position(trained, resumed("seed=7", "data.batch_size=20"))
    trained["hyper_parameters"]["data"] = None
    check_resume_position(trained, resumed("seed=7", "data.batch_size=20"))


def test_another_data_module_is_another_order():
    trained = in_the_middle(resumed())
    plain = resumed("data=synthetic_mnist", "data.batch_size=10", "data.batches_per_step=128")
    assert refused(check_resume_position, trained, plain) == (
        f"{MIDDLE}, trained with data._target_=src.data.DigitsDataModule (configured: "
        "src.data.SyntheticDataModule); data.val_fraction=0.1 (configured: null); data.test_fraction=0.2 "
        "(configured: null): the epoch goes on at the sample where it stopped only in the same shuffled order "
        "of the same training set, so resume it with those settings (seed= sets data.seed)"
    )


def test_validate_train_resumes_from_a_checkpoint_file(tmp_path):
    plain = plain_config("callbacks=early_stopping")
    trained = checkpoint(plain, callbacks=early_stopping_state(patience=5, wait_count=1))
    model = MLPClassifier(64, 10, [16, 16])
    trained["state_dict"] = model.state_dict()
    path = tmp_path / "last.ckpt"
    torch.save(trained, path)
    validate_train(OmegaConf.create({**plain, "ckpt_path": str(path)}))
    plain["trainer"]["max_epochs"] = 1
    assert refused(validate_train, OmegaConf.create({**plain, "ckpt_path": str(path)})).startswith(
        f"trainer.max_epochs=1: ckpt_path={path} has trained 1 epochs already"
    )
    plain["model"]["hidden"] = [8]
    assert refused(validate_train, OmegaConf.create({**plain, "ckpt_path": str(path)})).startswith(
        f"ckpt_path={path} was trained with layer sizes 64-16-16-10 (configured: 64-8-10)"
    )
