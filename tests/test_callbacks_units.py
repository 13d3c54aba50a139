"""Fast checks of src/callbacks.py: the throughput's clock in Lightning's real hook order (a tiny model whose
steps, loads, validations and checkpoint writes each advance a fake clock by their own amount), and the
signal handling, the interrupt checkpoint and the checkpoints' restored paths driven by stand-in trainers:
data parallelism without processes, a CUDA device without a GPU."""

import shutil
import signal
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException
from torch.utils.data import DataLoader, Dataset

from src import callbacks
from src.callbacks import (
    MODEL_CHECKPOINT_PATHS,
    BestCheckpoint,
    InterruptCheckpoint,
    SafeModelCheckpoint,
    StopOnSignal,
    TrainingThroughput,
    checkpoints_beside,
    interrupts_reported,
)
from src.errors import TestingInterrupted, TrainingInterrupted

# --- The throughput in a real (tiny) training run -----------------------------------------------------


class Clock:
    """``perf_counter`` of a clock that moves only when the run's work advances it."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


class Rows(Dataset):
    """``rows`` samples of 2 features; loading one advances ``clock`` by ``cost``."""

    def __init__(self, rows: int, clock: Clock, cost: float) -> None:
        self.rows, self.clock, self.cost = rows, clock, cost

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        self.clock.now += self.cost
        return torch.ones(2), index % 2


def batch_of(items: list[tuple[torch.Tensor, int]]) -> SimpleNamespace:
    """A mini-batch as the project's data modules hand it over: ``x`` and ``y``."""
    return SimpleNamespace(x=torch.stack([x for x, _ in items]), y=torch.tensor([y for _, y in items]))


class Costs(SimpleNamespace):
    """The fake seconds each piece of work takes."""

    load: float = 1.0  # a training sample
    step: float = 100.0  # a training step
    validation: float = 1e4  # a validation step, and the loading of each validation sample
    validation_loader: float = 1e5  # making the validation data loader (before the first validation)
    checkpoint: float = 1e6  # a checkpoint written at the end of a validation


class Tiny(L.LightningModule):
    def __init__(self, clock: Clock, costs: Costs, batch_size: int) -> None:
        super().__init__()
        self.clock, self.costs, self.batch_size = clock, costs, batch_size
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch: SimpleNamespace, batch_idx: int) -> torch.Tensor:
        self.clock.now += self.costs.step
        return self.layer(batch.x).sum()

    def validation_step(self, batch: SimpleNamespace, batch_idx: int) -> None:
        self.clock.now += self.costs.validation

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self) -> DataLoader:
        rows = Rows(8, self.clock, self.costs.load)
        return DataLoader(rows, batch_size=self.batch_size, collate_fn=batch_of)

    def val_dataloader(self) -> DataLoader:
        self.clock.now += self.costs.validation_loader
        return DataLoader(Rows(4, self.clock, self.costs.validation), batch_size=2, collate_fn=batch_of)


class CheckpointWrite(L.Callback):
    """Advances the clock at the end of each validation, as ``ModelCheckpoint`` writing a file there does;
    listed after the throughput, so its hook runs after the throughput's."""

    def __init__(self, clock: Clock, cost: float) -> None:
        self.clock, self.cost = clock, cost

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.clock.now += self.cost


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(callbacks, "time", clock)
    return clock


