"""runnables: async-first composable steps for LLM applications.

The API is langchain-core's (``RunnableLambda``, ``|``, ``invoke``/``ainvoke``,
``batch``/``abatch``, ``stream``/``astream``...), so code moves over by changing the
import line; the async path is the real implementation.
"""

from runnables.core.base import Runnable, coerce_to_runnable
from runnables.core.binding import RunnableBinding
from runnables.core.config import (
    RunnableConfig,
    ensure_config,
    get_config,
    merge_configs,
    patch_config,
)
from runnables.core.function import RunnableGenerator, RunnableLambda, chain
from runnables.core.offload import OffloadPolicy, get_offload_policy, set_offload_policy
from runnables.core.parallel import RunnableMap, RunnableParallel
from runnables.core.passthrough import RunnableAssign, RunnablePassthrough, RunnablePick
from runnables.core.sequence import RunnableSequence
from runnables.core.tracing import Run
from runnables.errors import (
    BlockingCallWarning,
    BlockingStepWarning,
    ConfigError,
    InvalidRunnableError,
    MissingExtraError,
    RecursionLimitError,
    RunnablesError,
    StepTimeoutError,
    UserError,
)

__version__ = "0.1.0"

__all__ = [
    "BlockingCallWarning",
    "BlockingStepWarning",
    "ConfigError",
    "InvalidRunnableError",
    "MissingExtraError",
    "OffloadPolicy",
    "RecursionLimitError",
    "Run",
    "Runnable",
    "RunnableAssign",
    "RunnableBinding",
    "RunnableConfig",
    "RunnableGenerator",
    "RunnableLambda",
    "RunnableMap",
    "RunnableParallel",
    "RunnablePassthrough",
    "RunnablePick",
    "RunnableSequence",
    "RunnablesError",
    "StepTimeoutError",
    "UserError",
    "chain",
    "coerce_to_runnable",
    "ensure_config",
    "get_config",
    "get_offload_policy",
    "merge_configs",
    "patch_config",
    "set_offload_policy",
]
