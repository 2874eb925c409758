"""``python -m runnables.cli``: the same as the ``runnables`` command."""

from runnables.cli.main import main

raise SystemExit(main())
