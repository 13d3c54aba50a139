"""Mutation testing of the math and the training code: ``python -m tests.mutation [GROUP ...]``.

Needs the ``mutation`` extra (``pip install -e '.[mutation]'``: cosmic-ray). Not part of CI: it takes tens
of minutes. For each group below, cosmic-ray plants one small change at a time in the group's source
files (an operator or a comparison swapped, a number changed, a condition negated, ...) and runs the
group's quick tests (``-m "not slow"``) against it: a mutant the tests fail on is killed, one they pass
survives. The run works in a copy of the repository (``--workdir``, a temporary directory by default),
so your files are never changed, and ends with a table and the diff of every survivor.

cosmic-ray runs a shell command per mutant; a new interpreter would spend seconds importing torch and
Lightning each time. Here that command asks a warm process, which imported them once, to fork and run
pytest on the mutated files instead. mutmut, which forks this way itself, cannot be used: it takes a
top-level package named ``src`` for a source folder and refuses to run on this layout.

Survivors listed in :data:`EQUIVALENT` change nothing a test could observe; each says why. Those in
:data:`GPU_ONLY` change code that runs only on a CUDA GPU: on a machine without one no test can reach them,
and they are counted apart (with a GPU they are judged like any other mutant). Any other survivor is a gap
in the tests.

A mutant can point a clean-up anywhere (one turned the download's clean-up into ``rmtree("/")``, run as
root): the tests of each mutant keep every temporary file in the work directory and may remove nothing
outside it (:func:`remove_only_inside`).
"""

import argparse
import functools
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUICK = ["-x", "-q", "-m", "not slow", "-p", "no:cacheprovider", "--noconftest"]
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    "network": (
        ["src/network"],
        ["tests/test_units.py", "tests/test_backprop.py", "tests/test_reference_numpy.py"],
    ),
    "checkpoint": (
        ["src/checkpoint.py"],
        [
            "tests/test_units.py",
            "tests/test_checkpoint_units.py",
            "tests/test_checkpoint_safety.py",
            *(
                f"tests/test_checkpoints.py::{test}"
                for test in (
                    "test_a_checkpoint_that_would_run_code_is_refused_without_running_it",
                    "test_a_failed_save_leaves_the_previous_file",
                )
            ),
            "tests/test_training_step.py::test_interrupt_checkpoint_is_written_only_with_finite_weights",
        ],
    ),
    "data": (
        ["src/data.py"],
        ["tests/test_data.py", "tests/test_data_units.py", "tests/test_training_step.py"],
    ),
    "lit": (
        ["src/lit.py"],
        [
            "tests/test_lit_units.py",
            "tests/test_training_step.py",
        ],
    ),
    "schedule": (
        ["src/schedule.py"],
        ["tests/test_lr_halving.py", "tests/test_schedule_units.py", "tests/test_config.py"],
    ),
    "cuda_graph": (["src/cuda_graph.py"], ["tests/test_cuda_graph.py"]),
    "run_dir": (
        ["src/run_dir.py", "src/run_dir_cleanup.py"],
        ["tests/test_run_dir_units.py", "tests/test_faults.py"],
    ),
    "predict": (
        ["src/predict.py", "src/images.py"],
        [
            "tests/test_predict_units.py",
            "tests/test_images_units.py",
            *(  # not the others: they need tests/conftest.py's trained run, and QUICK loads no conftest
                f"tests/test_predict.py::{test}"
                for test in (
                    "test_ink_polarity_and_colour_do_not_change_the_input",
                    "test_transparent_background_counts_as_paper",
                    "test_digits_input_is_the_ink_at_full_height_centred",
                    "test_mnist_sized_input_follows_mnist_layout",
                    "test_blank_image_is_an_all_zero_input",
                    "test_a_long_thin_stroke_is_shrunk_before_its_square_window_is_cut",
                    "test_a_prediction_is_one_line_whatever_the_file_is_called",
                    "test_a_file_that_is_not_a_checkpoint_is_refused",
                    "test_a_network_of_non_square_inputs_cannot_classify_images",
                    "test_a_fashion_mnist_item_fills_the_frame_as_its_training_images_do",
                )
            ),
        ],
    ),
    # src/demo/__main__.py left out: its tests start the server on a trained checkpoint (slow, conftest's)
    "demo": (
        ["src/demo/server.py", "src/demo/views.py", "src/demo/samples.py"],
        # tests/test_demo.py's slow tests (conftest's trained run, Chromium) are left out by QUICK
        ["tests/test_demo_units.py", "tests/test_demo.py"],
    ),
    # tests/test_hparams_search.py left out: all its tests are slow (an Optuna sweep of trainings)
    "sweep": (
        ["src/sweep.py", "src/metrics_file.py"],
        ["tests/test_sweep_units.py", "tests/test_sweep.py", "tests/test_results_table.py"],
    ),
    # the commands' checks, called directly (the commands themselves run in slow tests)
    "checks": (["src/checks.py", "src/resume_checks.py"], ["tests/test_checks_units.py"]),
    # the throughput, signals and checkpoint callbacks; the slow tests that run them in trainings are left out
    "callbacks": (
        ["src/callbacks.py"],
        [
            "tests/test_callbacks_units.py",
            "tests/test_training_step.py",
            "tests/test_errors.py",
            "tests/test_faults.py",
        ],
    ),
    # what a run prints and logs: the console, the loggers, the TensorBoard pictures; and the building of
    # the callbacks and loggers
    "tools": (
        ["src/console.py", "src/loggers.py", "src/visualize.py", "src/instantiate.py"],
        [
            "tests/test_tools_units.py",
            "tests/test_visualize_units.py",
            "tests/test_instantiate_units.py",
            "tests/test_tools.py",
            *(  # not the others: they need tests/conftest.py's trained run, and QUICK loads no conftest
                f"tests/test_tensorboard.py::{test}"
                for test in (
                    "test_the_x_axis_is_the_epoch_whatever_the_chunk_size",
                    "test_without_tensorboard_it_does_nothing",
                    "test_confusion_image_is_a_picture_of_the_table",
                    "test_flat_hparams",
                    "test_bad_settings_are_refused",
                )
            ),
        ],
    ),
    # the private APIs of Lightning and torch, each behind one function
    "compat": (
        ["src/lightning_compat.py", "src/torch_compat.py"],
        ["tests/test_torch_compat.py", "tests/test_lightning_compat.py"],
    ),
    # the one-line reports of bad input, interrupts and storage errors, and the commands they print
    "cli": (
        ["src/cli.py", "src/errors.py"],
        ["tests/test_cli_units.py", "tests/test_faults.py", "tests/test_errors.py"],
    ),
    # each setting's rule and the command line's checks: the quick tests that give bad values to the commands
    "config": (
        ["src/config.py", "src/command_line.py", "src/precisions.py"],
        [
            "tests/test_config_units.py",
            "tests/test_errors.py",
            "tests/test_config.py",
            "tests/test_checks_units.py",
        ],
    ),
}
"""Group name -> (the files cosmic-ray mutates, the test files run against each mutant)."""

THROWAWAY_PARAMETERS = (
    "torch.zeros( 0, requires_grad=True)",
    "torch.zeros( 2, requires_grad=True)",
    "torch.zeros(1, requires_grad=False)",
)
"""The mutants of the one-element parameter that src/config.py and src/checks.py build optimizers over, only
to check their arguments."""

