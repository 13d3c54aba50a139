"""Every default lives in one place, :mod:`src.config`: the YAML files and the constructors that repeat
a default must agree with it (this catches ``batches_per_step`` 64 vs 128 and ``init`` normal vs
scaled_normal, the drifts found before the settings were typed)."""

import dataclasses
import inspect
import re
import sys

import pytest
import torch
from omegaconf import OmegaConf
from runs import CONF, compose_config, options

from src.checks import check_monitors, check_scheduler
from src.command_line import check_command_line, null_groups_as_deletions
from src.config import (
    BASES,
    DEFAULT_OPTIMIZER,
    Activation,
    Cost,
    Model,
    data_modules,
)
from src.errors import UserError
from src.lit import MLPClassifier
from src.network.activations import ACTIVATIONS
from src.network.cost import COSTS
from src.run_dir import CHECKPOINTS, LAST_CHECKPOINT

IDENTITY = {"_target_", "name"}
"""Keys a YAML file writes because they say which option it is (``name: tanh``, ``name: MNIST``), not
defaults."""


def defaults(settings: type) -> dict:
    return {item.name: getattr(settings(), item.name) for item in dataclasses.fields(settings)}


def yaml_and_settings():
    for path in sorted(CONF.glob("data/*.yaml")):
        yield path, data_modules()[OmegaConf.load(path)["_target_"]][0]
    for path in sorted(CONF.glob("activation/*.yaml")):
        yield path, Activation
    for path in sorted(CONF.glob("cost/*.yaml")):
        yield path, Cost
    yield CONF / "model" / "mlp.yaml", Model


@pytest.mark.parametrize(
    ("path", "settings"), list(yaml_and_settings()), ids=lambda v: getattr(v, "name", "")
)
def test_yaml_files_extend_the_settings_defaults_and_repeat_none(path, settings, tmp_path):
    written = OmegaConf.to_container(OmegaConf.load(path))
    group = path.parent.name
    (base,) = [name for name, known in BASES[group].items() if known is settings]
    assert written.pop("defaults") == [f"/{base}@_here_", "_self_"]
    repeated = {
        key: value
        for key, value in written.items()
        if key not in IDENTITY and not (isinstance(value, str) and value.startswith("${"))
    }
    assert repeated == {}, f"{path.name} writes {repeated}: src/config.py's {settings.__name__} holds them"
    if settings in (Activation, Cost):
        assert written["name"] == path.stem  # the option's name is its file's name
    composed = OmegaConf.to_container(compose_config("train", tmp_path, f"{group}={path.stem}")[group])
    assert {key: composed[key] for key in defaults(settings) if key not in written} == {
        key: value for key, value in defaults(settings).items() if key not in written
    }


@pytest.mark.parametrize(("group", "names"), [("activation", ACTIVATIONS), ("cost", COSTS)])
def test_each_activation_and_cost_has_its_option_and_each_option_is_one(group, names):
    """``activation=x`` offers conf/activation/'s files, ``activation.name=x`` the network's list: one
    without the other would offer a choice that fails, or hide one that works."""
    assert sorted(path.stem for path in (CONF / group).glob("*.yaml")) == sorted(names)


def test_a_base_is_no_option_of_its_group(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["train.py", "model=base_mlp"])
    with pytest.raises(SystemExit):
        check_command_line("train")
    assert "model=base_mlp is not an option of model: choose one of mlp" in capsys.readouterr().err


def test_data_module_constructors_have_the_defaults_of_src_config():
    for settings, module in data_modules().values():
        signature = {
            name: parameter.default
            for klass in module.__mro__
            if "__init__" in vars(klass)
            for name, parameter in inspect.signature(klass.__init__).parameters.items()
            if parameter.default is not inspect.Parameter.empty
        }
        for name, default in defaults(settings).items():
            assert signature[name] == default, (
                f"{module.__name__}({name}={signature[name]}): src.config says {default}"
            )


def test_the_model_takes_its_defaults_from_src_config():
    model = MLPClassifier(64, 10, [16])
    assert model.hparams.activation == dataclasses.asdict(Activation())
    assert (model.hparams.cost, model.hparams.backprop, model.hparams.init) == (
        "mse",
        "manual",
        "scaled_normal",
    )
    assert (
        model.hparams.optimizer == DEFAULT_OPTIMIZER == {"_target_": "torch.optim.SGD", "lr": 3.0}
    )  # the essay's


def test_multi_node_override_composes(tmp_path):
    """The README's multi-node command sets ``trainer.num_nodes``."""
    assert compose_config("train", tmp_path, "trainer=ddp", "trainer.num_nodes=2").trainer.num_nodes == 2


