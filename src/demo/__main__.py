"""``python -m src.demo [ckpt_path=PATH] [host=127.0.0.1] [port=0]``: serve the demo page for a trained
checkpoint (default: the newest ``*.ckpt`` under ``outputs/``) and print its URL; Ctrl-C stops it."""

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from src.cli import report_user_errors
from src.config import show
from src.errors import UserError


def newest_checkpoint(directory: Path) -> Path:
    """The most recently written ``*.ckpt`` file under ``directory`` (a link to nothing is no file)."""
    if not directory.is_dir():
        what = "is not a folder" if directory.exists() else "does not exist"
        raise UserError(
            f"ckpt_path is missing and checkpoints_dir={directory} {what}: give the folder of your runs with "
            "checkpoints_dir=..., or pass ckpt_path=PATH"
        )
    found = sorted(
        (path for path in directory.rglob("*.ckpt") if path.is_file()), key=lambda path: path.stat().st_mtime
    )
    if not found:
        raise UserError(
            f"ckpt_path is missing and checkpoints_dir={directory} holds no .ckpt file: train one with "
            "python -m src.train, or pass ckpt_path=PATH"
        )
    return found[-1]


def first_rate(cfg_rate: object, optimizer: object) -> float:
    """The page's first learning rate: ``rate=`` if given, else the checkpoint's ``optimizer.lr``; either
    must follow the rule the SGD step's API applies (the page would offer it, and every step be refused)."""
    from src.demo.server import RATE_RULE, is_rate

    rate = optimizer.get("lr") if cfg_rate is None and isinstance(optimizer, dict) else cfg_rate
    where = "rate" if cfg_rate is not None else "rate is null and the checkpoint's optimizer.lr"
    if not is_rate(rate):
        raise UserError(f"{where}={show(rate)}: {RATE_RULE}, e.g. rate=0.5")
    return float(rate)


def serve(cfg: DictConfig) -> None:
    """Load the checkpoint, listen on ``host:port``, print the URL and serve until Ctrl-C."""
    from src.checkpoint import load_checkpoint, model_from
    from src.demo.samples import samples_to_pick
    from src.demo.server import DemoServer
    from src.demo.views import DemoNetwork

    ckpt_path = (  # str(): a value Hydra parsed as a number or a list names a file too (ckpt_path=123)
        Path(str(cfg.ckpt_path))
        if cfg.ckpt_path is not None
        else newest_checkpoint(Path(str(cfg.checkpoints_dir)))
    )
    values = OmegaConf.to_container(cfg, resolve=True)  # plain values, which show() writes as typed
    host, port = values.get("host"), values.get("port")
    if not isinstance(host, str) or not host:
        raise UserError(f"host={show(host)}: give an address to listen on, e.g. host=127.0.0.1")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise UserError(f"port={show(port)}: give a port from 1 to 65535, or 0 for a free one")
    checkpoint = load_checkpoint(ckpt_path)
    hparams = checkpoint["hyper_parameters"]
    rate = first_rate(values.get("rate"), hparams.get("optimizer"))
    network = DemoNetwork(model_from(checkpoint).net, rate, hparams.get("data"))
    samples = samples_to_pick(hparams.get("data"), network.sizes[0])
    try:
        server = DemoServer((host, port), network, samples)
    except OSError as error:
        raise UserError(
            f"host={show(host)} port={show(port)}: can't listen there ({error.strerror or error})"
        ) from None
    with server:
        sizes = "-".join(map(str, network.sizes))
        print(f"demo: the {sizes} network of {ckpt_path}", flush=True)
        if samples.note:
            print(f"demo: {samples.note}", flush=True)
        # 0.0.0.0 and :: are no address a browser opens: the URL is the loopback one, and the line says
        # that other machines reach the page too
        where = f"listening on every interface, as host={host} asks; " if server.every_interface else ""
        print(f"open {server.url}  ({where}Ctrl-C stops)", flush=True)
        server.serve_forever()


@hydra.main(version_base="1.3", config_path="../../conf", config_name="demo")
@report_user_errors
def main(cfg: DictConfig) -> None:
    serve(cfg)


if __name__ == "__main__":
    from src.command_line import check_command_line

    check_command_line("demo")
    main()
