"""``load_prompt``: a prompt from a JSON or YAML file, in langchain-core's format.

The file holds a config with ``_type`` ``"prompt"`` (the default), ``"few_shot"`` or
``"chat"``; a ``template_path``/``prefix_path``/``suffix_path`` names a ``.txt`` file
with the text, ``examples`` may name a JSON or YAML file, and ``example_prompt_path`` a
prompt file. Paths inside the config must be relative and stay below the current
directory unless ``allow_dangerous_paths=True`` (the file may come from elsewhere).
jinja2 templates are refused in files, as langchain-core refuses them.
YAML needs the ``yaml`` extra.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runnables.errors import (
    InvalidArgumentError,
    InvalidInputError,
    MissingExtraError,
    UnsupportedError,
)
from runnables.prompts.base import BasePromptTemplate
from runnables.prompts.chat import ChatPromptTemplate
from runnables.prompts.few_shot import FewShotPromptTemplate
from runnables.prompts.string import PromptTemplate

__all__ = ["load_prompt", "load_prompt_from_config"]


def _read_config(path: Path, encoding: str | None) -> Any:
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding=encoding))
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError:
            raise MissingExtraError("Loading a YAML prompt file", "yaml", "pyyaml") from None
        return yaml.safe_load(path.read_text(encoding=encoding))
    raise InvalidInputError(
        f"Got unsupported file type {path.suffix!r} for the prompt file {str(path)!r}; "
        "use a .json, .yaml or .yml file."
    )


def _check_path(path: Path, allow_dangerous_paths: bool) -> None:
    if allow_dangerous_paths:
        return
    if path.is_absolute():
        raise InvalidArgumentError(
            f"Path '{path}' is absolute. Absolute paths are not allowed in a prompt file "
            "(it may come from an untrusted source); use a relative path, or pass "
            "allow_dangerous_paths=True if you trust the file."
        )
    if ".." in path.parts:
        raise InvalidArgumentError(
            f"Path '{path}' contains '..' components, which are not allowed in a prompt "
            "file; use a direct relative path, or pass allow_dangerous_paths=True if you "
            "trust the file."
        )


def _load_template(name: str, config: dict[str, Any], allow_dangerous_paths: bool) -> None:
    key = f"{name}_path"
    if key not in config:
        return
    if name in config:
        raise InvalidInputError(f"Both `{key}` and `{name}` cannot be provided; keep one of them.")
    path = Path(config.pop(key))
    _check_path(path, allow_dangerous_paths)
    resolved = path.resolve()
    if resolved.suffix != ".txt":
        raise InvalidInputError(
            f"Unsupported template file format: '{resolved.suffix}'. Only '.txt' files are "
            f"supported (got {str(path)!r})."
        )
    config[name] = resolved.read_text(encoding="utf-8")


def _drop_output_parser(config: dict[str, Any]) -> None:
    parser = config.pop("output_parser", None)
    if parser and parser.get("_type", "default") != "default":
        raise InvalidInputError(
            f"Unsupported output parser {parser.get('_type')!r} in a prompt file; only the "
            "default (string) parser is supported. Add the parser to your chain instead."
        )


def _load_plain(config: dict[str, Any], allow_dangerous_paths: bool) -> PromptTemplate:
    _load_template("template", config, allow_dangerous_paths)
    _drop_output_parser(config)
    if config.get("template_format", "f-string") == "jinja2":
        raise InvalidInputError(
            "Loading templates with 'jinja2' format is no longer supported since it can "
            "lead to arbitrary code execution. Please migrate to using the 'f-string' "
            "template format, which does not suffer from this issue."
        )
    template = config.pop("template")
    return PromptTemplate(template, **config)


def _load_few_shot(config: dict[str, Any], allow_dangerous_paths: bool) -> FewShotPromptTemplate:
    _load_template("suffix", config, allow_dangerous_paths)
    _load_template("prefix", config, allow_dangerous_paths)
    if "example_prompt_path" in config:
        if "example_prompt" in config:
            raise InvalidInputError(
                "Only one of example_prompt and example_prompt_path should be specified."
            )
        path = Path(config.pop("example_prompt_path"))
        _check_path(path, allow_dangerous_paths)
        example_prompt = load_prompt(path, allow_dangerous_paths=allow_dangerous_paths)
    else:
        example_prompt = load_prompt_from_config(
            config.pop("example_prompt"), allow_dangerous_paths=allow_dangerous_paths
        )
    examples = config.get("examples")
    if isinstance(examples, str):
        path = Path(examples)
        _check_path(path, allow_dangerous_paths)
        if path.suffix not in (".json", ".yaml", ".yml"):
            raise InvalidInputError(
                f"Invalid file format for examples {examples!r}. Only json or yaml formats "
                "are supported."
            )
        config["examples"] = _read_config(path, "utf-8")
    elif not isinstance(examples, list):
        raise InvalidInputError(
            f"Invalid examples format {examples!r}. Only a list or a file path are supported."
        )
    _drop_output_parser(config)
    if not isinstance(example_prompt, PromptTemplate):
        raise InvalidInputError(
            f"The example prompt of a few-shot prompt file must be a plain prompt, got "
            f"{example_prompt!r}."
        )
    return FewShotPromptTemplate(example_prompt=example_prompt, **config)


def _load_chat(config: dict[str, Any], allow_dangerous_paths: bool) -> ChatPromptTemplate:
    messages = config.pop("messages")
    template = messages[0]["prompt"].pop("template") if messages else None
    if not template:
        raise InvalidInputError(
            "Can't load chat prompt without template: the file has no messages."
        )
    template_format = config.get("template_format", "f-string")
    return ChatPromptTemplate.from_template(template, template_format=template_format)


_LOADERS: dict[str, Callable[[dict[str, Any], bool], BasePromptTemplate]] = {
    "prompt": _load_plain,
    "few_shot": _load_few_shot,
    "chat": _load_chat,
}


def load_prompt_from_config(
    config: dict[str, Any], *, allow_dangerous_paths: bool = False
) -> BasePromptTemplate:
    """A prompt from a config dict (the contents of a prompt file)."""
    config = dict(config)
    kind = config.pop("_type", "prompt")
    loader = _LOADERS.get(kind)
    if loader is None:
        raise InvalidInputError(
            f"Loading {kind} prompt not supported; a prompt file's _type must be one of "
            f"{sorted(_LOADERS)}."
        )
    return loader(config, allow_dangerous_paths)


def load_prompt(
    path: str | Path, encoding: str | None = None, *, allow_dangerous_paths: bool = False
) -> BasePromptTemplate:
    """Load a prompt from a JSON or YAML file (see the module docstring for the format).

    >>> load_prompt("prompts/joke.json")  # doctest: +SKIP
    PromptTemplate(template='Tell me a joke about {topic}', input_variables=['topic'])
    """
    if isinstance(path, str) and path.startswith("lc://"):
        raise UnsupportedError(
            "Loading from the deprecated github-based Hub is no longer supported. Download "
            "the prompt file and load it from disk."
        )
    config = _read_config(Path(path), encoding)
    if not isinstance(config, dict):
        raise InvalidInputError(
            f"The prompt file {str(path)!r} must hold a mapping, got {config!r}."
        )
    return load_prompt_from_config(config, allow_dangerous_paths=allow_dangerous_paths)
