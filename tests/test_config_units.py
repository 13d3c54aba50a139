"""Fast checks of src/config.py's rules and src/command_line.py's checks, calling each directly: the values
at each rule's edges, accepted and refused, and the exact one-line refusal. The commands that print these
lines and exit with 2 are run whole in tests/test_errors.py."""

import importlib.util
import inspect
import shlex
import sys
from pathlib import Path
from typing import Any, Literal, Optional, Union
from unittest import mock

import pytest
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from runs import refused

import src.config as config
from src.command_line import (
    check_command_line,
    known_top_level_keys,
    null_groups_as_deletions,
    override_of,
    refuse_bad_search_settings,
    refuse_search_without_its_sweeper,
    refuse_unknown_group_options,
)
from src.config import (
    FLOAT32_MAX,
    FLOAT32_TINY,
    OPTIMIZERS,
    SEED_MAX,
    SIZE_MAX,
    compose_config,
    group_options,
    is_one_number,
    optimizer_arguments,
    parse,
    parse_data,
    same,
    show,
)

DIGITS = "src.data.DigitsDataModule"
SYNTHETIC = "src.data.SyntheticDataModule"
TORCHVISION = "src.data.TorchvisionDataModule"


def checked(config_name: str, argv: list[str]) -> None:
    """``check_command_line`` as the entry point of ``config_name`` runs it, on the command line ``argv``
    (after the program's name)."""
    with mock.patch.object(sys, "argv", [f"{config_name}.py", *argv]):
        check_command_line(config_name)


def command_line_refusal(capsys, config_name: str, argv: list[str]) -> str:
    """What ``check_command_line`` prints, with its exit code 2 checked."""
    with pytest.raises(SystemExit) as stop:
        checked(config_name, argv)
    assert stop.value.code == 2
    return capsys.readouterr().err


# --- src/config.py ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("slope", [0, -0.01, float("inf"), "0.1"])
def test_leaky_relus_slope_must_be_a_finite_number_above_0(slope):
    shown = {"0.1": '"0.1"'}.get(slope, slope)
    assert refused(
        parse, config.Activation, {"name": "leaky_relu", "negative_slope": slope}, "activation"
    ) == (f"activation.negative_slope={shown}: the slope of leaky_relu for x < 0 must be a finite number > 0")
    assert parse(config.Activation, {"negative_slope": 1e-6}, "activation").negative_slope == 1e-6


def test_a_hidden_layer_of_one_neuron_is_allowed_and_none_is_not():
    assert parse(config.Model, {"hidden": [1, 16]}, "model").hidden == [1, 16]
    assert parse(config.Model, {"hidden": []}, "model").hidden == []
    assert refused(parse, config.Model, {"hidden": [1, 0]}, "model") == (
        "model.hidden=[1, 0]: every hidden layer size must be an integer >= 1"
    )


@pytest.mark.parametrize(
    ("value", "shown"), [(-0.1, "-0.1"), (0, "0"), (1, "1"), (1.5, "1.5"), ("0.5", '"0.5"'), (True, "true")]
)
def test_a_split_fraction_outside_0_and_1_or_not_a_number_is_refused(value, shown):
    assert refused(parse_data, {"_target_": DIGITS, "val_fraction": value}) == (
        f"data.val_fraction={shown}: must be a number between 0 and 1 (exclusive)"
    )


def test_the_validation_and_test_fractions_must_leave_training_data():
    assert refused(parse_data, {"_target_": DIGITS, "val_fraction": 0.5, "test_fraction": 0.5}) == (
        "data.val_fraction=0.5 and data.test_fraction=0.5: together they must be < 1, to leave training data"
    )
    settings, _ = parse_data({"_target_": DIGITS, "val_fraction": 0.5, "test_fraction": 0.49})
    assert (settings.val_fraction, settings.test_fraction) == (0.5, 0.49)


def test_a_split_fraction_too_small_for_every_class_names_the_smallest():
    """Each of the 10 classes needs an image in each split: 10 of the 1797 images at least."""
    for key in ("val_fraction", "test_fraction"):
        assert refused(parse_data, {"_target_": DIGITS, key: 0.0055}) == (  # 9.9 images
            f"data.{key}=0.0055: must hold at least one image of each of the 10 classes: "
            "at least 0.0056 of the 1797 images"
        )
    smallest = 10 / 1797  # exactly 10 images
    settings, _ = parse_data({"_target_": DIGITS, "val_fraction": smallest, "test_fraction": 0.0056})
    assert (settings.val_fraction, settings.test_fraction) == (smallest, 0.0056)


