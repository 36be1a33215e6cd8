"""The frequency cap: at most N marketing messages per customer per period, all journeys
together (``JOURNEYS_FREQUENCY_CAP=3/7d``). Transactional messages never count.

The count and the reservation happen in one store transaction that first locks the
customer's row, so two journeys racing for the last slot cannot both get it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from pydantic_settings import BaseSettings, SettingsConfigDict

from journeys.model.durations import parse_duration

_CAP = re.compile(r"^\s*(\d+)\s*/\s*(\S+)\s*$")


@dataclass(frozen=True)
class FrequencyCap:
    limit: int
    window: timedelta

    @classmethod
    def parse(cls, text: str) -> FrequencyCap | None:
        """``"3/7d"``; an empty text means no cap."""
        if not text.strip():
            return None
        match = _CAP.match(text)
        if not match or int(match.group(1)) < 1:
            raise ValueError(f"'{text}' is not a frequency cap: write messages/period, e.g. 3/7d")
        return cls(int(match.group(1)), parse_duration(match.group(2)))

    def __str__(self) -> str:
        return f"{self.limit} per {self.window}"


class FrequencyCapSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOURNEYS_", extra="ignore")

    frequency_cap: str = "3/7d"

    def cap(self) -> FrequencyCap | None:
        return FrequencyCap.parse(self.frequency_cap)
