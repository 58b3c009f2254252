"""The one reader of YAML (and JSON) that comes from outside: pasted, uploaded, imported or typed in a field.

PyYAML's ``safe_load`` builds no arbitrary objects, but it is not safe
against resources: aliases let 400 bytes stand for billions of nodes (the
"billion laughs"), an anchor may contain its own alias (a cycle that
``orjson.dumps`` and every tree walk then chase for ever), nesting may go
deeper than Python's recursion limit, and a repeated key silently wins where
the Kubernetes API refuses the object. This reader bounds all of it while
the node graph is composed, before anything is built:

- the text's size and the number of documents;
- the depth of nesting;
- the number of nodes *as expanded*: an alias costs the size of what it
  stands for, so a few aliases of a small anchor are fine and a tower of
  them is refused at once;
- the number of aliases, and aliases of a node that contains them (cycles);
- duplicate keys in a mapping (as the Kubernetes API server does).

JSON is YAML (its flow style), so JSON input is read by the same reader under
the same limits (orjson, which the rest of Vitiweb uses, keeps the last of
duplicate keys and nests to 1,024 levels). What it builds is JSON-shaped, as
Kubernetes reads YAML: timestamps stay
strings, scalar keys become strings, and ``!!binary``/``!!set``/``!!omap``
are refused. Every refusal is one ``YamlError`` naming the source, the
document, the line and column and the field path.

The libyaml parser (``CParser``) scans when it is installed; composing is
done here, in Python, where the limits are counted. This module uses no
Django (the Kubernetes access layer reads kubeconfigs with it); the limits
may be changed with the ``VITIWEB_YAML_LIMITS`` setting (a dict of
``Limits`` fields).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.resolver import Resolver

try:
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml.parser import Parser as _Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, _Parser):  # type: ignore[no-redef]
        def __init__(self, stream):
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 2 * 1024 * 1024
    max_documents: int = 1000
    max_depth: int = 64
    #: Nodes of the whole stream as expanded (every alias counted as what it stands for).
    max_nodes: int = 100_000
    max_aliases: int = 1000


DEFAULT_LIMITS = Limits()


class NodeBudget:
    """Nodes left for several texts read one after another (the free-form fields of one form)."""

    def __init__(self, nodes: int):
        self.left = nodes


def configured_limits() -> Limits:
    """The limits from the ``VITIWEB_YAML_LIMITS`` setting when Django is configured, else the defaults."""
    try:
        from django.conf import settings

        overrides = getattr(settings, "VITIWEB_YAML_LIMITS", None) if settings.configured else None
    except ImportError:  # pragma: no cover - used without Django
        overrides = None
    return replace(DEFAULT_LIMITS, **overrides) if overrides else DEFAULT_LIMITS


class YamlError(ValueError):
    """Why a text was refused, and where: source, document index, line and column, field path."""

    def __init__(
        self,
        problem: str,
        *,
        source: str = "",
        document: int | None = None,
        line: int | None = None,
        column: int | None = None,
        path: str = "",
    ):
        self.problem, self.source, self.document = problem, source, document
        self.line, self.column, self.path = line, column, path
        super().__init__(str(self))

    @property
    def message(self) -> str:
        """The problem and its line and column (without the source and document)."""
        if self.line is None or self.problem.startswith("not valid YAML at line"):
            return self.problem
        return f"{self.problem} (line {self.line}, column {self.column})"

    def __str__(self) -> str:
        where = ", ".join(
            [self.source] * bool(self.source) + [f"document {self.document}"] * (self.document is not None)
        )
        return ": ".join(p for p in (where, self.path, self.message) if p)


class _Refused(Exception):
    """Raised inside the loader; turned into a ``YamlError`` with the source and document filled in."""

    def __init__(self, problem: str, mark=None, path: str = ""):
        super().__init__(problem)
        self.problem, self.mark, self.path = problem, mark, path


def _path(parts: list) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class _BoundedComposer(Composer):
    """PyYAML's composer with every node counted (aliases at their expanded size) and nesting bounded."""

    def __init__(self, limits: Limits):
        Composer.__init__(self)
        self.limits = limits
        self.nodes = 0
        self.aliases = 0
        self.keys: list = []  # the field path of the node being composed
        self.weights: dict[int, int] = {}  # id(node) -> nodes in it, once composed

    def _count(self, weight: int, mark) -> None:
        self.nodes += weight
        if self.nodes > self.limits.max_nodes:
            raise _Refused(
                f"too large: more than {self.limits.max_nodes:,} nodes once aliases are expanded",
                mark,
                _path(self.keys),
            )

    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            event = self.get_event()
            node = self.anchors.get(event.anchor)
            if node is None:
                raise _Refused(f"found undefined alias {event.anchor!r}", event.start_mark, _path(self.keys))
            weight = self.weights.get(id(node))
            if weight is None:
                raise _Refused(
                    f"alias *{event.anchor} refers to a node that contains it (a cycle)",
                    event.start_mark,
                    _path(self.keys),
                )
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise _Refused(f"more than {self.limits.max_aliases} aliases", event.start_mark, _path(self.keys))
            self._count(weight, event.start_mark)
            return node
        event = self.peek_event()
        if len(self.keys) >= self.limits.max_depth and isinstance(event, (SequenceStartEvent, MappingStartEvent)):
            raise _Refused(f"nested deeper than {self.limits.max_depth} levels", event.start_mark, _path(self.keys))
        anchor = event.anchor
        if anchor is not None and anchor in self.anchors:
            # PyYAML would refuse this too; ours says where, in the same words as every other refusal.
            raise _Refused(f"anchor &{anchor} is defined twice", event.start_mark, _path(self.keys))
        self._count(1, event.start_mark)
        if isinstance(event, ScalarEvent):
            node = self.compose_scalar_node(anchor)
            self.weights[id(node)] = 1
            return node
        before = self.nodes
        if isinstance(event, SequenceStartEvent):
            node = self.compose_sequence_node(anchor)
        else:
            node = self.compose_mapping_node(anchor)
        self.weights[id(node)] = 1 + self.nodes - before
        return node

    def compose_sequence_node(self, anchor):
        start_event = self.get_event()
        tag = start_event.tag
        if tag is None or tag == "!":
            tag = self.resolve(SequenceNode, None, start_event.implicit)
        node = SequenceNode(tag, [], start_event.start_mark, None, flow_style=start_event.flow_style)
        if anchor is not None:
            self.anchors[anchor] = node
        index = 0
        while not self.check_event(yaml.events.SequenceEndEvent):
            self.keys.append(index)
            node.value.append(self.compose_node(node, index))
            self.keys.pop()
            index += 1
        node.end_mark = self.get_event().end_mark
        return node

    def compose_mapping_node(self, anchor):
        start_event = self.get_event()
        tag = start_event.tag
        if tag is None or tag == "!":
            tag = self.resolve(MappingNode, None, start_event.implicit)
        node = MappingNode(tag, [], start_event.start_mark, None, flow_style=start_event.flow_style)
        if anchor is not None:
            self.anchors[anchor] = node
        seen: set[str] = set()
        while not self.check_event(yaml.events.MappingEndEvent):
            self.keys.append("<key>")
            key = self.compose_node(node, None)
            self.keys.pop()
            label = key.value if isinstance(key, ScalarNode) else "<key>"
            if isinstance(key, ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if key.value in seen:
                    raise _Refused(f"duplicate key {key.value!r}", key.start_mark, _path([*self.keys, key.value]))
                seen.add(key.value)
            self.keys.append(label)
            value = self.compose_node(node, key)
            self.keys.pop()
            node.value.append((key, value))
        node.end_mark = self.get_event().end_mark
        return node


class _JsonShapedConstructor(SafeConstructor):
    """SafeConstructor building only what JSON can carry, as Kubernetes reads YAML."""

    def construct_yaml_timestamp(self, node):
        return self.construct_scalar(node)

    def construct_yaml_int(self, node):
        value = super().construct_yaml_int(node)
        if not -(2**63) <= value < 2**63:
            raise _Refused("an integer outside the 64-bit range Kubernetes stores", node.start_mark)
        return value

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            self.flatten_mapping(node)  # merge keys (<<) first, as SafeConstructor does
        mapping = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, bool):
                key = "true" if key else "false"
            elif key is None:
                key = "null"
            elif isinstance(key, (int, float)):
                key = str(key)
            elif not isinstance(key, str):
                raise _Refused("a key must be a string, not a list or a mapping", key_node.start_mark)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_undefined(self, node):
        raise _Refused(f"the tag {node.tag} is not allowed (only plain YAML values)", node.start_mark)


