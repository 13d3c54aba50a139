"""``scheduler=plateau`` (:class:`src.schedule.ReduceLROnPlateau`) with ``max_reductions``: Nielsen's
chapter-3 schedule, the rate halved when validation stalls and training stopped at the stall after the
last halving, as the experiments use it. (It replaced a callback of its own, ``src/lr_halving.py``, after
a test here showed both giving the same rate in every epoch, the same stop epoch and bit-identical weights
on a digits run: commit bd654eb.)"""

from types import SimpleNamespace

import pytest
import torch
from runs import compose_config, plateau_halving, recorded_rates

from src.schedule import LearningRateSchedule, ReduceLROnPlateau
from src.train import train


def epochs(schedule: LearningRateSchedule, accuracies: list[float]) -> tuple[list[float], list[bool]]:
    """The learning rate after each validated epoch, and whether training was told to stop."""
    optimizer = schedule.scheduler.optimizer
    trainer = SimpleNamespace(sanity_checking=False, optimizers=[optimizer], should_stop=False)
    module = SimpleNamespace(log=lambda *args: None)
    rates, stops = [], []
    for accuracy in accuracies:
        trainer.callback_metrics = {"val/acc": torch.tensor(accuracy)}
        schedule.on_validation_end(trainer, module)
        schedule.on_train_epoch_end(trainer, module)
        rates.append(optimizer.param_groups[0]["lr"])
        stops.append(trainer.should_stop)
    return rates, stops


def test_the_rate_halves_after_more_than_patience_epochs_without_a_better_accuracy():
    rates, stops = epochs(plateau_halving(patience=1), [0.5, 0.6, 0.6, 0.55, 0.7, 0.69, 0.7, 0.71])
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert not any(stops)


def test_training_stops_at_the_stall_after_the_last_halving():
    rates, stops = epochs(plateau_halving(patience=0, max_reductions=2), [0.5, 0.4, 0.4, 0.4])
    assert rates == [1.0, 0.5, 0.25, 0.25]
    assert stops == [False, False, False, True]


def test_max_reductions_0_stops_at_the_first_stall_without_reducing():
    rates, stops = epochs(plateau_halving(patience=0, max_reductions=0), [0.5, 0.4, 0.4])
    assert rates == [1.0, 1.0, 1.0]
    assert stops == [False, True, True]


