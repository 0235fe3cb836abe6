"""The one duration type and the percent type used across the API.

Durations are strings like ``500ms``, ``2s``, ``1m30s`` or ``1.5h``: a subset of Go's
``time.ParseDuration`` syntax, so the CRD's CEL rules (``duration(self)``) read them the same way.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

# Kept in sync with the CRD by tests/contract (DURATION_PATTERN is embedded there verbatim).
DURATION_PATTERN = r"^([0-9]{1,6}(\.[0-9]{1,3})?(ms|s|m|h)){1,4}$"
PERCENT_PATTERN = r"^[0-9]{1,4}(\.[0-9]{1,2})?%$"
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in ``text``; ValueError when it is not a duration of our grammar."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"{text!r} is not a duration like 500ms, 2s, 1m30s")
    return sum(float(num) * _UNIT_SECONDS[unit] for num, unit in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """Shortest readable form: ``850us`` is never produced, sub-second values use ``ms``."""
    if seconds < 0:
        raise ValueError("negative duration")
    if seconds < 1:
        ms = round(seconds * 1000, 3)
        return f"{ms:g}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(round(seconds, 3), 60)
    if minutes < 60:
        return f"{int(minutes)}m{rest:g}s" if rest else f"{int(minutes)}m"
    hours, minutes = divmod(int(minutes), 60)
    text = f"{hours}h"
    if minutes:
        text += f"{minutes}m"
    if rest:
        text += f"{rest:g}s"
    return text


class Duration(float):
    """A duration in seconds that validates from, and serialises to, the string form."""

    def __str__(self) -> str:
        return format_duration(float(self))

    def __repr__(self) -> str:
        return f"Duration({format_duration(float(self))!r})"

    @classmethod
    def parse(cls, text: str) -> Duration:
        return cls(parse_duration(text))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def validate(value: Any) -> Duration:
            if isinstance(value, Duration):
                return value
            if not isinstance(value, str):
                raise PydanticCustomError("duration_type", "a duration must be a string like 500ms or 2m")
            try:
                return cls.parse(value)
            except ValueError as exc:
                raise PydanticCustomError("duration_format", str(exc)) from None

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )


class Percent(float):
    """A percentage written ``"50%"``; the float value is the number before the sign (50.0)."""

    def __str__(self) -> str:
        return f"{float(self):g}%"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def validate(value: Any) -> Percent:
            if isinstance(value, Percent):
                return value
            if not isinstance(value, str) or not re.fullmatch(PERCENT_PATTERN, value):
                raise PydanticCustomError("percent_format", "a percentage must be a string like 50%")
            return cls(float(value[:-1]))

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )
