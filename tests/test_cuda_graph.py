"""CUDA graph replay of the SGD steps (src/cuda_graph.py): the decision, the chunk shapes and buffers, the
capture/replay logic (on the CPU with an eager stand-in for the capture), CPU training unchanged; on a
GPU (marked ``gpu``, skipped without one) the real graphs against the eager loop."""

import logging
import re

import lightning as L
import pytest
import torch
from runs import compose_config, run_module

from benchmarks.cuda_graphs import graph_epoch, graph_memory
from src.checkpoint import load_checkpoint
from src.checks import check_cuda_graph
from src.config import Model, parse
from src.cuda_graph import (
    GRAPH_PRECISIONS,
    MODES,
    ChunkGraphs,
    StaticChunk,
    capturable_off_gpu,
    capture_cuda_graph,
    chunk_graphs_for,
    chunk_shape,
    decide,
    static_bytes,
    train_steps,
)
from src.data import MiniBatchChunks, batches_per_chunk
from src.errors import UserError
from src.network.mlp import MLP
from src.train import train

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def params() -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.zeros(3))]


SGD = torch.optim.SGD(params(), lr=3.0)
MOMENTUM = torch.optim.SGD(params(), lr=0.5, momentum=0.9)
ADAM = torch.optim.Adam(params(), lr=0.01)
ADAM_CAPTURABLE = torch.optim.Adam(params(), lr=0.01, capturable=True)
ADAMW_CAPTURABLE = torch.optim.AdamW(params(), lr=0.01, capturable=True)


# --- the decision --------------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", [SGD, MOMENTUM, ADAM_CAPTURABLE, ADAMW_CAPTURABLE], ids=repr)
@pytest.mark.parametrize("precision", GRAPH_PRECISIONS)
@pytest.mark.parametrize("mode", ["auto", "on"])
def test_graphs_are_used_on_one_gpu_with_a_capturable_step(mode, precision, optimizer):
    use, reason = decide(mode, "cuda", precision, 1, optimizer, False, False)
    assert use and reason == f"{type(optimizer).__name__} at trainer.precision={precision} on one GPU"


@pytest.mark.parametrize(
    ("device", "precision", "world_size", "optimizer", "reason"),
    [
        ("cpu", "32-true", 1, SGD, "the network trains on the cpu: CUDA graphs need a CUDA GPU"),
        ("mps", "32-true", 1, SGD, "the network trains on the mps: CUDA graphs need a CUDA GPU"),
        ("cuda", "16-mixed", 1, SGD, "trainer.precision=16-mixed scales each loss with a gradient scaler"),
        ("cuda", "transformer-engine", 1, SGD, "trainer.precision=transformer-engine is not one of 32-true"),
        ("cuda", "32-true", 2, SGD, "data parallel over 2 processes averages every step's gradient"),
        (
            "cuda",
            "32-true",
            1,
            ADAM,
            "optimizer Adam was built with capturable=false: add +optimizer.capturable",
        ),
        (
            "cuda",
            "32-true",
            1,
            torch.optim.RMSprop(params()),
            "optimizer RMSprop was built with capturable=false",
        ),
        ("cuda", "32-true", 1, torch.optim.Adagrad(params()), "optimizer Adagrad's step() can't be captured"),
        (
            "cuda",
            "32-true",
            1,
            torch.optim.SGD(params(), lr=0.1, differentiable=True),
            "optimizer SGD with differentiable=true",
        ),
    ],
)
def test_every_impossible_case_trains_eagerly_and_says_why(device, precision, world_size, optimizer, reason):
    for mode in ("auto", "on"):
        use, why = decide(mode, device, precision, world_size, optimizer, False, False)
        assert not use and why.startswith(reason)


def test_ddp_even_with_one_process_and_anomaly_mode_train_eagerly():
    """DDP's gradient hooks were set up on another stream than the capture's; anomaly mode reads each
    backward's output on the host."""
    for mode in ("auto", "on"):
        use, why = decide(mode, "cuda", "32-true", 1, SGD, ddp=True, detect_anomaly=False)
        assert not use and why.startswith("trainer=ddp wraps the network in DistributedDataParallel")
        use, why = decide(mode, "cuda", "32-true", 1, SGD, ddp=False, detect_anomaly=True)
        assert not use and why.startswith("trainer.detect_anomaly=true reads every backward's output")


