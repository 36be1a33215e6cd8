"""YAML that remembers where each value was written, so every error can name file:line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml


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


class DuplicateKeyError(yaml.MarkedYAMLError):
    """YAML allows a repeated key and keeps the last one; a marketer never means that."""


class _Loader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
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


class YamlSyntaxError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_yaml(text: str) -> Any:
    """Parse YAML text into LineDict/LineList trees; syntax errors carry their line."""
    try:
        return yaml.load(text, Loader=_Loader)  # safe: _Loader derives from SafeLoader
    except DuplicateKeyError as err:
        mark = err.problem_mark
        raise YamlSyntaxError(mark.line + 1 if mark else 1, str(err.problem)) from err
    except yaml.MarkedYAMLError as err:
        raise YamlSyntaxError(*_explain(err)) from err


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
    return load_yaml(path.read_text(encoding="utf-8"))
