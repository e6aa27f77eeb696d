"""The exceptions the command line turns into one line: InputError (exit 2) and FitFailed (exit 1)."""

from typing import BinaryIO


class InputError(Exception):
    """A user's file or argument cannot be used; the message names the file and the problem."""


class FitFailed(Exception):
    """A fit failed on input the checks accepted (a torch error, a worker that kept dying): the command line prints
    this one line, which names the fit, and exits 1."""


def open_for_reading(path: str, what: str) -> BinaryIO:
    """Open ``path`` in binary mode, or raise InputError saying why it cannot be (``what``: "an .npz file"...)."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not {what}") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as error:
        raise InputError(f"{path}: cannot open ({error.strerror or error})") from None


def first_line(error: Exception) -> str:
    """An exception's message cut to its first line (its type's name when it has none)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
