"""Readable validation errors that name the field, as the user wrote it (camelCase path)."""

from __future__ import annotations

from pydantic import ValidationError


def field_path(loc: tuple[int | str, ...], prefix: str = "") -> str:
    parts = [prefix] if prefix else []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        elif item.startswith("function-") or item in ("PodKill",):
            continue  # pydantic's internal validator/union labels are not fields
        else:
            parts.append(item)
    return ".".join(parts)


def problems(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    """(path, message) pairs, one per error."""
    out = []
    for err in exc.errors():
        message = err["msg"].removeprefix("Value error, ")
        out.append((field_path(tuple(err["loc"]), prefix), message))
    return out


def describe(exc: ValidationError, prefix: str = "") -> str:
    return "; ".join(f"{path}: {message}" for path, message in problems(exc, prefix))