def fit(
    clock: Clock, costs: Costs, epochs: int = 2, batch_size: int = 2, sanity_steps: int = 2, **trainer
) -> tuple[TrainingThroughput, dict]:
    """Trains ``Tiny`` on 8 samples for ``epochs`` epochs, with ``sanity_steps`` validation steps before
    training: the throughput callback and the metrics the run logged."""
    throughput = TrainingThroughput()
    run = L.Trainer(
        accelerator="cpu",
        max_epochs=epochs,
        callbacks=[throughput, CheckpointWrite(clock, costs.checkpoint)],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=sanity_steps,
        **trainer,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no workers, a tiny data set
        run.fit(Tiny(clock, costs, batch_size))
    return throughput, run.callback_metrics


@pytest.mark.parametrize(
    ("every", "sanity_steps", "validations_inside_epochs"),
    [
        (1.0, 2, 0),  # at the end of each epoch of 4 steps
        (1.0, 0, 0),  # the same, the validation loader made after the first epoch's last step
        (2, 2, 2),  # after every 2nd step: in the middle of each epoch and at its end
        (1, 2, 6),  # after every step
        (3, 2, 2),  # after steps 3 and 6, counted across epochs: both inside an epoch
    ],
)
def test_throughput_counts_the_training_steps_and_their_loading_only(
    clock, every, sanity_steps, validations_inside_epochs
):
    """2 epochs of 4 steps of 2 samples: 8 steps and 16 sample loads, but for the mini-batch loaded right
    after each validation inside an epoch."""
    options = {"check_val_every_n_epoch": None} if every == 3 else {}
    throughput, metrics = fit(clock, Costs(), sanity_steps=sanity_steps, val_check_interval=every, **options)
    loads = 16 - 2 * validations_inside_epochs
    assert throughput.samples == 16
    assert throughput.seconds == 8 * Costs.step + loads * Costs.load
    assert metrics["train/samples_per_sec"].item() == pytest.approx(16 / throughput.seconds)


def test_throughput_of_the_first_epoch_alone(clock):
    """One epoch, 3 steps of 3, 3 and 2 samples (the last one short), in half a second: 16 samples/s."""
    throughput, metrics = fit(clock, Costs(load=0.0, step=0.5 / 3), epochs=1, batch_size=3)
    assert (throughput.samples, throughput.seconds) == (8, pytest.approx(0.5))
    assert metrics["train/samples_per_sec"].item() == pytest.approx(16)


def test_no_throughput_is_logged_when_no_time_passed(clock):
    throughput, metrics = fit(clock, Costs(load=0.0, step=0.0), epochs=1)
    assert (throughput.samples, throughput.seconds) == (8, 0.0)
    assert "train/samples_per_sec" not in metrics


# --- The throughput's hooks driven one by one ----------------------------------------------------------


def stand_in_trainer(world_size: int = 1, device: str = "cpu", **attributes) -> SimpleNamespace:
    """What the callbacks read of a trainer."""
    return SimpleNamespace(
        world_size=world_size,
        strategy=SimpleNamespace(root_device=torch.device(device), barrier=lambda name: None),
        **attributes,
    )


class Logs:
    """A LightningModule's ``log``: keeps what was logged."""

    def __init__(self) -> None:
        self.logged: dict[str, float] = {}

    def log(self, name: str, value: float) -> None:
        self.logged[name] = value


def throughput_of(**trainer) -> tuple[SimpleNamespace, Logs, TrainingThroughput]:
    """A stand-in trainer, a module that keeps what it logs, and a new throughput callback."""
    return stand_in_trainer(**trainer), Logs(), TrainingThroughput()


def test_throughput_counts_the_samples_of_every_process(clock):
    trainer, module, throughput = throughput_of(world_size=3, num_training_batches=2)
    throughput.on_train_epoch_start(trainer, module)
    for batch_idx in range(2):
        throughput.on_train_batch_start(trainer, module, None, batch_idx)
        clock.now += 2.0
        throughput.on_train_batch_end(trainer, module, None, SimpleNamespace(y=torch.zeros(5)), batch_idx)
    throughput.on_train_epoch_end(trainer, module)
    assert module.logged == {"train/samples_per_sec": 2 * 5 * 3 / 4.0}


def test_an_epoch_resumed_in_its_middle_counts_from_its_first_step_not_from_the_sanity_check(clock):
    """Resumed mid-epoch, Lightning calls no ``on_train_epoch_start``: the clock starts at the first
    step, and the start-up and sanity-check validation before it do not count."""
    trainer, module, throughput = throughput_of(num_training_batches=4)
    clock.now = 10.0
    throughput.on_validation_start(trainer, module)
    clock.now = 20.0
    throughput.on_validation_end(trainer, module)
    clock.now = 30.0
    for batch_idx in (2, 3):  # the epoch's last two steps
        throughput.on_train_batch_start(trainer, module, None, batch_idx)
        clock.now += 0.25
        throughput.on_train_batch_end(trainer, module, None, SimpleNamespace(y=torch.zeros(4)), batch_idx)
    clock.now = 50.0  # validation and checkpoints after the epoch's last step
    throughput.on_train_epoch_end(trainer, module)
    assert (throughput.samples, throughput.seconds) == (8, 0.5)
    assert module.logged == {"train/samples_per_sec": 16.0}


def test_the_clock_stops_at_the_last_step_of_a_long_epoch(clock):
    """300 steps: past the small integers that CPython keeps one object of."""
    trainer, module, throughput = throughput_of(num_training_batches=300)
    throughput.on_train_epoch_start(trainer, module)
    clock.now = 3.0
    throughput.on_train_batch_end(trainer, module, None, SimpleNamespace(y=torch.zeros(1)), 299)
    clock.now = 5.0  # making the validation loader
    throughput.on_validation_start(trainer, module)
    assert throughput.seconds == 3.0


@pytest.mark.parametrize(
    ("device", "synchronised"), [("cuda", True), ("cpu", False), ("mps", False), ("xla", False)]
)
def test_the_clock_waits_for_the_gpu_only_on_cuda(clock, monkeypatch, device, synchronised):
    """CUDA runs asynchronously: the clock is read after the GPU has done the work queued so far."""
    waits = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: waits.append(clock.now))
    trainer, module, throughput = throughput_of(device=device, num_training_batches=1)
    throughput.on_train_epoch_start(trainer, module)
    clock.now = 1.0
    throughput.on_train_batch_end(trainer, module, None, SimpleNamespace(y=torch.zeros(1)), 0)
    assert waits == ([0.0, 1.0] if synchronised else [])


