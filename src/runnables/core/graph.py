"""The graph of a runnable's steps: ``runnable.get_graph()``, drawn as text or Mermaid.

Each step class builds its own graph in ``get_graph()``, as langchain-core does, with
the builders here: ``leaf_graph`` (an input node, named like ``LambdaInput``, the step,
an output node), ``chain_graph`` (a sequence chains its steps' graphs) and ``fan_graph``
(a parallel fans out and back in; a branch or router fans out to its options with
conditional edges). Wrappers (bindings, retries, fallbacks, configurables) show the
runnable they wrap.

>>> from runnables import RunnableLambda
>>> def double(x: int) -> int:
...     return 2 * x
>>> print(RunnableLambda(double).get_graph().draw_ascii())
+--------------+
| double_input |
+--------------+
        *
        *
        *
   +--------+
   | double |
   +--------+
        *
        *
        *
+---------------+
| double_output |
+---------------+

``draw_ascii`` lays nodes out in layers (each node one layer below the longest path
leading to it), centres each layer, and draws edges with ``*`` (``.`` when conditional);
it needs no extra package.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID, uuid4

from runnables.core.base import Runnable
from runnables.core.step_types import is_model

if TYPE_CHECKING:
    from runnables.core.config import RunnableConfig
from runnables.errors import InvalidArgumentError

__all__ = [
    "CurveStyle",
    "Edge",
    "Graph",
    "Node",
    "NodeStyles",
    "chain_graph",
    "fan_graph",
    "graph_of",
    "leaf_graph",
]


class Edge(NamedTuple):
    """An edge from ``source`` to ``target`` (node ids), with an optional label."""

    source: str
    target: str
    data: Any = None
    conditional: bool = False

    def copy(self, *, source: str | None = None, target: str | None = None) -> Edge:
        """This edge with a new source and/or target."""
        return Edge(source or self.source, target or self.target, self.data, self.conditional)


class Node(NamedTuple):
    """A node: a step (``data`` is the runnable) or an input/output schema (a model)."""

    id: str
    name: str
    data: Any
    metadata: dict[str, Any] | None = None

    def copy(self, *, id: str | None = None, name: str | None = None) -> Node:
        """This node with a new id and/or name."""
        return Node(id or self.id, name or self.name, self.data, self.metadata)


class CurveStyle(Enum):
    """How Mermaid draws edges."""

    BASIS = "basis"
    BUMP_X = "bumpX"
    BUMP_Y = "bumpY"
    CARDINAL = "cardinal"
    CATMULL_ROM = "catmullRom"
    LINEAR = "linear"
    MONOTONE_X = "monotoneX"
    MONOTONE_Y = "monotoneY"
    NATURAL = "natural"
    STEP = "step"
    STEP_AFTER = "stepAfter"
    STEP_BEFORE = "stepBefore"


@dataclass
class NodeStyles:
    """Mermaid styles of ordinary, first and last nodes."""

    default: str = "fill:#f2f0ff,line-height:1.2"
    first: str = "fill-opacity:0"
    last: str = "fill:#bfb6fc"


def _is_auto_id(id_: str) -> bool:
    try:
        UUID(id_)
    except ValueError:
        return False
    return True


def _node_name(id_: str, data: Any) -> str:
    """A node's display name: its id if chosen, else the step's or schema's name."""
    if not _is_auto_id(id_) or data is None:
        return id_
    if isinstance(data, Runnable):
        name = data.get_name()
    else:
        name = getattr(data, "__name__", None) or type(data).__name__
    # langchain-core drops the "Runnable" prefix: "RunnableLambda" shows as "Lambda".
    return name[len("Runnable") :] if name.startswith("Runnable") and len(name) > 8 else name


def _node_json(node: Node, with_schemas: bool) -> dict[str, Any]:
    data = node.data
    out: dict[str, Any]
    if data is None:
        out = {}
    elif isinstance(data, Runnable):
        cls = type(data)
        out = {
            "type": "runnable",
            "data": {"id": [*cls.__module__.split("."), cls.__name__], "name": node.name},
        }
    elif is_model(data):
        if with_schemas:
            try:
                schema: Any = data.model_json_schema()
            except Exception:
                schema = node.name
            out = {"type": "schema", "data": schema}
        else:
            out = {"type": "schema", "data": node.name}
    else:
        out = {"type": "unknown", "data": node.name}
    if node.metadata is not None:
        out["metadata"] = node.metadata
    return out


