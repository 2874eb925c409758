"""``get_graph()``: the graph of steps, and its ASCII and Mermaid drawings."""

from __future__ import annotations

from typing import Any

import pytest

from runnables.core.branch import RunnableBranch
from runnables.core.function import RunnableLambda
from runnables.core.graph import Graph, graph_of
from runnables.core.passthrough import RunnablePassthrough
from runnables.core.router import RouterRunnable


def double(x: int) -> int:
    return 2 * x


def square(x: int) -> int:
    return x * x


def total(d: dict[str, int]) -> int:
    return sum(d.values())


def names(graph: Graph) -> list[str]:
    return [n.name for n in graph.nodes.values()]


def named_edges(graph: Graph) -> set[tuple[str, str]]:
    return {(graph.nodes[e.source].name, graph.nodes[e.target].name) for e in graph.edges}


def fan_chain() -> Any:
    return (
        RunnableLambda(double)
        | {"sq": RunnableLambda(square), "orig": RunnablePassthrough()}
        | RunnableLambda(total)
    )


# ---------------------------------------------------------------------- structure


def test_leaf_graph_is_input_step_output() -> None:
    graph = RunnableLambda(double).get_graph()
    assert names(graph) == ["double_input", "double", "double_output"]
    assert named_edges(graph) == {("double_input", "double"), ("double", "double_output")}
    first, last = graph.first_node(), graph.last_node()
    assert first is not None and first.name == "double_input"
    assert last is not None and last.name == "double_output"


def test_sequence_chains_steps_without_inner_schema_nodes() -> None:
    graph = (RunnableLambda(double) | RunnableLambda(square)).get_graph()
    assert names(graph) == ["double_input", "double", "square", "square_output"]
    assert named_edges(graph) == {
        ("double_input", "double"),
        ("double", "square"),
        ("square", "square_output"),
    }


def test_parallel_fans_out_and_back_in() -> None:
    graph = fan_chain().get_graph()
    edges = named_edges(graph)
    start, end = "Parallel<sq,orig>Input", "Parallel<sq,orig>Output"
    assert {(start, "square"), (start, "Passthrough")} <= edges
    assert {("square", end), ("Passthrough", end)} <= edges
    assert ("double", start) in edges and (end, "total") in edges


def test_assign_shows_the_passthrough_of_the_input() -> None:
    graph = RunnablePassthrough.assign(sq=RunnableLambda(square)).get_graph()
    assert named_edges(graph) == {
        ("Parallel<sq>Input", "square"),
        ("square", "Parallel<sq>Output"),
        ("Parallel<sq>Input", "Passthrough"),
        ("Passthrough", "Parallel<sq>Output"),
    }


def test_wrappers_show_the_runnable_they_wrap() -> None:
    step = RunnableLambda(double)
    for wrapped in (
        step.bind(),
        step.with_config(tags=["x"]),
        step.with_retry(),
        step.with_fallbacks([RunnableLambda(square)]),
    ):
        assert names(wrapped.get_graph()) == ["double_input", "double", "double_output"], wrapped


def test_each_shows_the_mapped_step() -> None:
    assert "double" in names(RunnableLambda(double).map().get_graph())


def test_branch_shows_each_option_behind_conditional_edges() -> None:
    branch: RunnableBranch[int, int] = RunnableBranch(
        (lambda x: x > 0, RunnableLambda(double)), RunnableLambda(square)
    )
    graph = branch.get_graph()
    assert {"double", "square"} <= set(names(graph))
    assert graph.edges and all(e.conditional for e in graph.edges)
    assert any(e.data == "default" for e in graph.edges)


def test_router_labels_edges_with_route_keys() -> None:
    router: RouterRunnable[int] = RouterRunnable(
        {"d": RunnableLambda(double), "s": RunnableLambda(square)}
    )
    graph = router.get_graph()
    labels = {graph.nodes[e.target].name: e.data for e in graph.edges if e.data is not None}
    assert labels == {"double": "d", "square": "s"}


