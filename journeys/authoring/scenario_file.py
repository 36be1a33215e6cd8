"""Reading scenario files: YAML shorthand → normalized tree → ``Scenario``, with file:line errors.

Marketers write steps as ``- wait: 1h`` or ``- send: {id: x, channel: email, ...}``; the
normalizer turns each into the explicit ``{kind: ..., ...}`` form the model validates, keeping
the line of every key so pydantic's errors can be reported where they were written.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from journeys.files.problems import Problem, ScenarioError
from journeys.files.text import SourceError, read_source
from journeys.files.yaml_lines import LineDict, LineList, YamlSyntaxError, load_yaml
from journeys.model.limits import AUTHORING
from journeys.model.scenario import (
    INTERNAL_STEP_FIELDS,
    STEP_KINDS,
    STEP_MODELS,
    Entry,
    Goal,
    Sample,
    Scenario,
    SplitVariant,
    Trigger,
)

# Scalar shorthand: which field a bare value fills, per step kind.
_SCALAR_FIELD = {"wait": "duration", "exit": "reason", "if": "condition"}
# Step kinds with no scalar shorthand, and what their mapping looks like.
_MAPPING_EXAMPLE = {
    "send": "{id, channel, template}",
    "wait_for": "{event, timeout}",
    "split": "{variants: [{name, weight, steps}]}",
    "update": "{set: {attribute: value}} or {points: 200}",
    "coupon": "{id, percent: 15, valid_for: 30d}",
}
_TIME_OF_DAY = re.compile(r"^\d{1,2}:\d{2}$")
# Model field → the word the marketer wrote, for messages.
_WRITTEN_AS = {"condition": "if", "otherwise": "else", "channels": "channel"}


class _Normalizer:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.counter = 0

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    def scenario(self, raw: LineDict) -> LineDict:
        out = _copy(raw)
        entry = raw.get("entry")
        if isinstance(entry, LineDict):
            out["entry"] = self.entry(entry)
        if isinstance(raw.get("exit_on"), str):
            out["exit_on"] = [raw["exit_on"]]
        if "steps" in raw:
            out["steps"] = self.steps(raw["steps"], raw.line_of("steps"))
        return out

    def entry(self, raw: LineDict) -> LineDict:
        out = _copy(raw)
        _rename(out, "if", "condition")
        reentry = raw.get("reentry")
        if isinstance(reentry, LineDict):
            if set(reentry) != {"once_per"}:
                self.problem(
                    reentry.line,
                    "reentry must be restart, ignore, once, queue or {once_per: <duration>}",
                )
            out["reentry"] = "once_per"
            _put(out, "once_per", reentry.get("once_per"), reentry.line_of("once_per"))
        # `reentry: once_per` without a period is reported by the model, at the entry.
        return out

    def steps(self, raw: Any, line: int) -> Any:
        if not isinstance(raw, list):
            return raw  # the model reports "should be a list" at this line
        out = LineList()
        out.line = getattr(raw, "line", line)
        out.item_lines = list(getattr(raw, "item_lines", [line] * len(raw)))
        for index, item in enumerate(raw):
            out.append(self.step(item, out.line_of(index)))
        return out

    def step(self, raw: Any, line: int) -> Any:
        self.counter += 1
        if raw == "exit":
            raw = _line_dict({"exit": None}, line)
        if not isinstance(raw, LineDict):
            self.problem(line, f"a step must be a mapping such as 'wait: 1h', not {raw!r}")
            return _line_dict({"kind": "exit", "id": f"invalid-{self.counter}"}, line)
        kinds = [key for key in raw if key in STEP_KINDS]
        if len(kinds) != 1:
            found = ", ".join(map(str, raw)) or "nothing"
            close = [m for k in raw for m in difflib.get_close_matches(str(k), STEP_KINDS, 1, 0.7)]
            hint = f"; did you mean '{close[0]}'?" if close and not kinds else ""
            self.problem(
                raw.line,
                f"a step needs exactly one of {', '.join(STEP_KINDS)} (found: {found}){hint}",
            )
            return _line_dict({"kind": "exit", "id": f"invalid-{self.counter}"}, raw.line)
        kind = kinds[0]
        body = raw[kind]
        out = _line_dict({"kind": kind}, raw.line)
        out["line"] = raw.line
        written_id = body.get("id") if isinstance(body, LineDict) else None
        step_id = str(raw.get("id") or written_id or f"{kind}-{self.counter}")
        if kind in _MAPPING_EXAMPLE and not isinstance(body, LineDict | None):
            self.problem(
                raw.line_of(kind),
                f"step '{step_id}': '{kind}' needs a mapping such as {_MAPPING_EXAMPLE[kind]}, "
                f"not {body!r}",
            )
            return _line_dict({"kind": "exit", "id": f"invalid-{self.counter}"}, raw.line)
        given: list[tuple[str, Any, int]] = []
        if isinstance(body, LineDict):
            given += [(key, value, body.line_of(key)) for key, value in body.items()]
        elif body is not None:
            given.append((self.scalar_field(kind, body), body, raw.line_of(kind)))
        given += [(key, value, raw.line_of(key)) for key, value in raw.items() if key != kind]
        for key, value, line in given:
            if key in INTERNAL_STEP_FIELDS:
                self.problem(line, f"step '{step_id}' has unknown key '{key}'")
                continue
            if key in out:
                self.problem(line, f"'{key}' is given twice in this step")
            _put(out, key, value, line)
        _rename(out, "else", "otherwise")
        if kind == "send" and "channel" in out:
            if "channels" in out:
                self.problem(
                    out.line_of("channel"), "write either 'channel' or 'channels', not both"
                )
            channel = out.pop("channel")
            _put(out, "channels", [channel] if isinstance(channel, str) else channel, out.line)
        out.setdefault("id", f"{kind}-{self.counter}")
        for key in ("then", "otherwise", "received", "timed_out", "limit_reached"):
            if key in out:
                out[key] = self.steps(out[key], out.line_of(key))
        if kind == "split" and isinstance(out.get("variants"), list):
            out["variants"] = self.variants(out["variants"])
        return out

    def scalar_field(self, kind: str, body: Any) -> str:
        if kind == "wait_until":
            return "time" if isinstance(body, str) and _TIME_OF_DAY.match(body) else "at"
        return _SCALAR_FIELD.get(kind, "__value")

    def variants(self, raw: LineList) -> LineList:
        out = LineList()
        out.line, out.item_lines = raw.line, list(raw.item_lines)
        for variant in raw:
            if isinstance(variant, LineDict):
                variant = _copy(variant)
                variant["line"] = variant.line
                if "steps" in variant:
                    variant["steps"] = self.steps(variant["steps"], variant.line_of("steps"))
            out.append(variant)
        return out


def _line_dict(values: dict[str, Any], line: int) -> LineDict:
    out = LineDict(values)
    out.line = line
    out.key_lines = dict.fromkeys(values, line)
    return out


def _copy(raw: LineDict) -> LineDict:
    out = LineDict(raw)
    out.line, out.key_lines = raw.line, dict(raw.key_lines)
    return out


def _put(out: LineDict, key: str, value: Any, line: int) -> None:
    out[key] = value
    out.key_lines[key] = line


def _rename(out: LineDict, old: str, new: str) -> None:
    if old in out:
        _put(out, new, out.pop(old), out.key_lines.pop(old))


def _locate(tree: Any, loc: tuple[Any, ...]) -> tuple[int, str]:
    """Where an error was written, and who owns the failing key.

    Returns the line of the deepest part of ``loc`` present in the normalized tree, and
    the owner as a marketer names it: ``step 'invite'``, ``variant 'a' of step 'ab'``,
    ``'entry'``, or ``""`` for the scenario itself. The owner is the container of the last
    part, so a bad ``timeout`` belongs to its step and a bad ``entry`` to the scenario.
    """
    line = getattr(tree, "line", 1) or 1
    node, owner, step = tree, "", ""
    for index, part in enumerate(loc):
        in_dict = isinstance(node, LineDict) and part in node
        in_list = isinstance(node, LineList) and isinstance(part, int) and part < len(node)
        if not (in_dict or in_list):
            continue  # a union tag or a missing key: stay at the nearest known place
        line, child = node.line_of(part), node[part]
        if index < len(loc) - 1 and isinstance(child, LineDict):
            if "kind" in child and "id" in child:
                step = owner = f"step '{child['id']}'"
            elif index > 0 and loc[index - 1] == "variants":
                name = child.get("name") or f"#{part + 1}"
                owner = f"variant '{name}' of {step}"
            elif index == 0:
                owner = f"'{part}'"
        node = child
    return line, owner


def _known_keys() -> list[str]:
    """Every key a marketer may write, to suggest the one they meant."""
    models = [Scenario, Trigger, Entry, Goal, Sample, SplitVariant, *STEP_MODELS]
    fields = {name for model in models for name in model.model_fields}
    fields -= {*INTERNAL_STEP_FIELDS, "source", "version"}
    return sorted({_WRITTEN_AS.get(name, name) for name in fields} | set(STEP_KINDS) | {"channels"})


def _describe(error: dict[str, Any], owner: str) -> str:
    """A plain sentence for one pydantic error, in the words the marketer wrote."""
    loc = [p for p in error["loc"] if isinstance(p, str)]
    field = _WRITTEN_AS.get(loc[-1], loc[-1]) if loc else "value"
    kind = error["type"]
    if kind == "extra_forbidden":
        # A key of another step kind is "close" to itself: suggest only a different one.
        known = [key for key in _known_keys() if key != field]
        close = difflib.get_close_matches(field, known, n=1, cutoff=0.7)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"{owner or 'the scenario'} has unknown key '{field}'{hint}"
    if kind == "missing":
        return f"{owner or 'the scenario'} is missing '{field}'"
    if kind in ("value_error", "assertion_error"):
        detail = str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
    elif kind == "literal_error":
        detail = f"'{field}' must be {error['ctx']['expected']} (got {error['input']!r})"
    elif kind == "too_short":
        detail = f"'{field}' must not be empty"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        detail = f"'{field}' must be a mapping of keys to values (got {error['input']!r})"
    else:
        message = error["msg"].removeprefix("Input ")
        detail = f"'{field}' {message[0].lower()}{message[1:]}"
    return f"{owner}: {detail}" if owner else detail


def parse_scenario(text: str, file: str) -> Scenario:
    """Parse scenario text; raises ScenarioError listing every structural problem."""
    try:
        raw = load_yaml(text)
    except YamlSyntaxError as err:
        raise ScenarioError([err.problem(file)]) from err
    if not isinstance(raw, LineDict):
        message = "a scenario file must be a mapping (id, name, trigger, steps, ...)"
        raise ScenarioError([Problem(file, 1, message)])
    normalizer = _Normalizer(file)
    for key in ("source", "version"):  # set by the loader, never written by hand
        if key in raw:
            normalizer.problem(raw.line_of(key), f"the scenario has unknown key '{key}'")
    tree = normalizer.scenario(raw)
    tree["source"] = file
    tree["version"] = hashlib.sha256(text.encode()).hexdigest()[:12]
    problems = list(normalizer.problems)
    try:
        scenario = Scenario.model_validate(dict(tree), context=AUTHORING)
    except ValidationError as err:
        for error in err.errors(include_url=False):
            line, owner = _locate(tree, error["loc"])
            problems.append(Problem(file, line, _describe(dict(error), owner)))
        raise ScenarioError(problems) from None
    if problems:
        raise ScenarioError(problems)
    return scenario


def load_scenario(path: Path) -> Scenario:
    """One scenario file; an unreadable or non-UTF-8 file is a ScenarioError at its line."""
    return read_scenario(path)[0]


def read_scenario(path: Path) -> tuple[Scenario, str]:
    """One scenario file and its text (``validate`` reads the text again for the lines of
    keys the model does not keep); every problem, reading included, is a ScenarioError."""
    try:
        text = read_source(path)
    except SourceError as err:
        raise ScenarioError([err.problem(str(path))]) from None
    return parse_scenario(text, str(path)), text


def limit_problems(scenario: Scenario) -> list[Problem]:
    """The bounds of ``journeys.model.limits`` over a scenario built without ``parse_scenario``
    (in code, or handed to the registry): the checks a file gets, at the step's line."""
    data = scenario.model_dump()
    try:
        Scenario.model_validate(data, context=AUTHORING)
    except ValidationError as err:
        lines = {step.id: step.line for step in scenario.walk()}
        problems = []
        for error in err.errors(include_url=False):
            node, owner, line = data, "", 1
            for part in error["loc"]:
                node = node[part] if isinstance(node, dict | list) and _has(node, part) else None
                if isinstance(node, dict) and "kind" in node and "id" in node:
                    owner, line = f"step '{node['id']}'", lines.get(node["id"], 1) or 1
            where = scenario.source or f"scenario '{scenario.id}'"
            problems.append(Problem(where, line, _describe(dict(error), owner)))
        return problems
    return []


def _has(node: dict[str, Any] | list[Any], part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(part, int) and part < len(node)
