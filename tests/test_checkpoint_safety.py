"""A checkpoint is data, never instructions: hyperparameters that would make Hydra build something
(``_target_``, ``_partial_``, ``_args_``), ``${...}`` interpolations, unknown keys and non-finite or
integer weights are refused by every command that opens a checkpoint, with one ``error:`` line and exit
code 2, and nothing the payload would do happens."""

import copy

import pytest
import torch
from runs import (
    DELETED,
    HOSTILE,
    QUICK,
    changed,
    checkpoint_places,
    compose_config,
    literal,
    run_module,
    sweep_resume_config,
    train_for_sweep,
)

from src.checkpoint import load_checkpoint, load_model
from src.checks import validate_train
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
    ("optimizer", "_target_"),
    ("optimizer", "lr"),
    ("optimizer", "momentum"),
    ("data", "_target_"),
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


@pytest.mark.slow
def test_a_schedule_state_that_is_not_the_configured_schedulers_is_refused_before_resuming(tmp_path):
    """torch's ``load_state_dict`` copies every entry of the saved state onto the scheduler: an ``optimizer``
    entry replaced the scheduler's optimizer, and the run failed with a traceback at its first epoch end."""
    schedule = ("scheduler=step", "scheduler.step_size=1")
    train(compose_config("train", tmp_path / "trained", *QUICK, *schedule))
    checkpoint = torch.load(tmp_path / "trained" / "checkpoints" / "last.ckpt", weights_only=True)
    checkpoint["callbacks"]["LearningRateSchedule"]["optimizer"] = 1
    path = tmp_path / "crafted.ckpt"
    torch.save(checkpoint, path)
    resume = compose_config(
        "train", tmp_path / "resume", *QUICK, *schedule, "trainer.max_epochs=3", f"ckpt_path={path}"
    )
    with pytest.raises(UserError) as error:
        train(resume)
    assert str(error.value) == (
        f"ckpt_path={path}: its learning-rate schedule holds optimizer=1, which StepLR has not: give a .ckpt file "
        "written by python -m src.train"
    )
    assert not (tmp_path / "resume").exists()


@pytest.mark.slow
def test_any_entry_of_a_checkpoint_replaced_is_resumed_or_refused_in_one_line(tmp_path):
    """Every entry of a real checkpoint but its weights (its hyperparameters, the loops', optimizer's,
    schedule's, early stopping's and checkpoint callbacks' state), and every mapping or list that holds
    them, removed or replaced in turn by each of :data:`runs.HOSTILE`: resuming's checks accept it or refuse
    it with one line, never another exception. A tensor of two numbers in the optimizer's or the schedule's
    state, as ``is_last_batch`` or as the hyperparameters' optimizer failed with a traceback before
    (compared with a setting, or read as a truth). ``python -m tests.checkpoint_sweep`` also resumes
    training from each one the checks accept."""
    trained = train_for_sweep(tmp_path / "trained")
    path = tmp_path / "crafted.ckpt"
    resume = sweep_resume_config(tmp_path / "resume", path)
    places = checkpoint_places(trained)
    assert len(places) > 200
    for place in places:
        for value in [DELETED, *HOSTILE]:
            torch.save(changed(trained, place, value), path)
            try:
                validate_train(resume)
            except UserError as error:
                assert "\n" not in str(error), (place, value)
    assert not (tmp_path / "resume").exists()


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
        (
            lambda p: p.round().int(),
            "net.params holds torch.int32, not weights in float16, bfloat16, float32",
        ),
        (
            lambda p: p.to(torch.float8_e4m3fn),
            "net.params holds torch.float8_e4m3fn, not weights in float16, bfloat16, float32 or float64",
        ),
        (lambda p: p.to_sparse(), "net.params is a sparse tensor (torch.sparse_coo), not a dense vector"),
        (
            lambda p: p[:1].expand(len(p)),
            "net.params is one stored value repeated 1482 times (stride 0), not a vector of 1482 weights",
        ),
    ],
    ids=["nan", "inf", "int", "float8", "sparse", "expanded"],
)
def test_weights_other_than_a_finite_float_vector_are_refused_at_load(tmp_path, trained, weights, message):
    """float8 and sparse weights crashed ``torch.isfinite``; a stride-0 vector declared any size in a file
    of one value."""
    checkpoint = copy.deepcopy(trained)
    checkpoint["state_dict"]["net.params"] = weights(checkpoint["state_dict"]["net.params"])
    path = tmp_path / "bad.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(UserError, match=literal(f"ckpt_path={path}: its state_dict's {message}")):
        load_model(path)
    with pytest.raises(UserError, match=literal(message)):
        evaluate(compose_config("evaluate", tmp_path / "evaluate", f"ckpt_path={path}"))


