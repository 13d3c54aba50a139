"""Fast checks of src/console.py and src/loggers.py, called directly: the log handlers and filters
``setup_console`` installs (on a logging set-up saved and put back around each test), the model line, the
lines printed at the end of a run and of a sweep, and what the loggers hand on to Lightning's."""

import importlib.util
import io
import logging
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import OmegaConf
from runs import compose_config, refused

from src import console
from src.console import (
    IGNORED_WARNINGS,
    LIGHTNING_LOGGERS,
    ConsoleCallback,
    DropMessages,
    FileOnlyInMultirun,
    ProgressBarAwareHandler,
    SweepEnd,
    model_line,
    print_run_end,
    quiet_loggers,
    setup_console,
    shown_path,
    viewer_command,
)
from src.lit import MLPClassifier
from src.loggers import EpochCSVLogger, EpochTensorBoardLogger, build_loggers, written_directories


@pytest.fixture(params=[False, True], ids=["run", "multirun"])
def multirun(request, monkeypatch) -> bool:
    """Runs the test outside a Hydra multirun and inside one."""
    mode = RunMode.MULTIRUN if request.param else RunMode.RUN
    monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: True))
    monkeypatch.setattr(HydraConfig, "get", staticmethod(lambda: SimpleNamespace(mode=mode)))
    return request.param


@pytest.fixture
def single_run(monkeypatch) -> None:
    """Outside Hydra, as a test or a Python session calls the code."""
    monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: False))


def test_a_multirun_is_known_from_hydras_mode(multirun):
    assert console.in_multirun() is multirun


def test_outside_hydra_there_is_no_multirun(single_run):
    assert console.in_multirun() is False


# --- setup_console -------------------------------------------------------------------------------


class LoggingSetup(SimpleNamespace):
    """The handlers a test gave the root and Lightning loggers, and the streams they write to."""

    def setup_console(self) -> None:
        """Runs setup_console, remembering the root's handlers it filtered: pytest's own are among them."""
        setup_console()
        self.filtered.extend(logging.getLogger().handlers)


@pytest.fixture
def logging_setup() -> LoggingSetup:
    """The root and Lightning loggers as Hydra and Lightning leave them, each with a console handler
    writing to a string; what setup_console changes is put back afterwards."""
    loggers = [logging.getLogger(name) for name in ["", *LIGHTNING_LOGGERS]]
    saved = [(logger, list(logger.handlers), logger.propagate, logger.level) for logger in loggers]
    filters = list(warnings.filters)
    root, lightning = logging.getLogger(), logging.getLogger("lightning.pytorch")
    for logger in loggers:
        logger.handlers = []
    hydra_stream, lightning_stream, log_file = io.StringIO(), io.StringIO(), io.StringIO()
    hydra_console = logging.StreamHandler(hydra_stream)  # Hydra's: stays, as a ProgressBarAwareHandler
    hydra_console.setFormatter(logging.Formatter("[%(name)s][%(levelname)s] - %(message)s"))
    hydra_console.setLevel(logging.INFO)
    job_log = type("JobLogHandler", (logging.StreamHandler,), {})(log_file)  # <task>.log: a subclass, kept
    root.handlers = [hydra_console, job_log]
    root.setLevel(logging.INFO)
    lightning.handlers = [logging.StreamHandler(lightning_stream)]  # Lightning's own: removed
    lightning.propagate = False
    setup = LoggingSetup(
        hydra_stream=hydra_stream,
        lightning_stream=lightning_stream,
        log_file=log_file,
        job_log=job_log,
        filtered=[],
    )
    yield setup
    for logger, handlers, propagate, level in saved:
        logger.handlers, logger.propagate = handlers, propagate
        logger.setLevel(level)
    for handler in setup.filtered:
        handler.filters = [
            f for f in handler.filters if not isinstance(f, (DropMessages, FileOnlyInMultirun))
        ]
    warnings.filters[:] = filters


