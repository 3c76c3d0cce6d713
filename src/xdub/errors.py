"""Typed user-facing errors. The CLI prints `error: <message>` and exits with `exit_code`.

Library code raises these for bad input it can explain in one line; anything else is a bug.
Imports: stdlib only.
"""


class XdubError(Exception):
    """Base class: a one-line, user-facing problem."""

    exit_code = 2


class ConfigError(XdubError):
    """A config file or option is invalid."""


class MediaError(XdubError):
    """An input media file is missing, unreadable, corrupt, or lacks a needed stream."""


class OutputError(XdubError):
    """The output cannot be written where asked (missing/read-only folder, same as an input)."""

    exit_code = 3


class NoFaceError(XdubError):
    """No usable face was found where one is required."""

    exit_code = 4


class WeightsError(XdubError):
    """A pretrained weight file is missing or does not match the expected model."""

    exit_code = 5


class BatchError(XdubError):
    """Some jobs of a batch failed (each one is reported in the batch's status table)."""

    exit_code = 6