def test_off_is_always_eager():
    assert decide("off", "cuda", "32-true", 1, SGD, False, False) == (False, "model.cuda_graph=off")
    with pytest.raises(ValueError, match="cuda_graph 'yes' is unknown"):
        decide("yes", "cuda", "32-true", 1, SGD, False, False)


def test_the_choice_logs_one_line_on_a_gpu_and_none_on_the_cpu():
    lines: list[str] = []
    net = MLP([4, 3, 2])

    def choose(mode, device, precision="32-true", optimizer=SGD, world_size=1):
        return chunk_graphs_for(
            mode,
            net.loss,
            net.params,
            optimizer,
            lambda: None,
            device,
            precision,
            world_size,
            lines.append,
            False,
            False,
        )

    assert isinstance(choose("auto", "cuda"), ChunkGraphs)
    assert lines == [
        "cuda graph: each chunk of SGD steps is replayed as one CUDA graph (SGD at trainer.precision=32-true on one GPU)"
    ]
    assert choose("auto", "cuda", precision="16-mixed") is None
    assert len(lines) == 2 and lines[1].startswith(
        "cuda graph: not used, the SGD steps run eagerly: trainer.precision=16-mixed"
    )
    assert choose("auto", "cpu") is None and choose("off", "cuda") is None and len(lines) == 2
    with pytest.raises(
        UserError,
        match=r"^model.cuda_graph=on: data parallel over 4 processes .* choose model.cuda_graph=auto",
    ):
        choose("on", "cuda", world_size=4)
    with pytest.raises(
        UserError, match=r"^optimizer.capturable=true: torch runs a capturable Adam step only on a GPU"
    ):
        choose("auto", "cpu", optimizer=ADAM_CAPTURABLE)


def test_a_mode_from_the_command_line_and_the_device_type_torch_reports_are_compared_by_value(tmp_path):
    """``src.lit`` passes the configured mode and ``self.device.type``: strings made while the program
    runs, equal to the literals ``decide`` compares them with but not the same objects."""
    cuda = torch.device("cuda").type  # naming the device needs no GPU
    mode = {
        name: compose_config("train", tmp_path, f"model.cuda_graph={name}").model.cuda_graph for name in MODES
    }
    assert decide(mode["off"], cuda, "32-true", 1, SGD, False, False) == (False, "model.cuda_graph=off")
    assert decide(mode["on"], cuda, "32-true", 1, SGD, False, False).use_graph
    assert capturable_off_gpu(cuda, ADAM_CAPTURABLE) is None
    net = MLP([4, 3, 2])
    lines: list[str] = []

    def choose(mode, precision):
        return chunk_graphs_for(
            mode, net.loss, net.params, SGD, lambda: None, cuda, precision, 1, lines.append, False, False
        )

    assert choose(mode["auto"], "16-mixed") is None
    assert lines == [
        "cuda graph: not used, the SGD steps run eagerly: trainer.precision=16-mixed scales each loss with a "
        "gradient scaler, whose check for inf/NaN gradients and skipped steps need the host after every step"
    ]
    with pytest.raises(UserError, match=r"^model.cuda_graph=on: trainer.precision=16-mixed scales"):
        choose(mode["on"], "16-mixed")


def test_an_apple_gpu_refuses_a_capturable_step_and_auto_says_nothing_there():
    """torch captures optimizer steps on CUDA devices only; on ``mps`` (an Apple GPU) there is no CUDA
    graph to fall back from, so ``auto`` logs nothing, as on the CPU."""
    assert capturable_off_gpu("mps", ADAM_CAPTURABLE) == (
        "optimizer.capturable=true: torch runs a capturable Adam step only on a GPU, and this run trains on "
        "the mps; leave optimizer.capturable out"
    )
    assert capturable_off_gpu("mps", SGD) is None
    net = MLP([4, 3, 2])
    lines: list[str] = []
    graphs = chunk_graphs_for(
        "auto", net.loss, net.params, SGD, lambda: None, "mps", "32-true", 1, lines.append, False, False
    )
    assert graphs is None and lines == []


# --- the configuration, checked before anything is built ----------------------------------------------

TRAINER_CPU = {"accelerator": "cpu", "precision": "32-true"}
TRAINER_GPU = {"accelerator": "gpu", "precision": "32-true"}


