"""Reading survey answer links back out of a delivered message, as a customer's mail app
would show them, and what each one answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

from journeys.delivery.surveys import PATH, SurveyAnswer, read_token
from journeys.delivery.unsubscribe import UnsubscribeSettings


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href and PATH in href:
            self.hrefs.append(href)


def html_links(html: str) -> list[str]:
    """Every survey link of an HTML part, in order (entities decoded, as a browser reads)."""
    parser = _Links()
    parser.feed(html)
    return parser.hrefs


def text_links(text: str) -> list[str]:
    return re.findall(rf"https?://\S+{re.escape(PATH)}\S+", text)


def answers(links: list[str], settings: UnsubscribeSettings) -> list[SurveyAnswer]:
    """What each link answers, read as the server reads it (now, with its settings): a
    journey issues links at its own clock, which time skipping puts days ahead of ours."""
    now = datetime.now(UTC)
    return [read_token(link.rpartition("/")[2], settings=settings, now=now) for link in links]
