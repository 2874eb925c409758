"""``BasePromptTemplate``: what every prompt template shares as a step.

A prompt template is a step whose input is a dict of variables and whose output is a
:class:`~runnables.prompts.value.PromptValue`. Formatting is pure CPU work, so a prompt
never needs an event loop (sync ``invoke`` runs it inline) and never blocks one.

Prompts are pydantic models, as in langchain-core: their declared fields are
constructor keywords, ``==`` compares fields, ``model_copy``/``model_dump`` work, and
``configurable_fields`` rebuilds a configured prompt through its constructor. The
constructor does the checking (so errors keep runnables' own classes and sentences);
what formatting needs (the compiled template, the required names) is worked out then,
and kept beside the fields, so formatting pays nothing for pydantic.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NotRequired, TypedDict

from pydantic import Field

from runnables.core.base import Runnable
from runnables.core.config import Context, RunnableConfig
from runnables.core.serializable import RunnableSerializable
from runnables.errors import UnsupportedError
from runnables.prompts.formatting import PromptInputTypeError, missing_variables_error
from runnables.prompts.value import PromptValue

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["BasePromptTemplate"]


# (mypy cannot see that RunnableSerializable's metaclass is pydantic's, subclassed.)
class BasePromptTemplate(RunnableSerializable[dict[str, Any], PromptValue]):  # type: ignore[metaclass]
    """A step that formats its input variables into a prompt value.

    ``input_variables`` must be given in the input; ``optional_variables`` may be;
    ``partial_variables`` are filled in already (values, or functions called at each
    format). A template with exactly one input variable also accepts that variable's
    value alone instead of a dict, as langchain-core does.
    """

    _run_type: ClassVar[str] = "prompt"  # type: ignore[misc]

    # (Annotations say `builtins.dict`: pydantic reads them in the class namespace,
    # where the deprecated `dict()` method below shadows the builtin.)

    input_variables: list[str] = Field(default_factory=list)
    """The variables the input must give."""
    optional_variables: list[str] = Field(default_factory=list)
    """The variables the input may give (an optional placeholder's)."""
    partial_variables: builtins.dict[str, Any] = Field(default_factory=dict)
    """Variables filled in already: values, or functions called at each format."""
    input_types: builtins.dict[str, Any] = Field(default_factory=dict)
    """The type of each variable, for the input schema (``str`` when not given)."""
    metadata: builtins.dict[str, Any] | None = None
    """Metadata added to this prompt's runs (after the call's own), as in langchain-core."""
    tags: list[str] | None = None
    """Tags added to this prompt's runs (after the call's own), as in langchain-core."""

    # Worked out from the fields at construction and kept in the instance dict (not
    # pydantic fields: formatting reads them as plain attributes). `_own_tags_metadata`
    # is read by the tracer when a run starts; None keeps an untagged prompt's run as
    # cheap as any step's.
    _required: ClassVar[frozenset[str]] = frozenset()
    _callable_partials: ClassVar[bool] = False
    _own_tags_metadata: ClassVar[tuple[list[str], builtins.dict[str, Any]] | None] = None
    # Fields whose assignment rebuilds the prompt (its compiled parts depend on them).
    _rebuild_on_set: ClassVar[frozenset[str]] = frozenset()

    def model_post_init(self, context: Any, /) -> None:
        """Work out what formatting needs from the fields (after every construction)."""
        set_ = object.__setattr__
        set_(self, "_required", frozenset(self.input_variables))
        set_(self, "_callable_partials", any(callable(v) for v in self.partial_variables.values()))
        if self.metadata is not None or self.tags is not None:
            set_(self, "_own_tags_metadata", (list(self.tags or ()), dict(self.metadata or {})))
        self._compile()

    def _compile(self) -> None:
        """Work out the closures formatting calls (they refer to this prompt's own
        fields, so a deep copy compiles its own again)."""

    def __deepcopy__(self, memo: builtins.dict[int, Any] | None = None) -> Any:
        copied = super().__deepcopy__(memo)
        copied._compile()
        return copied

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._rebuild_on_set:
            # Rebuilt through the constructor, so the new value is checked and what
            # formatting needs (compiled template, variables) follows it.
            fresh = self._configured({name: value})
            object.__setattr__(self, "__dict__", fresh.__dict__)
            return
        super().__setattr__(name, value)

    # ------------------------------------------------------------------ formatting

    def format_prompt(self, **kwargs: Any) -> PromptValue:
        """Format into a prompt value."""
        raise UnsupportedError(f"{type(self).__name__} must implement format_prompt().")

    async def aformat_prompt(self, **kwargs: Any) -> PromptValue:
        """Format into a prompt value (formatting is CPU-only: this is ``format_prompt``)."""
        return self.format_prompt(**kwargs)

    def format(self, **kwargs: Any) -> Any:
        """Format into the template's natural output (a string for string templates)."""
        raise UnsupportedError(f"{type(self).__name__} must implement format().")

    async def aformat(self, **kwargs: Any) -> Any:
        """``format``, for async code (formatting never waits on anything)."""
        return self.format(**kwargs)

    def partial(self, **kwargs: Any) -> BasePromptTemplate:
        """A copy with some variables filled in (values, or functions called at each format).

        >>> from runnables.prompts import PromptTemplate
        >>> p = PromptTemplate.from_template("{greeting}, {name}!").partial(greeting="Hi")
        >>> p.input_variables, p.format(name="Ada")
        (['name'], 'Hi, Ada!')
        """
        return self._configured(
            {
                "input_variables": [v for v in self.input_variables if v not in kwargs],
                "optional_variables": [v for v in self.optional_variables if v not in kwargs],
                "partial_variables": {**self.partial_variables, **kwargs},
            }
        )

    def _merge_partial_and_user_variables(self, **kwargs: Any) -> dict[str, Any]:
        if not self.partial_variables:
            return kwargs
        if not self._callable_partials:
            return {**self.partial_variables, **kwargs}
        partials = {k: v() if callable(v) else v for k, v in self.partial_variables.items()}
        return {**partials, **kwargs}

    # ------------------------------------------------------------------ as a step

    def _with_kwargs(self, kwargs: dict[str, Any]) -> BasePromptTemplate:
        # As langchain-core's prompts: call arguments are for the steps after a prompt
        # (``(prompt | model).bind(stop=[...])`` gives them to the chain's first step,
        # the prompt) and a prompt has no use for them, so it takes and ignores them.
        return self

    def _needs_loop(self) -> bool:
        return False

    def _validate_input(self, input: Any) -> dict[str, Any]:
        if not isinstance(input, dict):
            if len(self.input_variables) == 1:
                return {self.input_variables[0]: input}
            if isinstance(input, Mapping):
                input = dict(input)
            else:
                raise PromptInputTypeError(
                    f"{self.get_name()} expects a dict of its variables "
                    f"({', '.join(map(repr, self.input_variables)) or 'none'}), but got "
                    f"{_short_repr(input)} (a {type(input).__name__}). Pass "
                    "{'variable': value, ...}.",
                    expected=self.input_variables,
                )
        if not self._required.issubset(input.keys()):
            missing = self._required.difference(input)
            raise missing_variables_error(
                self.get_name(), missing, self.input_variables, list(input)
            )
        return dict(input) if type(input) is not dict else input

    async def _ainvoke(self, input: Any, ctx: Context) -> PromptValue:
        return self.format_prompt(**self._validate_input(input))

    def _input_type_hint(self) -> Any:
        fields: dict[str, Any] = {}
        for name in self.input_variables:
            fields[name] = self.input_types.get(name, str)
        for name in self.optional_variables:
            if name not in fields:
                fields[name] = NotRequired[self.input_types.get(name, Any)]
        return TypedDict(self.get_name("Input"), fields)  # type: ignore[operator]

    def _output_type_hint(self) -> Any:
        return PromptValue

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """A pydantic model of the variables, shaped as langchain-core's: titled
        ``PromptInput``, each variable a top-level property (optional ones default None).
        """
        from runnables.core.schema import fields_model

        required = {v: self.input_types.get(v, str) for v in self.input_variables}
        optional = {v: self.input_types.get(v, Any) for v in self.optional_variables}
        return fields_model("PromptInput", required, optional)

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        return super().get_name(suffix, name=name)

    # As langchain-core's pydantic models: two prompts of the same class with the same
    # fields are equal (what formatting keeps beside the fields is left out). The hash
    # stays the identity one, so a prompt can still key a cache or a set the way every
    # other step does.
    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._init_params() == other._init_params()  # type: ignore[attr-defined]

    __hash__ = Runnable.__hash__

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Any:
        """A copy; with ``update``, rebuilt through the constructor so the new values are
        checked and take effect (a new template brings its own variables)."""
        if not update:
            return super().model_copy(deep=deep)
        copied = self._configured(update)
        return copied.model_copy(deep=True) if deep else copied

    def asdict(self) -> dict[str, Any]:
        """The prompt's fields as a dict, with ``"_type"`` naming its kind (``"prompt"``,
        ``"chat"``...), as langchain-core's ``asdict`` (``dict()`` is its deprecated name)."""
        out = self.model_dump()
        out["_type"] = self._prompt_type
        return out

    @property
    def _prompt_type(self) -> str:
        return type(self).__name__

    # Last in the class: the name `dict` would shadow the builtin in annotations below it.
    def dict(self) -> builtins.dict[str, Any]:  # type: ignore[override]
        """Deprecated name of :meth:`asdict` (warns, as langchain-core does)."""
        import warnings

        from runnables.errors import LangChainDeprecationWarning

        warnings.warn(
            "The method `BasePromptTemplate.dict` was deprecated in langchain-core 0.3 and "
            "is asdict() now; call prompt.asdict() instead.",
            LangChainDeprecationWarning,
            stacklevel=2,
        )
        return self.asdict()


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