def test_the_mode_is_one_of_three():
    assert parse(Model, {}, "model").cuda_graph == "auto"
    with pytest.raises(UserError, match=r"^model.cuda_graph=yes: choose one of auto, on, off$"):
        parse(Model, {"cuda_graph": "yes"}, "model")


@pytest.mark.parametrize(
    ("mode", "trainer", "optimizer", "message"),
    [
        ("on", TRAINER_CPU, SGD, "model.cuda_graph=on: the network trains on the cpu"),
        (
            "on",
            {"accelerator": "gpu", "precision": "16"},
            SGD,
            "model.cuda_graph=on: trainer.precision=16-mixed",
        ),
        ("on", TRAINER_GPU, ADAM, "model.cuda_graph=on: optimizer Adam was built with capturable=false"),
        (
            "auto",
            TRAINER_CPU,
            ADAM_CAPTURABLE,
            "optimizer.capturable=true: torch runs a capturable Adam step",
        ),
        ("off", TRAINER_CPU, ADAM_CAPTURABLE, "optimizer.capturable=true: torch runs a capturable Adam step"),
        (
            "on",
            {**TRAINER_GPU, "strategy": {"_target_": "lightning.pytorch.strategies.DDPStrategy"}},
            SGD,
            "model.cuda_graph=on: trainer=ddp wraps the network",
        ),
        ("on", {**TRAINER_GPU, "strategy": "ddp_spawn"}, SGD, "model.cuda_graph=on: trainer=ddp wraps"),
        (
            "on",
            {**TRAINER_GPU, "detect_anomaly": True},
            SGD,
            "model.cuda_graph=on: trainer.detect_anomaly=true",
        ),
    ],
)
def test_config_refuses_what_it_can_see_is_impossible(mode, trainer, optimizer, message):
    with pytest.raises(UserError, match=f"^{re.escape(message)}"):
        check_cuda_graph(mode, trainer, optimizer)


@pytest.mark.parametrize(
    ("mode", "trainer", "optimizer"),
    [
        ("auto", TRAINER_CPU, SGD),  # the default: eager on the CPU
        ("off", TRAINER_CPU, SGD),
        ("on", TRAINER_GPU, SGD),
        ("on", {"accelerator": "auto", "precision": "bf16-mixed"}, MOMENTUM),
        ("on", TRAINER_GPU, ADAM_CAPTURABLE),
        ("auto", TRAINER_GPU, torch.optim.RMSprop(params())),
        ("auto", {**TRAINER_GPU, "strategy": "ddp"}, SGD),  # auto falls back when the run starts
        ("on", {**TRAINER_GPU, "strategy": "auto", "detect_anomaly": False}, SGD),
    ],
)
def test_config_accepts_what_can_run(mode, trainer, optimizer):
    check_cuda_graph(mode, trainer, optimizer)


@pytest.mark.slow
def test_on_with_a_cpu_trainer_is_one_error_line(tmp_path):
    run = run_module(
        "src.train", "model.cuda_graph=on", f"hydra.run.dir={tmp_path / 'run'}", env={"HYDRA_FULL_ERROR": "0"}
    )
    assert run.returncode == 2
    assert run.stderr == (
        "error: model.cuda_graph=on: the network trains on the cpu: CUDA graphs need a CUDA GPU; choose "
        "model.cuda_graph=auto (trains eagerly here) or off\n"
    )
    assert not (tmp_path / "run").exists()  # a refused run leaves no run directory behind


# --- chunk shapes and static buffers -------------------------------------------------------------------


def epoch_chunk_sizes(sampler: MiniBatchChunks) -> list[int]:
    """The distinct chunk sizes of an epoch, as the data module cuts it: one graph is captured per size."""
    return sorted({len(indices) for indices in sampler}, reverse=True)