EQUIVALENT: dict[tuple[str, ...], str] = {
    ("src/network/backprop.py", "need_grad_x = ctx.needs_input_grad[ 0]"): (
        "needs_input_grad[0] (P's) is always true: dC/dx is computed when x needs no gradient too, "
        "slower but the same result"
    ),
    ("src/network/backprop.py", "dtype = activations[1].dtype  # the layers' dtype (see forward)"): (
        "every layer's activations have the same dtype"
    ),
    (
        "src/network/layers.py",
        "activation = architecture.output if index >= len(layers) - 1 else architecture.hidden",
    ): "index never exceeds len(layers) - 1",
    ("src/network/layers.py", "(chunks[2 * i].view(rows, cols), chunks[2 * i ^ 1])"): (
        "2 * i is even, so (2 * i) ^ 1 is 2 * i + 1"
    ),
    ("src/network/backprop.py", "with explicit_dtypes(params.device, dtype is not params.dtype):"): (
        "torch's dtypes are singletons: is not is !="
    ),
    ("src/network/backprop.py", "dtype = activations[- 2].dtype  # the layers' dtype (see forward)"): (
        "every layer's activations have the same dtype"
    ),
    ("src/network/cost.py", 'if activation.name is not "sigmoid":'): (
        "the name is get_activation's literal 'sigmoid', the same interned string as this one"
    ),
    ("src/network/layers.py", "(chunks[2 * i].view(rows, cols), chunks[2 * i | 1])"): (
        "2 * i is even, so (2 * i) | 1 is 2 * i + 1"
    ),
    (
        "src/network/backprop.py",
        "return torch.autocast(device.type, enabled=False) if not mixed else nullcontext()",
    ): (
        "leaving autocast on changes no dtype here: the layers are already in the autocast dtype, linear "
        "keeps it, the cost's inputs are already float32, and switching autocast off where nothing is "
        "mixed changes nothing (judged by reading; CPU tests only)"
    ),
    ("src/network/backprop.py", "scale = grad_cost / activations[ -1].shape[0]"): (
        "the output layer has as many rows (samples) as the input"
    ),
    ("src/network/backprop.py", "dtype = activations[- 0].dtype  # the layers' dtype (see forward)"): (
        "activations[0] is x cast to the layers' dtype"
    ),
    (
        "src/network/backprop.py",
        "",
        '"""``C = mean over the batch of cost(network(x), E)``, with a hand-written gradient for ``P`` and '
        '``x``."""',
    ): "forward without @staticmethod: autograd calls it through the class, with the same arguments",
    (
        "src/network/layers.py",
        "activation = architecture.output if index is len(layers) - 1 else architecture.hidden",
    ): "CPython keeps one object per small int: is is == for a layer index",
    ("src/network/layers.py", "@dataclass(frozen=False)"): (
        "nothing assigns to an Architecture's fields or hashes one"
    ),
    ("src/network/activations.py", "@dataclass(frozen=False)"): (
        "nothing assigns to an Activation's fields or hashes one"
    ),
    ("src/network/backprop.py", "return tensor if tensor.dtype is dtype else tensor.to(dtype)"): (
        "torch's dtypes are singletons: is is =="
    ),
    **{
        ("src/network/backprop.py", line): (
            "backward's operations (mm and sum into preallocated tensors, elementwise products) keep their "
            "dtypes whether autocast is on or off (judged by reading; CPU tests only)"
        )
        for line in (
            "with explicit_dtypes(params.device, dtype == params.dtype):",
            "with explicit_dtypes(params.device, dtype is params.dtype):",
        )
    },
    ("src/network/backprop.py", "mixed = dtype is not params.dtype"): "torch's dtypes are singletons",
    ("src/network/backprop.py", "if index != 0:  # delta_{l-1} = (delta_l W_l) * S'(z_{l-1})"): (
        "index is never negative: != 0 is > 0"
    ),
    ("src/network/backprop.py", "dtype = activations[~1].dtype  # the layers' dtype (see forward)"): (
        "~1 is -2: every layer's activations have the same dtype"
    ),
    ("src/network/backprop.py", "dtype = activations[+1].dtype  # the layers' dtype (see forward)"): (
        "every layer's activations have the same dtype"
    ),
    ("src/network/backprop.py", "scale = grad_cost / activations[ 1].shape[0]"): (
        "every layer has as many rows (samples) as the input"
    ),
    ("src/network/backprop.py", "if not mixed:  # the cost in the parameters' dtype"): (
        "E is in the parameters' dtype, so type promotion computes a - E and the cross-entropy of (z, E) "
        "in it from the same autocast-dtype values anyway: the explicit conversion changes no value"
    ),
    (
        "src/network/cost.py",
        'return torch.nn.functional.binary_cross_entropy_with_logits(z, expected, reduction="none").sum(dim=1)',
    ): "every caller passes (samples, classes) tensors: dim 1 is the last",
    ("src/network/mlp.py", 'if self.backprop >= "manual":'): (
        "the only other backprop, autograd, sorts before manual"
    ),
    ("src/network/activations.py", "blocked = derivative <= 0"): "ReLU's derivative is 0 or 1",
    ("src/network/backprop.py", "", "return cost_value"): (
        "backward without @staticmethod: autograd calls it through the class, with the same arguments"
    ),
    ("src/network/backprop.py", "dtype = activations[not 1].dtype  # the layers' dtype (see forward)"): (
        "not 1 is False, index 0: x cast to the layers' dtype"
    ),
    (
        "src/network/backprop.py",
        "return torch.autocast(device.type, enabled=True) if mixed else nullcontext()",
    ): (
        "autocast left on where mixed: as for the negated condition, no dtype changes (judged by reading; "
        "CPU tests only)"
    ),
    (
        "src/network/cost.py",
        'return torch.nn.functional.binary_cross_entropy_with_logits(z, expected, reduction="none").sum(dim=+1)',
    ): "every caller passes (samples, classes) tensors: dim 1 is the last",
    ("src/network/mlp.py", 'std = 1.0 if init <= "normal" else 1.0 / math.sqrt(weight.shape[1])'): (
        "the only other init, scaled_normal, sorts after normal"
    ),
    ("src/network/activations.py", 'if self.name is "relu":'): (
        "the name is get_activation's literal 'relu', the same interned string as this one"
    ),
    ("src/network/cost.py", "return (a - expected).square().sum(dim=+1)"): (
        "every caller passes (samples, classes) tensors: dim 1 is the last"
    ),
    ("src/network/activations.py", "return (a != 0).to(a.dtype)"): (
        "a ReLU's output is never negative, so a != 0 is a > 0"
    ),
    ("src/network/cost.py", "return (a - expected).square().sum(dim=1)"): (
        "every caller passes (samples, classes) tensors: dim 1 is the last"
    ),
    ("src/network/cost.py", "@dataclass(frozen=False)"): "nothing assigns to a Cost's fields or hashes one",
    ("src/network/activations.py", 'if self.name <= "relu":'): (
        "leaky_relu, the only other name <= 'relu', never has a zero derivative: the mask changes nothing"
    ),
    ("src/network/layers.py", "return list(zip(self.sizes[1:], self.sizes[:-1], strict=False))"): (
        "sizes[1:] and sizes[:-1] are equally long"
    ),
    **{
        ("src/network/reference_numpy.py", line): (
            "the lists zipped are one per layer, built together: equally long"
        )
        for line in (
            "[t.ravel() for w, b in zip(self.weights, self.biases, strict=False) for t in (w, b)]",
            "for b, w in zip(self.biases, self.weights, strict=False):",
            "nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b, strict=False)]",
            "nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w, strict=False)]",
            "self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w, "
            "strict=False)]",
            "self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b, strict=False)]",
        )
    },
    (
        "src/lit.py",
        "if bool(finite_losses.all() * torch.isfinite(self.net.params).all()):  # one device sync",
    ): "the product of two bool tensors is their logical and",
    ("src/lit.py", "group = optimizer.param_groups[ -1]"): "there is exactly one group (checked above)",
    ("src/lit.py", "distributed = self.trainer.world_size != 1"): "world_size is at least 1: != 1 is > 1",
    ("src/lit.py", "if self.trainer.world_size != 1:"): "world_size is at least 1: != 1 is > 1",
    **{
        (
            "src/lit.py",
            f"if self.trainer.world_size {test}:",
            'checkpoint["precision"] = self.trainer.precision',
        ): "with one process, Lightning's strategy.reduce returns the tensor itself"
        for test in (">= 1", "> 0")
    },
    ("src/lit.py", "if self.trainer.global_rank != 0:"): "the rank is at least 0: != 0 is > 0",
    ("src/lit.py", 'self.log("epoch", float(epoch), sync_dist=False)'): (
        "every process has the same epoch: averaging equal values changes nothing"
    ),
    **{
        ("src/lit.py", f"distributed = self.trainer.world_size {test}"): (
            "with one process, Lightning's strategy.reduce returns the gradient itself"
        )
        for test in (">= 1", "> 0")
    },
    ("src/lit.py", "if type(optimizer) is not torch.optim.SGD or len(optimizer.param_groups) > 1:"): (
        "an optimizer has at least one group (torch refuses an empty parameter list)"
    ),
    ("src/lit.py", "lr = plain_sgd_lr(optimizer) if scaler is not None else None"): (
        "without the fast path, torch's SGD.step() makes the same update, P.add_(grad, alpha=-lr)"
    ),
    ("src/lit.py", 'lr = self.optimizers().optimizer.param_groups[ -1]["lr"]'): (
        "configure_optimizers builds one parameter group"
    ),
    ("src/lit.py", "if type(optimizer) != torch.optim.SGD or len(optimizer.param_groups) != 1:"): (
        "two classes are equal only when they are the same object: != is is not"
    ),
    ("src/lit.py", "lr = plain_sgd_lr(optimizer) if not scaler is None else None"): (
        "without the fast path, torch's SGD.step() makes the same update, P.add_(grad, alpha=-lr)"
    ),
    ("src/lit.py", 'self.log("val/acc_best", self.val_acc_best.compute(), sync_dist=False, prog_bar=True)'): (
        "the metric's compute() already gives every process the maximum over all of them (torchmetrics "
        "syncs on compute): averaging equal values changes nothing"
    ),
    **{
        ("src/lit.py", line): "prog_bar says only whether the progress bar shows the value"
        for line in (
            'self.log("train/loss", self.train_loss.compute(), prog_bar=False)',
            'self.log("val/loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=False)',
            'self.log("val/acc", self.val_acc, on_step=False, on_epoch=True, prog_bar=False)',
            'self.log("val/acc_best", self.val_acc_best.compute(), sync_dist=True, prog_bar=False)',
        )
    },
    ("src/data.py", "rank: int = 1,"): (
        "the rank is read only when world_size > 1, and the data module always passes it"
    ),
    ("src/data.py", "rank: int = -1,"): (
        "the rank is read only when world_size > 1, and the data module always passes it"
    ),
    **{
        ("src/data.py", f"seed: int = {seed},"): (
            "every sampler that shuffles is given the data module's seed; evaluation samplers don't shuffle"
        )
        for seed in (-1, 1)
    },
    ("src/data.py", "if self.world_size == 0:"): (
        "with one process (rank 0) the general formulas give n too: n // 1 and len(range(0, n, 1))"
    ),
    ("src/data.py", 'if key >= "overfit_batches" and (limit == 0 or split != "train"):'): (
        "the key is limit_<split>_batches or overfit_batches, and 'limit_...' < 'overfit_batches'"
    ),
    ("src/data.py", 'if key == "overfit_batches" and (limit <= 0 or split != "train"):'): (
        "Lightning refuses a negative overfit_batches"
    ),
    ("src/data.py", "if isinstance(limit, float) and 0 != limit < 1 and int(limit * steps) == 0:"): (
        "Lightning refuses a negative limit"
    ),
    **{
        ("src/data.py", f"READ_BLOCK = {block}"): "a smaller block reads the same bytes, in more calls"
        for block in ("2+20", "2^20", "2** 19", "1**20")
    },
    **{
        (
            "src/data.py",
            f"READ_BLOCK = {block}",
        ): "another block size reads the same bytes, in more or fewer calls"
        for block in ("2*20", "2%20", "2<<20", "2|20")
    },
    ("src/data.py", "if self.world_size >= 1:"): (
        "with one process the shard is the whole permutation: order[0::1][:n] is order"
    ),
    ("src/data.py", "if self.world_size > 0:"): (
        "with one process the shard is the whole permutation: order[0::1][:n] is order"
    ),
    (
        "src/data.py",
        "return Chunk(self.x.index_select(0, indices), self.y.index_select( -1, indices), self.batch_size)",
    ): "the labels are 1-D: dimension -1 is dimension 0",
    ("src/data.py", "if not batch.x.device == device:"): (
        "Lightning's own transfer of a chunk already on the device moves nothing: only speed changes"
    ),
    ("src/data.py", 'if key == "overfit_batches" and (limit == 1 or split != "train"):'): (
        "overfit_batches=0 then fails the fraction test below (0 < limit), and an integer 1 is no fraction"
    ),
    ("src/data.py", "READ_BLOCK = 3**20"): (
        "a larger block reads the same bytes in fewer calls (gzip's read(n) returns what there is, reserving "
        "nothing); what is kept stays bounded by the header's count plus one byte"
    ),
    ("src/data.py", "if self.world_size <= 1:"): "world_size is at least 1: <= 1 is == 1",
    ("src/data.py", 'if key == "overfit_batches" and (limit < 0 or split != "train"):'): (
        "overfit_batches=0 (off) passes the fraction check below anyway (0 < 0 is false); Lightning refuses "
        "a negative one"
    ),
    (
        "src/data.py",
        "return (self.trainer.global_rank, self.trainer.world_size) if self.trainer else ( 1, 1)",
    ): "with one process the rank is never read",
    ("src/data.py", 'if key == "overfit_batches" and (limit == -1 or split != "train"):'): (
        "overfit_batches=0 (off) passes the fraction check below anyway: 0 < 0 is false"
    ),
    ("src/data.py", "if isinstance(limit, float) and 0 < limit != 1 and int(limit * steps) == 0:"): (
        "Lightning refuses a float limit above 1; at 1.0 both forms are false"
    ),
    ("src/data.py", 'if len(header) < 4 or struct.unpack(">I", header[:4])[ -1] != IDX_MAGIC[ndim]:'): (
        "struct.unpack of one '>I' returns a 1-tuple: [-1] is [0]"
    ),
    ("src/data.py", "block = stream.read(min(READ_BLOCK, expected + 1 ^ len(data)))"): (
        "(expected + 1) ^ len(data) is never less than expected + 1 - len(data): a read asking for more "
        "bytes, the same bytes and the same verdict"
    ),
    ("src/data.py", "if created is not None or created in missing_now:"): (
        "created is a folder missing at the start whenever it is not None: the second test is a guard "
        "against a slip in the first (a mutant of it once named /), which only a second change could show"
    ),
    ("src/data.py", "READ_BLOCK = 2** 21"): (
        "a larger block reads the same bytes; the memory a lying header can claim stays bounded, by 2 MiB"
    ),
    ("src/data.py", 'if key is "overfit_batches" and (limit == 0 or split != "train"):'): (
        "key is then the tuple's literal, the same interned string as the one compared with"
    ),
    ("src/data.py", "break", 'if key == "overfit_batches" and (limit == 0 or split != "train"):'): (
        "the continue it replaces is in the loop's last turn (overfit_batches)"
    ),
    (
        "src/data.py",
        "f\"{file} is not an IDX file of {'labels' if ndim <= 1 else 'images'}: it must start with \"",
    ): "ndim is 1 (labels) or 3 (images)",
    ("src/data.py", 'f"{IMAGE_SIZE[ -1]}x{IMAGE_SIZE[1]}"'): "MNIST's images are square: 28x28",
    ("src/data.py", "if len(images) <= 0:"): "a length is never negative",
    ("src/data.py", "minibatch_bytes = batch_size * x[ -1].numel() * x.element_size()"): (
        "every row of x has as many numbers"
    ),
    (
        "src/data.py",
        'self.chunks_trained = resume["chunks_trained"] if resume and resume["epoch"] >= self.epoch else 0',
    ): "a checkpoint's epoch is never after the epoch Lightning resumes",
    ("src/data.py", "if batch.x.device != device:"): (
        "the data lives on the training device, so the devices are equal, and Lightning's own transfer "
        "returns the same chunk"
    ),
    (
        "src/data.py",
        "return (self.trainer.global_rank, self.trainer.world_size) if self.trainer else ( -1, 1)",
    ): "with one process the rank is never read",
    ("src/data.py", 'if key == "overfit_batches" and (limit == 0 or split is not "train"):'): (
        "split is one of the literal names, and CPython interns equal string literals: is not is !="
    ),
    ("src/data.py", 'with gzip.open(file, "rb") if file.suffix >= ".gz" else open(file, "rb") as stream:'): (
        "the file is <stem>, without a suffix (''), or <stem>.gz"
    ),
    ("src/data.py", "if len(header) is not 4 * (1 + ndim):"): (
        "CPython keeps one object per small int, so is not is != here, and != is < (see above)"
    ),
    **{
        ("src/data.py", f"block = stream.read(min(READ_BLOCK, expected + {request}))"): (
            "another amount per read; the loop still reads until it has more than the header says or the "
            "file ends, at most one block past it: the same verdict"
        )
        for request in ("1 * len(data)", "1 ** len(data)", "1 | len(data)", "1 << len(data)", "2 - len(data)")
    },
    ("src/data.py", 'if saved is not self.world_size and state.get("chunks_trained"):'): (
        "process counts are small ints, one object each in CPython: is not is !="
    ),
    ("src/data.py", "if self.world_size != 1:"): "world_size is at least 1: != 1 is > 1",
    ("src/data.py", "if batch.x.device is not device:"): (
        "torch.device objects are made anew, so is not is always true: Lightning's own transfer of a chunk "
        "already on the device moves nothing, only slower"
    ),
    ("src/data.py", "if isinstance(limit, float) and 0 < limit < 1 and int(limit * steps) <= 0:"): (
        "limit and steps are positive here: int() of their product is never negative"
    ),
    ("src/data.py", "and self.trainer.limit_val_batches != 0"): (
        "Lightning refuses a negative limit_val_batches: != 0 is > 0"
    ),
    ("src/data.py", "@functools.lru_cache(maxsize= 3)"): (
        "one more pair of files kept in memory: what is read, and what is refused, is the same"
    ),
    ("src/data.py", "if len(data) != expected:"): "len(data) < expected was refused just before",
    ("src/data.py", "shutil.rmtree(created, ignore_errors=False)"): (
        "the folder was made by this call: removing it fails only if something else changes it meanwhile"
    ),
    ("src/data.py", "if self.world_size < 1:"): (
        "world_size is at least 1, and with one process (rank 0) the general formulas give n too"
    ),
    (
        "src/data.py",
        "return zip(self.x.split(self.batch_size), targets.split(self.batch_size), strict=False)",
    ): "a chunk's images and targets have the same rows: both splits have as many parts",
    ("src/data.py", "if batch.x.device is device:"): (
        "Lightning's own transfer then returns the same chunk on the same device, only slower"
    ),
    ("src/data.py", "if ndim >= 3 and shape[1:] != IMAGE_SIZE:"): "ndim is 1 (labels) or 3 (images)",
    ("src/data.py", "if len(header) != 4 * (1 + ndim):"): (
        "stream.read(k) returns at most k bytes, so the header is never longer"
    ),
    ("src/data.py", 'f"{IMAGE_SIZE[0]}x{IMAGE_SIZE[ 0]}"'): "MNIST's images are square: 28x28",
    ("src/data.py", 'f"{IMAGE_SIZE[ 1]}x{IMAGE_SIZE[1]}"'): "MNIST's images are square: 28x28",
    ("src/data.py", "while len(data) is not expected:"): (
        "the reads ask for expected + 1 bytes in all, so len(data) == expected only at the end of the "
        "file: the next read would return nothing; same data, same verdict"
    ),
    ("src/data.py", "block = stream.read(min(READ_BLOCK, expected + 1 + len(data)))"): (
        "a larger read can take at most one block more than expected + 1 bytes: still more than the "
        "header says, the same verdict, memory still bounded"
    ),
    ("src/checkpoint.py", "if path.stat().st_size <= 0:"): "a file's size is never negative",
    ("src/checkpoint.py", "state = MLPClassifier( 2, 2, hidden=[]).state_dict()"): (
        "the metrics' states are the same whatever the network's sizes"
    ),
    ("src/checkpoint.py", "state = MLPClassifier(1, 3, hidden=[]).state_dict()"): (
        "the metrics' states are the same whatever the network's sizes"
    ),
    ("src/checkpoint.py", "if not (is_one_number(value) and value.shape <= shapes[key]):"): (
        "every metric state is a scalar, shape (): a tuple of sizes is <= () only if it is ()"
    ),
    (
        "src/checkpoint.py",
        'return {key: value.shape for key, value in state.items() if key > "net.params"}',
    ): ("the metric states' names (train_loss..., val_acc_best...) sort after net.params"),
    ("src/checkpoint.py", "if params.layout is not torch.strided:"): (
        "torch's layouts are singletons: is not and != agree on every tensor"
    ),
    (
        "src/checkpoint.py",
        "if params.stride() <= (0,):  # one stored number for every weight: any computation would expand it",
    ): ("torch has no negative strides: a vector's stride <= (0,) only when it is (0,)"),
    (
        "src/checkpoint.py",
        "if not isinstance(params, Tensor) or params.dim() > 1 or params.numel() != expected:",
    ): "a 0-d tensor holds 1 number, the smallest network 4: the size check refuses it, same message",
    ("src/checkpoint.py", 'check_value(integer( 2, 1), hparams[key], f"hyper_parameters.{key}")'): (
        "a rule's default (integer's first argument) is not read when it checks a value"
    ),
    ("src/checkpoint.py", 'check_value(integer( 0, 1), hparams[key], f"hyper_parameters.{key}")'): (
        "a rule's default (integer's first argument) is not read when it checks a value"
    ),
    **{
        ("src/checkpoint.py", f'if os.name {operator} "posix":'): (
            f"on POSIX, where the tests run, os.name {operator} 'posix' is false, as != is: the same"
        )
        for operator in ("<", ">", "is not")
    },
    ("src/schedule.py", 'if [group["lr"] for group in self.optimizer.param_groups] >= rates:'): (
        "ReduceLROnPlateau only lowers rates: the rates after its step are >= those before only when equal"
    ),
    ("src/schedule.py", "for group, rate in zip(self.optimizer.param_groups, rates, strict=False):"): (
        "rates was read from the same param_groups at the start of the step: equally long"
    ),
    (
        "src/schedule.py",
        "self.scheduler = scheduler_class(trainer.optimizers[ -1], **arguments)",
    ): ("configure_optimizers returns one optimizer"),
    (
        "src/schedule.py",
        "group = self.scheduler.optimizer.param_groups[ -1]  # configure_optimizers builds one group (net.params)",
    ): "configure_optimizers builds one parameter group (net.params)",
    (
        "src/command_line.py",
        "values = list(OverridesParser.create().parse_overrides([argument])[ -1].sweep_string_iterator())",
    ): "one override parsed: index -1 is index 0",
    (
        "src/command_line.py",
        "if len(overrides) <= len(arguments) and any(argument in MULTIRUN_FLAGS for argument in arguments):",
    ): "overrides leaves out the multirun flags: where any() finds one, overrides is shorter, < and <= agree",
    ("src/config.py", "elif typing.get_origin(member) == typing.Literal and all("): (
        "typing.Literal is one object, which compares equal only to itself: == is is"
    ),
    ("src/schedule.py", 'stopped = getattr(self.scheduler, "should_stop", True)'): (
        "the default is read only where the scheduler has no should_stop (src.schedule.ReduceLROnPlateau "
        "sets it in __init__), and then the getattr after the step is False too: no stop, "
        "whatever stopped was"
    ),
    ("src/schedule.py", "if not stopped and rank_zero_only.rank <= 0:"): (
        "a process's rank is never negative: <= 0 is == 0"
    ),
    ("src/cuda_graph.py", "if type(optimizer) == torch.optim.SGD:"): (
        "two classes are equal only when they are the same object: == is is"
    ),
    ("src/cuda_graph.py", "if world_size != 1:"): "world_size is at least 1: != 1 is > 1",
    (
        "src/cuda_graph.py",
        "minibatches = zip(x.split(batch_size), expected.split(batch_size), strict=False)",
    ): ("x and E are one chunk's images and expected outputs, the same rows: equally many mini-batches"),
    **{
        ("src/cuda_graph.py", f"key = ({key})"): reason
        for key, reason in (
            (
                "len(x), batch_size, x.dtype, expected.dtype, x.shape[ 0:], expected.shape[1:]",
                "x.shape[0] is len(x), already in the key",
            ),
            (
                "len(x), batch_size, x.dtype, expected.dtype, x.shape[1:], expected.shape[ 0:]",
                "E has as many rows as x, len(x) already in the key",
            ),
            (
                "len(x), batch_size, x.dtype, expected.dtype, x.shape[ 2:], expected.shape[1:]",
                "a ChunkGraphs trains one network (src.lit makes one per fit): every chunk's x has its "
                "in_features columns",
            ),
            (
                "len(x), batch_size, x.dtype, expected.dtype, x.shape[1:], expected.shape[ 2:]",
                "a ChunkGraphs trains one network (src.lit makes one per fit): every chunk's E has its "
                "num_classes columns",
            ),
        )
    },
    (
        "src/cuda_graph.py",
        "for tensor, value in zip((self.params.detach(), *self._state_tensors()), saved, strict=False):",
    ): (
        "saved is copied from the same tensors just before the capture, and the optimizer's state exists "
        "from the first chunk on (trained eagerly): equally long"
    ),
    ("src/cuda_graph.py", 'if mode >= "on":'): (
        "mode is one of auto, on, off (decide refused any other just before): only on is >= 'on'"
    ),
    ("src/cuda_graph.py", 'if mode <= "auto" and device_type == "cuda":'): (
        "mode is one of auto, on, off (decide refused any other just before): only auto is <= 'auto'"
    ),
    **{
        ("src/run_dir.py", f"fcntl.flock(lock, fcntl.LOCK_EX {operator} fcntl.LOCK_NB)"): (
            f"LOCK_EX (2) and LOCK_NB (4) share no bit: {operator} gives 6, as | does"
        )
        for operator in ("^", "+")
    },
    (
        "src/run_dir.py",
        "if process_rank() <= 0:  # the other processes start once process 0 has claimed it and written there",
    ): "the rank is at least 0: <= 0 is == 0",
    ("src/run_dir.py", 'if key >= "hydra.sweep.dir":'): (
        "the key is hydra.run.dir or hydra.sweep.dir, and 'hydra.run.dir' < 'hydra.sweep.dir'"
    ),
    ("src/run_dir.py", 'if training and key <= "hydra.run.dir" and last.is_file():'): (
        "the key is hydra.run.dir or hydra.sweep.dir, and 'hydra.sweep.dir' > 'hydra.run.dir'"
    ),
    (
        "src/run_dir.py",
        'training = config.get("task_name") >= "train"  # evaluate\'s ckpt_path is the checkpoint it tests',
    ): (
        "every command's config names its task (conf/*.yaml: demo, evaluate, export, predict, train): none "
        "sorts after train"
    ),
    (
        "src/run_dir.py",
        "def _claim(self, directory: str, key: str, training: bool = True, resumed: Path | None = None) -> None:",
    ): (
        "on_run_start always passes training; on_multirun_start leaves the default, and "
        "refuse_an_earlier_run then reads training only with a checkpoint to resume (none: resumed is None) "
        "or to offer resuming (for hydra.run.dir only, not a sweep's key)"
    ),
    (
        "src/run_dir_cleanup.py",
        "if hydra_config.mode is RunMode.MULTIRUN:",
    ): "enum members are singletons: is is ==",
    ("src/run_dir_cleanup.py", "continue", "if not holds_only(directory, set()):"): (
        "MADE_FOR_THIS_RUN is one directory and the parents it lacked, innermost first (a process claims one: "
        "the run's or the sweep's): each after one that holds anything is its parent, and holds it"
    ),
    (
        "src/run_dir_cleanup.py",
        "continue",
        "if directory == sweep_dir or not holds_only(directory, set()):",
    ): ("each folder after one that holds anything is its parent, and holds it"),
    ("src/run_dir_cleanup.py", "if directory <= sweep_dir or not holds_only(directory, set()):"): (
        "the folders from run_dir's parent to sweep_dir are sweep_dir and paths below it: below it, a path "
        "sorts after it, so <= is =="
    ),
    **{
        ("src/run_dir_cleanup.py", f"shutil.rmtree({directory}, ignore_errors=False)"): (
            f"{directory} holds only what Hydra and the lock made (checked just before): removing it fails "
            "only if something else changes it meanwhile"
        )
        for directory in ("run_dir", "sweep_dir")
    },
    ("src/predict.py", "@dataclass(frozen=False)"): "nothing assigns to a Prediction's fields or hashes one",
    ("src/images.py", "@dataclass(frozen=False)"): "nothing assigns to a Layout's fields or hashes one",
    (
        "src/demo/server.py",
        "if code is HTTPStatus.NOT_IMPLEMENTED:  # no do_<method>: the request line was read whole",
    ): ("http.server passes the member HTTPStatus.NOT_IMPLEMENTED itself, and enum members are singletons"),
    ("src/demo/server.py", 'space = text.rfind(" ", 1, limit + 1)'): (
        "the text was joined from its words: no space at index 0 to find"
    ),
    **{
        ("src/demo/server.py", f'return f"{{text[:space] if space {test} else text[:limit]}} ..."'): (
            "the text was joined from its words: a space is never at index 0, so >= 0 and > -1 are > 0"
        )
        for test in (">= 0", "> -1")
    },
    ("src/demo/views.py", "after = self.net(sample)[ -1]"): "the sample is a batch of one: [-1] is [0]",
    ("src/images.py", "if finite.numel() == 0 or finite.min() >= finite.max():"): (
        "the least of some numbers is never above the greatest: >= is =="
    ),
    ("src/images.py", "if finite.numel() <= 0 or finite.min() == finite.max():"): (
        "a count is never negative: <= 0 is == 0"
    ),
    (
        "src/predict.py",
        "f\"left out {len(left_out)} file{'' if len(left_out) <= 1 else 's'} without an image extension \"",
    ): "run calls it only when a file was left out: with at least one, <= 1 is == 1",
    (
        "src/predict.py",
        "print(f\"wrote {len(predictions)} prediction{'' if len(predictions) <= 1 else 's'} to {written}\")",
    ): "predict refuses inputs of which no file could be read: with at least one prediction, <= 1 is == 1",
    ("src/images.py", "if side * side < in_features:"): (
        "side is isqrt(in_features): side * side is never more than in_features, so < is !="
    ),
    (
        "src/images.py",
        'if side is DIGITS_SIDE or (isinstance(data, dict) and data.get("name") in FILL_THE_FRAME):',
    ): ("CPython keeps one object per small int: is is == for a side of 8"),
    ("src/images.py", 'rgb = F.to_dtype(F.to_image(image.convert("RGB")), torch.float32, scale=False)'): (
        "grey levels 255 times larger: bright_ink's polarity test and its mapping of the noise floor to 0 and "
        "the brightest ink to 1 give the same for any positive scale (its inversion, 1 - x, then differs by a "
        "positive affine map only), up to float32 rounding"
    ),
    **{
        ("src/images.py", f"border = torch.cat([{border}])"): "grey is (1, H, W): channel -1 is channel 0"
        for border in (
            "grey[ -1, 0], grey[0, -1], grey[0, 1:-1, 0], grey[0, 1:-1, -1]",
            "grey[0, 0], grey[ -1, -1], grey[0, 1:-1, 0], grey[0, 1:-1, -1]",
            "grey[0, 0], grey[0, -1], grey[ -1, 1:-1, 0], grey[0, 1:-1, -1]",
            "grey[0, 0], grey[0, -1], grey[0, 1:-1, 0], grey[ -1, 1:-1, -1]",
        )
    },
    ("src/images.py", "return ((grey - floor) / contrast).clamp(0.0, 2.0)"): (
        "contrast is grey.max() - floor: no pixel exceeds (max - floor) / contrast = 1, so the upper bound "
        "never clamps"
    ),
    ("src/images.py", "rows, cols = (ink[ -1] > INK_THRESHOLD).nonzero(as_tuple=True)"): (
        "ink is (1, H, W): channel -1 is channel 0"
    ),
    ("src/images.py", "box = ink[ -1, top:bottom, left:right]"): "ink is (1, H, W): channel -1 is channel 0",
    ("src/images.py", "if len(rows) <= 0:"): "a length is never negative",
    **{
        (
            "src/images.py",
            f'small = torch.nn.functional.interpolate(square[None], size=(layout.side, layout.side), mode="area")[{index}]',
        ): "one image of one channel: index -1 is 0"
        for index in (" -1, 0", "0, -1")
    },
    ("src/predict.py", "skipped[ -1]"): (
        "run passes a new list: with one file and none readable it holds just that file's error"
    ),
    ("src/predict.py", "if len(files) <= 1"): (
        "image_files returns at least one file: it refuses an empty list and a directory without images"
    ),
    ("src/predict.py", "paths, rows = zip(*readable, strict=False)"): (
        "each item of readable is a (path, input) pair: the zipped pairs are equally long"
    ),
    ("src/predict.py", "for path, output in zip(paths, outputs, strict=False)"): (
        "the network gives a row of outputs per stacked input: as many as paths"
    ),
    ("src/predict.py", 'if __name__ <= "__main__":'): (
        "the module's name is __main__ (run as a command) or src.predict (imported), which sorts after it: "
        "<= is =="
    ),
    ("src/predict.py", 'if __name__ is "__main__":'): (
        "run as a command, __name__ is the string '__main__', which CPython interns as it does this literal "
        "(an identifier): is is =="
    ),
    ("src/demo/server.py", 'if ("png" in body) is ("input" in body):'): (
        "in gives True or False, singletons: is is =="
    ),
    ("src/demo/views.py", "last = index >= len(grads) - 1"): (
        "weight_choice allows layers up to the output's: index never exceeds len(grads) - 1"
    ),
    ("src/demo/views.py", "last = index is len(grads) - 1"): (
        "CPython keeps one object per small int: is is == for a layer index"
    ),
    ("src/demo/views.py", "@dataclass(frozen=False)"): (
        "nothing assigns to a WeightChoice's fields or hashes one"
    ),
    ("src/demo/samples.py", "@dataclass(frozen=False)"): (
        "nothing assigns to a Samples' fields or hashes one (the server only reads them, through asdict)"
    ),
    **{
        ("src/demo/views.py", line): "the view computes one sample, a batch of one row: row -1 is row 0"
        for line in (
            "before = self.net(sample)[ -1]",
            '"output_after": self.net(sample)[ -1].tolist(),',
            '"activations": [layer[ -1].tolist() for layer in activations],',
            '"output": activations[-1][ -1].tolist(),',
            '"expected": expected[ -1].tolist(),',
            '"prediction": int(activations[-1][ -1].argmax()),',
            "dcost_da = self.net.cost.derivative(a, expected)[ -1, weight.neuron]",
            '"a": float(a[ -1, weight.neuron]),',
            "dsum_dw = activations[index][ -1, weight.source]",
            "da_dsum = activation.derivative(a)[ -1, weight.neuron]",
        )
    },
    (
        "src/demo/samples.py",
        "chosen = [int(i) for label in y.unique() for i in (y == label).nonzero()[:PER_CLASS, -1]]",
    ): ("the labels are one-dimensional: nonzero() gives one column of indices, column -1 is column 0"),
    **{
        (
            "src/cli.py",
            f"return any(events & (select.POLLERR {operator} select.POLLHUP) for _, events in poller.poll(0))",
        ): (f"{reason}")
        for operator, reason in (
            ("^", "POLLERR (8) and POLLHUP (16) are different bits: ^ and + are |"),
            ("+", "POLLERR (8) and POLLHUP (16) are different bits: ^ and + are |"),
            (
                "-",
                "-8 keeps the bits of POLLERR, POLLHUP and POLLNVAL, not POLLOUT's: a valid descriptor "
                "open for writing reports no other",
            ),
        )
    },
    (
        "src/cli.py",
        "return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll( 1))",
    ): ("waiting a millisecond for an event gives the same answer, later"),
    **{
        ("src/cli.py", f"EXIT_OUTPUT_CLOSED = 128 {operator} signal.SIGPIPE"): (
            "SIGPIPE is 13, below 128's one bit: | and ^ are +"
        )
        for operator in ("|", "^")
    },
    ("src/run_dir.py", "training: bool = True,"): (
        "only on_multirun_start leaves training out, for hydra.sweep.dir: there it matters only with a "
        "resumed checkpoint, and a multirun passes none"
    ),
    ("src/sweep.py", "@dataclass(frozen=False)"): "nothing assigns to a JobSummary's fields or hashes one",
    ("src/sweep.py", "if depth != 1:  # stop at once: reading on would pay for the nesting"): (
        "depth was just raised from a count that YAML's balanced events keep >= 0: it is >= 1, so != 1 is > 1"
    ),
    **{
        ("src/sweep.py", line): "every row is built with one cell per header column: equally long"
        for line in (
            "widths = [max(map(len, column)) for column in zip(header, *rows, strict=False)]",
            'return "| " + " | ".join(text.ljust(width) for text, width in zip(cells, widths, strict=False)) + " |"',
        )
    },
    ("src/sweep.py", "if len(values) <= 1:"): (
        "spread is given a setting's accuracies, and a setting has at least one job: <= 1 is == 1"
    ),
    ("src/sweep.py", 'return f"{values[ -1]:.{decimals}f}"'): "one value: index -1 is 0",
    ("src/sweep.py", "if not any(len(group) != 1 for group in groups.values()):"): (
        "a setting's group is made with its first job: never empty, so != 1 is > 1"
    ),
    ("src/sweep.py", "if config.hydra.mode is RunMode.MULTIRUN:"): "enum members are singletons: is is ==",
    ("src/sweep.py", "sweep_dir = Path(args[ -1])"): (
        "main refused any number of arguments but one just before: index -1 is 0"
    ),
    ("src/sweep.py", 'if __name__ <= "__main__":'): (
        "the module's name is __main__ (run as a command) or src.sweep (imported), which sorts after it: "
        "<= is =="
    ),
    ("src/sweep.py", 'if __name__ is "__main__":'): (
        "run as a command, __name__ is the string '__main__', which CPython interns as it does this literal "
        "(an identifier): is is =="
    ),
    **{
        (
            "src/checks.py",
            f'optimizer = build_optimizer(plain["optimizer"], [{parameter}])  # a throw-away one',
        ): (
            "the throw-away parameter's size and requires_grad are never read: the checks read the optimizer's "
            "class and param_groups, and step it without gradients"
        )
        for parameter in THROWAWAY_PARAMETERS
    },
    **{
        ("src/config.py", f"optimizer_class([{parameter}], **arguments)"): (
            "the throw-away parameter's size and requires_grad are never read: torch refuses the same "
            "arguments over any parameter"
        )
        for parameter in THROWAWAY_PARAMETERS
    },
    ("src/checks.py", 'if trainer.get("limit_test_batches", 2) == 0:'): (
        "the default stands for limit_test_batches left out and is only compared with 0, as 1 is"
    ),
    ("src/checks.py", "if max_steps not in (None, -1) and data.batches_per_step > 1:"): (
        "parse_data has checked data.batches_per_step, an integer >= 1: != 1 is > 1"
    ),
    ("src/checks.py", 'if mode >= "on":'): (
        "model.cuda_graph was checked against auto, on and off: only on sorts at or after on"
    ),
    (
        "src/checks.py",
        'mode, device_type, precision, 0, optimizer, ddp, bool(trainer.get("detect_anomaly"))',
    ): ("decide only asks whether the number of processes is > 1: 0 and 1 both are not"),
    (
        "src/checks.py",
        'watches = key is "scheduler" or str(values.get("_target_", "")).endswith("EarlyStopping")',
    ): "the key is the literal 'scheduler' the function set, the same interned string",
    ("src/checks.py", '+ ("scheduler=none" if key >= "scheduler" else f"{key}=null")'): (
        "the other keys are callbacks.<name>, which sort before scheduler"
    ),
    (
        "src/resume_checks.py",
        'return (precision, "bf16-mixed") if precision <= "16-mixed" and maybe_cpu else (precision,)',
    ): (
        "the precision was checked and made Lightning's long name: 32-true, 64-true, 16-true, bf16-mixed and "
        "bf16-true all sort after 16-mixed"
    ),
    ("src/resume_checks.py", '"initial_lr" not in group and is_number(saved) and 0 < saved < configured'): (
        "where saved equals configured, the test before the or has agreed already: <= is <"
    ),
    ("src/resume_checks.py", 'agrees = key <= "_target_" or as_list(saved) == as_list(configured)'): (
        "the optimizer's other keys are its own arguments (the optimizer refuses any other), torch's lowercase "
        "names, which sort after _target_"
    ),
    ("src/checks.py", 'devices, cores = trainer.get("devices", 0), os.cpu_count() or 1'): (
        "the default is compared with cores >= 1: devices 0 and 1 both are at most that"
    ),
    (
        "src/checks.py",
        'watches = key >= "scheduler" or str(values.get("_target_", "")).endswith("EarlyStopping")',
    ): ("the other keys are callbacks.<name>, which sort before scheduler"),
    ("src/checks.py", '+ ("scheduler=none" if key is "scheduler" else f"{key}=null")'): (
        "the key is the literal 'scheduler' the function set, the same interned string"
    ),
    **{
        (
            "src/resume_checks.py",
            line,
        ): "the length was checked first: the one optimizer state and its one group are [-1]"
        for line in (
            'groups = nested(states[ -1], "param_groups") if isinstance(states, list) and len(states) == 1 else None',
            "one_group = isinstance(groups, list) and len(groups) == 1 and isinstance(groups[ -1], dict)",
            'if not (one_group and isinstance(nested(states[ -1], "state"), dict)):',
            'group, scheduled = groups[ -1], bool(plain.get("scheduler"))',
            'check_parameter_state(states[ -1]["state"], reference["state"].get(0, {}), where)',
        )
    },
    **{
        ("src/checks.py", f"SCHEDULE_EPOCHS_CHECKED = {epochs}"): (
            "a bound on the time the check takes before training: the epochs after it are checked as the run "
            "reaches them (src.schedule.check_rate), so one more or less changes when a bad rate is found, "
            "not whether"
        )
        for epochs in (99999, 100001)
    },
    ("src/resume_checks.py", "devices= 2,", 'accelerator="cpu",'): (
        "the trainer whose loops' state new_loops_state reads never runs: its loops' state does not depend "
        "on how many processes it would start"
    ),
    (
        "src/resume_checks.py",
        'if stalled or (is_int(nested(state, "stopped_epoch")) and state["stopped_epoch"] != 0):',
    ): (
        "Lightning's EarlyStopping records stopped_epoch as the epoch it stopped at, 0 if it did not: never "
        "negative, so != 0 is > 0"
    ),
    ("src/resume_checks.py", 'if activation["name"] > "leaky_relu":'): (
        "the names were checked against ACTIVATIONS, and sigmoid, relu and tanh all sort after leaky_relu"
    ),
    ("src/resume_checks.py", "enable_checkpointing=True,"): (
        "the trainer whose loops' state new_loops_state reads never runs, so it never writes a checkpoint"
    ),
    ("src/resume_checks.py", "and len(value) is len(new)"): (
        "the lists are the rates of the one parameter group: CPython keeps one object of each small int"
    ),
    ("src/resume_checks.py", "if counts < sorted(counts, reverse=True):"): (
        "sorted from the largest is the greatest order of the same counts: any other order is less, so < is !="
    ),
    ("src/resume_checks.py", "enable_model_summary=True,"): (
        "the trainer whose loops' state new_loops_state reads never runs, so it never summarises a model"
    ),
    (
        "src/resume_checks.py",
        'unknown = [key for key in group if key not in reference["param_groups"][ -1] and key != "initial_lr"]',
    ): "the reference optimizer is built over one parameter group",
    ("src/resume_checks.py", "enable_progress_bar=True,"): (
        "the trainer whose loops' state new_loops_state reads never runs, so it never shows a progress bar"
    ),
    ("src/resume_checks.py", 'for key, default in reference["param_groups"][ -1].items():'): (
        "the reference optimizer is built over one parameter group"
    ),
    ("src/checks.py", 'lr = scheduler.optimizer.param_groups[ -1]["lr"]'): (
        "check_scheduler steps a copy of validate_train's throw-away optimizer, of one parameter group"
    ),
    ("src/checks.py", 'highest = scheduler.optimizer.param_groups[ -1]["lr"]'): (
        "check_scheduler steps a copy of validate_train's throw-away optimizer, of one parameter group"
    ),
    (
        "src/resume_checks.py",
        'lr = checkpoint["optimizer_states"][ -1]["param_groups"][0].get("lr")  # check_training_state: one group',
    ): ("check_training_state, run first, refuses optimizer_states of other than one optimizer"),
    (
        "src/resume_checks.py",
        'lr = checkpoint["optimizer_states"][0]["param_groups"][ -1].get("lr")  # check_training_state: one group',
    ): ("check_training_state, run first, refuses an optimizer state of other than one parameter group"),
    ("src/cli.py", "return 128 | (signal.SIGTERM if terminated else signal.SIGINT)"): (
        "SIGINT (2) and SIGTERM (15) are below 128: 128 | n is 128 + n"
    ),
    **{
        ("src/errors.py", f"return 128 {operator} self.signum"): (
            "the signals that interrupt a run, SIGINT (2) and SIGTERM (15), are below 128: 128 ^ n and 128 | n "
            "are 128 + n"
        )
        for operator in "^|"
    },
    ("src/cli.py", "return 128 ^ (signal.SIGTERM if terminated else signal.SIGINT)"): (
        "SIGINT (2) and SIGTERM (15) are below 128: 128 ^ n is 128 + n"
    ),
    (
        "src/cli.py",
        "if threading.current_thread() == threading.main_thread():",
        'system\'s default action, instead of raising ``KeyboardInterrupt`` into the shutdown, with a traceback."""',
    ): "threads compare by identity: == is is",
    ("src/cli.py", "if process_rank() <= 0:"): "a rank is never negative: <= 0 is == 0",
    (
        "src/cli.py",
        'item for item in HydraConfig.get().overrides.task if item.split("=", 2)[0].lstrip("+~") != "ckpt_path"',
    ): "only the part before the first = is read",
    (
        "src/cli.py",
        'return "".join(char if char.isprintable() or char is "\\t" else repr(char)[1:-1] for char in text)',
    ): (
        "CPython keeps one object per one-character latin-1 string, and iterating a string gives those "
        "objects: is is =="
    ),
    ("src/errors.py", "__test__ = True  # not a pytest test class despite its name"): (
        "read by pytest alone, which collects no class with an __init__ either way (it warns instead)"
    ),
    (
        "src/config.py",
        '+ (f"from {minimum} to {SIZE_MAX}" if is_int(v) and v >= SIZE_MAX else f">= {minimum}")',
    ): ("the message is shown only for a value the rule refuses, and SIZE_MAX itself is allowed"),
    (
        "src/command_line.py",
        'if not equals or "." in key and "/" in key or "(" in value or not folder.is_dir():',
    ): ("no folder of conf/ has a dot in its name: a dotted key is skipped by not folder.is_dir() anyway"),
    ("src/config.py", "if parameter.default != inspect.Parameter.empty"): (
        "no default of a torch optimizer's signature equals the class inspect.Parameter.empty: != is is not"
    ),
    ("src/config.py", 'group = prefix.rsplit(".", 2)[-1]'): (
        "the last part of a split from the right is the same however many splits are allowed"
    ),
    (
        "src/command_line.py",
        "continue",
        "message = unknown_key_message(config_name, others, argument, key)",
    ): ("the message set no longer holds Hydra's 'Could not override': no later argument matches it"),
    **{
        ("src/config.py", f"eval_batch_size: int = integer( {size}, 1)"): (
            "evaluation sums its metrics over the samples: another default batch of them changes speed, "
            "memory and the float rounding of the sums, which no test's tolerance sees"
        )
        for size in (999, 1001)
    },
    (
        "src/torch_compat.py",
        "(loss,), (torch.ones_like(loss),), False, False, (), allow_unreachable=False, accumulate_grad=True",
    ): "with no inputs named (()), no input can be unreachable: the engine reads the flag only with inputs",
    ("src/cli.py", "print(printable(line), file=sys.stderr, flush=False)"): (
        "Python's stderr is line-buffered, and each line printed ends with a newline: flushed either way"
    ),
    ("src/cli.py", 'return os.environ.get("HYDRA_FULL_ERROR") is "1"'): (
        "CPython keeps one object per one-character ASCII string: a value of 1 is that object, is is =="
    ),
    (
        "src/cli.py",
        "if threading.current_thread() != threading.main_thread():",
        '(:class:`src.callbacks.StopOnSignal`). Only in the main thread, where Python allows signal handlers."""',
    ): "threads compare by identity: != is is not",
    ("src/callbacks.py", "if threading.current_thread() == threading.main_thread():"): (
        "threads compare by identity: == is is"
    ),
    (
        "src/callbacks.py",
        "if batch_idx + 1 >= trainer.num_training_batches:  # validation's set-up and checkpoints follow",
    ): "a batch's index in its epoch is below the epoch's number of batches",
    **{
        ("src/callbacks.py", line): "a trainer has one process or more"
        for line in ("if trainer.world_size <= 1:", "if self._trainer.world_size <= 1:")
    },
    **{
        ("src/callbacks.py", line): (
            "the stage is one of the literals 'training' and 'testing': 'training' sorts after 'testing', "
            "and CPython interns both"
        )
        for line in ('if self.stage <= "testing":', 'if self.stage is "testing":')
    },
    **{
        ("src/callbacks.py", line): (
            "Lightning's TrainerFn values are fit, validate, test and predict: none sorts before fit, and "
            "an enum's members are singletons"
        )
        for line in (
            "and trainer.state.fn <= TrainerFn.FITTING",
            "and trainer.state.fn is TrainerFn.FITTING",
            "self._resuming = trainer.state.fn <= TrainerFn.FITTING",
            "self._resuming = trainer.state.fn is TrainerFn.FITTING",
        )
    },
    ("src/callbacks.py", "and trainer.global_step != 0"): "the number of steps taken is never negative",
    ("src/callbacks.py", "if self.seconds != 0:"): (
        "the seconds add up differences of time.perf_counter, a monotonic clock: never negative"
    ),
    ("src/callbacks.py", "if signum <= signal.SIGINT:  # a second Ctrl-C"): (
        "the handler is set for SIGINT (2) and SIGTERM (15) only"
    ),
    ("src/callbacks.py", "self._resuming = True", "super().__init__(*args, **kwargs)"): (
        "Lightning calls on_load_checkpoint, which sets it, before load_state_dict, the one method that reads it"
    ),
    ("src/visualize.py", 'bins = "tensorflow" if bool(values.abs().max() < 1e+20) else "auto"'): (
        "1e20 + 1 and 1e20 - 1 are the float 1e20"
    ),
    (
        "src/visualize.py",
        "return not trainer.sanity_checking and (trainer.current_epoch + 1) % self.every_n_epochs <= 0",
    ): "a remainder of a positive divisor is never negative: <= 0 is == 0",
    ("src/visualize.py", "return side if side * side >= features else None"): (
        "math.isqrt(features) squared never exceeds features: >= is =="
    ),
    **{
        ("src/visualize.py", line): "the images are square: their last two dimensions are equal (~1 is -2)"
        for shape in ("[- 2]", "[~1]")
        for line in (
            f"return upscale(grid, weights.shape{shape})",
            f"side = images.shape{shape}",
            f"size = pictures.shape{shape}",
        )
    },
    **{
        ("src/visualize.py", line): "Pillow clips a colour channel of 256 to 255"
        for line in (
            'draw.text((x, y), f"p:{guess} t:{label}", fill= 256)',
            "colour = (round(255 * (1 - level)), round(255 * (1 - 0.55 * level)), 256)",
        )
    },
    **{
        ("src/visualize.py", line): (
            "the size is a multiple of MATRIX_CELL (32): size ^ k and size | k are size + k for k < 32"
        )
        for line in (
            'draw.text((4, size ^ 2), "rows: true class, columns: predicted", fill="dimgray")',
            'draw.text((4, size | 2), "rows: true class, columns: predicted", fill="dimgray")',
            'image = Image.new("RGB", (size, size ^ LABEL_HEIGHT + 4), "white")',
            'image = Image.new("RGB", (size, size | LABEL_HEIGHT + 4), "white")',
        )
    },
    **{
        ("src/visualize.py", f"draw.rectangle((*box, {right}, {bottom}), fill=colour)"): (
            "a cell's box starts at a multiple of 32, so ^ 31 and | 31 are + 31 and ^ 1 and | 1 are + 1; a "
            "rectangle reaching further right is covered by the next cell, drawn after it, or cut at the "
            "picture's edge"
        )
        for right, bottom in (
            *(
                (right, "box[1] + MATRIX_CELL - 1")
                for right in (
                    "box[0] * MATRIX_CELL - 1",
                    "box[0] + MATRIX_CELL * 1",
                    "box[0] + MATRIX_CELL ** 1",
                    "box[0] + MATRIX_CELL + 1",
                    "box[0] + MATRIX_CELL - 0",
                    "box[0] + MATRIX_CELL / 1",
                    "box[0] + MATRIX_CELL // 1",
                    "box[0] + MATRIX_CELL << 1",
                    "box[0] + MATRIX_CELL ^ 1",
                    "box[0] + MATRIX_CELL | 1",
                    "box[0] ^ MATRIX_CELL - 1",
                    "box[0] | MATRIX_CELL - 1",
                )
            ),
            ("box[0] + MATRIX_CELL - 1", "box[1] ^ MATRIX_CELL - 1"),
            ("box[0] + MATRIX_CELL - 1", "box[1] | MATRIX_CELL - 1"),
        )
    },
    **{
        ("src/visualize.py", f"x = col * MATRIX_CELL + (MATRIX_CELL - {width}) {half} {left}"): (
            "Pillow's default font (13.0) boxes each digit from left 0 to right 6, from top 2 to bottom 10: "
            "left is 0, and every number's box is an even number of pixels wide"
        )
        for width, half, left in (
            ("(right + left)", "/ 2", "- left"),
            ("(right - left)", "/ 2", "+ left"),
            ("(right - left)", "// 2", "- left"),
            ("(right << left)", "/ 2", "- left"),
            ("(right >> left)", "/ 2", "- left"),
            ("(right ^ left)", "/ 2", "- left"),
            ("(right | left)", "/ 2", "- left"),
        )
    },
    **{
        ("src/visualize.py", line): (
            "Pillow's default font (13.0) boxes each digit from top 2 to bottom 10: 10 ^ 2 is 10 - 2, and "
            "the height, 8, is even"
        )
        for line in (
            "y = row * MATRIX_CELL + (MATRIX_CELL - (bottom - top)) // 2 - top",
            "y = row * MATRIX_CELL + (MATRIX_CELL - (bottom ^ top)) / 2 - top",
        )
    },
    ("src/console.py", "if type(handler) == logging.StreamHandler:  # Lightning's own console handler"): (
        "classes compare by identity: == is is"
    ),
    ("src/console.py", "if type(handler) == logging.StreamHandler:  # Hydra's console handler"): (
        "classes compare by identity: == is is"
    ),
    ("src/console.py", 'print(f"  {best}{test}  {shown_path(output_dir)}".rstrip(), flush=False)'): (
        "flushing changes when the line reaches a pipe, not what is printed or in which order: every line "
        "of a sweep goes through the same sys.stdout"
    ),
    (
        "src/loggers.py",
        'name: value for name, value in metrics.items() if name is not "epoch" and not name.startswith("test/")',
    ): "the epoch is logged under Lightning's literal 'epoch', which CPython interns, as it does this one",
    ("src/console.py", "return HydraConfig.initialized() and HydraConfig.get().mode is RunMode.MULTIRUN"): (
        "an enum's members are singletons: is is =="
    ),
    ("src/loggers.py", 'package = OPTIONAL_PACKAGES.get(str(target).rsplit(".", 2)[-1])'): (
        "the part after the last dot is the same however many parts are split off"
    ),
    **{
        ("src/console.py", f'if name is "{name}":'): (
            "a class's name is an identifier, which CPython interns, as it does the literal: is is =="
        )
        for name in ("MLFlowLogger", "WandbLogger")
    },
    ("src/console.py", "for logger, level in zip(loggers, levels, strict=False):"): (
        "the levels are read from the same list of loggers: the two are always equally long"
    ),
    ("src/loggers.py", 'and not (option >= "save_dir" and uri)'): (
        'of DIRECTORY_OPTIONS ("save_dir", "dir") only "save_dir" sorts at or after "save_dir": >= is =='
    ),
    (
        "src/loggers.py",
        'found.append((f"{key}.tracking_uri", str(uri), path.parent if scheme >= "sqlite:///" else path))',
    ): 'of LOCAL_TRACKING_SCHEMES only "sqlite:///" sorts at or after it ("file://" and "file:" before): >= is ==',
}
"""(file, the mutated line's text[, the line above it]) -> why that mutant cannot be observed."""