@pytest.mark.parametrize(
    ("root", "shown"),
    [(5, "5"), (["data"], "[data]"), ("${oc.env:HOME}", "${oc.env:HOME}"), ("", '""'), (" ", '" "')],
)
def test_a_data_root_must_be_a_plain_string_naming_a_folder(root, shown):
    """A checkpoint's ``data.root`` is data: an interpolation in it is refused, never resolved. An empty
    one (``data.root=$UNSET``) was the working directory, where ``download=true`` would write."""
    assert refused(parse_data, {"_target_": TORCHVISION, "root": root}) == (
        f"data.root={shown}: must name a folder: a plain string, not empty"
    )
    assert parse_data({"_target_": TORCHVISION, "root": "$HOME/{data}"})[0].root == "$HOME/{data}"


@pytest.mark.parametrize("target", ["os.system", "src.data.InMemoryDataModule", None, 5])
def test_data_names_a_module_of_the_allow_list(target):
    shown = {None: "null"}.get(target, target)
    assert refused(parse_data, {"_target_": target}) == (
        f"data._target_={shown}: must name a data module of src.data "
        "(data=digits, data=fashion_mnist, data=mnist or data=synthetic_mnist)"
    )


def test_mnist_and_its_stand_in_split_as_the_essay_does():
    """Nielsen's split of MNIST: 50,000 training and 10,000 validation images of the official 60,000, and
    the official 10,000 for testing; ``data=synthetic_mnist`` makes the same sizes."""
    mnist, _ = parse_data({"_target_": TORCHVISION})
    assert (mnist.val_size, mnist.split_seed) == (10_000, 0)  # the split the README's MNIST results used
    assert parse_data({"_target_": TORCHVISION, "val_size": 1})[0].val_size == 1
    assert refused(parse_data, {"_target_": TORCHVISION, "val_size": 0}) == (
        "data.val_size=0: the number of validation images must be an integer >= 1"
    )
    synthetic, _ = parse_data({"_target_": SYNTHETIC})
    assert (synthetic.train_size, synthetic.val_size, synthetic.test_size) == (50_000, 10_000, 10_000)


def test_one_synthetic_image_per_split_is_allowed_and_none_is_not():
    settings, _ = parse_data({"_target_": SYNTHETIC, "train_size": 1, "val_size": 1, "test_size": 1})
    assert (settings.train_size, settings.val_size, settings.test_size) == (1, 1, 1)
    for key in ("train_size", "val_size", "test_size"):
        assert refused(parse_data, {"_target_": SYNTHETIC, key: 0}) == (
            f"data.{key}=0: must be an integer >= 1"
        )


def test_synthetic_data_larger_than_this_machines_memory_is_one_line(monkeypatch):
    monkeypatch.setattr(config, "memory_bytes", lambda: 3 * 2**29)  # 1.5 GiB
    sizes = {"train_size": 1_000_000, "val_size": 10_000, "test_size": 10_000}
    assert refused(parse_data, {"_target_": SYNTHETIC, **sizes}) == (
        "data.train_size=1000000, val_size=10000, test_size=10000: 1020000 random 28x28 float32 images take "
        "3.0 GiB, more than this machine's 1.5 GiB of memory"
    )
    monkeypatch.setattr(config, "memory_bytes", lambda: 1_020_000 * 28 * 28 * 4)  # exactly enough
    parse_data({"_target_": SYNTHETIC, **sizes})


@pytest.mark.skipif(not Path("/proc/meminfo").is_file(), reason="Linux's /proc/meminfo")
def test_this_machines_memory_is_what_linux_counts():
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total_kib = next(line.split()[1] for line in meminfo if line.startswith("MemTotal:"))
    assert config.memory_bytes() == int(total_kib) * 1024


def test_an_integer_may_be_as_large_as_its_rule_allows_and_no_larger():
    assert parse(config.Data, {"batch_size": SIZE_MAX}, "data").batch_size == SIZE_MAX
    assert refused(parse, config.Data, {"batch_size": SIZE_MAX + 1}, "data") == (
        f"data.batch_size={SIZE_MAX + 1}: the mini-batch size must be an integer from 1 to {SIZE_MAX}"
    )
    assert parse(config.Data, {"seed": SEED_MAX}, "data").seed == SEED_MAX
    assert refused(parse, config.Data, {"seed": SEED_MAX + 1}, "data") == (
        f"data.seed={SEED_MAX + 1}: must be an integer from 0 to {SEED_MAX}"
    )


def test_a_value_from_a_file_is_the_same_only_where_it_plainly_equals():
    assert same(0.5, 0.5) and same([0.9, 0.99], [0.9, 0.99]) and same(0, 0.0) and same("max", "max")
    assert not same(torch.tensor(0.5), 0.5)
    assert not same(torch.tensor([0.5, 0.5]), 0.5)
    assert not same([torch.tensor([1.0, 2.0])], [3.0])
    assert not same({"a": torch.tensor([1.0, 2.0])}, {"a": 1.0})
    assert not same("0.5", 0.5) and not same(None, 0.5)


