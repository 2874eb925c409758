"""Prompt templates: ``PromptTemplate``, ``ChatPromptTemplate``, ``MessagesPlaceholder``,
few-shot prompts, and ``load_prompt`` for prompt files."""

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
from runnables.prompts.few_shot import FewShotChatMessagePromptTemplate, FewShotPromptTemplate
from runnables.prompts.formatting import (
    InvalidPromptTemplateError,
    PromptInputError,
    PromptTemplateFormat,
    check_valid_template,
    get_template_variables,
)
from runnables.prompts.loading import load_prompt, load_prompt_from_config
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
    "FewShotChatMessagePromptTemplate",
    "FewShotPromptTemplate",
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
    "check_valid_template",
    "get_template_variables",
    "load_prompt",
    "load_prompt_from_config",
]
