"""Reading template files for Jinja: UTF-8 only, a size limit, and bounded nesting.

A template that is UTF-16, has a NUL byte or is not text fails as a
``TemplateSyntaxError`` at its line (``journeys validate`` prints it as ``file:line``),
never as a ``UnicodeDecodeError`` from deep inside Jinja. Nesting is bounded while the
template is read, before Jinja's recursive parser and Python's compiler see it: past a
few hundred levels they fail with ``RecursionError`` or "too many statically nested
blocks", and whether they do depends on how deep the caller's stack already is, so the
worker could refuse a template that ``validate`` accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from jinja2 import BaseLoader, Environment, TemplateNotFound, TemplateSyntaxError
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from jinja2.loaders import split_template_path

from journeys.files.text import SourceError, read_source

MAX_BLOCK_DEPTH = 16
"""``{% if %}``, ``{% for %}``, ``{% macro %}``... inside one another (Python allows 20 loops)."""
MAX_BRACKET_DEPTH = 16
"""Parentheses, brackets and braces inside one another in one tag."""
MAX_OPERATORS = 64
"""Operators, filters, attribute and item look-ups in one tag: each nests the expression
one level deeper for Jinja's compiler (``a.b.c`` is ``getattr(getattr(a, b), c)``)."""

_OPENERS = frozenset(
    {"if", "for", "block", "macro", "call", "filter", "with", "autoescape", "trans"}
)
_BRACKETS = {"lparen": 1, "lbracket": 1, "lbrace": 1, "rparen": -1, "rbracket": -1, "rbrace": -1}
_OPERATORS = frozenset(
    {"add", "sub", "mul", "div", "floordiv", "mod", "pow", "dot", "pipe", "lparen", "lbracket"}
)
_OPERATOR_NAMES = frozenset({"and", "or", "not", "if", "is", "in"})


class TemplateUnreadable(TemplateSyntaxError):
    """A template file that is not UTF-8 text (or not a readable file)."""


class TemplateFiles(BaseLoader):
    """Templates under one folder, read with ``read_source`` (Jinja's loader would raise
    ``UnicodeDecodeError`` and read a file of any size or kind)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        path = self.root.joinpath(*split_template_path(template))  # refuses '..'
        if not path.is_file():
            raise TemplateNotFound(template)
        try:
            text = read_source(path)
        except SourceError as err:
            raise TemplateUnreadable(err.message, err.line, template, str(path)) from None
        mtime = _modified(path)
        return text, str(path), lambda: mtime is not None and _modified(path) == mtime


def _modified(path: Path) -> float | None:
    """When the file last changed; ``None`` when that cannot be told (removed meanwhile):
    the template is then never up to date, and the next look-up reads it again."""
    try:
        return path.stat().st_mtime
    except OSError:
        return None


class NestingLimit(Extension):
    """Counts nesting in the token stream, as Jinja reads it, and stops at the limits."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        blocks = brackets = operators = 0
        tag: str | None = None
        at_tag_name = assigns = False
        for token in stream:
            kind = token.type
            if kind in ("block_begin", "variable_begin"):
                operators, brackets, tag, assigns = 0, 0, None, False
                at_tag_name = kind == "block_begin"
            elif at_tag_name:
                at_tag_name = False
                tag = token.value if kind == "name" else None
                if tag in _OPENERS:
                    blocks += 1
                elif tag and tag.startswith("end"):
                    blocks = max(blocks - 1, 0)
            elif kind == "assign":
                assigns = True
            elif kind == "block_end" and tag == "set" and not assigns:
                blocks += 1  # {% set x %}...{% endset %}
            else:
                brackets = max(brackets + _BRACKETS.get(kind, 0), 0)
                if kind in _OPERATORS or (kind == "name" and token.value in _OPERATOR_NAMES):
                    operators += 1
            limit = _over_limit(blocks, brackets, operators)
            if limit:
                raise TemplateSyntaxError(limit, token.lineno, stream.name, stream.filename)
            yield token


def _over_limit(blocks: int, brackets: int, operators: int) -> str | None:
    if blocks > MAX_BLOCK_DEPTH:
        return f"blocks are nested more than {MAX_BLOCK_DEPTH} deep"
    if brackets > MAX_BRACKET_DEPTH:
        return f"brackets are nested more than {MAX_BRACKET_DEPTH} deep"
    if operators > MAX_OPERATORS:
        return (
            f"this tag has more than {MAX_OPERATORS} operators, filters and look-ups: "
            "split it with {% set %}"
        )
    return None