def test_each_lightning_line_is_printed_once_through_hydras_console_and_job_log(logging_setup, multirun):
    logging_setup.setup_console()
    logging_setup.setup_console()  # twice: still one filter per handler
    lightning = logging.getLogger("lightning.pytorch")
    lightning.warning("GPU available: False")
    lightning.info("💡 Tip: try our cloud")
    lightning.info("Trainer already configured with model summary callbacks: [ConsoleCallback]")
    lightning.info("`Trainer.fit` stopped: `max_epochs=1` reached.")
    logging.getLogger("src.console").info("model: 64-30-10 ...")
    logged = [
        "[lightning.pytorch][WARNING] - GPU available: False",
        "[lightning.pytorch][INFO] - `Trainer.fit` stopped: `max_epochs=1` reached.",
        "[src.console][INFO] - model: 64-30-10 ...",
    ]
    # a multirun's console shows Lightning's warnings only; the job's log file gets every line, as a run's
    assert logging_setup.hydra_stream.getvalue().splitlines() == (logged[:1] if multirun else logged)
    assert logging_setup.log_file.getvalue().splitlines() == [line.split(" - ")[1] for line in logged]
    assert logging_setup.lightning_stream.getvalue() == ""


def test_setup_console_keeps_the_handlers_settings_and_adds_one_filter_to_each(logging_setup, multirun):
    logging_setup.setup_console()
    logging_setup.setup_console()
    root = logging.getLogger()
    (console_handler,) = [handler for handler in root.handlers if type(handler) is ProgressBarAwareHandler]
    assert logging.StreamHandler not in [type(handler) for handler in root.handlers]
    job_log = logging_setup.job_log
    assert job_log in root.handlers  # beside pytest's own handlers, which capture the test's logs
    assert console_handler.stream is logging_setup.hydra_stream
    assert console_handler.formatter._fmt == "[%(name)s][%(levelname)s] - %(message)s"
    assert console_handler.level == logging.INFO
    assert [type(f) for f in console_handler.filters] == (
        [DropMessages, FileOnlyInMultirun] if multirun else [DropMessages]
    )
    assert [type(f) for f in job_log.filters] == [DropMessages]
    for name in LIGHTNING_LOGGERS:
        assert logging.getLogger(name).propagate is True
        assert logging.StreamHandler not in [type(handler) for handler in logging.getLogger(name).handlers]
    # INFO in a multirun too: the job's log file gets Lightning's lines (FileOnlyInMultirun keeps them off
    # the console)
    assert (
        logging.getLogger("lightning.pytorch").level
        == logging.getLogger("lightning.fabric").level
        == logging.INFO
    )


def test_the_warnings_our_use_of_the_libraries_triggers_are_silenced(logging_setup, single_run):
    logging_setup.setup_console()
    ignored = [entry for entry in warnings.filters if entry[0] == "ignore" and entry[1] is not None]
    assert set(IGNORED_WARNINGS) <= {entry[1].pattern for entry in ignored}
    recommended = "It is recommended to use `self.log({!r}, ..., sync_dist=True)` when logging on epoch level"
    with warnings.catch_warnings(record=True) as caught:
        warnings.filters[:] = [entry for entry in warnings.filters if entry[0] == "ignore"]
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use ...", FutureWarning, stacklevel=1)
        warnings.warn(
            "`broadcast_buffers` is deprecated. Use `forward_sync_buffers` ...", FutureWarning, stacklevel=1
        )
        for name in ("train/loss", "train/samples_per_sec", "val/acc"):
            warnings.warn(recommended.format(name), UserWarning, stacklevel=1)
        warnings.warn("another warning", FutureWarning, stacklevel=1)
    assert [str(warning.message) for warning in caught] == [recommended.format("val/acc"), "another warning"]


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        ("💡 Tip: For seamless cloud logging ...", False),
        ("Trainer already configured with model summary callbacks: [<class 'ConsoleCallback'>]", False),
        ("Metric val/acc improved by 0.122 >= min_delta = 0.0. New best score: 0.222", False),
        ("Metric val/loss improved. New best score: 0.100", False),
        ("The tip: 💡 Tip: is only an advert at the start", True),
        ("Early stopping: Metric val/acc improved", True),  # the pattern is anchored at the start
        ("Metric improved", True),  # no metric named
        ("Monitored metric val/acc did not improve in the last 5 records.", True),
    ],
)
def test_messages_dropped_and_kept(message, kept):
    record = logging.LogRecord("lightning.pytorch", logging.INFO, "", 0, message, None, None)
    assert DropMessages().filter(record) is kept


