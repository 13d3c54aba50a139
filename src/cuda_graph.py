"""Replays the SGD steps of a chunk of mini-batches as one CUDA graph.

On a GPU one SGD step of the essay's network is about 25 small kernels, and launching them one by one
from Python costs more than their arithmetic: at mini-batch 10 an H200 trained the network 4x slower
than its own CPU (issue 13). ``torch.cuda.graph`` records the kernels of the chunk's ``K`` steps once
(per step: the cost ``C`` forward, ``grad C`` by the hand-written
:class:`~src.network.backprop.Backpropagation`, the update ``P <- P - r * grad C``) and replays them with
one launch per chunk. The replay runs exactly the recorded kernels on the recorded memory, so the chunk
is copied into static buffers first; the kernels are the eager loop's, so for plain SGD in float32 the
weights are meant to equal its weights bit for bit (``tests/test_cuda_graph.py`` checks it on a GPU).

:func:`decide` says whether a run can use it (pure Python, also checked before training by
:func:`src.checks.check_cuda_graph`); :class:`ChunkGraphs` captures and replays; :func:`chunk_graphs_for` is what the
LightningModule calls once per fit.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor

from src.errors import UserError
from src.precisions import PRECISIONS

MODES = ("auto", "on", "off")
"""``model.cuda_graph``: ``auto`` replays CUDA graphs wherever :func:`decide` allows and trains eagerly
elsewhere (saying why in one log line on a GPU); ``on`` insists (an impossible case is an error);
``off`` always trains eagerly."""

UNCAPTURED_PRECISIONS = {
    "16-mixed": "scales each loss with a gradient scaler, whose check for inf/NaN gradients and skipped steps "
    "need the host after every step"
}
"""The precisions of :data:`PRECISIONS` whose SGD step can't be captured, and why."""

GRAPH_PRECISIONS = tuple(precision for precision in PRECISIONS if precision not in UNCAPTURED_PRECISIONS)
"""Lightning precisions whose SGD step is the same kernels every step. ``bf16-mixed`` qualifies: it needs
no gradient scaler and the Function casts explicitly (autocast's cast cache, which capture forbids, is
switched off while capturing)."""

Step = Callable[[Tensor], Tensor]
"""An SGD step from a mini-batch's cost: ``P.grad = None``, ``backward()``, the update; returns the cost,
detached (as :meth:`src.lit.MLPClassifier._sgd_step` makes it)."""


class Decision(NamedTuple):
    use_graph: bool
    reason: str


def optimizer_refusal(optimizer: torch.optim.Optimizer) -> str | None:
    """Why ``optimizer.step()`` can't be captured, or ``None`` if it can.

    torch's SGD (with or without momentum, weight decay, Nesterov) updates its state in place with the
    learning rate as a number, so its step records as it runs. Other optimizers can be captured where
    torch built them with ``capturable=True`` (their step counter then lives on the GPU); Adam and AdamW
    default to ``capturable=False``.
    """
    name = type(optimizer).__name__
    groups = optimizer.param_groups
    if type(optimizer) is torch.optim.SGD:
        if any(group.get("differentiable") for group in groups):
            return f"optimizer {name} with differentiable=true keeps an autograd graph across steps"
        return None
    if all(group.get("capturable") for group in groups):
        return None
    if all("capturable" in group for group in groups):
        return (
            f"optimizer {name} was built with capturable=false: add +optimizer.capturable=true to capture "
            "its step() as well"
        )
    return f"optimizer {name}'s step() can't be captured (torch offers no capturable=true for it)"


def decide(
    mode: str,
    device_type: str,
    precision: str,
    world_size: int,
    optimizer: torch.optim.Optimizer,
    ddp: bool,
    detect_anomaly: bool,
) -> Decision:
    """Whether training replays CUDA graphs, and why (or why not). ``ddp``: the network is wrapped in
    ``DistributedDataParallel`` (``trainer=ddp``, even with one process); ``detect_anomaly``: autograd's
    anomaly mode is on."""
    if mode not in MODES:
        raise ValueError(f"cuda_graph {mode!r} is unknown: choose one of {', '.join(MODES)}")
    if mode == "off":
        return Decision(False, "model.cuda_graph=off")
    if device_type != "cuda":
        return Decision(False, f"the network trains on the {device_type}: CUDA graphs need a CUDA GPU")
    if precision in UNCAPTURED_PRECISIONS:
        return Decision(False, f"trainer.precision={precision} {UNCAPTURED_PRECISIONS[precision]}")
    if precision not in GRAPH_PRECISIONS:
        return Decision(False, f"trainer.precision={precision} is not one of {', '.join(GRAPH_PRECISIONS)}")
    if world_size > 1:
        return Decision(
            False,
            f"data parallel over {world_size} processes averages every step's gradient across them "
            "(a collective call), which is not captured",
        )
    if ddp:
        return Decision(
            False,
            "trainer=ddp wraps the network in DistributedDataParallel, whose gradient hooks were set up on "
            "another stream than the capture's (trainer=gpu replays graphs on one GPU)",
        )
    if detect_anomaly:
        return Decision(
            False,
            "trainer.detect_anomaly=true reads every backward's output on the host, which capture forbids",
        )
    refusal = optimizer_refusal(optimizer)
    if refusal is not None:
        return Decision(False, refusal)
    return Decision(True, f"{type(optimizer).__name__} at trainer.precision={precision} on one GPU")


