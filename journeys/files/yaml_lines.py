"""YAML that remembers where each value was written, so every error can name file:line.

It also refuses what a scenario never needs and an attacker or a bad copy could use to
stall ``validate`` or the worker: nesting deeper than ``MAX_DEPTH`` (every reader after
this one walks the tree recursively), aliases (``*name``: a few lines of them expand to
billions of values, the "billion laughs"), and keys that are not text (``on:`` is a
boolean in YAML 1.1, ``[a, b]:`` cannot be a key at all).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from journeys.files.text import SourceError, read_source


class LineDict(dict):
    """A mapping with the 1-based line of itself (``line``) and of each key (``key_lines``)."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A sequence with its own line and the line of each item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


MAX_DEPTH = 64
"""Levels of mappings and lists: 32 levels of nested steps, far beyond any real scenario."""


class RefusedYaml(yaml.MarkedYAMLError):
    """Valid YAML that Journeys does not accept; the message needs no "syntax error"."""


class DuplicateKeyError(RefusedYaml):
    """YAML allows a repeated key and keeps the last one; a marketer never means that."""


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        """Each level is one recursive call here and in every later walk of the tree."""
        if self.check_event(yaml.AliasEvent):
            raise RefusedYaml(
                problem="YAML aliases (*name) are not allowed: write the value out in full",
                problem_mark=self.peek_event().start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise RefusedYaml(
                    problem=f"the file nests lists and mappings more than {MAX_DEPTH} levels deep",
                    problem_mark=self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                written = key_node.value if isinstance(key_node, yaml.ScalarNode) else ""
                hint = f": write it in quotes ('{written}')" if written else ""
                raise RefusedYaml(
                    problem=f"a key must be text, and YAML reads this one as "
                    f"{_kind(key)}{hint}",
                    problem_mark=key_node.start_mark,
                )
            if key in result:
                raise DuplicateKeyError(
                    problem=f"key '{key}' appears twice in the same mapping",
                    problem_mark=key_node.start_mark,
                )
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LineList:
        result = LineList(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _Loader.construct_sequence)
# Timestamps stay text: expressions and durations are parsed by us, with our own messages.
# So do YAML 1.1's base-60 numbers: `wait_until: 21:00` means a time of day, not 1260.
_NO_COLON = r"(?=[^:]*$)"
_NUMBERS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, re.compile(_NO_COLON + rx.pattern, rx.flags) if tag in _NUMBERS else rx)
        for tag, rx in resolvers
        if tag != "tag:yaml.org,2002:timestamp"
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _kind(key: Any) -> str:
    if isinstance(key, bool):
        return f"the boolean {str(key).lower()}"
    if key is None:
        return "null"
    if isinstance(key, int | float):
        return f"the number {key}"
    return "a list or mapping"


class YamlSyntaxError(SourceError):
    """A file that is not YAML Journeys accepts (a ``SourceError``: same line and message)."""


def load_yaml(text: str) -> Any:
    """Parse YAML text into LineDict/LineList trees; syntax errors carry their line."""
    try:
        return yaml.load(text, Loader=_Loader)  # safe: _Loader derives from SafeLoader
    except RefusedYaml as err:
        mark = err.problem_mark
        raise YamlSyntaxError(mark.line + 1 if mark else 1, str(err.problem)) from err
    except yaml.MarkedYAMLError as err:
        raise YamlSyntaxError(*_explain(err)) from err
    except yaml.reader.ReaderError as err:  # a control character: not a MarkedYAMLError
        line = text.count("\n", 0, err.position) + 1
        code = err.character if isinstance(err.character, int) else ord(err.character)
        raise YamlSyntaxError(
            line, f"the file contains the control character U+{code:04X}, which YAML forbids"
        ) from err


def _explain(err: yaml.MarkedYAMLError) -> tuple[int, str]:
    """The line and a sentence for a YAML error, naming where an unclosed thing began."""
    mark = err.problem_mark or err.context_mark
    line = mark.line + 1 if mark else 1
    message = f"YAML syntax error: {err.problem or err}"
    if r"'\t'" in str(err.problem):
        message += " (indent with spaces, not tabs)"
    context = err.context_mark
    if err.context and context and context.line + 1 != line:
        message += f" ({err.context} that starts on line {context.line + 1})"
    return line, message


def load_yaml_file(path: Path) -> Any:
    """A YAML file's tree; ``YamlSyntaxError`` if it is unreadable or not YAML text."""
    try:
        text = read_source(path)
    except SourceError as err:
        raise YamlSyntaxError(err.line, err.message) from None
    return load_yaml(text)