@pytest.mark.parametrize(
    ("name", "level", "kept"),
    [
        ("lightning.pytorch.utilities.rank_zero", logging.INFO, False),
        ("lightning.pytorch", logging.INFO, False),
        ("lightning.fabric", logging.DEBUG, False),
        ("lightning_fabric", logging.INFO, False),
        ("pytorch_lightning", logging.INFO, False),
        ("src.console", logging.INFO, False),  # the model line
        ("lightning.pytorch.utilities.rank_zero", logging.WARNING, True),
        ("src.console", logging.ERROR, True),
        ("lightningx", logging.INFO, True),  # another package whose name only starts the same
        ("src.consoles", logging.INFO, True),
        ("src.callbacks", logging.INFO, True),
        ("hydra._internal.core_plugins.basic_launcher", logging.INFO, True),  # `#0 : ...`
    ],
)
def test_a_multirun_console_leaves_lightnings_and_the_model_lines_below_warning_to_the_log_file(
    name, level, kept
):
    record = logging.LogRecord(name, level, "", 0, "text", None, None)
    assert FileOnlyInMultirun().filter(record) is kept


def test_a_message_that_is_not_a_string_is_read_as_its_text():
    record = logging.LogRecord("x", logging.INFO, "", 0, ValueError("💡 Tip: an error"), None, None)
    assert DropMessages().filter(record) is False


def test_a_line_that_cannot_be_formatted_goes_to_loggings_error_handler():
    handler, failed = ProgressBarAwareHandler(io.StringIO()), []
    handler.setFormatter(logging.Formatter("%(missing)s"))
    handler.handleError = failed.append
    record = logging.LogRecord("x", logging.INFO, "", 0, "text", None, None)
    handler.emit(record)
    assert failed == [record]
    assert handler.stream.getvalue() == ""


# --- ConsoleCallback -----------------------------------------------------------------------------------


def test_the_model_line_counts_weights_and_biases_and_their_bytes():
    # 64*30 + 30 + 30*10 + 10 = 2,260 float32 numbers of 4 bytes: 9,040 bytes
    assert model_line(MLPClassifier(64, 10, [30])) == (
        "model: 64-30-10 sigmoid neurons, mse cost, manual backprop: 2,260 parameters (9.0 kB)"
    )
    # 64*16 + 16 + 16*10 + 10 = 1,210 numbers: 4,840 bytes
    assert model_line(MLPClassifier(64, 10, [16])).endswith(": 1,210 parameters (4.8 kB)")
    # the essay's network in float64: 13,002 numbers of 8 bytes
    essay = MLPClassifier(
        784, 10, [16, 16], activation={"name": "tanh", "negative_slope": 0.01}, cost="cross_entropy"
    ).double()
    assert model_line(essay) == (
        "model: 784-16-16-10 tanh neurons, cross_entropy cost, manual backprop: 13,002 parameters (104.0 kB)"
    )


def model_logged(caplog, rank_zero: bool) -> list[str]:
    """What ConsoleCallback.on_fit_start logs for a 64-30-10 model."""
    with caplog.at_level(logging.INFO, logger="src.console"):
        ConsoleCallback().on_fit_start(SimpleNamespace(is_global_zero=rank_zero), MLPClassifier(64, 10, [30]))
    return [record.getMessage() for record in caplog.records if record.name == "src.console"]


def test_the_model_line_is_logged_once_by_rank_0_in_a_run_and_in_a_multirun(caplog, multirun):
    # in a multirun FileOnlyInMultirun keeps it off the console, in the job's log file only
    assert model_logged(caplog, rank_zero=True) == [model_line(MLPClassifier(64, 10, [30]))]
    caplog.clear()
    assert model_logged(caplog, rank_zero=False) == []


def test_progress_bars_are_switched_off_in_a_multirun_only(multirun):
    bar = TQDMProgressBar()
    ConsoleCallback().setup(SimpleNamespace(progress_bar_callback=bar), None, "fit")
    assert bar.is_disabled is multirun
    ConsoleCallback().setup(SimpleNamespace(progress_bar_callback=None), None, "fit")  # no bar: nothing


