"""Label selectors and the name patterns the API shares (mirrored in the CRD; tests/contract checks both sides)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from chaos_operator.models.base import ApiModel

# Patterns are mirrored in the CRD; tests/contract checks both sides with the same manifests.
LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
HTTP_PATH = r"^/[A-Za-z0-9._~%/=?&+,:@-]*$"
HTTP_URL = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/-]*)?$"


def in_range(value: float, low: float, high: float, what: str) -> None:
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low:g}s and {high:g}s")


class SelectorRequirement(ApiModel):
    key: Annotated[str, Field(max_length=317, pattern=LABEL_KEY)]
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    # validate_default: the operator rule must also see an omitted `values`, and name that field.
    values: Annotated[
        list[Annotated[str, Field(max_length=63, pattern=LABEL_VALUE)]], Field(max_length=32, validate_default=True)
    ] = []

    @field_validator("values")
    @classmethod
    def _values_match_operator(cls, values: list[str], info: ValidationInfo) -> list[str]:
        operator = info.data.get("operator")  # absent when the operator itself was invalid
        if operator in ("In", "NotIn") and not values:
            raise ValueError(f"operator {operator} needs at least one value")
        if operator in ("Exists", "DoesNotExist") and values:
            raise ValueError(f"operator {operator} takes no values")
        return values


class LabelSelector(ApiModel):
    match_labels: Annotated[dict[str, str], Field(min_length=1, max_length=32)] | None = None
    match_expressions: Annotated[list[SelectorRequirement], Field(min_length=1, max_length=16)] | None = None

    @field_validator("match_labels")
    @classmethod
    def _labels_valid(cls, labels: dict[str, str] | None) -> dict[str, str] | None:
        for key, value in (labels or {}).items():
            if len(key) > 317 or not re.fullmatch(LABEL_KEY, key):
                raise ValueError(f"label key {key!r} is not a valid label key")
            if len(value) > 63 or not re.fullmatch(LABEL_VALUE, value):
                raise ValueError(f"label value {value!r} for key {key!r} is not a valid label value")
        return labels

    @model_validator(mode="after")
    def _not_empty(self) -> LabelSelector:
        # An empty selector matches every pod in the namespace: never what anyone means in chaos.
        if not self.match_labels and not self.match_expressions:
            raise ValueError("selector must have matchLabels or matchExpressions")
        return self