_JsonShapedConstructor.add_constructor("tag:yaml.org,2002:timestamp", _JsonShapedConstructor.construct_yaml_timestamp)
_JsonShapedConstructor.add_constructor("tag:yaml.org,2002:int", _JsonShapedConstructor.construct_yaml_int)
for _tag in ("binary", "set", "omap", "pairs"):
    _JsonShapedConstructor.add_constructor(f"tag:yaml.org,2002:{_tag}", _JsonShapedConstructor.construct_undefined)
_JsonShapedConstructor.add_constructor(None, _JsonShapedConstructor.construct_undefined)


class SafeLoader(_BoundedComposer, _Parser, _JsonShapedConstructor, Resolver):
    """A YAML loader for text from outside: libyaml's parser, our bounded composer, a JSON-shaped constructor."""

    def __init__(self, stream, limits: Limits = DEFAULT_LIMITS):
        _Parser.__init__(self, stream)
        _BoundedComposer.__init__(self, limits)
        _JsonShapedConstructor.__init__(self)
        Resolver.__init__(self)


def _check_size(text: str | bytes, limits: Limits, source: str) -> None:
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise YamlError(f"too large: {size:,} bytes, the limit is {limits.max_bytes:,}", source=source)


def load_all(
    text: str | bytes, source: str = "", limits: Limits | None = None, budget: NodeBudget | None = None
) -> list[Any]:
    """Every document of a YAML stream (empty ones as None), or a ``YamlError`` saying why not and where.

    With a ``budget``, the nodes read are also taken from it (and refused when it runs out).
    """
    limits = limits or configured_limits()
    if budget is not None:
        limits = replace(limits, max_nodes=min(limits.max_nodes, budget.left))
    _check_size(text, limits, source)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YamlError(f"not UTF-8 text (byte {exc.start})", source=source) from None
    loader = SafeLoader(text, limits)
    documents: list[Any] = []
    try:
        while loader.check_node():
            if len(documents) >= limits.max_documents:
                raise YamlError(f"more than {limits.max_documents} documents", source=source, document=len(documents))
            documents.append(_load_one(loader, source, len(documents)))
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source, len(documents)) from None
    finally:
        loader.dispose()
    if budget is not None:
        budget.left -= loader.nodes
    return documents


def load(text: str | bytes, source: str = "", limits: Limits | None = None, budget: NodeBudget | None = None) -> Any:
    """One document (None when the text holds none); more than one is refused."""
    documents = load_all(text, source, limits, budget)
    if len(documents) > 1:
        raise YamlError(f"expected one document, found {len(documents)}", source=source)
    return documents[0] if documents else None


def _load_one(loader: SafeLoader, source: str, index: int) -> Any:
    try:
        node = loader.get_node()
        loader.anchors = {}
        loader.weights = {}
        return loader.construct_document(node) if node is not None else None
    except _Refused as exc:
        mark = exc.mark
        raise YamlError(
            exc.problem,
            source=source,
            document=index,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            path=exc.path,
        ) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source, index) from None
    except (ValueError, TypeError, RecursionError) as exc:
        # A scalar PyYAML cannot convert (an integer of 5,000 digits, an unhashable merge).
        raise YamlError(f"cannot be read: {exc}", source=source, document=index) from None


def _yaml_error(exc: yaml.YAMLError, source: str, index: int) -> YamlError:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return YamlError(
        f"not valid YAML{where}: {problem}",
        source=source,
        document=index,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
    )
