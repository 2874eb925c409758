"""The ``runnables`` command line: ``serve``, ``run`` and ``graph`` (see :mod:`.main`)."""
