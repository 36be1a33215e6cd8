"""Links in a rendered HTML email only go to web, mail, phone or inline-image addresses.

Autoescaping stops data from adding tags or attributes, but not from choosing where an
attribute points: ``<a href="{{ event.cart_url }}">`` with a cart URL of
``javascript:alert(1)`` (or ``JaVa&#x53;cript:``, `` java\\tscript:``, ``data:text/html,...``)
would be a live script link in the customer's mail client or web-mail.

So after each HTML part is rendered, every URL attribute is read as a browser reads it
(entities decoded by the standard ``html.parser``; spaces and control characters around
the value and tabs or newlines inside it dropped, as the WHATWG URL parser does), and an
attribute whose scheme is not in ``SAFE_SCHEMES`` is removed from its tag: the link text
stays, the link goes. The check runs on the final value, which may be built from several
pieces of data and literal text, and nothing else in the document is touched, so a
message with good links is byte for byte what the template rendered.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel", "sms", "cid"})
"""Schemes a message may link to; a value without a scheme (``#top``, ``/path``) is safe."""
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "background", "poster", "cite", "xlink:href",
     "srcset"}
)

_BLANKS_AROUND = re.compile(r"^[\x00-\x20]+|[\x00-\x20]+$")
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")
# An attribute in a start tag's text, as html.parser itself splits them.
_ATTRIBUTE = re.compile(
    r"""(?<=['"\s/])(?P<name>[^\s/>][^\s/=>]*)(\s*=+\s*('[^']*'|"[^"]*"|(?!['"])[^>\s]*))?\s*"""
)


def is_safe_url(value: str) -> bool:
    """Would a browser open ``value`` (entities already decoded) with a safe scheme?"""
    url = _TAB_OR_NEWLINE.sub("", _BLANKS_AROUND.sub("", value))
    match = _SCHEME.match(url)
    return match is None or match.group(1).lower() in SAFE_SCHEMES


def _safe_attribute(name: str, value: str | None) -> bool:
    if value is None or name not in URL_ATTRIBUTES:
        return True
    if name == "srcset":  # "a.png 1x, b.png 2x": each candidate's URL
        return all(is_safe_url(c.split()[0]) for c in value.split(",") if c.split())
    return is_safe_url(value)


class _UnsafeTags(HTMLParser):
    """Start tags with an unsafe URL attribute: (line, column, tag text, attribute names)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, int, str, set[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        unsafe = {name for name, value in attrs if not _safe_attribute(name, value)}
        text = self.get_starttag_text()
        if unsafe and text:
            line, column = self.getpos()
            self.found.append((line, column, text, unsafe))

    handle_startendtag = handle_starttag


def safe_links(html: str) -> str:
    """``html`` with every URL attribute of an unsafe scheme removed (see the module)."""
    lowered = html.lower()
    if not any(name in lowered for name in URL_ATTRIBUTES):
        return html
    finder = _UnsafeTags()
    finder.feed(html)
    finder.close()
    if not finder.found:
        return html
    starts = [0] + [match.end() for match in re.finditer("\n", html)]
    pieces, done = [], 0
    for line, column, text, unsafe in finder.found:
        at = starts[line - 1] + column
        if html[at : at + len(text)] != text:  # the parser's own position: never expected
            raise ValueError(f"cannot locate the tag {text!r} to remove its unsafe link")
        pieces += [html[done:at], _without(text, unsafe)]
        done = at + len(text)
    pieces.append(html[done:])
    return "".join(pieces)


def _without(tag: str, names: set[str]) -> str:
    """The start tag's text without the named attributes."""
    return _ATTRIBUTE.sub(
        lambda m: "" if m.group("name").lower() in names else m.group(0), tag
    )
