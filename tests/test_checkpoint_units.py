"""Fast checks of src/checkpoint.py without a training run: which hand-made checkpoints pass the structure
check, and what the checkpoint IO loads with and without ``weights_only``."""

import errno
import fractions
import os
import pickle
import re
import stat
from pathlib import Path

import pytest
import torch

import src.checkpoint
from src.checkpoint import (
    AtomicCheckpointIO,
    atomic_save,
    checked_hparams,
    load_checkpoint,
    load_model,
    model_from,
    short_reason,
    trained_precision,
)
from src.config import DEFAULT_OPTIMIZER
from src.errors import UserError


def write(path, in_features: int, hidden: list[int], num_classes: int, params: int) -> None:
    hparams = {"in_features": in_features, "num_classes": num_classes, "hidden": hidden}
    torch.save({"hyper_parameters": hparams, "state_dict": {"net.params": torch.zeros(params)}}, path)


def test_layers_of_one_neuron_are_a_network(tmp_path):
    """1-1-1: two weights and two biases."""
    path = tmp_path / "tiny.ckpt"
    write(path, 1, [1], 1, 4)
    assert load_checkpoint(path)["state_dict"]["net.params"].numel() == 4


@pytest.mark.parametrize("hidden", [[0], [2.0]])
def test_layer_sizes_must_be_integers_of_at_least_one(tmp_path, hidden):
    path = tmp_path / "bad.ckpt"
    write(path, 1, hidden, 1, 4)
    with pytest.raises(UserError, match=r"integers? >= 1"):
        load_checkpoint(path)


def test_io_loads_weights_only_unless_asked_otherwise(tmp_path):
    """A file holding an object outside torch's weights-only allow-list: refused by default, loaded when the
    caller passes ``weights_only=False``."""
    path = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}, "note": fractions.Fraction(1, 3)}, path)
    io = AtomicCheckpointIO()
    with pytest.raises(pickle.UnpicklingError):
        io.load_checkpoint(path)
    assert io.load_checkpoint(path, weights_only=False)["note"] == fractions.Fraction(1, 3)


def test_io_saves_a_file_it_loads_back_and_leaves_no_temporary_file(tmp_path):
    io = AtomicCheckpointIO()
    path = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"state_dict": {"net.params": torch.arange(3.0)}, "epoch": 2}, path)
    io.save_checkpoint({"state_dict": {"net.params": torch.arange(4.0)}, "epoch": 3}, path)
    loaded = io.load_checkpoint(path, map_location="cpu")
    assert loaded["epoch"] == 3 and torch.equal(loaded["state_dict"]["net.params"], torch.arange(4.0))
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]


def test_loading_errors_are_shortened_to_torchs_reason():
    error = pickle.UnpicklingError(
        "Weights only load failed. In PyTorch 2.6 ... WeightsUnpickler error: Unsupported operand 149. "
        "Check the file."
    )
    assert short_reason(error) == "UnpicklingError: Unsupported operand 149"
    assert short_reason(ValueError("")) == "ValueError"


def network(**state) -> dict:
    """A hand-made checkpoint of a 2-3-2 network (3 * 3 + 2 * 4 = 17 weights and biases)."""
    hparams = {"in_features": 2, "num_classes": 2, "hidden": [3]}
    return {"hyper_parameters": hparams, "state_dict": {"net.params": torch.arange(17.0), **state}}


class RunsCode:
    def __reduce__(self):
        return exec, ("raise SystemExit('the payload ran')",)


def foreign_files(tmp_path) -> dict[str, tuple[object, str]]:
    real = tmp_path / "real.ckpt"
    torch.save(network(), real)
    without_params = network()
    del without_params["state_dict"]["net.params"]
    return {
        "empty": (b"", " is an empty file"),
        "truncated": (real.read_bytes()[:-100], " is not a readable checkpoint, truncated or corrupt"),
        "runs code": (
            {"state_dict": RunsCode()},
            " was refused and not executed: loading it would call exec, ",
        ),
        "no state_dict": (
            {"hyper_parameters": network()["hyper_parameters"]},
            " has no hyper_parameters and state_dict of a network",
        ),
        "no net.params": (without_params, "but its state_dict's net.params has none:"),
        **{
            f"params {list(shape)}": (
                network(**{"net.params": torch.zeros(shape)}),
                ": its hyper_parameters describe a 2-3-2 network with 17 weights and biases, but its "
                f"state_dict's net.params has shape {list(shape)}:",
            )
            for shape in [(16,), (18,), (17, 1), (1, 17)]
        },
    }