def test_chunks_split_into_full_and_short_ones():
    assert chunk_shape(1280, 10) == (128, 10)
    assert chunk_shape(1257, 10) == (126, 7)
    assert chunk_shape(7, 10) == (1, 7)
    assert chunk_shape(1, 10) == (1, 1)  # an epoch's last chunk may hold one image
    assert chunk_shape(1, 1) == (1, 1)
    assert chunk_shape(25, 1) == (25, 1)  # data.batch_size=1: one image per SGD step
    for samples, batch_size in [(0, 10), (10, 0), (-1, 10), (10, -1)]:
        with pytest.raises(ValueError, match=f"not {samples} and {batch_size}$"):
            chunk_shape(samples, batch_size)
    # the essay's MNIST run: 50,000 images, 128 mini-batches of 10 per chunk: 39 full chunks and one of 80
    assert epoch_chunk_sizes(MiniBatchChunks(50000, 10, 128)) == [1280, 80]
    assert chunk_shape(80, 10) == (8, 10)
    # 784-1024-1024-10 at batch 1000: 5 mini-batches per chunk (16 MiB of images), no short chunk
    assert epoch_chunk_sizes(MiniBatchChunks(50000, 1000, 5)) == [5000]
    # the digits' 1,257 training images at 64 mini-batches per chunk
    assert epoch_chunk_sizes(MiniBatchChunks(1257, 10, 64)) == [640, 617]
    assert chunk_shape(617, 10) == (62, 7)


def buffer_bytes(chunk: StaticChunk) -> int:
    """The bytes of the buffers ``chunk`` allocated."""
    return sum(tensor.nbytes for tensor in (chunk.x, chunk.expected, chunk.losses))


@pytest.mark.parametrize(
    ("sizes", "batch_size", "expected_bytes"),
    [
        ([784, 16, 16, 10], 10, 4_065_792),  # 128 mini-batches: x 4,014,080 + E 51,200 + losses 512
        ([784, 1024, 1024, 10], 1000, 15_880_020),  # 5 mini-batches: x 15,680,000 + E 200,000 + 20
    ],
)
def test_static_buffers_hold_one_chunk(sizes, batch_size, expected_bytes):
    x = torch.zeros(60000, sizes[0])
    batches = batches_per_chunk(128, batch_size, x)  # data.batches_per_step=128, capped at 16 MiB
    samples = batches * batch_size
    chunk = StaticChunk.like(x[:samples], torch.zeros(samples, sizes[-1]), batch_size, torch.float32)
    assert chunk.x.shape == (samples, sizes[0]) and chunk.expected.shape == (samples, sizes[-1])
    assert chunk.losses.shape == (batches,)
    assert buffer_bytes(chunk) == static_bytes(samples, batch_size, sizes[0], sizes[-1]) == expected_bytes


@pytest.mark.parametrize(
    ("in_features", "num_classes", "dtype"),
    [(784, 10, torch.float32), (64, 10, torch.float64), (13, 3, torch.float32), (100, 7, torch.bfloat16)],
)
def test_the_static_bytes_are_the_buffers_of_a_chunk_of_any_size(in_features, num_classes, dtype):
    """The estimate equals the buffers made, also for sizes whose bits overlap (13 and 3, 100 and 7)."""
    for samples, batch_size in [(1, 1), (617, 10), (1280, 10), (25, 1)]:
        chunk = StaticChunk.like(
            torch.zeros(samples, in_features, dtype=dtype),
            torch.zeros(samples, num_classes, dtype=dtype),
            batch_size,
            torch.float32,
        )
        assert buffer_bytes(chunk) == static_bytes(samples, batch_size, in_features, num_classes, dtype)


# --- capture and replay, with an eager stand-in for torch.cuda.graph ----------------------------------


class EagerCapture:
    """Stands in for :func:`src.cuda_graph.capture_cuda_graph` on the CPU: runs the body once for real
    (as the GPU warm-up does, training the chunk a first time) and replays it by running it again."""

    def __init__(self) -> None:
        self.captures = 0

    def __call__(self, body):
        self.captures += 1
        body()
        return body


def chunks(sizes: list[int], seed: int = 1) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    return [
        (
            torch.rand(n, 64, generator=generator),
            torch.eye(10)[torch.randint(0, 10, (n,), generator=generator)],
        )
        for n in sizes
    ]


OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=3.0),
    "momentum": lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9, dampening=0.1),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01),
}


def step_maker(net: MLP, optimizer: torch.optim.Optimizer):
    """``ChunkGraphs``' ``make_step``: a fresh SGD step of ``net`` by ``optimizer`` (backward, then step)."""

    def make_step():
        def step(loss):
            net.params.grad = None
            loss.backward()
            optimizer.step()
            return loss.detach()

        return step

    return make_step


