"""``HalveLearningRateOnPlateau``: Nielsen's chapter-3 schedule, the rate halved when validation stalls."""

from types import SimpleNamespace

import torch

from src.lr_halving import HalveLearningRateOnPlateau


def epochs(callback: HalveLearningRateOnPlateau, accuracies: list[float]) -> tuple[list[float], list[bool]]:
    """The learning rate after each validation epoch, and whether training was told to stop."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    trainer = SimpleNamespace(
        sanity_checking=False, callback_metrics={}, optimizers=[optimizer], should_stop=False
    )
    rates, stops = [], []
    for accuracy in accuracies:
        trainer.callback_metrics = {"val/acc": torch.tensor(accuracy)}
        callback.on_validation_end(trainer, None)
        rates.append(optimizer.param_groups[0]["lr"])
        stops.append(trainer.should_stop)
    return rates, stops


def test_the_rate_halves_after_patience_epochs_without_a_better_accuracy():
    rates, stops = epochs(HalveLearningRateOnPlateau(patience=2), [0.5, 0.6, 0.6, 0.55, 0.7, 0.69, 0.7, 0.71])
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert not any(stops)


def test_training_stops_at_the_stall_after_the_last_halving():
    rates, stops = epochs(HalveLearningRateOnPlateau(patience=1, max_halvings=2), [0.5, 0.4, 0.4, 0.4])
    assert rates == [1.0, 0.5, 0.25, 0.25]
    assert stops == [False, False, False, True]


def test_sanity_check_is_ignored_and_the_state_survives_a_checkpoint():
    callback = HalveLearningRateOnPlateau(patience=2)
    trainer = SimpleNamespace(sanity_checking=True, callback_metrics={"val/acc": torch.tensor(0.9)})
    callback.on_validation_end(trainer, None)
    assert callback.best == float("-inf")
    epochs(callback, [0.5, 0.4, 0.4])
    restored = HalveLearningRateOnPlateau(patience=2)
    restored.load_state_dict(callback.state_dict())
    assert (restored.best, restored.stalled, restored.halvings) == (0.5, 0, 1)
