"""The tools around a training run: what the console prints (:mod:`src.console`), the logger, debug,
callbacks and scheduler config groups."""

import re

import pytest
from runs import run_module

PROGRESS_BAR = re.compile(r"^(Sanity Checking|Training|Epoch \d+|Validation|Testing)\b.*(it/s|s/it)")


def log_lines(output: str) -> list[str]:
    """The lines of ``output`` that are not progress bars (tqdm redraws them after ``\\r``)."""
    lines = (line.strip() for line in re.split(r"[\r\n]", output))
    return [line for line in lines if line and not PROGRESS_BAR.match(line) and "\x1b[A" not in line]


@pytest.mark.slow
def test_a_default_run_prints_each_line_once_and_ends_with_where_to_look(tmp_path):
    run = run_module("src.train", "trainer.max_epochs=2", f"hydra.run.dir={tmp_path}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stderr == ""  # no warnings, no second copy of the log
    lines = log_lines(run.stdout)
    checkpoint = tmp_path / "checkpoints" / "epoch_001.ckpt"
    expected = [
        "GPU available: False, used: False",
        "TPU available: False, using: 0 TPU cores",
        "model: 64-16-16-10 sigmoid neurons, mse cost, manual backprop: 1,482 parameters (5.9 kB)",
        "`Trainer.fit` stopped: `max_epochs=2` reached.",
        f"Restoring states from the checkpoint path at {checkpoint}",
        f"Loaded model weights from the checkpoint at {checkpoint}",
        "test/acc",
        f"checkpoint: {checkpoint}",
        f"run directory: {tmp_path}",
        f"tensorboard --logdir {tmp_path / 'tensorboard'}",
    ]
    assert len(lines) == len(expected), lines
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(start)
    assert re.fullmatch(r"test/acc 0\.\d{4}  test/loss 0\.\d{4}", lines[6])
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    # the run directory's log keeps every line with its time and origin
    assert (
        "[lightning.pytorch.utilities.rank_zero][INFO] - GPU available"
        in (tmp_path / "train.log").read_text()
    )


@pytest.mark.slow
def test_an_error_during_training_starts_its_own_line(tmp_path):
    run = run_module("src.train", "activation=relu", "optimizer.lr=1e30", f"hydra.run.dir={tmp_path}")
    assert run.returncode == 2
    combined = run.stdout + run.stderr
    assert run.stdout.endswith("\n")  # the progress bar's line was ended before the error was printed
    assert combined.count("error: training diverged") == 1
    assert run.stderr.splitlines()[-1].startswith("error: training diverged at SGD step")
