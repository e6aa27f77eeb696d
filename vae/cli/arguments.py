"""Argument types for the parsers (each refuses a bad value with argparse's usage line and exit 2), and the one
copier from parsed arguments to a settings dataclass."""

import argparse
from dataclasses import fields


def positive(kind):
    return checked(kind, lambda value: value > 0, "> 0")


def non_negative(kind):
    return checked(kind, lambda value: value >= 0, ">= 0")


def checked(kind, accept, wording: str):
    """An argparse type: ``kind(text)``, refused unless ``accept(value)``; NaN is refused by both bounds."""

    def parse(text: str):
        value = kind(text)
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {wording}, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def widths(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated widths such as 512,256, got {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"widths must be positive, got {text!r}")
    return values


def class_list(text: str) -> tuple[str, ...]:
    """Class labels, numbers or a folder's class names: "1,3,4", "mel,bcc"."""
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",")))
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected class labels such as 1,3,4 or mel,bcc, got {text!r}")
    return names


def settings(cls, args: argparse.Namespace, **given):
    """A settings dataclass from parsed arguments: each field from the argument of its name (``dest``) where the
    command line gave one; ``given`` fields (nested settings, choices made from the options) win; the rest keep
    their defaults."""
    values = {field.name: getattr(args, field.name) for field in fields(cls)
              if getattr(args, field.name, None) is not None}
    return cls(**{**values, **given})
