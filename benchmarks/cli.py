"""The command line: ``python -m benchmarks [options]``, its checks, and the measurement it runs.

Every argument is checked before anything is loaded or allocated; a wrong one ends the run with one line,
``python -m benchmarks: error: ...``, and exit code 2.
"""

import argparse
import itertools
import math
import os
import shlex
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.report import environment, report
from benchmarks.workload import (
    CUDA_ONLY,
    DEFAULT_DATA_ROOT,
    DIGITS_TRAIN_IMAGES,
    IN_FEATURES,
    MNIST_IMAGES,
    NUM_CLASSES,
    PIPELINE_NAMES,
    PRESETS,
    Budget,
    Setting,
    Workload,
    data_overrides,
    initial_params,
    load_training_data,
    mnist_found,
    synchronize,
)

PROG = "python -m benchmarks"
DEVICES = ("cpu", "cuda")
MAX_PARAMETERS = 10_000_000  # 40 MB per copy of P in float32; the pipelines hold a few copies each
MAX_SYNTHETIC_IMAGES = 100_000  # about 1 GB with the numpy peer's float64 copy of the data
MNIST_TRAIN_IMAGES = 50_000  # src.train holds out at least MNIST's usual 10,000 for validation
DEFAULT_PRESET = "digits"
DEFAULT_BATCH_SIZES = (10, 100)
DEFAULT_SECONDS = 2.0
MAX_REPEATS, MAX_EPOCHS, MAX_SECONDS = 100, 1000, 3600.0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``python -m benchmarks: error: ...``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind: type, maximum: float) -> Callable[[str], Any]:
    """A parser of a finite ``kind`` (int or float) in ``(0, maximum]``."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'an integer' if kind is int else 'a number'}"
            ) from None
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(
                f"{text!r} must be {'an integer' if kind is int else 'a finite number'} > 0"
            )
        if value > maximum:
            raise argparse.ArgumentTypeError(f"{text!r} must be at most {maximum:,g}")
        return value

    return parse


def _positive_ints(text: str) -> list[int]:
    return [_number(int, math.inf)(part) for part in text.split(",")]


def _names(choices: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = text.split(",")
        for name in names:
            if name not in choices:
                raise argparse.ArgumentTypeError(f"{name!r} is not one of {', '.join(choices)}")
        return names

    return parse


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Training samples/s of the essay's network: our pipelines against textbook ones.",
    )
    parser.add_argument(
        "--preset",
        type=_names(tuple(PRESETS)),
        action="append",
        help="digits: 64-16-16-10 on scikit-learn's digits, lr 3.0; mnist: Nielsen's chapter-1 784-30-10, "
        "lr 1.5, on real MNIST when --data-root holds it, else on synthetic MNIST-shaped data. Comma list "
        f"or repeated (default: {DEFAULT_PRESET}). Not with --data or --sizes, which describe one setting instead",
    )
    parser.add_argument(
        "--data",
        choices=tuple(IN_FEATURES),
        help="one setting on this data instead of presets (not with --preset)",
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        help=f"folder holding MNIST/raw/ (default: {DEFAULT_DATA_ROOT}, if it holds MNIST)",
    )
    parser.add_argument(
        "--sizes",
        type=_positive_ints,
        help="layer sizes, input first, e.g. 64,16,16,10 (input 64 for digits, 784 for MNIST; output 10; at "
        f"most {MAX_PARAMETERS:,} weights and biases); one setting instead of presets (not with --preset): its data "
        "follows the input size unless --data says",
    )
    parser.add_argument("--lr", type=_number(float, math.inf), help="learning rate (default: the preset's)")
    parser.add_argument(
        "--batch-size",
        type=_positive_ints,
        action="append",
        help="mini-batch sizes, comma list or repeated, at most --train-size (the digits: at most "
        f"{DIGITS_TRAIN_IMAGES:,}) (default: {','.join(map(str, DEFAULT_BATCH_SIZES))})",
    )
    parser.add_argument(
        "--train-size",
        type=_number(int, MAX_SYNTHETIC_IMAGES),
        default=MNIST_TRAIN_IMAGES,
        help=f"MNIST-shaped training images: the first of src.train's split of real MNIST (at most "
        f"{MNIST_TRAIN_IMAGES:,}), or synthetic ones (at most {MAX_SYNTHETIC_IMAGES:,}) "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=_number(int, os.cpu_count() or 1),
        default=1,
        help="torch and numpy threads, at most the CPUs (default: %(default)s)",
    )
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="cpu",
        help="where the torch pipelines keep the data and the network; nielsen-numpy always runs on the "
        "CPU (default: %(default)s)",
    )
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=_number(int, MAX_EPOCHS), help="whole epochs per pipeline and round")
    budget.add_argument(
        "--seconds",
        type=_number(float, MAX_SECONDS),
        help=f"train whole epochs until this many seconds, per pipeline and round (default: {DEFAULT_SECONDS:g})",
    )
    parser.add_argument(
        "--repeats",
        type=_number(int, MAX_REPEATS),
        default=3,
        help="rounds over the pipelines (default: %(default)s)",
    )
    parser.add_argument(
        "--pipelines",
        type=_names(PIPELINE_NAMES),
        help=f"comma list of {', '.join(PIPELINE_NAMES)} (default: all; {', '.join(CUDA_ONLY)} only "
        "with --device cuda)",
    )
    parser.add_argument("--startup", action="store_true", help="also time start-up of python -m src.train")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    return parser


def _mnist_source(setting: Setting, root: Path, root_given: bool, parser: _Parser) -> Setting:
    """``setting`` on real MNIST when ``root`` holds it; else on synthetic-mnist, unless real MNIST was
    asked for explicitly (``--data mnist`` or ``--data-root``)."""
    if setting.data != "mnist" or mnist_found(root):
        return setting
    if root_given:
        parser.error(
            f"--data-root {root}: no MNIST there (expected MNIST/raw/train-images-idx3-ubyte[.gz]); real MNIST "
            "was asked for (--data mnist or --data-root)"
        )
    return replace(setting, data="synthetic-mnist")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The options, checked; ``args.settings`` is the list of :class:`Setting` to measure."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error(
                "--device cuda: no CUDA GPU is visible to torch (torch.cuda.is_available() is False)"
            )

    if args.pipelines is None:
        args.pipelines = [n for n in PIPELINE_NAMES if args.device == "cuda" or n not in CUDA_ONLY]
    elif args.device != "cuda" and (gpu_only := [n for n in args.pipelines if n in CUDA_ONLY]):
        parser.error(f"--pipelines {','.join(gpu_only)}: only with --device cuda (they measure the GPU)")

    real_mnist_asked = args.data == "mnist" or args.data_root is not None
    args.batch_sizes = sorted({b for group in args.batch_size or [DEFAULT_BATCH_SIZES] for b in group})
    if args.batch_sizes[-1] > args.train_size:
        parser.error(f"--batch-size {args.batch_sizes[-1]}: larger than --train-size {args.train_size}")
    if args.epochs is None and args.seconds is None:
        args.seconds = DEFAULT_SECONDS
    if args.preset is not None and (args.sizes is not None or args.data is not None):
        # each preset is a whole setting (data, sizes, lr): a --sizes or --data beside it would replace
        # part of it, and the table would name a preset it did not measure
        given = " and ".join(
            f"{option} {value}"
            for option, value in (
                ("--sizes", ",".join(map(str, args.sizes or []))),
                ("--data", args.data),
            )
            if value
        )
        presets = ",".join(name for group in args.preset for name in group)
        parser.error(
            f"--preset {presets} with {given}: a preset is a whole setting (data, sizes, lr); give either "
            "--preset, or --data and/or --sizes for one setting of your own"
        )
    if args.data is None and args.sizes is not None:
        matches = [data for data, features in IN_FEATURES.items() if features == args.sizes[0]]
        if not matches:
            parser.error(f"--sizes {args.sizes[0]},...: the input layer must be 64 (digits) or 784 (MNIST)")
        args.data = matches[0]
    if args.data is not None:
        preset = next(s for s in PRESETS.values() if IN_FEATURES[s.data] == IN_FEATURES[args.data])
        sizes = tuple(args.sizes) if args.sizes else preset.sizes
        settings = [Setting(args.data, sizes, preset.lr)]
    else:
        settings = [PRESETS[name] for group in args.preset or [[DEFAULT_PRESET]] for name in group]
    for setting in settings:
        sizes = ",".join(map(str, setting.sizes))
        if (
            len(setting.sizes) < 2
            or setting.sizes[0] != IN_FEATURES[setting.data]
            or setting.sizes[-1] != NUM_CLASSES
        ):
            parser.error(
                f"--sizes {sizes}: {setting.data} needs input {IN_FEATURES[setting.data]} first and output "
                f"{NUM_CLASSES} last"
            )
        parameters = sum(n * (inputs + 1) for inputs, n in itertools.pairwise(setting.sizes))
        if parameters > MAX_PARAMETERS:
            parser.error(
                f"--sizes {sizes}: {parameters:,} weights and biases ({parameters * 4 / 2**30:,.1f} GiB "
                f"per float32 copy); at most {MAX_PARAMETERS:,}"
            )
    args.data_root = (args.data_root or DEFAULT_DATA_ROOT).expanduser()
    sources = [_mnist_source(s, args.data_root, real_mnist_asked, parser) for s in settings]
    args.mnist_missing = sources != settings
    settings = sources
    if any(s.data == "mnist" for s in settings) and args.train_size > MNIST_TRAIN_IMAGES:
        parser.error(
            f"--train-size {args.train_size}: MNIST's training split holds {MNIST_TRAIN_IMAGES:,} images "
            f"beside the {MNIST_IMAGES - MNIST_TRAIN_IMAGES:,} src.train holds out for validation"
        )
    if any(s.data == "digits" for s in settings) and args.batch_sizes[-1] > DIGITS_TRAIN_IMAGES:
        parser.error(  # --train-size is MNIST's: the digits train on their whole training split
            f"--batch-size {args.batch_sizes[-1]}: larger than the digits' training split of "
            f"{DIGITS_TRAIN_IMAGES:,} images"
        )
    args.settings = [Setting(s.data, s.sizes, args.lr or s.lr) for s in dict.fromkeys(settings)]
    return args


def data_line(settings: Sequence[Setting], root: Path, train_size: int, mnist_missing: bool) -> str:
    """Which data the settings train on, in words."""
    missing = f" (no MNIST under {root}: give --data-root for real MNIST)" if mnist_missing else ""
    described = {
        "digits": "digits: scikit-learn's 8x8 digits, src.train's training split",
        "mnist": f"mnist: real MNIST from {root}, the first {train_size:,} images of src.train's training split",
        "synthetic-mnist": f"synthetic-mnist: {train_size:,} random images of MNIST's shape{missing}",
    }
    return "data: " + "; ".join(described[data] for data in dict.fromkeys(s.data for s in settings))


@contextmanager
def limit_threads(threads: int) -> Iterator[None]:
    """Torch and the BLAS libraries numpy loaded use ``threads`` threads inside the block."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            yield
    finally:
        torch.set_num_threads(before)