def test_one_number_is_a_float_tensor_of_one_element_that_is_no_nan():
    assert is_one_number(torch.tensor(0.5)) and is_one_number(
        torch.tensor([float("inf")], dtype=torch.float64)
    )
    for value in (torch.zeros(0), torch.zeros(2), torch.tensor(1), torch.tensor(float("nan")), 0.5, None):
        assert not is_one_number(value), value


def test_a_tensor_shows_its_one_number_or_only_its_shape():
    shown = [show(value) for value in (torch.tensor(0.5), torch.tensor([0.5]), torch.tensor(True))]
    assert shown == ["0.5", "[0.5]", "true"]
    assert show(torch.zeros(1000, 3)) == "a tensor of shape [1000, 3]"
    assert show(torch.zeros(0)) == "a tensor of shape [0]"  # no number to show
    assert show(torch.tensor(float("nan"))) == "nan"


@pytest.mark.parametrize(
    ("value", "shown"),
    [("", '""'), ("  ", '"  "'), ("true", '"true"'), ("Null", '"Null"'), ("1e-3", '"1e-3"'), ("a b", "a b")],
)
def test_a_string_is_shown_quoted_where_it_would_read_as_another_value_or_nothing(value, shown):
    """``data.root=: must name a folder`` showed no value at all."""
    assert show(value) == shown


@pytest.mark.parametrize(
    ("target", "shown"), [(["torch.optim.SGD"], "[torch.optim.SGD]"), ({"a": 1}, "{a: 1}")]
)
def test_a_target_that_is_no_name_is_one_line(target, shown):
    """A list or mapping can't be looked up in the tables of names: it was a TypeError (unhashable)."""
    assert refused(optimizer_arguments, {"_target_": target, "lr": 0.1}).startswith(
        f"optimizer._target_={shown}: must name a torch.optim optimizer class, e.g. torch.optim.SGD"
    )


def test_an_optimizer_argument_may_be_null_or_true_or_false():
    values = {"_target_": "torch.optim.SGD", "lr": 0.1, "nesterov": False, "maximize": True, "foreach": None}
    assert optimizer_arguments(values) == (
        torch.optim.SGD,
        {k: v for k, v in values.items() if k != "_target_"},
    )
    assert refused(optimizer_arguments, {**values, "foreach": "yes"}) == (
        "optimizer.foreach=yes: must be true, false or null (torch.optim.SGD's default: null)"
    )


def test_a_checkpoints_optimizer_is_refused_naming_its_key_and_the_group_to_choose_from():
    prefix = "hyper_parameters.optimizer"
    assert refused(optimizer_arguments, {"_target_": "builtins.dict"}, prefix) == (
        f"{prefix}._target_=builtins.dict: must name a torch.optim optimizer class, e.g. torch.optim.SGD (or "
        f"choose optimizer={group_options('optimizer')}; allowed: {', '.join(OPTIMIZERS)})"
    )
    assert refused(optimizer_arguments, {"_target_": "torch.optim.LBFGS"}, prefix).endswith(
        "; choose another optimizer"
    )


ADAM = {"_target_": "torch.optim.Adam", "lr": 0.1}
SGD = {"_target_": "torch.optim.SGD", "lr": 0.1}


@pytest.mark.parametrize(
    "values, message",
    [
        # an IndexError in Adam's own check of betas
        ({**ADAM, "betas": [0.9]}, "optimizer.betas=[0.9]: must be a list of 2 numbers"),
        ({**ADAM, "betas": []}, "optimizer.betas=[]: must be a list of 2 numbers"),
        ({**ADAM, "betas": ["0.9", 0.99]}, 'optimizer.betas=["0.9", 0.99]: must be a list of 2 numbers'),
        ({**ADAM, "betas": 0.9}, "optimizer.betas=0.9: must be a list of 2 numbers"),
        ({**ADAM, "amsgrad": 1}, "optimizer.amsgrad=1: must be true or false"),
        # accepted by SGD's constructor, a TypeError in the second momentum step
        ({**SGD, "momentum": 0.9, "dampening": [0.1]}, "optimizer.dampening=[0.1]: must be a number"),
        ({**SGD, "momentum": True}, "optimizer.momentum=true: must be a number"),
        ({**SGD, "weight_decay": None}, "optimizer.weight_decay=null: must be a number"),
    ],
)
def test_an_optimizer_argument_must_be_of_the_kind_of_torchs_default(values, message):
    key = message.split("=")[0].removeprefix("optimizer.")
    default = inspect.signature(OPTIMIZERS[values["_target_"]]).parameters[key].default
    shown = show(list(default) if isinstance(default, tuple) else default)
    assert refused(optimizer_arguments, values) == f"{message} ({values['_target_']}'s default: {shown})"


