"""How long the fault held during the chaos window, and what that lets a verdict claim (pure).

The fault holds from the moment every target of the first round holds it (the chaos figures start there) until
the window ends, or until a target loses it (its helper pod vanished): the share asked for is the whole round, so
the first loss ends the time held. An instant fault (a kill) is done once applied: it holds from its injection to
the end of the window, whatever later rounds do. A loss also ends the window, so the chaos figures and the
statistics cover only seconds in which the fault held.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from chaos_operator.models.status import FaultHeld, Injection, Verdict, clip

MIN_HELD_SHARE = 0.5  # a fault lost before half the chaos phase asked for leaves too little to judge
FAULT_NOT_HELD = "FaultNotHeld"


@dataclass(frozen=True)
class Loss:
    """A target that stopped holding its fault before the window's end."""

    target: str
    at_mono: float  # Clock.monotonic() when the operator found it lost
    at: str  # the same instant on the wall clock (RFC 3339)


def observed(instant: bool, helpers: bool, records: Sequence[Injection], poll_s: float) -> str | None:
    """What the operator saw of the fault, in one sentence (the FaultApplied condition's evidence); None when no
    record was ever injected. A kill: the UIDs of the pods it deleted. A helper fault: each helper became Ready
    only once its agent had the fault in place (its readiness probe), and was watched every poll while the
    window lasted."""
    done = [record for record in records if record.injected_at is not None]
    if not done:
        return None
    if instant:
        uids = ", ".join(record.uid for record in done[:3])
        more = f" and {len(done) - 3} more" if len(done) > 3 else ""
        return f"deleted {len(done)} pod(s), UID {uids}{more}"[:512]
    if helpers:
        return (f"{len(done)} helper pod(s) Ready, each agent's readiness probe saying its fault was in place; "
                f"each watched every {poll_s:g} s while the window lasted")
    return f"{len(done)} target(s) injected"


def measure(asked_s: float, in_effect_mono: float | None, ended_mono: float, losses: Sequence[Loss],
            held_on: int, targets: int, seen: str | None = None) -> tuple[FaultHeld, float] | None:
    """What held, and until when (monotonic); None when the fault never held on the first round."""
    if in_effect_mono is None:
        return None
    first = min(losses, key=lambda loss: loss.at_mono, default=None)
    until = ended_mono if first is None else min(ended_mono, first.at_mono)
    early = first is not None and first.at_mono <= ended_mono  # a loss ends the window at that instant
    held = FaultHeld(seconds=round(min(86400.0, max(0.0, until - in_effect_mono)), 2), asked=asked_s,
                     held_on=held_on, targets=targets, until=first.at if early and first else None,
                     lost=first.target if early and first else None, observed=seen)
    return held, until


def too_short(held: FaultHeld) -> bool:
    """Ended early by a loss, before MIN_HELD_SHARE of the chaos asked for (a halt or an abort is not a loss)."""
    return held.lost is not None and held.seconds < MIN_HELD_SHARE * held.asked


def _s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"  # "0 s" would read as never held


def describe(held: FaultHeld) -> str:
    if held.lost is None:
        return f"{held.held_on} of {held.targets} targets held the fault for {_s(held.seconds)} of {held.asked:.0f} s"
    return (f"the fault held {_s(held.seconds)} of {held.asked:.0f} s: it ended on {held.lost} at "
            f"{held.until}, whose helper pod was lost")


def judge(verdict: Verdict, reason: str, message: str, held: FaultHeld | None) -> tuple[Verdict, str, str]:
    """The analysed ending given how long the fault held: too briefly is no evidence either way."""
    if held is None or held.lost is None:
        return verdict, reason, message
    if too_short(held):
        return (Verdict.INCONCLUSIVE, FAULT_NOT_HELD,
                clip(f"{describe(held)}; at least {MIN_HELD_SHARE * held.asked:.0f} s are needed to judge."))
    return verdict, reason, clip(f"{message} (judged on the time the fault held: {describe(held)})")


def condition(held: FaultHeld) -> tuple[Literal["True", "False"], str, str]:
    """The FaultApplied condition: how long the fault held, and what was observed of it."""
    said = describe(held) + (f"; observed: {held.observed}" if held.observed else "")
    if held.lost is None:
        return "True", "FaultHeld", said
    return "False", FAULT_NOT_HELD if too_short(held) else "FaultEndedEarly", said
