"""Checks that a scenario will run as written, before any customer enters it.

A journey lasts days: a misspelt variable, a missing template or a step that can never run
would otherwise surface at send time, as a blank or a missing message to a real customer.
So every expression and every template (each locale variant) is evaluated here against the
scenario's ``sample``, with the same strict, sandboxed Jinja the worker uses, and every
problem is reported (not just the first) as ``file:line: plain sentence``.
"""

from __future__ import annotations

import traceback
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import TemplateNotFound, TemplateSyntaxError

from journeys.authoring.broadcasts import broadcast_problems
from journeys.authoring.scenario_file import read_scenario
from journeys.files.problems import Problem, ScenarioError
from journeys.files.text import read_source
from journeys.files.yaml_lines import LineDict, LineList, load_yaml
from journeys.model.channels import SPECS
from journeys.model.local_time import to_moment
from journeys.model.profile import PROFILE_FIELDS, check_profile_value
from journeys.model.scenario import (
    AnyStep,
    CouponStep,
    ExitStep,
    IfStep,
    Scenario,
    SendStep,
    SplitStep,
    UpdateStep,
    WaitForStep,
    WaitUntilStep,
)
from journeys.process.clock import utcnow
from journeys.rendering.context import sample_context
from journeys.rendering.template_source import TemplateUnreadable
from journeys.rendering.templating import (
    Expressions,
    TemplateCycle,
    Templates,
    locale_key,
    unwrap_expression,
)


def scenario_files(paths: list[Path]) -> Iterator[Path]:
    """The files to read: a folder stands for its ``*.yaml`` and ``*.yml`` files, sorted."""
    for path in paths:
        if path.is_dir():
            yield from sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        else:
            yield path


def validate_paths(
    paths: list[Path], templates_dir: Path, counters: Collection[str] | None = None
) -> tuple[list[Scenario], list[Problem]]:
    """Every scenario that parsed, and every problem found in the files and their templates.

    Callers treat any problem as a failure; the scenarios are returned anyway so that a
    tool can still show what it understood. ``counters``: the names ``loyalty.yaml``
    declares, so that ``counters.<other>`` is a problem (None: not known, any name passes).
    """
    templates = Templates(templates_dir)
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    first_file: dict[str, str] = {}
    for path in scenario_files(paths):
        try:
            scenario, text = read_scenario(path)
        except ScenarioError as err:
            problems += err.problems
            continue
        raw = load_yaml(text)  # parsed once already, so no syntax error here
        if scenario.id in first_file:
            problems.append(
                Problem(
                    str(path),
                    raw.line_of("id"),
                    f"scenario id '{scenario.id}' is already used by {first_file[scenario.id]}",
                )
            )
        first_file.setdefault(scenario.id, str(path))
        scenarios.append(scenario)
        problems += validate_scenario(scenario, templates, raw, counters)
    return scenarios, sorted(set(problems))


def validate_scenario(
    scenario: Scenario,
    templates: Templates | Path,
    raw: LineDict | None = None,
    counters: Collection[str] | None = None,
) -> list[Problem]:
    """Every problem of one parsed scenario: steps, expressions and templates.

    ``raw`` (the YAML tree) gives the lines of keys that the model does not keep, such as
    ``entry.if``; without it the scenario's source file is read, if there is one.
    """
    if isinstance(templates, Path):
        templates = Templates(templates)
    if raw is None:
        raw = _read_tree(scenario.source)
    return _Checker(scenario, templates, raw, counters).run()


