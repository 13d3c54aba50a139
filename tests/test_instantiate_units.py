"""src/instantiate.py: each entry of a config group that names classes by ``_target_`` built in order, an
entry set to null left out, and each way an entry can fail one ``UserError`` naming it."""

import pytest
from omegaconf import OmegaConf
from runs import refused

from src.errors import UserError
from src.instantiate import instantiate_entries

OPTIONS = "choose one from conf/things/"


class Thing:
    def __init__(self, size: int = 1) -> None:
        self.size = size


class Other:
    pass


def build(config) -> list[Thing]:
    return instantiate_entries(config, "things", Thing, "thing", OPTIONS)


@pytest.mark.parametrize("config", [None, {}, {"a": None}])
def test_no_entries_build_nothing(config):
    assert build(config) == []


def test_entries_are_built_in_order_with_their_arguments_and_null_ones_left_out():
    config = OmegaConf.create(
        {
            "b": {"_target_": f"{__name__}.Thing", "size": 3},
            "off": None,
            "a": {"_target_": f"{__name__}.Thing"},
        }
    )
    assert [thing.size for thing in build(config)] == [3, 1]


def test_an_entry_gets_its_lists_and_mappings_as_plain_python_ones():
    """Not OmegaConf's ListConfig/DictConfig: a callback may check them as lists (the learning-rate
    schedule's ``milestones=[1,2]`` was refused as no list) or save them in a checkpoint, which
    ``torch.load(weights_only=True)`` must read back."""
    config = OmegaConf.create({"a": {"_target_": f"{__name__}.Thing", "size": {"steps": [1, 2]}}})
    size = build(config)[0].size
    assert type(size) is dict and type(size["steps"]) is list and size == {"steps": [1, 2]}


@pytest.mark.parametrize("entry", [5, "Thing", ["x"], {"size": 3}])
def test_an_entry_that_is_not_a_config_naming_a_class_is_refused(entry):
    assert refused(build, {"mine": entry}) == (
        "things.mine: not a thing config (a mapping with _target_); choose one from conf/things/"
    )


def test_an_entry_that_builds_another_kind_of_object_is_refused():
    assert refused(
        build, {"ok": {"_target_": f"{__name__}.Thing"}, "mine": {"_target_": f"{__name__}.Other"}}
    ) == (
        f"things.mine._target_={__name__}.Other is not a thing (it builds Other); choose one from conf/things/"
    )


def test_a_class_that_cannot_be_found_or_refuses_its_arguments_is_one_line_naming_the_entry():
    assert refused(build, {"mine": {"_target_": f"{__name__}.Nowhere"}}).startswith(
        f"things.mine: ImportError: Error loading '{__name__}.Nowhere':"
    )
    assert refused(build, {"mine": {"_target_": f"{__name__}.Thing", "colour": "red"}}) == (
        "things.mine: TypeError: Thing.__init__() got an unexpected keyword argument 'colour'"
    )
    refused(build, {"mine": {"_target_": "nowhere.Thing"}})  # one line, as every refusal checked here


class Checked(Thing):
    """Refuses a bad size itself, naming its key, as src.visualize.TensorBoardFigures does."""

    def __init__(self, size: int = 1) -> None:
        if size < 1:
            raise UserError(f"things.mine.size={size}: must be an integer >= 1")
        super().__init__(size)


def test_a_refusal_of_the_class_itself_is_its_own_line():
    """It was wrapped as "things.mine: UserError: things.mine.size=0: ...", the entry named twice."""
    assert refused(build, {"mine": {"_target_": f"{__name__}.Checked", "size": 0}}) == (
        "things.mine.size=0: must be an integer >= 1"
    )
