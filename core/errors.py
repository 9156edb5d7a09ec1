"""Errors a person can act on: each one names the file, line or field at fault."""

from __future__ import annotations


class TrellisError(Exception):
    """Base class; ``str()`` is the one-line message shown to people."""


class InputError(TrellisError):
    """A trace file that cannot be imported as it is."""

    def __init__(self, source: str, message: str, line: int | None = None):
        self.source = source
        self.line = line
        self.message = message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


class TreeError(TrellisError):
    """Nodes that do not form one tree (missing parent, cycle, duplicate id, several roots)."""


class StoreError(TrellisError):
    """The database cannot be opened or written."""


class StoreBusy(StoreError):
    """Another process (or connection) changed the store at the same moment: nothing was saved; trying again may work."""


class NotFound(TrellisError):
    """No trace (or node) with that id."""


class ModelError(TrellisError):
    """A model (teacher or student) could not be reached, or failed to answer."""


class ModelUnanswered(ModelError):
    """The model gave no answer at all: the call timed out or never reached it. Unlike a bad answer, this says
    nothing about what the model can do (a loaded machine times calls out), so capability gaps leave it out."""
