"""Bad input ends in one clear line: every bad config value names the key, the value and what is allowed,
before anything is built or written; the command line prints it as ``error: ...`` and exits with 2. Output
that can't be written ends so too: a full disk in one line, a reader gone (``| head``) quietly."""

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image
from runs import (
    QUICK,
    REPO,
    compose_config,
    literal,
    options,
    python_environment,
    run_module,
    start_module,
    write_idx,
)

from src.cli import report_user_errors, resume_command
from src.command_line import check_command_line
from src.errors import TrainingInterrupted, UserError
from src.evaluate import evaluate
from src.lit import MLPClassifier
from src.train import train


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.hidden=[16,0]"], "model.hidden=[16, 0]: every hidden layer size must be an integer >= 1"),
        (["model.hidden=[-3]"], "model.hidden=[-3]: every hidden layer size must be an integer >= 1"),
        (["model.hidden=[16.5]"], "model.hidden=[16.5]: every hidden layer size must be an integer >= 1"),
        (["model.hidden=16"], "model.hidden=16: must be a list of hidden layer sizes"),
        (["model.backprop=numeric"], "model.backprop=numeric: choose one of manual, autograd"),
        (["optimizer.lr=0"], "optimizer.lr=0: the learning rate must be a finite number > 0"),
        (["optimizer.lr=-0.5"], "optimizer.lr=-0.5: the learning rate must be a finite number > 0"),
        (["optimizer.lr=nan"], "optimizer.lr=nan: the learning rate must be a finite number > 0"),
        (["optimizer.lr=inf"], "optimizer.lr=inf: the learning rate must be a finite number > 0"),
        (["optimizer.lr=1e300"], "optimizer.lr=1e+300: .*to 3.403e+38, the smallest normal and the largest"),
        (["optimizer.lr=1e-50"], "optimizer.lr=1e-50: .*from 1.175e-38"),  # 0 in float32
        (["optimizer.lr=fast"], "optimizer.lr=fast: the learning rate must be a finite number > 0"),
        (["optimizer.lr='1e-3'"], 'optimizer.lr="1e-3": the learning rate must be a finite number > 0'),
        (["optimizer=momentum", "optimizer.momentum=-1"], "optimizer: torch.optim.SGD refuses .*momentum"),
        (
            ["+optimizer.betas=[0.9,0.99]"],
            "optimizer.betas=[0.9, 0.99]: torch.optim.SGD takes no argument betas",
        ),
        # found by a tester on 2026-12-07: an IndexError in Adam's constructor; a TypeError in the second step
        (
            ["optimizer=adam", "+optimizer.betas=[0.9]"],
            "optimizer.betas=[0.9]: must be a list of 2 numbers",
        ),
        (
            ["optimizer=momentum", "+optimizer.dampening=[0.1]"],
            "optimizer.dampening=[0.1]: must be a number",
        ),
        (
            ["optimizer._target_=torch.nn.Linear"],
            "optimizer._target_=torch.nn.Linear: must name a torch.optim",
        ),
        (["data.batch_size=0"], "data.batch_size=0: the mini-batch size must be an integer >= 1"),
        (["data.batch_size=-10"], "data.batch_size=-10: the mini-batch size must be an integer >= 1"),
        (["data.batches_per_step=0"], "data.batches_per_step=0: must be an integer >= 1"),
        (
            [f"data.batch_size={2**63}"],
            f"data.batch_size={2**63}: the mini-batch size must be an integer from 1 to {2**63 - 1}",
        ),
        ([f"data.eval_batch_size={10**20}"], f"data.eval_batch_size={10**20}: must be an integer from 1 to "),
        (
            ["data=synthetic_mnist", f"data.test_size={10**9}"],
            f"data.train_size=50000, val_size=10000, test_size={10**9}: {10**9 + 60000} random 28x28 float32 "
            "images take 2920.8 GiB, more than this machine's",
        ),
        (
            ["data.test_fraction=0.95"],
            "data.val_fraction=0.1 and data.test_fraction=0.95: together they must be < 1",
        ),
        (["trainer.max_epochs=0"], "trainer.max_epochs=0: the number of epochs must be an integer >= 1"),
        (["trainer.max_epochs=-1"], "trainer.max_epochs=-1: the number of epochs must be an integer >= 1"),
        (["trainer.max_epochs=ten"], "trainer.max_epochs=ten: the number of epochs must be an integer >= 1"),
        (["trainer.precision=8"], "trainer.precision=8: choose one of 32-true, 64-true"),
        (["activation=leaky_relu", "activation.negative_slope=0"], "activation.negative_slope=0: .* > 0"),
        (
            ["activation.name=softmax"],
            "activation.name=softmax: choose one of sigmoid, relu, tanh, leaky_relu",
        ),
        (["cost.name=hinge"], "cost.name=hinge: choose one of mse, cross_entropy"),
        (["seed=-1"], "seed=-1: the seed must be an integer from 0 to 4294967295"),
        (["test=maybe"], "test=maybe: must be true or false"),
        (["optimizer.lr=${nowhere}"], "optimizer.lr: Interpolation key 'nowhere' not found"),
        (["ckpt_path=/no/such/last.ckpt"], "ckpt_path=/no/such/last.ckpt does not exist: give a .ckpt file"),
        (["ckpt_path=''"], "ckpt_path is empty: give a .ckpt file"),
        (["optimizer._target_=torch.optim.LBFGS"], "optimizer._target_=torch.optim.LBFGS: needs a closure"),
        (["optimizer._target_=torch.optim.SparseAdam"], "torch.optim.SparseAdam: needs sparse gradients"),
        (["+trainer.accumulate_grad_batches=2"], "trainer.accumulate_grad_batches=2: training takes one SGD"),
        (
            ["callbacks=early_stopping", "+trainer.limit_val_batches=0"],  # a RuntimeError after one epoch
            "trainer.limit_val_batches=0: runs no validation, but callbacks.early_stopping.monitor=val/acc "
            "watches it: leave out limit_val_batches, or switch it off with callbacks.early_stopping=null",
        ),
        (
            ["scheduler=plateau", "+trainer.limit_val_batches=0.0"],  # the rate silently never fell
            "trainer.limit_val_batches=0.0: runs no validation, but scheduler.monitor=val/acc watches it",
        ),
        (
            ["+trainer.max_steps=5"],
            # it trained a whole chunk of 128 mini-batches: 126 SGD steps on the digits
            "trainer.max_steps=5: counts SGD steps, but training stops only between chunks of "
            "data.batches_per_step=128 mini-batches",
        ),
        (["+trainer.gradient_clip_val=1"], "trainer.gradient_clip_val=1: not supported"),
        (
            ["+trainer.check_val_every_n_epoch=0"],
            "trainer.check_val_every_n_epoch=0: must be an integer >= 1",
        ),
        (["trainer.devices=99"], "trainer.devices=99: more CPU processes than this machine's"),
        (["+trainer.val_check_interval=0"], "trainer.val_check_interval=0: must be a fraction of an epoch"),
        pytest.param(
            ["trainer=gpu"],
            "trainer.accelerator=gpu: torch .* finds no CUDA GPU on this machine; train on the CPU with trainer=cpu",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU"),
        ),
        (
            ["data.val_fraction=0.001"],
            "data.val_fraction=0.001: must hold at least one image of each of the 10",
        ),
        ([f"data.split_seed={2**40}"], f"data.split_seed={2**40}: must be an integer from 0 to 4294967295"),
        (["model.hidden=[1000000000]"], "a 64-1000000000-10 network has 75000000010 weights and .* GiB"),
        (
            ["+model.hiddden=[4]"],
            "model.hiddden=[4]: model has no setting hiddden (did you mean model.hidden?); its settings are hidden",
        ),
        (
            ["+data.batchsize=5"],
            "data.batchsize=5: data has no setting batchsize (did you mean data.batch_size?); its settings are batch_size",
        ),
        (["+foo=1"], "foo=1: there is no setting foo"),
        (
            ["+callbacks.mine._target_=nowhere.Callback"],
            "callbacks.mine: ImportError: Error loading 'nowhere.Callback': ModuleNotFoundError",
        ),
        (
            ["+callbacks.mine._target_=src.callbacks.StopOnSignal", "+callbacks.mine.every=2"],
            "callbacks.mine: TypeError: StopOnSignal.__init__() got an unexpected keyword argument 'every'",
        ),
        (
            ["+callbacks.mine._target_=builtins.dict"],
            "callbacks.mine._target_=builtins.dict is not a Lightning callback (it builds dict); choose callbacks "
            "from conf/callbacks/, or switch one off with callbacks.<name>=null",
        ),
        (["+callbacks.mine=5"], "callbacks.mine: not a Lightning callback config (a mapping with _target_)"),
        (  # was built, and its first step a traceback
            ["scheduler=step", "scheduler._target_=builtins.dict"],
            "scheduler._target_=builtins.dict: must name a learning-rate scheduler, e.g. torch.optim.lr_scheduler.StepLR",
        ),
        (
            ["logger=csv", "+logger.csv.bogus=1"],
            "logger.csv: TypeError: CSVLogger.__init__() got an unexpected keyword argument 'bogus'",
        ),
        (["optimizer=adam", "optimizer.lr=${oc.env:HOME}"], "optimizer.lr=/"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_bad_config_values_are_refused_before_anything_is_built(tmp_path, overrides, message):
    with pytest.raises(UserError, match=literal(message)):
        train(compose_config("train", tmp_path / "run", *overrides))
    assert not (tmp_path / "run").exists()  # no checkpoints, TensorBoard events or metrics.json


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("foo=1", "error: foo=1: there is no setting foo; see conf/train.yaml\n"),
        (
            "model.hiddden=[4]",
            "error: model.hiddden=[4]: model has no setting hiddden (did you mean model.hidden?); its settings are hidden, backprop, init, cuda_graph\n",
        ),
        (
            "+data.batchsize=5",
            "error: data.batchsize=5: data has no setting batchsize (did you mean data.batch_size?); its settings are batch_size, batches_per_step, eval_batch_size, seed, val_fraction, test_fraction, split_seed\n",
        ),
    ],
)
def test_unknown_keys_are_one_line_on_the_command_line(tmp_path, argument, message):
    run = run_module("src.train", argument, f"hydra.run.dir={tmp_path}")
    assert (run.returncode, run.stderr) == (2, message)


