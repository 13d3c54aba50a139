"""Fast checks of src/schedule.py: the schedulers a ``scheduler`` group may name and the arguments it may
give them (:func:`src.schedule.scheduler_arguments`), and the comparison of a checkpoint's saved schedule
with the configured one (:func:`src.schedule.resume_differences`, which ``ckpt_path=...`` runs before
resuming), on states saved by :class:`src.schedule.LearningRateSchedule` over a real optimizer."""

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from runs import options, plateau_halving, refused

from src.errors import UserError
from src.schedule import (
    SCHEDULE_PROGRESS,
    SCHEDULERS,
    UNSUPPORTED_SCHEDULERS,
    LearningRateSchedule,
    ReduceLROnPlateau,
    Scheduler,
    check_rate,
    resume_differences,
    scheduler_arguments,
)

COSINE = "torch.optim.lr_scheduler.CosineAnnealingLR"
STEP = "torch.optim.lr_scheduler.StepLR"


def cosine(epochs: int) -> dict:
    return {"_target_": COSINE, "T_max": epochs, "eta_min": 0.0}


def step(gamma: float) -> dict:
    return {"_target_": STEP, "step_size": 10, "gamma": gamma}


def saved(config: dict | None) -> dict:
    """What a checkpoint keeps of the schedule ``config`` (``conf/scheduler/``'s keys), after one epoch."""
    schedule = LearningRateSchedule(config)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    trainer = SimpleNamespace(optimizers=[optimizer])
    schedule.on_train_start(trainer, None)
    schedule.on_train_epoch_end(trainer, SimpleNamespace(log=lambda *args: None))
    return schedule.state_dict()


@pytest.mark.parametrize(
    ("trained", "configured", "differences"),
    [
        (None, None, []),
        (None, {}, []),
        (cosine(3), cosine(3), []),
        (step(0.5), step(0.5), []),
        (None, step(0.5), [f"scheduler none (configured: {STEP})"]),
        (cosine(3), None, [f"scheduler {COSINE} (configured: none)"]),
        (cosine(3), step(0.5), [f"scheduler {COSINE} (configured: {STEP})"]),
        (step(0.5), cosine(3), [f"scheduler {STEP} (configured: {COSINE})"]),
        (step(0.5), step(0.1), ["scheduler.gamma 0.5 (configured: 0.1)"]),
        (step(0.1), step(0.5), ["scheduler.gamma 0.1 (configured: 0.5)"]),
        (
            cosine(1),
            cosine(2),
            [
                "scheduler.T_max 1 (configured: 2; scheduler=cosine's T_max is trainer.max_epochs, and a "
                "cosine schedule once started can't be stretched over more epochs, so resume it with the "
                "trainer.max_epochs it was started with)"
            ],
        ),
    ],
    ids=repr,
)
def test_a_resumed_schedule_is_compared_with_the_saved_one(trained, configured, differences):
    assert resume_differences(saved(trained), configured) == differences


def test_milestones_are_compared_as_the_scheduler_keeps_them():
    """``MultiStepLR`` saves its ``milestones`` as a ``Counter``: the list they were given in any order
    matches it, another list is named as a list."""
    multistep = {"_target_": "torch.optim.lr_scheduler.MultiStepLR", "gamma": 0.5}
    state = saved({**multistep, "milestones": [1, 2]})
    assert resume_differences(state, {**multistep, "milestones": [2, 1]}) == []
    assert resume_differences(state, {**multistep, "milestones": [1, 3]}) == [
        "scheduler.milestones [1, 2] (configured: [1, 3])"
    ]
    assert resume_differences(state, {**multistep, "milestones": [1, 2, 2]}) == [
        "scheduler.milestones [1, 2] (configured: [1, 2, 2])"
    ]
    assert resume_differences(state, {**multistep, "milestones": [1]}) == [  # fewer: no match either
        "scheduler.milestones [1, 2] (configured: [1])"
    ]
    assert resume_differences(state, {**multistep, "milestones": 1}) == [
        "scheduler.milestones [1, 2] (configured: 1)"
    ]


def test_a_saved_state_without_its_target_is_a_schedule_and_only_what_it_saved_is_compared():
    """A checkpoint's state may lack ``_target_`` (or be no mapping at all); ``monitor`` and settings the
    state does not hold are not compared."""
    state = saved(step(0.5))
    del state["_target_"]
    assert resume_differences(state, None) == ["scheduler a schedule (configured: none)"]
    assert resume_differences(state, {**step(0.5), "monitor": "val/acc", "verbose": True}) == []
    assert resume_differences(state, step(0.25)) == ["scheduler.gamma 0.5 (configured: 0.25)"]
    assert resume_differences(None, step(0.5)) == [f"scheduler none (configured: {STEP})"]


