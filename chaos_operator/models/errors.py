"""Readable validation errors that name the field, as the user wrote it (camelCase path)."""

from __future__ import annotations

from pydantic import ValidationError

from chaos_operator.models.spec import FAULT_KINDS

# A bad or missing discriminator is reported by pydantic on the union itself; the user wrote the `kind` field.
_TAG_ERRORS = ("union_tag_invalid", "union_tag_not_found")


def field_path(loc: tuple[int | str, ...], prefix: str = "") -> str:
    parts = [prefix] if prefix else []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        elif item.startswith("function-") or item in FAULT_KINDS:
            continue  # pydantic's internal validator labels and the fault union's tags are not fields
        else:
            parts.append(item)
    return ".".join(parts)


def problems(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    """(path, message) pairs, one per error."""
    out = []
    for err in exc.errors():
        message = err["msg"].removeprefix("Value error, ")
        loc = tuple(err["loc"])
        if err["type"] in _TAG_ERRORS:
            loc = (*loc, str((err.get("ctx") or {}).get("discriminator", "kind")).strip("'"))
        out.append((field_path(loc, prefix), message))
    return out


def describe(exc: ValidationError, prefix: str = "") -> str:
    return "; ".join(f"{path}: {message}" for path, message in problems(exc, prefix))