@pytest.mark.parametrize(
    "key, value",
    [
        ("_partial_", True),
        ("LR", True),
        ("betas", [0.9, 0.99]),
        ("params", 1),
        ("closure", {"_target_": "os.system"}),
    ],
)
def test_an_argument_the_optimizer_does_not_take_is_refused_with_those_it_takes(key, value):
    """Every key but ``_target_`` is an argument of torch's optimizer, whatever it sorts like: none is
    dropped without a word, and ``params`` is the network's."""
    assert refused(optimizer_arguments, {**SGD, key: value}) == (
        f"optimizer.{key}={show(value)}: torch.optim.SGD takes no argument {key}; its arguments are lr, "
        "momentum, dampening, weight_decay, nesterov, maximize, foreach, differentiable, fused"
    )


def test_every_allowed_optimizer_takes_its_own_defaults():
    """Every argument with a default in the signature of each optimizer of the allow-list is of a kind
    argument_kind knows, and its default is of that kind (a new torch may add kinds)."""
    for target, optimizer_class in OPTIMIZERS.items():
        defaults = {
            name: list(parameter.default) if isinstance(parameter.default, tuple) else parameter.default
            for name, parameter in inspect.signature(optimizer_class).parameters.items()
            if parameter.default is not inspect.Parameter.empty
        }
        assert optimizer_arguments({"_target_": target, **defaults, "lr": 0.1})[1] == {**defaults, "lr": 0.1}


def test_the_learning_rate_may_be_any_normal_float32():
    for lr in (FLOAT32_TINY, FLOAT32_MAX):
        optimizer_class, arguments = optimizer_arguments({"_target_": "torch.optim.SGD", "lr": lr})
        assert (optimizer_class, arguments) == (torch.optim.SGD, {"lr": lr})
    for lr in (FLOAT32_TINY / 2, FLOAT32_MAX * 1.0000001):
        assert refused(optimizer_arguments, {"_target_": "torch.optim.SGD", "lr": lr}).startswith(
            f"optimizer.lr={lr}: the learning rate must be a finite number > 0 (from 1.175e-38 to 3.403e+38, "
        )


class Annotated:
    """A class of every kind of argument annotation_kind judges, and of some it leaves alone."""

    def __init__(
        self,
        flag: bool = False,
        count: int = 1,
        rate: float = 0.5,
        name: str = "a",
        limit: float | None = None,
        side: Literal["min", "max"] = "min",
        folder: Path | str = ".",
        loose=1,
    ) -> None:
        self.count = count


class PassesOn(Annotated):
    """Its ``**kwargs`` go to :class:`Annotated`: it takes their arguments too."""

    def __init__(self, *args, extra: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)


class Own(Annotated):
    """Without ``**kwargs``: only its own argument reaches the class."""

    def __init__(self, size: int = 1) -> None:
        super().__init__()


@pytest.mark.parametrize(
    ("annotation", "words", "accepted", "refused_values"),
    [
        (bool, "true or false", [True, False], [0, 1, None, "true"]),
        (int, "an integer", [0, -3, 2**70], [1.5, True, "1", None]),
        (float, "a number", [0, 1.5, -1, float("inf")], [float("nan"), True, "1.5", None]),
        (str, "a string", ["", "val/acc"], [1, None, True]),
        (float | None, "a number or null", [None, 0.5, 2], ["x", True, float("nan")]),
        (Optional[float], "a number or null", [None, 0.5], ["x"]),  # noqa: UP045 (Lightning's spelling)
        (Optional[bool], "true, false or null", [None, True], [0, "auto"]),  # noqa: UP045
        (Union[bool, Literal["link"], None], "true, false, link or null", [True, "link", None], ["links", 1]),  # noqa: UP007
        (Literal["min", "max"], "min or max", ["min", "max"], ["mean", None, 1]),
        (int | str, "an integer or a string", [3, "x"], [1.5, None]),
    ],
)
def test_an_annotation_says_what_an_argument_must_be(annotation, words, accepted, refused_values):
    kind, is_of_kind = config.annotation_kind(annotation)
    assert kind == words
    assert all(is_of_kind(value) for value in accepted)
    assert not any(is_of_kind(value) for value in refused_values)


@pytest.mark.parametrize(
    "annotation",
    [Path, Path | str, dict[str, int], list[int], Any, Literal[1], inspect.Parameter.empty, Optional[Path]],  # noqa: UP045
)
def test_an_annotation_no_plain_value_is_judged_by_is_left_to_the_class(annotation):
    assert config.annotation_kind(annotation) is None


