"""Delivery governance settings one worker applies: quiet hours and the frequency cap."""

from __future__ import annotations

from dataclasses import dataclass

from journeys.delivery.frequency_cap import FrequencyCap, FrequencyCapSettings
from journeys.delivery.quiet_hours import QuietHours


@dataclass(frozen=True)
class Governance:
    quiet_hours: QuietHours
    cap: FrequencyCap | None

    @classmethod
    def from_settings(cls) -> Governance:
        """From the environment: defaults SMS/push 08:00-21:00 and 3 marketing messages / 7d."""
        return cls(QuietHours.from_settings(), FrequencyCapSettings().cap())

    @classmethod
    def off(cls) -> Governance:
        """Neither quiet hours nor a cap (tests of other behaviour, simulations of one step)."""
        return cls(QuietHours({}), None)
