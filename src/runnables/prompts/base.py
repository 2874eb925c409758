"""``BasePromptTemplate``: what every prompt template shares as a step.

A prompt template is a step whose input is a dict of variables and whose output is a
:class:`~runnables.prompts.value.PromptValue`. Formatting is pure CPU work, so a prompt
never needs an event loop (sync ``invoke`` runs it inline) and never blocks one.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from runnables.core.base import Runnable
from runnables.core.config import Context, RunnableConfig
from runnables.prompts.formatting import PromptInputTypeError, missing_variables_error
from runnables.prompts.value import PromptValue

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["BasePromptTemplate"]


class BasePromptTemplate(Runnable[dict[str, Any], PromptValue]):
    """A step that formats its input variables into a prompt value.

    ``input_variables`` must be given in the input; ``optional_variables`` may be;
    ``partial_variables`` are filled in already (values, or functions called at each
    format). A template with exactly one input variable also accepts that variable's
    value alone instead of a dict, as langchain-core does.
    """

    _run_type = "prompt"

    input_variables: list[str]
    optional_variables: list[str]
    partial_variables: dict[str, Any]
    input_types: dict[str, Any]
    metadata: dict[str, Any] | None = None
    """Metadata added to this prompt's runs (after the call's own), as in langchain-core."""
    tags: list[str] | None = None
    """Tags added to this prompt's runs (after the call's own), as in langchain-core."""
    # (tags, metadata) when either is set, read by the tracer when a run starts; None
    # keeps an untagged prompt's run as cheap as any step's.
    _own_tags_metadata: tuple[list[str], dict[str, Any]] | None = None

    def _init_run_config(self, metadata: Mapping[str, Any] | None, tags: list[str] | None) -> None:
        if metadata is None and tags is None:
            return
        self.metadata = None if metadata is None else dict(metadata)
        self.tags = None if tags is None else list(tags)
        self._own_tags_metadata = (list(tags or ()), dict(metadata or {}))

    def _init_variables(
        self,
        input_variables: list[str],
        optional_variables: list[str] | None,
        partial_variables: Mapping[str, Any] | None,
        input_types: Mapping[str, Any] | None,
    ) -> None:
        self.partial_variables = dict(partial_variables or {})
        self.input_variables = [v for v in input_variables if v not in self.partial_variables]
        self.optional_variables = list(optional_variables or [])
        self.input_types = dict(input_types or {})
        self._required = frozenset(self.input_variables)
        self._callable_partials = any(callable(v) for v in self.partial_variables.values())

    # ------------------------------------------------------------------ formatting

    def format_prompt(self, **kwargs: Any) -> PromptValue:
        """Format into a prompt value."""
        raise NotImplementedError

    async def aformat_prompt(self, **kwargs: Any) -> PromptValue:
        """Format into a prompt value (formatting is CPU-only: this is ``format_prompt``)."""
        return self.format_prompt(**kwargs)

    def format(self, **kwargs: Any) -> Any:
        """Format into the template's natural output (a string for string templates)."""
        raise NotImplementedError

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
        new = copy.copy(self)
        new._init_variables(
            [v for v in self.input_variables if v not in kwargs],
            [v for v in self.optional_variables if v not in kwargs],
            {**self.partial_variables, **kwargs},
            self.input_types,
        )
        return new

    def _merge_partial_and_user_variables(self, **kwargs: Any) -> dict[str, Any]:
        if not self.partial_variables:
            return kwargs
        if not self._callable_partials:
            return {**self.partial_variables, **kwargs}
        partials = {k: v() if callable(v) else v for k, v in self.partial_variables.items()}
        return {**partials, **kwargs}

    # ------------------------------------------------------------------ as a step

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
    # fields are equal. The hash stays the identity one, so a prompt can still key a
    # cache or a set the way every other step does.
    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return _fields(self) == _fields(other)

    __hash__ = Runnable.__hash__

    def asdict(self) -> dict[str, Any]:
        """The prompt's fields as a dict, with ``"_type"`` naming its kind (``"prompt"``,
        ``"chat"``...), as langchain-core's ``asdict`` (``dict()`` is its deprecated name)."""
        out = _fields(self)
        out["_type"] = self._prompt_type
        return out

    @property
    def _prompt_type(self) -> str:
        return type(self).__name__

    # For user code written against langchain-core's pydantic models.
    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> BasePromptTemplate:
        """A shallow copy, with ``update`` applied to its attributes."""
        new = copy.copy(self)
        for key, value in (update or {}).items():
            setattr(new, key, value)
        return new

    # Last in the class: the name `dict` would shadow the builtin in annotations below it.
    def dict(self) -> builtins.dict[str, Any]:
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


def _fields(prompt: Any) -> dict[str, Any]:
    """A prompt's fields: its public attributes and those kept behind a property."""
    out = {}
    for key, value in vars(prompt).items():
        name = (
            key[1:]
            if key.startswith("_") and isinstance(getattr(type(prompt), key[1:], None), property)
            else key
        )
        if not name.startswith("_"):
            out[name] = value
    return out


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