def test_unknown_container_is_drawn_from_its_children() -> None:
    from runnables.core.base import Runnable
    from runnables.core.config import Context

    class Both(Runnable[int, list[int]]):
        def __init__(self, *steps: Runnable[int, int]) -> None:
            self.steps = steps

        def _children(self) -> tuple[Runnable[int, int], ...]:
            return self.steps

        async def _ainvoke(self, input: int, ctx: Context) -> list[int]:
            return [await s.ainvoke(input) for s in self.steps]

    graph = Both(RunnableLambda(double), RunnableLambda(square)).get_graph()
    assert {("BothInput", "double"), ("BothInput", "square")} <= named_edges(graph)


def test_get_graph_returns_graph_of() -> None:
    chain = fan_chain()
    assert names(chain.get_graph()) == names(graph_of(chain))


# ---------------------------------------------------------------------- Graph API


def test_trim_keeps_a_node_that_is_the_only_start() -> None:
    graph = Graph()
    only = graph.add_node(None, "only")
    graph.trim_first_node()
    graph.trim_last_node()
    assert list(graph.nodes) == [only.id]


def test_add_edge_rejects_a_node_not_in_the_graph() -> None:
    graph = Graph()
    a = graph.add_node(None, "a")
    stranger = Graph().add_node(None, "b")
    with pytest.raises(ValueError, match="'b'"):
        graph.add_edge(a, stranger)
    with pytest.raises(ValueError, match="'a'"):
        graph.add_node(None, "a")


def test_reid_gives_repeated_names_numbers() -> None:
    graph = (RunnableLambda(lambda x: x) | RunnableLambda(lambda x: x)).get_graph().reid()
    assert list(graph.nodes) == ["LambdaInput", "Lambda_1", "Lambda_2", "LambdaOutput"]


def test_to_json_numbers_auto_ids_and_describes_nodes() -> None:
    data = RunnableLambda(double).get_graph().to_json()
    assert [n["id"] for n in data["nodes"]] == [0, 1, 2]
    assert data["edges"] == [{"source": 0, "target": 1}, {"source": 1, "target": 2}]
    assert data["nodes"][0] == {"id": 0, "type": "schema", "data": "double_input"}
    assert data["nodes"][1]["type"] == "runnable"
    assert data["nodes"][1]["data"]["name"] == "double"
    with_schemas = RunnableLambda(double).get_graph().to_json(with_schemas=True)
    assert with_schemas["nodes"][0]["data"] == {"title": "double_input", "type": "integer"}


# ---------------------------------------------------------------------- ASCII


def test_draw_ascii_contains_every_node_name() -> None:
    graph = fan_chain().get_graph()
    drawing = graph.draw_ascii()
    for node in graph.nodes.values():
        assert f"| {node.name} |" in drawing


def test_draw_ascii_puts_parallel_branches_on_one_layer() -> None:
    lines = fan_chain().get_graph().draw_ascii().splitlines()
    row_of = {
        name: i
        for i, line in enumerate(lines)
        for name in ("square", "Passthrough")
        if f"| {name} |" in line
    }
    assert row_of["square"] == row_of["Passthrough"]
    start = next(i for i, line in enumerate(lines) if "Parallel<sq,orig>Input" in line)
    end = next(i for i, line in enumerate(lines) if "Parallel<sq,orig>Output" in line)
    assert start < row_of["square"] < end


def test_draw_ascii_snapshot_of_a_small_fan() -> None:
    chain = RunnableLambda(double) | {"sq": RunnableLambda(square), "orig": RunnablePassthrough()}
    assert chain.get_graph().draw_ascii() == FAN_SNAPSHOT


