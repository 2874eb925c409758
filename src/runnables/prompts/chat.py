"""``ChatPromptTemplate``: a prompt that is a list of messages, some of them templates.

>>> prompt = ChatPromptTemplate.from_messages([
...     ("system", "You answer in {language}."),
...     MessagesPlaceholder("history", optional=True),
...     ("human", "{question}"),
... ])
>>> [m.type for m in prompt.invoke({"language": "French", "question": "Hi?"}).to_messages()]
['system', 'human']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from runnables.core.config import Context
from runnables.errors import UnsupportedError
from runnables.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    convert_to_messages,
    get_buffer_string,
)
from runnables.messages.base import _title_line
from runnables.prompts.base import BasePromptTemplate
from runnables.prompts.formatting import (
    InvalidPromptTemplateError,
    PromptInputError,
    PromptTemplateFormat,
    check_format,
    missing_variables_error,
)
from runnables.prompts.string import PromptTemplate
from runnables.prompts.value import ChatPromptValue

__all__ = [
    "AIMessagePromptTemplate",
    "BaseMessagePromptTemplate",
    "BaseStringMessagePromptTemplate",
    "ChatMessagePromptTemplate",
    "ChatPromptTemplate",
    "ContentBlocksMessagePromptTemplate",
    "HumanMessagePromptTemplate",
    "MessageLikeRepresentation",
    "MessagesPlaceholder",
    "SystemMessagePromptTemplate",
]

MessageLikeRepresentation = Any  # a message, a message template, ("role", "text"), or a str


class BaseMessagePromptTemplate(BaseModel):
    """One entry of a chat prompt that turns variables into messages.

    A pydantic model, as in langchain-core: its fields are constructor keywords and
    ``==`` compares them.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    if TYPE_CHECKING:

        @property
        def input_variables(self) -> list[str]: ...

    def format_messages(self, **kwargs: Any) -> list[BaseMessage]:
        """The messages for these variables."""
        raise UnsupportedError(f"{type(self).__name__} must implement format_messages().")

    def _compile(self) -> None:
        """Work out what formatting needs from the fields (kept beside them)."""

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in type(self).model_fields:
            self._compile()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Any:
        """A copy (``update`` applied to its fields, and taking effect)."""
        copied = super().model_copy(update=update, deep=deep)
        copied._compile()
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Any:
        copied = super().__deepcopy__(memo)
        copied._compile()
        return copied

    # Fields only: what is compiled at construction and kept beside them (a content
    # block's templates) is left out.
    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        names = type(self).model_fields
        return all(getattr(self, n) == getattr(other, n) for n in names)

    __hash__ = None  # type: ignore[assignment]

    async def aformat_messages(self, **kwargs: Any) -> list[BaseMessage]:
        """``format_messages`` for async code (formatting never waits)."""
        return self.format_messages(**kwargs)

    def __add__(self, other: Any) -> ChatPromptTemplate:
        """A chat prompt of this entry then ``other`` (as in langchain-core).

        >>> prompt = SystemMessagePromptTemplate.from_template("Be {tone}.") + "{question}"
        >>> [m.type for m in prompt.format_messages(tone="brief", question="Why?")]
        ['system', 'human']
        """
        chat: ChatPromptTemplate = ChatPromptTemplate([self]).__add__(other)
        return chat