def test_a_class_takes_the_arguments_its_kwargs_pass_on_to_its_bases():
    base = {
        "flag": bool,
        "count": int,
        "rate": float,
        "name": str,
        "limit": float | None,
        "side": Literal["min", "max"],
        "folder": Path | str,
        "loose": inspect.Parameter.empty,
    }
    assert config.class_arguments(Annotated) == base
    assert config.class_arguments(PassesOn) == {"extra": int, **base}
    assert config.class_arguments(Own) == {"size": int}
    assert config.class_arguments(dict) == {}  # a builtin: no signature to read


class Inherits(PassesOn):
    """No ``__init__`` of its own: it takes what :class:`PassesOn` takes."""


class NotAnExpression:
    """An annotation ``typing.get_type_hints`` fails on with a ``SyntaxError``."""

    def __init__(self, broken: "int[" = 0, count: int = 0) -> None:  # noqa: F722
        pass


class NoSuchAttribute:
    """An annotation ``typing.get_type_hints`` fails on with an ``AttributeError``."""

    def __init__(self, missing: "Path.no_such_name" = 0, count: int = 0) -> None:
        pass


def test_a_class_without_its_own_init_takes_its_bases_arguments():
    assert config.class_arguments(Inherits) == config.class_arguments(PassesOn)


@pytest.mark.parametrize(("cls", "unreadable"), [(NotAnExpression, "broken"), (NoSuchAttribute, "missing")])
def test_arguments_whose_annotations_cannot_be_read_are_taken_unjudged(cls, unreadable):
    assert config.class_arguments(cls) == {
        unreadable: inspect.Parameter.empty,
        "count": inspect.Parameter.empty,
    }


def test_the_rules_of_a_base_class_apply_to_its_subclasses_unless_they_have_their_own():
    name = f"{Annotated.__module__}.{Annotated.__qualname__}"
    at_least_1, at_least_2, half = config.integer(1, 1), config.integer(1, 2), config.fraction(0.5)
    rules = {
        name: {"count": at_least_1, "rate": half},
        f"{name[: -len('Annotated')]}PassesOn": {"count": at_least_2},
    }
    assert config.rules_of(Annotated, rules) == {"count": at_least_1, "rate": half}
    assert config.rules_of(PassesOn, rules) == {"count": at_least_2, "rate": half}
    assert config.rules_of(int, rules) == {}


def test_a_classs_arguments_follow_their_rules_else_their_annotations():
    rules = {f"{Annotated.__module__}.Annotated": {"count": config.integer(1, 0, "the count")}}
    for arguments in (
        {},
        {"flag": True, "count": 0, "rate": 2, "name": "x", "limit": None, "side": "max"},
        {"folder": 3, "loose": [1], "extra": 2, "unknown": "left to the class"},
    ):
        config.check_class_arguments(PassesOn, arguments, "things.mine", rules)
    for arguments, message in (
        ({"count": -1}, "things.mine.count=-1: the count must be an integer >= 0"),
        ({"count": 1.5}, "things.mine.count=1.5: the count must be an integer >= 0"),
        ({"flag": "yes"}, "things.mine.flag=yes: must be true or false"),
        ({"rate": "0.5"}, 'things.mine.rate="0.5": must be a number'),
        ({"limit": "none"}, "things.mine.limit=none: must be a number or null"),
        ({"side": "up"}, "things.mine.side=up: must be min or max"),
        ({"extra": None}, "things.mine.extra=null: must be an integer"),
    ):
        assert refused(config.check_class_arguments, PassesOn, arguments, "things.mine", rules) == message


