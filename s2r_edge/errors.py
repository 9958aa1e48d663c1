"""The one exception type the SDK raises for bad input, so callers and the CLI can catch it."""


class S2RError(Exception):
    """A problem with the caller's input (audio, model, index, docs): the message says what and what to do."""
