"""The READMEs name the tests that check what they claim (the attack table, the mutation notes, the
benchmarks): each named test file and test function must exist, or a reader follows a dead reference."""

import re
from pathlib import Path

import pytest
from runs import REPO

READMES = ("README.md", "benchmarks/README.md")
TEST_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?(::\w+)?")
"""A backticked ``tests/test_x.py``, ``tests/test_x.py::test_y`` or ``::test_y`` (a test of the file named
last on the same line; of any test file where the line names none)."""


def references(readme: str) -> list[tuple[int, str | None, str | None]]:
    """Each test reference in ``readme``: its line number, its file (``None``: not on that line) and its
    test's name (``None``: the file alone)."""
    found = []
    for number, line in enumerate((REPO / readme).read_text().splitlines(), start=1):
        current = None
        for match in TEST_REFERENCE.finditer(line):
            file, name = match.groups()
            current = file or current
            if file or name:
                found.append((number, current, name and name[2:]))
    return found


def defined_tests(file: Path) -> set[str]:
    return set(re.findall(r"^def (test_\w+)", file.read_text(), flags=re.MULTILINE))


@pytest.mark.parametrize("readme", READMES)
def test_every_test_a_readme_names_exists(readme):
    everywhere = set().union(*(defined_tests(path) for path in (REPO / "tests").glob("test_*.py")))
    dead = []
    for number, file, name in references(readme):
        if file is not None and not (REPO / file).is_file():
            dead.append(f"{readme}:{number}: {file}")
        elif name is not None and name not in (defined_tests(REPO / file) if file else everywhere):
            dead.append(f"{readme}:{number}: {file or ''}::{name}")
    assert dead == []


def test_the_references_are_read_from_a_table_row_as_written():
    row = "| 1 | ... | `tests/test_a.py::test_b`, `::test_c`, `tests/test_d.py` | `::test_e` |"
    assert [match.groups() for match in TEST_REFERENCE.finditer(row) if any(match.groups())] == [
        ("tests/test_a.py", "::test_b"),
        (None, "::test_c"),
        ("tests/test_d.py", None),
        (None, "::test_e"),
    ]