CHOOSE = f"scheduler={', '.join(options('scheduler')[:-1])} or {options('scheduler')[-1]}"


def test_every_scheduler_of_conf_is_one_a_group_may_name():
    for path in sorted((Path(__file__).parents[1] / "conf" / "scheduler").glob("*.yaml")):
        values = yaml.safe_load(path.read_text()) or {}
        if values:
            scheduler_class, arguments = scheduler_arguments(values)
            assert SCHEDULERS[values["_target_"]] is scheduler_class
            assert "monitor" not in arguments and "_target_" not in arguments


def test_a_scheduler_is_looked_up_by_its_exact_name_and_given_its_arguments_but_monitor():
    assert scheduler_arguments({"_target_": STEP, "step_size": 2, "gamma": 0.5}) == (
        torch.optim.lr_scheduler.StepLR,
        {"step_size": 2, "gamma": 0.5},
    )
    values = {
        "_target_": "src.schedule.ReduceLROnPlateau",
        "monitor": "val/acc",
        "mode": "max",
        "min_lr": [0.0],
    }
    assert scheduler_arguments(values) == (ReduceLROnPlateau, {"mode": "max", "min_lr": [0.0]})
    assert all(SCHEDULERS[name].__name__ == name.rsplit(".", 1)[1] for name in SCHEDULERS)


ARGUMENTS = {
    f"torch.optim.lr_scheduler.{name}": arguments
    for name, arguments in {
        "StepLR": {"step_size": 2},
        "MultiStepLR": {"milestones": [1, 3]},
        "ExponentialLR": {"gamma": 0.5},
        "CosineAnnealingLR": {"T_max": 4},
        "CosineAnnealingWarmRestarts": {"T_0": 1, "T_mult": 2},
        "ReduceLROnPlateau": {"patience": 0},
    }.items()
} | {"src.schedule.ReduceLROnPlateau": {"patience": 0, "max_reductions": 1}}
"""Arguments for each scheduler of SCHEDULERS (those without a default, and a plateau that stalls at once)."""


@pytest.mark.parametrize("target", list(SCHEDULERS))
def test_every_scheduler_allowed_is_one_of_torchs_and_keeps_its_progress_in_the_entries_named(target):
    """What ``check_schedule_state`` lets differ from a new scheduler's state in a checkpoint is exactly what
    stepping changes (for a plateau: stalling, reducing, stopping)."""
    scheduler_class = SCHEDULERS[target]
    assert issubclass(scheduler_class, Scheduler)
    assert f"{scheduler_class.__module__}.{scheduler_class.__name__}" == target
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = scheduler_class(optimizer, **ARGUMENTS.get(target, {}))
    new = scheduler.state_dict()
    changed = set()
    for _ in range(6):
        optimizer.step()
        plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        scheduler.step(0.5) if plateau else scheduler.step()
        changed |= {key for key, value in scheduler.state_dict().items() if value != new[key]}
    assert changed and changed <= set(SCHEDULE_PROGRESS)
    assert set(scheduler.state_dict()) == set(new)


@pytest.mark.parametrize(
    "target",
    [
        "builtins.dict",  # was built, then failed with a traceback when stepped
        "os.system",
        "torch.optim.lr_scheduler.LRScheduler",
        "torch.optim.lr_scheduler.steplr",
        "StepLR",
        "torch.optim.SGD",
        5,
        ["torch.optim.lr_scheduler.StepLR"],
    ],
    ids=repr,
)
def test_a_target_that_names_no_scheduler_is_one_line_with_the_allowed_ones(target):
    shown = (
        target if isinstance(target, str) else ("5" if target == 5 else "[torch.optim.lr_scheduler.StepLR]")
    )
    assert refused(scheduler_arguments, {"_target_": target, "step_size": 2}) == (
        f"scheduler._target_={shown}: must name a learning-rate scheduler, e.g. torch.optim.lr_scheduler.StepLR (or "
        f"choose {CHOOSE}; allowed: {', '.join(SCHEDULERS)})"
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("LambdaLR", "takes a Python function, which a configuration can't hold"),
        ("MultiplicativeLR", "takes a Python function, which a configuration can't hold"),
        ("SequentialLR", "combines other schedulers, which a configuration can't build"),
        ("ChainedScheduler", "combines other schedulers, which a configuration can't build"),
        (
            "CyclicLR",
            "sets the rate (and momentum) for each mini-batch, and this project steps a schedule once an epoch",
        ),
        (
            "OneCycleLR",
            "sets the rate (and momentum) for each mini-batch, and this project steps a schedule once an epoch",
        ),
    ],
)
def test_a_scheduler_this_project_cannot_run_says_why(name, reason):
    target = f"torch.optim.lr_scheduler.{name}"
    assert target in UNSUPPORTED_SCHEDULERS and target not in SCHEDULERS
    assert refused(scheduler_arguments, {"_target_": target}) == (
        f"scheduler._target_={target}: {reason}; choose another scheduler"
    )


