"""Model providers: clients for model servers, built on :class:`~runnables.models.BaseChatModel`.

Each provider is a subpackage (``runnables.providers.openai``). Importing a provider
does not import its HTTP library; creating one of its models does.
"""
