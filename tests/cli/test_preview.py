"""`journeys preview` renders a send step with the scenario's sample, per channel and locale."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from journeys.cli.main import app

REPO = Path(__file__).resolve().parents[2]


def test_preview_renders_every_channel_of_the_fallback_list(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(REPO)
    html = tmp_path / "reminder.html"
    result = CliRunner().invoke(
        app, ["preview", "vip-invite", "rsvp-reminder", "--locale", "fr", "--html", str(html)]
    )
    assert result.exit_code == 0, result.output
    assert "vip_invite/reminder.sms.fr.j2" in result.output
    assert "vip_invite/reminder.email.fr.j2" in result.output
    assert "Bonjour Alex" in result.output
    assert html.read_text().lstrip().lower().startswith("<!doctype html>")


def test_preview_names_the_send_steps_when_the_step_is_unknown(monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(app, ["preview", "vip-invite", "invit"])
    assert result.exit_code == 1
    assert "has no send step 'invit' (sends: invite, confirmation, rsvp-reminder)" in result.output


def test_a_bad_setting_is_one_clear_line(monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("TEMPORAL_TLS", "maybe")
    result = CliRunner().invoke(app, ["outbox"])
    assert result.exit_code == 1
    assert "bad setting: TEMPORAL_TLS='maybe'" in result.output
