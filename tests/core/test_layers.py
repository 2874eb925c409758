"""``runnables.core`` is built in layers, read from the source with ``ast``.

A module imports (at module level) only modules of its own layer or the layers
below, never in a cycle; an import inside a function is allowed only where a lower
layer must reach a higher one on purpose (the composition methods of ``Runnable``,
pydantic schemas built on demand, optional extras). The order is written out in
docs/architecture.md ("Layers of core/").
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import runnables.core

CORE = Path(runnables.core.__file__).parent
PACKAGE = "runnables.core"

#: Bottom to top. A module may import, at module level, its own layer and those below.
LAYERS: list[tuple[str, frozenset[str]]] = [
    (
        "foundation: config, limits and what every call uses (no Runnable)",
        frozenset(
            {
                "__init__",
                "bridge",
                "callables",
                "chunks",
                "config",
                "custom_events",
                "deadline",
                "helpers",
                "introspection",
                "leaf",
                "limiter",
                "notes",
                "offload",
                "schema",
                "step_types",
                "streams",
                "tasks",
                "threaded",
                "tracing",
                "workers",
            }
        ),
    ),
    ("base: Runnable", frozenset({"base"})),
    (
        "built on Runnable: graphs, events, batch streams",
        frozenset({"batch_stream", "events", "graph"}),
    ),
    (
        "leaves: steps that run the user's code",
        frozenset({"function", "serializable"}),
    ),
    (
        "containers and wrappers: steps that run other steps",
        frozenset(
            {
                "binding",
                "branch",
                "configurable",
                "each",
                "fallbacks",
                "parallel",
                "passthrough",
                "retry",
                "router",
                "sequence",
            }
        ),
    ),
]

#: ``Runnable``'s methods (base.py) that build or run a runnable of a layer above base:
#: ``|``, ``bind``, ``with_*``... return containers, and these features are written on
#: top of ``Runnable``. ``coerce_to_runnable`` is what ``|`` and every container use to
#: turn a function or a dict into a step.
UPWARD_IN_BASE = frozenset(
    {
        "Runnable.__or__",
        "Runnable.__ror__",
        "Runnable._with_kwargs",
        "Runnable.abatch_stream",
        "Runnable.assign",
        "Runnable.astream_events",
        "Runnable.bind",
        "Runnable.config_specs",
        "Runnable.configurable_alternatives",
        "Runnable.configurable_fields",
        "Runnable.get_graph",
        "Runnable.map",
        "Runnable.pick",
        "Runnable.pipe",
        "Runnable.with_config",
        "Runnable.with_fallbacks",
        "Runnable.with_listeners",
        "Runnable.with_retry",
        "Runnable.with_types",
        "coerce_to_runnable",
    }
)

#: Imported inside functions wherever needed: pydantic models are built only when a
#: schema is asked for (``import runnables`` never imports pydantic), and the packages
#: above core (the LangChain bridge is an optional extra) import core themselves.
ON_DEMAND = ("runnables.core.schema",)
ABOVE_CORE = (
    "runnables.callbacks",
    "runnables.interop",
    "runnables.prompts",
    "runnables.tools",
)

#: One-off exceptions, each with its reason.
EXCEPTIONS = {
    # tracing loads the callbacks package, which imports config: config is below both.
    ("config", "derive", "runnables.core.tracing"),
}


@dataclass(frozen=True)
class Import:
    module: str  # the core module the import is in
    function: str | None  # the enclosing function's qualified name; None at module level
    target: str  # the module imported
    line: int


def _targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative imports are not used in core; read them as unknown
        return [f"<relative {node.module}>"]
    module = node.module or ""
    # ``from runnables.core import offload`` imports the module runnables.core.offload.
    return [
        f"{module}.{alias.name}" if f"{module}.{alias.name}" in _MODULE_NAMES else module
        for alias in node.names
    ]


_MODULE_NAMES = {f"{PACKAGE}.{path.stem}" for path in CORE.glob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def imports_of(module: str, source: str) -> list[Import]:
    """Every import in ``source`` (blocks under ``if TYPE_CHECKING`` left out)."""
    found: list[Import] = []

    def visit(node: ast.AST, scope: list[str], in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, [*scope, child.name], True)
            elif isinstance(child, ast.ClassDef):
                visit(child, [*scope, child.name], in_function)
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                function = ".".join(scope) if in_function else None
                found.extend(Import(module, function, t, child.lineno) for t in _targets(child))
            else:
                visit(child, scope, in_function)

    visit(ast.parse(source), [], False)
    return found


def core_imports() -> list[Import]:
    found: list[Import] = []
    for path in sorted(CORE.glob("*.py")):
        found += imports_of(path.stem, path.read_text(encoding="utf-8"))
    return found


def module_graph(imports: list[Import]) -> dict[str, set[str]]:
    """Core module -> the core modules it imports at module level."""
    graph: dict[str, set[str]] = {path.stem: set() for path in CORE.glob("*.py")}
    for imp in imports:
        if imp.function is None and imp.target in _MODULE_NAMES:
            target = imp.target.rsplit(".", 1)[1]
            if target != imp.module:
                graph[imp.module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(found)


def allowed_inside_function(imp: Import) -> bool:
    if imp.target.startswith(ON_DEMAND) or imp.target.startswith(ABOVE_CORE):
        return True
    if imp.module == "base" and imp.function in UPWARD_IN_BASE:
        return True
    return (imp.module, imp.function, imp.target) in EXCEPTIONS


# ---------------------------------------------------------------------- the checks


def test_core_modules_import_each_other_in_no_cycle() -> None:
    graph = module_graph(core_imports())
    assert graph["base"] >= {"config", "tasks", "tracing"}  # the reading works
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    source = "import runnables.core.b\ndef f() -> None:\n    import runnables.core.c\n"
    imports = imports_of("a", source)
    assert [(i.function, i.target) for i in imports] == [
        (None, "runnables.core.b"),
        ("f", "runnables.core.c"),
    ]


def test_every_core_module_has_a_layer() -> None:
    placed = set().union(*(modules for _, modules in LAYERS))
    missing = sorted({path.stem for path in CORE.glob("*.py")} - placed)
    assert missing == [], (
        f"core modules {missing} have no layer: add each to LAYERS in this file and to "
        "'Layers of core/' in docs/architecture.md."
    )


def test_core_modules_import_only_their_own_layer_and_those_below() -> None:
    level = {module: n for n, (_, modules) in enumerate(LAYERS) for module in modules}
    upward = [
        f"{module} ({LAYERS[level[module]][0]}) imports {target} ({LAYERS[level[target]][0]})"
        for module, targets in module_graph(core_imports()).items()
        for target in sorted(targets)
        if module in level and target in level and level[target] > level[module]
    ]
    assert upward == []


def test_function_level_imports_only_where_allowed() -> None:
    inside = [imp for imp in core_imports() if imp.function is not None]
    assert inside, "the reading found no import inside a function; the check reads nothing"
    stray = [
        f"core/{imp.module}.py:{imp.line} in {imp.function}: {imp.target}"
        for imp in inside
        if not allowed_inside_function(imp)
    ]
    assert stray == [], (
        "Import these at module level (core is layered, see docs/architecture.md), or "
        "move the code to the layer that owns what it imports."
    )


@pytest.mark.parametrize(
    ("imp", "allowed"),
    [
        (Import("base", "Runnable.__or__", "runnables.core.sequence", 1), True),
        (Import("parallel", "RunnableParallel.get_input_schema", "runnables.core.schema", 1), True),
        (Import("base", "call", "runnables.core.tracing", 1), False),
        (Import("sequence", "RunnableSequence._ainvoke", "runnables.core.function", 1), False),
    ],
)
def test_the_allowed_places(imp: Import, allowed: bool) -> None:
    assert allowed_inside_function(imp) is allowed