class Bar:
    """One of tqdm's bars: remembers being closed."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("enabled", [True, False])
def test_an_error_closes_the_open_progress_bars_first(enabled):
    progress = TQDMProgressBar()
    train, validation = Bar(), Bar()  # the test and predict bars were never opened
    progress.train_progress_bar, progress.val_progress_bar = train, validation
    if not enabled:
        progress.disable()
    ConsoleCallback().on_exception(SimpleNamespace(progress_bar_callback=progress), None, ValueError())
    assert (train.closed, validation.closed) == (enabled, enabled)


def test_an_error_without_tqdms_progress_bar_closes_nothing():
    other = SimpleNamespace(is_disabled=False, train_progress_bar=Bar())
    ConsoleCallback().on_exception(SimpleNamespace(progress_bar_callback=other), None, ValueError())
    assert other.train_progress_bar.closed is False


# --- The end of a run and of a sweep -------------------------------------------------------------------


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_paths_inside_the_working_directory_are_shown_relative(in_tmp):
    assert shown_path(in_tmp / "run" / "last.ckpt") == "run/last.ckpt"
    assert shown_path("run/../other/last.ckpt") == "other/last.ckpt"
    assert shown_path(in_tmp.parent / "elsewhere.ckpt") == str(in_tmp.parent / "elsewhere.ckpt")
    assert shown_path(in_tmp) == "."


def test_each_logger_names_the_command_or_file_that_shows_what_it_wrote(in_tmp):
    runs = in_tmp / "my runs"
    tensorboard = TensorBoardLogger(runs, name="tensorboard", version="")
    assert viewer_command(tensorboard) == "tensorboard --logdir 'my runs/tensorboard'"
    assert (
        viewer_command(CSVLogger(runs, name="csv", version="")) == "learning curves: my runs/csv/metrics.csv"
    )
    mlflow = type("MLFlowLogger", (), {"_tracking_uri": "sqlite:////work/outputs/mlflow.db"})()
    assert viewer_command(mlflow) == "mlflow ui --backend-store-uri sqlite:////work/outputs/mlflow.db"
    wandb_files = runs / "wandb" / "offline-run-1" / "files"
    wandb = type("WandbLogger", (), {"experiment": SimpleNamespace(dir=str(wandb_files))})()
    assert viewer_command(wandb) == "wandb sync 'my runs/wandb/offline-run-1'"
    for other in ("CometLogger", "OtherLogger", "ZLogger"):  # named before, between and after those two
        assert viewer_command(type(other, (), {})()) is None


METRICS = {"test/acc": 0.95, "test/loss": 0.0123456, "val/acc_best": 0.96128}


def test_a_run_ends_with_its_test_metrics_checkpoint_directory_and_viewers(in_tmp, capsys, single_run):
    checkpoint = in_tmp / "run" / "checkpoints" / "epoch_001.ckpt"
    loggers = [CSVLogger(in_tmp / "run", name="csv", version=""), type("OtherLogger", (), {})()]
    print_run_end(SimpleNamespace(loggers=loggers), METRICS | {"ckpt_path": str(checkpoint)}, in_tmp / "run")
    assert capsys.readouterr().out.splitlines() == [
        "test/acc 0.9500  test/loss 0.0123",
        "checkpoint: run/checkpoints/epoch_001.ckpt",
        "run directory: run",
        "learning curves: run/csv/metrics.csv",
    ]


@pytest.mark.parametrize("ckpt_path", [None, ""])
def test_a_run_without_test_or_checkpoint_says_so(in_tmp, capsys, single_run, ckpt_path):
    metrics = {} if ckpt_path is None else {"ckpt_path": ckpt_path}
    print_run_end(SimpleNamespace(loggers=[]), metrics, in_tmp / "run")
    assert capsys.readouterr().out.splitlines() == ["checkpoint: (none)", "run directory: run"]


def test_a_multirun_job_ends_with_one_line(in_tmp, capsys, monkeypatch):
    monkeypatch.setattr(console, "in_multirun", lambda: True)
    trainer = SimpleNamespace(loggers=[CSVLogger(in_tmp, name="csv", version="")])
    print_run_end(trainer, METRICS | {"ckpt_path": "x.ckpt"}, in_tmp / "0")
    print_run_end(trainer, {"test/acc": 0.5, "test/loss": 2.0}, in_tmp / "1")
    print_run_end(trainer, {"val/acc_best": 0.5}, in_tmp / "2")
    print_run_end(trainer, {}, in_tmp / "3")
    assert capsys.readouterr().out.splitlines() == [
        "  val/acc_best 0.9613  test/acc 0.9500  test/loss 0.0123  0",
        "  test/acc 0.5000  test/loss 2.0000  1",
        "  val/acc_best 0.5000    2",
        "    3",
    ]


def test_a_sweep_ends_with_the_command_that_opens_its_tensorboard_logs_if_any(in_tmp, capsys):
    sweep = in_tmp / "multirun" / "sweep 1"
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}})
    (sweep / "0" / "csv").mkdir(parents=True)
    (sweep / "0" / "csv" / "metrics.csv").write_text("epoch\n")
    SweepEnd().on_multirun_end(config)
    assert capsys.readouterr().out == ""
    (sweep / "1" / "tensorboard").mkdir(parents=True)
    (sweep / "1" / "tensorboard" / "events.out.tfevents.1.host").write_bytes(b"")
    SweepEnd().on_multirun_end(config)
    assert capsys.readouterr().out == "tensorboard --logdir 'multirun/sweep 1'\n"


# --- The loggers ---------------------------------------------------------------------------------


@pytest.fixture
def handed_on(monkeypatch) -> list[tuple[dict, int | None]]:
    """The metrics and step our loggers hand on to Lightning's TensorBoard and CSV loggers."""
    calls: list[tuple[dict, int | None]] = []

    def log_metrics(self, metrics, step=None) -> None:
        calls.append((dict(metrics), step))

    monkeypatch.setattr(TensorBoardLogger, "log_metrics", log_metrics)
    monkeypatch.setattr(CSVLogger, "log_metrics", log_metrics)
    return calls