def test_a_count_of_reductions_past_256_still_stops():
    """The count is compared by value (CPython shares one object per int only up to 256)."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = ReduceLROnPlateau(
        optimizer, max_reductions=300, mode="max", factor=0.9, patience=0, threshold=0.0, eps=0.0
    )
    scheduler.step(1.0)
    rate = 1.0
    for _ in range(300):
        scheduler.step(0.0)
        rate *= 0.9
    assert (scheduler.reductions, scheduler.should_stop) == (300, False)
    assert optimizer.param_groups[0]["lr"] == rate
    scheduler.step(0.0)
    assert (scheduler.reductions, scheduler.should_stop) == (300, True)
    assert optimizer.param_groups[0]["lr"] == rate


def test_torchs_own_plateau_schedule_reduces_and_never_stops_training():
    """``_target_: torch.optim.lr_scheduler.ReduceLROnPlateau`` has no ``should_stop``: training goes on."""
    schedule = LearningRateSchedule(
        {
            "_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau",
            "monitor": "val/acc",
            "mode": "max",
            "factor": 0.5,
            "patience": 0,
            "threshold": 0.0,
        }
    )
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    schedule.on_train_start(SimpleNamespace(optimizers=[optimizer]), None)
    rates, stops = epochs(schedule, [0.5, 0.4, 0.4, 0.4])
    assert rates == [1.0, 0.5, 0.25, 0.125]
    assert not any(stops)


def test_an_epoch_without_validation_is_not_a_stalled_epoch():
    schedule = plateau_halving(patience=0)
    optimizer = schedule.scheduler.optimizer
    trainer = SimpleNamespace(
        sanity_checking=False, optimizers=[optimizer], should_stop=False, callback_metrics={"val/acc": 0.5}
    )
    module = SimpleNamespace(log=lambda *args: None)
    schedule.on_validation_end(trainer, module)
    schedule.on_train_epoch_end(trainer, module)
    for _ in range(3):  # check_val_every_n_epoch > 1: the same val/acc again, not judged again
        schedule.on_train_epoch_end(trainer, module)
    assert optimizer.param_groups[0]["lr"] == 1.0


def test_sanity_check_is_ignored_and_the_state_survives_a_checkpoint():
    schedule = plateau_halving(patience=1, max_reductions=3)
    trainer = SimpleNamespace(sanity_checking=True, callback_metrics={"val/acc": torch.tensor(0.9)})
    schedule.on_validation_end(trainer, None)
    assert schedule.pending is None
    epochs(schedule, [0.5, 0.4, 0.4])
    restored = plateau_halving(patience=1, max_reductions=3)
    restored.load_state_dict(schedule.state_dict())
    restored.on_train_start(SimpleNamespace(optimizers=[restored.scheduler.optimizer]), None)
    scheduler: ReduceLROnPlateau = restored.scheduler
    assert (scheduler.best, scheduler.num_bad_epochs, scheduler.reductions) == (0.5, 0, 1)


# --- on a digits run ----------------------------------------------------------------------------------

PLATEAU = ["scheduler=plateau", "scheduler.patience=1", "scheduler.max_reductions=2"]


def run(directory, *overrides: str) -> tuple[list[tuple[int, float, float]], torch.Tensor]:
    """Train on the digits with ``overrides``; the recorded (epoch, rate, val/acc) and final weights."""
    train(
        compose_config(
            "train",
            directory,
            "logger=none",
            "callbacks.tensorboard_figures=null",
            "test=false",
            "+callbacks.record._target_=runs.RecordRates",
            f"+callbacks.record.directory={directory}",
            *overrides,
        )
    )
    return recorded_rates(directory), torch.load(directory / "weights.pt")


def nielsen_halving(accuracies: list[float], rate: float, patience: int, max_halvings: int) -> list[float]:
    """The rate of each epoch under Nielsen's rule, written out: halve after ``patience`` epochs without
    a better accuracy, stop at the stall after the ``max_halvings``-th halving; as many rates as epochs."""
    rates, best, stalled, halvings = [], float("-inf"), 0, 0
    for accuracy in accuracies:
        rates.append(rate)
        if accuracy > best:
            best, stalled = accuracy, 0
            continue
        stalled += 1
        if stalled == patience:
            stalled = 0
            if halvings == max_halvings:
                return rates
            halvings, rate = halvings + 1, rate / 2
    return rates


@pytest.mark.slow
def test_a_digits_run_halves_as_nielsen_says_and_a_resumed_run_keeps_the_schedule(tmp_path):
    whole, weights = run(tmp_path / "whole", "trainer.max_epochs=40", *PLATEAU)
    rates = [rate for _, rate, _ in whole]
    assert rates == nielsen_halving([accuracy for *_, accuracy in whole], 3.0, 2, 2)
    assert len(rates) < 40 and rates[-1] == 3.0 / 4  # halved twice, then stopped at the next stall
    first_halving = rates.index(1.5)
    run(tmp_path / "resumed", f"trainer.max_epochs={first_halving + 1}", *PLATEAU)
    resumed, resumed_weights = run(
        tmp_path / "resumed",
        "trainer.max_epochs=40",
        f"ckpt_path={tmp_path / 'resumed' / 'checkpoints' / 'last.ckpt'}",
        *PLATEAU,
    )
    assert resumed == whole
    assert torch.equal(resumed_weights, weights)


def test_a_resumed_run_keeps_the_schedule_when_validation_skips_epochs(tmp_path):
    """``check_val_every_n_epoch=2``: last.ckpt is written at the end of every epoch, validated or not, after
    the schedule judged it (as without the setting); the resumed run takes the steps the whole run took."""
    every_other = [
        *PLATEAU,
        "scheduler.patience=0",
        "scheduler.threshold=10",  # better only when over 11 times the best: every later validation stalls
        "+trainer.check_val_every_n_epoch=2",
    ]
    whole, weights = run(tmp_path / "whole", "trainer.max_epochs=6", *every_other)
    assert [rate for _, rate, _ in whole] == [3.0] * 4 + [1.5] * 2
    run(tmp_path / "resumed", "trainer.max_epochs=2", *every_other)
    last = tmp_path / "resumed" / "checkpoints" / "last.ckpt"
    _, resumed_weights = run(tmp_path / "resumed", "trainer.max_epochs=6", f"ckpt_path={last}", *every_other)
    rates = [
        torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["optimizer_states"][0][
            "param_groups"
        ][0]["lr"]
        for run_dir in (tmp_path / "whole", tmp_path / "resumed")
    ]
    assert rates == [0.75, 0.75]  # saved when epoch 5 ended, after its validation and halving
    assert torch.equal(resumed_weights, weights)


def test_a_schedule_with_a_list_argument_given_on_the_command_line_trains_and_resumes(tmp_path):
    """``MultiStepLR``'s ``milestones`` come from Hydra as a list (they were once refused as no list when
    training started), and its checkpoint keeps them as a ``Counter`` (once refused on resuming)."""
    multistep = [
        "+scheduler._target_=torch.optim.lr_scheduler.MultiStepLR",
        "+scheduler.milestones=[1,3]",
        "+scheduler.gamma=0.5",
    ]
    whole, weights = run(tmp_path / "whole", "trainer.max_epochs=4", *multistep)
    assert [rate for _, rate, _ in whole] == [3.0, 1.5, 1.5, 0.75]
    run(tmp_path / "resumed", "trainer.max_epochs=2", *multistep)
    last = tmp_path / "resumed" / "checkpoints" / "last.ckpt"
    resumed, resumed_weights = run(
        tmp_path / "resumed", "trainer.max_epochs=4", f"ckpt_path={last}", *multistep
    )
    assert resumed == whole
    assert torch.equal(resumed_weights, weights)