@pytest.mark.parametrize("values", [{"patience": 2}, {"_target_": None, "patience": 2}, 5, None], ids=repr)
def test_settings_without_a_scheduler_are_one_line(values):
    shown = (
        {5: "5", None: "null"}.get(values)
        if not isinstance(values, dict)
        else ("{patience: 2}" if "_target_" not in values else "{_target_: null, patience: 2}")
    )
    assert refused(scheduler_arguments, values) == (
        f"scheduler={shown}: settings without a scheduler to take them; choose one with {CHOOSE}"
    )


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("gamma", {"_target_": "os.system", "command": "touch x"}, "{_target_: os.system, command: touch x}"),
        ("milestones", ["1", "2"], '["1", "2"]'),
        ("milestones", [1, [2]], "[1, [2]]"),
        ("milestones", [1, True], "[1, true]"),
    ],
)
def test_an_argument_that_is_not_a_plain_value_is_one_line(key, value, shown):
    assert refused(scheduler_arguments, {"_target_": STEP, key: value}) == (
        f"scheduler.{key}={shown}: must be a number, true/false, null, a string or a list of numbers"
    )


def test_plain_arguments_of_every_kind_pass_unbuilt():
    values = {"_target_": STEP, "a": 1, "b": 0.5, "c": True, "d": None, "e": "max", "f": [1, 2.5], "g": []}
    assert scheduler_arguments(values)[1] == {
        key: value for key, value in values.items() if key != "_target_"
    }


def test_the_callback_builds_the_scheduler_its_group_names():
    schedule = LearningRateSchedule({**step(0.25), "monitor": None})
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    schedule.on_train_start(SimpleNamespace(optimizers=[optimizer]), None)
    assert type(schedule.scheduler) is torch.optim.lr_scheduler.StepLR
    assert schedule.scheduler.optimizer is optimizer
    assert (schedule.scheduler.step_size, schedule.scheduler.gamma) == (10, 0.25)
    bad = LearningRateSchedule({"_target_": "builtins.dict"})
    assert refused(bad.on_train_start, SimpleNamespace(optimizers=[optimizer]), None).startswith(
        "scheduler._target_=builtins.dict: must name a learning-rate scheduler"
    )


def test_a_rate_the_schedule_reaches_in_the_run_must_be_a_finite_number_at_least_0():
    """src.checks steps a schedule through a run's first epochs only (SCHEDULE_EPOCHS_CHECKED): the callback
    checks each later rate as the run reaches it, with the same line."""
    values = {"_target_": STEP, "step_size": 3, "gamma": -1.0}
    schedule = LearningRateSchedule({**values, "monitor": None})
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    trainer, logged = SimpleNamespace(optimizers=[optimizer]), []
    module = SimpleNamespace(log=lambda name, value: logged.append((name, value)))
    schedule.on_train_start(trainer, module)
    schedule.on_train_epoch_end(trainer, module)
    schedule.on_train_epoch_end(trainer, module)
    assert refused(schedule.on_train_epoch_end, trainer, module) == (
        f"scheduler: {STEP} with {{step_size: 3, gamma: -1.0}} makes the learning rate -0.5 after epoch 3: it "
        "must stay a finite number >= 0"
    )
    assert logged == [("train/lr", 0.5)] * 3


@pytest.mark.parametrize(
    "lr, shown",
    [(-1e-9, "-1e-09"), (float("inf"), "inf"), (float("nan"), "nan"), (None, "null"), ("0.1", '"0.1"')],
)
def test_a_rate_that_is_not_a_finite_number_at_least_0_is_one_line(lr, shown):
    assert refused(check_rate, "scheduler: S", lr, 7) == (
        f"scheduler: S makes the learning rate {shown} after epoch 7: it must stay a finite number >= 0"
    )


def test_every_finite_rate_from_0_is_one():
    for lr in (0, 0.0, 1e-300, 0.1, 1e308):
        check_rate("scheduler: S", lr, 1)


def test_a_saved_value_that_is_a_tensor_differs_from_every_setting():
    """Comparing a tensor of two numbers with a setting failed with torch's "Boolean value of Tensor with
    more than one value is ambiguous"."""
    state = saved(step(0.5))
    assert resume_differences({**state, "gamma": torch.tensor([0.5, 0.5])}, step(0.5)) == [
        "scheduler.gamma a tensor of shape [2] (configured: 0.5)"
    ]
    target = torch.tensor([1.0, 2.0])
    assert resume_differences({**state, "_target_": target}, step(0.5)) == [
        f"scheduler a tensor of shape [2] (configured: {STEP})"
    ]
    assert resume_differences({**state, "_target_": target}, None) == [
        "scheduler a schedule (configured: none)"
    ]


