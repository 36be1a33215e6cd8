"""The channels a journey can reach a customer on."""

from __future__ import annotations

CHANNELS = ("email", "sms", "push")