# --- src/command_line.py ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        # the top level takes no new key (refuse_unknown_top_level_keys), so +foo=1 is not offered
        (["foo=1"], "foo=1: there is no setting foo; see conf/train.yaml"),
        (["sed=1"], "sed=1: there is no setting sed (did you mean seed?); see conf/train.yaml"),
        (
            ["modle.hidden=[4]"],
            "modle.hidden=[4]: there is no setting modle.hidden (did you mean model?); see conf/train.yaml",
        ),
        # a group whose settings src/config.py fixes takes no new key either: its settings are listed
        (
            ["seed=1", "model.hiddden=[4]"],
            "model.hiddden=[4]: model has no setting hiddden (did you mean model.hidden?); its settings are "
            "hidden, backprop, init, cuda_graph",
        ),
        (  # as composed with data=mnist, given after it
            ["data.rot=x", "data=mnist"],
            "data.rot=x: data has no setting rot (did you mean data.root?); its settings are batch_size, "
            "batches_per_step, eval_batch_size, seed, name, root, download, val_size, split_seed",
        ),
        (  # as composed with data=mnist, and with the other typo left out
            ["data=mnist", "data.rot=x", "model.hiddden=[4]"],
            "data.rot=x: data has no setting rot (did you mean data.root?); its settings are batch_size, "
            "batches_per_step, eval_batch_size, seed, name, root, download, val_size, split_seed",
        ),
        # Lightning's and torch's arguments may be added
        (
            ["trainer.max_epoch=3"],
            "trainer.max_epoch=3: there is no setting trainer.max_epoch (did you mean trainer.max_epochs?); to "
            "add a new key, write +trainer.max_epoch=3",
        ),
        (
            ["optimizer.nesterow=true"],
            "optimizer.nesterow=true: there is no setting optimizer.nesterow; to add a new key, write "
            "+optimizer.nesterow=true",
        ),
        (
            ["callbacks.early_stopping.patiense=2"],
            "callbacks.early_stopping.patiense=2: this configuration has no callbacks.early_stopping; see the "
            "options in conf/callbacks/",
        ),
        (
            ["scheduler.gamma=0.5"],
            "scheduler.gamma=0.5: scheduler holds no settings here; to set gamma, write +scheduler.gamma=0.5",
        ),
    ],
)
def test_an_override_of_a_key_the_configuration_lacks_is_one_line_with_what_to_do(capsys, argv, message):
    """A tester followed "to add a new key, write +foo=1" and "+model.hiddden=[4]" to another refusal."""
    assert command_line_refusal(capsys, "train", argv) == f"error: {message}\n"


def test_a_multirun_is_checked_as_hydra_composes_it_before_its_sweep(capsys):
    """Under -m, typos got Hydra's several lines and exit code 1 (a tester), and the README's MNIST sweep
    failed in Hydra: the experiments bring data=mnist, but Hydra sets data.root before choosing them."""
    assert command_line_refusal(capsys, "train", ["-m", "seed=1,2", "sed=3"]) == (
        "error: sed=3: there is no setting sed (did you mean seed?); see conf/train.yaml\n"
    )
    readme = ["-m", "experiment=essay_mnist,nielsen_ch1,best_mlp", "seed=1,2,3", "data.root=DIR"]
    assert command_line_refusal(capsys, "train", readme) == (
        "error: data.root=DIR: a multirun sets it before its jobs choose experiment, on the default "
        "configuration, which has no data.root; write ++data.root=DIR (set, or add where missing), or choose "
        "on the command line too the option that has it (data=mnist has data.root)\n"
    )
    for fixed in (
        ["-m", *readme[1:3], "data=mnist", "data.root=DIR"],
        ["-m", *readme[1:3], "++data.root=DIR"],
    ):
        checked("train", fixed)  # passes, as Hydra then composes it
        compose_config("train", ["experiment=best_mlp", *fixed[3:]])  # and each job


def test_a_sweeps_choice_of_options_is_checked_like_a_list(capsys):
    """``choice(...)`` was left to Hydra, which refused it after making the sweep's directory."""
    assert command_line_refusal(capsys, "train", ["-m", "activation=choice(relu,softmax)"]) == (
        "error: activation=softmax is not an option of activation: choose one of leaky_relu, relu, sigmoid, tanh\n"
    )
    checked("train", ["-m", "activation=choice(relu,tanh)", "seed=range(1,3)"])


@pytest.mark.parametrize("argument", ["model.hidden=[8]", "+model.hidden=[8]", "+optimizer.lr=5"])
def test_evaluate_refuses_settings_of_the_network_it_takes_from_the_checkpoint(capsys, argument):
    """``+model.hidden=[8]`` was advised, then accepted, recorded and ignored (a tester)."""
    key = argument.lstrip("+").partition("=")[0]
    assert command_line_refusal(capsys, "evaluate", ["ckpt_path=x", argument]) == (
        f"error: {argument}: there is no setting {key}; see conf/evaluate.yaml\n"
    )
    assert known_top_level_keys("evaluate") == {
        "ckpt_path",
        "data",
        "hydra",
        "paths",
        "run_suffix",
        "task_name",
        "trainer",
    }


@pytest.mark.parametrize(
    "argument, fix, value",
    [
        ("inputs=digit (1).png", """'inputs="digit (1).png"'""", "digit (1).png"),  # a browser's download
        ("inputs=café.png", """'inputs="café.png"'""", "café.png"),
        ("inputs=it's.png", """'inputs="it'"'"'s.png"'""", "it's.png"),
        ("inputs=a#b.png", """'inputs="a#b.png"'""", "a#b.png"),
        ('inputs=a"b c.png', """'inputs="a\\"b c.png"'""", 'a"b c.png'),
    ],
)
def test_a_value_hydra_cannot_read_unquoted_is_one_line_with_the_quoted_override(
    capsys, argument, fix, value
):
    """Hydra's own message was its parser's (``mismatched input ' (' expecting <EOF>``), naming neither the
    argument nor the fix (a tester). The fix given is one the shell and Hydra read as the value meant."""
    assert command_line_refusal(capsys, "predict", ["ckpt_path=x", argument]) == (
        f"error: {argument}: Hydra's override parser cannot read this value unquoted; a name or text with "
        f"spaces, brackets, quotes, # or letters outside ASCII must be quoted: {fix}\n"
    )
    [override] = OverridesParser.create().parse_overrides(shlex.split(fix))
    assert override.value() == value