class _Checker:
    """One scenario's checks, sharing its sample context and the problems found so far."""

    def __init__(
        self,
        scenario: Scenario,
        templates: Templates,
        raw: LineDict,
        counters: Collection[str] | None = None,
    ) -> None:
        self.scenario = scenario
        self.templates = templates
        self.raw = raw
        self.file = scenario.source or f"scenario '{scenario.id}'"
        self.context = sample_context(scenario, counters)
        self.expressions = Expressions()
        self.problems: list[Problem] = []

    def problem(self, line: int, message: str, file: str | None = None) -> None:
        self.problems.append(Problem(file or self.file, line or 1, message))

    def run(self) -> list[Problem]:
        self.problems += broadcast_problems(self.scenario, self.raw, self.file, utcnow())
        self.step_ids()
        for step in _unreachable(self.scenario.steps):
            self.problem(
                step.line, f"step '{step.id}' can never run: the step before it always exits"
            )
        self.exit_on()
        for step in self.scenario.walk():
            if isinstance(step, WaitForStep):
                self.received_after_exit(step)
            elif isinstance(step, SplitStep):
                self.variant_names(step)
            elif isinstance(step, UpdateStep):
                self.update_values(step)
        for what, source, line, moment in self.expressions_to_check():
            self.expression(what, source, line, moment)
        checked: set[tuple[str, str]] = set()
        for step in self.scenario.walk():
            if isinstance(step, SendStep):
                for channel in step.channels:
                    if (step.template, channel) not in checked:
                        checked.add((step.template, channel))
                        self.template(step, channel)
        return self.problems

    def step_ids(self) -> None:
        first_line: dict[str, int] = {}
        for step in self.scenario.walk():
            if step.id in first_line:
                first = first_line[step.id]
                self.problem(
                    step.line, f"step id '{step.id}' is already used by the step on line {first}"
                )
            first_line.setdefault(step.id, step.line)

    def exit_on(self) -> None:
        """A trigger in ``exit_on`` ends every journey at the very event that starts it."""
        trigger = self.scenario.trigger.event
        if trigger in self.scenario.exit_on:
            written = self.raw.get("exit_on")
            line = self.raw.line_of("exit_on")
            if isinstance(written, LineList) and trigger in written:
                line = written.line_of(written.index(trigger))
            self.problem(
                line,
                f"exit_on lists the trigger event '{trigger}': "
                "every journey would end as soon as it starts",
            )

    def received_after_exit(self, step: WaitForStep) -> None:
        """An awaited event that is also in ``exit_on`` ends the journey before the branch."""
        if step.received and step.event in self.scenario.exit_on:
            self.problem(
                step.line,
                f"step '{step.id}': its 'received' steps can never run: '{step.event}' is in "
                "exit_on, which ends the journey as soon as the event arrives",
            )

    def variant_names(self, step: SplitStep) -> None:
        """Variant names label funnels and timelines: two alike could not be told apart."""
        first_line: dict[str, int] = {}
        for variant in step.variants:
            if variant.name in first_line:
                self.problem(
                    variant.line or step.line,
                    f"step '{step.id}': variant name '{variant.name}' is already used by the "
                    f"variant on line {first_line[variant.name]}",
                )
            first_line.setdefault(variant.name, variant.line or step.line)

    def update_values(self, step: UpdateStep) -> None:
        """Literal values must be what the store accepts when the journey gets there.

        A value is either one whole ``"{{ expr }}"`` (evaluated) or plain data (stored as
        written): a ``{{`` anywhere else would reach the customer's profile as braces.
        Profile fields follow the store's own rules (``check_profile_value``).
        """
        for key, value in step.set.items():
            where = f"step '{step.id}': set.{key}"
            if key == "id":
                self.problem(step.line, f"{where}: a customer's id cannot be changed")
                continue
            if unwrap_expression(value) is not None:
                continue  # checked with the other expressions
            if _has_braces(value):
                written = f'"{value}"' if isinstance(value, str) else repr(value)
                self.problem(
                    step.line,
                    f"{where} {written} would be stored as written, braces included: only a "
                    'value that is one whole "{{ expression }}" is evaluated '
                    "(e.g. \"{{ 'Hi ' ~ customer.first_name }}\")",
                )
                continue
            if key in PROFILE_FIELDS:
                try:
                    check_profile_value(key, value)
                except ValueError as err:
                    self.problem(step.line, f"{where}: {err}")

    def expressions_to_check(self) -> Iterator[tuple[str, str, int, bool]]:
        """(where it is written, expression, line, must give a date) for each expression."""
        if self.scenario.entry.condition is not None:
            entry = self.raw.get("entry")
            line = entry.line_of("if") if isinstance(entry, LineDict) else 1
            yield "entry.if", self.scenario.entry.condition, line, False
        for step in self.scenario.walk():
            named = f"step '{step.id}':"
            if isinstance(step, IfStep):
                yield f"{named} if", step.condition, step.line, False
            elif isinstance(step, WaitForStep) and step.where is not None:
                yield f"{named} where", step.where, step.line, False
            elif isinstance(step, WaitUntilStep) and step.at is not None:
                yield f"{named} at", step.at, step.line, True
            elif isinstance(step, UpdateStep):
                for key, value in step.set.items():
                    expression = unwrap_expression(value)
                    if expression is not None:
                        yield f"{named} set.{key}", expression, step.line, False
                if isinstance(step.points, str):
                    expression = unwrap_expression(step.points)
                    if expression is None:
                        self.problem(
                            step.line,
                            f"{named} points must be a whole number (200, -50) or one "
                            f'"{{{{ expression }}}}", not "{step.points}"',
                        )
                    else:
                        yield f"{named} points", expression, step.line, False

    def expression(self, what: str, source: str, line: int, moment: bool) -> None:
        """Compile, then evaluate against the sample: a misspelt name fails here, not later.

        A ``wait_until.at`` must also give a date, as the worker will read it.
        """
        try:
            compiled = self.expressions.compile(source)
        except Exception as err:
            self.problem(line, f'{what} "{source}" does not parse: {err.__cause__ or err}')
            return
        try:
            value = compiled(**self.context)
            bool(value)  # makes StrictUndefined raise here
            if moment:
                to_moment(value, ZoneInfo("UTC"))
        except Exception as err:
            self.problem(line, f'{what} "{source}" fails with the sample data: {err}')

    def template(self, step: SendStep, channel: str) -> None:
        """The default file must exist (it is the fallback for every locale); then each variant."""
        if ".." in Path(step.template).parts or Path(step.template).is_absolute():
            self.problem(
                step.line,
                f"step '{step.id}': template '{step.template}' must be a "
                "name inside the templates folder, such as 'welcome/hello'",
            )
            return
        default = self.templates.root / f"{step.template}.{channel}.j2"
        if not default.is_file():
            self.problem(
                step.line,
                f"step '{step.id}' uses template '{step.template}' which has no {channel} "
                f"version ({default} does not exist)",
            )
            return
        for locale in self.templates.locales(step.template, channel):
            self.template_file(step, channel, locale)
        for locale in self.templates.misnamed_locales(step.template, channel):
            stem = Path(step.template).name
            path = self.templates.root / f"{step.template}.{channel}.{locale}.j2"
            self.problem(
                1,
                f"template '{step.template}' ({channel}, {locale}) is never used: locales are "
                f"looked up in lower case with '-', so rename it "
                f"{stem}.{channel}.{locale_key(locale)}.j2",
                str(path),
            )

    def template_file(self, step: SendStep, channel: str, locale: str) -> None:
        """One file: it compiles, has the channel's blocks, and renders every block."""
        file = f"{step.template}.{channel}{'.' + locale if locale else ''}.j2"
        path = str(self.templates.root / file)
        label = f"template '{step.template}' ({channel}{', ' + locale if locale else ''})"
        try:
            present = self.templates.block_names(file)
        except TemplateSyntaxError as err:
            where = str(Path(err.filename)) if err.filename else path
            plain = isinstance(err, TemplateUnreadable | TemplateCycle)  # not about syntax
            prefix = "" if plain else "template syntax error: "
            self.problem(err.lineno, f"{prefix}{err.message}", where)
            return
        except TemplateNotFound as err:
            self.problem(1, f"{label} extends '{err.name}', which does not exist", path)
            return
        needed = SPECS[channel].blocks
        for block in needed:
            if block not in present:
                self.problem(
                    1,
                    f"{label} has no '{{% block {block} %}}' "
                    f"(a{'n' if channel == 'email' else ''} {channel} needs {', '.join(needed)})",
                    path,
                )
        context = self.context
        if locale:
            context = {**context, "customer": {**context["customer"], "locale": locale}}
        for block in needed:
            if block in present:
                self.render(step, file, block, context, label)

    def render(
        self, step: SendStep, file: str, block: str, context: dict[str, Any], label: str
    ) -> None:
        try:
            self.templates.render_part(file, block, context)
        except Exception as err:
            message = f"{label} fails with the sample data of scenario '{self.scenario.id}': {err}"
            where = _template_frame(err, self.templates.root)
            if where:
                self.problem(where[1], message, where[0])
            else:
                self.problem(step.line, f"step '{step.id}': {message}")