# --- StopOnSignal and InterruptCheckpoint ---------------------------------------------------------------


def signal_trainer(world_size: int = 1, **attributes) -> SimpleNamespace:
    """A stand-in trainer with Lightning's SIGTERM flag (``stop_as_after_sigterm`` sets it)."""
    return stand_in_trainer(
        world_size, _signal_connector=SimpleNamespace(received_sigterm=False), **attributes
    )


@pytest.fixture
def other_processes(monkeypatch) -> list[int]:
    """The signal numbers the other processes hold (0: none) when ``all_reduce`` takes the largest."""
    others: list[int] = []

    def all_reduce(tensor: torch.Tensor, op) -> None:
        assert op == torch.distributed.ReduceOp.MAX
        tensor.copy_(torch.tensor([max([int(tensor.item()), *others])]))

    monkeypatch.setattr(torch.distributed, "all_reduce", all_reduce)
    return others


@pytest.fixture
def restore_handlers() -> Iterator[None]:
    """Puts back the SIGINT and SIGTERM handlers that a test's callback replaced (Lightning does it after
    a run)."""
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGINT, handlers[0])
    signal.signal(signal.SIGTERM, handlers[1])


def listening(world_size: int = 1) -> tuple[StopOnSignal, SimpleNamespace]:
    """A StopOnSignal that training has started: it handles the signals raised from now on."""
    stop, trainer = StopOnSignal(), signal_trainer(world_size)
    stop.on_train_start(trainer, None)
    return stop, trainer


def test_one_process_stops_at_the_first_signal_and_ignores_repeated_sigterms(restore_handlers):
    stop, trainer = listening()
    signal.raise_signal(signal.SIGTERM)
    assert (stop.signum, trainer._signal_connector.received_sigterm) == (signal.SIGTERM, True)
    signal.raise_signal(signal.SIGTERM)  # a scheduler's second SIGTERM
    assert stop.signum == signal.SIGTERM


@pytest.mark.parametrize("first", [signal.SIGINT, signal.SIGTERM])
def test_a_ctrl_c_after_a_first_signal_stops_at_once(restore_handlers, first):
    stop, _ = listening()
    signal.raise_signal(first)
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    assert stop.signum == first


def test_under_data_parallelism_a_signal_is_only_recorded_until_all_processes_agree(
    restore_handlers, other_processes
):
    stop, trainer = listening(world_size=2)
    signal.raise_signal(signal.SIGINT)
    assert (stop.signum, trainer._signal_connector.received_sigterm) == (signal.SIGINT, False)
    other_processes.append(signal.SIGTERM)
    stop.on_train_batch_end(trainer, None, None, None, 0)
    assert (stop.signum, trainer._signal_connector.received_sigterm) == (signal.SIGTERM, True)


def test_when_no_process_received_a_signal_none_stops(monkeypatch):
    monkeypatch.setattr(torch.distributed, "all_reduce", lambda tensor, op: None)  # all sent the same
    stop, trainer = StopOnSignal(), signal_trainer(world_size=4)
    stop.on_train_batch_end(trainer, None, None, None, 0)
    assert (stop.signum, trainer._signal_connector.received_sigterm) == (None, False)