def test_a_list_hydra_cannot_read_says_how_a_list_is_written(capsys):
    assert command_line_refusal(capsys, "train", ["model.hidden=[16,"]) == (
        "error: model.hidden=[16,: Hydra's override parser cannot read this value unquoted (no viable "
        "alternative at input '[16,'): a list is written [16,16], a mapping {a:1}; a name or text with "
        """spaces, brackets, quotes, # or letters outside ASCII must be quoted: 'model.hidden="[16,"'\n"""
    )


@pytest.mark.parametrize(
    "argument, fix",
    [
        (
            "data.root=~/datasets",
            """'data.root="~/datasets"', or let the shell expand it: data.root=$HOME/datasets""",
        ),
        ("+data.root=a~b", """'+data.root="a~b"'"""),
    ],
)
def test_an_unquoted_tilde_is_one_line_saying_how_to_write_it(capsys, argument, fix):
    """Hydra's own message was its lexer's exception, naming neither the cause nor the fix (a tester)."""
    assert command_line_refusal(capsys, "evaluate", ["ckpt_path=x", argument]) == (
        f"error: {argument}: Hydra's override parser refuses an unquoted ~; quote the value: {fix}\n"
    )
    unbalanced = command_line_refusal(capsys, "train", ["""data.root="~/none"""])  # Hydra's reason then
    assert unbalanced == (
        """error: data.root="~/none: Hydra's override parser cannot read it (LexerNoViableAltException: """
        """data.root="~/none ^)\n"""
    )
    assert command_line_refusal(
        capsys, "train", ["data=mnist", """data.root="~/none" """.strip(), "foo=1"]
    ) == (
        "error: foo=1: there is no setting foo; see conf/train.yaml\n"  # quoted, the ~ passes
    )


def test_evaluate_is_told_to_add_a_data_setting_over_the_checkpoints(capsys):
    assert command_line_refusal(capsys, "evaluate", ["ckpt_path=x", "data.batch_size=5"]) == (
        "error: data.batch_size=5: data holds no settings here; to set batch_size, write +data.batch_size=5\n"
    )


def test_another_override_hydra_cannot_apply_is_hydras_message_on_one_line(capsys):
    printed = command_line_refusal(capsys, "train", ["+seed=1"])
    assert printed.startswith("error: Could not append to config. An item is already at 'seed'")
    assert printed.count("\n") == 1


def test_a_group_given_an_option_is_left_as_it_is():
    given = ["train.py", "logger=tensorboard", "optimizer=sgd", "+experiment=essay_mnist", "seed=nullx"]
    argv = list(given)
    null_groups_as_deletions(argv)
    assert argv == given


@pytest.mark.parametrize(
    "argv",
    [
        ["--experimental-rerun", "run/.hydra/config.pickle"],
        ["seed=1", "--experimental-rerun=x.pickle"],
        ["--e", "x.pickle"],  # argparse's abbreviation of the flag
        ["--experimental-re=x.pickle"],
    ],
)
def test_a_rerun_from_a_pickle_is_refused_before_hydra_unpickles_it(capsys, argv):
    assert command_line_refusal(capsys, "evaluate", argv) == (
        "error: --experimental-rerun: refused: it unpickles its file, which runs any code the file holds; "
        "run the command again with the overrides saved in the run's .hydra/overrides.yaml\n"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["-cn", "predict"],
        ["--config-name=nope"],
        ["--config-n", "nope"],
        ["-cp", "/x"],
        ["--config-path", "/x"],
    ],
)
def test_another_configuration_than_the_commands_own_is_refused(capsys, argv):
    """``python -m src.train -cn predict`` was refused for ``run_suffix``, a key of predict's (a tester)."""
    assert command_line_refusal(capsys, "train", argv) == (
        f"error: {argv[0].partition('=')[0]}: each command reads its own configuration, conf/train.yaml; "
        "change it with overrides (key=value, group=option), or keep a set of them in conf/experiment/ and "
        "give experiment=NAME\n"
    )


