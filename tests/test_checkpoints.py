"""Checkpoints: only ``weights_only`` loading, every broken or foreign file refused with one clear line,
a checkpoint of another network refused before anything runs, writes that a crash or kill can't corrupt."""

import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from runs import QUICK, REPO, compose_config, literal, run_module, write_idx

import src.checkpoint
from src.checkpoint import AtomicCheckpointIO, atomic_save, load_checkpoint, load_model
from src.checks import validate_train
from src.errors import UserError
from src.evaluate import evaluate
from src.train import train

QUICK = [*QUICK, "test=false"]


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    """``last.ckpt`` of a short run: the digits, 64-16-16-10, plain SGD."""
    run = tmp_path_factory.mktemp("trained")
    train(compose_config("train", run, *QUICK))
    return run / "checkpoints" / "last.ckpt"


class RunsCode:
    """A pickle payload that creates ``marker`` when unpickled: what a malicious checkpoint does."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


def write_foreign_files(tmp_path, real: bytes) -> dict[str, tuple[object, str]]:
    """Files that are not our checkpoints, and the message each must give."""
    files = {
        "empty": (b"", " is an empty file"),
        "truncated": (real[: len(real) // 2], " is not a readable checkpoint, truncated or corrupt"),
        "random bytes": (random.Random(0).randbytes(4096), " is not a checkpoint (UnpicklingError"),
        "text": (b"epoch,acc\n1,0.9\n", " is not a readable checkpoint, truncated or corrupt"),
        "pickled list": (pickle.dumps([1, 2, 3]), " is not a checkpoint (UnpicklingError"),
        "torch list": ([torch.ones(2)], " holds a list, not a checkpoint"),
        "plain dict": ({"weights": torch.ones(2)}, " has no hyper_parameters and state_dict of a network"),
        "other hparams": (
            {"hyper_parameters": {"lr": 0.1}, "state_dict": {}},
            ": its hyper_parameters lack in_features, num_classes, hidden",
        ),
        "wrong size": (
            {
                "hyper_parameters": {"in_features": 64, "num_classes": 10, "hidden": [16]},
                "state_dict": {"net.params": torch.zeros(7)},
            },
            ": its hyper_parameters describe a 64-16-10 network with 1210 weights and biases, but its state_dict's net.params has shape [7]",
        ),
    }
    paths = {}
    for name, (content, message) in files.items():
        path = tmp_path / f"{name.replace(' ', '_')}.ckpt"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            torch.save(content, path)
        paths[name] = (path, message)
    return paths


@pytest.mark.slow
def test_files_that_are_not_checkpoints_are_refused(tmp_path, checkpoint_path):
    for path, message in write_foreign_files(tmp_path, checkpoint_path.read_bytes()).values():
        with pytest.raises(UserError, match=literal(f"ckpt_path={path}{message}")):
            load_checkpoint(path)
    with pytest.raises(UserError, match=literal(f"ckpt_path={tmp_path / 'none.ckpt'} does not exist")):
        load_checkpoint(tmp_path / "none.ckpt")
    with pytest.raises(UserError, match=literal(f"ckpt_path={tmp_path} is a directory")):
        load_checkpoint(tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs file permissions that apply")
def test_unreadable_checkpoint_is_refused(tmp_path, checkpoint_path):
    path = tmp_path / "locked.ckpt"
    path.write_bytes(checkpoint_path.read_bytes())
    path.chmod(0)
    with pytest.raises(UserError, match=literal(f"ckpt_path={path} can't be read (permission denied)")):
        load_checkpoint(path)


def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(tmp_path):
    control = tmp_path / "control-ran"
    pickle.loads(pickle.dumps(RunsCode(control)))
    assert control.exists()  # the payload works when unpickled without weights_only

    marker = tmp_path / "payload-ran"
    raw = tmp_path / "raw.ckpt"
    raw.write_bytes(pickle.dumps(RunsCode(marker), protocol=2))
    zipped = tmp_path / "zipped.ckpt"  # torch's own format, as a tampered .ckpt would be
    torch.save({"state_dict": RunsCode(marker), "hyper_parameters": {}}, zipped)
    for path in (raw, zipped):
        with pytest.raises(
            UserError, match=literal(f"ckpt_path={path} was refused and not executed: .*exec")
        ):
            load_checkpoint(path)
        with pytest.raises(pickle.UnpicklingError):  # Lightning's loader, used to resume, is as strict
            AtomicCheckpointIO().load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.slow
def test_evaluate_and_resume_refuse_a_checkpoint_that_would_run_code(tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": RunsCode(marker)}, path)
    with pytest.raises(UserError, match="was refused and not executed"):
        evaluate(compose_config("evaluate", tmp_path / "evaluate", f"ckpt_path={path}"))
    with pytest.raises(UserError, match="was refused and not executed"):
        train(compose_config("train", tmp_path / "resume", *QUICK, f"ckpt_path={path}"))
    run = run_module("src.evaluate", f"ckpt_path={path}", f"hydra.run.dir={tmp_path / 'cli'}")
    assert run.returncode == 2
    assert run.stderr.startswith(f"error: ckpt_path={path} was refused and not executed")
    assert run.stderr.count("\n") == 1
    assert not marker.exists()
    assert not (tmp_path / "evaluate").exists() and not (tmp_path / "resume").exists()


@pytest.mark.slow
def test_load_model_refuses_hyperparameters_our_network_does_not_take(tmp_path, checkpoint_path):
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    checkpoint["hyper_parameters"]["activation"]["name"] = "softmax"
    torch.save(checkpoint, tmp_path / "softmax.ckpt")
    with pytest.raises(
        UserError, match=literal("hyper_parameters.activation.name=softmax: choose one of sigmoid")
    ):
        load_model(tmp_path / "softmax.ckpt")


@pytest.mark.slow
def test_evaluating_on_data_of_another_size_names_both(tmp_path, checkpoint_path):
    write_idx(tmp_path / "data", "MNIST")
    cfg = compose_config(
        "evaluate",
        tmp_path / "run",
        f"ckpt_path={checkpoint_path}",
        "data=mnist",
        f"data.root={tmp_path / 'data'}",
    )
    message = "its 64-16-16-10 network takes 64 inputs and 10 classes, but the data (TorchvisionDataModule MNIST) has 784 inputs"
    with pytest.raises(UserError, match=literal(message)):
        evaluate(cfg)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "difference"),
    [
        (["model.hidden=[32]"], "layer sizes 64-16-16-10 (configured: 64-32-10)"),
        (
            ["optimizer=adam"],
            "optimizer {_target_: torch.optim.SGD, lr: 3.0} (configured: {_target_: torch.optim.Adam",
        ),
        (
            ["optimizer.lr=0.5"],
            "optimizer {_target_: torch.optim.SGD, lr: 3.0} (configured: {_target_: torch.optim.SGD, lr: 0.5})",
        ),
        (["activation=tanh"], "activation sigmoid (configured: tanh)"),
        (["scheduler=step"], "scheduler none (configured: torch.optim.lr_scheduler.StepLR)"),
    ],
)
def test_resuming_another_network_is_refused_before_training(
    tmp_path, checkpoint_path, overrides, difference
):
    with pytest.raises(
        UserError, match=literal(f"ckpt_path={checkpoint_path} was trained with {difference}")
    ):
        train(compose_config("train", tmp_path / "run", *QUICK, f"ckpt_path={checkpoint_path}", *overrides))
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_resuming_refuses_another_schedule_or_a_stretched_cosine(tmp_path):
    """The schedule's state is restored: another schedule, or a cosine over other epochs (its T_max is
    trainer.max_epochs), would go on with settings it was not built with (the rate rose again)."""
    train(compose_config("train", tmp_path / "cosine", *QUICK, "scheduler=cosine"))
    checkpoint = tmp_path / "cosine" / "checkpoints" / "last.ckpt"
    refusals = {
        "trainer.max_epochs=2": "scheduler.T_max 1 (configured: 2; scheduler=cosine's T_max is trainer.max_epochs",
        "scheduler=step": "scheduler torch.optim.lr_scheduler.CosineAnnealingLR (configured: torch.optim.lr_scheduler.StepLR)",
        "scheduler=none": "scheduler torch.optim.lr_scheduler.CosineAnnealingLR (configured: none)",
    }
    for override, difference in refusals.items():
        with pytest.raises(UserError, match=literal(f"ckpt_path={checkpoint} was trained with {difference}")):
            train(
                compose_config(
                    "train", tmp_path / "run", *QUICK, "scheduler=cosine", f"ckpt_path={checkpoint}", override
                )
            )
        assert not (tmp_path / "run").exists()


def test_resuming_refuses_another_precision_than_the_checkpoint_was_trained_at(tmp_path, checkpoint_path):
    """Another precision would round a 64-true run's weights to float32, or change the computation the run
    continues. 16-mixed on the CPU is what Lightning runs as bf16-mixed; older checkpoints record none."""
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    resume = [*QUICK, "trainer.max_epochs=2", f"ckpt_path={tmp_path / 'run.ckpt'}"]
    cases = {  # recorded: (configured precisions that resume, one that is refused)
        "bf16-mixed": (["bf16-mixed", "16-mixed", "bf16"], "32-true"),
        "64-true": (["64-true", "64"], "32-true"),
        "32-true": (["32-true", "32"], "bf16-mixed"),
        None: (["32-true", "64-true"], None),
    }
    for recorded, (resumed, refused) in cases.items():
        checkpoint.pop("precision", None)
        if recorded is not None:
            checkpoint["precision"] = recorded
        torch.save(checkpoint, tmp_path / "run.ckpt")
        for precision in resumed:
            validate_train(
                compose_config("train", tmp_path / "run", *resume, f"trainer.precision={precision}")
            )
        if refused is not None:
            message = (
                f"was trained with trainer.precision {recorded} (configured: {refused}): resuming restores"
            )
            with pytest.raises(UserError, match=literal(message)):
                validate_train(
                    compose_config("train", tmp_path / "run", *resume, f"trainer.precision={refused}")
                )


@pytest.mark.slow
def test_a_checkpoint_from_the_middle_of_an_epoch_resumes_with_its_chunks_only(tmp_path, checkpoint_path):
    """Its position is a count of chunks of data.batches_per_step mini-batches of data.batch_size: other
    sizes would train some samples of the epoch twice or not at all."""
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    progress = checkpoint["loops"]["fit_loop"]["epoch_loop.batch_progress"]
    progress["is_last_batch"], progress["current"]["completed"] = False, 1  # stopped after its first chunk
    torch.save(checkpoint, tmp_path / "mid_epoch.ckpt")
    resume = ["trainer.max_epochs=2", f"ckpt_path={tmp_path / 'mid_epoch.ckpt'}"]
    message = (
        f"ckpt_path={tmp_path / 'mid_epoch.ckpt'} stopped in the middle of an epoch, after 1 of its chunks "
        "(data.batches_per_step=4 mini-batches of data.batch_size=10; configured: "
    )
    for changed in ("data.batches_per_step=2", "data.batch_size=5"):
        with pytest.raises(UserError, match=literal(message)):
            validate_train(compose_config("train", tmp_path / "run", *QUICK, *resume, changed))
    validate_train(compose_config("train", tmp_path / "run", *QUICK, *resume))  # the same sizes resume
    progress["is_last_batch"] = True  # at an epoch's end any sizes may go on with the next epoch
    torch.save(checkpoint, tmp_path / "mid_epoch.ckpt")
    validate_train(compose_config("train", tmp_path / "run", *QUICK, *resume, "data.batches_per_step=2"))


@pytest.mark.slow
def test_a_checkpoint_from_the_middle_of_an_epoch_resumes_in_its_order_only(tmp_path, checkpoint_path):
    """The epoch goes on after the chunks trained of the permutation of seed + epoch: with another seed
    (or another training set) the rest of the epoch was another permutation's, on the digits with chunks
    of 32 mini-batches of 10, 247 of the 1,257 samples trained twice in the epoch and 247 never."""
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    progress = checkpoint["loops"]["fit_loop"]["epoch_loop.batch_progress"]
    progress["is_last_batch"], progress["current"]["completed"] = False, 1  # stopped after its first chunk
    torch.save(checkpoint, tmp_path / "mid_epoch.ckpt")
    resume = [*QUICK, "trainer.max_epochs=2", f"ckpt_path={tmp_path / 'mid_epoch.ckpt'}"]
    refusals = {
        "seed=1": "data.seed=12345 (configured: 1)",
        "data.split_seed=7": "data.split_seed=0 (configured: 7)",
        "data.val_fraction=0.2": "data.val_fraction=0.1 (configured: 0.2)",
    }
    for changed, difference in refusals.items():
        message = (
            f"ckpt_path={tmp_path / 'mid_epoch.ckpt'} stopped in the middle of an epoch, after 1 of its chunks, "
            f"trained with {difference}: the epoch goes on at the sample where it stopped only in the same "
            "shuffled order"
        )
        with pytest.raises(UserError, match=literal(message)):
            validate_train(compose_config("train", tmp_path / "run", *resume, changed))
    validate_train(compose_config("train", tmp_path / "run", *resume, "data.eval_batch_size=7"))
    progress["is_last_batch"] = True  # at an epoch's end the next epoch may be another order
    torch.save(checkpoint, tmp_path / "mid_epoch.ckpt")
    validate_train(compose_config("train", tmp_path / "run", *resume, "seed=1"))


@pytest.mark.slow
def test_a_checkpoint_from_the_middle_of_an_overfit_epoch_is_refused(tmp_path, checkpoint_path):
    """Under overfit_batches Lightning swaps in a SequentialSampler, which keeps no position: debug=overfit
    interrupted after one of its 3 mini-batches and resumed trained the first mini-batch twice and the last
    not at all (weights 0.18 from a run never stopped). An epoch's end resumes as ever."""
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    progress = checkpoint["loops"]["fit_loop"]["epoch_loop.batch_progress"]
    progress["is_last_batch"], progress["current"]["completed"] = False, 1  # stopped after its first batch
    torch.save(checkpoint, tmp_path / "mid_epoch.ckpt")
    resume = [
        *QUICK,
        "trainer.max_epochs=2",
        f"ckpt_path={tmp_path / 'mid_epoch.ckpt'}",
        "+trainer.overfit_batches=2",
    ]
    message = (
        f"ckpt_path={tmp_path / 'mid_epoch.ckpt'} stopped in the middle of an epoch, after 1 of its batches, "
        "and under trainer.overfit_batches=2 Lightning's sequential batches have no position to resume from"
    )
    with pytest.raises(UserError, match=literal(message)):
        validate_train(compose_config("train", tmp_path / "run", *resume))
    progress["is_last_batch"] = True
    torch.save(checkpoint, tmp_path / "mid_epoch.ckpt")
    validate_train(compose_config("train", tmp_path / "run", *resume))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stopping", "ended_by"),
    [
        (
            ["callbacks=early_stopping", "callbacks.early_stopping.patience=1", "optimizer.lr=1e-12"],
            "early stopping (after 1 validation without a better val/acc)",
        ),
        (
            ["scheduler=plateau", "scheduler.patience=0", "scheduler.max_reductions=0", "optimizer.lr=1e-6"],
            "the plateau schedule (scheduler.max_reductions=0 reached)",
        ),
    ],
    ids=["early_stopping", "plateau"],
)
def test_resuming_where_a_stopping_rule_ended_the_run_is_refused(tmp_path, stopping, ended_by):
    """A rate too small to change val/acc: the rule ends the run after its second epoch. Resumed with the
    same rule and more epochs, Lightning would train on where the run never stopped did not."""
    metrics = train(compose_config("train", tmp_path / "stopped", *QUICK, "trainer.max_epochs=6", *stopping))
    checkpoint = tmp_path / "stopped" / "checkpoints" / "last.ckpt"
    assert load_checkpoint(checkpoint)["epoch"] == 1 and "val/acc" in metrics
    resume = ["trainer.max_epochs=10", f"ckpt_path={checkpoint}"]
    with pytest.raises(UserError, match=literal(f"ckpt_path={checkpoint} is where {ended_by} ended its run")):
        validate_train(compose_config("train", tmp_path / "run", *QUICK, *resume, *stopping))
    if stopping[0] == "callbacks=early_stopping":  # without the rule the run may go on
        validate_train(compose_config("train", tmp_path / "run", *QUICK, *resume, *stopping[2:]))