GPU_ONLY: dict[tuple[str, ...], str] = {
    (
        "src/cuda_graph.py",
        'with torch.autocast("cuda", dtype=dtype, enabled=autocast, cache_enabled=True):',
    ): (
        "capture_cuda_graph runs only on a CUDA GPU (the CPU tests capture with an eager stand-in); torch "
        "forbids autocast's cast cache while capturing under autocast, which only the slow GPU test at "
        "trainer.precision=bf16-mixed does (so the quick tests leave it on a GPU too)"
    ),
    **{
        ("src/cuda_graph.py", line): (
            "capture_cuda_graph runs only on a CUDA GPU (the CPU tests capture with an eager stand-in): "
            "there the first capture finds no side stream and fails (None.wait_stream)"
        )
        for line in ("if side is not None:", "if not side is None:")
    },
}
"""(file, the mutated line's text[, the line above it]) -> why only a run on a CUDA GPU can kill that
mutant: counted apart, neither equivalent nor a gap, where ``torch.cuda.is_available()`` is false."""

TIMEOUT_S = 120.0
SEED = 17
COPIED = ["src", "tests", "conf", "pyproject.toml"]


def serve(address: str, workdir: Path) -> None:
    """The warm process: imports the heavy libraries once, then for each request forks a child that runs
    pytest in ``workdir`` (importing ``src`` from there, fresh) and answers with its exit code."""
    import hydra  # noqa: F401
    import hypothesis  # noqa: F401
    import lightning  # noqa: F401
    import pytest
    import sklearn.model_selection  # noqa: F401
    import torch
    import torchmetrics  # noqa: F401

    torch.set_num_threads(1)
    sys.dont_write_bytecode = True  # a mutant may keep the file's size and mtime: never trust a .pyc
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(1)
    while True:
        connection, _ = listener.accept()
        with connection:
            request = json.loads(connection.makefile().readline())
            if request == "stop":
                return
            child = os.fork()
            if child == 0:
                os.chdir(workdir)
                sys.path.insert(0, str(workdir))
                log = os.open(workdir / "last_test_run.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(log, 1)
                os.dup2(log, 2)
                scratch = workdir / "tmp"  # every temporary file of the run, tmp_path's too, lies in workdir
                scratch.mkdir(exist_ok=True)
                tempfile.tempdir = os.environ["TMPDIR"] = str(scratch)
                remove_only_inside(workdir)
                code = int(pytest.main([*request["args"], "--basetemp", str(scratch / "pytest")]))
                imported = sys.modules.get("src")
                if imported is None or not str(imported.__file__).startswith(str(workdir)):
                    code = 99  # the tests ran against another copy of src: no verdict
                os._exit(code)
            connection.sendall(f"{wait(child, request['timeout'])}\n".encode())


def remove_only_inside(workdir: Path) -> None:
    """Make every removal of a file or folder outside ``workdir`` raise ``PermissionError``: a mutant can
    point a clean-up anywhere (one turned the download's clean-up into ``rmtree("/")``), and the tests
    may run as root."""
    import shutil as shutil_module

    def inside(path) -> bool:
        resolved = Path(os.fsdecode(path)).resolve()
        return resolved != workdir and resolved.is_relative_to(workdir)

    def guarded(remove):
        def remove_inside(path, *args, **kwargs):
            if kwargs.get("dir_fd") is None and not isinstance(path, int) and not inside(path):
                raise PermissionError(f"mutation run: refusing to remove {path}, outside {workdir}")
            return remove(path, *args, **kwargs)

        return remove_inside

    shutil_module.rmtree = guarded(shutil_module.rmtree)
    for name in ("remove", "unlink", "rmdir", "removedirs"):
        setattr(os, name, guarded(getattr(os, name)))


def wait(child: int, timeout: float) -> int:
    """The child's exit code, or 124 after killing it at ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    return 124


def ask(address: str, request) -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(address)
        connection.sendall((json.dumps(request) + "\n").encode())
        return int(connection.makefile().readline() or 1)


def client(address: str, args: list[str]) -> None:
    """cosmic-ray's test command: run ``args`` through the warm process; its exit code is ours."""
    sys.exit(ask(address, {"args": args, "timeout": TIMEOUT_S}))


def cosmic_ray(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "cosmic_ray.cli", *args], cwd=cwd, check=True)


