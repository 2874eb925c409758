"""Input, output and config types and schemas (``runnables.core.schema``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypedDict

import pytest
import typing_extensions
from pydantic import BaseModel, RootModel, ValidationError

from runnables.core.base import Output, Runnable
from runnables.core.binding import RunnableBinding
from runnables.core.branch import RunnableBranch
from runnables.core.config import Context
from runnables.core.configurable import ConfigurableField
from runnables.core.function import RunnableGenerator, RunnableLambda
from runnables.core.parallel import RunnableParallel
from runnables.core.passthrough import RunnableAssign, RunnablePassthrough, RunnablePick
from runnables.core.router import RouterRunnable
from runnables.core.schema import input_type, model_for, output_type, struct_type

# Functions and types live at module level so their string annotations resolve.


def length(x: str) -> int:
    return len(x)


def halve(x: int) -> float:
    return x / 2


def shout(x: str) -> str:
    return x.upper()


async def alength(x: str) -> int:
    return len(x)


def count_up(x: int) -> Iterator[int]:
    yield from range(x)


async def acount_up(x: int) -> AsyncIterator[bytes]:
    yield b"x" * x


class Question(TypedDict):
    question: str
    n: int


class QuestionTE(typing_extensions.TypedDict):
    question: str
    n: int


def ask(q: Question) -> list[str]:
    return [q["question"]] * q["n"]


def ask_te(q: QuestionTE) -> list[str]:
    return [q["question"]] * q["n"]


# langchain-core does not resolve string annotations: give it the real types.
ask_te.__annotations__ = {"q": QuestionTE, "return": list[str]}


def make_question(text: str) -> Question:
    return {"question": text, "n": 1}


class Point(BaseModel):
    x: int
    y: int


def move(p: Point) -> Point:
    return Point(x=p.x + 1, y=p.y)


def unannotated(x):  # type: ignore[no-untyped-def]
    return x


# ---------------------------------------------------------------------- lambdas


def test_untyped_lambda_accepts_and_returns_anything() -> None:
    step = RunnableLambda(lambda x: x)
    assert step.InputType is Any
    assert step.OutputType is Any
    assert step.input_schema.model_json_schema() == {"title": "RunnableLambdaInput"}
    assert step.output_schema.model_json_schema() == {"title": "RunnableLambdaOutput"}
    validated = step.input_schema.model_validate({"any": ["thing"]})
    assert isinstance(validated, RootModel) and validated.root == {"any": ["thing"]}


def test_typed_function_gives_its_parameter_and_return_types() -> None:
    step = RunnableLambda(length)
    assert step.input_schema.model_json_schema() == {"title": "length_input", "type": "string"}
    assert step.output_schema.model_json_schema() == {"title": "length_output", "type": "integer"}


def test_input_schema_rejects_a_value_of_the_wrong_type() -> None:
    schema = RunnableLambda(length).input_schema
    validated = schema.model_validate("abc")
    assert isinstance(validated, RootModel) and validated.root == "abc"
    with pytest.raises(ValidationError):
        schema.model_validate(3)
    with pytest.raises(ValidationError):
        RunnableLambda(length).output_schema.model_validate("not a number")


def test_async_function_output_is_the_awaited_type() -> None:
    assert RunnableLambda(alength).OutputType is int
    assert RunnableLambda(alength).InputType is str


def test_generator_functions_output_the_yielded_type() -> None:
    assert RunnableLambda(count_up).OutputType is int
    assert RunnableLambda(acount_up).OutputType is bytes
    assert RunnableLambda(acount_up).InputType is int


def test_missing_annotations_are_any() -> None:
    assert RunnableLambda(unannotated).InputType is Any
    assert RunnableLambda(unannotated).OutputType is Any


def test_generator_step_types_come_from_its_iterators() -> None:
    def words(chunks: Iterator[str]) -> Iterator[int]:
        for c in chunks:
            yield len(c)

    step = RunnableGenerator(words)
    assert step.InputType is str
    assert step.OutputType is int


def test_typing_typeddict_input_validates_on_python_311() -> None:
    # pydantic refuses typing.TypedDict before 3.12; the schema must still work.
    schema = RunnableLambda(ask).input_schema
    js = schema.model_json_schema()
    assert js["$ref"] == "#/$defs/Question"
    assert js["$defs"]["Question"]["required"] == ["question", "n"]
    validated = schema.model_validate({"question": "q", "n": 2})
    assert isinstance(validated, RootModel)
    assert validated.root == {"question": "q", "n": 2}
    with pytest.raises(ValidationError):
        schema.model_validate({"question": "q"})


def test_pydantic_model_types_are_used_as_the_schema() -> None:
    step = RunnableLambda(move)
    assert step.input_schema is Point
    assert step.output_schema is Point


# ---------------------------------------------------------------------- containers


def test_sequence_takes_input_of_first_and_output_of_last() -> None:
    chain = RunnableLambda(length) | RunnableLambda(halve)
    assert chain.InputType is str
    assert chain.OutputType is float
    assert chain.input_schema.model_json_schema()["type"] == "string"
    assert chain.output_schema.model_json_schema()["type"] == "number"
    with pytest.raises(ValidationError):
        chain.input_schema.model_validate(1)


def test_parallel_output_has_one_typed_field_per_key() -> None:
    par = RunnableParallel(n=RunnableLambda(length), loud=RunnableLambda(shout))
    assert par.InputType is str
    js = par.output_schema.model_json_schema()
    assert js == {
        "title": "RunnableParallel<n,loud>Output",
        "type": "object",
        "properties": {
            "n": {"title": "N", "type": "integer"},
            "loud": {"title": "Loud", "type": "string"},
        },
        "required": ["n", "loud"],
    }
    par.output_schema.model_validate({"n": 1, "loud": "A"})
    with pytest.raises(ValidationError):
        par.output_schema.model_validate({"n": "many", "loud": "A"})


def test_parallel_input_is_the_first_typed_branch_input() -> None:
    par = RunnableParallel(any=RunnableLambda(unannotated), n=RunnableLambda(length))
    assert par.InputType is str


def test_passthrough_branch_of_a_parallel_outputs_the_parallel_input() -> None:
    par = RunnableParallel(n=RunnableLambda(length), orig=RunnablePassthrough())
    fields = par.output_schema.model_json_schema()["properties"]
    assert fields["orig"]["type"] == "string"


def test_dict_step_in_a_chain_is_typed_like_a_parallel() -> None:
    chain = RunnableLambda(shout) | {"n": RunnableLambda(length), "same": RunnableLambda(shout)}
    props = chain.output_schema.model_json_schema()["properties"]
    assert props == {
        "n": {"title": "N", "type": "integer"},
        "same": {"title": "Same", "type": "string"},
    }


def test_parallel_keys_python_cannot_name_keep_their_names_in_the_schema() -> None:
    par = RunnableParallel({"_x": RunnableLambda(length), "a b": length, "copy": length})
    schema = par.output_schema
    assert list(schema.model_json_schema()["properties"]) == ["_x", "a b", "copy"]
    value = schema.model_validate({"_x": 1, "a b": 2, "copy": 3})
    assert value.model_dump(by_alias=True) == {"_x": 1, "a b": 2, "copy": 3}


def test_passthrough_uses_its_declared_input_type() -> None:
    assert RunnablePassthrough().InputType is Any
    step = RunnablePassthrough[int](input_type=int)
    assert step.InputType is int and step.OutputType is int
    assert step.output_schema.model_json_schema()["type"] == "integer"


def test_assign_alone_takes_a_dict_and_adds_its_keys_to_any_others() -> None:
    step = RunnablePassthrough.assign(n=RunnableLambda(length))
    assert step.input_schema.model_json_schema() == {
        "title": "RunnableAssign<n>Input",
        "type": "object",
        "additionalProperties": True,
    }
    out = step.output_schema.model_json_schema()
    assert out["properties"] == {"n": {"title": "N", "type": "integer"}}
    assert out["required"] == ["n"]
    assert out["additionalProperties"] is True
    with pytest.raises(ValidationError):
        step.input_schema.model_validate("not a dict")


def test_assign_after_a_typed_dict_step_knows_every_output_key() -> None:
    chain = RunnableLambda(make_question) | RunnablePassthrough.assign(loud=lambda d: "x")
    out = chain.output_schema.model_json_schema()
    assert list(out["properties"]) == ["question", "n", "loud"]
    assert "additionalProperties" not in out
    assert out["properties"]["n"]["type"] == "integer"


def test_pick_after_a_typed_dict_step_gives_the_key_type() -> None:
    assert (RunnableLambda(make_question) | RunnablePick("n")).OutputType is int
    picked = RunnableLambda(make_question) | RunnablePick(["n"])
    assert picked.output_schema.model_json_schema()["properties"] == {
        "n": {"title": "N", "type": "integer"}
    }
    assert RunnablePick("a").InputType == dict[str, Any]
    assert RunnablePick("a").OutputType is Any


def test_with_types_overrides_the_inferred_types() -> None:
    step = RunnableLambda(unannotated).with_types(input_type=int, output_type=str)
    assert step.input_schema.model_json_schema() == {
        "title": "unannotated_input",
        "type": "integer",
    }
    assert step.output_schema.model_json_schema() == {
        "title": "unannotated_output",
        "type": "string",
    }
    with pytest.raises(ValidationError):
        step.input_schema.model_validate("three")


def test_binding_without_declared_types_delegates_to_the_bound_step() -> None:
    step = RunnableLambda(length).with_config(tags=["x"])
    assert isinstance(step, RunnableBinding)
    assert step.InputType is str and step.OutputType is int


def test_wrappers_take_the_types_of_what_they_wrap() -> None:
    base = RunnableLambda(length)
    assert base.with_retry().InputType is str
    assert base.with_retry().OutputType is int
    assert base.with_fallbacks([RunnableLambda(length)]).OutputType is int
    each = base.map()
    assert each.InputType == list[str]
    assert each.OutputType == list[int]
    alternatives = base.configurable_alternatives(
        ConfigurableField(id="which"), other=RunnableLambda(length)
    )
    assert alternatives.InputType is str


def test_branch_and_router_output_the_union_of_their_options() -> None:
    branch: RunnableBranch[str, int | str] = RunnableBranch(
        (lambda x: x == "a", RunnableLambda(length)), RunnableLambda(shout)
    )
    assert branch.InputType is str
    assert branch.output_schema.model_json_schema()["anyOf"] == [
        {"type": "integer"},
        {"type": "string"},
    ]
    router: RouterRunnable[int | str] = RouterRunnable(
        {"n": RunnableLambda(length), "loud": RunnableLambda(shout)}
    )
    schema = router.input_schema
    schema.model_validate({"key": "n", "input": "abc"})
    with pytest.raises(ValidationError):
        schema.model_validate({"input": "abc"})


def test_a_class_can_declare_its_types_with_the_hint_methods() -> None:
    class Shouter(RunnableLambda[str, str]):
        def _input_type_hint(self) -> Any:
            return bytes

        def _output_type_hint(self) -> Any:
            return float

    step = Shouter(unannotated)
    assert step.InputType is bytes
    assert step.OutputType is float
    assert (RunnableLambda(length) | step).OutputType is float


# ---------------------------------------------------------------------- models


def test_models_are_cached() -> None:
    chain = RunnableLambda(length) | {"a": RunnableLambda(length)}
    assert chain.input_schema is chain.input_schema
    assert chain.output_schema is chain.output_schema
    assert model_for("X", int) is model_for("X", int)
    assert struct_type("S", {"a": int}) is struct_type("S", {"a": int})


def test_model_for_unhashable_types_still_builds() -> None:
    from typing import Annotated

    tp = Annotated[int, ["unhashable"]]
    validated = model_for("Weird", tp).model_validate(3)
    assert isinstance(validated, RootModel) and validated.root == 3


def test_model_for_a_type_pydantic_cannot_take_falls_back_to_any() -> None:
    class Opaque:
        pass

    model = model_for("OpaqueInput", Opaque)
    thing = Opaque()
    validated = model.model_validate(thing)
    assert isinstance(validated, RootModel) and validated.root is thing


def test_input_and_output_type_functions_match_the_properties() -> None:
    chain = RunnableLambda(length) | RunnableLambda(halve)
    assert input_type(chain) is chain.InputType
    assert output_type(chain) is chain.OutputType
    assert isinstance(RunnablePassthrough.assign(a=length), RunnableAssign)


# ---------------------------------------------------------------------- config


def test_config_schema_includes_the_requested_keys() -> None:
    schema = RunnableLambda(length).config_schema(
        include=["tags", "metadata", "run_name", "max_concurrency", "recursion_limit"]
    )
    js = schema.model_json_schema()
    assert js["title"] == "length_config"
    assert list(js["properties"]) == [
        "tags",
        "metadata",
        "run_name",
        "max_concurrency",
        "recursion_limit",
    ]
    assert js["properties"]["tags"]["items"] == {"type": "string"}
    schema.model_validate({"tags": ["a"], "recursion_limit": 5})
    with pytest.raises(ValidationError):
        schema.model_validate({"recursion_limit": "deep"})


def test_config_schema_without_include_or_fields_is_empty() -> None:
    assert RunnableLambda(length).config_schema().model_json_schema()["properties"] == {}


def test_config_schema_rejects_an_unknown_key_by_name() -> None:
    with pytest.raises(ValueError, match="'tagz'"):
        RunnableLambda(length).config_schema(include=["tagz"])


def test_config_schema_has_a_configurable_model_of_the_fields() -> None:
    step = RunnableLambda(length).configurable_alternatives(
        ConfigurableField(id="which", name="Which one", description="The step to run."),
        default_key="count",
        loud=RunnableLambda[str, Any](shout),  # another output type, on purpose
    )
    js = step.get_config_jsonschema(include=["configurable", "tags"])
    assert list(js["properties"]) == ["configurable", "tags"]
    configurable = js["$defs"]["Configurable"]
    assert configurable["properties"]["which"]["default"] == "count"
    model = step.config_schema(include=["tags"])
    model.model_validate({"configurable": {"which": "loud"}})
    with pytest.raises(ValidationError):
        model.model_validate({"configurable": {"which": "nope"}})


# ---------------------------------------------------------------------- langchain-core


@pytest.mark.parametrize("case", ["untyped", "typed", "typeddict", "parallel"])
def test_schemas_have_langchain_cores_shape(case: str) -> None:
    lc = pytest.importorskip("langchain_core.runnables")

    ours: Any
    theirs: Any
    if case == "untyped":
        ours, theirs = RunnableLambda(lambda x: x), lc.RunnableLambda(lambda x: x)
    elif case == "typed":
        ours, theirs = RunnableLambda(length), lc.RunnableLambda(length)
    elif case == "typeddict":
        # langchain-core needs typing_extensions.TypedDict on 3.11; we take either.
        ours, theirs = RunnableLambda(ask), lc.RunnableLambda(ask_te)
    else:
        ours = RunnableParallel(n=RunnableLambda(length), loud=RunnableLambda(shout))
        theirs = lc.RunnableParallel(n=lc.RunnableLambda(length), loud=lc.RunnableLambda(shout))
    assert ours.get_input_jsonschema() == _renamed(theirs.get_input_jsonschema())
    assert ours.get_output_jsonschema() == _renamed(theirs.get_output_jsonschema())


def _renamed(schema: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(schema).replace("QuestionTE", "Question").replace("ask_te", "ask")
    return json.loads(text)  # type: ignore[no-any-return]


class Lengths(Runnable[str, int]):
    """A subclass that declares its types only through its generic parameters."""

    async def _ainvoke(self, input: str, ctx: Any) -> int:
        return len(input)


class MoreLengths(Lengths):
    pass


class HalfDeclared(Runnable[str, Output]):
    async def _ainvoke(self, input: str, ctx: Any) -> Any:
        return input


def test_a_subclass_takes_its_types_from_its_generic_parameters() -> None:
    assert Lengths().InputType is str
    assert Lengths().OutputType is int
    assert MoreLengths().InputType is str  # inherited from the parameterized base
    # Recorded from langchain-core 1.8.3 for the same class (LG(Runnable[str, int])).
    assert Lengths().input_schema.model_json_schema() == {"title": "LengthsInput", "type": "string"}
    assert Lengths().output_schema.model_json_schema() == {
        "title": "LengthsOutput",
        "type": "integer",
    }
    assert input_type(Lengths() | RunnableLambda(halve)) is str


def test_a_type_variable_left_open_is_any() -> None:
    assert HalfDeclared().InputType is str
    assert HalfDeclared().OutputType is Any


def test_a_binding_has_its_bound_steps_schemas_unless_types_are_declared() -> None:
    from runnables.output_parsers import StrOutputParser

    chain = RunnableLambda(lambda x: x) | StrOutputParser()
    # langchain-core's titles: the bound step's, or the binding's own for a declared type.
    assert chain.with_types(input_type=int).get_output_jsonschema() == {
        "title": "StrOutputParserOutput",
        "type": "string",
    }
    assert chain.with_types(input_type=str).get_input_jsonschema() == {
        "title": "RunnableSequenceInput",
        "type": "string",
    }
    assert chain.with_config(tags=["a"]).get_output_jsonschema() == {
        "title": "StrOutputParserOutput",
        "type": "string",
    }


class _Tagged(Runnable[Any, Any]):
    """A step class that answers its own types: it wraps its input in a list."""

    def _input_type(self) -> Any:
        return str

    def _output_type(self, fed: Any) -> Any:
        return list[fed]

    async def _ainvoke(self, input: Any, ctx: Context) -> Any:
        return [input]


def test_a_step_class_answers_its_own_types_inside_a_chain() -> None:
    # Each class answers for its own types (_input_type, _output_type given what it is
    # fed); containers ask their children, so the override flows through a chain.
    assert _Tagged().InputType is str
    assert _Tagged().OutputType == list[str]
    chain = RunnableLambda(length) | _Tagged()
    assert chain.InputType is str
    assert chain.OutputType == list[int]
    assert RunnableParallel(a=_Tagged()).OutputType.__annotations__ == {"a": list[str]}
