"""Whether the injection records back the ending (pure).

The figures say how the service behaved; the records say whether the fault was there and is gone. So an ending is
weighed against them last: a record not known to be reverted makes the run fail (``RecoveryFailed``, naming the
targets), and a pass with the fault on only part of its targets is no pass (``PartialInjection``, Inconclusive).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chaos_operator.models.status import Injection, Phase, RecordState, Verdict, clip

NOT_REVERTED = (RecordState.PENDING, RecordState.INJECTED, RecordState.REVERTING, RecordState.RECOVERY_FAILED)
NAMES_SHOWN = 5  # targets named in a message; the rest are counted


@dataclass(frozen=True)
class Weighed:
    verdict: Verdict | None
    reason: str
    message: str


def _names(records: Sequence[Injection]) -> str:
    names = [r.target for r in records[:NAMES_SHOWN]]
    more = len(records) - len(names)
    return ", ".join(names) + (f" and {more} more" if more else "")


def weigh(phase: Phase, verdict: Verdict | None, reason: str, message: str,
          records: Sequence[Injection]) -> Weighed:
    """The verdict, reason and message an ending may claim given its records."""
    stuck = [r for r in records if r.state in NOT_REVERTED]
    if stuck:
        said = f"recovery failed on {_names(stuck)}: a fault may still be in effect (status.injections). "
        if phase == Phase.FAILED:  # already a failure of the operator: keep its reason, say what is left
            return Weighed(verdict, reason, clip(said + message))
        return Weighed(Verdict.FAILED if phase == Phase.COMPLETED else verdict, "RecoveryFailed", clip(said + message))
    held = [r for r in records if r.injected_at is not None]
    missed = [r for r in records if r.state == RecordState.FAILED]
    if phase != Phase.COMPLETED or not held or not missed:
        return Weighed(verdict, reason, message)
    share = f"the fault held on {len(held)} of {len(held) + len(missed)} targets ({_names(missed)} failed)"
    if verdict == Verdict.PASSED:
        return Weighed(Verdict.INCONCLUSIVE, "PartialInjection",
                       clip(f"{share}: the SLOs held, but not under the whole fault. {message}"))
    return Weighed(verdict, reason, clip(f"{message} ({share})"))