@dataclass
class Graph:
    """Nodes and edges of a runnable, as ``get_graph()`` returns them.

    ``draw_ascii()`` and ``draw_mermaid()`` draw it; ``to_json()`` serialises it.
    """

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.nodes)

    def next_id(self) -> str:
        """A new unique node id."""
        return uuid4().hex

    def add_node(
        self, data: Any, id: str | None = None, *, metadata: dict[str, Any] | None = None
    ) -> Node:
        """Add a node holding ``data`` (a runnable or a schema model) and return it."""
        if id is not None and id in self.nodes:
            raise InvalidArgumentError(
                f"The graph already has a node with id {id!r}; pick another id."
            )
        id_ = id or self.next_id()
        node = Node(id_, _node_name(id_, data), data, metadata)
        self.nodes[id_] = node
        return node

    def remove_node(self, node: Node) -> None:
        """Remove ``node`` and every edge touching it."""
        self.nodes.pop(node.id)
        self.edges = [e for e in self.edges if node.id not in (e.source, e.target)]

    def add_edge(
        self, source: Node, target: Node, data: Any = None, conditional: bool = False
    ) -> Edge:
        """Add an edge between two nodes already in the graph and return it."""
        for end, role in ((source, "source"), (target, "target")):
            if end.id not in self.nodes:
                raise InvalidArgumentError(
                    f"The {role} node {end.id!r} ({end.name}) is not in this graph; "
                    "add it with add_node() first."
                )
        edge = Edge(source.id, target.id, data, conditional)
        self.edges.append(edge)
        return edge

    def extend(self, graph: Graph, *, prefix: str = "") -> tuple[Node | None, Node | None]:
        """Add ``graph``'s nodes and edges (ids prefixed ``prefix:``) without joining them.

        Returns the first and last node of the added graph.
        """
        if all(_is_auto_id(i) for i in graph.nodes):
            prefix = ""  # auto ids cannot clash, so need no prefix

        def pid(id_: str) -> str:
            return f"{prefix}:{id_}" if prefix else id_

        self.nodes.update({pid(k): v.copy(id=pid(k)) for k, v in graph.nodes.items()})
        self.edges.extend(e.copy(source=pid(e.source), target=pid(e.target)) for e in graph.edges)
        first, last = graph.first_node(), graph.last_node()
        return (
            first.copy(id=pid(first.id)) if first else None,
            last.copy(id=pid(last.id)) if last else None,
        )

    def first_node(self) -> Node | None:
        """The one node no edge leads to (None if there is not exactly one)."""
        return _only_node(self, {e.target for e in self.edges})

    def last_node(self) -> Node | None:
        """The one node no edge leaves (None if there is not exactly one)."""
        return _only_node(self, {e.source for e in self.edges})

    def trim_first_node(self) -> None:
        """Remove the first node if it has one edge out and another node would be first."""
        first = self.first_node()
        if first is None or sum(e.source == first.id for e in self.edges) != 1:
            return
        rest = {e.target for e in self.edges if e.source != first.id}
        if _only_node(self, rest, exclude=first.id) is not None:
            self.remove_node(first)

    def trim_last_node(self) -> None:
        """Remove the last node if it has one edge in and another node would be last."""
        last = self.last_node()
        if last is None or sum(e.target == last.id for e in self.edges) != 1:
            return
        rest = {e.source for e in self.edges if e.target != last.id}
        if _only_node(self, rest, exclude=last.id) is not None:
            self.remove_node(last)

    def reid(self) -> Graph:
        """A copy whose auto-generated ids are replaced by readable unique names."""
        by_name: dict[str, list[str]] = {}
        for node in self.nodes.values():
            by_name.setdefault(node.name, []).append(node.id)
        label = {
            id_: name if len(ids) == 1 else f"{name}_{i + 1}"
            for name, ids in by_name.items()
            for i, id_ in enumerate(ids)
        }

        def new_id(id_: str) -> str:
            return label[id_] if _is_auto_id(id_) else id_

        return Graph(
            nodes={new_id(k): n.copy(id=new_id(k)) for k, n in self.nodes.items()},
            edges=[e.copy(source=new_id(e.source), target=new_id(e.target)) for e in self.edges],
        )

    def to_json(self, *, with_schemas: bool = False) -> dict[str, list[dict[str, Any]]]:
        """The graph as JSON-ready data; auto ids become their position (0, 1, ...)."""
        stable: dict[str, Any] = {
            n.id: i if _is_auto_id(n.id) else n.id for i, n in enumerate(self.nodes.values())
        }
        edges: list[dict[str, Any]] = []
        for e in self.edges:
            row: dict[str, Any] = {"source": stable[e.source], "target": stable[e.target]}
            if e.data is not None:
                row["data"] = e.data
            if e.conditional:
                row["conditional"] = True
            edges.append(row)
        return {
            "nodes": [
                {"id": stable[n.id], **_node_json(n, with_schemas)} for n in self.nodes.values()
            ],
            "edges": edges,
        }

    def draw_ascii(self) -> str:
        """The graph as boxes and lines of text, top to bottom."""
        return _draw_ascii(
            {n.id: n.name for n in self.nodes.values()},
            [(e.source, e.target, e.conditional) for e in self.edges],
        )

    def print_ascii(self) -> None:
        """Print ``draw_ascii()``."""
        print(self.draw_ascii())

    def draw_mermaid(
        self,
        *,
        with_styles: bool = True,
        curve_style: CurveStyle = CurveStyle.LINEAR,
        node_colors: NodeStyles | None = None,
        wrap_label_n_words: int = 9,
        frontmatter_config: dict[str, Any] | None = None,
    ) -> str:
        """The graph in Mermaid flowchart syntax (``graph TD;``), as langchain-core writes it.

        ``with_styles`` adds the front matter, node declarations (the first and last node
        as stadium shapes) and class definitions; without it only edges are written.
        """
        graph = self.reid()
        first, last = graph.first_node(), graph.last_node()
        out: list[str] = []
        if with_styles:
            front = dict(frontmatter_config or {})
            config = dict(front.get("config", {}))
            config["flowchart"] = {**config.get("flowchart", {}), "curve": curve_style.value}
            front["config"] = config
            out += ["---\n", _yaml(front), "---\n"]
        out.append("graph TD;\n")
        mermaid = _Mermaid(
            graph,
            first.id if first is not None else None,
            last.id if last is not None else None,
            with_styles,
            wrap_label_n_words,
        )
        out += mermaid.body()
        if with_styles:
            styles = asdict(node_colors or NodeStyles())
            out += [f"\tclassDef {name} {style}\n" for name, style in styles.items()]
        return "".join(out)