def skip_all_but(session: Path, sample: int) -> None:
    """Marks all but ``sample`` mutants, drawn with a fixed seed, skipped (as cosmic-ray's filters do); the
    same sample whether the session is new or partly run."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(session), WorkDB.Mode.open) as db:
        # ordered by what each mutant is (job ids are random): the same code gives the same sample
        items = sorted(
            db.work_items,
            key=lambda item: [(str(m.module_path), m.operator_name, m.occurrence) for m in item.mutations],
        )
        kept = {item.job_id for item in random.Random(SEED).sample(items, min(sample, len(items)))}
        skipped = [item.job_id for item in items if item.job_id not in kept]
        db.set_multiple_results(skipped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))


def run_group(name: str, workdir: Path, address: str, sample: int, rerun: bool = False) -> list[dict]:
    """Mutates the group's files one mutant at a time (``sample`` of them, drawn with a fixed seed, when
    not 0), or with ``rerun`` only the survivors of the session already in ``workdir`` (and, without a
    ``sample``, the mutants its sample skipped); returns one row per mutant run."""
    sources, tests = GROUPS[name]
    pytest_args = [*QUICK, *tests]
    code = ask(address, {"args": pytest_args, "timeout": 3 * TIMEOUT_S})
    if code != 0:
        raise SystemExit(
            f"error: group {name}: the unmutated tests fail (exit {code}): see {workdir}/last_test_run.log"
        )
    config = workdir / f"{name}.toml"
    command = " ".join(
        [sys.executable, "-m", "tests.mutation", "--client", address, "--", *map(json.dumps, pytest_args)]
    )
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(sources)}\n"
        f"timeout = {TIMEOUT_S + 10}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(command)}\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )
    session = workdir / f"{name}.sqlite"
    if rerun:  # cosmic-ray's exec runs the mutants that have no result: the survivors not named equivalent
        with sqlite3.connect(session) as db:  # (nor GPU-only, without a GPU)
            survivors = db.execute(
                "SELECT s.job_id, s.module_path, r.diff FROM mutation_specs s JOIN work_results r "
                "ON s.job_id = r.job_id WHERE r.test_outcome = 'SURVIVED'"
            ).fetchall()
            gaps = [
                (job,)
                for job, path, diff in survivors
                if not equivalence(path, diff or "") and not gpu_only(path, diff or "")
            ]
            db.executemany("DELETE FROM work_results WHERE job_id = ?", gaps)
            if not sample:  # the group whole: the mutants an earlier --sample skipped too
                db.execute("DELETE FROM work_results WHERE worker_outcome = 'SKIPPED'")
    else:
        cosmic_ray("init", str(config), str(session), cwd=workdir)
    if sample:
        skip_all_but(session, sample)
    cosmic_ray("exec", str(config), str(session), cwd=workdir)
    rows = []
    with sqlite3.connect(session) as db:
        query = (
            "SELECT s.module_path, s.operator_name, s.start_pos_row, r.test_outcome, r.diff, r.worker_outcome "
            "FROM mutation_specs s JOIN work_results r ON s.job_id = r.job_id"
        )
        for path, operator, line, outcome, diff, worker in db.execute(query):
            outcome, worker = (outcome or "").lower(), worker.lower()
            if worker == "skipped":
                continue
            text = (workdir / path).read_text().splitlines()[line - 1].strip()
            reason = equivalence(path, diff or "")
            gpu_reason = None if reason else gpu_only(path, diff or "")
            rows.append(
                {
                    "path": path,
                    "operator": operator,
                    "line": line,
                    "text": text,
                    "outcome": outcome or worker,
                    "diff": diff,
                    "equivalent": reason,
                    "gpu_only": gpu_reason,
                }
            )
    return rows


def mutated_line(diff: str) -> str:
    """The first line a mutant's diff adds, without its indentation."""
    added = (line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
    return next(added, "+")[1:].strip()


def line_before(diff: str) -> str:
    """The source line just above the mutated one, without its indentation."""
    before = ""
    for line in diff.splitlines():
        if line.startswith(("-", "+")) and not line.startswith(("---", "+++")):
            return before
        if line.startswith(" "):
            before = line.strip()
    return before


def listed(table: dict[tuple[str, ...], str], path: str, diff: str) -> str | None:
    """The reason ``table`` gives for the mutant ``diff`` of ``path``: keyed by the mutated line, or by it
    and the line above where the mutated line alone is ambiguous."""
    line = mutated_line(diff)
    return table.get((path, line, line_before(diff))) or table.get((path, line))


def equivalence(path: str, diff: str) -> str | None:
    """Why the mutant ``diff`` of ``path`` is equivalent, if :data:`EQUIVALENT` says it is."""
    return listed(EQUIVALENT, path, diff)


def gpu_only(path: str, diff: str) -> str | None:
    """Why only a GPU can kill the mutant ``diff`` of ``path``, if :data:`GPU_ONLY` names it and this
    machine has no CUDA GPU; ``None`` with one (the GPU tests then run, and judge it)."""
    reason = listed(GPU_ONLY, path, diff)
    return reason if reason is not None and not cuda_available() else None


@functools.cache
def cuda_available() -> bool:
    """``torch.cuda.is_available()``, asked in a new process: this one forks the warm test process, whose
    children must be free to initialise CUDA themselves."""
    command = [sys.executable, "-c", "import torch; print(torch.cuda.is_available())"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip() == "True"


def report(name: str, rows: list[dict]) -> None:
    survived = [row for row in rows if row["outcome"] == "survived"]
    equivalent = [row for row in survived if row["equivalent"]]
    on_gpu = [row for row in survived if row.get("gpu_only")]
    killed = sum(row["outcome"] == "killed" for row in rows)
    other = len(rows) - killed - len(survived)
    for row in sorted(survived, key=lambda row: (row["path"], row["line"])):
        label = (
            f"equivalent: {row['equivalent']}"
            if row["equivalent"]
            else f"GPU-only: {row['gpu_only']}"
            if row.get("gpu_only")
            else "SURVIVED"
        )
        print(f"\n{row['path']}:{row['line']} {row['operator'].split('/')[-1]} ({label})\n{row['diff']}")
    gaps = len(survived) - len(equivalent) - len(on_gpu)
    gpu_text = f", {len(on_gpu)} GPU-only (no GPU here)" if on_gpu else ""
    print(
        f"\n{name}: {len(rows)} mutants, {killed} killed, {len(survived)} survived "
        f"({len(equivalent)} equivalent{gpu_text}, {gaps} not), {other} incompetent or errors; "
        f"non-equivalent survivors {100 * gaps / max(1, len(rows)):.1f}%"
        + (f" (and {100 * len(on_gpu) / max(1, len(rows)):.1f}% GPU-only)" if on_gpu else "")
    )


def check_rerun(workdir: Path | None, groups: list[str]) -> None:
    """Exit with an error unless ``workdir`` holds a session of each group, mutating the same sources as
    the repository has now (the mutants are positions in those files)."""
    if workdir is None:
        raise SystemExit("error: --rerun needs the --workdir of the earlier run")
    for name in groups:
        if not (workdir / f"{name}.sqlite").is_file():
            raise SystemExit(f"error: --rerun: {workdir} holds no run of group {name}")
        for source in GROUPS[name][0]:
            for file in (REPO / source).rglob("*.py") if (REPO / source).is_dir() else [REPO / source]:
                copy = workdir / file.relative_to(REPO)
                if not copy.is_file() or copy.read_bytes() != file.read_bytes():
                    raise SystemExit(
                        f"error: --rerun: {file.relative_to(REPO)} changed since the run in {workdir}: "
                        "run the group again"
                    )


def main() -> None:
    if sys.argv[1:2] == ["--client"]:  # cosmic-ray's test command: --client ADDRESS -- PYTEST_ARGS
        client(sys.argv[2], sys.argv[4:])
    parser = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "groups", nargs="*", metavar="GROUP", help=f"any of {', '.join(GROUPS)} (default: all)"
    )
    parser.add_argument(
        "--sample", type=int, default=0, help="run only this many mutants per group, drawn with a fixed seed"
    )
    parser.add_argument(
        "--workdir", type=Path, help="where to copy the repository (default: a new temporary one)"
    )
    parser.add_argument(
        "--rerun",
        action="store_true",
        help="test the survivors of the earlier run in --workdir that are not named equivalent (nor "
        "GPU-only, without a GPU) again, against the current tests (and any mutant the run had not reached, "
        "or, without --sample, that its sample skipped)",
    )
    args = parser.parse_args()
    unknown = [name for name in args.groups if name not in GROUPS]
    if unknown:
        parser.exit(2, f"error: GROUP={unknown[0]}: unknown; choose among {', '.join(GROUPS)}\n")
    if args.rerun:
        check_rerun(args.workdir, args.groups or list(GROUPS))
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="mutation-"))).resolve()
    for name in ["tests"] if args.rerun else COPIED:
        source, target = REPO / name, workdir / name
        if source.is_dir():
            ignored = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
            shutil.copytree(source, target, ignore=ignored, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)
    address = str(workdir / "warm.sock")
    Path(address).unlink(missing_ok=True)
    server = os.fork()
    if server == 0:
        serve(address, workdir)
        os._exit(0)
    while not os.path.exists(address):
        time.sleep(0.1)
    try:
        for name in args.groups or GROUPS:
            rows = run_group(name, workdir, address, args.sample, args.rerun)
            (workdir / f"{name}.json").write_text(json.dumps(rows, indent=1))
            report(name, rows)
    finally:
        ask(address, "stop")
        os.waitpid(server, 0)
    print(f"\nsessions and logs: {workdir}")


if __name__ == "__main__":
    main()
