"""Prompt templates: ``PromptTemplate``, ``ChatPromptTemplate``, ``MessagesPlaceholder``."""

from runnables.prompts.base import BasePromptTemplate
from runnables.prompts.chat import (
    AIMessagePromptTemplate,
    BaseMessagePromptTemplate,
    BaseStringMessagePromptTemplate,
    ChatMessagePromptTemplate,
    ChatPromptTemplate,
    HumanMessagePromptTemplate,
    MessagesPlaceholder,
    SystemMessagePromptTemplate,
)
from runnables.prompts.formatting import (
    InvalidPromptTemplateError,
    PromptInputError,
    PromptTemplateFormat,
    get_template_variables,
)
from runnables.prompts.string import PromptTemplate, StringPromptTemplate
from runnables.prompts.value import ChatPromptValue, PromptValue, StringPromptValue

__all__ = [
    "AIMessagePromptTemplate",
    "BaseMessagePromptTemplate",
    "BasePromptTemplate",
    "BaseStringMessagePromptTemplate",
    "ChatMessagePromptTemplate",
    "ChatPromptTemplate",
    "ChatPromptValue",
    "HumanMessagePromptTemplate",
    "InvalidPromptTemplateError",
    "MessagesPlaceholder",
    "PromptInputError",
    "PromptTemplate",
    "PromptTemplateFormat",
    "PromptValue",
    "StringPromptTemplate",
    "StringPromptValue",
    "SystemMessagePromptTemplate",
    "get_template_variables",
]
