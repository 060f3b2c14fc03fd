"""The one exception type users see: a clear message naming the file or key at fault."""


class SciimgError(Exception):
    """Bad input, bad config or a missing file; the CLI prints the message without a traceback."""


class ConfigError(SciimgError, ValueError):
    """The configuration does not match the schema or its cross-field rules."""


class InputError(SciimgError, ValueError):
    """An input file is missing, corrupt, or holds data of the wrong shape, type or values."""
