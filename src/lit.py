"""The LightningModule: trains the :class:`~src.network.mlp.MLP` by stochastic gradient descent.

Each mini-batch is one SGD step ``P <- P - r * grad C`` (essay, section 4). Lightning hands
``training_step`` a chunk of mini-batches (see :mod:`src.data`) and the step loops over them with manual
optimization, so the update rule is exactly the textbook one while Lightning's per-step overhead is
paid once per chunk.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from src.config import DEFAULT_OPTIMIZER, Activation, Cost, Model, build_optimizer
from src.cuda_graph import ChunkGraphs, chunk_graphs_for
from src.data import Chunk
from src.errors import DivergenceError
from src.lightning_compat import count_optimizer_steps
from src.network.mlp import MLP
from src.torch_compat import backward


def plain_sgd_lr(optimizer: torch.optim.Optimizer) -> float | None:
    """The learning rate when ``optimizer`` is torch's SGD doing exactly ``P <- P - lr * grad C`` (no
    momentum, weight decay, Nesterov or maximize), else ``None``."""
    if type(optimizer) is not torch.optim.SGD or len(optimizer.param_groups) != 1:
        return None
    group = optimizer.param_groups[0]
    if group["momentum"] or group["weight_decay"] or group["nesterov"] or group["maximize"]:
        return None
    return float(group["lr"])


class MLPClassifier(L.LightningModule):
    """Classifies ``in_features`` inputs into ``num_classes`` with hidden layers of sizes ``hidden``.

    ``activation`` is a plain dict ``{"name": ..., "negative_slope": ...}``; ``optimizer`` a plain dict
    with ``_target_`` (a class of :data:`src.config.OPTIMIZERS`) and its keyword arguments. Defaults are
    those of :mod:`src.config`. ``data`` records the data configuration the network was trained on, so a checkpoint alone can
    rebuild both (``python -m src.evaluate``). ``cuda_graph`` (auto, on or off: whether a GPU replays each
    chunk's SGD steps as one CUDA graph, :mod:`src.cuda_graph`) is how this run trains, not part of the
    network: checkpoints don't record it.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden: list[int],
        activation: dict[str, Any] | None = None,
        cost: str = Cost.name,
        backprop: str = Model.backprop,
        init: str = Model.init,
        optimizer: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        cuda_graph: str = Model.cuda_graph,
    ) -> None:
        super().__init__()
        activation = activation or dataclasses.asdict(Activation())
        optimizer = optimizer or dict(DEFAULT_OPTIMIZER)
        self.save_hyperparameters(ignore=["cuda_graph"])
        self.cuda_graph = cuda_graph
        self.chunk_graphs: ChunkGraphs | None = None  # chosen once per fit, in on_train_start
        self.automatic_optimization = False
        sizes = [in_features, *hidden, num_classes]
        self.net = MLP(sizes, activation["name"], activation["negative_slope"], cost, backprop, init)
        self.register_buffer("identity", torch.eye(num_classes), persistent=False)
        # The default NaN check (one per chunk) stays on: torchmetrics 1.9 drops the weights of update()
        # under nan_strategy="disable" (its issue #3434), which would leave the last, smaller mini-batch
        # unweighted; training_step has stopped on a non-finite loss before it gets here.
        self.train_loss = MeanMetric()
        self.train_loss.persistent(True)  # a run resumed mid-epoch reports the whole epoch's loss
        self.val_loss, self.test_loss = MeanMetric(), MeanMetric()
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)  # kept in checkpoints, so a resumed run knows its best
        self.loaded_epoch: int | None = None  # the epoch of the checkpoint the weights were restored from

    def forward(self, x: Tensor) -> Tensor:
        """The output activations ``L_out`` for a batch of flattened images."""
        return self.net(x)

    def expected(self, y: Tensor) -> Tensor:
        """``E``: 1 for the neuron of the true class, 0 for the others (a row of the identity matrix)."""
        return self.identity[y]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return build_optimizer(self.hparams.optimizer, self.parameters())

    def on_train_start(self) -> None:
        self.loaded_epoch = None  # training moves the weights on from the checkpoint's (a resumed run)
        if self.trainer.world_size > 1:
            batch_size = self.trainer.datamodule.batch_size
            rank_zero_info(
                f"data parallel: {self.trainer.world_size} processes x data.batch_size={batch_size} per "
                f"process = {self.trainer.world_size * batch_size} samples averaged per SGD step"
            )
        self.chunk_graphs = chunk_graphs_for(
            self.cuda_graph,
            self.net.loss,
            self.net.params,
            self.optimizers().optimizer,
            self._sgd_step,
            self.device.type,
            self.trainer.precision,
            self.trainer.world_size,
            rank_zero_info,
            ddp=isinstance(self.trainer.strategy, DDPStrategy),
            detect_anomaly=torch.is_anomaly_enabled(),
        )

    def on_train_end(self) -> None:
        self.chunk_graphs = None  # frees the graphs' GPU memory before testing

    def training_step(self, chunk: Chunk, batch_idx: int) -> None:
        """One SGD step per mini-batch of the chunk: ``C`` forward, ``grad C`` by backprop, then
        ``P <- P - r * grad C``."""
        if self.chunk_graphs is not None:  # the same steps, replayed as one CUDA graph
            losses = self.chunk_graphs.run(chunk.x, self.expected(chunk.y), chunk.batch_size)
        else:
            step, cost = self._sgd_step(), self.net.loss
            losses = torch.stack([step(cost(x, e)) for x, e in chunk.minibatches(self.identity)])
        self._stop_if_diverged(losses)
        count_optimizer_steps(self.trainer, len(losses))
        sizes = torch.full_like(losses, chunk.batch_size)
        sizes[-1] = len(chunk.y) - chunk.batch_size * (len(losses) - 1)
        self.train_loss.update(losses, sizes)

    def _sgd_step(self) -> Callable[[Tensor], Tensor]:
        """The step from a mini-batch's cost: ``backward()``, then the optimizer's update; returns the
        cost, detached. Which step (plain SGD, a torch optimizer, with the gradient scaler, averaged
        across processes) is chosen here, once per chunk (a learning-rate schedule may change ``lr``).

        The torch optimizer is called directly: Lightning's wrappers (``manual_backward``,
        ``LightningOptimizer.step``) run every callback's backward and optimizer hooks per call, which
        costs more than the step itself at mini-batch 10; Lightning's step counter is advanced in
        ``training_step`` to match. ``backward()`` is :func:`src.torch_compat.backward`, autograd without
        ``Tensor.backward()``'s Python-side checks. For torch's plain SGD the update is the one operation its ``step()``
        performs, ``P.add_(grad, alpha=-lr)``, without the per-call bookkeeping. With float16 mixed
        precision Lightning's gradient scaler is used as torch's AMP recipe says. Under data parallelism
        each process averages its gradient with the others' first (``strategy.reduce``), so every
        process takes the same step and keeps the same weights.
        """
        optimizer = self.optimizers().optimizer
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)  # float16 mixed precision only
        strategy = self.trainer.strategy
        distributed = self.trainer.world_size > 1
        params = self.net.params
        weights = params.detach()  # the same storage, updated in place outside autograd
        lr = plain_sgd_lr(optimizer) if scaler is None else None

        def step(loss: Tensor) -> Tensor:
            params.grad = None  # the gradient of this mini-batch only (it stays for callbacks to see)
            backward(loss if scaler is None else scaler.scale(loss))
            if distributed:
                params.grad = strategy.reduce(params.grad, reduce_op="mean")
            if lr is not None:
                weights.add_(params.grad, alpha=-lr)
            elif scaler is None:
                optimizer.step()
            else:
                scaler.step(optimizer)
                scaler.update()
            return loss.detach()

        return step

    def on_train_epoch_end(self) -> None:
        self.log("train/loss", self.train_loss.compute(), prog_bar=True)
        self.train_loss.reset()

    TRAIN_LOSS_STATE = ("train_loss.mean_value", "train_loss.weight")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The checkpoint records the ``trainer.precision`` it was trained at, which ``src.evaluate`` tests
        at. Under data parallelism only process 0 writes the checkpoint: the epoch's running ``train/loss``
        it keeps is the sum over every process's samples (each process calls this, in step)."""
        checkpoint["precision"] = self.trainer.precision
        if self.trainer.world_size > 1:
            state = checkpoint["state_dict"]
            for key in self.TRAIN_LOSS_STATE:  # a copy: the state dict's tensor is the metric's own
                state[key] = self.trainer.strategy.reduce(state[key].clone(), reduce_op="sum")

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The module takes the precision's dtype first: Lightning restores the weights before it converts
        the module, and ``64-true`` weights loaded into the float32 network were rounded to float32.
        Its epoch is kept for :meth:`on_test_epoch_end`. Resumed under data parallelism: process 0 takes
        the whole running ``train/loss``, the others start from zero, so that summing them at the epoch's
        end counts every sample once."""
        self.trainer.precision_plugin.convert_module(self)
        # a count: the checkpoint is this run's (testing "best") or one whose counters were checked before
        # resuming (src.resume_checks.check_training_state)
        self.loaded_epoch = checkpoint.get("epoch")
        if self.trainer.global_rank > 0:
            state = checkpoint["state_dict"]
            for key in self.TRAIN_LOSS_STATE:
                if key in state:
                    state[key] = torch.zeros_like(state[key])

    def _stop_if_diverged(self, losses: Tensor) -> None:
        """Raise :class:`DivergenceError` naming the first SGD step whose loss, or the weights after it,
        are not finite: training stops before anything non-finite can be checkpointed."""
        finite_losses = torch.isfinite(losses)
        if bool(finite_losses.all() & torch.isfinite(self.net.params).all()):  # one device sync
            return
        first_bad = int((~finite_losses).nonzero()[0]) if not bool(finite_losses.all()) else len(losses) - 1
        step = self.trainer.global_step + first_bad + 1
        lr = self.optimizers().optimizer.param_groups[0]["lr"]
        raise DivergenceError(
            f"training diverged at SGD step {step} (epoch {self.current_epoch}): the loss or the weights "
            f"became NaN or infinite with lr={lr}; try a smaller learning rate (optimizer.lr)"
        )

    def _evaluate(self, chunk: Chunk, loss: MeanMetric, acc: MulticlassAccuracy) -> None:
        for x, y in chunk.minibatches():
            activations, z = self.net.output_and_weighted_input(x)
            loss.update(self.net.cost.per_sample(z, activations, self.expected(y)))
            acc.update(activations, y)

    def validation_step(self, chunk: Chunk, batch_idx: int) -> None:
        self._evaluate(chunk, self.val_loss, self.val_acc)
        self.log("val/loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("val/acc", self.val_acc, on_step=False, on_epoch=True, prog_bar=True)

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self.val_acc_best.update(self.val_acc.compute())
            self.log("val/acc_best", self.val_acc_best.compute(), sync_dist=True, prog_bar=True)

    def test_step(self, chunk: Chunk, batch_idx: int) -> None:
        self._evaluate(chunk, self.test_loss, self.test_acc)
        self.log("test/loss", self.test_loss, on_step=False, on_epoch=True)
        self.log("test/acc", self.test_acc, on_step=False, on_epoch=True)

    def on_test_epoch_end(self) -> None:
        """Label the test metrics with the epoch of the weights tested: the checkpoint's, else (the
        weights in memory after training) the last epoch trained. Lightning would label them
        ``trainer.current_epoch``, which after training is the number of epochs trained: one past the
        last, an epoch that never ran, whichever checkpoint was tested (the ``epoch`` of the CSV logger's
        test row). Nothing is logged where no epoch is known (a model tested without training or a
        restored checkpoint, as ``src.evaluate`` tests one)."""
        epoch = self.loaded_epoch if self.loaded_epoch is not None else self.trainer.current_epoch - 1
        if epoch >= 0:  # every process has the same epoch: sync_dist only spares Lightning's warning
            self.log("epoch", float(epoch), sync_dist=True)