@pytest.mark.parametrize("hook", ["on_train_batch_end", "on_train_end", "on_test_end"])
@pytest.mark.parametrize("others", [[0], [signal.SIGINT], [0, signal.SIGTERM]])
def test_every_process_takes_the_largest_signal_any_received(other_processes, hook, others):
    other_processes.extend(others)
    stop, trainer = StopOnSignal(), signal_trainer(world_size=1 + len(others))
    arguments = (None, None, 0) if hook == "on_train_batch_end" else ()
    getattr(stop, hook)(trainer, None, *arguments)
    received = max(others) or None
    assert (stop.signum, trainer._signal_connector.received_sigterm) == (received, received is not None)


def test_one_process_agrees_with_itself_without_communicating(monkeypatch):
    monkeypatch.setattr(torch.distributed, "all_reduce", None)  # not initialised: calling it fails
    stop, trainer = StopOnSignal(), signal_trainer()
    stop.on_train_batch_end(trainer, None, None, None, 0)
    assert (stop.signum, trainer._signal_connector.received_sigterm) == (None, False)


@pytest.mark.parametrize(
    ("recorded", "exception", "signum"),
    [
        (None, KeyboardInterrupt(), signal.SIGINT),
        (signal.SIGTERM, KeyboardInterrupt(), signal.SIGINT),  # a Ctrl-C after SIGTERM
        (None, SIGTERMException(), signal.SIGTERM),  # Lightning's own handler (another process's)
        (signal.SIGINT, SIGTERMException(), signal.SIGINT),  # our flag, set after Ctrl-C
        (None, ValueError(), None),
    ],
)
def test_the_exception_that_ended_a_run_names_its_signal(recorded, exception, signum):
    stop = StopOnSignal()
    stop.signum = recorded
    stop.on_exception(signal_trainer(), None, exception)
    assert stop.signum == signum


def test_listening_in_the_main_thread_records_the_signals_and_names_the_stage(restore_handlers):
    stop, trainer = StopOnSignal(), signal_trainer()
    stop.on_test_start(trainer, None)
    assert signal.getsignal(signal.SIGINT) == signal.getsignal(signal.SIGTERM) == stop._record
    assert stop.stage == "testing"
    stop.on_train_start(trainer, None)
    assert stop.stage == "training"
    stop.on_test_start(trainer, None)
    stop.on_sanity_check_start(trainer, None)
    assert stop.stage == "training"


def test_an_interrupted_test_names_the_checkpoint_it_was_testing(tmp_path):
    stop = StopOnSignal()
    stop.stage, stop.signum = "testing", signal.SIGTERM
    for ckpt_path, named in [(str(tmp_path / "a.ckpt"), tmp_path / "a.ckpt"), (None, None)]:
        error = stop.error(signal_trainer(ckpt_path=ckpt_path))
        assert isinstance(error, TestingInterrupted)
        assert (error.signum, error.checkpoint) == (signal.SIGTERM, named)


def test_an_interrupted_training_without_a_checkpoint_names_its_step():
    stop = StopOnSignal()
    stop.signum = signal.SIGINT
    error = stop.error(signal_trainer(global_step=12, current_epoch=3))
    assert isinstance(error, TrainingInterrupted)
    assert (error.signum, error.checkpoint) == (signal.SIGINT, None)
    assert error.summary == "training interrupted by SIGINT at SGD step 12: no checkpoint to resume from"