def scheduler_of(tmp_path, *overrides: str) -> dict:
    return OmegaConf.to_container(compose_config("train", tmp_path, *overrides), resolve=True).get(
        "scheduler"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["experiment=essay_mnist", "scheduler=none"],
            "scheduler={patience: 2, max_reductions: 4}: settings without a scheduler to take them; choose "
            f"one with scheduler={', '.join(options('scheduler')[:-1])} or {options('scheduler')[-1]}",
        ),
        (
            ["experiment=best_mlp", "scheduler=step"],
            "scheduler: torch.optim.lr_scheduler.StepLR refuses its arguments {step_size: 10, gamma: 0.5, "
            "patience: 1, max_reductions: 4} (StepLR.__init__() got an unexpected keyword argument 'patience')",
        ),
        (
            ["scheduler=plateau", "scheduler.max_reductions=-1"],
            "max_reductions=-1 must be an integer >= 0 or null (never stop)",
        ),
        (
            ["scheduler=plateau", "~scheduler.monitor"],
            "scheduler.monitor is missing: ReduceLROnPlateau needs a metric, e.g. val/acc",
        ),
        (  # fails only when stepped
            ["scheduler=step", "scheduler.step_size=0"],
            "scheduler: torch.optim.lr_scheduler.StepLR with {step_size: 0, gamma: 0.5} fails "
            "(ZeroDivisionError: integer modulo by zero)",
        ),
        (
            ["scheduler=step", "scheduler.gamma=-1"],
            "scheduler: torch.optim.lr_scheduler.StepLR with {step_size: 10, gamma: -1} makes the learning rate "
            "-1 after epoch 10: it must stay a finite number >= 0",
        ),
        (  # the cosine falls to eta_min=-0.5 over 40 epochs: below 0 from epoch 25
            ["scheduler=cosine", "scheduler.eta_min=-0.5"],
            "makes the learning rate -0.03701 after epoch 25",  # -0.5 + 1.5 (1 + cos(25/40 pi)) / 2
        ),
    ],
)
def test_a_scheduler_that_cannot_be_built_is_one_error_before_training(tmp_path, overrides, message):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    with pytest.raises(UserError, match=re.escape(message)):
        check_scheduler(scheduler_of(tmp_path, *overrides), optimizer, epochs=40)


def test_every_scheduler_option_builds_and_steps_through_a_run(tmp_path):
    """The check steps a copy: the optimizer it is given keeps its rate."""
    for path in sorted((CONF / "scheduler").glob("*.yaml")):
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        check_scheduler(scheduler_of(tmp_path, f"scheduler={path.stem}"), optimizer, epochs=40)
        assert optimizer.param_groups[0]["lr"] == 1.0


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "callbacks.early_stopping.monitor",
            "val/ac",
            "choose one of val/acc, val/loss, val/acc_best, train/loss",
        ),
        ("callbacks.model_checkpoint.mode", "maximum", "choose one of max, min"),
        ("scheduler.monitor", "val/accc", "choose one of val/acc, val/loss, val/acc_best"),
        ("scheduler.monitor", "train/loss", "choose one of val/acc, val/loss, val/acc_best"),
    ],
)
def test_a_monitored_metric_or_mode_that_training_never_logs_is_refused(tmp_path, key, value, message):
    """Lightning would find these after the first epoch (a traceback), or never (``mode``). The plateau
    schedule judges an epoch when its validation ends, before ``train/loss`` is logged."""
    watching = ["callbacks=early_stopping", "scheduler=plateau"]
    check_monitors(*watchers(tmp_path, *watching))
    with pytest.raises(UserError, match=f"^{re.escape(f'{key}={value}: {message}')}$"):
        check_monitors(*watchers(tmp_path, *watching, f"{key}={value}"))


def test_one_setting_names_the_metric_every_watcher_watches(tmp_path):
    """``monitor`` and ``monitor_mode`` are written once: the best checkpoint, early stopping and the plateau
    schedule all follow them, and each can still be given its own."""
    watching = ["callbacks=early_stopping", "scheduler=plateau"]
    for overrides, metric, mode in [
        ([], "val/acc", "max"),
        (["monitor=val/loss", "monitor_mode=min"], "val/loss", "min"),
    ]:
        callbacks, scheduler = watchers(tmp_path, *watching, *overrides)
        for values in (callbacks["model_checkpoint"], callbacks["early_stopping"], scheduler):
            assert (values["monitor"], values["mode"]) == (metric, mode)
    callbacks, scheduler = watchers(tmp_path, *watching, "scheduler.monitor=val/loss", "scheduler.mode=min")
    assert (scheduler["monitor"], scheduler["mode"]) == ("val/loss", "min")
    assert (callbacks["early_stopping"]["monitor"], callbacks["early_stopping"]["mode"]) == ("val/acc", "max")


