"""Bounds on what one render or one expression may cost: its size and its CPU time.

Jinja's sandbox stops a template from reaching Python's internals, not from spending the
worker's memory or CPU: ``{{ 'x' * 10**9 }}``, two nested loops over ``range(100000)``,
a macro that calls itself twice, or ``{% set s = s ~ s %}`` written thirty times would
each hold a worker thread (or ``journeys validate``) for minutes or exhaust its memory.

So ``BoundedSandbox`` refuses, *before* computing it, any value larger than ``MAX_TEXT``
characters or items (a repetition, a concatenation, a ``%`` or ``format`` width, a
filter's width or count, a join or replace), and stops a render or an expression after
``MAX_CPU_SECONDS`` of the thread's CPU time, checked at every call, attribute, operator,
filter and every 256 loop items. Either raises ``RenderLimitError``, a Jinja
``SecurityError``, so callers that already handle template errors handle it too.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import update_wrapper, wraps
from typing import Any

from jinja2 import TemplateSyntaxError, nodes, pass_eval_context
from jinja2.ext import Extension
from jinja2.nodes import EvalContext
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from jinja2.visitor import NodeTransformer

MAX_TEXT = 1_000_000
"""Characters in a text, or items in a list, that a render or expression may make."""
MAX_CPU_SECONDS = 2.0
"""CPU time (of the rendering thread) for one template part or one expression."""
MAX_RANGE = 100_000
"""Items in one ``range()``: the sandbox's own limit, with a clearer error."""
MAX_INT_BITS = 100_000
"""Bits in an integer made by ``*`` or ``**`` (about 30,000 digits)."""


class RenderLimitError(SecurityError):
    """A template or expression went over a size or time bound."""


@dataclass
class _Budget:
    name: str | None
    deadline: float


_budget: ContextVar[_Budget | None] = ContextVar("journeys_render_budget", default=None)


@contextmanager
def limited(name: str | None) -> Iterator[None]:
    """Runs a render or evaluation under a fresh CPU deadline; ``name`` (a template file)
    is put in front of every limit error so the operator knows which template it was."""
    token = _budget.set(_Budget(name, time.thread_time() + MAX_CPU_SECONDS))
    try:
        yield
    finally:
        _budget.reset(token)


def refuse(detail: str) -> RenderLimitError:
    budget = _budget.get()
    prefix = f"template '{budget.name}': " if budget and budget.name else ""
    return RenderLimitError(f"{prefix}{detail}")


def check_time() -> None:
    budget = _budget.get()
    if budget is not None and time.thread_time() > budget.deadline:
        raise refuse(f"rendering stopped after {MAX_CPU_SECONDS:g} s of CPU time")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple | dict | set) else 0


def checked(value: Any) -> Any:
    """``value``, unless it is a text or collection larger than ``MAX_TEXT``."""
    if _size(value) > MAX_TEXT:
        raise refuse(f"a value of {_size(value):,} characters or items is over the limit "
                     f"of {MAX_TEXT:,}")
    return value


def check_total(total: int) -> None:
    if total > MAX_TEXT:
        raise refuse(f"the result would be {total:,} characters or items, over the limit "
                     f"of {MAX_TEXT:,}")


def _check_count(what: str, value: Any) -> None:
    if isinstance(value, int) and abs(value) > MAX_TEXT:
        raise refuse(f"{what} {value:,} is over the limit of {MAX_TEXT:,}")


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if _size(seq) and isinstance(count, int):
                check_total(len(seq) * count)
        if isinstance(left, int) and isinstance(right, int):
            _check_bits(left.bit_length() + right.bit_length())
    elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        _check_bits(right * max(abs(left).bit_length() - 1, 0))
    elif operator == "+" and _size(left) and _size(right):
        check_total(len(left) + len(right))
    elif operator == "%" and isinstance(left, str):
        _check_percent(left, right)


def _check_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise refuse(f"the number would have about {bits:,} bits, over the limit of "
                     f"{MAX_INT_BITS:,}")


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\d+|\*)?(?:\.(\d+|\*))?")


def _check_percent(text: str, arguments: Any) -> None:
    """``"%999999999d" % 1`` allocates its width: refuse widths over the limit."""
    values = arguments if isinstance(arguments, tuple) else (arguments,)
    for match in _PERCENT_SPEC.finditer(text):
        for part in match.groups():
            if part == "*":
                for value in values:
                    _check_count("a '*' width of", value)
            elif part:
                _check_count("a width of", int(part))


def _check_format(text: str, values: Iterable[Any]) -> None:
    """The same for ``"{:>999999999}".format(1)`` and widths given as ``{:{}}``."""
    for _, _, spec, _ in string.Formatter().parse(text):
        for digits in re.findall(r"\d+", spec or ""):
            _check_count("a width of", int(digits))
        if spec and "{" in spec:
            for value in values:
                _check_count("a width of", value)


