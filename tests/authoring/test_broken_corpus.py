"""`journeys validate` over a corpus of broken files: never a traceback, never a hang.

The corpus (``tests/fixtures/broken``, written by its ``make_corpus.py``) holds bad
encodings, binary junk, truncated and empty files, deep nesting, alias bombs, odd keys,
extends cycles and render bombs. Each file must give at least one ``file:line: sentence``
naming that file (or the template it uses), within a bound that is a hang guard for a
noisy 2-core machine, not a benchmark: a render stops after 2 s of CPU time.
"""

from __future__ import annotations

import os
import re
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from journeys.authoring.validate import validate_paths
from journeys.authoring.validate_program import load_program
from journeys.files.problems import Problem
from tests.cli_process import Cli, environment

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "broken"
TEMPLATES = CORPUS / "templates"
SCENARIOS = sorted(p for p in (CORPUS / "scenarios").iterdir() if not p.is_dir())
LOYALTY = sorted((CORPUS / "loyalty").iterdir())
BOUND = 30.0
LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>[1-9]\d*): \S")


def _bounded(function: Callable[[], Any]) -> Any:
    """``function()``, failing the test (not hanging it) if it runs past ``BOUND``."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = function()
        except BaseException as err:  # re-raised in the test's thread
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(BOUND)
    assert not thread.is_alive(), f"did not finish within {BOUND:g}s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _names_its_file(problem: Problem, scenario: Path) -> bool:
    if problem.file == str(scenario):
        return True
    return scenario.name.startswith("tpl_") and Path(problem.file).is_relative_to(TEMPLATES)


def test_the_corpus_holds_at_least_100_broken_files() -> None:
    templates = [p for p in TEMPLATES.rglob("*.j2")]
    assert len(SCENARIOS) + len(LOYALTY) + len(templates) >= 100
    assert len([p for p in SCENARIOS if not p.name.startswith("tpl_")]) >= 60


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_each_broken_scenario_is_reported_at_a_line_of_its_file(path: Path) -> None:
    _, problems = _bounded(lambda: validate_paths([path], TEMPLATES))
    assert problems, f"{path.name}: no problem reported"
    for problem in problems:
        assert problem.line >= 1 and problem.message.strip(), problem
        assert _names_its_file(problem, path), problem
        assert "Traceback" not in problem.message


@pytest.mark.parametrize("path", LOYALTY, ids=lambda p: p.name)
def test_each_broken_loyalty_program_is_reported_at_a_line_of_its_file(path: Path) -> None:
    program, problems = _bounded(lambda: load_program(path))
    assert program is None and problems
    for problem in problems:
        assert problem.file == str(path) and problem.line >= 1 and problem.message, problem


def test_a_folder_named_like_a_scenario_is_reported_when_its_folder_is_validated() -> None:
    _, problems = validate_paths([CORPUS / "scenarios"], TEMPLATES)
    folder = str(CORPUS / "scenarios" / "folder_named_like_a_scenario.yaml")
    assert Problem(folder, 1, "cannot read this file: Is a directory") in problems


def test_a_folder_named_loyalty_yaml_is_reported_like_an_unreadable_scenario(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "loyalty.yaml"
    folder.mkdir()
    program, problems = load_program(folder)
    assert program is None
    assert problems == [Problem(str(folder), 1, "cannot read this file: Is a directory")]


def test_alias_bombs_are_refused_in_bounded_memory() -> None:
    bombs = [CORPUS / folder / "billion_laughs.yaml" for folder in ("scenarios", "loyalty")]
    for path in bombs:
        tracemalloc.start()
        try:
            if path.parent.name == "loyalty":
                _, problems = load_program(path)
            else:
                _, problems = validate_paths([path], TEMPLATES)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert [p.message for p in problems] == [
            "YAML aliases (*name) are not allowed: write the value out in full"
        ]
        assert peak < 5_000_000, f"{path}: peak {peak:,} bytes"


@pytest.mark.parametrize(
    "case", ["repeat_bomb", "concat_doubling", "namespace_doubling", "output_too_large"]
)
def test_render_bombs_are_stopped_in_bounded_memory(case: str) -> None:
    tracemalloc.start()
    try:
        _, problems = validate_paths([CORPUS / "scenarios" / f"tpl_{case}.yaml"], TEMPLATES)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert problems and "over the limit" in problems[0].message
    assert peak < 40_000_000, f"{case}: peak {peak:,} bytes"


def test_files_over_one_mib_and_huge_lines_are_reported(tmp_path: Path) -> None:
    (tmp_path / "templates" / "big").mkdir(parents=True)
    big = tmp_path / "big.yaml"
    big.write_text("id: x\nname: " + "x" * 1_100_000 + "\n")
    line = tmp_path / "line.yaml"  # under the limit: parsed, and its mistake found
    line.write_text("id: x\nname: X\ntrigger: {event: e}\nsteps: [exit]\nnote: " + "y" * 900_000)
    template = tmp_path / "template.yaml"
    template.write_text(
        "id: t\nname: T\ntrigger: {event: e}\n"
        "steps: [{send: {id: s, channel: sms, template: big/huge}}]\n"
    )
    (tmp_path / "templates" / "big" / "huge.sms.j2").write_text("x" * 1_100_000)
    _, problems = _bounded(lambda: validate_paths([big, line, template], tmp_path / "templates"))
    assert [str(p) for p in problems] == [
        f"{big}:1: the file is larger than 1024 KiB",
        f"{line}:5: the scenario has unknown key 'note'",
        f"{tmp_path / 'templates' / 'big' / 'huge.sms.j2'}:1: the file is larger than 1024 KiB",
    ]


def test_a_fifo_or_a_device_named_like_a_scenario_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    _, problems = _bounded(lambda: validate_paths([fifo, Path("/dev/zero")], tmp_path))
    assert [str(p) for p in problems] == [
        "/dev/zero:1: cannot read this file: it is not a regular file",
        f"{fifo}:1: cannot read this file: it is not a regular file",
    ]


async def test_the_validate_command_reports_the_whole_corpus_without_a_traceback(
    tmp_path: Path,
) -> None:
    env = environment(
        tmp_path,
        JOURNEYS_TEMPLATES_DIR=str(TEMPLATES),
        JOURNEYS_LOYALTY_FILE=str(CORPUS / "loyalty" / "billion_laughs.yaml"),
    )
    cli = await Cli.start("validate", str(CORPUS / "scenarios"), env=env)
    try:
        code = await cli.finish(timeout=300)
    finally:
        cli.kill()
    output, errors = cli.stdout, "".join(cli.errors)
    assert code == 1, cli.describe()
    assert "Traceback" not in output + errors, cli.describe()
    *problems, summary = output.strip().splitlines()
    assert re.fullmatch(r"\d+ problem\(s\)", summary), summary
    files = set()
    for line in problems:
        match = LINE.match(line)
        assert match, f"not file:line: message: {line[:200]!r}"
        files.add(Path(match["file"]))
    for path in [*SCENARIOS, CORPUS / "scenarios" / "folder_named_like_a_scenario.yaml"]:
        if not path.name.startswith("tpl_"):
            assert path in files, f"{path.name} is not reported"
    assert CORPUS / "loyalty" / "billion_laughs.yaml" in files
    assert any(f.is_relative_to(TEMPLATES) for f in files)


def test_nesting_far_deeper_than_real_scenarios_still_validates(tmp_path: Path) -> None:
    lines = ["id: deep", "name: Deep", "trigger: {event: signed.up}", "steps:"]
    for level in range(25):  # 25 ifs inside one another: 52 levels of YAML
        pad = "  " * (2 * level + 1)
        lines += [f"{pad}- if: 'true'", f"{pad}  id: level-{level}", f"{pad}  then:"]
    lines.append("  " * 51 + "- exit")
    path = tmp_path / "deep.yaml"
    path.write_text("\n".join(lines) + "\n")
    scenarios, problems = validate_paths([path], tmp_path)
    assert problems == [] and len(list(scenarios[0].walk())) == 26
