"""``python -m src.demo``: a local web page where a learner draws a digit and watches this project's
network answer (the forward pass), learn (backpropagation, the chain rule for one weight) and change
(one SGD step). :mod:`src.demo.views` computes every number with :mod:`src.network`;
:mod:`src.demo.server` serves the page in ``page/`` and a small JSON API; :mod:`src.demo.__main__` is
the Hydra entry point."""