class _Mermaid:
    """The node and edge lines of a Mermaid flowchart, laid out as langchain-core does.

    A node id ``a:b:c`` belongs to subgraph ``a:b`` (drawn as ``b``, nested in ``a``).
    An edge is written in the subgraph of the parts its two ends share; a subgraph's
    nodes come first in it, then its edges, then its nested subgraphs. Subgraphs with no
    edge inside come last, with their nodes.
    """

    def __init__(
        self,
        graph: Graph,
        first: str | None,
        last: str | None,
        with_styles: bool,
        wrap: int,
    ) -> None:
        self.graph = graph
        self.first = first
        self.last = last
        self.with_styles = with_styles
        self.wrap = wrap
        self.members: dict[str, list[tuple[str, Node]]] = {}
        self.top: list[tuple[str, Node]] = []
        for key, node in graph.nodes.items():
            if ":" in key:
                self.members.setdefault(key.rsplit(":", 1)[0], []).append((key, node))
            else:
                self.top.append((key, node))
        self.edge_groups: dict[str, list[Edge]] = {}
        for edge in graph.edges:
            # langchain-core's rule: the parts equal at the same position, joined.
            shared = [a for a, b in zip(edge.source.split(":"), edge.target.split(":")) if a == b]
            self.edge_groups.setdefault(":".join(shared), []).append(edge)
        self.seen: set[str] = set()
        self.lines: list[str] = []

    def body(self) -> list[str]:
        if self.with_styles:
            self.lines += [self.node_line(key, node) for key, node in self.top]
        self.subgraph(self.edge_groups.get("", []), "")
        for prefix, edges in self.edge_groups.items():
            if prefix and ":" not in prefix:
                self.subgraph(edges, prefix)
                self.seen.add(prefix)
        if self.with_styles:
            for prefix, members in self.members.items():
                if ":" in prefix or prefix in self.seen:
                    continue
                self.lines.append(f"\tsubgraph {prefix}\n")
                self.lines += [self.node_line(key, node) for key, node in members]
                self.lines.append("\tend\n")
                self.seen.add(prefix)
        return self.lines

    def subgraph(self, edges: list[Edge], prefix: str) -> None:
        self_loop = len(edges) == 1 and edges[0].source == edges[0].target
        boxed = bool(prefix) and not self_loop
        if boxed:
            name = prefix.rsplit(":", 1)[-1]
            if name in self.seen:
                raise InvalidArgumentError(
                    f"Found duplicate subgraph {name!r}: a subgraph node of that name is "
                    "used twice. Give each subgraph node a unique name."
                )
            self.seen.add(name)
            self.lines.append(f"\tsubgraph {name}\n")
            if self.with_styles:
                self.lines += [self.node_line(k, n) for k, n in self.members.get(prefix, [])]
        self.lines += [self.edge_line(edge) for edge in edges]
        for nested, nested_edges in self.edge_groups.items():
            if nested == prefix or not nested.startswith(prefix + ":"):
                continue
            if ":" in nested[len(prefix) + 1 :]:
                continue  # deeper levels are drawn by their parent
            self.subgraph(nested_edges, nested)
        if boxed:
            self.lines.append("\tend\n")

    def node_line(self, key: str, node: Node) -> str:
        label = _mermaid_label(node.name.split(":")[-1])
        notes = _metadata_lines(node.metadata or {})
        if notes:
            label += "<hr/><small><em>" + "\n".join(notes) + "</em></small>"
        safe = _safe_id(key)
        if key == self.first:
            return f"\t{safe}([{label}]):::first\n"
        if key == self.last:
            return f"\t{safe}([{label}]):::last\n"
        return f"\t{safe}({label})\n"

    def edge_line(self, edge: Edge) -> str:
        if edge.data is not None:
            text = str(edge.data)
            words = text.split()
            if len(words) > self.wrap:
                text = "&nbsp<br>&nbsp".join(
                    " ".join(words[i : i + self.wrap]) for i in range(0, len(words), self.wrap)
                )
            arrow = (
                f" -. &nbsp;{text}&nbsp; .-> "
                if edge.conditional
                else f" -- &nbsp;{text}&nbsp; --> "
            )
        else:
            arrow = " -.-> " if edge.conditional else " --> "
        return f"\t{_safe_id(edge.source)}{arrow}{_safe_id(edge.target)};\n"