@pytest.mark.slow
def test_resuming_with_another_early_stopping_patience_is_refused(tmp_path, checkpoint_path):
    """Lightning's EarlyStopping restores its patience from the checkpoint: resumed with patience 5, a run
    trained with patience 2 stopped after 2 stalled epochs, where a run never stopped went on."""
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    key = "EarlyStopping{'monitor': 'val/acc', 'mode': 'max'}"
    checkpoint["callbacks"][key] = {
        "wait_count": 1,
        "stopped_epoch": 0,
        "best_score": torch.tensor(0.5),
        "patience": 2,
    }
    torch.save(checkpoint, tmp_path / "patience_2.ckpt")
    resume = [
        *QUICK,
        "trainer.max_epochs=2",
        f"ckpt_path={tmp_path / 'patience_2.ckpt'}",
        "callbacks=early_stopping",
    ]
    message = (
        f"ckpt_path={tmp_path / 'patience_2.ckpt'} was trained with callbacks.early_stopping.patience=2 "
        "(configured: 5): resuming restores early stopping's patience"
    )
    with pytest.raises(UserError, match=literal(message)):
        validate_train(compose_config("train", tmp_path / "run", *resume))
    validate_train(compose_config("train", tmp_path / "run", *resume, "callbacks.early_stopping.patience=2"))
    validate_train(compose_config("train", tmp_path / "run", *resume[:-1]))  # without early stopping


