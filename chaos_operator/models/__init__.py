"""Typed API models: the ChaosExperiment spec and status, durations and percents."""

from chaos_operator.models.duration import Duration, Percent, format_duration, parse_duration
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import ExperimentStatus

GROUP = "chaosoperator.dev"
VERSION = "v1alpha1"
PLURAL = "chaosexperiments"
KIND = "ChaosExperiment"

__all__ = [
    "GROUP", "KIND", "PLURAL", "VERSION",
    "Duration", "ExperimentSpec", "ExperimentStatus", "Percent", "format_duration", "parse_duration",
]
