"""The ``plain-manual-graph`` pipeline (``--device cuda`` only): the plain loop with our hand-written
``Backpropagation`` and the in-place update ``P <- P - r * grad C``, chunks gathered as in
``plain-manual-fastest``, each chunk's SGD steps replayed as one CUDA graph
(:func:`src.cuda_graph.graph_epoch`). ``src.train trainer=gpu`` replays the same graphs, so this loop is
what issue 13 measures it against (target: ``src.train`` at least 0.8x of it).

Registered by :mod:`benchmarks.pipelines`' ``PIPELINES`` and :data:`benchmarks.workload.PIPELINE_NAMES`
as ``"plain-manual-graph": plain_manual_graph``, run only where the workload's device is CUDA.
"""

from benchmarks.pipelines import CHUNK, _mlp, timed_epochs
from benchmarks.workload import NUM_CLASSES, Budget, Workload
from src.cuda_graph import graph_epoch
from src.data import batches_per_chunk


def plain_manual_graph(work: Workload, budget: Budget) -> float:
    """Samples/s of our Function's plain SGD loop replayed chunk by chunk as CUDA graphs."""
    model = _mlp(work, "manual")
    batches = batches_per_chunk(CHUNK, work.batch_size, work.x)
    epoch = graph_epoch(
        model.params, model.loss, work.x, work.y, work.batch_size, batches, work.setting.lr, NUM_CLASSES
    )
    return timed_epochs(epoch, work.samples, budget, work.device)