class Saves:
    """``trainer.save_checkpoint`` that keeps the paths it was given."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def __call__(self, path: Path, weights_only: bool) -> None:
        assert weights_only is False
        self.paths.append(path)


def interrupted_trainer(tmp_path: Path, **changes) -> SimpleNamespace:
    """A trainer fitting after its first step, outside the sanity check, with a model checkpoint in ``tmp_path/ckpts``."""
    attributes = {
        "state": SimpleNamespace(fn=TrainerFn.FITTING),
        "global_step": 1,
        "current_epoch": 1,
        "sanity_checking": False,
        "overfit_batches": 0,
        "checkpoint_callback": SimpleNamespace(dirpath=str(tmp_path / "ckpts")),
        "default_root_dir": str(tmp_path),
        "save_checkpoint": Saves(),
    }
    return signal_trainer(**(attributes | changes))


def module(weight: float) -> SimpleNamespace:
    return SimpleNamespace(
        net=torch.nn.Linear(1, 1).requires_grad_(False).apply(lambda m: m.weight.fill_(weight))
    )


def test_sigterm_while_fitting_saves_the_interrupt_checkpoint_beside_the_others(tmp_path):
    interrupt, trainer = InterruptCheckpoint(), interrupted_trainer(tmp_path)
    interrupt.on_exception(trainer, module(1.0), SIGTERMException())
    saved = tmp_path / "ckpts" / "interrupted.ckpt"
    assert (trainer.save_checkpoint.paths, interrupt.checkpoint) == ([saved], saved)
    error = interrupt.error(trainer)
    assert (error.signum, error.checkpoint) == (signal.SIGTERM, saved)
    assert error.summary == f"training interrupted by SIGTERM at SGD step 1 (epoch 1); checkpoint: {saved}"


@pytest.mark.parametrize(
    ("changes", "exception", "weight"),
    [
        ({}, KeyboardInterrupt(), 1.0),  # a second Ctrl-C: stop at once
        ({}, SIGTERMException(), float("nan")),
        ({}, SIGTERMException(), float("inf")),
        ({"global_step": 0}, SIGTERMException(), 1.0),  # nothing trained yet
        ({"sanity_checking": True}, SIGTERMException(), 1.0),
        ({"overfit_batches": 2}, SIGTERMException(), 1.0),  # Lightning's sequential batches: no position
        ({"state": SimpleNamespace(fn=TrainerFn.TESTING)}, SIGTERMException(), 1.0),
    ],
)
def test_no_interrupt_checkpoint_where_it_could_not_resume(tmp_path, changes, exception, weight):
    interrupt, trainer = InterruptCheckpoint(), interrupted_trainer(tmp_path, **changes)
    interrupt.on_exception(trainer, module(weight), exception)
    assert (trainer.save_checkpoint.paths, interrupt.checkpoint) == ([], None)


@pytest.mark.parametrize(
    ("dirpath", "model_checkpoint", "folder"),
    [
        ("given", "ckpts", "given"),
        (None, "ckpts", "ckpts"),
        (None, "", "checkpoints"),  # a model checkpoint without a dirpath of its own
        (None, None, "checkpoints"),  # no model checkpoint: callbacks.model_checkpoint=null
    ],
)
def test_without_its_own_checkpoint_an_interrupted_training_names_last_ckpt(
    tmp_path, dirpath, model_checkpoint, folder
):
    """The interrupt checkpoint goes to ``dirpath``, else the model checkpoint's folder, else
    ``checkpoints/`` in the trainer's root directory; without one, training resumes from ``last.ckpt``."""
    given = {"dirpath": str(tmp_path / dirpath)} if dirpath else {}
    checkpoint_callback = (
        None
        if model_checkpoint is None
        else SimpleNamespace(dirpath=str(tmp_path / model_checkpoint) if model_checkpoint else None)
    )
    interrupt = InterruptCheckpoint(**given)
    trainer = interrupted_trainer(tmp_path, checkpoint_callback=checkpoint_callback)
    interrupt.signum = signal.SIGINT
    assert interrupt.error(trainer).checkpoint is None
    last = tmp_path / folder / "last.ckpt"
    last.parent.mkdir()
    last.write_bytes(b"")
    assert interrupt.error(trainer).checkpoint == last
    interrupt.on_exception(trainer, module(1.0), SIGTERMException())
    assert trainer.save_checkpoint.paths == [tmp_path / folder / "interrupted.ckpt"]


def test_an_interrupted_test_under_the_interrupt_checkpoint_names_the_checkpoint_tested(tmp_path):
    interrupt = InterruptCheckpoint()
    interrupt.stage, interrupt.signum = "testing", signal.SIGINT
    error = interrupt.error(interrupted_trainer(tmp_path, ckpt_path=str(tmp_path / "best.ckpt")))
    assert isinstance(error, TestingInterrupted)
    assert error.checkpoint == tmp_path / "best.ckpt"


# --- What a run that a signal stopped ends in ------------------------------------------------------


def stopped(signum: int | None) -> SimpleNamespace:
    stop = StopOnSignal()
    stop.signum = signum
    return signal_trainer(callbacks=[ModelCheckpoint(), stop], global_step=3, current_epoch=0)


@pytest.mark.parametrize("ending", [SystemExit, None])
def test_a_run_a_signal_stopped_ends_in_interrupted(ending):
    """Lightning ends the run with ``SystemExit``, or, for a signal after the last step, not at all."""
    with pytest.raises(TrainingInterrupted) as stop, interrupts_reported(stopped(signal.SIGTERM)):
        if ending:
            raise ending(1)
    assert stop.value.summary == "training interrupted by SIGTERM at SGD step 3: no checkpoint to resume from"
    assert stop.value.__cause__ is None and stop.value.__suppress_context__