def _metadata_lines(metadata: Mapping[str, Any]) -> list[str]:
    """``key = value`` for each scalar (or list of scalars) of a node's metadata."""
    scalars = (str, int, float, bool)
    lines: list[str] = []
    for key, value in metadata.items():
        if isinstance(value, scalars):
            text = str(value)
        elif isinstance(value, (list, tuple, set)) and all(isinstance(v, scalars) for v in value):
            items = [str(v) for v in value]
            text = ", ".join(sorted(items) if isinstance(value, set) else items)
        else:
            continue
        lines.append(_escape_all(f"{key} = {text}"))
    return lines


def _only_node(graph: Graph, linked: set[str], exclude: str | None = None) -> Node | None:
    found = [n for n in graph.nodes.values() if n.id != exclude and n.id not in linked]
    return found[0] if len(found) == 1 else None


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _safe_id(label: str) -> str:
    """A Mermaid node id: other characters become ``\\`` and their hex code point."""
    return "".join(c if c in _SAFE else "\\" + format(ord(c), "x") for c in label)


# Characters that end a Mermaid node label early; "<" and ">" render fine, and names
# like "Parallel<a,b>" keep langchain-core's look.
_LABEL_ESCAPES = {"(": "#40;", ")": "#41;", "[": "#91;", "]": "#93;", "{": "#123;"}
_LABEL_ESCAPES.update({"}": "#125;", '"': "#quot;", "|": "#124;"})


def _escape_all(text: str) -> str:
    """Every character that can end a label, ``<`` and ``>`` included (metadata text)."""
    text = text.replace("#", "#35;")
    for char, entity in {**_LABEL_ESCAPES, "<": "#60;", ">": "#62;"}.items():
        text = text.replace(char, entity)
    return text