def test_a_config_dir_must_be_a_folder(capsys, tmp_path):
    """Hydra's report of a missing one was several lines, exit code 1 (a tester)."""
    for argv, shown in (
        (["--config-dir", str(tmp_path / "no")], f"--config-dir {tmp_path / 'no'}"),
        ([f"-cd={tmp_path / 'no'}"], f"-cd {tmp_path / 'no'}"),
        (["seed=1", "-cd"], "-cd "),
    ):
        assert command_line_refusal(capsys, "train", argv) == (
            f"error: {shown}: not a folder; give a folder of configuration files\n"
        )
    checked("train", ["--config-dir", str(tmp_path), "seed=1"])
    checked("train", [f"-cd={tmp_path}"])


def test_the_command_line_checked_is_sys_argv_after_the_program(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["train.py", "data=mnst"])
    with pytest.raises(SystemExit):
        check_command_line("train")
    assert capsys.readouterr().err.startswith("error: data=mnst is not an option of data: choose one of ")
    monkeypatch.setattr(sys, "argv", ["train.py", "seed=1"])
    check_command_line("train")


def test_a_sweep_over_a_groups_options_checks_each_option_it_lists():
    """``optimizer=choice(sgd,adam)`` is Hydra's sweep syntax, not an option named ``choice(sgd``; its
    options are checked one by one. ``glob(*)`` lists none until Hydra reads the folder: left to Hydra."""
    refuse_unknown_group_options(["optimizer=choice(sgd,adam)", "activation=glob(*)"])
    for sweep, option in (("optimizer=sgd,adamx", "adamx"), ("activation=range(1,3)", "1")):
        assert refused(refuse_unknown_group_options, [sweep]).startswith(
            f"activation={option} is not" if sweep.startswith("activation") else f"optimizer={option} is not"
        )


@pytest.mark.parametrize(
    "argument, message",
    [
        ("hydra.sweeper.n_trials=0", "the number of trials must be an integer >= 1"),
        ("hydra.sweeper.n_trials=-1", "the number of trials must be an integer >= 1"),
        ("hydra.sweeper.n_trials=2.5", "the number of trials must be an integer >= 1"),
        ("hydra.sweeper.direction=foo", "the search's direction is maximize or minimize"),
        ("optimizer.lr=tag(log, interval(-1, 5))", "a log-scale interval's low end must be > 0"),
        (
            "hydra.sweeper.params.optimizer.lr=tag(log,interval(0,1))",
            "a log-scale interval's low end must be > 0",
        ),
        ("optimizer.lr=interval(5, 0.5)", "an interval's low end must be <= its high end"),
    ],
)
def test_a_searchs_own_settings_are_checked_before_optuna_starts(argument, message):
    """Optuna refused each with a traceback once the sweep had begun, leaving its directory (a tester)."""
    assert (
        refused(refuse_bad_search_settings, ["-m", "hparams_search=optuna", argument])
        == f"{argument}: {message}"
    )


@pytest.mark.parametrize("trials", [1, 20])
def test_a_searchs_good_settings_pass(trials):
    refuse_bad_search_settings(
        [
            "hparams_search=optuna",
            f"hydra.sweeper.n_trials={trials}",
            "hydra.sweeper.direction=minimize",
            "optimizer.lr=tag(log, interval(0.5, 5))",
            "data.batch_size=interval(10, 10)",
        ]
    )


@pytest.mark.parametrize(
    ("value", "override"),
    [
        ("a.ckpt", "ckpt_path=a.ckpt"),
        ("x y", "ckpt_path=x y"),
        # read back unquoted, these would be a number, null or a flag, not the string
        ("123", 'ckpt_path="123"'),
        ("1.5", 'ckpt_path="1.5"'),
        ("null", 'ckpt_path="null"'),
        ("true", 'ckpt_path="true"'),
    ],
)
def test_an_override_is_quoted_only_where_hydra_would_read_another_value(value, override):
    assert override_of("ckpt_path", value) == override


def test_a_search_without_even_hydras_plugin_namespace_is_one_line(monkeypatch):
    def no_namespace(name):
        raise ModuleNotFoundError(f"No module named {name.split('.')[0]!r}")

    monkeypatch.setattr(importlib.util, "find_spec", no_namespace)
    assert refused(refuse_search_without_its_sweeper, ["hparams_search=optuna"]) == (
        "hparams_search=optuna needs Hydra's Optuna sweeper, which is not installed: pip install -e '.[sweep]'"
    )


def test_a_search_without_its_sweeper_names_the_first_search(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert refused(refuse_search_without_its_sweeper, ["hparams_search=a", "hparams_search=b"]).startswith(
        "hparams_search=a needs Hydra's Optuna sweeper"
    )
    refuse_search_without_its_sweeper(["hparams_search=null", "seed=1"])
