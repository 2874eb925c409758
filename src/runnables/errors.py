"""Errors raised by runnables.

Every error the library raises on its own account derives from :class:`RunnablesError`,
so ``except RunnablesError`` catches the library's errors and never a user's. Errors
raised by a user's function are *not* wrapped: they reach the caller unchanged, with a
note (``BaseException.add_note``) naming the step where they happened.

The hierarchy::

    Exception
    ├── RunnablesError
    │   ├── UserError                      a developer mistake: fix the code, not the input
    │   │   ├── InvalidRunnableError       something that cannot be made into a step
    │   │   ├── MissingExtraError          an optional extra is not installed (ImportError too)
    │   │   ├── ConfigError                a bad config key or value
    │   │   └── ResumeRefusedError         a batch job's input, chain or options changed
    │   ├── InvalidInputError              an input a step cannot use (ValueError too)
    │   ├── RecursionLimitError            a step returned runnables nested too deeply
    └── TimeoutError (builtin)
        └── StepTimeoutError               a deadline ran out; names the step that was running

Warnings::

    RuntimeWarning
    ├── BlockingStepWarning     a sync step blocked the event loop; it now runs on a thread
    └── BlockingCallWarning     a sync call (invoke/batch/stream) blocked a running loop

    UserWarning
    └── ConfigWarning           an unknown config key looks like a misspelt known one
"""

from __future__ import annotations

__all__ = [
    "BlockingCallWarning",
    "BlockingStepWarning",
    "ConfigError",
    "ConfigWarning",
    "InvalidInputError",
    "InvalidRunnableError",
    "LangChainDeprecationWarning",
    "MissingExtraError",
    "ResumeRefusedError",
    "RecursionLimitError",
    "RunnablesError",
    "StepTimeoutError",
    "UserError",
]


class RunnablesError(Exception):
    """Base class of every error that runnables raises on its own account."""


class UserError(RunnablesError):
    """A mistake in how the library is used: the message says what to change."""


class InvalidRunnableError(UserError, TypeError):
    """A value cannot be turned into a runnable step (for example ``chain | 42``)."""


class ConfigError(UserError, ValueError):
    """A config key or value is not valid."""


class ResumeRefusedError(UserError):
    """A batch job cannot resume its output: the input file, the chain or an option that
    shapes the records changed since it started. Start over with ``--restart``.
    """


class InvalidInputError(RunnablesError, ValueError):
    """An input a step cannot use: a router key it does not know, a list step given a
    non-list, a dict step given something else. Fix the input (or the step before it).
    """


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


class StepTimeoutError(TimeoutError):
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