FAN_SNAPSHOT = """\
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
 +------------------------+
 | Parallel<sq,orig>Input |
 +------------------------+
            ****
        ****    ***
     ***           **
+--------+   +-------------+
| square |   | Passthrough |
+--------+   +-------------+
     ***           **
        ****    ***
            ****
 +-------------------------+
 | Parallel<sq,orig>Output |
 +-------------------------+"""


def test_draw_ascii_routes_an_edge_that_skips_a_layer_beside_the_boxes() -> None:
    # "orig" has one step, "long" two: orig's edge to the output passes the layer of
    # "square", and must be drawn beside that box, not through it.
    chain = RunnablePassthrough[int]() | {
        "long": RunnableLambda(double) | RunnableLambda(square),
        "orig": RunnablePassthrough(),
    }
    lines = chain.get_graph().draw_ascii().splitlines()
    row = next(line for line in lines if "| square |" in line)
    assert "*" in row.replace("| square |", "")


def test_draw_ascii_survives_cycles_and_lone_nodes() -> None:
    graph = Graph()
    a, b, c = (graph.add_node(None, n) for n in "abc")
    graph.add_node(None, "lonely")
    graph.add_edge(a, b)
    graph.add_edge(b, c)
    graph.add_edge(c, a, conditional=True)
    drawing = graph.draw_ascii()
    for name in ("a", "b", "c", "lonely"):
        assert f"| {name} |" in drawing
    assert "." in drawing  # the conditional edge is dotted
    assert Graph().draw_ascii() == ""


def test_print_ascii_prints_the_drawing(capsys: pytest.CaptureFixture[str]) -> None:
    graph = RunnableLambda(double).get_graph()
    graph.print_ascii()
    assert capsys.readouterr().out == graph.draw_ascii() + "\n"


# ---------------------------------------------------------------------- Mermaid


def test_draw_mermaid_marks_first_and_last_and_lists_edges() -> None:
    text = (RunnableLambda(double) | RunnableLambda(square)).get_graph().draw_mermaid()
    assert "graph TD;\n" in text
    assert "\tdouble_input([double_input]):::first\n" in text
    assert "\tsquare_output([square_output]):::last\n" in text
    assert "\tdouble --> square;\n" in text
    assert "\tclassDef last fill:#bfb6fc\n" in text
    assert text.startswith("---\nconfig:\n  flowchart:\n    curve: linear\n---\n")


def test_draw_mermaid_without_styles_is_only_edges() -> None:
    text = RunnableLambda(double).get_graph().draw_mermaid(with_styles=False)
    assert text == "graph TD;\n\tdouble_input --> double;\n\tdouble --> double_output;\n"


def test_draw_mermaid_writes_conditional_and_labelled_edges() -> None:
    router: RouterRunnable[int] = RouterRunnable({"d": RunnableLambda(double)})
    text = router.get_graph().draw_mermaid(with_styles=False)
    assert "\tRouterRunnableInput -. &nbsp;d&nbsp; .-> double;\n" in text
    assert "\tdouble -.-> RouterRunnableOutput;\n" in text


def test_draw_mermaid_matches_langchain_core() -> None:
    lc = pytest.importorskip("langchain_core.runnables")
    theirs = (
        lc.RunnableLambda(lambda x: x)
        | {"a": lc.RunnableLambda(lambda x: 1), "b": lc.RunnablePassthrough()}
        | lc.RunnablePassthrough.assign(c=lc.RunnableLambda(lambda x: 2))
        | lc.RunnableLambda(lambda d: d)
    ).get_graph()
    ours = (
        RunnableLambda(lambda x: x)
        | {"a": RunnableLambda(lambda x: 1), "b": RunnablePassthrough()}
        | RunnablePassthrough.assign(c=RunnableLambda(lambda x: 2))
        | RunnableLambda(lambda d: d)
    ).get_graph()
    assert ours.draw_mermaid() == theirs.draw_mermaid()
    assert ours.draw_mermaid(with_styles=False) == theirs.draw_mermaid(with_styles=False)
    assert ours.to_json()["edges"] == theirs.to_json()["edges"]


