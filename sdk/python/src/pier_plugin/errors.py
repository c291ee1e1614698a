"""The two ways a request is refused before it runs, raised from a tool, prompt or resource.

Anything else a function raises is a failure while running: a tool answers with an `is-error`
result the model can read (the traceback goes to pier's log), a prompt or resource with an
internal error.
"""


class PierError(Exception):
    """Base of the refusals the SDK turns into the contract's `error` cases."""


class NotFound(PierError):
    """No such tool, prompt or resource (an unknown name or URI)."""


class InvalidParams(PierError):
    """The arguments do not fit the schema; the message says which one and why."""
