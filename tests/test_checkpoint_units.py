"""Fast checks of src/checkpoint.py without a training run: which hand-made checkpoints pass the structure
check, and what the checkpoint IO loads with and without ``weights_only``."""

import fractions
import pickle

import pytest
import torch

from src.checkpoint import AtomicCheckpointIO, load_checkpoint, short_reason
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