def watchers(tmp_path, *overrides: str) -> tuple[dict, dict]:
    """The ``callbacks`` and ``scheduler`` groups of the training configuration with ``overrides``."""
    plain = OmegaConf.to_container(compose_config("train", tmp_path, *overrides), resolve=True)
    return plain["callbacks"], plain["scheduler"]


def test_a_search_without_its_sweeper_is_one_line(monkeypatch, capsys):
    """``hparams_search=optuna`` without the ``sweep`` extra: the pip command, not Hydra's
    "Could not find 'hydra/sweeper/optuna'"."""
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(sys, "argv", ["train.py", "hparams_search=optuna", "trainer.max_epochs=2"])
    with pytest.raises(SystemExit) as exit_:
        check_command_line("train")
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        "error: hparams_search=optuna needs Hydra's Optuna sweeper, which is not installed: "
        "pip install -e '.[sweep]'\n"
    )


def test_null_for_a_group_means_none_of_it():
    """``debug=null`` (a group whose default is null) made Hydra raise a ValueError traceback;
    ``logger=null`` (one with a default) was refused. Both mean "none", as ``~group`` does."""
    argv = ["train.py", "debug=null", "+experiment=null", "logger=null", "seed=null", "model.init=null"]
    null_groups_as_deletions(argv)
    assert argv == ["train.py", "~debug", "~experiment", "~logger", "seed=null", "model.init=null"]


def test_every_entry_points_command_line_check_rewrites_null_groups(monkeypatch):
    """Each entry point's ``__main__`` calls :func:`check_command_line` alone: it rewrites ``sys.argv``
    for Hydra (``python -m src.evaluate data=null`` crashed with Hydra's ValueError traceback)."""
    monkeypatch.setattr("sys.argv", ["evaluate.py", "ckpt_path=x.ckpt", "data=null"])
    check_command_line("evaluate")
    assert sys.argv == ["evaluate.py", "ckpt_path=x.ckpt", "~data"]


def test_the_networks_own_defaults_are_the_configurations_but_the_init():
    """``MLP([784, 16, 16, 10])`` alone is the essay's network; the configuration takes its defaults from
    the same constants, except the initialisation: training defaults to N(0, 1/fan_in), since N(0, 1)
    weights saturate the sigmoids (README, "Why the defaults")."""
    import inspect

    from src.network.mlp import ESSAY_INIT, MLP

    signature = inspect.signature(MLP).parameters
    defaults = {name: p.default for name, p in signature.items() if p.default is not inspect.Parameter.empty}
    assert defaults == {
        "activation": Activation().name,
        "negative_slope": Activation().negative_slope,
        "cost": Cost().name,
        "backprop": Model().backprop,
        "init": ESSAY_INIT,
    }
    assert Model().init != ESSAY_INIT


def test_every_command_writes_its_runs_where_the_demo_and_mlflow_look(monkeypatch, tmp_path):
    """Runs went to ./outputs while the demo looked for checkpoints in $PROJECT_ROOT/outputs."""
    from hydra import compose, initialize_config_dir

    monkeypatch.setenv("PROJECT_ROOT", str(tmp_path))
    runs = f"{tmp_path}/outputs"
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        for command in ("train", "evaluate", "predict", "export", "demo"):
            hydra = compose(command, return_hydra_config=True).hydra
            assert hydra.run.dir.startswith(f"{runs}/") and hydra.sweep.dir.startswith(f"{runs}/multirun/")
        assert compose("demo").checkpoints_dir == runs
        assert compose("train", ["logger=mlflow"]).logger.mlflow.tracking_uri == f"sqlite:///{runs}/mlflow.db"


def test_the_checkpoint_callbacks_write_where_the_run_directory_code_looks(tmp_path):
    """src.run_dir, src.sweep and src.callbacks find a run's checkpoints by CHECKPOINTS and LAST_CHECKPOINT."""
    callbacks = compose_config("train", tmp_path).callbacks
    writers = [values for values in callbacks.values() if "dirpath" in values]
    assert len(writers) == 3 and {values.dirpath for values in writers} == {f"{tmp_path}/{CHECKPOINTS}"}
    assert f"{callbacks.last_checkpoint.filename}.ckpt" == LAST_CHECKPOINT