def trained(optimizer_name, data, replayed, lrs=None, capture=None):
    """``P`` and the losses after training ``data`` chunk by chunk, eagerly or through ChunkGraphs."""
    torch.manual_seed(0)
    net = MLP([64, 16, 16, 10])
    optimizer = OPTIMIZERS[optimizer_name]([net.params])
    make_step = step_maker(net, optimizer)
    graphs = ChunkGraphs(net.loss, net.params, optimizer, make_step, capture=capture or EagerCapture())
    losses = []
    for index, (x, expected) in enumerate(data):
        if lrs is not None:
            optimizer.param_groups[0]["lr"] = lrs[index]
        if replayed:
            losses.append(graphs.run(x, expected, 10))
        else:
            losses.append(train_steps(net.loss, make_step(), x, expected, 10))
    return net.params.detach().clone(), torch.cat(losses), graphs


@pytest.mark.parametrize("optimizer_name", OPTIMIZERS)
def test_replayed_chunks_train_exactly_as_the_eager_loop(optimizer_name):
    """Full chunks, a short last one, full ones again: the capture's warm-up is undone (P and the
    optimizer's state restored), so each chunk trains once, bit for bit as eagerly."""
    data = chunks([200, 200, 157, 200, 17])
    capture = EagerCapture()
    eager, eager_losses, _ = trained(optimizer_name, data, replayed=False)
    replayed, replayed_losses, graphs = trained(optimizer_name, data, replayed=True, capture=capture)
    assert torch.equal(eager, replayed) and torch.equal(eager_losses, replayed_losses)
    assert capture.captures == 3  # the first chunk trains eagerly; then one capture per shape
    assert sorted(key[0] for key in graphs.graphs) == [17, 157, 200]
    assert sum(buffer_bytes(captured.static) for captured in graphs.graphs.values()) == sum(
        static_bytes(n, 10, 64, 10) for n in (17, 157, 200)
    )


def test_a_changed_learning_rate_is_captured_afresh():
    data = chunks([200, 200, 200, 200])
    lrs = [3.0, 3.0, 1.5, 1.5]
    capture = EagerCapture()
    eager, _, _ = trained("sgd", data, replayed=False, lrs=lrs)
    replayed, _, graphs = trained("sgd", data, replayed=True, lrs=lrs, capture=capture)
    assert torch.equal(eager, replayed)
    assert capture.captures == 2 and len(graphs.graphs) == 1  # lr 3.0, then lr 1.5 (the old graph dropped)


# --- CPU training unchanged ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["auto", "off"])
def test_cpu_training_is_the_textbook_loop_bit_for_bit(tmp_path, mode):
    """Two epochs of ``src.train`` on the CPU end with the weights of a plain loop over the same chunks:
    ``P <- P - r * grad C`` after each mini-batch."""
    train(compose_config("train", tmp_path, "trainer.max_epochs=2", "test=false", f"model.cuda_graph={mode}"))
    weights = load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")["state_dict"]["net.params"]

    from src.data import DigitsDataModule

    L.seed_everything(12345, verbose=False)
    data = DigitsDataModule(batch_size=10, batches_per_step=128, seed=12345)
    net = MLP([64, 16, 16, 10], init="scaled_normal")
    x, y = data.load()["train"]
    expected = torch.eye(10)[y]
    sampler = MiniBatchChunks(len(y), 10, batches_per_chunk(128, 10, x), seed=12345)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        for indices in sampler:
            for batch in indices.split(10):
                net.params.grad = None
                net.loss(x[batch], expected[batch]).backward()
                net.params.detach().add_(net.params.grad, alpha=-3.0)
    assert torch.equal(weights, net.params.detach())


@pytest.mark.slow
def test_training_step_through_chunk_graphs_trains_as_eagerly(tmp_path, monkeypatch):
    """The hook in ``training_step``, on the CPU with the eager stand-in for the capture: two epochs of
    full and short chunks give the eager run's weights and ``train/loss``, bit for bit."""
    quick = ["trainer.max_epochs=2", "data.batches_per_step=64", "test=false"]
    eager = train(compose_config("train", tmp_path / "eager", *quick))

    def with_stand_in(mode, loss_of, params, optimizer, make_step, *context, **options):
        return ChunkGraphs(loss_of, params, optimizer, make_step, capture=EagerCapture())

    monkeypatch.setattr("src.lit.chunk_graphs_for", with_stand_in)
    replayed = train(compose_config("train", tmp_path / "replayed", *quick))
    weights = [
        load_checkpoint(tmp_path / run / "checkpoints" / "last.ckpt")["state_dict"]["net.params"]
        for run in ("eager", "replayed")
    ]
    assert torch.equal(weights[0], weights[1])
    assert replayed["train/loss"] == eager["train/loss"] and replayed["val/acc"] == eager["val/acc"]