# ---------------------------------------------------------------------- langchain-core's Mermaid


def test_mermaid_writes_an_edge_inside_the_subgraph_both_ends_share() -> None:
    from pydantic import BaseModel

    from runnables.core.graph import Edge, Node

    nodes = {
        "__start__": Node("__start__", "__start__", BaseModel),
        "sub:meow": Node("sub:meow", "meow", BaseModel),
        "sub:purr": Node("sub:purr", "purr", BaseModel, {"tags": ["a", "b"], "k": "<v>"}),
        "__end__": Node("__end__", "__end__", BaseModel),
    }
    edges = [
        Edge("__start__", "sub:meow"),
        Edge("sub:meow", "sub:purr"),
        Edge("sub:purr", "__end__"),
    ]
    drawn = Graph(nodes, edges).draw_mermaid(with_styles=True)
    body = drawn.split("graph TD;\n")[1].split("\tclassDef")[0]
    assert body == (
        "\t__start__([<p>__start__</p>]):::first\n"
        "\t__end__([<p>__end__</p>]):::last\n"
        "\t__start__ --> sub\\3ameow;\n"
        "\tsub\\3apurr --> __end__;\n"
        "\tsubgraph sub\n"
        "\tsub\\3ameow(meow)\n"
        "\tsub\\3apurr(purr<hr/><small><em>tags = a, b\nk = #60;v#62;</em></small>)\n"
        "\tsub\\3ameow --> sub\\3apurr;\n"
        "\tend\n"
    )


def test_mermaid_subgraph_without_edges_inside_still_lists_its_node() -> None:
    from pydantic import BaseModel

    from runnables.core.graph import Edge, Node

    nodes = {
        "__start__": Node("__start__", "__start__", BaseModel),
        "sub:meow": Node("sub:meow", "meow", BaseModel),
        "__end__": Node("__end__", "__end__", BaseModel),
    }
    edges = [Edge("__start__", "sub:meow"), Edge("sub:meow", "__end__")]
    drawn = Graph(nodes, edges).draw_mermaid()
    assert "\tsubgraph sub\n\tsub\\3ameow(meow)\n\tend\n" in drawn


def test_mermaid_front_matter_quotes_like_pyyaml() -> None:
    graph = graph_of(RunnableLambda(lambda x: x))
    drawn = graph.draw_mermaid(
        frontmatter_config={"config": {"themeVariables": {"primaryColor": "#e2e2e2"}}}
    )
    assert "    primaryColor: '#e2e2e2'\n" in drawn


class _Subgraph(RunnableLambda[int, int]):
    """A step class that draws itself (as a custom container might): start, body, end."""

    def get_graph(self, config: Any = None) -> Graph:
        graph = Graph()
        start = graph.add_node(None, "inner_start")
        body = graph.add_node(None, "inner_body")
        end = graph.add_node(None, "inner_end")
        graph.add_edge(start, body)
        graph.add_edge(body, end)
        return graph


def test_a_step_class_draws_its_own_graph_inside_a_chain() -> None:
    # Each class answers for its own graph (as in langchain-core): a container asks its
    # children's get_graph(), so a class's override shows inside a chain, a parallel
    # and a branch alike (their inner start/end nodes trimmed as any step's are).
    step = _Subgraph(double)
    assert names(step.get_graph()) == ["inner_start", "inner_body", "inner_end"]
    chain = RunnableLambda(square) | step
    assert ("square", "inner_body") in named_edges(chain.get_graph())
    assert ("inner_body", "inner_end") in named_edges(chain.get_graph())
    parallel = RunnableLambda(square) | {"a": step, "b": RunnableLambda(double)}
    assert "inner_body" in names(parallel.get_graph())
    branch: RunnableBranch[int, int] = RunnableBranch((lambda x: x > 0, step), double)
    assert "inner_body" in names(branch.get_graph())
