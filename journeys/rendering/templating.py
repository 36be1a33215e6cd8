"""Jinja, sandboxed and strict, for message templates and scenario expressions.

One syntax for both, so a marketer learns it once. ``StrictUndefined`` turns a misspelt
variable into an error (at validate time, against the scenario's sample) instead of a blank
in a customer's inbox. Environments and compiled templates are built once per process:
Jinja caches compiled templates per environment, so building a ``Templates`` per worker is
enough.

Layout: ``templates/<name>.<channel>[.<locale>].j2``, e.g. ``abandoned_cart/reminder.email.j2``
and its French variant ``abandoned_cart/reminder.email.fr.j2``. Each file defines its
channel's blocks (``journeys.model.channels``): email → ``subject``, ``html``, ``text``...
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateNotFound, TemplateSyntaxError, meta, nodes

from journeys.model.channels import CHANNELS, SPECS
from journeys.rendering.limits import MAX_TEXT, BoundedSandbox, RenderLimitError, checked, limited
from journeys.rendering.locale_format import local_date, money, number
from journeys.rendering.safe_urls import safe_links
from journeys.rendering.store_reads import attribute_reads
from journeys.rendering.template_source import NestingLimit, TemplateFiles


@dataclass(frozen=True)
class RenderedMessage:
    template_file: str
    locale: str
    parts: dict[str, str]

    @property
    def subject(self) -> str:
        return self.parts.get("subject") or self.parts.get("title") or ""

    @property
    def text(self) -> str:
        return self.parts.get("text", "")

    @property
    def html(self) -> str | None:
        return self.parts.get("html")


MAX_LAYOUTS = 8
"""Layouts a template may extend through (``a`` extends ``b`` extends ``c``...)."""


class TemplateCycle(TemplateSyntaxError):
    """Templates that extend one another in a circle: rendering would never end."""


def _sandbox(root: Path | None, autoescape: bool) -> BoundedSandbox:
    """Bounded in what a template may cost (``journeys.rendering.limits``) and in how it is read and
    nested (``template_source``)."""
    env = BoundedSandbox(
        loader=TemplateFiles(root) if root else None,
        extensions=[NestingLimit],
        undefined=StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        cache_size=1000,
        auto_reload=False,
    )
    env.filters["money"] = money
    env.filters["number"] = number
    env.filters["date"] = local_date
    return env


# One `{{ ... }}` and nothing around it but blanks (no second `{{` or `}}` inside).
_WHOLE_EXPRESSION = re.compile(r"^\s*\{\{((?:(?!\{\{|\}\}).)*)\}\}\s*$", re.DOTALL)


def unwrap_expression(value: object) -> str | None:
    """The expression of a value written as one whole ``"{{ expr }}"``, else None.

    The one rule, shared by the ``update`` activity (which evaluates such values) and by
    ``journeys validate`` (which checks them, and rejects a ``{{`` anywhere else: that
    text would be stored as it is, braces included).
    """
    if not isinstance(value, str):
        return None
    match = _WHOLE_EXPRESSION.match(value)
    return match.group(1).strip() if match else None


class ExpressionError(ValueError):
    """An expression that does not compile or does not evaluate."""


class Expressions:
    """Evaluates ``if:`` conditions and ``at:`` moments; compiled expressions are cached."""

    def __init__(self) -> None:
        self._env = _sandbox(None, autoescape=False)
        self._compiled: dict[str, Any] = {}
        self._variables: dict[str, frozenset[str]] = {}

    def compile(self, source: str) -> Any:
        compiled = self._compiled.get(source)
        if compiled is None:
            try:
                compiled = self._env.compile_expression(source, undefined_to_none=False)
            except Exception as err:  # jinja raises several syntax error types
                raise ExpressionError(f"expression '{source}' does not parse: {err}") from err
            self._compiled[source] = compiled
        return compiled

    def variables(self, source: str) -> frozenset[str]:
        """Top-level names the expression uses (``points.balance > 0`` → ``points``), and
        ``"customer.badges"`` when it reads that (``journeys.rendering.store_reads``)."""
        if source not in self._variables:
            try:
                parsed = self._env.parse(f"{{{{ {source} }}}}")
            except Exception:  # compile() reports it with a proper message
                return frozenset()
            names = meta.find_undeclared_variables(parsed) | attribute_reads(parsed)
            self._variables[source] = frozenset(names)
        return self._variables[source]

    def evaluate(self, source: str, context: dict[str, Any]) -> Any:
        compiled = self.compile(source)
        try:
            with limited(None):
                value = checked(compiled(**context))
            bool(value)  # forces StrictUndefined to raise here, not in the caller
            return value
        except Exception as err:
            raise ExpressionError(f"expression '{source}' fails: {err}") from err


def locale_key(locale: str) -> str:
    """How a locale appears in a template file name: ``fr-CA`` and ``fr_ca`` → ``fr-ca``."""
    return locale.replace("_", "-").lower()


class TemplateMissing(LookupError):
    pass


class Templates:
    """Finds and renders message templates, with locale fallback (``fr-CA`` → ``fr`` → default).

    HTML parts come from an autoescaping environment and text parts from a plain one over
    the same files, so ``&`` stays ``&`` in an SMS and becomes ``&amp;`` in HTML.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._html = _sandbox(root, autoescape=True)
        self._plain = _sandbox(root, autoescape=False)
        self._parents: dict[str, tuple[str, int] | None] = {}
        self._variables: dict[tuple[str, tuple[str, ...]], frozenset[str]] = {}

    def candidates(self, name: str, channel: str, locale: str | None) -> list[str]:
        names = []
        if locale:
            parts = locale_key(locale).split("-")
            for size in range(len(parts), 0, -1):
                names.append(f"{name}.{channel}.{'-'.join(parts[:size])}.j2")
        names.append(f"{name}.{channel}.j2")
        return names

    def find(self, name: str, channel: str, locale: str | None = None) -> str:
        for candidate in self.candidates(name, channel, locale):
            if (self.root / candidate).is_file():
                return candidate
        raise TemplateMissing(
            f"template '{name}' has no {channel} version "
            f"(looked for {self.root / self.candidates(name, channel, None)[-1]})"
        )

    def locales(self, name: str, channel: str) -> list[str]:
        """Every locale variant ``find`` can choose for this template ('' is the default).

        Only files named by ``locale_key`` count (``fr-ca``, not ``fr-CA``): those are the
        names ``find`` looks up, so a check of these files is a check of what is sent.
        """
        variants = self._variants(name, channel)
        return [variant for variant in variants if variant == locale_key(variant)]

    def misnamed_locales(self, name: str, channel: str) -> list[str]:
        """Variant files ``find`` never chooses: their locale part is not lower case (with
        ``-``), so a customer with that locale silently gets the default instead."""
        return [v for v in self._variants(name, channel) if v != locale_key(v)]

    def _variants(self, name: str, channel: str) -> list[str]:
        folder = (self.root / name).parent
        stem = Path(name).name
        prefix = f"{stem}.{channel}."
        default = [""] if (folder / f"{prefix}j2").is_file() else []
        variants = (p.name[len(prefix) : -len(".j2")] for p in folder.glob(f"{prefix}*.j2"))
        return default + sorted(variants)

    def variables(self, name: str, channels: list[str]) -> frozenset[str]:
        """Top-level names any variant of the template uses on these channels, layouts
        included (cached): the deliver activity reads the loyalty snapshot only when a
        template mentions ``points``, ``tier`` or ``segment``."""
        key = (name, tuple(channels))
        if key not in self._variables:
            used: set[str] = set()
            for channel in channels:
                for variant in self._variants(name, channel):
                    suffix = f".{variant}" if variant else ""
                    for current in self.chain(f"{name}.{channel}{suffix}.j2"):
                        parsed = self._parsed(current)
                        used |= meta.find_undeclared_variables(parsed) | attribute_reads(parsed)
            self._variables[key] = frozenset(used)
        return self._variables[key]

    def block_names(self, file: str) -> set[str]:
        """Blocks a template file defines, itself or through the layouts it extends."""
        names: set[str] = set()
        for current in self.chain(file):
            names.update(self._plain.get_template(current).blocks)
        return names

    def chain(self, file: str) -> list[str]:
        """``file`` and the layouts it extends, nearest first; a cycle or a chain longer
        than ``MAX_LAYOUTS`` is a ``TemplateSyntaxError`` at the closing ``{% extends %}``
        (Jinja itself would recurse until the stack runs out, or here loop forever)."""
        chain = [file]
        while (parent := self._parent(chain[-1])) is not None:
            name, line = parent
            where = str(self.root / chain[-1])
            if name in chain:
                loop = " → ".join([*chain[chain.index(name) :], name])
                detail = "extends itself" if name == chain[-1] else f"extends in a circle: {loop}"
                raise TemplateCycle(f"'{chain[-1]}' {detail}", line, chain[-1], where)
            if len(chain) > MAX_LAYOUTS:
                message = f"'{file}' extends more than {MAX_LAYOUTS} layouts in a row"
                raise TemplateSyntaxError(message, line, chain[-1], where)
            chain.append(name)
        return chain

    def render_part(self, file: str, block: str, context: dict[str, Any]) -> str:
        """One block of a template file, e.g. the ``subject`` of an email.

        Rendering a single block skips the root render, which is where ``{% extends %}``
        links a layout's blocks; so the chain is linked here, child first so its blocks win.
        Errors go through Jinja's handler so their traceback names template lines. A part
        is bounded in size and CPU time (``journeys.rendering.limits``); in an HTML part,
        links with an unsafe scheme are removed (``journeys.rendering.safe_urls``).
        """
        env = self._html if block == "html" else self._plain
        try:
            chain = self.chain(file)
            ctx = env.get_template(file).new_context(context)
            for parent in chain[1:]:
                for name, function in env.get_template(parent).blocks.items():
                    ctx.blocks.setdefault(name, []).append(function)
        except TemplateNotFound as err:
            raise TemplateMissing(f"template '{err.name}' does not exist") from err
        if block not in ctx.blocks:
            raise TemplateMissing(f"{self.root / file}: has no '{{% block {block} %}}'")
        with limited(file):
            try:
                text = _joined(ctx.blocks[block][0](ctx), file)
            except RecursionError:
                raise RenderLimitError(
                    f"template '{file}': calls nest too deeply (a macro, {{% include %}} "
                    "or {% import %} that calls itself?)"
                ) from None
            except Exception:
                env.handle_exception()  # re-raises with template file names and lines
        return safe_links(text) if block == "html" else text

    def _parsed(self, file: str) -> nodes.Template:
        source = self._plain.loader.get_source(self._plain, file)[0]  # type: ignore[union-attr]
        return self._plain.parse(source)

    def _parent(self, file: str) -> tuple[str, int] | None:
        """The layout a template extends (a literal name) and the line saying so, read once
        per file."""
        if file not in self._parents:
            extends = next(self._parsed(file).find_all(nodes.Extends), None)
            parent = getattr(extends, "template", None)
            self._parents[file] = (
                (str(parent.value), extends.lineno)
                if extends is not None and isinstance(parent, nodes.Const)
                else None
            )
        return self._parents[file]

    def render(
        self, name: str, channel: str, locale: str | None, context: dict[str, Any]
    ) -> RenderedMessage:
        file = self.find(name, channel, locale)
        chosen_locale = file[len(f"{name}.{channel}") : -len(".j2")].lstrip(".")
        parts = {block: self.render_part(file, block, context) for block in SPECS[channel].blocks}
        return RenderedMessage(template_file=file, locale=chosen_locale, parts=parts)


def _joined(chunks: Any, file: str) -> str:
    """The rendered text, stopped as soon as it passes ``MAX_TEXT`` characters."""
    parts, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_TEXT:
            raise RenderLimitError(
                f"template '{file}': the output is over the limit of {MAX_TEXT:,} characters"
            )
        parts.append(chunk)
    return "".join(parts).strip()


# Context names read from the loyalty store (``store.loyalty.snapshot``); ``referral``
# (the customer's code, made on first ask) only for the sources that name it.
LOYALTY_NAMES = frozenset({"points", "tier", "segment", "referral"})
REFERRAL_NAME = "referral"


SAMPLE_CUSTOMER: dict[str, Any] = {
    "id": "sample-customer",
    "email": "alex@example.com",
    "phone": "+33612345678",
    "push_token": "sample-device-token",
    "locale": "en",
    "time_zone": "Europe/Paris",
    "first_name": "Alex",
    "last_name": "Martin",
    "consent": dict.fromkeys(CHANNELS, True),
    "badges": [],
}


SAMPLE_POINTS: dict[str, Any] = {
    "balance": 1250,
    "pending": 0,
    "next_expiring_amount": 300,
    "next_expiring_at": "2026-02-01T00:00:00+01:00",
    "next_expiring_on": "2026-01-31",
    "earned": 2000,
    "redeemed": 700,
    "expired": 50,
}


SAMPLE_REFERRAL: dict[str, Any] = {"code": "K7Q2M9XP"}


def sample_now() -> datetime:
    return datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
