"""The errors: one table of exit codes and HTTP statuses, codes a program can test, messages without
the command line's words (the CLI adds its hints)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from ekakte import errors
from ekakte.cli import HINTS, with_hint
from ekakte.errors import OUTCOMES, EkakteError, ExitCode, InvalidInput, NotPermitted, OutputExists, outcome

PACKAGE = Path(errors.__file__).resolve().parent
CLASSES = [c for _n, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, EkakteError)]
# A flag (--force), or a command written as one runs it (`ekakte team add`).
CLI_WORDS = re.compile(r"(?<![\w-])--[a-z]|`ekakte ")


def test_every_error_class_has_its_row_or_its_parents_and_a_code_of_its_own() -> None:
    assert set(OUTCOMES) <= set(CLASSES)
    codes = [c.code for c in CLASSES]
    assert len(codes) == len(set(codes))
    for cls in CLASSES:
        exit_code, status = outcome(cls)
        assert isinstance(exit_code, ExitCode) and 400 <= status < 600


@pytest.mark.parametrize(
    ("error", "exit_code", "status"),
    [
        (InvalidInput("bad", field="case_number"), ExitCode.INVALID_INPUT, 422),
        (NotPermitted("not permitted: case 1"), ExitCode.NOT_PERMITTED, 403),
        (errors.StoreRefused("no"), ExitCode.STORAGE, 502),
        (errors.ChecksumMismatch("corrupt"), ExitCode.INTEGRITY, 500),
    ],
)
def test_an_error_knows_its_exit_code_and_status(error: EkakteError, exit_code: int, status: int) -> None:
    assert (error.exit_code, error.http_status) == (exit_code, status)


def test_a_code_and_field_given_at_the_raise_win_over_the_class_defaults() -> None:
    error = InvalidInput("user 'x' exists already", code="user-exists", field="name")
    assert (error.code, error.field, InvalidInput("x").code) == ("user-exists", "name", "invalid-input")


def test_the_cli_adds_its_hint_by_the_errors_code() -> None:
    assert with_hint(OutputExists("out.pdf exists")) == "out.pdf exists: use --force to overwrite it"
    assert with_hint(InvalidInput("bad date")) == "bad date"
    assert set(HINTS) <= {*(c.code for c in CLASSES), *_codes_raised()}


def _library_sources() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "cli" not in p.relative_to(PACKAGE).parts]


def _raised_texts(path: Path) -> list[tuple[int, str]]:
    """The string parts of what every `raise X(...)` in a file says."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            for arg in node.exc.args:
                for part in ast.walk(arg):
                    if isinstance(part, ast.Constant) and isinstance(part.value, str):
                        found.append((node.lineno, part.value))
    return found


def _codes_raised() -> set[str]:
    """Codes given at a raise (`code="…"`) or by an error class outside errors.py (`code = "…"`)."""
    codes = set()
    for path in _library_sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "code" and isinstance(node.value, ast.Constant):
                codes.add(str(node.value.value))
            if (
                isinstance(node, ast.Assign)
                and [getattr(t, "id", None) for t in node.targets] == ["code"]
                and isinstance(node.value, ast.Constant)
            ):
                codes.add(str(node.value.value))
    return codes


def test_no_library_error_names_a_command_line_flag_or_command() -> None:
    offending = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}"
        for path in _library_sources()
        for line, text in _raised_texts(path)
        if CLI_WORDS.search(text)
    ]
    assert offending == []


def test_the_check_for_command_line_words_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('raise OutputExists(f"{x} exists: use --force")\nraise NotFound("run `ekakte init`")\n')
    assert [bool(CLI_WORDS.search(text)) for _line, text in _raised_texts(sample)] == [True, True]
