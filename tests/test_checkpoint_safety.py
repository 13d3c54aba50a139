"""A checkpoint is data, never instructions: hyperparameters that would make Hydra build something
(``_target_``, ``_partial_``, ``_args_``), ``${...}`` interpolations, unknown keys and non-finite or
integer weights are refused by every command that opens a checkpoint, with one ``error:`` line and exit
code 2, and nothing the payload would do happens."""

import copy

import pytest
import torch
from runs import QUICK, compose_config, literal, run_module

from src.checkpoint import load_checkpoint, load_model
from src.errors import UserError
from src.evaluate import evaluate
from src.train import train


def write_text_payload(marker) -> dict:
    """What ``hydra.utils.instantiate`` turns into ``pathlib.Path(marker).write_text("owned")``."""
    return {
        "_target_": "pathlib.Path.write_text",
        "_args_": [{"_target_": "pathlib.Path", "_args_": [str(marker)]}, "owned"],
    }


def payloads(marker) -> dict[str, object]:
    return {
        "write_text": write_text_payload(marker),
        "open": {"_target_": "builtins.open", "file": str(marker), "mode": "w"},
        "partial": {"_target_": "pathlib.Path.touch", "_partial_": True, "self": str(marker)},
        "interpolation": "${oc.env:HOME}",
    }


PLACES = [
    ("in_features",),
    ("num_classes",),
    ("hidden",),
    ("activation",),
    ("cost",),
    ("backprop",),
    ("init",),
    ("optimizer",),
    ("data",),
    ("negative_slope",),
    ("unknown_key",),
    ("activation", "name"),
    ("activation", "negative_slope"),
    ("optimizer", "lr"),
    ("optimizer", "momentum"),
    ("data", "batch_size"),
    ("data", "seed"),
    ("data", "val_fraction"),
    ("data", "_args_"),
    ("data", "_partial_"),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A checkpoint written by today's code: the digits, 64-16-16-10, plain SGD."""
    run = tmp_path_factory.mktemp("trained")
    train(compose_config("train", run, *QUICK))
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)


def tampered(trained: dict, place: tuple[str, ...], value: object) -> dict:
    """``trained`` with ``value`` at ``hyper_parameters[place[0]][place[1]]``."""
    checkpoint = copy.deepcopy(trained)
    hparams = checkpoint["hyper_parameters"]
    if isinstance(hparams["activation"], str):
        hparams["activation"] = {"name": hparams["activation"], "negative_slope": 0.01}
    *parents, key = place
    for parent in parents:
        hparams = hparams[parent]
    hparams[key] = value
    return checkpoint


@pytest.mark.slow
@pytest.mark.parametrize("payload", ["write_text", "open", "partial", "interpolation"])
@pytest.mark.parametrize("place", PLACES, ids=".".join)
def test_payloads_anywhere_in_the_hyperparameters_are_refused(tmp_path, trained, place, payload):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.ckpt"
    torch.save(tampered(trained, place, payloads(marker)[payload]), path)
    for load in (load_checkpoint, load_model):
        with pytest.raises(UserError, match=literal(f"ckpt_path={path}: hyper_parameters.")):
            load(path)
    with pytest.raises(UserError, match=literal(f"ckpt_path={path}: hyper_parameters.")):
        evaluate(compose_config("evaluate", tmp_path / "evaluate", f"ckpt_path={path}"))
    with pytest.raises(UserError, match=literal(f"ckpt_path={path}: hyper_parameters.")):
        train(compose_config("train", tmp_path / "resume", *QUICK, f"ckpt_path={path}"))
    assert not marker.exists()
    assert not (tmp_path / "evaluate").exists() and not (tmp_path / "resume").exists()


def image_file(tmp_path):
    from PIL import Image

    path = tmp_path / "digit.png"
    Image.new("L", (8, 8), 255).save(path)
    return path


@pytest.mark.slow
def test_every_command_refuses_a_payload_with_one_line(tmp_path, trained):
    """The attack of issue 10: a data configuration that Hydra would turn into a file write."""
    place = ("data",)
    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.ckpt"
    torch.save(tampered(trained, place, write_text_payload(marker)), path)
    commands = {
        "src.evaluate": [f"ckpt_path={path}"],
        "src.predict": [f"ckpt_path={path}", f"inputs={image_file(tmp_path)}"],
        "src.train": [*QUICK, f"ckpt_path={path}"],
    }
    for module, arguments in commands.items():
        run = run_module(module, *arguments, f"hydra.run.dir={tmp_path / module}")
        assert run.returncode == 2, (module, run.stderr[-2000:])
        assert run.stderr.startswith(f"error: ckpt_path={path}: hyper_parameters.{place[0]}"), run.stderr
        assert run.stderr.count("\n") == 1, run.stderr
    assert not marker.exists()


def test_todays_checkpoints_still_load_and_older_ones_too(tmp_path, trained):
    path = tmp_path / "today.ckpt"
    torch.save(trained, path)
    model = load_model(path)
    assert model.hparams.activation == {"name": "sigmoid", "negative_slope": 0.01}
    assert model.hparams.data["_target_"] == "src.data.DigitsDataModule"
    older = copy.deepcopy(trained)  # before the activation's settings became one object
    older["hyper_parameters"]["activation"] = "leaky_relu"
    older["hyper_parameters"]["negative_slope"] = 0.2
    torch.save(older, path)
    assert load_model(path).hparams.activation == {"name": "leaky_relu", "negative_slope": 0.2}
    assert torch.equal(load_model(path).net.params, trained["state_dict"]["net.params"])


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (lambda p: p.index_fill(0, torch.tensor([3]), float("nan")), "net.params holds 1 NaN or infinite"),
        (lambda p: p.index_fill(0, torch.tensor([0, 5]), float("inf")), "net.params holds 2 NaN or infinite"),
        (lambda p: p.round().int(), "net.params holds torch.int32, not floating-point weights"),
    ],
    ids=["nan", "inf", "int"],
)
def test_non_finite_or_integer_weights_are_refused_at_load(tmp_path, trained, weights, message):
    checkpoint = copy.deepcopy(trained)
    checkpoint["state_dict"]["net.params"] = weights(checkpoint["state_dict"]["net.params"])
    path = tmp_path / "bad.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(UserError, match=literal(f"ckpt_path={path}: its state_dict's {message}")):
        load_model(path)
    with pytest.raises(UserError, match=literal(message)):
        evaluate(compose_config("evaluate", tmp_path / "evaluate", f"ckpt_path={path}"))