class BaseStringMessagePromptTemplate(BaseMessagePromptTemplate):
    """A message whose content is a string template (``prompt``)."""

    _message_class: ClassVar[type[BaseMessage]] = HumanMessage

    prompt: PromptTemplate
    """The template of the message's content."""
    additional_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Given to each message as its ``additional_kwargs``."""

    def __init__(
        self, prompt: PromptTemplate, additional_kwargs: Mapping[str, Any] | None = None
    ) -> None:
        if not isinstance(prompt, PromptTemplate):
            raise InvalidPromptTemplateError(
                f"{type(self).__name__} needs a PromptTemplate as prompt, got {prompt!r}."
            )
        BaseModel.__init__(self, prompt=prompt, additional_kwargs=dict(additional_kwargs or {}))
        self._compile()

    if TYPE_CHECKING:  # set at construction, beside the fields (not pydantic's)

        def _make(self, values: dict[str, Any], /) -> BaseMessage: ...

    def _compile(self) -> None:
        # One closure per template, so formatting reads one attribute of the (pydantic)
        # template instead of three.
        prompt, cls, extra = self.prompt, self._message_class, self.additional_kwargs

        def make(values: dict[str, Any]) -> BaseMessage:
            if extra:
                return cls(prompt.format(**values), additional_kwargs=dict(extra))
            return cls(prompt.format(**values))

        object.__setattr__(self, "_make", make)

    @property
    def input_variables(self) -> list[str]:  # type: ignore[override]
        """The variables of the message's template."""
        return self.prompt.input_variables

    @classmethod
    def from_template(
        cls,
        template: str | Sequence[str | Mapping[str, Any]],
        template_format: PromptTemplateFormat = "f-string",
        *,
        partial_variables: Mapping[str, Any] | None = None,
        input_variables: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A message template from a string template (or a list of content blocks).

        As in langchain-core, ``input_variables`` are not needed (the template's own
        variables are used); other keywords (``role``, ``additional_kwargs``) go to the
        constructor. A list of templates gives a
        :class:`ContentBlocksMessagePromptTemplate` for this message kind.
        """
        if isinstance(template, str):
            prompt = PromptTemplate(
                template, template_format=template_format, partial_variables=partial_variables
            )
            return cls(prompt, **kwargs)
        if isinstance(template, Sequence):
            if partial_variables:
                raise InvalidPromptTemplateError(
                    "Partial variables are not supported for list of templates: got "
                    f"{sorted(partial_variables)}. Fill them in with .partial() on the chat "
                    "prompt instead."
                )
            if cls is ChatMessagePromptTemplate:
                raise InvalidPromptTemplateError(
                    "ChatMessagePromptTemplate takes a string template, not a list of "
                    "content blocks; use a role's template (('human', [...])) for blocks."
                )
            return ContentBlocksMessagePromptTemplate(
                template, message_class=cls._message_class, template_format=template_format
            )
        raise InvalidPromptTemplateError(
            f"Invalid template: {template!r}. Pass a string template or a list of content blocks."
        )

    @classmethod
    def from_template_file(
        cls,
        template_file: str | Path,
        input_variables: list[str] | None = None,
        *,
        template_format: PromptTemplateFormat = "f-string",
        encoding: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """A message template whose template is read from a text file (other keywords,
        such as ``role``, as in :meth:`from_template`)."""
        template = Path(template_file).read_text(encoding=encoding)
        return cls.from_template(
            template, template_format, input_variables=input_variables, **kwargs
        )

    def format(self, **kwargs: Any) -> BaseMessage:
        """The message for these variables."""
        return self._make(kwargs)

    def pretty_repr(self, html: bool = False) -> str:
        """A title naming the message kind, then the template (langchain-core's format)."""
        title = type(self).__name__.replace("MessagePromptTemplate", " Message")
        return f"{_title_line(title, bold=html)}\n\n{self.prompt.pretty_repr(html=html)}"

    def format_messages(self, **kwargs: Any) -> list[BaseMessage]:
        """A one-message list."""
        return [self.format(**kwargs)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(template={self.prompt.template!r})"


class HumanMessagePromptTemplate(BaseStringMessagePromptTemplate):
    """A human message from a template."""

    _message_class = HumanMessage


class AIMessagePromptTemplate(BaseStringMessagePromptTemplate):
    """An AI message from a template."""

    _message_class = AIMessage


class SystemMessagePromptTemplate(BaseStringMessagePromptTemplate):
    """A system message from a template."""

    _message_class = SystemMessage


class ChatMessagePromptTemplate(BaseStringMessagePromptTemplate):
    """A message with any ``role`` from a template."""

    role: str
    """The role of each message."""

    def __init__(
        self,
        prompt: PromptTemplate,
        role: str,
        additional_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(prompt, PromptTemplate):
            raise InvalidPromptTemplateError(
                f"ChatMessagePromptTemplate needs a PromptTemplate as prompt, got {prompt!r}."
            )
        BaseModel.__init__(
            self, prompt=prompt, role=role, additional_kwargs=dict(additional_kwargs or {})
        )
        self._compile()

    def _compile(self) -> None:
        prompt, role, extra = self.prompt, self.role, self.additional_kwargs

        def make(values: dict[str, Any]) -> BaseMessage:
            return ChatMessage(prompt.format(**values), role=role, additional_kwargs=dict(extra))

        object.__setattr__(self, "_make", make)


class _BlockTemplate:
    """One content block of a multimodal message template: every string in it a template."""

    def __init__(self, block: Any, template_format: PromptTemplateFormat) -> None:
        if isinstance(block, str):
            block = {"type": "text", "text": block}
        if not isinstance(block, dict):
            raise InvalidPromptTemplateError(
                f"A content block of a message template must be a string or a dict, got "
                f"{block!r} (a {type(block).__name__})."
            )
        if block.get("type") == "image_url" and isinstance(block.get("image_url"), str):
            block = {**block, "image_url": {"url": block["image_url"]}}  # langchain's shorthand
        if (
            template_format == "jinja2"
            and not set(block) <= {"type", "text"}
            and not (block.get("type") == "image_url" and set(block) <= {"type", "image_url"})
        ):
            raise InvalidPromptTemplateError(
                "jinja2 is unsafe and is not supported for templates expressed as dicts. "
                f"Please use 'f-string' or 'mustache' format for the block {block!r}."
            )
        image = block.get("image_url") if block.get("type") == "image_url" else None
        # langchain-core refuses an image given by file path (a template variable could
        # otherwise read any file): checked when formatting, as it does.
        self._has_path = isinstance(image, dict) and "path" in image
        self.block = block
        self.template_format = template_format
        self.templates: dict[str, PromptTemplate] = {}
        self._collect(block)
        self.input_variables = sorted(
            {v for t in self.templates.values() for v in t.input_variables}
        )

    def _collect(self, value: Any) -> None:
        if isinstance(value, str):
            if value not in self.templates:
                self.templates[value] = PromptTemplate(value, template_format=self.template_format)
        elif isinstance(value, dict):
            for item in value.values():
                self._collect(item)
        elif isinstance(value, list):
            for item in value:
                self._collect(item)

    def format(self, values: Mapping[str, Any]) -> dict[str, Any]:
        filled: dict[str, Any] = self._fill(self.block, values)
        if self._has_path and filled["image_url"].get("path"):
            raise InvalidPromptTemplateError(
                "Loading images from 'path' has been removed as of 0.3.15 for security "
                f"reasons. Please specify images by 'url' (the block {self.block!r} gives a "
                "'path')."
            )
        return filled

    def _fill(self, value: Any, values: Mapping[str, Any]) -> Any:
        if isinstance(value, str):
            return self.templates[value].format(**values)
        if isinstance(value, dict):
            return {k: self._fill(v, values) for k, v in value.items()}
        if isinstance(value, list):
            return [self._fill(v, values) for v in value]
        return value


class ContentBlocksMessagePromptTemplate(BaseMessagePromptTemplate):
    """A message whose content is a list of blocks, each a template (multimodal input).

    What ``("human", [{"type": "text", "text": "{q}"}, {"type": "image_url",
    "image_url": {"url": "{img}"}}])`` in a chat prompt becomes, as in langchain-core:
    a string in the list is a text block, and every string inside a dict block is a
    template (an ``image_url`` given as a string is the block's ``url``).

    >>> t = ContentBlocksMessagePromptTemplate(
    ...     [{"type": "text", "text": "{q}"}, {"type": "image_url", "image_url": "{img}"}]
    ... )
    >>> t.format(q="What is this?", img="https://example.com/a.png").content[1]
    {'type': 'image_url', 'image_url': {'url': 'https://example.com/a.png'}}
    """

    blocks: list[Any]
    """The content blocks, as given (strings are text blocks)."""
    message_class: type[BaseMessage] = HumanMessage
    """The kind of message made."""
    template_format: PromptTemplateFormat = "f-string"
    """The format of every string in the blocks."""

    if TYPE_CHECKING:  # compiled at construction, beside the fields (not pydantic's)
        _templates: list[_BlockTemplate]
        _variables: list[str]

    def __init__(
        self,
        blocks: Sequence[str | Mapping[str, Any]],
        *,
        message_class: type[BaseMessage] = HumanMessage,
        template_format: PromptTemplateFormat = "f-string",
    ) -> None:
        if isinstance(blocks, (str, Mapping)):
            raise InvalidPromptTemplateError(
                f"ContentBlocksMessagePromptTemplate needs a list of content blocks, got "
                f"{blocks!r}."
            )
        templates = [
            _BlockTemplate(dict(b) if isinstance(b, Mapping) else b, template_format)
            for b in blocks
        ]
        BaseModel.__init__(
            self,
            blocks=[t.block for t in templates],
            message_class=message_class,
            template_format=template_format,
        )
        object.__setattr__(self, "_templates", templates)
        object.__setattr__(
            self, "_variables", sorted({v for t in templates for v in t.input_variables})
        )

    @property
    def input_variables(self) -> list[str]:  # type: ignore[override]
        """The variables of every block's templates."""
        return self._variables

    def format(self, **kwargs: Any) -> BaseMessage:
        """The message for these variables."""
        return self.message_class([b.format(kwargs) for b in self._templates])

    def format_messages(self, **kwargs: Any) -> list[BaseMessage]:
        """A one-message list."""
        return [self.format(**kwargs)]

    def pretty_repr(self, html: bool = False) -> str:
        """A title naming the message kind, then each block."""
        title = _title_line(self.message_class.__name__.replace("Message", " Message"), bold=html)
        return f"{title}\n\n" + "\n\n".join(repr(b) for b in self.blocks)

    def __repr__(self) -> str:
        return (
            f"ContentBlocksMessagePromptTemplate({self.blocks!r}, "
            f"message_class={self.message_class.__name__})"
        )


class MessagesPlaceholder(BaseMessagePromptTemplate):
    """A place in a chat prompt for a list of messages passed in a variable (a history).

    With ``optional=True`` the variable may be left out (no messages); ``n_messages``
    keeps only the last ``n`` messages. The value may be messages, ``("role", "text")``
    tuples, strings or OpenAI-style dicts.
    """

    variable_name: str
    """The variable holding the messages."""
    optional: bool = False
    """Whether the variable may be left out (no messages then)."""
    n_messages: int | None = None
    """Keep only the last ``n_messages`` messages (all when None)."""

    def __init__(
        self, variable_name: str, *, optional: bool = False, n_messages: int | None = None
    ) -> None:
        if n_messages is not None and n_messages < 0:
            raise InvalidPromptTemplateError(
                f"MessagesPlaceholder n_messages must be 0 or more, got {n_messages}."
            )
        BaseModel.__init__(
            self, variable_name=variable_name, optional=optional, n_messages=n_messages
        )

    @property
    def input_variables(self) -> list[str]:  # type: ignore[override]
        """The variable, unless it is optional."""
        return [] if self.optional else [self.variable_name]

    def format_messages(self, **kwargs: Any) -> list[BaseMessage]:
        """The messages in the variable (converted to message objects)."""
        if self.variable_name in kwargs:
            value = kwargs[self.variable_name]
        elif self.optional:
            value = []
        else:
            raise missing_variables_error(
                f"MessagesPlaceholder({self.variable_name!r})",
                [self.variable_name],
                [self.variable_name],
                list(kwargs),
            )
        if not isinstance(value, (list, tuple)) and not hasattr(value, "to_messages"):
            raise PromptInputError(
                f"The variable {self.variable_name!r} of a MessagesPlaceholder must be a list "
                f"of messages, but got {value!r} (a {type(value).__name__}). Pass a list, "
                "like [('human', 'Hi'), ('ai', 'Hello!')].",
                expected=[self.variable_name],
            )
        try:
            messages = convert_to_messages(value)
        except (TypeError, ValueError) as exc:
            raise PromptInputError(
                f"The variable {self.variable_name!r} of a MessagesPlaceholder holds something "
                f"that is not a message: {exc}",
                expected=[self.variable_name],
            ) from None
        if self.n_messages is not None:
            messages = messages[-self.n_messages :] if self.n_messages else []
        return messages

    def pretty_repr(self, html: bool = False) -> str:
        """A title, then ``{variable_name}`` (langchain-core's format)."""
        var = "{" + self.variable_name + "}"
        if html:
            var = f"\u001b[33;1m\033[1;3m{var}\u001b[0m"
        return f"{_title_line('Messages Placeholder', bold=html)}\n\n{var}"

    def __repr__(self) -> str:
        return f"MessagesPlaceholder({self.variable_name!r}, optional={self.optional})"


# How a chat prompt formats an entry (its format plan).
_STATIC, _ONE_FAST, _ONE, _MANY = range(4)

_ROLE_TEMPLATES: dict[str, type[BaseStringMessagePromptTemplate]] = {
    "human": HumanMessagePromptTemplate,
    "user": HumanMessagePromptTemplate,
    "ai": AIMessagePromptTemplate,
    "assistant": AIMessagePromptTemplate,
    "system": SystemMessagePromptTemplate,
    "developer": SystemMessagePromptTemplate,
}

_Entry = BaseMessage | BaseMessagePromptTemplate | BasePromptTemplate


def _placeholder(spec: Any) -> MessagesPlaceholder:
    optional = True
    if isinstance(spec, (list, tuple)) and len(spec) == 2:
        spec, optional = spec
        if not isinstance(optional, bool):
            raise InvalidPromptTemplateError(
                f"A ('placeholder', [name, optional]) entry needs a bool as optional, got "
                f"{optional!r}."
            )
    if not isinstance(spec, str) or len(spec) < 3 or spec[0] != "{" or spec[-1] != "}":
        raise InvalidPromptTemplateError(
            f"A ('placeholder', ...) entry needs the variable in braces, like "
            f"('placeholder', '{{history}}'), got {spec!r}."
        )
    return MessagesPlaceholder(spec[1:-1], optional=optional)


def _from_role(role: str, template: Any, template_format: PromptTemplateFormat) -> _Entry:
    if role == "placeholder":
        return _placeholder(template)
    cls = _ROLE_TEMPLATES.get(role)
    if cls is None:
        raise InvalidPromptTemplateError(
            f"Unexpected message type: {role}. The role {role!r} of a chat prompt entry is "
            "not known; use one of 'human', 'user', 'ai', 'assistant', 'system' or "
            "'placeholder'."
        )
    if isinstance(template, list):
        return ContentBlocksMessagePromptTemplate(
            template, message_class=cls._message_class, template_format=template_format
        )
    if not isinstance(template, str):
        raise InvalidPromptTemplateError(
            f"Invalid template: {template!r}. The {role!r} message of a chat prompt needs a "
            f"string template or a list of content blocks, not a {type(template).__name__}."
        )
    return cls(PromptTemplate(template, template_format=template_format))


def _convert_to_message_template(
    message: Any, template_format: PromptTemplateFormat = "f-string"
) -> _Entry:
    """One chat prompt entry from what users write: a ``(role, template)`` tuple, a
    string, a ``{"role", "content"}`` dict, a message or a message template (langchain-
    core's ``_convert_to_message_template``)."""
    if isinstance(message, (BaseMessagePromptTemplate, BaseMessage, ChatPromptTemplate)):
        return message
    if isinstance(message, str):
        return HumanMessagePromptTemplate(
            prompt=PromptTemplate(message, template_format=template_format)
        )
    if isinstance(message, dict):
        if set(message) != {"role", "content"}:
            raise InvalidPromptTemplateError(
                f"A dict entry of a chat prompt needs exactly the keys 'role' and 'content', "
                f"got {sorted(message)}."
            )
        return _from_role(message["role"], message["content"], template_format)
    if isinstance(message, tuple) and len(message) == 2:
        role, template = message
        if isinstance(role, str):
            return _from_role(role, template, template_format)
        if isinstance(role, type) and issubclass(role, BaseMessage):
            return _from_role(role.type, template, template_format)
        if isinstance(role, type) and issubclass(role, BaseStringMessagePromptTemplate):
            return role(PromptTemplate(template, template_format=template_format))
    raise InvalidPromptTemplateError(
        f"Cannot use {message!r} (a {type(message).__name__}) in a chat prompt. Use a "
        "(role, template) tuple like ('human', '{question}'), a string, a message, a message "
        "template, or MessagesPlaceholder('history')."
    )


class ChatPromptTemplate(BasePromptTemplate):
    """A prompt that formats into a list of messages (a :class:`ChatPromptValue`).

    Entries may be ``(role, template)`` tuples (roles ``system``, ``human``/``user``,
    ``ai``/``assistant``, and ``placeholder`` with ``"{variable}"``; the template may be a
    list of content blocks for multimodal input, see
    :class:`ContentBlocksMessagePromptTemplate`), strings (human
    templates), messages (kept as they are), message templates, and
    :class:`MessagesPlaceholder`.
    """

    messages: list[Any]
    """The prompt's entries: messages, message templates and placeholders."""
    validate_template: bool = False
    """Whether the given input_variables were checked against the messages'."""

    _rebuild_on_set: ClassVar[frozenset[str]] = frozenset({"messages", "partial_variables"})

    def __init__(
        self,
        messages: Sequence[MessageLikeRepresentation],
        *,
        template_format: PromptTemplateFormat = "f-string",
        input_variables: list[str] | None = None,
        optional_variables: list[str] | None = None,
        partial_variables: Mapping[str, Any] | None = None,
        input_types: Mapping[str, Any] | None = None,
        name: str | None = None,
        validate_template: bool = False,
        metadata: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        check_format(template_format)
        if isinstance(messages, (str, BaseMessage)) or not isinstance(messages, Sequence):
            raise InvalidPromptTemplateError(
                f"ChatPromptTemplate needs a list of messages, got {messages!r}. For a single "
                "template use ChatPromptTemplate.from_template(...)."
            )
        entries: list[_Entry] = [_convert_to_message_template(m, template_format) for m in messages]
        partials = dict(partial_variables or {})
        required: set[str] = set()
        optional: set[str] = set(optional_variables or ())
        types = dict(input_types or {})
        for entry in entries:
            if isinstance(entry, MessagesPlaceholder):
                types.setdefault(entry.variable_name, list[AnyMessage])
                if entry.optional:
                    optional.add(entry.variable_name)
                    partials.setdefault(entry.variable_name, [])
                    continue
            if isinstance(entry, (BaseMessagePromptTemplate, BasePromptTemplate)):
                required.update(entry.input_variables)
                if isinstance(entry, BasePromptTemplate):
                    optional.update(entry.optional_variables)
        optional -= required
        inferred = required - set(partials)
        # As in langchain-core, the variables are always the messages' own: given ones
        # are only checked, with validate_template.
        if input_variables is not None and validate_template:
            if inferred != set(input_variables):
                raise InvalidPromptTemplateError(
                    f"Got mismatched input_variables. Expected: {inferred}. Got: "
                    f"{input_variables}. Leave input_variables out to take the messages' own "
                    "variables, or declare exactly those."
                )
        else:
            input_variables = sorted(inferred)
        super().__init__(
            messages=entries,
            validate_template=validate_template,
            input_variables=list(input_variables),
            optional_variables=sorted(optional),
            partial_variables=partials,
            input_types=types,
            name=name,
            metadata=metadata,
            tags=tags,
        )

    def _compile(self) -> None:
        # What formatting does with each entry, decided once here: formatting then
        # reads no attributes of the (pydantic) entries but the one it calls, and makes
        # no isinstance checks against pydantic classes (slow ABC checks).
        entries = self.messages
        plan: list[tuple[int, Any]] = []
        for entry in entries:
            if isinstance(entry, BaseMessage):
                plan.append((_STATIC, entry))
            elif (
                isinstance(entry, BaseStringMessagePromptTemplate)
                and type(entry).format is BaseStringMessagePromptTemplate.format
            ):
                plan.append((_ONE_FAST, entry))
            elif isinstance(entry, BaseStringMessagePromptTemplate):
                plan.append((_ONE, entry))
            else:
                plan.append((_MANY, entry))
        object.__setattr__(self, "_plan", plan)
        object.__setattr__(
            self,
            "_async_entries",
            any(getattr(e, "_async_formatting", False) for e in entries),
        )

    if TYPE_CHECKING:  # set at construction, beside the fields (not pydantic's)
        _plan: list[tuple[int, Any]]
        _async_entries: bool

    @property
    def _prompt_type(self) -> str:
        return "chat"

    @classmethod
    def from_messages(
        cls,
        messages: Sequence[MessageLikeRepresentation],
        template_format: PromptTemplateFormat = "f-string",
    ) -> ChatPromptTemplate:
        """A chat prompt from a list of entries (see the class docstring)."""
        return cls(messages, template_format=template_format)

    @classmethod
    def from_template(
        cls,
        template: str,
        *,
        template_format: PromptTemplateFormat = "f-string",
        partial_variables: Mapping[str, Any] | None = None,
    ) -> ChatPromptTemplate:
        """A chat prompt of one human message template (``partial_variables`` go to it)."""
        prompt = PromptTemplate(
            template, template_format=template_format, partial_variables=partial_variables
        )
        return cls([HumanMessagePromptTemplate(prompt=prompt)], template_format=template_format)

    # ------------------------------------------------------------------ formatting

    def format_messages(self, **kwargs: Any) -> list[BaseMessage]:
        """The messages for these variables."""
        values = self._merge_partial_and_user_variables(**kwargs)
        # Checked against the whole prompt's variables, so the error names this prompt
        # and lists everything it expects, not one message template's share.
        if not self._required.issubset(values.keys()):
            raise missing_variables_error(
                self.get_name(),
                self._required.difference(values),
                self.input_variables,
                list(kwargs),
            )
        out: list[BaseMessage] = []
        try:
            for kind, entry in self._plan:
                if kind == _ONE_FAST:
                    out.append(entry._make(values))
                elif kind == _STATIC:
                    out.append(entry)
                elif kind == _ONE:
                    out.append(entry.format(**values))
                else:
                    out.extend(entry.format_messages(**values))
        except PromptInputError as exc:
            if not exc.missing:
                raise
            # A variable no input_variables declared (they were given explicitly).
            expected = sorted({*self.input_variables, *exc.expected})
            raise missing_variables_error(
                self.get_name(), exc.missing, expected, list(kwargs)
            ) from None
        return out

    @property
    def _async_formatting(self) -> bool:
        """Whether an entry formats differently in async code (an async example selector)."""
        return self._async_entries

    async def aformat_messages(self, **kwargs: Any) -> list[BaseMessage]:
        """``format_messages`` for async code: entries with an async side (a few-shot
        prompt's async example selector) are awaited; the rest never wait."""
        if not self._async_formatting:
            return self.format_messages(**kwargs)
        values = self._merge_partial_and_user_variables(**kwargs)
        if not self._required.issubset(values.keys()):
            raise missing_variables_error(
                self.get_name(),
                self._required.difference(values),
                self.input_variables,
                list(kwargs),
            )
        out: list[BaseMessage] = []
        for entry in self.messages:
            if isinstance(entry, BaseMessage):
                out.append(entry)
            elif getattr(entry, "_async_formatting", False):
                out.extend(await entry.aformat_messages(**values))  # type: ignore[union-attr]
            else:
                out.extend(entry.format_messages(**values))  # type: ignore[union-attr]
        return out

    async def _ainvoke(self, input: Any, ctx: Context) -> ChatPromptValue:
        values = self._validate_input(input)
        # A sync call driven without a loop uses the sync selector, as langchain-core.
        if self._async_formatting and not ctx.sync:
            return ChatPromptValue(await self.aformat_messages(**values))
        return self.format_prompt(**values)

    def format_prompt(self, **kwargs: Any) -> ChatPromptValue:
        """Format into a :class:`ChatPromptValue`."""
        return ChatPromptValue(self.format_messages(**kwargs))

    def format(self, **kwargs: Any) -> str:
        """Format into a transcript string (``"System: ...\\nHuman: ..."``)."""
        return get_buffer_string(self.format_messages(**kwargs))

    # ------------------------------------------------------------------ editing

    def __add__(self, other: Any) -> ChatPromptTemplate:
        """Concatenate with another chat prompt, a message, a template or a list of those."""
        partials = dict(self.partial_variables)
        if isinstance(other, ChatPromptTemplate):
            partials.update(other.partial_variables)
            extra: list[Any] = list(other.messages)
        elif isinstance(other, (list, tuple)) and not (
            isinstance(other, tuple) and len(other) == 2 and isinstance(other[0], str)
        ):
            extra = list(other)
        else:
            extra = [other]
        return ChatPromptTemplate([*self.messages, *extra], partial_variables=partials)

    def append(self, message: MessageLikeRepresentation) -> None:
        """Add an entry at the end (in place)."""
        self._reset([*self.messages, message])

    def extend(self, messages: Sequence[MessageLikeRepresentation]) -> None:
        """Add entries at the end (in place)."""
        self._reset([*self.messages, *messages])

    def _reset(self, messages: Sequence[Any]) -> None:
        self.messages = list(messages)  # rebuilt: see _rebuild_on_set

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            partials = self.partial_variables
            return ChatPromptTemplate(self.messages[index], partial_variables=partials)
        return self.messages[index]

    def __len__(self) -> int:
        return len(self.messages)

    def pretty_repr(self, html: bool = False) -> str:
        """Each entry's ``pretty_repr``, separated by blank lines (langchain-core's format)."""
        parts = []
        for entry in self.messages:
            pretty = getattr(entry, "pretty_repr", None)
            parts.append(pretty(html=html) if pretty is not None else repr(entry))
        return "\n\n".join(parts)

    def pretty_print(self) -> None:
        """Print :meth:`pretty_repr`."""
        import sys

        print(self.pretty_repr(html=hasattr(sys, "ps2")))

    def __repr__(self) -> str:
        return f"ChatPromptTemplate(messages={self.messages!r})"