def test_tensorboard_curves_are_at_the_epoch_without_the_epoch_and_test_curves(tmp_path, handed_on):
    logger = EpochTensorBoardLogger(tmp_path)
    logger.log_metrics(
        {"train/loss": 0.5, "epoch": 2.0, "test/acc": 0.9, "val/test/x": 1.0, "epochs": 3, "custom": 4}, 57
    )
    logger.log_metrics({"val/acc": 0.75}, 12)  # no epoch: Lightning's step stays
    logger.log_metrics({"epoch": 3.0, "test/acc": 0.9, "test/loss": 0.1}, 60)  # nothing left: nothing logged
    assert handed_on == [
        ({"train/loss": 0.5, "val/test/x": 1.0, "epochs": 3, "custom": 4}, 2),
        ({"val/acc": 0.75}, 12),
    ]
    assert type(handed_on[0][1]) is int


def test_the_csv_epoch_column_is_a_whole_number(tmp_path, handed_on):
    logger = EpochCSVLogger(tmp_path)
    logger.log_metrics({"test/acc": 0.9, "epoch": 4.0}, 99)
    logger.log_metrics({"val/acc": 0.75}, 12)
    assert handed_on == [({"test/acc": 0.9, "epoch": 4}, 99), ({"val/acc": 0.75}, 12)]
    assert type(handed_on[0][0]["epoch"]) is int


@pytest.mark.parametrize("kind", [EpochTensorBoardLogger, EpochCSVLogger])
def test_only_rank_0_logs(tmp_path, handed_on, monkeypatch, kind):
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    kind(tmp_path).log_metrics({"val/acc": 0.75, "epoch": 1.0}, 12)
    assert handed_on == []


@pytest.mark.parametrize("config", [None, {}, {"csv": None}])  # logger.csv=null switches that one off
def test_no_loggers_is_lightnings_false(config):
    assert build_loggers(config) is False


def test_the_configured_loggers_are_built_in_order(tmp_path):
    config = {
        "tensorboard": {
            "_target_": "src.loggers.EpochTensorBoardLogger",
            "save_dir": str(tmp_path),
            "version": "",
        },
        "csv": {"_target_": "src.loggers.EpochCSVLogger", "save_dir": str(tmp_path), "name": "csv"},
    }
    tensorboard, csv = build_loggers(config)
    assert (type(tensorboard), type(csv)) == (EpochTensorBoardLogger, EpochCSVLogger)
    assert (tensorboard.save_dir, csv.name) == (str(tmp_path), "csv")


@pytest.mark.parametrize("logger", ["csv", ["x"], {"save_dir": "runs"}])
def test_a_logger_that_is_not_a_logger_config_is_one_error(logger):
    assert refused(build_loggers, {"mine": logger}) == (
        "logger.mine: not a logger config (a mapping with _target_); choose logger options from conf/logger/, "
        "e.g. logger=csv or logger=[tensorboard,csv]"
    )


def logger_config(tmp_path: Path, *overrides: str) -> dict:
    """The ``logger`` mapping of ``src.train``'s config with ``overrides``, run directory ``tmp_path``."""
    return OmegaConf.to_container(compose_config("train", tmp_path, *overrides).logger, resolve=True)


@pytest.mark.parametrize("option", ["tensorboard", "csv", "wandb"])
def test_each_logger_option_writes_into_its_save_dir(tmp_path, option):
    (name, logger), *_ = logger_config(tmp_path, f"logger={option}").items()
    assert written_directories(f"logger.{name}", logger) == [
        (f"logger.{option}.save_dir", str(tmp_path), tmp_path)
    ]


