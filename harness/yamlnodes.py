"""Safe YAML with line numbers: plain data only, every value remembers where it was written.

PyYAML's composer builds a node tree without constructing any object; this module turns that tree into
plain Python values (dict, list, str, int, float, bool, None) and records the line of every mapping key.
Any tag that would construct something else (``!!python/object``, ``!!binary``, a custom ``!tag``) is an
error, as is a key written twice, which PyYAML would otherwise silently resolve to the last value.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import yaml

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


class YamlError(Exception):
    """A YAML problem at a 1-based ``line`` (0 when the file as a whole is at fault)."""

    def __init__(self, line: int, message: str, key: str | None = None):
        super().__init__(message)
        self.line, self.message, self.key = line, message, key


@dataclass
class Mapping:
    """A YAML mapping: its values, the line of each key, and its own line."""

    values: dict
    key_lines: dict = field(default_factory=dict)
    line: int = 0


@dataclass
class Sequence:
    """A YAML sequence: its items and the line of each."""

    items: list
    item_lines: list = field(default_factory=list)
    line: int = 0


def load(text: str):
    """Parse one YAML document into Mapping / Sequence / plain scalars. Raises :class:`YamlError`."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 0
        problem = err.problem or err.context
        if "another document" in str(problem):
            raise YamlError(line, "a case file holds one YAML document; put several cases under 'cases:'") from None
        raise YamlError(line, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as err:
        raise YamlError(0, f"YAML error: {err}") from None
    if node is None:
        return None
    return _convert(node, loader)


def _convert(node, loader):
    """Turn one composed node into plain data, refusing anything but plain tags."""
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        if node.tag != _MAP_TAG:
            raise YamlError(line, f"YAML tag {node.tag!r} is not allowed: case files hold plain data only")
        out = Mapping({}, {}, line)
        for key_node, value_node in node.value:
            key = _convert(key_node, loader)
            key_line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                raise YamlError(key_line, f"mapping key {key!r} is not a string")
            if key == "<<":
                raise YamlError(key_line, "YAML merge keys ('<<') are not supported in case files", key)
            if key in out.values:
                raise YamlError(key_line, f"key {key!r} is written twice (first on line {out.key_lines[key]})", key)
            out.values[key] = _convert(value_node, loader)
            out.key_lines[key] = key_line
        return out
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ_TAG:
            raise YamlError(line, f"YAML tag {node.tag!r} is not allowed: case files hold plain data only")
        return Sequence([_convert(n, loader) for n in node.value], [n.start_mark.line + 1 for n in node.value], line)
    if node.tag not in _PLAIN_TAGS:
        raise YamlError(line, f"YAML tag {node.tag!r} is not allowed: case files hold plain data only")
    return loader.construct_scalar(node) if node.tag == "tag:yaml.org,2002:str" else loader.construct_object(node)
