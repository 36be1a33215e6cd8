"""The Twilio account settings (``JOURNEYS_TWILIO_*``), read by two parts that never meet.

The SMS adapter (``activities.channels.twilio``) sends with them, and the API checks the
``X-Twilio-Signature`` of status callbacks with the same auth token; the API must not
import activities, so the settings live here, below both.
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class TwilioSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOURNEYS_TWILIO_", extra="ignore")

    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_number: str | None = None
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    base_url: str = "https://api.twilio.com"

    @property
    def configured(self) -> bool:
        sender = self.from_number or self.messaging_service_sid
        return bool(self.account_sid and self.auth_token and sender)
