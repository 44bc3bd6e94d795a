"""The exceptions numpool raises for bad arguments.

Every check happens in Python before a compiled kernel runs, so a user sees one of these
and never a Numba typing error or an IndexError.  Both subclass the built-in exception a
caller would expect, so ``except ValueError`` keeps working.
"""


class NumpoolError(Exception):
    """Base class of every error numpool raises on purpose."""


class ParameterError(NumpoolError, ValueError):
    """An argument has the right type but a value numpool cannot accept."""


class DTypeError(NumpoolError, TypeError):
    """An array has a dtype, or an argument a type, that the operation does not support."""