def _has_braces(value: Any) -> bool:
    """Does a value (or any text nested in it) contain ``{{``?"""
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, dict):
        return any(_has_braces(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_braces(item) for item in value)
    return False


def _terminates(step: AnyStep) -> bool:
    """True when every way through the step ends the journey (exit, or exits on all branches)."""
    if isinstance(step, ExitStep):
        return True
    if isinstance(step, CouponStep):  # an issued coupon always goes on to the next step
        return False
    blocks = [block for _, block in step.children()]
    return bool(blocks) and all(any(_terminates(s) for s in block) for block in blocks)


def _unreachable(steps: list[AnyStep]) -> Iterator[AnyStep]:
    """The first step after one that always exits, in this block and in nested ones."""
    for index, step in enumerate(steps):
        for _, block in step.children():
            yield from _unreachable(block)
        if _terminates(step):
            if index + 1 < len(steps):
                yield steps[index + 1]
            return


def _template_frame(err: BaseException, root: Path) -> tuple[str, int] | None:
    """The innermost template file and line in the error's traceback (Jinja rewrites frames
    so that their file name and line are the template's)."""
    base = root.resolve()
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        path = Path(frame.filename)
        if path.suffix == ".j2" and path.resolve().is_relative_to(base) and frame.lineno:
            return str(path), frame.lineno
    return None


def _read_tree(source: str) -> LineDict:
    """The YAML tree of a scenario's source file, or an empty one (every line is then 1)."""
    try:
        tree = load_yaml(read_source(Path(source))) if source else None
    except ValueError:  # unreadable (a SourceError) or not YAML
        tree = None
    if isinstance(tree, LineDict):
        return tree
    empty = LineDict()
    empty.line, empty.key_lines = 1, {}
    return empty
