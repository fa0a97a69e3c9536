"""Safe YAML with line numbers: plain data only, every value remembers where it was written.

PyYAML's composer builds a node tree without constructing any object; this module turns that tree into
plain Python values (dict, list, str, int, float, bool, None) and records the line of every mapping key.
Any tag that would construct something else (``!!python/object``, ``!!binary``, a custom ``!tag``) is an
error, as is a key written twice, which PyYAML would otherwise silently resolve to the last value.

Anchors, aliases and merge keys (``<<: *defaults``, ``<<: [*a, *b]``) share settings between cases: a
merged key keeps the line it was written on, and a key written in the mapping itself wins over a merged
one. Aliases are expanded here, so a file of nested aliases (a "billion laughs": 400 bytes that expand
to 10^9 values) would take minutes and gigabytes; expansion stops at :data:`MAX_VALUES` values.
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
_MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_VALUES = 100_000
"""The most values a case file may expand to. The shipped cases expand to a few hundred; a file of 1000
cases with 25 keys each to about 50 000. Checked in well under a second."""
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


MAX_DEPTH = 64
"""The deepest nesting of mappings and lists a case file may have (the shipped ones nest 4 deep). PyYAML's
composer recurses once per level: about 500 levels exhaust Python's stack."""
_FAST_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where PyYAML was built with it


def _prescan(text: str):
    """Count the values as written and measure the nesting from the parser's events, before anything is
    composed: libyaml's parser (about 12 MiB/s here, PyYAML's own 0.45) keeps no recursion. A syntax error
    is left to :func:`load`, which reports it with PyYAML's own words."""
    depth, values = 0, 0
    try:
        for event in yaml.parse(text, Loader=_FAST_PARSER):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlError(
                        event.start_mark.line + 1,
                        f"mappings and lists are nested more than {MAX_DEPTH} "
                        "levels deep: a case file nests a few levels",
                    )
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            if isinstance(event, (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                values += 1
                if values > MAX_VALUES:
                    raise YamlError(
                        event.start_mark.line + 1,
                        f"the file holds more than {MAX_VALUES} values: a case file of 1000 cases holds about 50 000",
                    )
    except yaml.YAMLError:
        return


def load(text: str):
    """Parse one YAML document into Mapping / Sequence / plain scalars. Raises :class:`YamlError`."""
    _prescan(text)
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
    except yaml.reader.ReaderError as err:  # a character YAML does not allow (NUL, most control characters)
        line = text[: err.position].count("\n") + 1
        char = f"U+{err.character:04X}" if isinstance(err.character, int) else repr(err.character)
        raise YamlError(line, f"holds the character {char}, which YAML does not allow in a file") from None
    except yaml.YAMLError as err:
        raise YamlError(0, f"YAML error: {err}") from None
    except RecursionError:  # the prescan refuses deep nesting first; this is the backstop
        raise YamlError(0, f"mappings and lists are nested more than {MAX_DEPTH} levels deep") from None
    if node is None:
        return None
    return _Converter(loader).convert(node)


class _Converter:
    """Turns composed nodes into plain data, refusing anything but plain tags, counting every value made."""

    def __init__(self, loader):
        self.loader, self.values, self.depth = loader, 0, 0

    def convert(self, node):
        line = node.start_mark.line + 1
        self.values += 1
        if self.values > MAX_VALUES:
            raise YamlError(
                line,
                f"the file expands to more than {MAX_VALUES} values through its aliases (nested "
                "aliases, a 'billion laughs'?): share settings with one level of anchors or "
                "'<<' merge keys instead",
            )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:  # aliases of aliases nest deeper than the text does
                raise YamlError(
                    line,
                    f"mappings and lists are nested more than {MAX_DEPTH} levels deep once its aliases are expanded",
                )
            return self._convert(node, line)
        finally:
            self.depth -= 1

    def _convert(self, node, line):
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, line)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                raise YamlError(line, f"YAML tag {node.tag!r} is not allowed: case files hold plain data only")
            return Sequence([self.convert(n) for n in node.value], [n.start_mark.line + 1 for n in node.value], line)
        if node.tag not in _PLAIN_TAGS:
            raise YamlError(line, f"YAML tag {node.tag!r} is not allowed: case files hold plain data only")
        if node.tag == "tag:yaml.org,2002:str":
            return self.loader.construct_scalar(node)
        return self.loader.construct_object(node)

    def _mapping(self, node, line):
        if node.tag != _MAP_TAG:
            raise YamlError(line, f"YAML tag {node.tag!r} is not allowed: case files hold plain data only")
        out, merged = Mapping({}, {}, line), []
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                if "<<" in out.key_lines:  # PyYAML's own loader would let the later one win: say it instead
                    raise YamlError(
                        key_line,
                        f"key '<<' is written twice (first on line {out.key_lines['<<']}): "
                        "merge several mappings with <<: [*a, *b]",
                        "<<",
                    )
                out.key_lines["<<"] = key_line
                merged += self._merge_sources(value_node, key_line)
                continue
            key = self.convert(key_node)
            if not isinstance(key, str):
                raise YamlError(key_line, f"mapping key {key!r} is not a string")
            if key in out.values:
                raise YamlError(key_line, f"key {key!r} is written twice (first on line {out.key_lines[key]})", key)
            out.values[key] = self.convert(value_node)
            out.key_lines[key] = key_line
        out.key_lines.pop("<<", None)
        for source in merged:  # written keys win over merged ones; an earlier merged mapping over a later one
            for key, value in source.values.items():
                if key not in out.values:
                    out.values[key] = value
                    out.key_lines[key] = source.key_lines[key]
        return out

    def _merge_sources(self, node, line) -> list:
        """The mappings a ``<<`` key merges: one mapping, or a list of them."""
        nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
        sources = [self.convert(n) for n in nodes]
        if not all(isinstance(s, Mapping) for s in sources):
            raise YamlError(line, "a '<<' merge key takes a mapping or a list of mappings (e.g. <<: *defaults)", "<<")
        return sources
