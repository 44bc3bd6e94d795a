"""The commands of the ``numpool`` command line, one module each (see :mod:`numpool.cli`)."""

from . import demo, examples, explain, train

MODULES = (demo, examples, explain, train)
