"""The two error families of tersify.

Every error the library raises on purpose derives from :class:`TersifyError`, so callers can
catch one type. Bad input is an :class:`InvalidRequestError` (also a ``ValueError``); a missing
optional package is a :class:`MissingDependencyError` (also an ``ImportError``) that names the
extra to install.
"""

from __future__ import annotations

__all__ = ["InvalidRequestError", "MissingDependencyError", "TersifyError"]


class TersifyError(Exception):
    """Base class of every error raised by tersify."""


class InvalidRequestError(TersifyError, ValueError):
    """The request cannot be served as given: a bad field, range or combination."""


class MissingDependencyError(TersifyError, ImportError):
    """An optional dependency is not installed.

    Args:
        package: The importable module that is missing.
        extra: The ``tersify`` extra that installs it.
    """

    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{package!r} is required for this feature; install it with "
            f"pip install 'tersify[{extra}]'"
        )
