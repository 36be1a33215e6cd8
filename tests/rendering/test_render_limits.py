"""What one render or expression may cost, and what the worker does when a template
would loop, recurse or grow without end: a clear template error, promptly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from jinja2 import TemplateError, TemplateSyntaxError

from journeys.rendering.limits import MAX_CPU_SECONDS, MAX_TEXT, RenderLimitError
from journeys.rendering.templating import ExpressionError, Expressions, TemplateCycle, Templates


def sms(tmp_path: Path, body: str, name: str = "t") -> Templates:
    path = tmp_path / f"{name}.sms.j2"
    path.write_text("{% block text %}" + body + "{% endblock %}\n", encoding="utf-8")
    return Templates(tmp_path)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("{{ 'x' * 10**9 }}", "the result would be 1,000,000,000 characters"),
        ("{% for i in range(10**8) %}{% endfor %}", "range() of 100,000,000 numbers"),
        ("{{ 'x' | center(10**9) }}", "the center filter's 1,000,000,000 is over the limit"),
        ("{{ 'x'.ljust(10**9) }}", "ljust() width 1,000,000,000"),
        ("{{ '%999999999d' | format(1) }}", "a width of 999,999,999"),
        ("{{ '%0999999999d' % 1 }}", "a width of 999,999,999"),
        ("{{ '{:>999999999}'.format(1) }}", "a width of 999,999,999"),
        ("{{ 10 ** (10 ** 10) }}", "the number would have about"),
        ("{{ range(100000) | join('x' * 100000) }}", "the result would be 9,999,900,000"),
        ("{% set s = 'a' * 100000 %}{{ s | replace('a', 'bb' * 1000) }}", "the result would be"),
        ("{% set a = 'x' * 1000 %}" + "{% set a = a ~ a %}" * 12, "the result would be"),
        ("{% set a %}{{ 'x' * 600000 }}{% endset %}{% set a %}{{ a }}{{ a }}{% endset %}",
         "a value of 1,200,000 characters"),
        ("{% set ns = namespace(l=[1]) %}{% for i in range(30) %}{% set ns.l = ns.l + ns.l %}"
         "{% endfor %}", "the result would be 1,048,576"),
        ("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}",
         f"the output is over the limit of {MAX_TEXT:,} characters"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "calls nest too deeply"),
        ("{% include 't.sms.j2' %}", "calls nest too deeply"),
    ],
)
def test_a_render_that_would_grow_without_bound_stops_with_the_template_named(
    tmp_path: Path, body: str, detail: str
) -> None:
    templates = sms(tmp_path, body)
    start = time.monotonic()
    with pytest.raises(RenderLimitError) as caught:
        templates.render("t", "sms", None, {})
    assert time.monotonic() - start < 10
    assert str(caught.value).startswith("template 't.sms.j2': ")
    assert detail in str(caught.value)
    assert isinstance(caught.value, TemplateError)  # what callers already handle


@pytest.mark.parametrize(
    "body",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% set d = range(100000) | list %}{% for i in d %}{% for j in d %}{% endfor %}"
        "{% endfor %}",
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(60) }}",
    ],
)
def test_a_render_that_would_run_for_hours_stops_after_its_cpu_time(
    tmp_path: Path, body: str
) -> None:
    templates = sms(tmp_path, body)
    start = time.thread_time()
    with pytest.raises(RenderLimitError, match="rendering stopped after 2 s of CPU time"):
        templates.render("t", "sms", None, {})
    assert time.thread_time() - start < MAX_CPU_SECONDS + 1


def test_ordinary_loops_and_values_are_not_limited(tmp_path: Path) -> None:
    body = (
        "{% for i in range(1000) %}{{ i }},{% endfor %}"
        "{{ 'ab' * 1000 }}{{ range(10) | join('-') }}{{ 'x' | center(20) }}{{ 2 ** 64 }}"
        "{% set ns = namespace(s='') %}{% for w in ['a', 'b'] %}{% set ns.s = ns.s ~ w %}"
        "{% endfor %}{{ ns.s }}{{ '%05d' | format(42) }}{{ '{:>4}'.format(7) }}"
    )
    text = sms(tmp_path, body).render("t", "sms", None, {}).text
    assert text.startswith("0,1,2,") and "999," in text
    centred = " " * 9 + "x" + " " * 10
    assert text.endswith(f"0-1-2-3-4-5-6-7-8-9{centred}18446744073709551616ab00042   7")


def test_an_expression_result_is_bounded_too() -> None:
    expressions = Expressions()
    for source, detail in [
        ("'x' * 10**9", "the result would be 1,000,000,000"),
        ("range(10**9) | list", "range() of 1,000,000,000 numbers"),
        ("(range(100000) | list) * 100", "the result would be 10,000,000"),
        ("event.text", "a value of 1,000,001 characters"),
    ]:
        with pytest.raises(ExpressionError, match="over the limit") as caught:
            expressions.evaluate(source, {"event": {"text": "y" * (MAX_TEXT + 1)}})
        assert detail in str(caught.value) and source in str(caught.value)
    assert expressions.evaluate("'x' * 10 ~ 'y'", {}) == "xxxxxxxxxxy"


def test_an_extends_cycle_is_an_error_at_render_time_not_a_spin(tmp_path: Path) -> None:
    (tmp_path / "a.sms.j2").write_text('{% extends "b.sms.j2" %}{% block text %}a{% endblock %}')
    (tmp_path / "b.sms.j2").write_text('\n{% extends "a.sms.j2" %}')
    (tmp_path / "self.sms.j2").write_text('{% extends "self.sms.j2" %}')
    templates = Templates(tmp_path)
    with pytest.raises(TemplateCycle) as caught:
        templates.render("a", "sms", None, {})
    assert caught.value.lineno == 2 and caught.value.filename == str(tmp_path / "b.sms.j2")
    assert caught.value.message == "'b.sms.j2' extends in a circle: a.sms.j2 → b.sms.j2 → a.sms.j2"
    with pytest.raises(TemplateCycle, match=r"'self\.sms\.j2' extends itself"):
        templates.render("self", "sms", None, {})
    with pytest.raises(TemplateCycle):
        templates.variables("a", ["sms"])  # the deliver activity asks this first


def test_nesting_under_the_limits_still_compiles_and_renders(tmp_path: Path) -> None:
    # 16 levels, counting the {% block text %} around them
    ifs = "{% if true %}" * 15 + "deep" + "{% endif %}" * 15
    fors = "{% for a in [1] %}" * 15 + "loops" + "{% endfor %}" * 15
    parens = "{{ " + "(" * 16 + "1" + ")" * 16 + " }}"
    chain = "{{ x" + ".y" * 60 + " }}"
    context = {"x": (nested := {}), "e": None}
    for _ in range(60):
        nested["y"] = nested = {}
    nested.clear()
    templates = sms(tmp_path, ifs + fors + parens + chain)
    assert templates.render("t", "sms", None, context).text == "deeploops1{}"


@pytest.mark.parametrize(
    ("body", "message", "line"),
    [
        ("\n" + "{% if 1 %}" * 17 + "{% endif %}" * 17, "blocks are nested more than 16 deep", 2),
        ("{{ " + "(" * 17 + "1" + ")" * 17 + " }}", "brackets are nested more than 16 deep", 1),
        ("\n\n{{ x" + ".y" * 65 + " }}", "this tag has more than 64 operators", 3),
        ("{{ " + "not " * 400 + "1 }}", "this tag has more than 64 operators", 1),
    ],
)
def test_nesting_over_the_limits_is_a_syntax_error_at_its_line(
    tmp_path: Path, body: str, message: str, line: int
) -> None:
    (tmp_path / "t.sms.j2").write_text(body)
    with pytest.raises(TemplateSyntaxError, match=message) as caught:
        Templates(tmp_path).render("t", "sms", None, {})
    assert caught.value.lineno == line


@pytest.mark.parametrize("autoescape", [False, True])
def test_the_guards_change_nothing_a_template_renders(autoescape: bool) -> None:
    """Loops, ``~`` and captured blocks go through the guards: same output as plain Jinja."""
    from jinja2.sandbox import SandboxedEnvironment

    from journeys.rendering.limits import BoundedSandbox

    source = (
        "{% for x in [1, 2, 3] %}{{ loop.length }}{{ loop.revindex }}{{ loop.cycle('a', 'b') }}"
        "{% endfor %}|{% for x in [] %}{% else %}empty{% endfor %}|"
        "{% for n in tree recursive %}{{ n.v }}({{ loop(n.c) }}){% endfor %}|"
        "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|"
        "{{ '<b>' ~ 1 ~ none ~ html }}|{% set x %}<i>{{ html }}</i>{% endset %}{{ x }}|"
        "{% filter upper %}up{% endfilter %}"
    )
    context = {"tree": [{"v": 1, "c": [{"v": 2, "c": []}]}], "d": {"a": 1}, "html": "<s>"}
    plain = SandboxedEnvironment(autoescape=autoescape).from_string(source).render(context)
    bounded = BoundedSandbox(autoescape=autoescape).from_string(source).render(context)
    assert bounded == plain
    assert ("&lt;s&gt;" in bounded) is autoescape
