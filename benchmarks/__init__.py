"""Training throughput of the essay's network, pipeline by pipeline, in one process (``python -m benchmarks``).

- :mod:`benchmarks.workload`: the settings, budgets and the data and initial weights every pipeline shares;
- :mod:`benchmarks.pipelines`: the pipelines (the book's numpy code, a Lightning tutorial's model, plain
  loops with autograd or our Function, ``src.train`` itself) and the round-robin measurement;
- :mod:`benchmarks.lightning_classes`: the clocks given to ``src.train`` as callbacks, the tutorial model;
- :mod:`benchmarks.report`: the tables and the targets;
- :mod:`benchmarks.cli`: the command line;
- :mod:`benchmarks.book_check`: the numpy peer against a copy of the book's own code;
- :mod:`benchmarks.cuda_graphs`: the plain loop replayed as CUDA graphs, and a graph's GPU memory.

``benchmarks/README.md`` holds the method and the measured tables. The benchmark is not part of the
installed package: run it from the repository root.
"""
