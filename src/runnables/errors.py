"""Errors raised by runnables.

Every error the library raises on its own account derives from :class:`RunnablesError`,
so ``except RunnablesError`` catches the library's errors and never a user's. Errors
raised by a user's function are *not* wrapped: they reach the caller unchanged, with a
note (``BaseException.add_note``) naming the step where they happened.

The hierarchy (each class is also the builtin in brackets, the one langchain-core raises
at that place, so ``except ValueError`` written for langchain-core still catches it)::

    Exception
    ├── RunnablesError
    │   ├── UserError                      a developer mistake: fix the code, not the input
    │   │   ├── InvalidArgumentError       [ValueError] a bad argument to a constructor or method
    │   │   │   ├── ConfigError            a bad config key or value
    │   │   │   │   └── providers.openai.MissingCredentialsError
    │   │   │   └── prompts.InvalidPromptTemplateError
    │   │   │       └── prompts.mustache.MustacheSyntaxError
    │   │   ├── ArgumentTypeError          [TypeError] an argument of a type the API does not take
    │   │   │   ├── InvalidRunnableError   something that cannot be made into a step
    │   │   │   └── tools.SchemaAnnotationError
    │   │   ├── UnsupportedError           [NotImplementedError] not implemented by this object
    │   │   ├── MissingExtraError          [ImportError] an optional extra is not installed
    │   │   ├── MissingFileError           [FileNotFoundError] a file the library was pointed at
    │   │   ├── ResumeRefusedError         a batch job's input, chain or options changed
    │   │   └── cli.CLIError               a command-line usage mistake (exit status 2)
    │   ├── InvalidInputError              [ValueError] a run-time value a step cannot use
    │   │   └── core.branch.BranchShapeError, models.base._ModelInputError
    │   ├── InputTypeError                 [TypeError] a run-time value of a type it cannot use
    │   ├── InputKeyError                  [KeyError] a mapping lacks the key a step reads
    │   │   └── prompts.PromptInputError   a prompt variable is missing (PromptInputTypeError)
    │   ├── StateError                     [RuntimeError] used when closed, shut down or not ready
    │   ├── EngineError                    [RuntimeError] the local model's llama.cpp failed
    │   ├── StepTimeoutError               [TimeoutError] a deadline ran out; names the step
    │   ├── RecursionLimitError            [RecursionError] runnables nested too deeply
    │   ├── output_parsers.OutputParserException   [ValueError] as in langchain-core
    │   ├── models.StructuredOutputError   [ValueError] the model's answer is not that structure
    │   ├── providers.openai.APIError      the OpenAI SDK's names (RateLimitError, ...)
    │   ├── serve.RemoteRunnableError      [httpx.HTTPStatusError] the server answered an error
    │   ├── serve: RequestError, ClientDisconnectedError, ReplayGoneError (answered as HTTP errors)
    │   ├── batch.ray_engine.RayJobError   [RuntimeError] a Ray job failed
    │   └── models.fake.FakeListChatModelError   the fake model's scripted failure
    └── tools.ToolException                NOT a RunnablesError: a user's tool raises it
        batch.ray_engine.RemoteRowError    NOT a RunnablesError: a user's row error, sent back

Python's own protocols stay builtins: ``StopIteration``, ``GeneratorExit``, ``SystemExit``
and ``AttributeError`` from a ``__getattr__``; ``tests/test_errors.py`` checks the rest.

Warnings::

    RuntimeWarning
    ├── BlockingStepWarning     a sync step blocked the event loop; it now runs on a thread
    └── BlockingCallWarning     a sync call (invoke/batch/stream) blocked a running loop

    UserWarning
    └── ConfigWarning           an unknown config key looks like a misspelt known one

    DeprecationWarning
    └── LangChainDeprecationWarning   an API langchain-core itself deprecated
"""

from __future__ import annotations

__all__ = [
    "ArgumentTypeError",
    "BlockingCallWarning",
    "BlockingStepWarning",
    "ConfigError",
    "ConfigWarning",
    "EngineError",
    "InputKeyError",
    "InputTypeError",
    "InvalidArgumentError",
    "InvalidInputError",
    "InvalidRunnableError",
    "LangChainDeprecationWarning",
    "MissingExtraError",
    "MissingFileError",
    "ResumeRefusedError",
    "RecursionLimitError",
    "RunnablesError",
    "StateError",
    "StepTimeoutError",
    "UnsupportedError",
    "UserError",
]