@pytest.mark.slow
def test_last_checkpoint_is_the_last_epoch_even_when_val_acc_stops_improving(tmp_path):
    """With a learning rate too small to change the predictions, val/acc never improves after epoch 0."""
    train(compose_config("train", tmp_path, *QUICK, "trainer.max_epochs=4", "optimizer.lr=1e-12"))
    assert load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")["epoch"] == 3


def failing_save(fail_when):
    """A ``torch.save`` that writes part of the file, then fails as a full disk would, when
    ``fail_when(obj, file)`` says so."""
    real_save = torch.save

    def save(obj, file, *args, **kwargs):
        if fail_when(obj, file):
            file.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(28, "No space left on device")
        real_save(obj, file, *args, **kwargs)

    return save


def test_a_failed_save_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    atomic_save({"epoch": 1, "weights": torch.ones(3)}, path)
    monkeypatch.setattr(src.checkpoint.torch, "save", failing_save(lambda obj, file: True))
    with pytest.raises(OSError, match="No space left"):
        atomic_save({"epoch": 2, "weights": torch.zeros(3)}, path)
    assert torch.load(path, weights_only=True)["epoch"] == 1
    assert [child.name for child in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left


@pytest.mark.slow
def test_training_saves_through_the_atomic_writer(tmp_path, monkeypatch):
    """The first save of the second epoch fails halfway: the first epoch's checkpoints are intact."""
    written = []

    def second_epoch(obj, file) -> bool:
        written.append(os.path.basename(file.name))
        return obj["epoch"] == 1

    monkeypatch.setattr(src.checkpoint.torch, "save", failing_save(second_epoch))
    with pytest.raises(OSError, match="No space left"):
        train(compose_config("train", tmp_path, "trainer.max_epochs=3", "test=false"))
    assert all(
        name.startswith(".") and name.endswith(".tmp") for name in written
    )  # written next to the target
    checkpoints = {path.name for path in (tmp_path / "checkpoints").iterdir()}
    assert checkpoints == {"epoch_000.ckpt", "last.ckpt"}  # and no temporary file left
    for name in checkpoints:
        checkpoint = load_checkpoint(tmp_path / "checkpoints" / name)
        assert checkpoint["epoch"] == 0 and torch.isfinite(checkpoint["state_dict"]["net.params"]).all()


SAVE_LOOP = textwrap.dedent(
    """
    import sys, torch
    from pathlib import Path
    from src.checkpoint import atomic_save
    weights = torch.empty(8 * 2**20)
    for i in range(10**6):
        atomic_save({"i": i, "weights": weights.fill_(i)}, Path(sys.argv[1]))
        print(i, flush=True)
    """
)


def kill_in_the_middle_of_a_save(saver: subprocess.Popen, directory: Path) -> None:
    """SIGKILL ``saver`` while its temporary file exists. It is stopped first and the file looked for again,
    so the kill cannot land between two saves however the machine schedules it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if list(directory.glob(".last.ckpt.*.tmp")):
            saver.send_signal(signal.SIGSTOP)
            if list(directory.glob(".last.ckpt.*.tmp")):
                saver.kill()
                return
            saver.send_signal(signal.SIGCONT)
    raise AssertionError(f"the saver in {directory} was never seen in the middle of a save in 60 s")


@pytest.mark.slow
def test_kill_during_saves_never_leaves_a_corrupt_file(tmp_path):
    """SIGKILL processes in the middle of saving a 32 MB checkpoint over an earlier one: each time, the file
    is the earlier save, whole, and the save's temporary file is left beside it."""
    paths = [tmp_path / str(round_) / "last.ckpt" for round_ in range(3)]
    savers = [
        subprocess.Popen(
            [sys.executable, "-c", SAVE_LOOP, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        for path in paths
    ]
    for saver, path in zip(savers, paths, strict=True):
        saver.stdout.readline()  # one save done: last.ckpt exists
        kill_in_the_middle_of_a_save(saver, path.parent)
        saver.wait(timeout=30)
        saver.stdout.close()
        checkpoint = torch.load(path, weights_only=True)
        assert torch.all(checkpoint["weights"] == checkpoint["i"])
        assert list(path.parent.glob(".last.ckpt.*.tmp"))


@pytest.mark.slow
def test_last_checkpoint_is_the_last_epoch_when_validation_skips_epochs(tmp_path):
    """``+trainer.check_val_every_n_epoch=2 trainer.max_epochs=3``: Lightning saved ``last.ckpt`` only after a
    validation, so it held epoch 1 of 0-2 (resuming it trained epoch 2 again; ``src.sweep`` counted 2
    epochs)."""
    from src.sweep import epochs_trained

    train(
        compose_config(
            "train", tmp_path, *QUICK, "trainer.max_epochs=3", "+trainer.check_val_every_n_epoch=2"
        )
    )
    assert load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")["epoch"] == 2
    assert epochs_trained(tmp_path) == 3
