"""Measurements of :mod:`src.cuda_graph` on a GPU: the plain loop replayed as CUDA graphs (the
benchmark's ``plain-manual-graph`` pipeline) and what a graph costs in GPU memory.

``python -m benchmarks.cuda_graphs`` prints that memory for the essay's network and a wide one
(``tests/run_gpu_checks.sh`` runs it; the README's CUDA graph section holds the numbers).
"""

from collections.abc import Callable

import torch
from torch import Tensor

from src.config import Data
from src.cuda_graph import Capture, ChunkGraphs, Step, capture_cuda_graph, static_bytes
from src.data import batches_per_chunk
from src.network.mlp import MLP

NETWORKS = (([784, 16, 16, 10], 10), ([784, 1024, 1024, 10], 1000))
"""(layer sizes, mini-batch) of the networks whose graph memory the README states."""


def graph_epoch(
    params: Tensor,
    loss_of: Callable[[Tensor, Tensor], Tensor],
    x: Tensor,
    y: Tensor,
    batch_size: int,
    batches: int,
    lr: float,
    num_classes: int = 10,
    capture: Capture = capture_cuda_graph,
) -> Callable[[], None]:
    """The benchmark's ``plain-manual-graph`` loop: an epoch over a fresh ``randperm`` (on the data's
    device), ``batches`` mini-batches gathered per chunk, each chunk's plain SGD steps
    ``P <- P - lr * grad C`` (in place) replayed as one CUDA graph (recorded by ``capture``)."""
    weights = params.detach()

    def make_step() -> Step:
        def step(loss: Tensor) -> Tensor:
            params.grad = None
            loss.backward()
            weights.add_(params.grad, alpha=-lr)
            return loss.detach()

        return step

    graphs = ChunkGraphs(loss_of, params, torch.optim.SGD([params], lr=lr), make_step, capture)
    expected = torch.eye(num_classes, dtype=x.dtype, device=x.device)[y]

    def epoch() -> None:
        for indices in torch.randperm(len(y), device=x.device).split(batch_size * batches):
            graphs.run(x[indices], expected[indices], batch_size)

    return epoch


def private_pool_bytes() -> tuple[int, int]:
    """``(reserved, allocated)`` bytes of the GPU memory held in private pools (CUDA graphs' pools: the
    caching allocator's segments whose pool id is not the default ``(0, 0)``)."""
    private = [
        segment
        for segment in torch.cuda.memory_snapshot()
        if tuple(segment.get("segment_pool_id", (0, 0))) != (0, 0)
    ]
    return sum(segment["total_size"] for segment in private), sum(
        segment["allocated_size"] for segment in private
    )


def graph_memory(sizes: list[int], batch_size: int, batches: int) -> dict[str, int]:
    """What capturing one chunk of ``batches`` mini-batches of the MLP ``sizes`` costs on the GPU:
    ``static``, its static buffers (exact, in the caching allocator's default pool), and the graph's
    private memory pool, as the caching allocator reports it (``pool reserved``: the pool's segments;
    ``pool allocated``: what the graph keeps allocated in them, e.g. ``P.grad``). Growths of
    ``memory_reserved()`` would mix in cuBLAS's per-stream workspace and the rounding of segments."""
    torch.manual_seed(0)
    net = MLP(sizes, init="scaled_normal").cuda()
    samples = batch_size * batches
    x = torch.rand(samples, sizes[0], device="cuda")
    y = torch.randint(0, sizes[-1], (samples,), device="cuda")
    epoch = graph_epoch(net.params, net.loss, x, y, batch_size, batches, lr=0.1, num_classes=sizes[-1])
    epoch()  # the first chunk trains eagerly
    torch.cuda.synchronize()
    reserved, allocated = private_pool_bytes()
    epoch()  # captures, then replays
    torch.cuda.synchronize()
    pool_reserved, pool_allocated = private_pool_bytes()
    return {
        "static": static_bytes(samples, batch_size, sizes[0], sizes[-1]),
        "pool reserved": pool_reserved - reserved,
        "pool allocated": pool_allocated - allocated,
    }


def main() -> None:
    for sizes, batch_size in NETWORKS:
        batches = batches_per_chunk(Data.batches_per_step, batch_size, torch.zeros(1, sizes[0]))
        memory = graph_memory(sizes, batch_size, batches)
        print(
            "cuda graph memory",
            "-".join(map(str, sizes)),
            f"batch {batch_size} x {batches}:",
            ", ".join(f"{name} {value / 2**20:.2f} MiB" for name, value in memory.items()),
        )


if __name__ == "__main__":
    main()
