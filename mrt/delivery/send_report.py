"""What a sender's round did (SendReport), per row (DeliveryResult), and the sends waiting to
be recorded together (Finished); split from mrt/delivery/sender.py to keep it small."""

from __future__ import annotations

from dataclasses import dataclass, field

from mrt.delivery.base import SendOutcome
from mrt.secrets import Scrubber
from mrt.store import outbox
from mrt.store.outbox import AttemptRecord, ClaimedDelivery


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    outbox_id: int
    channel: str
    target: str
    status: str  # sent | retrying | dead | lease_lost
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    """A send that is over, waiting to be recorded with the others that finished with it."""

    row: ClaimedDelivery
    outcome: SendOutcome
    attempt: AttemptRecord
    secrets: tuple[str, ...]


@dataclass(slots=True)
class SendReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    lease_lost: int = 0
    claim_error: str | None = None  # the store refused a claim (locked, gone): stopped early
    results: list[DeliveryResult] = field(default_factory=list)

    def add(self, result: DeliveryResult) -> None:
        self.results.append(result)
        if result.status == "sent":
            self.sent += 1
        elif result.status == "retrying":
            self.retrying += 1
        elif result.status == "dead":
            self.dead += 1
        else:
            self.lease_lost += 1

    def merge(self, other: SendReport) -> None:
        self.claimed += other.claimed
        self.claim_error = other.claim_error or self.claim_error
        for result in other.results:
            self.add(result)


def scrub(text: str | None, secrets: tuple[str, ...]) -> str | None:
    """Remove every known secret of a target (mrt.secrets, the one scrubber), then the shapes."""
    if text is None:
        return None
    return outbox.redact_common_secrets(Scrubber(secrets)(text))
