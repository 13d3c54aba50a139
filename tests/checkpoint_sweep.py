"""Resume training from real checkpoints with one entry changed: ``python -m tests.checkpoint_sweep``.

Not part of CI: it trains about a hundred short resumed runs (minutes). It trains one epoch of a run
with every kind of state a checkpoint holds (:data:`runs.SWEEP_GROUPS`), then, for every entry, mapping
and list of its ``last.ckpt`` but the weights, removed or replaced in turn by each value of
:data:`runs.HOSTILE`, runs ``python -m src.train``'s checks (``validate_train``) and, where they accept the
checkpoint, the resumed training itself, in this process. Each must train or end in one
:class:`~src.errors.UserError` line; every other ending is listed with its place and value, and the exit
code is then 1. The checks alone, the quick half, are a test:
``tests/test_checkpoint_safety.py::test_any_entry_of_a_checkpoint_replaced_is_resumed_or_refused_in_one_line``.
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from src.checks import validate_train
from src.errors import UserError
from src.train import train
from tests.runs import DELETED, HOSTILE, changed, checkpoint_places, sweep_resume_config, train_for_sweep


def shown(value: object) -> str:
    return "removed" if value is DELETED else repr(value)


def sweep(workdir: Path) -> list[str]:
    """The endings other than training or one :class:`UserError` line, one line each."""
    trained = train_for_sweep(workdir / "trained")
    path = workdir / "changed.ckpt"
    accepted = []
    for place in checkpoint_places(trained):
        for value in [DELETED, *HOSTILE]:
            torch.save(changed(trained, place, value), path)
            try:
                validate_train(sweep_resume_config(workdir / "checked", path))
            except UserError:
                continue
            accepted.append((place, value))
    print(f"{len(accepted)} changed checkpoints pass the checks; resuming each", flush=True)
    failures = []
    for number, (place, value) in enumerate(accepted):
        torch.save(changed(trained, place, value), path)
        run_dir = workdir / f"resumed{number}"
        try:
            train(sweep_resume_config(run_dir, path))
        except UserError as error:
            if "\n" in str(error):
                failures.append(f"{place} {shown(value)}: a message of several lines")
        except BaseException as error:
            failures.append(f"{place} {shown(value)}: {type(error).__name__}: {str(error)[:200]}")
            print(failures[-1], flush=True)
        shutil.rmtree(run_dir, ignore_errors=True)
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, help="where the runs go (a temporary directory by default)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        workdir = arguments.workdir or Path(temporary)
        failures = sweep(workdir)
    print(f"{len(failures)} resumed runs ended otherwise than training or one error line")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