def capturable_off_gpu(device_type: str, optimizer: torch.optim.Optimizer) -> str | None:
    """torch refuses ``capturable=True`` steps off the GPU; the message saying so, or ``None``."""
    if device_type != "cuda" and any(group.get("capturable") for group in optimizer.param_groups):
        return (
            f"optimizer.capturable=true: torch runs a capturable {type(optimizer).__name__} step only on a "
            f"GPU, and this run trains on the {device_type}; leave optimizer.capturable out"
        )
    return None


def refused_on(reason: str) -> str:
    return f"model.cuda_graph=on: {reason}; choose model.cuda_graph=auto (trains eagerly here) or off"


def chunk_shape(samples: int, batch_size: int) -> tuple[int, int]:
    """``(mini-batches, samples in the last one)`` of a chunk of ``samples``: a chunk holds ``K`` full
    mini-batches, except the last of an epoch, which may hold fewer and end with a smaller one."""
    if samples < 1 or batch_size < 1:
        raise ValueError(f"a chunk needs samples >= 1 and batch_size >= 1, not {samples} and {batch_size}")
    batches = -(-samples // batch_size)
    return batches, samples - (batches - 1) * batch_size


@dataclass
class StaticChunk:
    """The memory a captured chunk reads and writes: images ``x`` (one per row), expected outputs ``E``
    and the cost of each of its ``K`` mini-batches. A chunk is copied in before each replay."""

    x: Tensor
    expected: Tensor
    losses: Tensor

    @classmethod
    def like(cls, x: Tensor, expected: Tensor, batch_size: int, loss_dtype: torch.dtype) -> "StaticChunk":
        batches, _ = chunk_shape(len(x), batch_size)
        return cls(
            torch.empty_like(x, memory_format=torch.contiguous_format),
            torch.empty_like(expected, memory_format=torch.contiguous_format),
            torch.empty(batches, dtype=loss_dtype, device=x.device),
        )


def static_bytes(
    samples: int, batch_size: int, in_features: int, num_classes: int, dtype: torch.dtype = torch.float32
) -> int:
    """The bytes of a :class:`StaticChunk` of ``samples`` images in ``dtype`` (float32 costs); the graph's
    private memory pool (each step's activations and gradient) comes on top."""
    batches, _ = chunk_shape(samples, batch_size)
    return samples * (in_features + num_classes) * dtype.itemsize + batches * torch.float32.itemsize


def train_steps(
    loss_of: Callable[[Tensor, Tensor], Tensor], step: Step, x: Tensor, expected: Tensor, batch_size: int
) -> Tensor:
    """One SGD step per mini-batch of the chunk, as ``training_step`` takes them; their costs, stacked."""
    minibatches = zip(x.split(batch_size), expected.split(batch_size), strict=True)
    return torch.stack([step(loss_of(xs, es)) for xs, es in minibatches])


Capture = Callable[[Callable[[], None]], Callable[[], None]]
"""Records ``body`` (running it as often as it needs to) and returns what replays it."""


CAPTURE_STREAMS: dict[int, torch.cuda.Stream] = {}
"""One side stream per GPU for every warm-up and capture: torch keeps a cuBLAS workspace (32 MiB on an
H100) for each stream that ever multiplied matrices, for the life of the process, so a new stream per
capture would leak one per capture."""


def capture_cuda_graph(body: Callable[[], None]) -> Callable[[], None]:
    """``body`` captured as a CUDA graph, after one warm-up run on the same side stream (torch's recipe:
    the first run initialises cuBLAS, its workspace for the stream included, and autograd's device
    threads, which capture must not do); the graph's ``replay``. Under autocast the cast cache is switched
    off while capturing, as torch requires."""
    device = torch.cuda.current_device()
    autocast = torch.is_autocast_enabled("cuda")
    dtype = torch.get_autocast_dtype("cuda")

    def recorded() -> None:
        with torch.autocast("cuda", dtype=dtype, enabled=autocast, cache_enabled=False):
            body()

    side = CAPTURE_STREAMS.get(device)
    if side is None:
        side = CAPTURE_STREAMS[device] = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        recorded()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=side):
        recorded()
    return graph.replay


@dataclass
class CapturedChunk:
    static: StaticChunk
    grad: Tensor | None  # P.grad as the graph leaves it: the last mini-batch's gradient
    replay: Callable[[], None]