def test_mlflow_writes_into_the_directory_of_its_database(tmp_path):
    (logger,) = logger_config(tmp_path, "logger=mlflow", f"paths.root_dir={tmp_path}").values()
    uri = f"sqlite:///{tmp_path}/outputs/mlflow.db"  # an absolute path: sqlite://// and the path
    assert logger["tracking_uri"] == uri
    assert written_directories("logger.mlflow", logger) == [
        ("logger.mlflow.tracking_uri", uri, tmp_path / "outputs")
    ]


@pytest.mark.parametrize(
    ("logger", "expected"),
    [
        (
            {"save_dir": "runs", "dir": "/w"},
            [("l.save_dir", "runs", Path("runs")), ("l.dir", "/w", Path("/w"))],
        ),
        ({"save_dir": None}, []),
        ({"save_dir": "s3://bucket/runs"}, []),  # fsspec's, no local directory
        # MLflow: a local tracking_uri, not the save_dir it ignores beside one
        (
            {"save_dir": "x", "tracking_uri": "sqlite:///rel/m.db"},
            [("l.tracking_uri", "sqlite:///rel/m.db", Path("rel"))],
        ),
        ({"tracking_uri": "sqlite:////abs/m.db"}, [("l.tracking_uri", "sqlite:////abs/m.db", Path("/abs"))]),
        (
            {"tracking_uri": "file:///abs/mlruns"},
            [("l.tracking_uri", "file:///abs/mlruns", Path("/abs/mlruns"))],
        ),
        ({"tracking_uri": "file:mlruns"}, [("l.tracking_uri", "file:mlruns", Path("mlruns"))]),
        ({"save_dir": "x", "tracking_uri": "http://localhost:5000"}, []),  # a tracking server
        # only the save_dir is ignored beside a tracking_uri, not another logger's option
        (
            {"dir": "/w", "tracking_uri": "sqlite:///m.db"},
            [("l.dir", "/w", Path("/w")), ("l.tracking_uri", "sqlite:///m.db", Path("."))],
        ),
        ({"save_dir": "./mlruns", "tracking_uri": None}, [("l.save_dir", "./mlruns", Path("mlruns"))]),
    ],
)
def test_the_directories_a_logger_config_writes_into(logger, expected):
    assert written_directories("l", logger) == expected


@pytest.mark.parametrize(
    ("overrides", "key", "value"),
    [
        (["logger=csv", "logger.csv.save_dir=/proc/foo"], "logger.csv.save_dir", "/proc/foo"),
        (["logger.tensorboard.save_dir=/proc/foo"], "logger.tensorboard.save_dir", "/proc/foo"),
        (
            ["logger=many_loggers", "logger.csv.save_dir=/proc/foo/csv"],
            "logger.csv.save_dir",
            "/proc/foo/csv",
        ),
        (["logger=wandb", "logger.wandb.save_dir=/proc/foo"], "logger.wandb.save_dir", "/proc/foo"),
        (
            ["logger=mlflow", "logger.mlflow.tracking_uri=sqlite:////proc/foo/mlflow.db"],
            "logger.mlflow.tracking_uri",
            "sqlite:////proc/foo/mlflow.db",
        ),
    ],
)
def test_a_logger_directory_that_cannot_be_written_is_refused_before_any_logger_is_built(
    tmp_path, monkeypatch, overrides, key, value
):
    """Lightning's loggers make their directories once training has started: a traceback, until this."""
    real_find_spec = importlib.util.find_spec  # mlflow and wandb as if installed: their check comes first
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n: object() if n in ("mlflow", "wandb") else real_find_spec(n)
    )
    config = logger_config(tmp_path, *overrides)
    assert refused(build_loggers, config) == (
        f"{key}={value}: can't write there (No such file or directory): give a directory you can write to "
        f"with {key}=..."
    )
    assert list(tmp_path.iterdir()) == []  # not even the loggers that come first (many_loggers: tensorboard)


def test_quiet_loggers_say_errors_only_and_get_their_level_back():
    logger = logging.getLogger("onnx_ir")
    logger.setLevel(logging.DEBUG)
    with quiet_loggers(("onnx_ir", "onnxscript")):
        assert [logging.getLogger(name).level for name in ("onnx_ir", "onnxscript")] == [logging.ERROR] * 2
    assert logger.level == logging.DEBUG
    logger.setLevel(logging.NOTSET)
