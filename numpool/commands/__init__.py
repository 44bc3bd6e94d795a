"""The commands of the ``numpool`` command line, one module each (see :mod:`numpool.cli`)."""

from . import examples

MODULES = (examples,)
