"""Quiet hours: when a channel may reach a customer, in the customer's own time zone.

Defaults follow common practice for SMS and push (08:00-21:00 local); email has none.
Only marketing messages wait: a transactional message (a receipt, a one-time code) is
expected at once. A message due in the quiet period is deferred to the next opening — the
journey waits for it with a durable timer — never dropped and never sent at 3 a.m.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from pydantic_settings import BaseSettings, SettingsConfigDict

from journeys.model.channels import CHANNELS
from journeys.model.local_time import ONE_DAY, local_moment, parse_time_of_day


@dataclass(frozen=True)
class Window:
    """Sending allowed from ``start`` (inclusive) to ``end`` (exclusive), local time."""

    start: time
    end: time

    def allows(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end  # a window across midnight

    @classmethod
    def parse(cls, text: str) -> Window | None:
        """``"08:00-21:00"``; an empty text means no quiet hours."""
        if not text.strip():
            return None
        try:
            start, end = text.split("-")
        except ValueError:
            raise ValueError(f"'{text}' is not a sending window: write it as 08:00-21:00") from None
        return cls(parse_time_of_day(start), parse_time_of_day(end))


class QuietHoursSettings(BaseSettings):
    """``JOURNEYS_QUIET_HOURS_SMS=08:00-21:00``; an empty value switches a channel's off."""

    model_config = SettingsConfigDict(env_prefix="JOURNEYS_QUIET_HOURS_", extra="ignore")

    sms: str = "08:00-21:00"
    push: str = "08:00-21:00"
    email: str = ""


class QuietHours:
    def __init__(self, windows: dict[str, Window | None]) -> None:
        self.windows = windows

    @classmethod
    def from_settings(cls, settings: QuietHoursSettings | None = None) -> QuietHours:
        settings = settings or QuietHoursSettings()
        return cls(
            {
                channel: Window.parse(getattr(settings, channel))
                for channel in CHANNELS
            }
        )

    def next_opening(
        self, channel: str, purpose: str, now: datetime, time_zone: str
    ) -> datetime | None:
        """None when the message may go now, else the UTC moment the window next opens."""
        window = self.windows.get(channel)
        if window is None or purpose == "transactional":
            return None
        zone = ZoneInfo(time_zone)
        local = now.astimezone(zone)
        if window.allows(local.time().replace(tzinfo=None)):
            return None
        opening = local_moment(local.date(), window.start, zone)
        return (
            opening if opening > now else local_moment(local.date() + ONE_DAY, window.start, zone)
        )