def _mermaid_label(name: str) -> str:
    if any(c in name for c in _LABEL_ESCAPES):
        name = name.replace("#", "#35;")
        for char, entity in _LABEL_ESCAPES.items():
            name = name.replace(char, entity)
    if name[:1] in "*_`" and name[-1:] in "*_`" and name:
        return f"<p>{name}</p>"  # else Mermaid reads it as markdown emphasis
    return name


def _yaml(value: Mapping[str, Any], indent: int = 0) -> str:
    """Block YAML for the small nested dicts of Mermaid front matter (keys sorted)."""
    lines: list[str] = []
    for key in sorted(value):
        item = value[key]
        pad = "  " * indent
        if isinstance(item, Mapping):
            lines.append(f"{pad}{key}:\n{_yaml(item, indent + 1)}")
        else:
            lines.append(f"{pad}{key}: {_yaml_scalar(item)}\n")
    return "".join(lines)


def _yaml_scalar(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if item is None:
        return "null"
    if isinstance(item, (int, float)):
        return repr(item)
    text = str(item)
    plain = text and text[0].isalpha() and all(c.isalnum() or c in "_-. " for c in text)
    if plain and text.lower() not in ("true", "false", "null", "yes", "no"):
        return text
    if text.isprintable():
        # PyYAML's choice (what langchain-core's front matter holds): single quotes.
        return "'" + text.replace("'", "''") + "'"
    return json.dumps(text)


# ---------------------------------------------------------------------- building


def _schema_node(graph: Graph, runnable: Runnable[Any, Any], which: str) -> Node:
    try:
        model: Any = (
            runnable.get_input_schema() if which == "Input" else runnable.get_output_schema()
        )
    except Exception:
        # A schema that cannot be built must not stop the graph from being drawn.
        from runnables.core.schema import model_for

        model = model_for(runnable.get_name(which), Any)
    return graph.add_node(model)


def leaf_graph(runnable: Runnable[Any, Any]) -> Graph:
    """``runnable`` as one node between its input and output schema nodes."""
    graph = Graph()
    first = _schema_node(graph, runnable, "Input")
    node = graph.add_node(runnable)
    last = _schema_node(graph, runnable, "Output")
    graph.add_edge(first, node)
    graph.add_edge(node, last)
    return graph


def chain_graph(steps: Sequence[Runnable[Any, Any]], config: RunnableConfig | None = None) -> Graph:
    """The graphs of ``steps`` one after the other (a sequence's graph)."""
    graph = Graph()
    for i, step in enumerate(steps):
        previous = graph.last_node()
        sub = step.get_graph(config)
        # Inner schema nodes between two steps say nothing the steps do not.
        if i > 0:
            sub.trim_first_node()
        if i < len(steps) - 1:
            sub.trim_last_node()
        first, _ = graph.extend(sub)
        if first is None:
            raise InvalidArgumentError(
                f"The graph of step {step!r} has no single first node to link to."
            )
        if previous is not None:
            graph.add_edge(previous, first)
    return graph


def fan_graph(
    runnable: Runnable[Any, Any],
    options: Sequence[tuple[Any, Runnable[Any, Any]]],
    *,
    conditional: bool,
    config: RunnableConfig | None = None,
) -> Graph:
    """Input -> each option -> Output; ``options`` are (edge label, runnable) pairs."""
    graph = Graph()
    start = _schema_node(graph, runnable, "Input")
    end = _schema_node(graph, runnable, "Output")
    for label, option in options:
        sub = option.get_graph(config)
        sub.trim_first_node()
        sub.trim_last_node()
        if not sub:
            graph.add_edge(start, end, label, conditional)
            continue
        first, last = graph.extend(sub)
        if first is None or last is None:
            raise InvalidArgumentError(
                f"The graph of {option!r} has no single first and last node to link to."
            )
        graph.add_edge(start, first, label, conditional)
        graph.add_edge(last, end, None, conditional)
    return graph


def graph_of(runnable: Runnable[Any, Any]) -> Graph:
    """The graph of ``runnable``: ``runnable.get_graph()``."""
    return runnable.get_graph()


# ---------------------------------------------------------------------- ASCII drawing
#
# A small layered (Sugiyama-style) layout, so drawing needs no extra package:
# 1. edges that close a cycle are turned round, so the graph is acyclic;
# 2. each node goes one layer below the longest path that reaches it;
# 3. an edge that skips layers gets a point on every layer it crosses, so it is routed
#    between boxes rather than through them;
# 4. nodes in a layer are ordered by the mean position of their neighbours (sweeping
#    down and up, keeping the order with fewest crossings);
# 5. each layer is centred, edges are drawn centre to centre, then boxes on top.

_BOX_HEIGHT = 3
_GAP_X = 3


def _draw_ascii(labels: Mapping[str, str], edges: Sequence[tuple[str, str, bool]]) -> str:
    if not labels:
        return ""
    ids = list(labels)
    index = {v: i for i, v in enumerate(ids)}
    links = [(s, t, c) for s, t, c in edges if s in index and t in index and s != t]
    dag = _acyclic(ids, links)
    layer = _layers(ids, dag)

    # Points: real nodes are their ids; a skipped layer gets a ("~", n) point.
    widths: dict[Any, int] = {v: len(labels[v]) + 4 for v in ids}
    level: dict[Any, int] = dict(layer)
    paths: list[tuple[list[Any], bool]] = []
    for n, (s, t, conditional) in enumerate(dag):
        path: list[Any] = [s]
        for depth in range(layer[s] + 1, layer[t]):
            point = ("~", n, depth)
            widths[point] = 1
            level[point] = depth
            path.append(point)
        path.append(t)
        paths.append((path, conditional))

    order = _order(ids, index, level, paths)
    centre = _centres(order, widths)
    gaps = _row_gaps(order, paths, centre)
    tops = [0]
    for gap in gaps:
        tops.append(tops[-1] + _BOX_HEIGHT + gap)

    left = min(centre[v] - widths[v] // 2 for v in centre)
    right = max(centre[v] - widths[v] // 2 + widths[v] for v in centre)
    canvas = [[" "] * (right - left) for _ in range(tops[-1] + _BOX_HEIGHT)]

    def put(x: int, y: int, char: str) -> None:
        canvas[y][x - left] = char

    for path, conditional in paths:
        char = "." if conditional else "*"
        points: list[tuple[int, int]] = []
        for v in path:
            top = tops[level[v]]
            if v is not path[0]:
                points.append((centre[v], top - 1))
            if v is not path[-1]:
                points.append((centre[v], top + _BOX_HEIGHT))
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            for x, y in _line(x0, y0, x1, y1):
                put(x, y, char)

    for v in ids:
        x0 = centre[v] - widths[v] // 2
        y0 = tops[level[v]]
        border = "+" + "-" * (widths[v] - 2) + "+"
        for dx, char in enumerate(border):
            put(x0 + dx, y0, char)
            put(x0 + dx, y0 + 2, char)
        for dx, char in enumerate(f"| {labels[v]} |"):
            put(x0 + dx, y0 + 1, char)

    return "\n".join("".join(row).rstrip() for row in canvas)


def _acyclic(
    ids: Sequence[str], links: Sequence[tuple[str, str, bool]]
) -> list[tuple[str, str, bool]]:
    """``links`` with the edges that close a cycle turned round (found by a DFS)."""
    out_of: dict[str, list[int]] = {v: [] for v in ids}
    for n, (s, _, _) in enumerate(links):
        out_of[s].append(n)
    state: dict[str, int] = {}  # 1: on the DFS stack, 2: done
    back: set[int] = set()
    for root in ids:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(out_of[root]))]
        while stack:
            v, todo = stack[-1]
            nxt = next(todo, None)
            if nxt is None:
                state[v] = 2
                stack.pop()
                continue
            n = nxt
            t = links[n][1]
            if state.get(t) == 1:
                back.add(n)
            elif t not in state:
                state[t] = 1
                stack.append((t, iter(out_of[t])))
    return [(t, s, c) if n in back else (s, t, c) for n, (s, t, c) in enumerate(links)]


def _layers(ids: Sequence[str], dag: Sequence[tuple[str, str, bool]]) -> dict[str, int]:
    """Each node's layer: the length of the longest path reaching it (Kahn's order)."""
    incoming = {v: 0 for v in ids}
    out_of: dict[str, list[str]] = {v: [] for v in ids}
    for s, t, _ in dag:
        incoming[t] += 1
        out_of[s].append(t)
    layer = {v: 0 for v in ids}
    ready = [v for v in ids if incoming[v] == 0]
    while ready:
        v = ready.pop(0)
        for t in out_of[v]:
            layer[t] = max(layer[t], layer[v] + 1)
            incoming[t] -= 1
            if incoming[t] == 0:
                ready.append(t)
    return layer


def _order(
    ids: Sequence[str],
    index: Mapping[str, int],
    level: Mapping[Any, int],
    paths: Sequence[tuple[list[Any], bool]],
) -> list[list[Any]]:
    """Nodes per layer, left to right, ordered to keep edge crossings few."""
    up: dict[Any, list[Any]] = {v: [] for v in level}
    down: dict[Any, list[Any]] = {v: [] for v in level}
    for path, _ in paths:
        for a, b in itertools.pairwise(path):
            down[a].append(b)
            up[b].append(a)
    depth = max(level.values()) + 1

    # A point on a skipped layer sorts with the edge's target, so an edge's route
    # starts where its target will be.
    def tie(v: Any) -> float:
        if isinstance(v, str):
            return index[v]
        target = v
        while not isinstance(target, str):
            target = down[target][0]
        return index[target] - 0.5

    layers: list[list[Any]] = [[] for _ in range(depth)]
    for v in sorted(level, key=tie):
        layers[level[v]].append(v)

    def sweep(rows: list[list[Any]], downward: bool) -> list[list[Any]]:
        rows = [list(r) for r in rows]
        span = range(1, depth) if downward else range(depth - 2, -1, -1)
        for k in span:
            ref = {v: i for i, v in enumerate(rows[k - 1 if downward else k + 1])}
            near = up if downward else down

            def key(
                v: Any, ref: dict[Any, int] = ref, near: dict[Any, list[Any]] = near
            ) -> tuple[float, float]:
                spots = [ref[u] for u in near[v] if u in ref]
                return (sum(spots) / len(spots) if spots else -1.0, tie(v))

            current = {v: i for i, v in enumerate(rows[k])}
            # Nodes with no neighbour there keep their place.
            rows[k] = sorted(
                rows[k],
                key=lambda v: key(v) if key(v)[0] >= 0 else (float(current[v]), tie(v)),
            )
        return rows

    best, best_cost = layers, _crossings(layers, down)
    for _ in range(4):
        for downward in (True, False):
            layers = sweep(layers, downward)
            cost = _crossings(layers, down)
            if cost < best_cost:
                best, best_cost = layers, cost
    return best


def _crossings(layers: Sequence[Sequence[Any]], down: Mapping[Any, list[Any]]) -> int:
    total = 0
    for upper, lower in itertools.pairwise(layers):
        pos = {v: i for i, v in enumerate(lower)}
        pairs = [(i, pos[t]) for i, v in enumerate(upper) for t in down[v] if t in pos]
        for n, (a, b) in enumerate(pairs):
            for c, d in pairs[n + 1 :]:
                if (a - c) * (b - d) < 0:
                    total += 1
    return total


def _centres(order: Sequence[Sequence[Any]], widths: Mapping[Any, int]) -> dict[Any, int]:
    """The centre column of each node, each layer centred on column 0."""
    centre: dict[Any, int] = {}
    for row in order:
        total = sum(widths[v] for v in row) + _GAP_X * (len(row) - 1)
        x = -(total // 2)
        for v in row:
            centre[v] = x + widths[v] // 2
            x += widths[v] + _GAP_X
    return centre


def _row_gaps(
    order: Sequence[Sequence[Any]],
    paths: Sequence[tuple[list[Any], bool]],
    centre: Mapping[Any, int],
) -> list[int]:
    """Rows between each pair of layers: more when edges there run far sideways."""
    level = {v: k for k, row in enumerate(order) for v in row}
    spread = [0] * max(len(order) - 1, 0)
    for path, _ in paths:
        for a, b in itertools.pairwise(path):
            k = level[a]
            spread[k] = max(spread[k], abs(centre[a] - centre[b]))
    # Three rows suit a straight drop; wide fans get up to six so lines read as diagonals.
    return [min(6, max(3, (dx + 7) // 8)) for dx in spread]


def _line(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int]]:
    """The cells of a straight line between two cells, one per step on the longer axis."""
    dx, dy = x1 - x0, y1 - y0
    steps = max(abs(dx), abs(dy))
    if steps == 0:
        return [(x0, y0)]
    return [(x0 + round(i * dx / steps), y0 + round(i * dy / steps)) for i in range(steps + 1)]
