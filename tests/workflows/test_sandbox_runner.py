"""The worker's sandbox: the interpreter's plumbing is shared, the rest re-imported per journey.

What a journey's sandbox imports afresh is what creating its workflow instance costs (README
"Performance"); what it shares escapes the sandbox's checks, so the shared list stays short:
the workflow module and the step handlers (where new step kinds land) are re-imported.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Iterator

import pytest
import temporalio.workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

import worker
from journeys.process.settings import Settings
from journeys.store import Store
from workflows.journey import JourneyWorkflow


class _Imports(importlib.abc.MetaPathFinder):
    """Names of ``workflows`` modules looked up on disk (a shared module never is)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name.startswith("workflows."):
            self.names.append(name)


@pytest.fixture
def imports() -> Iterator[_Imports]:
    finder = _Imports()
    sys.meta_path.insert(0, finder)
    try:
        yield finder
    finally:
        sys.meta_path.remove(finder)


def _instance_imports(runner: SandboxedWorkflowRunner, imports: _Imports) -> set[str]:
    imports.names.clear()
    runner.prepare_workflow(temporalio.workflow._Definition.must_from_class(JourneyWorkflow))
    return set(imports.names)


async def test_a_journey_instance_shares_the_plumbing_and_re_imports_the_handlers(
    imports: _Imports,
) -> None:
    fresh = _instance_imports(worker.workflow_runner(), imports)
    assert {"workflows.journey", "workflows.steps"} <= fresh
    assert not fresh & set(worker.SHARED_WORKFLOW_MODULES)
    # The SDK's default sandbox re-imports them all, for every journey.
    default = _instance_imports(SandboxedWorkflowRunner(), imports)
    assert set(worker.SHARED_WORKFLOW_MODULES) <= default


def test_the_shared_modules_are_workflow_modules_that_exist() -> None:
    on_disk = {module.__name__ for module in worker.workflow_modules()}
    assert set(worker.SHARED_WORKFLOW_MODULES) <= on_disk
    assert "workflows.journey" not in worker.SHARED_WORKFLOW_MODULES


async def test_build_worker_runs_journeys_in_that_sandbox(
    temporal: WorkflowEnvironment, settings: Settings, store: Store
) -> None:
    own_queue = settings.model_copy(update={"task_queue": "sandbox-runner-test"})
    built: Worker = worker.build_worker(temporal.client, own_queue, store=store)
    runner = built.config()["workflow_runner"]
    assert isinstance(runner, SandboxedWorkflowRunner)
    assert set(worker.SHARED_WORKFLOW_MODULES) <= runner.restrictions.passthrough_modules