def test_missing_or_empty_data_root_is_refused_with_download_off(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(
        UserError, match=literal(f"data.root={missing} does not exist: .* data.download=true")
    ):
        train(compose_config("train", tmp_path / "run", "data=mnist", f"data.root={missing}"))
    write_idx(tmp_path / "data", "MNIST")
    (tmp_path / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    pattern = (
        f"data.root={tmp_path / 'data'} holds no FashionMNIST data .*FashionMNIST/raw/train-images-idx3-ubyte"
    )
    with pytest.raises(UserError, match=literal(pattern)):
        train(
            compose_config("train", tmp_path / "run", "data=fashion_mnist", f"data.root={tmp_path / 'data'}")
        )
    with pytest.raises(UserError, match=literal("holds no MNIST data .*MNIST/raw/t10k-labels-idx1-ubyte")):
        train(compose_config("train", tmp_path / "run", "data=mnist", f"data.root={tmp_path / 'data'}"))
    assert not (tmp_path / "run").exists()


def test_evaluate_needs_a_checkpoint(tmp_path):
    with pytest.raises(UserError, match=literal("ckpt_path is missing: pass ckpt_path=PATH")):
        evaluate(compose_config("evaluate", tmp_path / "run"))
    with pytest.raises(UserError, match=literal(f"ckpt_path={tmp_path} is a directory")):
        evaluate(compose_config("evaluate", tmp_path / "run", f"ckpt_path={tmp_path}"))
    with pytest.raises(UserError, match=literal("trainer.limit_test_batches=0: evaluates nothing")):
        evaluate(compose_config("evaluate", tmp_path / "run", "ckpt_path=x", "+trainer.limit_test_batches=0"))
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_command_line_prints_one_error_line_and_exits_2(tmp_path):
    run = run_module("src.train", "model.hidden=[16,0]", f"hydra.run.dir={tmp_path / 'new' / 'day' / 'run'}")
    assert run.returncode == 2
    assert run.stderr == "error: model.hidden=[16, 0]: every hidden layer size must be an integer >= 1\n"
    # Hydra writes the run's configuration and log before our code runs (and src.run_dir its lock file);
    # a refused run removes them again, and the parents made for it (a tester found outputs/<date>/ left)
    assert not (tmp_path / "new").exists() and tmp_path.is_dir()


@pytest.mark.slow
def test_a_refused_multirun_leaves_no_sweep_directory_nor_its_parents(tmp_path):
    (tmp_path / "outputs" / "kept").mkdir(parents=True)
    sweep_dir = tmp_path / "outputs" / "multirun" / "day" / "time"
    run = run_module("src.train", "-m", "trainer=ddp_cpu", "seed=1,2", f"hydra.sweep.dir={sweep_dir}")
    assert run.returncode == 2
    assert run.stderr.endswith("or sweep with a single-process trainer (trainer=cpu or trainer=gpu)\n")
    assert [path.name for path in (tmp_path / "outputs").iterdir()] == ["kept"]


@pytest.mark.slow
def test_a_null_group_of_evaluate_is_no_traceback(tmp_path):
    """``group=null`` means none of that group in every entry point, not only in ``src.train``."""
    run = run_module(
        "src.evaluate", "ckpt_path=/nonexistent.ckpt", "data=null", f"hydra.run.dir={tmp_path}/run"
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "error: ckpt_path=/nonexistent.ckpt does not exist: give a .ckpt file written by python -m src.train"
    ]


@pytest.mark.slow
def test_evaluate_without_checkpoint_is_one_line(tmp_path):
    run = run_module("src.evaluate", f"hydra.run.dir={tmp_path / 'run'}")
    assert (run.returncode, run.stderr) == (
        2,
        "error: ckpt_path is missing: pass ckpt_path=PATH (a .ckpt file written by python -m src.train)\n",
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_hydra_full_error_shows_the_traceback(tmp_path):
    run = run_module(
        "src.train", "optimizer.lr=0", f"hydra.run.dir={tmp_path}", env={"HYDRA_FULL_ERROR": "1"}
    )
    assert run.returncode != 0
    assert "Traceback (most recent call last)" in run.stderr
    assert "src.errors.UserError: optimizer.lr=0" in run.stderr


@pytest.mark.slow
def test_unknown_group_option_names_it_and_lists_the_choices(tmp_path):
    """Checked before Hydra composes anything: one line, exit code 2, nothing written."""
    run = run_module("src.train", "activation=softmax", f"hydra.run.dir={tmp_path}")
    assert (run.returncode, run.stderr) == (
        2,
        f"error: activation=softmax is not an option of activation: choose one of {', '.join(options('activation'))}\n",
    )
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.mark.slow
def test_a_sweep_job_refused_after_composition_leaves_no_directory(tmp_path):
    """The first job trains; the second is refused by src.config's check, stops the sweep and is removed."""
    sweep_dir = tmp_path / "sweep"
    run = run_module("src.train", "-m", "model.hidden=[4],[4,0]", *QUICK, f"hydra.sweep.dir={sweep_dir}")
    assert run.returncode == 2
    assert run.stderr.endswith(
        "error: model.hidden=[4, 0]: every hidden layer size must be an integer >= 1\n"
    )
    jobs = [path for path in sweep_dir.iterdir() if path.is_dir()]
    assert [job.name.split("_")[0] for job in jobs] == ["0"]
    assert (jobs[0] / "metrics.json").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-m", "optimizer=sgd,adamx"], "optimizer=adamx is not an option of optimizer"),
        (["+experiment=essay"], "experiment=essay is not an option of experiment"),
        (
            ["data=mnst", "ckpt_path=x"],
            "data=mnst is not an option of data: choose one of digits, fashion_mnist",
        ),
    ],
)
def test_unknown_options_in_sweeps_and_additions_are_refused(monkeypatch, capsys, argv, message):
    monkeypatch.setattr(sys, "argv", ["train.py", *argv])
    with pytest.raises(SystemExit) as stop:
        check_command_line("train")
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_known_options_and_other_overrides_pass(monkeypatch):
    overrides = [
        "-m",
        "activation=sigmoid,relu",
        "experiment=null",
        "trainer=ddp_cpu",
        "data=mnist",
        "data.root=/x",
    ]
    monkeypatch.setattr(sys, "argv", ["train.py", *overrides])
    check_command_line("train")


@pytest.mark.parametrize(
    ("config_name", "argv", "message"),
    [
        ("train", ["hydra.run.dir="], "hydra.run.dir is empty: give the directory the run writes into"),
        ("train", ["-m", "hydra.sweep.dir=''", "seed=1,2"], "hydra.sweep.dir is empty"),
        (
            "evaluate",
            ["ckpt_path=x.ckpt", "+fooo=1"],
            "+fooo=1: there is no setting fooo; see conf/evaluate.yaml",
        ),
        ("predict", ["ckpt_path=x.ckpt", "inputs=x.png", "+topk=3"], "+topk=3: there is no setting topk"),
        ("export", ["ckpt_path=x.ckpt", "+output=x.pt2"], "+output=x.pt2: there is no setting output"),
        ("demo", ["+foo=1"], "+foo=1: there is no setting foo; see conf/demo.yaml"),
    ],
)
def test_every_command_refuses_an_empty_run_directory_or_an_added_key(
    monkeypatch, capsys, config_name, argv, message
):
    """An unset ``$RUN`` in ``hydra.run.dir=$RUN`` would write the run into the current directory; a key
    added with ``+`` that the command never reads would be ignored without a word."""
    monkeypatch.setattr(sys, "argv", [f"{config_name}.py", *argv])
    with pytest.raises(SystemExit) as stop:
        check_command_line(config_name)
    assert stop.value.code == 2 and capsys.readouterr().err.startswith(f"error: {message}")


def test_wrapper_turns_user_errors_into_one_line_and_exit_2(capsys):
    @report_user_errors
    def main(error: BaseException) -> None:
        raise error

    with pytest.raises(SystemExit) as stop:
        main(UserError("data.batch_size=0: the mini-batch size must be an integer >= 1"))
    assert stop.value.code == 2
    assert (
        capsys.readouterr().err == "error: data.batch_size=0: the mini-batch size must be an integer >= 1\n"
    )

    wrapped = RuntimeError("Error in call to target 'src.data.Something'")
    wrapped.__cause__ = UserError("inputs=x.png is not a readable image")
    with pytest.raises(SystemExit):
        main(wrapped)
    assert capsys.readouterr().err == "error: inputs=x.png is not a readable image\n"

    # a name from outside with a newline or a terminal escape stays one line and can't restyle the terminal
    with pytest.raises(SystemExit):
        main(UserError("inputs=new\nline\x1b[31m.png does not exist"))
    assert capsys.readouterr().err == "error: inputs=new\\nline\\x1b[31m.png does not exist\n"

    with pytest.raises(SystemExit) as stop:
        main(KeyboardInterrupt())
    assert (stop.value.code, capsys.readouterr().err) == (130, "interrupted\n")

    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        main(ZeroDivisionError("division by zero"))


def test_wrapper_reports_an_interrupt_with_the_command_that_resumes_it(capsys, tmp_path):
    @report_user_errors
    def main() -> None:
        raise TrainingInterrupted(15, step=640, epoch=5, checkpoint=tmp_path / "interrupted.ckpt")

    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 143
    assert capsys.readouterr().err.splitlines() == [
        f"training interrupted by SIGTERM at SGD step 640 (epoch 5); checkpoint: {tmp_path / 'interrupted.ckpt'}",
        f"resume with: python -m src.train ckpt_path={tmp_path / 'interrupted.ckpt'}",
    ]
    assert resume_command(tmp_path / "a b.ckpt") == f"python -m src.train 'ckpt_path={tmp_path / 'a b.ckpt'}'"


def test_a_path_hydra_reads_as_a_number_or_a_list_is_a_file_name(tmp_path, monkeypatch):
    """``ckpt_path=123``, ``inputs=[3]``: Hydra hands export, predict and the demo an int or a list, not a
    string; each names the file it was written as (Path(123) raised a TypeError traceback)."""
    from omegaconf import OmegaConf

    from src.checkpoint import load_model
    from src.demo.__main__ import serve
    from src.predict import image_files

    monkeypatch.chdir(tmp_path)
    (tmp_path / "123").touch()
    with pytest.raises(UserError, match=r"^ckpt_path=123 is an empty file"):
        load_model(123)
    for value in (OmegaConf.create([1]), True, 7.5):
        with pytest.raises(UserError, match=r"^ckpt_path=(\[1\]|True|7\.5) does not exist"):
            load_model(value)
    with pytest.raises(UserError, match=r"^inputs=3 does not exist"):
        image_files(OmegaConf.to_container(OmegaConf.create([3])))
    assert image_files([123]) == [Path("123")]
    demo = {"ckpt_path": 123, "checkpoints_dir": "outputs", "host": "127.0.0.1", "port": 0, "rate": None}
    with pytest.raises(UserError, match=r"^ckpt_path=123 is an empty file"):
        serve(OmegaConf.create(demo))
    with pytest.raises(UserError, match=r"checkpoints_dir=5 does not exist"):
        serve(OmegaConf.create(demo | {"ckpt_path": None, "checkpoints_dir": 5}))


def test_evaluate_stopped_by_a_signal_names_the_command_that_tests_again(tmp_path, monkeypatch, capsys):
    """SIGTERM while ``src.evaluate`` tests: the checkpoint it was given and its own overrides (``data=...``)
    in the ``test it with:`` line (it printed none: the model is handed to Lightning, not its path)."""
    import signal

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from src.callbacks import StopOnSignal
    from src.lit import MLPClassifier

    data = OmegaConf.to_container(compose_config("train", tmp_path).data, resolve=True)
    model = MLPClassifier(in_features=64, num_classes=10, hidden=[4], data=data)
    ckpt = tmp_path / "tiny.ckpt"
    torch.save({"hyper_parameters": dict(model.hparams), "state_dict": model.state_dict()}, ckpt)
    listen = StopOnSignal.on_test_start

    def listen_then_signal(self, trainer, pl_module):
        listen(self, trainer, pl_module)
        signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(StopOnSignal, "on_test_start", listen_then_signal)
    overrides = ["+data.eval_batch_size=7", f"ckpt_path={ckpt}"]
    hydra = OmegaConf.create(
        {"job": {"name": "evaluate"}, "overrides": {"task": overrides}, "mode": RunMode.RUN}
    )
    monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: True))
    monkeypatch.setattr(HydraConfig, "get", staticmethod(lambda: hydra))
    with pytest.raises(SystemExit) as stop:
        report_user_errors(evaluate)(compose_config("evaluate", tmp_path, *overrides))
    assert stop.value.code == 143
    assert capsys.readouterr().err.splitlines()[-2:] == [
        "testing interrupted by SIGTERM: no test metrics, no metrics.json",
        f"test it with: python -m src.evaluate +data.eval_batch_size=7 ckpt_path={ckpt}",
    ]
    assert not (tmp_path / "metrics.json").exists()


