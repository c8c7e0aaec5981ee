"""The facade plugins import: everything a source or channel plugin may use, and nothing else."""

from mrt.config import ChannelConfig, SourceSection
from mrt.delivery.base import Message, SendOutcome, Target
from mrt.errors import RateLimited, SourceError, UpstreamChanged
from mrt.events import TrackerEvent, fingerprint_of, utcnow
from mrt.sources.base import PollContext, PollResult, Quarantined, SourceSpec

__all__ = [
    "ChannelConfig",
    "Message",
    "PollContext",
    "PollResult",
    "Quarantined",
    "RateLimited",
    "SendOutcome",
    "SourceError",
    "SourceSection",
    "SourceSpec",
    "Target",
    "TrackerEvent",
    "UpstreamChanged",
    "fingerprint_of",
    "utcnow",
]
