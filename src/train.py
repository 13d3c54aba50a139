"""``python -m src.train``: train the network as configured in ``conf/train.yaml`` and test the best
checkpoint. Writes into the Hydra run directory: ``.hydra/``, ``checkpoints/``, TensorBoard events and
``metrics.json``."""

from dataclasses import asdict
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from src.cli import report_user_errors
from src.console import setup_console
from src.errors import UserError

CALLBACK_OPTIONS = "choose callbacks from conf/callbacks/, or switch one off with callbacks.<name>=null"


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit, test the best checkpoint, write ``metrics.json``; returns the metrics it wrote."""
    import lightning as L

    from src.callbacks import interrupts_reported
    from src.checkpoint import AtomicCheckpointIO
    from src.checks import refused_arguments, validate_train
    from src.config import Activation, build_data
    from src.console import print_run_end
    from src.instantiate import instantiate_entries
    from src.lit import MLPClassifier
    from src.loggers import build_loggers
    from src.metrics_file import FINAL_METRICS, collect_metrics, write_json
    from src.run_dir import METRICS_FILE

    validate_train(cfg)
    # before the data (which may download) and the trainer: a logger refused (a missing package, a
    # directory that can't be written) stops the run before anything else is done
    logger = build_loggers(cfg.get("logger"))
    plain = OmegaConf.to_container(cfg, resolve=True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build_data(plain["data"])
    model = MLPClassifier(
        datamodule.in_features,
        datamodule.num_classes,
        **plain["model"],
        activation=asdict(Activation(**plain["activation"])),
        cost=plain["cost"]["name"],
        optimizer=plain["optimizer"],
        data=plain["data"],
    )
    callbacks = instantiate_entries(
        cfg.callbacks, "callbacks", L.Callback, "Lightning callback", CALLBACK_OPTIONS
    )
    with refused_arguments("trainer"):
        trainer: L.Trainer = hydra.utils.instantiate(  # plain dicts and lists: max_time={hours: 1}
            cfg.trainer, callbacks=callbacks, logger=logger, plugins=[AtomicCheckpointIO()], _convert_="all"
        )
    refuse_relaunch_in_multirun(trainer)
    with interrupts_reported(trainer):  # Ctrl-C or SIGTERM: what was saved, how to resume
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path, weights_only=True)
    metrics = collect_metrics(trainer.callback_metrics, FINAL_METRICS)
    ckpt_path = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if cfg.test:
        with interrupts_reported(trainer):
            trainer.test(
                model, datamodule=datamodule, ckpt_path=ckpt_path or None, weights_only=True, verbose=False
            )
        metrics |= collect_metrics(trainer.callback_metrics, ["test/acc", "test/loss"])
    metrics["ckpt_path"] = ckpt_path
    if trainer.is_global_zero:
        write_json(Path(cfg.paths.output_dir) / METRICS_FILE, metrics)
        print_run_end(trainer, metrics, cfg.paths.output_dir)
    return metrics


def refuse_relaunch_in_multirun(trainer) -> None:
    """Hydra multirun (``-m``) and a strategy that re-launches the script once per process (``ddp``,
    ``ddp_cpu``) don't mix: each re-launched process would run the whole sweep again."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from src.lightning_compat import relaunches_script

    if (
        HydraConfig.initialized()
        and HydraConfig.get().mode == RunMode.MULTIRUN
        and relaunches_script(trainer)
    ):
        raise UserError(
            f"Hydra multirun (-m) can't be combined with strategy {type(trainer.strategy).__name__} on "
            f"{trainer.num_devices} devices x {trainer.num_nodes} nodes, which re-launches the script per "
            "process: run each job of the sweep as its own `python -m src.train ...` command (e.g. a shell "
            "loop), or sweep with a single-process trainer (trainer=cpu or trainer=gpu)"
        )


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@report_user_errors
def main(cfg: DictConfig) -> float | None:
    setup_console()
    metrics = train(cfg)
    return metrics.get("val/acc_best")


if __name__ == "__main__":
    from src.command_line import check_command_line

    check_command_line("train")
    main()