def test_a_run_no_signal_stopped_ends_as_it_would():
    with pytest.raises(SystemExit) as stop, interrupts_reported(stopped(None)):
        raise SystemExit(3)
    assert stop.value.code == 3
    with interrupts_reported(stopped(None)):
        pass


def test_every_process_leaves_the_process_group_before_an_interrupted_run_ends(monkeypatch):
    left = []
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "destroy_process_group", lambda: left.append(True))
    with pytest.raises(TrainingInterrupted):
        callbacks.raise_if_interrupted(stopped(signal.SIGINT))
    assert left == [True]
    callbacks.raise_if_interrupted(stopped(None))
    assert left == [True]


# --- The checkpoint paths a checkpoint's state may name ------------------------------------------------


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """A run's checkpoint folder with two checkpoints, and a link to one outside it."""
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    for name in ("epoch_001.ckpt", "epoch_002.ckpt"):
        (folder / name).write_bytes(name.encode())
    (tmp_path / "outside.ckpt").write_bytes(b"outside")
    (folder / "link.ckpt").symlink_to(tmp_path / "outside.ckpt")
    return folder


def test_paths_beside_the_checkpoint_are_kept(run_folder):
    one, two = str(run_folder / "epoch_001.ckpt"), str(run_folder / "epoch_002.ckpt")
    state = {
        "best_model_path": two,
        "kth_best_model_path": one,
        "last_model_path": str(run_folder / "last.ckpt"),  # not written yet: still beside it
        "best_k_models": {one: 0.5, two: 0.75},
        "best_model_score": 0.75,
    }
    assert checkpoints_beside(state, run_folder) == state


@pytest.mark.parametrize(
    "path",
    [
        "outside.ckpt",  # relative: beside the working directory
        "{outside}",
        "{folder}/../../outside.ckpt",
        "{folder}/link.ckpt",  # beside it, but a link to a file elsewhere
        "{folder}/older/epoch_001.ckpt",  # in a folder inside it
        "{folder}/epoch_001.pt",
        "local://{folder}/epoch_001.ckpt",
        "{folder}/epoch\0_001.ckpt",
    ],
)
def test_any_other_path_is_dropped(run_folder, tmp_path, path):
    named = path.format(folder=run_folder, outside=tmp_path / "outside.ckpt")
    one = str(run_folder / "epoch_001.ckpt")
    state = {
        "best_model_path": named,
        "kth_best_model_path": named,
        "last_model_path": named,
        "best_k_models": {named: 0.9, one: 0.5},
        "dirpath": str(run_folder),
    }
    assert checkpoints_beside(state, run_folder) == {
        "best_model_path": "",
        "kth_best_model_path": "",
        "last_model_path": "",
        "best_k_models": {one: 0.5},
        "dirpath": str(run_folder),
    }


@pytest.mark.parametrize("value", [None, 7, ["epoch_001.ckpt"], b"epoch_001.ckpt"])
def test_paths_that_are_not_strings_and_scores_that_are_not_a_dict_are_dropped(run_folder, value):
    state = {
        key: value for key in ("best_model_path", "kth_best_model_path", "last_model_path", "best_k_models")
    }
    assert checkpoints_beside(state, run_folder) == {
        "best_model_path": "",
        "kth_best_model_path": "",
        "last_model_path": "",
        "best_k_models": {},
    }


def test_without_the_checkpoints_folder_every_path_is_dropped(run_folder):
    one = str(run_folder / "epoch_001.ckpt")
    state = {"best_model_path": one, "best_k_models": {one: 0.5}}
    assert checkpoints_beside(state, None)["best_model_path"] == ""
    assert checkpoints_beside(state, None)["best_k_models"] == {}
    assert state == {"best_model_path": one, "best_k_models": {one: 0.5}}  # the state read is left as it is


# --- Restoring the model checkpoints ----------------------------------------------------------------


def saved_state(folder: Path, **changes) -> dict:
    """A ``ModelCheckpoint``'s state as a run into ``folder`` saved it: epochs 1 and 2, 2 the best."""
    one, two = str(folder / "epoch_001.ckpt"), str(folder / "epoch_002.ckpt")
    state = {
        "monitor": "val/acc",
        "best_model_score": torch.tensor(0.75),
        "best_model_path": two,
        "current_score": torch.tensor(0.75),
        "dirpath": str(folder),
        "best_k_models": {one: torch.tensor(0.5), two: torch.tensor(0.75)},
        "kth_best_model_path": one,
        "kth_value": torch.tensor(0.5),
        "last_model_path": str(folder / "last.ckpt"),
    }
    return state | changes