def warm_up(device: str) -> None:
    """Create the CUDA context and the cuBLAS handle before any clock runs: set-up, not training."""
    import torch

    if device == "cuda":
        weights = torch.ones(8, 8, device=device, requires_grad=True)
        (weights @ weights).sum().backward()
        synchronize(device)


def main(argv: Sequence[str] | None = None) -> None:
    """Measure and print the report; progress lines go to stderr."""
    args = parse_args(argv)
    from benchmarks.pipelines import measure, measure_startup

    command = shlex.join([*PROG.split(), *(sys.argv[1:] if argv is None else argv)])
    budget = Budget(args.epochs, args.seconds)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    measurements, startups = [], []
    with limit_threads(args.threads), tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        warm_up(args.device)
        for setting in args.settings:
            overrides = data_overrides(setting.data, args.train_size, args.data_root)
            try:
                x, y = load_training_data(overrides)
            except Exception as error:  # a data file src.train cannot read: its reason, on one line
                if setting.data != "mnist":
                    raise
                reason = " ".join(str(error).split())
                print(
                    f"{PROG}: error: --data-root {args.data_root}: data=mnist cannot read it: {reason}",
                    file=sys.stderr,
                )
                sys.exit(2)
            x, y = x.to(args.device), y.to(args.device)  # once: the torch pipelines train where they lie
            initial = initial_params(setting.sizes)
            works = [
                Workload(setting, b, x, y, initial, overrides, Path(tmp), args.device)
                for b in args.batch_sizes
            ]
            measurements += [measure(work, args.pipelines, budget, args.repeats, log) for work in works]
            if args.startup:
                startups.append(measure_startup(works[0], args.repeats, args.threads))
                log(f"{setting.label} start-up: {startups[-1].first_batch:.2f} s to the first training batch")
    data = data_line(args.settings, args.data_root, args.train_size, args.mnist_missing)
    print(f"$ {command}\n{environment(args.threads, budget, args.repeats, args.device, data)}\n")
    print(report(measurements, startups, args.pipelines, args.markdown))
