"""Fast checks of src/schedule.py's comparison of a checkpoint's saved schedule with the configured one
(:func:`src.schedule.resume_differences`, which ``ckpt_path=...`` runs before resuming), on states saved
by :class:`src.schedule.LearningRateSchedule` over a real optimizer."""

from types import SimpleNamespace

import pytest
import torch

from src.schedule import LearningRateSchedule, resume_differences

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


def test_a_saved_state_without_its_target_is_a_schedule_and_only_what_it_saved_is_compared():
    """A checkpoint's state may lack ``_target_`` (or be no mapping at all); ``monitor`` and settings the
    state does not hold are not compared."""
    state = saved(step(0.5))
    del state["_target_"]
    assert resume_differences(state, None) == ["scheduler a schedule (configured: none)"]
    assert resume_differences(state, {**step(0.5), "monitor": "val/acc", "verbose": True}) == []
    assert resume_differences(state, step(0.25)) == ["scheduler.gamma 0.5 (configured: 0.25)"]
    assert resume_differences(None, step(0.5)) == [f"scheduler none (configured: {STEP})"]