# --- on a GPU --------------------------------------------------------------------------------------------


def logged(capfd, caplog) -> str:
    """What Lightning's ``rank_zero_info`` printed since the last call: to stderr, or to pytest's log
    capture where the root logger has handlers (then Lightning's logger propagates to it)."""
    out, err = capfd.readouterr()
    text = out + err + caplog.text
    caplog.clear()
    return text


def run_weights(run_dir) -> torch.Tensor:
    return load_checkpoint(run_dir / "checkpoints" / "last.ckpt")["state_dict"]["net.params"]


GPU_QUICK = ["trainer=gpu", "trainer.max_epochs=2", "data.batches_per_step=64", "test=false"]


@pytest.mark.gpu
@pytest.mark.slow
@needs_cuda
def test_gpu_plain_sgd_graph_equals_eager_bit_for_bit(tmp_path, capfd, caplog):
    """Two epochs on the digits, 64 mini-batches per chunk (a full chunk and a short one per epoch)."""
    caplog.set_level(logging.INFO)
    train(compose_config("train", tmp_path / "graph", *GPU_QUICK, "model.cuda_graph=on"))
    assert "cuda graph: each chunk of SGD steps is replayed as one CUDA graph" in logged(capfd, caplog)
    train(compose_config("train", tmp_path / "eager", *GPU_QUICK, "model.cuda_graph=off"))
    graph, eager = run_weights(tmp_path / "graph"), run_weights(tmp_path / "eager")
    assert torch.equal(graph, eager), f"max |diff| {(graph - eager).abs().max().item()}"


