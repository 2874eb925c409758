"""``PromptTemplate``: a prompt that is one string with ``{variables}``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runnables.errors import UnsupportedError
from runnables.prompts.base import BasePromptTemplate
from runnables.prompts.formatting import (
    InvalidPromptTemplateError,
    PromptTemplateFormat,
    check_format,
    check_valid_template,
    formatter_for,
    get_template_variables,
    jinja2_undefined_name,
    missing_variables_error,
)
from runnables.prompts.value import StringPromptValue

if TYPE_CHECKING:
    from pydantic import BaseModel

    from runnables.core.config import RunnableConfig

__all__ = ["PromptTemplate", "StringPromptTemplate"]


class StringPromptTemplate(BasePromptTemplate):
    """A template whose ``format`` returns a string; as a step it returns a prompt value."""

    def format(self, **kwargs: Any) -> str:
        """Format into a string."""
        raise UnsupportedError(f"{type(self).__name__} must implement format().")

    def format_prompt(self, **kwargs: Any) -> StringPromptValue:
        """Format into a :class:`StringPromptValue`."""
        return StringPromptValue(self.format(**kwargs))

    def pretty_repr(self, html: bool = False) -> str:
        """The template with each input variable shown as ``{name}`` (yellow if ``html``)."""
        shown = {v: "{" + v + "}" for v in self.input_variables}
        if html:
            shown = {k: f"\u001b[33;1m\033[1;3m{v}\u001b[0m" for k, v in shown.items()}
        return str(self.format(**shown))

    def pretty_print(self) -> None:
        """Print :meth:`pretty_repr`."""
        import sys

        print(self.pretty_repr(html=hasattr(sys, "ps2")))


class PromptTemplate(StringPromptTemplate):
    """A string prompt with variables: ``"Tell me a joke about {topic}"``.

    >>> prompt = PromptTemplate.from_template("Tell me a joke about {topic}")
    >>> prompt.invoke({"topic": "cats"}).to_string()
    'Tell me a joke about cats'

    ``template_format="jinja2"`` uses jinja2 syntax (``{{ topic }}``), rendered in
    jinja2's immutable sandbox (needs the ``jinja2`` extra); a variable the template uses
    but the input lacks is an error there too, never empty text. The default f-string format refuses
    attribute access and indexing in fields (``{user.name}``), so a template cannot reach
    into the values' internals.
    """

    template: str
    """The template text."""
    template_format: PromptTemplateFormat = "f-string"
    """``"f-string"`` (the default), ``"mustache"`` or ``"jinja2"``."""
    validate_template: bool = False
    """Whether the given input_variables were checked against the template."""

    _rebuild_on_set: ClassVar[frozenset[str]] = frozenset(
        {"template", "template_format", "partial_variables"}
    )
    if TYPE_CHECKING:  # set at construction, beside the fields (not pydantic's)
        _render: Callable[[Mapping[str, Any]], str]
        _fmt: Callable[[dict[str, Any]], str]  # partials merged in, then rendered
        _variables: list[str]

    def __init__(
        self,
        template: str,
        input_variables: list[str] | None = None,
        *,
        partial_variables: Mapping[str, Any] | None = None,
        template_format: PromptTemplateFormat = "f-string",
        validate_template: bool = False,
        optional_variables: list[str] | None = None,
        input_types: Mapping[str, Any] | None = None,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        _check_template(template)
        check_format(template_format)
        partials = dict(partial_variables or {})
        if validate_template:
            _validate(template, template_format, input_variables, partials)
        variables = get_template_variables(template, template_format)
        # As in langchain-core, the input variables are always the template's own (less
        # the partial ones): given ones are only checked, with validate_template.
        super().__init__(
            template=template,
            template_format=template_format,
            validate_template=validate_template,
            input_variables=[v for v in variables if v not in partials],
            optional_variables=optional_variables or [],
            partial_variables=partials,
            input_types=input_types or {},
            name=name,
            metadata=metadata,
            tags=tags,
        )

    def _compile(self) -> None:
        # The template is compiled once, at construction, not at each format; setting
        # it again (directly, through model_copy(update=...) or per call through
        # configurable_fields) rebuilds the prompt, so the change takes effect.
        render = formatter_for(self.template, self.template_format)
        object.__setattr__(
            self, "_variables", get_template_variables(self.template, self.template_format)
        )
        object.__setattr__(self, "_render", render)
        object.__setattr__(self, "_fmt", _formatter(render, self.partial_variables))

    @property
    def _prompt_type(self) -> str:
        return "prompt"

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """As :meth:`BasePromptTemplate.get_input_schema`; for a mustache template, the
        shape its sections and dotted names give (every name optional), as in
        langchain-core."""
        if self.template_format != "mustache":
            return super().get_input_schema(config)
        from runnables.prompts.mustache import mustache_schema

        schema: type[BaseModel] = mustache_schema(self.template)
        return schema

    @classmethod
    def from_template(
        cls,
        template: str,
        *,
        template_format: PromptTemplateFormat = "f-string",
        partial_variables: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> PromptTemplate:
        """A template whose input variables are the ones the template uses."""
        return cls(
            template,
            partial_variables=partial_variables,
            template_format=template_format,
            name=name,
        )

    @classmethod
    def from_examples(
        cls,
        examples: list[str],
        suffix: str,
        input_variables: list[str],
        example_separator: str = "\n\n",
        prefix: str = "",
        *,
        template_format: PromptTemplateFormat = "f-string",
        partial_variables: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> PromptTemplate:
        """A template of ``prefix``, the examples (already formatted strings), then
        ``suffix``, joined by ``example_separator`` (langchain-core's ``from_examples``).

        >>> prompt = PromptTemplate.from_examples(["2+2=4"], "{q}=", ["q"], prefix="Sums:")
        >>> prompt.format(q="3+3").splitlines()
        ['Sums:', '', '2+2=4', '', '3+3=']
        """
        template = example_separator.join([prefix, *examples, suffix])
        return cls(
            template,
            input_variables,
            template_format=template_format,
            partial_variables=partial_variables,
            name=name,
        )

    @classmethod
    def from_file(
        cls,
        template_file: str | Path,
        encoding: str | None = None,
        *,
        template_format: PromptTemplateFormat = "f-string",
        partial_variables: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> PromptTemplate:
        """A template read from a text file (its variables are the ones it uses)."""
        template = Path(template_file).read_text(encoding=encoding)
        return cls.from_template(
            template,
            template_format=template_format,
            partial_variables=partial_variables,
            name=name,
        )

    def format(self, **kwargs: Any) -> str:
        """Format into a string.

        >>> PromptTemplate.from_template("{a} and {b}").format(a=1, b=2)
        '1 and 2'
        """
        # As in langchain-core, format does not check input_variables (invoke does):
        # rendering finds a variable the template really needs and the values lack.
        try:
            return self._fmt(kwargs)
        except KeyError as exc:  # an f-string variable not declared in input_variables
            missing = exc.args[0] if exc.args else "?"
            if missing in self.partial_variables or missing in kwargs:
                raise
            raise missing_variables_error(
                self.get_name(), [missing], self._variables, list(kwargs)
            ) from None
        except Exception as exc:
            if self.template_format != "jinja2":
                raise
            name = jinja2_undefined_name(exc)
            if name is None:
                raise  # the sandbox's SecurityError, an undefined attribute...
            raise missing_variables_error(
                self.get_name(), [name], self._variables, list(kwargs)
            ) from None

    def __add__(self, other: Any) -> PromptTemplate:
        """Concatenate two templates (or a template and a string) of the same format."""
        if isinstance(other, str):
            other = PromptTemplate(other, template_format=self.template_format)
        if not isinstance(other, PromptTemplate):
            return NotImplemented
        if other.template_format != self.template_format:
            raise InvalidPromptTemplateError(
                f"Cannot add templates of different formats: a {other.template_format} "
                f"template to a {self.template_format} template; use one format for both."
            )
        overlap = set(self.partial_variables) & set(other.partial_variables)
        if overlap:
            raise InvalidPromptTemplateError(
                f"Both templates fill in the partial variable(s) {sorted(overlap)}; fill them "
                "in once, after adding the templates."
            )
        return PromptTemplate(
            self.template + other.template,
            partial_variables={**self.partial_variables, **other.partial_variables},
            template_format=self.template_format,
        )

    def __repr__(self) -> str:
        return (
            f"PromptTemplate(template={self.template!r}, input_variables={self.input_variables!r})"
        )


def _formatter(
    render: Callable[[Mapping[str, Any]], str], partials: dict[str, Any]
) -> Callable[[dict[str, Any]], str]:
    """``render`` with the partial variables merged under the given ones: built once per
    prompt, so formatting reads one attribute of the (pydantic) prompt, not several."""
    if not partials:
        return render
    if not any(callable(v) for v in partials.values()):
        return lambda values: render({**partials, **values})
    return lambda values: render(
        {**{k: v() if callable(v) else v for k, v in partials.items()}, **values}
    )


def _validate(
    template: str,
    template_format: PromptTemplateFormat,
    input_variables: list[str] | None,
    partial_variables: Mapping[str, Any],
) -> None:
    """``validate_template=True``: the declared variables against the template, with
    langchain-core's rules (f-string: an error; jinja2: a warning; mustache: refused)."""
    if template_format == "mustache":
        raise InvalidPromptTemplateError(
            "Mustache templates cannot be validated. Leave validate_template out for a "
            "mustache template (its variables are read from the template)."
        )
    if input_variables is None:
        raise InvalidPromptTemplateError(
            "Input variables must be provided to validate the template. Pass "
            "input_variables=[...] with validate_template=True, or leave both out."
        )
    check_valid_template(template, template_format, [*input_variables, *partial_variables])


def _check_template(template: Any) -> None:
    if not isinstance(template, str):
        raise InvalidPromptTemplateError(
            f"PromptTemplate needs the template as a string, got {template!r} (a "
            f"{type(template).__name__})."
        )
