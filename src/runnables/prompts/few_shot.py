"""Few-shot prompts: examples formatted into a prompt, as in langchain-core.

:class:`FewShotPromptTemplate` makes one string: ``prefix``, each example formatted with
``example_prompt``, then ``suffix``, joined by ``example_separator``.
:class:`FewShotChatMessagePromptTemplate` makes messages, one exchange per example, and
is usually put inside a :class:`~runnables.prompts.ChatPromptTemplate`.

Examples are a fixed list (``examples``) or chosen per input by an ``example_selector``
(anything with ``select_examples(input_variables)``, and optionally an async
``aselect_examples``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from runnables.core.config import Context
from runnables.messages.base import BaseMessage
from runnables.messages.convert import get_buffer_string
from runnables.prompts.base import BasePromptTemplate
from runnables.prompts.chat import BaseMessagePromptTemplate
from runnables.prompts.formatting import (
    InvalidPromptTemplateError,
    PromptTemplateFormat,
    check_format,
    check_valid_template,
    format_template,
    get_template_variables,
)
from runnables.prompts.string import PromptTemplate, StringPromptTemplate
from runnables.prompts.value import ChatPromptValue, StringPromptValue

__all__ = ["FewShotChatMessagePromptTemplate", "FewShotPromptTemplate"]


class _Examples:
    """The examples of a few-shot prompt: a fixed list or a selector."""

    examples: list[dict[str, Any]] | None
    example_selector: Any

    @staticmethod
    def _checked_examples(
        examples: Sequence[Mapping[str, Any]] | None, example_selector: Any
    ) -> list[dict[str, Any]] | None:
        if examples is not None and example_selector is not None:
            raise InvalidPromptTemplateError(
                "Only one of 'examples' and 'example_selector' should be provided: pass a "
                "fixed list of examples, or a selector that picks them per input."
            )
        if examples is None and example_selector is None:
            raise InvalidPromptTemplateError(
                "One of 'examples' and 'example_selector' should be provided: pass "
                "examples=[{...}, ...] or example_selector=..."
            )
        if example_selector is not None and not callable(
            getattr(example_selector, "select_examples", None)
        ):
            raise InvalidPromptTemplateError(
                f"example_selector must have a select_examples(input_variables) method, got "
                f"{example_selector!r}."
            )
        return None if examples is None else [dict(e) for e in examples]

    @property
    def _async_formatting(self) -> bool:
        """Whether async formatting differs: the selector has ``aselect_examples``."""
        return self.example_selector is not None and callable(
            getattr(self.example_selector, "aselect_examples", None)
        )

    def _get_examples(self, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        if self.examples is not None:
            return self.examples
        return list(self.example_selector.select_examples(dict(values)))

    async def _aget_examples(self, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        if self.examples is not None:
            return self.examples
        aselect = getattr(self.example_selector, "aselect_examples", None)
        if aselect is not None:
            return list(await aselect(dict(values)))
        return self._get_examples(values)


def _pick(example: Mapping[str, Any], keys: Sequence[str], owner: str) -> dict[str, Any]:
    missing = [k for k in keys if k not in example]
    if missing:
        raise InvalidPromptTemplateError(
            f"An example of {owner} lacks {missing!r}, which its example_prompt uses: "
            f"{dict(example)!r}. Give every example the keys {list(keys)!r}."
        )
    return {k: example[k] for k in keys}


class FewShotPromptTemplate(StringPromptTemplate, _Examples):
    """A string prompt with examples between a ``prefix`` and a ``suffix``.

    >>> examples = [{"q": "2+2", "a": "4"}, {"q": "3+3", "a": "6"}]
    >>> prompt = FewShotPromptTemplate(
    ...     examples=examples,
    ...     example_prompt=PromptTemplate.from_template("Q: {q} A: {a}"),
    ...     suffix="Q: {question} A:",
    ... )
    >>> print(prompt.format(question="4+4"))
    Q: 2+2 A: 4
    <BLANKLINE>
    Q: 3+3 A: 6
    <BLANKLINE>
    Q: 4+4 A:
    """

    examples: list[dict[str, Any]] | None = None
    """The examples (or None when an example_selector picks them)."""
    example_selector: Any = None
    """Picks the examples per input (``select_examples``), instead of ``examples``."""
    example_prompt: PromptTemplate
    """The template each example is formatted with."""
    suffix: str
    """The template after the examples (usually holds the input variables)."""
    prefix: str = ""
    """The template before the examples."""
    example_separator: str = "\n\n"
    """What joins the prefix, the examples and the suffix."""
    template_format: PromptTemplateFormat = "f-string"
    """The format of the prefix and the suffix."""
    validate_template: bool = False
    """Whether the given input_variables were checked against prefix and suffix."""

    def __init__(
        self,
        *,
        example_prompt: PromptTemplate,
        suffix: str,
        examples: Sequence[Mapping[str, Any]] | None = None,
        example_selector: Any = None,
        prefix: str = "",
        example_separator: str = "\n\n",
        input_variables: list[str] | None = None,
        partial_variables: Mapping[str, Any] | None = None,
        template_format: PromptTemplateFormat = "f-string",
        validate_template: bool = False,
        name: str | None = None,
        optional_variables: list[str] | None = None,
        input_types: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        check_format(template_format)
        if not isinstance(example_prompt, PromptTemplate):
            raise InvalidPromptTemplateError(
                f"FewShotPromptTemplate needs a PromptTemplate as example_prompt, got "
                f"{example_prompt!r}."
            )
        checked = self._checked_examples(examples, example_selector)
        partials = dict(partial_variables or {})
        used = get_template_variables(prefix + suffix, template_format)
        if validate_template:
            declared = [*(input_variables or []), *partials]
            check_valid_template(prefix + suffix, template_format, declared)
        if input_variables is None or not validate_template:
            input_variables = [v for v in used if v not in partials]
        super().__init__(
            examples=checked,
            example_selector=example_selector,
            example_prompt=example_prompt,
            suffix=suffix,
            prefix=prefix,
            example_separator=example_separator,
            template_format=template_format,
            validate_template=validate_template,
            input_variables=list(input_variables),
            partial_variables=partials,
            name=name,
            optional_variables=optional_variables or [],
            input_types=input_types or {},
            metadata=metadata,
            tags=tags,
        )

    def _render(self, examples: list[dict[str, Any]], values: dict[str, Any]) -> str:
        keys = self.example_prompt.input_variables
        strings = [
            self.example_prompt.format(**_pick(e, keys, "FewShotPromptTemplate")) for e in examples
        ]
        pieces = [self.prefix, *strings, self.suffix]
        template = self.example_separator.join(p for p in pieces if p)
        return format_template(template, self.template_format, values)

    def format(self, **kwargs: Any) -> str:
        """The prompt for these variables, examples included."""
        values = self._merge_partial_and_user_variables(**kwargs)
        return self._render(self._get_examples(values), values)

    async def aformat(self, **kwargs: Any) -> str:
        """``format``, asking an async example selector without blocking."""
        values = self._merge_partial_and_user_variables(**kwargs)
        return self._render(await self._aget_examples(values), values)

    async def _ainvoke(self, input: Any, ctx: Context) -> StringPromptValue:
        values = self._validate_input(input)
        # A sync call driven without a loop uses the sync selector, as langchain-core.
        if self._async_formatting and not ctx.sync:
            return StringPromptValue(await self.aformat(**values))
        return StringPromptValue(self.format(**values))

    def __repr__(self) -> str:
        return f"FewShotPromptTemplate(prefix={self.prefix!r}, suffix={self.suffix!r})"


# (mypy cannot see that RunnableSerializable's metaclass is pydantic's, subclassed.)
class FewShotChatMessagePromptTemplate(  # type: ignore[metaclass,misc]
    BasePromptTemplate, BaseMessagePromptTemplate, _Examples
):
    """Messages for examples: each example formatted by a chat ``example_prompt``.

    >>> from runnables.prompts import ChatPromptTemplate
    >>> few_shot = FewShotChatMessagePromptTemplate(
    ...     examples=[{"input": "2+2", "output": "4"}],
    ...     example_prompt=ChatPromptTemplate.from_messages(
    ...         [("human", "{input}"), ("ai", "{output}")]
    ...     ),
    ... )
    >>> prompt = ChatPromptTemplate.from_messages(
    ...     [("system", "You do sums."), few_shot, ("human", "{input}")]
    ... )
    >>> [m.content for m in prompt.invoke({"input": "3+3"}).to_messages()]
    ['You do sums.', '2+2', '4', '3+3']
    """

    examples: list[dict[str, Any]] | None = None
    """The examples (or None when an example_selector picks them)."""
    example_selector: Any = None
    """Picks the examples per input (``select_examples``), instead of ``examples``."""
    example_prompt: Any
    """The chat prompt or message template each example is formatted with."""

    def __init__(
        self,
        *,
        example_prompt: BaseMessagePromptTemplate | BasePromptTemplate,
        examples: Sequence[Mapping[str, Any]] | None = None,
        example_selector: Any = None,
        input_variables: list[str] | None = None,
        partial_variables: Mapping[str, Any] | None = None,
        name: str | None = None,
        optional_variables: list[str] | None = None,
        input_types: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        if not callable(getattr(example_prompt, "format_messages", None)):
            raise InvalidPromptTemplateError(
                "FewShotChatMessagePromptTemplate needs a chat prompt or message template as "
                f"example_prompt, got {example_prompt!r}."
            )
        checked = self._checked_examples(examples, example_selector)
        BasePromptTemplate.__init__(
            self,
            examples=checked,
            example_selector=example_selector,
            example_prompt=example_prompt,
            input_variables=list(input_variables or []),
            partial_variables=dict(partial_variables or {}),
            name=name,
            optional_variables=optional_variables or [],
            input_types=input_types or {},
            metadata=metadata,
            tags=tags,
        )

    def _messages(self, examples: list[dict[str, Any]]) -> list[BaseMessage]:
        keys = self.example_prompt.input_variables
        out: list[BaseMessage] = []
        for example in examples:
            picked = _pick(example, keys, "FewShotChatMessagePromptTemplate")
            out.extend(cast(Any, self.example_prompt).format_messages(**picked))
        return out

    def format_messages(self, **kwargs: Any) -> list[BaseMessage]:
        """The example messages (the selector, if any, sees these variables)."""
        return self._messages(self._get_examples(kwargs))

    async def aformat_messages(self, **kwargs: Any) -> list[BaseMessage]:
        """``format_messages``, asking an async example selector without blocking."""
        return self._messages(await self._aget_examples(kwargs))

    def format_prompt(self, **kwargs: Any) -> ChatPromptValue:
        """The example messages as a prompt value."""
        return ChatPromptValue(self.format_messages(**kwargs))

    async def _ainvoke(self, input: Any, ctx: Context) -> ChatPromptValue:
        values = self._validate_input(input)
        # A sync call driven without a loop uses the sync selector, as langchain-core.
        if self._async_formatting and not ctx.sync:
            return ChatPromptValue(await self.aformat_messages(**values))
        return self.format_prompt(**values)

    def format(self, **kwargs: Any) -> str:
        """The example messages as a transcript string."""
        return get_buffer_string(self.format_messages(**kwargs))

    def __repr__(self) -> str:
        return f"FewShotChatMessagePromptTemplate(example_prompt={self.example_prompt!r})"