_STRING_WIDTHS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def _check_method(function: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """String methods whose result size is set by an argument; ``args`` to call with."""
    owner = getattr(function, "__self__", None)
    name = getattr(function, "__name__", "")
    if not isinstance(owner, str | bytes):
        return args
    if name in _STRING_WIDTHS:
        for value in args:
            _check_count(f"{name}() width", value)
    elif name == "join" and args:
        return (_check_join(owner, args[0]), *args[1:])
    elif name == "replace" and len(args) >= 2:
        _check_replace(owner, args[0], args[1])
    return args


def _check_join(glue: Any, iterable: Any) -> list[Any]:
    """The items of a join (read once: a generator cannot be read again for the join
    itself), refused when the items and the glue between them would pass the limit."""
    items = _items(iterable)
    check_total(_size(glue) * max(len(items) - 1, 0) + sum(map(_size, items)))
    return items


def _items(iterable: Any) -> list[Any]:
    items = []
    for item in iterable:
        items.append(item)
        if len(items) > MAX_TEXT:
            check_total(len(items))
    return items


def _check_replace(text: Any, old: Any, new: Any) -> None:
    if _size(text) and isinstance(old, str | bytes) and isinstance(new, str | bytes):
        count = text.count(old) if old else len(text) + 1
        check_total(len(text) + count * max(len(new) - len(old), 0))


def _guard_filter(name: str, function: Any) -> Any:
    """A filter with its arguments checked before the call and its result after."""
    passes_context = getattr(function, "jinja_pass_arg", None) is not None

    @wraps(function)  # keeps jinja_pass_arg, so Jinja still passes the context
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check_time()
        first = 1 if passes_context else 0
        if len(args) > first:
            value, rest = args[first], args[first + 1 :]
            if name == "join":
                glue = rest[0] if rest else kwargs.get("d", "")
                args = (*args[:first], _check_join(glue, value), *rest)
            elif name == "replace" and len(rest) >= 2:
                _check_replace(value, rest[0], rest[1])
            elif name == "format" and isinstance(value, str):
                _check_percent(value, tuple(rest) or dict(kwargs))
            elif name in _SIZED_FILTERS:
                for extra in (*rest, *kwargs.values()):
                    _check_count(f"the {name} filter's", extra)
                if name == "indent" and isinstance(value, str):
                    width = rest[0] if rest else kwargs.get("width", 4)
                    per_line = len(width) if isinstance(width, str) else width
                    check_total(len(value) + (value.count("\n") + 1) * per_line)
        return checked(function(*args, **kwargs))

    return guarded


# Filters whose integer arguments are widths or counts of what they make.
_SIZED_FILTERS = frozenset({"center", "indent", "wordwrap", "batch", "slice", "truncate"})


class _GuardedFilters(dict):  # type: ignore[type-arg]
    """The environment's filters, each wrapped as it is added (``money`` and ``date`` too)."""

    def __setitem__(self, name: str, function: Any) -> None:
        super().__setitem__(name, _guard_filter(name, function))

    def update(self, *others: Mapping[str, Any], **more: Any) -> None:  # type: ignore[override]
        for mapping in (*others, more):
            for name, function in mapping.items():
                self[name] = function


def bounded_range(*args: int) -> range:
    numbers = range(*args)
    try:
        length = len(numbers)
    except OverflowError:
        length = MAX_RANGE + 1
    if length > MAX_RANGE:
        raise refuse(f"range() of {length:,} numbers is over the limit of {MAX_RANGE:,}")
    return numbers


class RenderGuards(Extension):
    """Functions the compiled templates call where Jinja has no sandbox hook of its own:
    each loop's items (for the time check) and each ``~`` concatenation (for the size)."""

    def loop_items(self, iterable: Any) -> Iterator[Any]:
        for count, item in enumerate(iterable, 1):
            if count % 256 == 0:
                check_time()
            yield item

    @pass_eval_context
    def concat(self, eval_ctx: EvalContext, *parts: Any) -> str:
        texts = [part if isinstance(part, str) else str(part) for part in parts]
        check_total(sum(map(len, texts)))
        return markup_join(texts) if eval_ctx.autoescape else str_join(texts)


class _Guards(NodeTransformer):
    """Routes loops, ``~`` and ``{% set %}...{% endset %}`` through the checks above."""

    def _call(self, method: str, args: list[nodes.Expr], lineno: int) -> nodes.Call:
        attribute = nodes.ExtensionAttribute(RenderGuards.identifier, method, lineno=lineno)
        return nodes.Call(attribute, args, [], None, None, lineno=lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self._call("loop_items", [node.iter], node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return self._call("concat", list(node.nodes), node.lineno)

    def visit_AssignBlock(self, node: nodes.AssignBlock) -> nodes.Node:
        self.generic_visit(node)
        if node.filter is None:  # a captured block: its size is checked like a value
            node.filter = nodes.Filter(None, "checked", [], [], None, None, lineno=node.lineno)
        return node


class BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox with the size and time checks above at every hook it offers."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})  # also stops constant folding

    def __init__(self, **options: Any) -> None:
        extensions = [*options.pop("extensions", ()), RenderGuards]
        super().__init__(extensions=extensions, **options)
        filters = _GuardedFilters()
        filters.update(self.filters, checked=checked)
        self.filters = filters
        self.globals["range"] = bounded_range

    def compile(  # type: ignore[override]
        self,
        source: str | nodes.Template,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> Any:
        tree = self.parse(source, name, filename) if isinstance(source, str) else source
        tree = _Guards().visit(tree)
        try:
            return super().compile(tree, name, filename, raw, defer_init)
        except (RecursionError, SyntaxError) as err:  # Python's own nesting limits
            message = f"the template is too deeply nested to compile ({err})"
            raise TemplateSyntaxError(message, 1, name, filename) from None

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_time()
        _check_binop(operator, left, right)
        return checked(super().call_binop(context, operator, left, right))

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        check_time()
        args = _check_method(obj, args)
        return checked(super().call(context, obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        check_time()
        return checked(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        check_time()
        return checked(super().getitem(obj, argument))

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = value.__self__

        def bounded(*args: Any, **kwargs: Any) -> Any:
            values = [*args, *kwargs.values()]
            if args and isinstance(args[0], Mapping) and value.__name__ == "format_map":
                values = list(args[0].values())
            _check_format(text, values)
            return checked(wrapped(*args, **kwargs))

        return update_wrapper(bounded, wrapped)
