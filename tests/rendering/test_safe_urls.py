"""A link built from customer or event data never becomes a script link in an HTML email,
however the scheme is disguised; good links, and the shipped templates, are unchanged."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from journeys.authoring.registry import ScenarioRegistry
from journeys.model.scenario import SendStep
from journeys.rendering.context import sample_context
from journeys.rendering.safe_urls import safe_links
from journeys.rendering.templating import Templates

REPO = Path(__file__).resolve().parents[2]
EMAIL = """\
{% block subject %}Hi{% endblock %}
{% block html %}<p><a href="{{ event.url }}" style="color:red">Open</a>
<img src="{{ event.url }}" alt="banner"><a href="{{ event.base }}{{ event.url }}">Two</a></p>
{% endblock %}
{% block text %}Open: {{ event.url }}{% endblock %}
"""


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [(tag, name, value) for name, value in attrs if name in ("href", "src")]


def links(html: str) -> list[tuple[str, str, str | None]]:
    parser = _Links()
    parser.feed(html)
    return parser.urls


@pytest.fixture
def templates(tmp_path: Path) -> Templates:
    (tmp_path / "m.email.j2").write_text(EMAIL, encoding="utf-8")
    return Templates(tmp_path)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "JavaScript:alert(1)",
        "  javascript:alert(1)",
        "\x01\x02javascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "jav&#x61;script:alert(1)",  # escaped to &amp;#x61; by autoescape: not an entity
        "vbscript:msgbox(1)",
        "VBScript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "DATA:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
    ],
)
def test_a_dangerous_url_from_event_data_is_not_rendered_as_a_link(
    templates: Templates, url: str
) -> None:
    message = templates.render("m", "email", None, {"event": {"url": url, "base": ""}})
    assert message.html is not None
    found = links(message.html)
    assert all(value is None or not _live_scheme(value) for _, _, value in found), found
    assert ">Open</a>" in message.html and 'alt="banner"' in message.html  # the rest stays
    assert message.text == f"Open: {url}"  # plain text is not a link: left as it is


def _live_scheme(value: str) -> bool:
    cleaned = "".join(ch for ch in value if ch not in "\t\n\r").strip("\x00\x01\x02 ").lower()
    return cleaned.startswith(("javascript:", "vbscript:", "data:", "file:"))


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<a href="javascript:x" style="a">t</a>', '<a style="a">t</a>'),
        ('<a style="a" href=" JaVa&#x53;cript:x">t</a>', '<a style="a" >t</a>'),
        ('<a href="java&#9;script:x">t</a>', "<a >t</a>"),
        ('<a href="javascript&colon;x">t</a>', "<a >t</a>"),
        ("<a href=vbscript:x>t</a>", "<a >t</a>"),
        ('<A HREF="JAVASCRIPT:x">t</A>', "<A >t</A>"),
        ('<a\nhref="data:text/html,x"\n>t</a>', "<a\n>t</a>"),
        ('<img srcset="a.png 1x, javascript:x 2x">', "<img >"),
        ('<form action="javascript:x"><button formaction="javascript:y">', "<form ><button >"),
        ('<!-- <a href="javascript:x"> --><a href="javascript:y">',
         '<!-- <a href="javascript:x"> --><a >'),
    ],
)
def test_entities_case_and_blanks_do_not_hide_a_scheme(html: str, expected: str) -> None:
    assert safe_links(html) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example/cart?id=1&amp;utm=mail",
        "http://shop.example/",
        "mailto:help@shop.example",
        "tel:+33612345678",
        "sms:+33612345678",
        "cid:banner@shop",
        "/relative/path",
        "#top",
        "?page=2",
    ],
)
def test_good_links_are_left_byte_for_byte(url: str) -> None:
    html = f'<p><a href="{url}" style="x">go</a><img src="{url}"></p>'
    assert safe_links(html) == html


def test_a_link_built_from_two_pieces_of_data_is_checked_as_a_whole(
    templates: Templates,
) -> None:
    event = {"url": "alert(1)", "base": "javascript:"}
    message = templates.render("m", "email", None, {"event": event})
    assert message.html is not None
    assert links(message.html) == [("a", "href", "alert(1)"), ("img", "src", "alert(1)")]


def test_the_shipped_email_templates_render_the_same_with_their_links() -> None:
    registry = ScenarioRegistry.load(REPO / "scenarios", REPO / "templates")
    templates = Templates(REPO / "templates")
    rendered = 0
    for scenario in registry.scenarios.values():
        for step in scenario.walk():
            if not isinstance(step, SendStep) or "email" not in step.channels:
                continue
            for locale in ("en", "fr"):
                context = sample_context(scenario)
                context["customer"] = {**context["customer"], "locale": locale}
                context["unsubscribe_url"] = "https://shop.example/u/t0k3n?a=1&b=2"
                html = templates.render(step.template, "email", locale, context).html
                assert html is not None and safe_links(html) == html
                urls = [value for _, name, value in links(html) if name == "href"]
                assert urls and urls[-1] == "https://shop.example/u/t0k3n?a=1&b=2"
                assert all(u and u.startswith("https://") for u in urls), urls
                rendered += 1
    assert rendered >= 10