def test_evaluate_reports_once_under_data_parallelism(tmp_path, monkeypatch, capsys):
    """``src.evaluate trainer.devices=2``: every process holds the summed test metrics; only rank 0 prints
    them and writes ``metrics.json`` (both did: the line twice, run together on one line)."""
    import lightning as L
    from omegaconf import OmegaConf

    from src.lit import MLPClassifier

    data = OmegaConf.to_container(compose_config("train", tmp_path).data, resolve=True)
    model = MLPClassifier(in_features=64, num_classes=10, hidden=[4], data=data)
    ckpt = tmp_path / "tiny.ckpt"
    torch.save({"hyper_parameters": dict(model.hparams), "state_dict": model.state_dict()}, ckpt)
    out = tmp_path / "rank1"
    monkeypatch.setattr(L.Trainer, "is_global_zero", property(lambda self: False))
    metrics = evaluate(compose_config("evaluate", out, f"ckpt_path={ckpt}"))
    assert 0 <= metrics["test/acc"] <= 1 and not (out / "metrics.json").exists()
    assert "test/acc" not in capsys.readouterr().out
    monkeypatch.undo()
    assert evaluate(compose_config("evaluate", tmp_path, f"ckpt_path={ckpt}")) == metrics
    assert (tmp_path / "metrics.json").exists() and "test/acc" in capsys.readouterr().out