class RunnablesError(Exception):
    """Base class of every error that runnables raises on its own account."""


class UserError(RunnablesError):
    """A mistake in how the library is used: the message says what to change."""


class InvalidArgumentError(UserError, ValueError):
    """An argument a constructor or method cannot use: an unknown option, a number out of
    range, two arguments that exclude each other. The message names the value and the fix.
    """


class ArgumentTypeError(UserError, TypeError):
    """An argument of a type the constructor or method does not take."""


class InvalidRunnableError(ArgumentTypeError):
    """A value cannot be turned into a runnable step (for example ``chain | 42``)."""


class ConfigError(InvalidArgumentError):
    """A config key or value is not valid."""


class UnsupportedError(UserError, NotImplementedError):
    """The object does not implement this operation: an abstract method its class must
    override, or an option this implementation does not offer. (A ``NotImplementedError``,
    hence also a ``RuntimeError``, as langchain-core raises in these places.)
    """


class MissingFileError(UserError, FileNotFoundError):
    """A file the library was pointed at (a model file, a prompt file) does not exist."""


class ResumeRefusedError(UserError):
    """A batch job cannot resume its output: the input file, the chain or an option that
    shapes the records changed since it started. Start over with ``--restart``.
    """


class InvalidInputError(RunnablesError, ValueError):
    """An input a step cannot use: a router key it does not know, a list step given a
    non-list, a dict step given something else. Fix the input (or the step before it).
    """


class InputTypeError(RunnablesError, TypeError):
    """A value given at run time has a type the step cannot use (a message that is not a
    message, a chunk that does not add to the one before it). Fix the value or the step
    before it.
    """


class InputKeyError(RunnablesError, KeyError):
    """A mapping given at run time lacks a key the step reads.

    ``str()`` is the message itself (a plain ``KeyError`` would show its repr).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class StateError(RunnablesError, RuntimeError):
    """An object was used in a state that cannot serve the call: closed, shut down, or not
    started. The message says which state and what to do instead.
    """


class EngineError(RunnablesError, RuntimeError):
    """A native engine (the local model's llama.cpp) reported a failure."""


class MissingExtraError(UserError, ImportError):
    """An optional part of the library needs an extra that is not installed."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the optional dependency {module!r}, which is not installed. "
            f"Install it with: pip install 'runnables[{extra}]'"
        )
        self.extra = extra
        self.module = module


class RecursionLimitError(RunnablesError, RecursionError):
    """A function kept returning runnables beyond ``recursion_limit``."""


class StepTimeoutError(RunnablesError, TimeoutError):
    """The call's deadline ran out.

    It is a :class:`TimeoutError`, so ``except TimeoutError`` catches it.
    ``step`` names the step that was running when time ran out (the innermost one);
    ``timeout`` is the budget in seconds that ran out.
    """

    def __init__(self, timeout: float, step: str | None, running: tuple[str, ...] = ()) -> None:
        where = f" while step {step!r} was running" if step else ""
        also = ""
        if len(running) > 1:
            also = f" (also running: {', '.join(repr(r) for r in running if r != step)})"
        super().__init__(
            f"The call timed out after {timeout:g} s{where}{also}. Raise the timeout "
            "(with_timeout(seconds) or config['timeout']) or make that step faster."
        )
        self.timeout = timeout
        self.step = step
        self.running = running


class LangChainDeprecationWarning(DeprecationWarning):
    """A langchain-core API that langchain-core itself deprecated (kept for old code)."""


class BlockingStepWarning(RuntimeWarning):
    """A sync function blocked the event loop; later calls of it run on a worker thread."""


class BlockingCallWarning(RuntimeWarning):
    """``invoke``/``batch``/``stream`` was called from a coroutine and blocked its event loop."""


class ConfigWarning(UserWarning):
    """An unknown config key looks like a misspelling of a known one (``"max_concurency"``).

    Unknown keys are configurable values, as in langchain-core, so the key is moved into
    ``config["configurable"]`` and the option that was probably meant does not apply.
    """