NETWORK_STATE = "net.params, train_loss.mean_value, train_loss.weight, val_acc_best.max_value"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("train_loss.mean_value", "x", "train_loss.mean_value is x, not one number (not NaN) in a tensor"),
        (
            "train_loss.mean_value",
            torch.tensor([0.5, 0.6]),
            "train_loss.mean_value is a tensor of shape [2], not one number (not NaN) in a tensor",
        ),
        (
            "train_loss.weight",
            torch.tensor([8.0]),
            "train_loss.weight is [8.0], not one number (not NaN) in a tensor",
        ),
        (
            "train_loss.weight",
            torch.tensor(8),
            "train_loss.weight is 8, not one number (not NaN) in a tensor",
        ),
        (
            "val_acc_best.max_value",
            torch.tensor(float("nan")),
            "val_acc_best.max_value is nan, not one number (not NaN) in a tensor",
        ),
        (
            "extra",
            torch.tensor(1.0),
            f"holds extra, which this project's network has not (it has {NETWORK_STATE})",
        ),
    ],
)
def test_a_metric_state_other_than_one_number_is_refused_at_load(tmp_path, trained, key, value, message):
    """torchmetrics takes its saved running values as they are: a string failed with a traceback when
    testing (``'str' object has no attribute 'cpu'``), a vector when logging ``train/loss``."""
    checkpoint = copy.deepcopy(trained)
    checkpoint["state_dict"][key] = value
    path = tmp_path / "bad.ckpt"
    torch.save(checkpoint, path)
    expected = (
        f"ckpt_path={path}: its state_dict{'' if key == 'extra' else chr(39) + 's'} {message}: give a .ckpt"
    )
    with pytest.raises(UserError, match=literal(expected)):
        load_model(path)
    with pytest.raises(UserError, match=literal(expected)):
        evaluate(compose_config("evaluate", tmp_path / "evaluate", f"ckpt_path={path}"))
    with pytest.raises(UserError, match=literal(expected)):
        train(
            compose_config("train", tmp_path / "resume", *QUICK, "trainer.max_epochs=2", f"ckpt_path={path}")
        )
    assert not (tmp_path / "evaluate").exists() and not (tmp_path / "resume").exists()


def test_the_metric_states_of_todays_network_load_and_any_may_be_missing(tmp_path, trained):
    assert set(trained["state_dict"]) == set(NETWORK_STATE.split(", "))
    checkpoint = copy.deepcopy(trained)
    checkpoint["state_dict"]["val_acc_best.max_value"] = torch.tensor(float("-inf"))  # before any validation
    del checkpoint["state_dict"]["train_loss.weight"]
    path = tmp_path / "older.ckpt"
    torch.save(checkpoint, path)
    load_model(path)


@pytest.mark.slow
def test_a_resumed_checkpoint_names_no_file_to_delete_or_copy(tmp_path, trained):
    """The checkpoint callbacks' state holds paths Lightning restores as they are, deletes when a better
    checkpoint replaces them (any ``local://`` path) and copies into a new run directory: only the
    checkpoints beside the resumed one count; a folder, a file and a secret elsewhere stay where they are."""
    folder, victim, secret = tmp_path / "folder", tmp_path / "victim.txt", tmp_path / "secret.ckpt"
    folder.mkdir()
    (folder / "inside.txt").write_text("kept")
    victim.write_text("kept")
    secret.write_text("not to be copied")
    checkpoint = copy.deepcopy(trained)
    for key, state in checkpoint["callbacks"].items():
        if key.startswith("ModelCheckpoint"):
            state.pop("dirpath")  # "the same run directory": Lightning restores every path
            state["best_model_path"] = f"local://{victim}"
            state["kth_best_model_path"] = f"local://{folder}"
            state["last_model_path"] = f"local://{victim}"
            state["best_k_models"] = {f"local://{folder}": torch.tensor(0.0), str(secret): torch.tensor(1.0)}
            state["best_model_score"] = state["kth_value"] = torch.tensor(0.0)
    path = tmp_path / "crafted" / "last.ckpt"
    path.parent.mkdir()
    torch.save(checkpoint, path)
    train(compose_config("train", tmp_path / "run", *QUICK, "trainer.max_epochs=3", f"ckpt_path={path}"))
    assert (folder / "inside.txt").read_text() == victim.read_text() == "kept"
    written = {p.name for p in (tmp_path / "run" / "checkpoints").iterdir()}
    assert "last.ckpt" in written and all(
        name == "last.ckpt" or name.startswith("epoch_") for name in written
    )


def set_lr(checkpoint: dict, lr: object) -> None:
    checkpoint["optimizer_states"][0]["param_groups"][0]["lr"] = lr


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            lambda c: set_lr(c, 1e30),
            "its optimizer state holds lr=1e+30, but its hyper_parameters (and this configuration) say optimizer.lr=3.0",
        ),
        (lambda c: set_lr(c, "abc"), "its optimizer state holds lr=abc, but"),
        (
            lambda c: c.update(optimizer_states=None),
            "its optimizer_states are not the state of one torch optimizer",
        ),
        (lambda c: c.update(loops="garbage"), "its loops is garbage, not a mapping"),
        (lambda c: c.update(global_step=-5), "its epoch, step or loop counters are not counts"),
        (
            lambda c: c["loops"]["fit_loop"]["epoch_progress"]["current"].update(processed="x"),
            "its epoch, step or loop counters are not counts",
        ),
    ],
    ids=[
        "lr-hidden-in-the-optimizer-state",
        "lr-text",
        "no-optimizer-state",
        "loops",
        "negative-step",
        "progress-text",
    ],
)
def test_resuming_checks_the_training_state_lightning_restores(tmp_path, trained, tamper, message):
    """The weights are not all a resume restores: a rate hidden in the optimizer's state trained at 1e30
    without a word, and broken counters were tracebacks from inside Lightning."""
    checkpoint = copy.deepcopy(trained)
    tamper(checkpoint)
    path = tmp_path / "tampered.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(UserError, match=literal(f"ckpt_path={path}: {message}")):
        validate_train(
            compose_config("train", tmp_path / "run", *QUICK, "trainer.max_epochs=3", f"ckpt_path={path}")
        )
    assert not (tmp_path / "run").exists()
