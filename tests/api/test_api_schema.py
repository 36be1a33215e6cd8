"""Schemathesis over the running API: the OpenAPI document tells the truth.

The real app on uvicorn on a loopback port, over PostgreSQL (the stricter store: NUL and
unpaired surrogates fail there) and the session's Temporal server, with the SendGrid
webhook open (so its JSON handling is exercised) and the Twilio one signed. The
``schemathesis`` command runs every phase (examples, coverage, fuzzing, stateful) with
every check (``--checks all``: no server error, status codes, content types, headers and
bodies as documented, valid data accepted, invalid data refused, auth not ignored, ...).
Its exit status is the verdict; its report is shown when it fails.

Bounded: ``MAX_EXAMPLES`` per operation and a fixed seed, so a run is the same at any
hour (about 35 s here); ``tests/schemathesis.toml`` and ``tests/schemathesis_hooks.py``
say what a schema cannot.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from pathlib import Path

from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from journeys.api.state import SendGridWebhookSettings
from journeys.api.temporal_link import TemporalLink
from journeys.authoring.registry import ScenarioRegistry
from journeys.loyalty.program import LoyaltyProgram
from journeys.process.settings import Settings
from journeys.process.twilio_settings import TwilioSettings
from journeys.store import Store
from tests.api_server import api_client
from tests.databases import postgres_schema

REPO = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 15
SEED = 20261202


def _schemathesis() -> str:
    beside_python = Path(sys.executable).with_name("schemathesis")
    found = str(beside_python) if beside_python.is_file() else shutil.which("schemathesis")
    assert found, "schemathesis is not installed: pip install -e '.[test]'"
    return found


async def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(
    temporal: WorkflowEnvironment,
    registry: ScenarioRegistry,
    settings: Settings,
    postgres_admin: Engine,
    tmp_path: Path,
) -> None:
    with postgres_schema(postgres_admin) as url:
        store = Store(url)
        store.create_schema()
        key, _ = store.access.create_key("schemathesis")
        link = TemporalLink(settings, registry, LoyaltyProgram(), temporal.client)
        async with api_client(
            store,
            settings,
            registry=registry,
            temporal=link,
            sendgrid=SendGridWebhookSettings(insecure=True),
            twilio=TwilioSettings(auth_token="schemathesis-twilio-token"),
        ) as client:
            process = await asyncio.create_subprocess_exec(
                _schemathesis(),
                "--no-color",
                "--config-file",
                str(REPO / "tests" / "schemathesis.toml"),
                "run",
                f"{client.base_url}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                str(SEED),
                "--generation-database",
                "none",
                "--header",
                f"Authorization: Bearer {key}",
                cwd=tmp_path,
                env={
                    **os.environ,
                    "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
                    "PYTHONPATH": str(REPO),
                },
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
        store.engine.dispose()
    report = output.decode(errors="replace")
    assert process.returncode == 0, report[-30000:]
    # Every operation of the document was selected and tested, however many it has.
    operations = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", report)
    assert operations, report[-5000:]
    selected, total, tested = map(int, operations.groups())
    assert selected == total == tested > 0, report[-5000:]
    # Every case passed (with a failure the line reads "N found M unique failures").
    assert re.search(r"\b(\d+) generated, \1 passed\b", report), report[-5000:]
    final = [line for line in report.splitlines() if line.startswith("=")][-1]
    assert "failure" not in final and "error" not in final, final  # warnings may remain
