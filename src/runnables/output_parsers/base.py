"""What every output parser shares: the ``parser`` step contract and ``OutputParserException``.

An output parser is a step that turns a model's output (a message, a message chunk or a
string) into something a program can use. Parsing is pure CPU work, so parsers never
need an event loop (sync ``invoke`` drives them inline) and never block one for long.

Parsers are pydantic models, as in langchain-core (through
:class:`~runnables.core.serializable.RunnableSerializable`): their settings and a
subclass's declared fields are constructor keywords, validated, compared by ``==`` and
copied by ``model_copy``. Parsing reads them as plain attributes, so it pays nothing
for pydantic.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Generic, TypeVar, get_args, get_origin

from runnables.core.config import Context
from runnables.core.serializable import RunnableSerializable
from runnables.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    LangChainDeprecationWarning,
    RunnablesError,
    UnsupportedError,
)

__all__ = [
    "BaseGenerationOutputParser",
    "BaseOutputParser",
    "BaseTransformOutputParser",
    "OutputParserException",
    "text_of",
]

T = TypeVar("T")


class OutputParserException(RunnablesError, ValueError):  # noqa: N818 - langchain-core's name
    """A model's output could not be parsed.

    The arguments are langchain-core's: ``observation`` is what to tell the model about
    the mistake, ``llm_output`` the text that failed, and ``send_to_llm`` whether an agent
    should show the model the error. ``line``, ``column`` and ``position`` (0-based
    character offset) say where the text went wrong, when that is known.
    """

    def __init__(
        self,
        error: Any,
        observation: str | None = None,
        llm_output: str | None = None,
        send_to_llm: bool = False,
        *,
        line: int | None = None,
        column: int | None = None,
        position: int | None = None,
    ) -> None:
        super().__init__(error)
        if send_to_llm and (observation is None or llm_output is None):
            raise InvalidArgumentError(
                "OutputParserException got send_to_llm=True without both observation and "
                "llm_output; pass them so the model can be shown what went wrong."
            )
        self.observation = observation
        self.llm_output = llm_output
        self.send_to_llm = send_to_llm
        self.line = line
        self.column = column
        self.position = position


def text_of(value: Any) -> str:
    """The text of a parser's input: a string as is, a message's (or chunk's) text."""
    if type(value) is str:
        return value
    content = getattr(value, "content", None)
    if type(content) is str:  # a message with text content: no text accessor to build
        return content
    text = getattr(value, "text", None)
    if isinstance(text, str):
        return text
    if callable(text):  # messages whose ``text`` is a method (older langchain-core style)
        out = text()
        if isinstance(out, str):
            return out
    if isinstance(value, str):
        return str(value)
    raise OutputParserException(
        f"An output parser expects a string or a message, but got {value!r} (a "
        f"{type(value).__name__}). Put the parser right after a model or a step that "
        "returns text."
    )


# (mypy cannot see that RunnableSerializable's metaclass is pydantic's, subclassed.)
class BaseOutputParser(RunnableSerializable[Any, T], Generic[T]):  # type: ignore[metaclass]
    """An output parser: ``parse(text)`` turns a model's text into a value.

    Subclasses implement :meth:`parse`. As a step it accepts a string or a message and,
    unless the subclass streams, parses the whole output once it has arrived. A
    subclass's declared fields are constructor keywords, as in langchain-core::

        class Prefixed(BaseOutputParser[str]):
            prefix: str

            def parse(self, text: str) -> str:
                return self.prefix + text

        Prefixed(prefix="> ").invoke("hi")  # '> hi'

    A parser written for langchain-core that overrides ``parse_result(result, *,
    partial=False)`` instead gets, as there, a one-item list: a ``ChatGeneration`` of
    the message, or a ``Generation`` of the text.
    """

    _run_type: ClassVar[str] = "parser"  # type: ignore[misc]
    # Decided once per class, so a parser that only overrides parse pays nothing.
    _uses_parse_result: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._uses_parse_result = cls.parse_result is not BaseOutputParser.parse_result

    def _output_type_hint(self) -> Any:
        # As langchain-core: the type the parser class is declared with
        # (``StrOutputParser(BaseTransformOutputParser[str])`` outputs ``str``). pydantic
        # makes ``BaseOutputParser[str]`` a class of its own that records its arguments.
        for cls in type(self).__mro__:
            meta = cls.__dict__.get("__pydantic_generic_metadata__")
            if meta and meta.get("args") and not isinstance(meta["args"][0], TypeVar):
                origin = meta.get("origin")
                if isinstance(origin, type) and issubclass(origin, BaseOutputParser):
                    return meta["args"][0]
            for base in cls.__dict__.get("__orig_bases__", ()):
                origin = get_origin(base)
                args = get_args(base)
                if (
                    isinstance(origin, type)
                    and issubclass(origin, BaseOutputParser)
                    and args
                    and not isinstance(args[0], TypeVar)
                ):
                    return args[0]
        return Any

    def parse_result(self, result: list[Any], *, partial: bool = False) -> T:
        """Parse a list of candidate generations (langchain-core's hook): by default,
        ``parse`` of the first one's text."""
        return self.parse(result[0].text)

    async def aparse_result(self, result: list[Any], *, partial: bool = False) -> T:
        """``parse_result`` for async code (parsing is CPU-only)."""
        return self.parse_result(result, partial=partial)

    def parse(self, text: str) -> T:
        """Parse a model's complete output text."""
        raise UnsupportedError(f"{type(self).__name__} must implement parse(text).")

    async def aparse(self, text: str) -> T:
        """Parse a model's complete output text (parsing is CPU-only, so this is ``parse``)."""
        return self.parse(text)

    def get_format_instructions(self) -> str:
        """Instructions for the model on how to format its output for this parser."""
        raise UnsupportedError(
            f"{type(self).__name__} has no format instructions; write them in the prompt."
        )

    def asdict(self, **kwargs: Any) -> dict[str, Any]:
        """The parser's settings as a dict (langchain-core's ``asdict``).

        ``include``/``exclude`` (collections of names) and ``exclude_none`` narrow it,
        as in pydantic's ``model_dump``; a subclass that defines ``_type`` adds it.
        """
        unknown = kwargs.keys() - {"include", "exclude", "exclude_none"}
        if unknown:
            raise ArgumentTypeError(
                f"{type(self).__name__}.asdict() got unsupported arguments {sorted(unknown)}; "
                "it takes include=, exclude= and exclude_none=."
            )
        include = kwargs.get("include")
        exclude = kwargs.get("exclude") or ()
        fields = type(self).model_fields
        out = {
            k: v
            for k, v in vars(self).items()
            if k in fields
            and (include is None or k in include)
            and k not in exclude
            and not (v is None and kwargs.get("exclude_none"))
        }
        if type(self)._type is not BaseOutputParser._type:
            out["_type"] = self._type
        return out

    def dict(self, **kwargs: Any) -> dict[str, Any]:
        """Deprecated in langchain-core: use :meth:`asdict`."""
        warnings.warn(
            f"{type(self).__name__}.dict() is deprecated (as in langchain-core 1.4.2); use "
            "asdict() instead.",
            LangChainDeprecationWarning,
            stacklevel=2,
        )
        return self.asdict(**kwargs)

    def _needs_loop(self) -> bool:
        return False

    async def _ainvoke(self, input: Any, ctx: Context) -> T:
        if self._uses_parse_result:
            return self.parse_result([_generation_of(input)])
        return self.parse(text_of(input))

    @property
    def _type(self) -> str:
        return type(self).__name__


class BaseTransformOutputParser(BaseOutputParser[T]):
    """An output parser that parses each input chunk on its own as it arrives."""

    async def _atransform(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[T]:
        parse = self.parse
        by_result = self._uses_parse_result
        try:
            async for chunk in inputs:
                yield (
                    self.parse_result([_generation_of(chunk)])
                    if by_result
                    else parse(text_of(chunk))
                )
        finally:
            aclose = getattr(inputs, "aclose", None)
            if aclose is not None:
                await aclose()


class BaseGenerationOutputParser(BaseOutputParser[T]):
    """A parser that reads the generation itself (langchain-core's class): subclasses
    implement ``parse_result(result, *, partial=False)``, where ``result[0]`` is a
    ``ChatGeneration`` (``.message``) for a message input, else a ``Generation``
    (``.text``)."""

    def parse_result(self, result: list[Any], *, partial: bool = False) -> T:
        raise UnsupportedError(
            f"{type(self).__name__} must implement parse_result(result, *, partial=False)."
        )

    def parse(self, text: str) -> T:
        """Parse a text: ``parse_result`` of a ``Generation`` of it."""
        from runnables.models.base import Generation

        return self.parse_result([Generation(text)])


def _generation_of(value: Any) -> Any:
    """``value`` as langchain-core hands it to ``parse_result``: a ``ChatGeneration`` of a
    message, or a ``Generation`` of a text."""
    from runnables.messages import BaseMessage
    from runnables.models.base import ChatGeneration, Generation

    if isinstance(value, BaseMessage):
        return ChatGeneration(value)  # type: ignore[arg-type]
    return Generation(text_of(value))