@pytest.mark.gpu
@pytest.mark.slow
@needs_cuda
@pytest.mark.parametrize(
    "overrides",
    [
        ["optimizer=momentum"],
        ["optimizer=adam", "+optimizer.capturable=true"],
        ["trainer.precision=bf16-mixed"],
    ],
    ids=" ".join,
)
def test_gpu_graph_is_close_to_eager(tmp_path, overrides):
    train(compose_config("train", tmp_path / "graph", *GPU_QUICK, *overrides, "model.cuda_graph=on"))
    train(compose_config("train", tmp_path / "eager", *GPU_QUICK, *overrides, "model.cuda_graph=off"))
    graph, eager = run_weights(tmp_path / "graph"), run_weights(tmp_path / "eager")
    print(f"{' '.join(overrides)}: max |graph - eager| = {(graph - eager).abs().max().item():.3g}")
    torch.testing.assert_close(graph, eager, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("optimizer_name", OPTIMIZERS)
def test_gpu_capture_replays_exactly_the_eager_steps(optimizer_name):
    """The real ``torch.cuda.graph`` capture, without Lightning: weights, losses and the last gradient."""
    data = [(x.cuda(), e.cuda()) for x, e in chunks([1280, 1280, 1257, 1280, 77])]

    def on_gpu(replayed):
        torch.manual_seed(0)
        net = MLP([64, 16, 16, 10]).cuda()
        if optimizer_name == "adam":
            optimizer = torch.optim.Adam([net.params], lr=0.01, capturable=True)
        else:
            optimizer = OPTIMIZERS[optimizer_name]([net.params])
        make_step = step_maker(net, optimizer)
        graphs = ChunkGraphs(net.loss, net.params, optimizer, make_step)
        losses = [
            graphs.run(x, e, 10) if replayed else train_steps(net.loss, make_step(), x, e, 10)
            for x, e in data
        ]
        torch.cuda.synchronize()
        return net.params.detach().clone(), torch.cat(losses), net.params.grad.clone(), graphs

    eager, eager_losses, eager_grad, _ = on_gpu(False)
    replayed, replayed_losses, replayed_grad, graphs = on_gpu(True)
    assert len(graphs.graphs) == 3
    assert torch.equal(eager, replayed), f"max |diff| {(eager - replayed).abs().max().item()}"
    assert torch.equal(eager_losses, replayed_losses) and torch.equal(eager_grad, replayed_grad)


@pytest.mark.gpu
@pytest.mark.slow
@needs_cuda
def test_gpu_fallbacks_say_why_in_one_line(tmp_path, capfd, caplog):
    caplog.set_level(logging.INFO)
    train(compose_config("train", tmp_path / "fp16", *GPU_QUICK, "trainer.precision=16-mixed"))
    assert "cuda graph: not used, the SGD steps run eagerly: trainer.precision=16-mixed" in logged(
        capfd, caplog
    )
    train(compose_config("train", tmp_path / "adam", *GPU_QUICK, "optimizer=adam"))
    assert "cuda graph: not used, the SGD steps run eagerly: optimizer Adam was built with" in logged(
        capfd, caplog
    )
    with pytest.raises(UserError, match=re.escape("model.cuda_graph=on: trainer.precision=16-mixed")):
        train(
            compose_config(
                "train", tmp_path / "on", *GPU_QUICK, "trainer.precision=16-mixed", "model.cuda_graph=on"
            )
        )


@pytest.mark.gpu
@pytest.mark.slow
@needs_cuda
def test_gpu_resume_with_graphs_continues_exactly(tmp_path):
    """2 epochs, then resume to 4, equals 4 straight, with graphs; and equals the eager run's weights."""
    gpu = ["trainer=gpu", "model.cuda_graph=on"]
    straight = train(compose_config("train", tmp_path / "straight", *gpu, "trainer.max_epochs=4"))
    train(compose_config("train", tmp_path / "resumed", *gpu, "trainer.max_epochs=2", "test=false"))
    last = tmp_path / "resumed" / "checkpoints" / "last.ckpt"
    resumed = train(
        compose_config("train", tmp_path / "resumed", *gpu, "trainer.max_epochs=4", f"ckpt_path={last}")
    )
    eager = train(
        compose_config(
            "train", tmp_path / "eager", "trainer=gpu", "model.cuda_graph=off", "trainer.max_epochs=4"
        )
    )
    assert torch.equal(run_weights(tmp_path / "straight"), run_weights(tmp_path / "resumed"))
    assert torch.equal(run_weights(tmp_path / "straight"), run_weights(tmp_path / "eager"))
    for name in ("test/acc", "test/loss", "val/acc_best", "train/loss"):
        assert resumed[name] == straight[name] == eager[name], name


@pytest.mark.gpu
@needs_cuda
def test_gpu_graph_memory_is_the_static_buffers_and_a_pool():
    memory = graph_memory([784, 16, 16, 10], 10, 128)
    print(f"784-16-16-10 batch 10 x 128: {memory}")
    assert memory["static"] == 4_065_792
    assert 0 < memory["pool allocated"] <= memory["pool reserved"]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, needs_cuda])])
def test_benchmark_graph_epoch_equals_the_plain_loop(device):
    """``plain-manual-graph``'s epoch (benchmarks/cuda_graphs.py) against the plain loop over the same
    chunks: the same weights after three epochs (on the CPU with the eager stand-in for the capture)."""
    x = torch.rand(1000, 64, device=device)
    y = torch.randint(0, 10, (1000,), device=device)
    expected = torch.eye(10, device=device)[y]
    capture = EagerCapture() if device == "cpu" else capture_cuda_graph

    def weights(replayed: bool) -> torch.Tensor:
        torch.manual_seed(0)  # the initial weights and each epoch's permutation
        net = MLP([64, 16, 16, 10]).to(device)

        def plain_epoch() -> None:
            for indices in torch.randperm(1000, device=device).split(160):
                for xs, es in zip(x[indices].split(10), expected[indices].split(10), strict=True):
                    net.params.grad = None
                    net.loss(xs, es).backward()
                    net.params.detach().add_(net.params.grad, alpha=-3.0)

        epoch = (
            graph_epoch(net.params, net.loss, x, y, 10, 16, 3.0, capture=capture) if replayed else plain_epoch
        )
        for _ in range(3):
            epoch()
        return net.params.detach().clone()

    assert torch.equal(weights(True), weights(False))