def restored(checkpoint: ModelCheckpoint, state: dict, ckpt_path: Path, fn: TrainerFn) -> SimpleNamespace:
    """Restores ``checkpoint`` from ``state``, read from ``ckpt_path`` by a trainer doing ``fn``, as
    Lightning does; returns that trainer."""
    trainer = stand_in_trainer(ckpt_path=str(ckpt_path), state=SimpleNamespace(fn=fn), is_global_zero=True)
    checkpoint.on_load_checkpoint(trainer, None, {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's "The dirpath has changed"
        checkpoint.load_state_dict(state)
    return trainer


def best(dirpath: Path) -> BestCheckpoint:
    return BestCheckpoint(dirpath=str(dirpath), monitor="val/acc", mode="max", save_top_k=2)


@pytest.mark.parametrize("run", ["a_run", "z_run"])  # named before and after the run resumed, "run"
def test_resuming_into_a_new_run_directory_copies_the_best_checkpoints_with_their_scores(
    run_folder, tmp_path, run
):
    new = tmp_path / run / "checkpoints"
    new.mkdir(parents=True)
    checkpoint = best(new)
    trainer = restored(checkpoint, saved_state(run_folder), run_folder / "last.ckpt", TrainerFn.FITTING)
    one, two = str(new / "epoch_001.ckpt"), str(new / "epoch_002.ckpt")
    assert checkpoint.best_k_models == {one: torch.tensor(0.5), two: torch.tensor(0.75)}
    assert (checkpoint.best_model_path, checkpoint.kth_best_model_path) == (two, one)
    assert (checkpoint.best_model_score, checkpoint.kth_value) == (torch.tensor(0.75), torch.tensor(0.5))
    assert not list(new.iterdir())  # copied when training starts, not while restoring
    checkpoint.on_train_start(trainer, None)
    assert sorted(path.name for path in new.iterdir()) == ["epoch_001.ckpt", "epoch_002.ckpt"]
    assert (new / "epoch_002.ckpt").read_bytes() == b"epoch_002.ckpt"
    assert (new / "epoch_001.ckpt").read_bytes() == b"epoch_001.ckpt"
    shutil.rmtree(new)
    new.mkdir()
    checkpoint.on_train_start(trainer, None)  # once only
    assert not list(new.iterdir())


def test_only_rank_0_copies_and_every_process_waits_for_the_copies(run_folder, tmp_path):
    new = tmp_path / "resumed"
    new.mkdir()
    checkpoint = best(new)
    trainer = restored(checkpoint, saved_state(run_folder), run_folder / "last.ckpt", TrainerFn.FITTING)
    barriers = []
    trainer.is_global_zero, trainer.strategy.barrier = False, barriers.append
    checkpoint.on_train_start(trainer, None)
    assert (list(new.iterdir()), barriers) == ([], ["BestCheckpoint.copies"])


def test_a_best_checkpoint_missing_from_the_folder_is_not_copied(run_folder, tmp_path):
    (run_folder / "epoch_001.ckpt").unlink()
    new = tmp_path / "resumed"
    new.mkdir()
    checkpoint = best(new)
    state = saved_state(run_folder)
    del state["kth_best_model_path"]
    trainer = restored(checkpoint, state, run_folder / "last.ckpt", TrainerFn.FITTING)
    two = str(new / "epoch_002.ckpt")
    assert checkpoint.best_k_models == {two: torch.tensor(0.75)}
    assert (checkpoint.best_model_path, checkpoint.kth_best_model_path) == (two, two)
    checkpoint.on_train_start(trainer, None)
    assert [path.name for path in new.iterdir()] == ["epoch_002.ckpt"]


def test_without_a_kth_value_the_best_score_is_the_kth(run_folder, tmp_path):
    state = saved_state(run_folder)
    del state["kth_value"]
    checkpoint = best(tmp_path)
    restored(checkpoint, state, run_folder / "last.ckpt", TrainerFn.FITTING)
    assert checkpoint.kth_value == torch.tensor(0.75)


@pytest.mark.parametrize(
    ("case", "fn"),
    [
        ("testing", TrainerFn.TESTING),  # Lightning restores callbacks when it tests a checkpoint too
        ("same folder", TrainerFn.FITTING),  # Lightning restores everything itself
        ("best missing", TrainerFn.FITTING),  # nothing to copy: the run starts afresh
    ],
)
def test_otherwise_the_state_is_restored_as_lightning_does(run_folder, tmp_path, case, fn):
    folder = run_folder if case == "same folder" else tmp_path / "resumed"
    folder.mkdir(exist_ok=True)
    if case == "best missing":
        (run_folder / "epoch_002.ckpt").unlink()
    checkpoint, expected = best(folder), ModelCheckpoint(dirpath=str(folder), monitor="val/acc", mode="max")
    state = saved_state(run_folder)
    trainer = restored(checkpoint, state, run_folder / "last.ckpt", fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected.load_state_dict(checkpoints_beside(state, run_folder))
    for name in (*MODEL_CHECKPOINT_PATHS, "best_k_models", "best_model_score", "kth_value"):
        assert getattr(checkpoint, name) == getattr(expected, name), name
    files = sorted(tmp_path.rglob("*"))
    checkpoint.on_train_start(trainer, None)
    assert sorted(tmp_path.rglob("*")) == files  # nothing copied


def test_a_safe_checkpoint_restores_only_paths_beside_the_checkpoint_read(run_folder, tmp_path):
    checkpoint = SafeModelCheckpoint(dirpath=str(run_folder), monitor="val/acc", mode="max")
    state = saved_state(run_folder, best_model_path=str(tmp_path / "outside.ckpt"))
    restored(checkpoint, state, run_folder / "last.ckpt", TrainerFn.FITTING)
    assert checkpoint.best_model_path == ""
    assert list(checkpoint.best_k_models) == [
        str(run_folder / "epoch_001.ckpt"),
        str(run_folder / "epoch_002.ckpt"),
    ]
    restored(checkpoint, state, run_folder / "last.ckpt", TrainerFn.FITTING)


def test_resumed_into_another_directory_only_a_checkpoint_with_scores_warns_that_they_are_lost(
    run_folder, tmp_path
):
    """A tester found Lightning's "The dirpath has changed ... best_model_score ... won't be reloaded" on
    every resume into a new run directory: last.ckpt's checkpoint, which watches no metric, has none."""
    for monitor, warned in ((None, False), ("val/acc", True)):
        checkpoint = SafeModelCheckpoint(dirpath=str(tmp_path / "new"), monitor=monitor, mode="max")
        trainer = stand_in_trainer(ckpt_path=str(run_folder / "last.ckpt"), state=None, is_global_zero=True)
        checkpoint.on_load_checkpoint(trainer, None, {})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            checkpoint.load_state_dict(saved_state(run_folder))
        assert any("The dirpath has changed" in str(warning.message) for warning in caught) == warned


@pytest.mark.parametrize("state", [None, "epoch_002.ckpt", ["best_model_path"]])
def test_a_state_that_is_not_a_dict_is_ignored(run_folder, state):
    checkpoint = SafeModelCheckpoint(dirpath=str(run_folder), monitor="val/acc", mode="max")
    restored(checkpoint, state, run_folder / "last.ckpt", TrainerFn.FITTING)
    assert (checkpoint.best_model_path, checkpoint.best_k_models) == ("", {})


def test_without_a_checkpoint_path_nothing_is_beside_it(run_folder):
    checkpoint = SafeModelCheckpoint(dirpath=str(run_folder), monitor="val/acc", mode="max")
    trainer = stand_in_trainer(ckpt_path=None, state=SimpleNamespace(fn=TrainerFn.FITTING))
    checkpoint.on_load_checkpoint(trainer, None, {})
    checkpoint.load_state_dict(saved_state(run_folder))
    assert (checkpoint.best_model_path, checkpoint.best_k_models) == ("", {})


@pytest.mark.parametrize("kind", [SafeModelCheckpoint, BestCheckpoint])
@pytest.mark.parametrize(
    "arguments",
    [
        {"monitor": "val/acc", "mode": "max"},
        {"monitor": None, "every_n_epochs": 2},
        {"monitor": "BestCheckpoint/SafeModelCheckpoint"},  # the class's name in the key twice
    ],
)
def test_our_checkpoints_save_their_state_under_lightnings_key(kind, arguments):
    """Checkpoints written with either class resume with either."""
    assert kind(**arguments).state_key == ModelCheckpoint(**arguments).state_key
    assert kind(**arguments).state_key.startswith("ModelCheckpoint{")