def test_files_that_are_not_our_checkpoints_are_refused_with_the_reason(tmp_path):
    for name, (content, message) in foreign_files(tmp_path).items():
        path = tmp_path / f"{name}.ckpt"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            torch.save(content, path)
        with pytest.raises(UserError) as refused:
            load_checkpoint(path)
        assert str(refused.value).startswith(f"ckpt_path={path}"), name
        assert message in str(refused.value), (name, str(refused.value))


def test_a_path_hydra_read_as_a_number_is_the_file_name_it_was_written_as(tmp_path, monkeypatch):
    """``ckpt_path=123`` reaches the code as the int 123: it names the file ``123``."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"^ckpt_path=123 does not exist"):
        load_checkpoint(123)
    write(tmp_path / "123", 2, [], 1, 3)
    assert load_checkpoint(123)["hyper_parameters"]["in_features"] == 2


@pytest.mark.parametrize(
    ("hparams", "message"),
    [
        ({"colour": "red"}, "hyper_parameters.colour=red: not a setting of this project's network"),
        ({"in_features": 0}, "hyper_parameters.in_features=0: must be an integer >= 1"),
        ({"num_classes": 0}, "hyper_parameters.num_classes=0: must be an integer >= 1"),
        ({"activation": "relu", "negative_slope": 0.2}, None),
    ],
)
def test_hyperparameters_are_checked_key_by_key(tmp_path, hparams, message):
    checkpoint = network()
    checkpoint["hyper_parameters"].update(hparams)
    path = tmp_path / "bad.ckpt"
    torch.save(checkpoint, path)
    if message is None:  # a valid older checkpoint is not refused
        assert load_checkpoint(path)["hyper_parameters"]["activation"]["negative_slope"] == 0.2
        return
    with pytest.raises(UserError, match=re.escape(f"ckpt_path={path}: {message}")):
        load_checkpoint(path)


@pytest.mark.parametrize("optimizer", [None, {}])
def test_a_checkpoint_that_names_no_optimizer_gets_the_essays_sgd(optimizer):
    hparams = {"in_features": 2, "num_classes": 2, "hidden": [3], "optimizer": optimizer}
    assert checked_hparams(hparams)["optimizer"] == DEFAULT_OPTIMIZER
    del hparams["optimizer"]
    assert checked_hparams(hparams)["optimizer"] == DEFAULT_OPTIMIZER


def test_a_checkpoints_optimizer_is_kept():
    adam = {"_target_": "torch.optim.Adam", "lr": 0.01}
    hparams = {"in_features": 2, "num_classes": 2, "hidden": [3], "optimizer": adam}
    assert checked_hparams(hparams)["optimizer"] == adam


def test_an_older_checkpoint_without_a_slope_gets_the_old_default():
    hparams = {"in_features": 2, "num_classes": 2, "hidden": [3], "activation": "leaky_relu"}
    assert checked_hparams(hparams)["activation"] == {"name": "leaky_relu", "negative_slope": 0.01}


def test_a_state_dict_the_network_does_not_have_is_refused(tmp_path):
    path = tmp_path / "extra.ckpt"
    torch.save(network(**{"net.extra": torch.ones(1)}), path)
    message = (
        f"ckpt_path={path}: its state_dict holds net.extra, which this project's network has not (it has "
        "net.params, train_loss.mean_value, train_loss.weight, val_acc_best.max_value): give a .ckpt file"
    )
    for load in (load_checkpoint, load_model):
        with pytest.raises(UserError, match=re.escape(message)):
            load(path)
    torch.save(network(), path)
    assert torch.equal(load_model(path).net.params.detach(), torch.arange(17.0))


@pytest.mark.parametrize(
    ("recorded", "dtype", "precision"),
    [
        ("bf16-mixed", torch.float32, "bf16-mixed"),
        ("16-mixed", torch.float32, "16-mixed"),
        (None, torch.float32, "32-true"),  # written before checkpoints recorded it: by the weights' dtype
        (None, torch.float64, "64-true"),
        (None, torch.bfloat16, "bf16-true"),
        (None, torch.float16, "16-true"),
    ],
)
def test_the_precision_a_checkpoint_was_trained_at(tmp_path, recorded, dtype, precision):
    checkpoint = network(**{"net.params": torch.arange(17.0, dtype=dtype)})
    if recorded is not None:
        checkpoint["precision"] = recorded
    path = tmp_path / "run.ckpt"
    torch.save(checkpoint, path)
    assert trained_precision(load_checkpoint(path)) == precision


@pytest.mark.parametrize("recorded", ["32", "fp8", 32, ["32-true"], torch.tensor(32.0)])
def test_a_recorded_precision_this_project_does_not_train_at_is_refused(tmp_path, recorded):
    checkpoint = network()
    checkpoint["precision"] = recorded
    path = tmp_path / "odd.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(
        UserError, match=rf"^ckpt_path={re.escape(str(path))}: its precision=.* is not one of "
    ):
        load_checkpoint(path)


def test_a_float64_checkpoint_keeps_its_weights_in_a_float64_network():
    params = torch.arange(17.0, dtype=torch.float64) / 3  # thirds: not representable in float32
    checkpoint = network(**{"net.params": params})
    assert torch.equal(model_from(checkpoint, torch.float64).net.params.detach(), params)
    rounded = model_from(checkpoint).net.params.detach()
    assert rounded.dtype == torch.float32 and not torch.equal(rounded.double(), params)


def test_atomic_save_creates_the_missing_folders(tmp_path):
    path = tmp_path / "a" / "b" / "last.ckpt"
    atomic_save({"epoch": 4}, path)
    assert torch.load(path, weights_only=True) == {"epoch": 4}


def test_a_save_that_cannot_create_its_temporary_file_reports_why(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    atomic_save({"epoch": 1}, path)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(src.checkpoint, "open", no_space, raising=False)
    with pytest.raises(OSError, match="No space left on device"):
        atomic_save({"epoch": 2}, path)
    assert torch.load(path, weights_only=True) == {"epoch": 1}


def test_a_save_flushes_the_file_then_its_directory(tmp_path, monkeypatch):
    """The rename reaches the disk only once the directory is flushed too (on POSIX)."""
    flushed = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        flushed.append(os.fstat(descriptor))
        real_fsync(descriptor)

    monkeypatch.setattr(src.checkpoint.os, "fsync", fsync)
    atomic_save({"epoch": 1}, tmp_path / "last.ckpt")
    assert [stat.S_ISDIR(status.st_mode) for status in flushed] == [False, True]
    assert flushed[1].st_ino == tmp_path.stat().st_ino


def test_io_stages_a_local_checkpoint_beside_it_and_a_remote_one_through_lightning(tmp_path, monkeypatch):
    """Local: the temporary file lies next to the target (a rename, never a copy across file systems).
    Other file systems (here fsspec's in-memory one): Lightning's own writer."""
    written = []
    real_save = torch.save

    def save(obj, file, *args, **kwargs):
        written.append(getattr(file, "name", None))
        real_save(obj, file, *args, **kwargs)

    monkeypatch.setattr(src.checkpoint.torch, "save", save)
    monkeypatch.chdir(tmp_path)  # a remote path mistaken for a local one would land here
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"epoch": 1}, path)
    assert len(written) == 1 and Path(written[0]).parent == tmp_path
    assert Path(written[0]).name.startswith(".last.ckpt.")
    url = f"memory://{tmp_path.name}/last.ckpt"
    io.save_checkpoint({"epoch": 2}, url)
    assert io.load_checkpoint(url) == {"epoch": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_io_loads_onto_the_device_asked_for(tmp_path):
    path = tmp_path / "last.ckpt"
    torch.save(network(), path)
    io = AtomicCheckpointIO()
    assert io.load_checkpoint(path, map_location="meta")["state_dict"]["net.params"].is_meta
    assert io.load_checkpoint(path)["state_dict"]["net.params"].device.type == "cpu"
