"""The engine: runnables, their composition, and how a call runs."""
