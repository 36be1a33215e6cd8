"""The channel table (journeys.model.channels) agrees with what it describes elsewhere.

Everything per channel is derived from the table, so these check the table against the
things it cannot derive: the customer row's columns, the shipped templates, and the
settings that have one field per channel.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from activities.channels.selection import NATIVE, ProviderSettings
from journeys.delivery.quiet_hours import QuietHoursSettings
from journeys.model.channels import CHANNELS, SPECS
from journeys.model.scenario import SendStep
from journeys.rendering.templating import Templates
from journeys.store.tables import Customer

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_each_address_field_is_a_profile_column() -> None:
    for spec in SPECS.values():
        assert spec.address_field in Customer.model_fields


def test_each_shipped_template_defines_its_channels_blocks() -> None:
    templates = Templates(TEMPLATES)
    checked = set()
    for path in TEMPLATES.rglob("*.j2"):
        file = path.relative_to(TEMPLATES).as_posix()
        if file.startswith("_layouts/"):
            continue
        channel = path.name.split(".")[1]
        assert set(SPECS[channel].blocks) <= templates.block_names(file), file
        checked.add(channel)
    assert checked == set(CHANNELS)  # every channel has a shipped template to check against


def test_settings_have_one_field_per_channel() -> None:
    assert set(QuietHoursSettings.model_fields) == set(CHANNELS)
    assert set(ProviderSettings.model_fields) == {f"{channel}_provider" for channel in CHANNELS}


def test_a_send_step_takes_the_tables_channels_and_no_other() -> None:
    assert SendStep(id="s", channels=list(CHANNELS), template="t").channels == list(CHANNELS)
    with pytest.raises(ValidationError, match="fax"):
        SendStep(id="s", channels=["fax"], template="t")


def test_automatic_provider_choice_knows_every_channel() -> None:
    assert set(NATIVE) == set(SPECS)