def test_wrapper_ends_an_exit_over_a_broken_pipe_with_141_and_keeps_other_exits(capsys):
    """rich's console (Lightning's progress bar) exits with 1 once its write to stdout broke."""

    @report_user_errors
    def main(error: BaseException) -> None:
        raise error

    for code in (1, 3):
        exit_over_pipe = SystemExit(code)
        exit_over_pipe.__context__ = BrokenPipeError(errno.EPIPE, "Broken pipe")
        with pytest.raises(SystemExit) as stop:
            main(exit_over_pipe)
        assert (stop.value.code, capsys.readouterr().err) == (141, "")
        with pytest.raises(SystemExit) as stop:
            main(SystemExit(code))
        assert stop.value.code == code


def test_only_a_training_is_told_to_resume_after_a_full_disk(capsys):
    @report_user_errors
    def main(cfg: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(SystemExit) as stop:
        main(OmegaConf.create({"task_name": "train"}))
    assert stop.value.code == 1
    assert capsys.readouterr().err.endswith("then resume training from checkpoints/last.ckpt\n")
    for cfg in (OmegaConf.create({"task_name": "evaluate"}), ["src.essay"]):
        with pytest.raises(SystemExit) as stop:
            main(cfg)
        assert (stop.value.code, capsys.readouterr().err) == (
            1,
            "error: No space left on device (ENOSPC): the run stopped; make room or write somewhere else, "
            "then run the command again\n",
        )


def run_with_stdout(stdout: int, module: str, *args: str, buffered: bool) -> subprocess.CompletedProcess[str]:
    """``python -m <module> <args>`` writing to the descriptor ``stdout``, its own output buffered (written
    at the end) or not (each line at once); stderr captured."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env=python_environment({"PYTHONUNBUFFERED": "" if buffered else "1"}),
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )


def run_without_reader(module: str, *args: str, buffered: bool = False) -> subprocess.CompletedProcess[str]:
    """:func:`run_with_stdout` into a pipe nobody reads, as after ``| head -1`` has exited: closed before
    the program starts, so that every write to it fails, whenever it comes."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return run_with_stdout(writer, module, *args, buffered=buffered)
    finally:
        os.close(writer)


@pytest.mark.slow
@pytest.mark.parametrize("buffered", [False, True])
def test_the_essay_into_a_closed_pipe_ends_quietly_with_141(buffered):
    """``python -m src.essay | head -1``: a ``BrokenPipeError`` traceback and exit code 1 (unbuffered: in
    ``print_section_3``), or Python's "Exception ignored" and 120 (buffered: at exit)."""
    run = run_without_reader("src.essay", buffered=buffered)
    assert (run.returncode, run.stderr) == (141, "")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full, a device that is always full")
@pytest.mark.parametrize("buffered", [False, True])
def test_the_essay_on_a_full_disk_is_one_line_with_no_training_to_resume(buffered):
    """``python -m src.essay > /dev/full`` advised to resume training from checkpoints/last.ckpt; buffered,
    Python's "Exception ignored" traceback and exit code 120 followed."""
    with open("/dev/full", "w") as full:
        run = run_with_stdout(full.fileno(), "src.essay", buffered=buffered)
    assert (run.returncode, run.stderr) == (
        1,
        "error: No space left on device (ENOSPC): the run stopped; make room or write somewhere else, "
        "then run the command again\n",
    )


@pytest.mark.slow
def test_predict_into_a_closed_pipe_ends_quietly_and_leaves_no_run_directory(tmp_path):
    """It printed a prediction's line before writing ``predictions.json``: nothing of value written."""
    data = OmegaConf.to_container(compose_config("train", tmp_path).data, resolve=True)
    model = MLPClassifier(in_features=64, num_classes=10, hidden=[4], data=data)
    ckpt = tmp_path / "tiny.ckpt"
    torch.save({"hyper_parameters": dict(model.hparams), "state_dict": model.state_dict()}, ckpt)
    Image.new("L", (8, 8), 128).save(tmp_path / "digit.png")
    run_dir = tmp_path / "run"
    run = run_without_reader(
        "src.predict", f"ckpt_path={ckpt}", f"inputs={tmp_path / 'digit.png'}", f"hydra.run.dir={run_dir}"
    )
    assert (run.returncode, run.stderr) == (141, "")
    assert not run_dir.exists()


@pytest.mark.slow
def test_a_training_into_a_closed_pipe_ends_quietly_at_its_first_line_and_leaves_no_run_directory(tmp_path):
    """rich's progress bar ended it with exit code 1, and each log line after the reader had gone printed
    a "Logging error" traceback while training went on."""
    run = run_without_reader("src.train", *QUICK, f"hydra.run.dir={tmp_path / 'run'}")
    assert (run.returncode, run.stderr) == (141, "")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_training_whose_reader_goes_after_a_checkpoint_ends_quietly_and_keeps_it(tmp_path):
    """``python -m src.train | head -50``: the reader goes while training runs."""
    training = start_module(
        "src.train",
        "trainer.max_epochs=30",
        f"hydra.run.dir={tmp_path}",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    last = tmp_path / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while not last.is_file() and training.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    training.stdout.close()
    _, errors = training.communicate(timeout=120)
    assert (training.returncode, errors.decode()) == (141, "")
    assert last.is_file()