class ChunkGraphs:
    """Trains chunks of mini-batches by replaying one captured graph per chunk shape.

    ``loss_of(x, E)`` is the network's cost (``MLP.loss``), ``params`` its parameter vector ``P``,
    ``make_step()`` the SGD step of the run as it is configured now (called again at each capture, so a
    changed learning rate is recorded). The first chunk a ``ChunkGraphs`` sees is trained eagerly: torch
    creates the optimizer's state at its first step (momentum SGD's buffer starts as a copy of the first
    gradient), outside any graph. After that, each new chunk shape (``K`` full mini-batches; the shorter
    last chunk of an epoch) is captured once and cached. A graph records the learning rates and the
    memory of ``P`` and of the optimizer's state: when any of them changes (a scheduler, a moved
    network, a loaded optimizer state) the cache is emptied and the next chunks are captured afresh.

    Capturing runs the body for real (the warm-up on a side stream); ``P`` and the optimizer's state are
    saved before and copied back after, so a captured chunk trains exactly once.
    """

    def __init__(
        self,
        loss_of: Callable[[Tensor, Tensor], Tensor],
        params: Tensor,
        optimizer: torch.optim.Optimizer,
        make_step: Callable[[], Step],
        capture: Capture = capture_cuda_graph,
    ) -> None:
        self.loss_of = loss_of
        self.params = params
        self.optimizer = optimizer
        self.make_step = make_step
        self.capture = capture
        self.graphs: dict[tuple[Any, ...], CapturedChunk] = {}
        self._bound: tuple[Any, ...] | None = None
        self._loss_dtype: torch.dtype | None = None  # known from the first, eager chunk

    def run(self, x: Tensor, expected: Tensor, batch_size: int) -> Tensor:
        """Train one chunk (images ``x``, expected outputs ``E``, mini-batches of ``batch_size``); the cost
        of each of its mini-batches."""
        if self._loss_dtype is None:
            losses = train_steps(self.loss_of, self.make_step(), x, expected, batch_size)
            self._loss_dtype = losses.dtype
            return losses
        binding = self._binding()
        if binding != self._bound:
            self.graphs.clear()
            self._bound = binding
        key = (len(x), batch_size, x.dtype, expected.dtype, x.shape[1:], expected.shape[1:])
        captured = self.graphs.get(key)
        if captured is None:
            captured = self.graphs[key] = self._capture(x, expected, batch_size)
        captured.static.x.copy_(x)
        captured.static.expected.copy_(expected)
        captured.replay()
        self.params.grad = captured.grad
        return captured.static.losses.clone()  # the next replay overwrites the static losses

    def _state_tensors(self) -> list[Tensor]:
        return [
            value
            for state in self.optimizer.state.values()
            for value in state.values()
            if isinstance(value, Tensor)
        ]

    def _binding(self) -> tuple[Any, ...]:
        """What a graph has recorded besides the static chunk: every group's numeric settings (the
        learning rate...), where ``P`` and the optimizer's state live, and the autocast setting."""
        settings = tuple(
            tuple(
                (name, value)
                for name, value in sorted(group.items())
                if isinstance(value, int | float | bool | str | tuple | None)
            )
            for group in self.optimizer.param_groups
        )
        memory = (self.params.data_ptr(), tuple(tensor.data_ptr() for tensor in self._state_tensors()))
        device = self.params.device.type
        autocast = (torch.is_autocast_enabled(device), torch.get_autocast_dtype(device))
        return settings, memory, autocast

    def _capture(self, x: Tensor, expected: Tensor, batch_size: int) -> CapturedChunk:
        static = StaticChunk.like(x, expected, batch_size, self._loss_dtype)
        static.x.copy_(x)
        static.expected.copy_(expected)
        step = self.make_step()

        def body() -> None:
            losses = train_steps(self.loss_of, step, static.x, static.expected, batch_size)
            static.losses.copy_(losses)

        saved = [tensor.clone() for tensor in (self.params.detach(), *self._state_tensors())]
        replay = self.capture(body)
        with torch.no_grad():
            for tensor, value in zip((self.params.detach(), *self._state_tensors()), saved, strict=True):
                tensor.copy_(value)
        return CapturedChunk(static, self.params.grad, replay)


def chunk_graphs_for(
    mode: str,
    loss_of: Callable[[Tensor, Tensor], Tensor],
    params: Tensor,
    optimizer: torch.optim.Optimizer,
    make_step: Callable[[], Step],
    device_type: str,
    precision: str,
    world_size: int,
    log: Callable[[str], None],
    ddp: bool,
    detect_anomaly: bool,
) -> ChunkGraphs | None:
    """The :class:`ChunkGraphs` a fit trains with, or ``None`` for the eager loop; called once per fit.

    Logs one line on a GPU: that graphs are replayed, or why not. ``mode="on"`` where :func:`decide`
    refuses raises :class:`~src.errors.UserError`. On the CPU with ``auto`` nothing is logged: there is
    no graph to fall back from.
    """
    refusal = capturable_off_gpu(device_type, optimizer)
    if refusal is not None:
        raise UserError(refusal)
    decision = decide(mode, device_type, precision, world_size, optimizer, ddp, detect_anomaly)
    if decision.use_graph:
        log(f"cuda graph: each chunk of SGD steps is replayed as one CUDA graph ({decision.reason})")
        return ChunkGraphs(loss_of, params, optimizer, make_step)
    if mode == "on":
        raise UserError(refused_on(decision.reason))
    if mode == "auto" and device_type == "cuda":
        log(f"cuda graph: not used, the SGD steps run eagerly: {decision.reason}")
    return None