PLATEAUS = ["torch.optim.lr_scheduler.ReduceLROnPlateau", "src.schedule.ReduceLROnPlateau"]
PATIENCE = "the number of stalled epochs to wait before lowering the rate must be an integer >= 0"


@pytest.mark.parametrize("target", PLATEAUS)
@pytest.mark.parametrize(
    ("patience", "shown"), [(-1, "-1"), (1.5, "1.5"), (None, "null"), ("3", '"3"'), (True, "true")]
)
def test_a_plateau_patience_torch_would_misread_is_one_line(target, patience, shown):
    """torch compares its count of stalled epochs with any value: -1 lowered the rate every epoch."""
    values = {"_target_": target, "monitor": "val/acc", "patience": patience}
    assert refused(scheduler_arguments, values) == f"scheduler.patience={shown}: {PATIENCE}"


@pytest.mark.parametrize("target", PLATEAUS)
def test_a_plateau_patience_from_0_is_accepted(target):
    for patience in (0, 3, 10**6):
        values = {"_target_": target, "monitor": "val/acc", "patience": patience}
        assert scheduler_arguments(values)[1] == {"patience": patience}


def test_the_plateau_rules_are_for_the_plateau_schedulers_only():
    """StepLR takes no patience: torch says so when it is built (src.checks.check_scheduler)."""
    assert scheduler_arguments({"_target_": STEP, "step_size": 2, "patience": -1})[1]["patience"] == -1


def plateau_stop(
    max_reductions: int, patience: int, accuracies: list[float], caplog
) -> tuple[list[bool], list[str]]:
    """Whether training was told to stop after each validated epoch of a plateau schedule (lr 1, halved)
    watching ``accuracies``, and the lines it logged."""
    trainer = SimpleNamespace(sanity_checking=False, should_stop=False)
    module = SimpleNamespace(log=lambda *args: None)
    schedule = plateau_halving(patience, max_reductions, trainer, module)
    stops = []
    with caplog.at_level(logging.INFO, logger="src.schedule"):
        for accuracy in accuracies:
            trainer.callback_metrics = {"val/acc": torch.tensor(accuracy)}
            schedule.on_validation_end(trainer, module)
            schedule.on_train_epoch_end(trainer, module)
            stops.append(trainer.should_stop)
    return stops, [record.getMessage() for record in caplog.records if record.name == "src.schedule"]


def test_the_plateau_stop_says_why_in_one_line_as_early_stopping_does(caplog):
    """Early stopping ends a run with "Monitored metric val/acc did not improve in the last 5 records. Best
    score: 0.944. Signaling Trainer to stop."; the plateau schedule's max_reductions ended it without a word."""
    stops, lines = plateau_stop(1, 1, [0.5, 0.625, 0.6, 0.6, 0.6, 0.6, 0.6], caplog)
    assert stops == [False, False, False, False, False, True, True]  # halved after epoch 4, stopped after 6
    assert lines == [
        "Monitored metric val/acc did not improve in the last 2 records after 1 learning-rate reduction "
        "(scheduler.max_reductions=1). Best score: 0.625. Signaling Trainer to stop."
    ]  # once, when it stops
    caplog.clear()
    _, lines = plateau_stop(0, 0, [0.5, 0.4], caplog)
    assert lines == [
        "Monitored metric val/acc did not improve in the last 1 record after 0 learning-rate reductions "
        "(scheduler.max_reductions=0). Best score: 0.500. Signaling Trainer to stop."
    ]


def test_the_plateau_stop_is_said_on_rank_0_only(caplog, monkeypatch):
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    stops, lines = plateau_stop(0, 0, [0.5, 0.4], caplog)
    assert (stops, lines) == ([False, True], [])


def test_a_monitored_metric_the_validation_did_not_log_is_one_line_naming_what_it_logged():
    trainer = SimpleNamespace(sanity_checking=False, should_stop=False)
    module = SimpleNamespace(log=lambda *args: None)
    schedule = plateau_halving(1, None, trainer, module)
    trainer.callback_metrics = {"val/loss": torch.tensor(0.5), "train/loss": torch.tensor(0.6)}
    with pytest.raises(UserError) as error:
        schedule.on_validation_end(trainer, module)
    assert str(error.value) == (
        "scheduler.monitor=val/acc: the validation logged no such metric (it logged train/loss, val/loss)"
    )


def test_a_plateau_that_never_stops_says_nothing(caplog):
    stops, lines = plateau_stop(None, 0, [0.5, 0.4, 0.3, 0.2], caplog)
    assert (stops, lines) == ([False] * 4, [])
