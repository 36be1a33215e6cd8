"""The worker writes the bytecode of every workflow module once, at start.

The sandbox re-imports the workflow modules for every journey instance; under
PYTHONDONTWRITEBYTECODE a module without bytecode is compiled from source each time
(README "Performance"). A module missing from the list costs every journey, silently.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

import worker

WORKFLOWS = Path(worker.__file__).parent / "workflows"


def test_every_module_of_the_workflows_package_is_precompiled() -> None:
    listed = {module.__file__ for module in worker.workflow_modules()}
    on_disk = {str(path) for path in WORKFLOWS.glob("*.py")}
    assert listed == on_disk


def test_precompile_writes_the_bytecode_the_import_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # as PYTHONDONTWRITEBYTECODE does
    source = tmp_path / "some_workflow.py"
    source.write_text("VALUE = 42\n")
    spec = importlib.util.spec_from_file_location("some_workflow", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cached = Path(importlib.util.cache_from_source(str(source)))
    assert not cached.exists()  # the import itself wrote none

    worker.precompile(module)

    assert cached.is_file()
    assert cached.stat().st_mtime >= source.stat().st_mtime
