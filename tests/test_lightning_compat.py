"""Each private touch of :mod:`src.lightning_compat` still does what it says on the installed versions of
Lightning, torch and TensorBoard; and mid-epoch resume goes through the public stateful-loader protocol."""

import sys
import types

import lightning as L
import pytest
from lightning.pytorch.loggers import mlflow as lightning_mlflow
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from src.data import DigitsDataModule, MiniBatchChunks, ResumableLoader
from src.lightning_compat import (
    add_summary,
    count_optimizer_steps,
    mlflow_tracking_uri,
    relaunches_script,
    stop_as_after_sigterm,
)
from src.lit import MLPClassifier
from src.precisions import DEFAULT_PRECISION


def cpu_trainer(**options) -> L.Trainer:
    return L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, **options)


def test_count_optimizer_steps_advances_global_step():
    trainer, model = cpu_trainer(devices=1), MLPClassifier(64, 10, [4])
    trainer.strategy.connect(model)
    count_optimizer_steps(trainer, 5)
    count_optimizer_steps(trainer, 2)
    assert trainer.global_step == 7


def test_stop_as_after_sigterm_sets_lightnings_public_flag():
    trainer = cpu_trainer(devices=1)
    assert not trainer.received_sigterm
    stop_as_after_sigterm(trainer)
    assert trainer.received_sigterm


def test_the_default_precision_is_what_lightning_trains_at_without_one():
    """Lightning writes its default only as a literal inside its connector: src.precisions names it."""
    assert cpu_trainer(devices=1).precision == DEFAULT_PRECISION


def test_relaunches_script_only_for_the_subprocess_strategies():
    assert relaunches_script(cpu_trainer(devices=2, strategy="ddp"))
    assert not relaunches_script(cpu_trainer(devices=1))
    assert not relaunches_script(cpu_trainer(devices=2, strategy="ddp_spawn"))


def test_add_summary_writes_the_hparams_plugin(tmp_path):
    writer = SummaryWriter(tmp_path)
    for summary in hparams({"lr": 3.0}, {"val/acc": 0.0}):
        add_summary(writer, summary)
    writer.close()
    assert "_hparams_/experiment" in EventAccumulator(str(tmp_path)).Reload().summary_metadata


def test_train_loader_is_stateful_for_lightning():
    """Lightning saves and restores a loader's position only if it has ``state_dict``/``load_state_dict``."""
    from lightning.fabric.utilities.types import _Stateful

    data = DigitsDataModule(batches_per_step=4)
    data.setup()
    assert isinstance(data.train_dataloader(), _Stateful)


@pytest.mark.parametrize("resumed_epoch", [3, 4])
def test_sampler_resumes_within_the_saved_epoch_only(resumed_epoch):
    sampler = MiniBatchChunks(100, batch_size=10, batches_per_step=2, seed=1)
    sampler.set_epoch(3)
    whole = [chunk.tolist() for chunk in sampler]
    for _ in range(2):
        sampler.chunk_trained()
    state = sampler.state_dict()
    assert state == {"epoch": 3, "chunks_trained": 2, "world_size": 1}

    restored = ResumableLoader(range(100), sampler=MiniBatchChunks(100, 10, 2, seed=1), batch_size=None)
    restored.load_state_dict(state)
    restored.sampler.set_epoch(resumed_epoch)  # Lightning sets the epoch it resumes in
    chunks = [chunk.tolist() for chunk in restored.sampler]
    if resumed_epoch == 3:  # saved mid-epoch: the rest of that epoch
        assert chunks == whole[2:]
    else:  # saved at the end of epoch 3: the whole next epoch
        assert len(chunks) == 5 and chunks != whole
    assert [chunk.tolist() for chunk in restored.sampler] == (whole if resumed_epoch == 3 else chunks)


def test_mlflow_tracking_uri_is_the_one_the_logger_was_given(monkeypatch):
    """``MLFlowLogger`` keeps it privately. Without mlflow installed, a stand-in for its client lets the
    logger be built: it only makes the client then."""
    tracking = types.ModuleType("mlflow.tracking")
    tracking.MlflowClient = lambda *args, **kwargs: object()
    monkeypatch.setitem(sys.modules, "mlflow", types.ModuleType("mlflow"))
    monkeypatch.setitem(sys.modules, "mlflow.tracking", tracking)
    monkeypatch.setattr(lightning_mlflow, "_MLFLOW_AVAILABLE", True)
    logger = lightning_mlflow.MLFlowLogger(tracking_uri="sqlite:////tmp/runs/mlflow.db")
    assert mlflow_tracking_uri(logger) == "sqlite:////tmp/runs/mlflow.db"
