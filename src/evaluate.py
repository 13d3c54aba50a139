"""``python -m src.evaluate ckpt_path=PATH``: test a checkpoint on the data it was trained on (or on
``data=...``), at the ``trainer.precision`` it was trained at (or the one given), report ``test/loss`` and
``test/acc`` and write them to ``metrics.json`` in the run directory."""

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from src.cli import report_user_errors
from src.console import setup_console


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Rebuild model and data from the checkpoint, test, write ``metrics.json``; returns the metrics."""
    import lightning as L
    import torch

    from src.callbacks import StopOnSignal, interrupts_reported
    from src.checkpoint import model_from
    from src.checks import refused_arguments, validate_evaluate
    from src.config import build_data
    from src.console import ConsoleCallback
    from src.errors import TestingInterrupted
    from src.metrics_file import collect_metrics, write_json
    from src.run_dir import METRICS_FILE

    checkpoint, data_config, precision = validate_evaluate(cfg)
    # 64-true: the weights are loaded as they were saved, not rounded to float32 first
    dtype = torch.float64 if precision == "64-true" else torch.float32
    model = model_from(checkpoint, dtype)
    datamodule = build_data(data_config)
    with refused_arguments("trainer"):
        trainer: L.Trainer = hydra.utils.instantiate(
            cfg.trainer,
            _convert_="all",  # plain dicts and lists, as Lightning takes them
            precision=precision,
            logger=False,
            callbacks=[StopOnSignal(), ConsoleCallback()],  # errors on their own line
        )
    try:
        with interrupts_reported(trainer):  # Ctrl-C or SIGTERM: no metrics, exit code 130 or 143
            trainer.test(model, datamodule=datamodule, verbose=False)
    except TestingInterrupted as stop:  # the model was given, not a path: name the checkpoint to test again
        stop.checkpoint = stop.checkpoint or Path(str(cfg.ckpt_path))
        raise
    metrics = collect_metrics(trainer.callback_metrics, ["test/acc", "test/loss"])
    metrics["ckpt_path"] = str(Path(str(cfg.ckpt_path)).absolute())  # as src.train records it
    metrics["precision"] = trainer.precision
    if trainer.is_global_zero:  # trainer.devices=2: every process has the summed metrics; one reports them
        write_json(Path(cfg.paths.output_dir) / METRICS_FILE, metrics)
        print(f"test/acc {metrics['test/acc']:.4f}  test/loss {metrics['test/loss']:.4f}  ({cfg.ckpt_path})")
    return metrics


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
@report_user_errors
def main(cfg: DictConfig) -> None:
    setup_console()
    evaluate(cfg)


if __name__ == "__main__":
    from src.command_line import check_command_line

    check_command_line("evaluate")
    main()
