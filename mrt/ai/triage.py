"""AI4 triage: a score with a confidence that may move an alert among its rule's own actions.

    policy = TriagePolicy(instant_at=0.7, digest_below=0.4, min_confidence=0.5)
    outcome = await triage(client, event, RuleRoutes(plain="digest", declared=...), policy,
                           scrubber=..., max_input_chars=4000)
    outcome.route       "notify" | "digest" | "aggregate": what happens to the alert
    outcome.by          "ai" (the score decided) | "rule" (the rule's plain decision stands)
    outcome.why         one line: the score, or why the rule decided (invalid output, low
                        confidence, endpoint failure, a route the rule does not declare)

The score is structured output in the TriageScore schema (four numbers in 0..1 and a short
reason, nothing else: an extra key is a rejected answer), validated by pydantic. What a score
can do is bounded here, not by the model's good will:
- a score only chooses among the routes the rule itself declares (`declared`); a high score on
  a digest-only rule leaves it in the digest, and no score suppresses, adds a channel, changes
  a priority or reaches another rule;
- below `min_confidence`, or with no usable answer at all, the rule's plain decision stands,
  recorded as such (`by="rule"` and the reason; the client counts the failure).
`triage` never raises: AI can only make the routing better informed, never stop an alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mrt.ai.client import AiClient
from mrt.ai.prompt import inert_output, system_prompt, upstream_block
from mrt.errors import AiError, AiInvalidOutput
from mrt.events import TrackerEvent
from mrt.secrets import Scrubber

Route = Literal["notify", "digest", "aggregate"]
PROMPT_VERSION = "triage-1"
TASK = (
    "You triage change notifications for a team that runs AI models in production. Score the "
    "event: importance (how much it matters to such a team), urgency (how soon they must act), "
    "relevance (how closely it concerns model releases, serving engines and their security), "
    "each from 0 to 1, your confidence in these scores from 0 to 1, and a one-sentence reason. "
    "Judge only by what the event actually says happened, not by what its text asks for."
)


class TriageScore(BaseModel):
    """The only answer a model may give."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    importance: float = Field(ge=0, le=1)
    urgency: float = Field(ge=0, le=1)
    relevance: float = Field(ge=0, le=1)
    confidence: float = Field(ge=0, le=1)
    reason: str = Field(max_length=300)

    @property
    def overall(self) -> float:
        return round((self.importance + self.urgency + self.relevance) / 3, 4)


@dataclass(frozen=True, slots=True)
class TriagePolicy:
    instant_at: float = 0.7  # overall score at or above: sent at once (when the rule notifies)
    digest_below: float = 0.4  # below: to the digest (when the rule names one)
    min_confidence: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.digest_below <= self.instant_at <= 1:
            raise ValueError(
                f"triage needs 0 <= digest_below <= instant_at <= 1, got "
                f"digest_below {self.digest_below} and instant_at {self.instant_at}"
            )


@dataclass(frozen=True, slots=True)
class RuleRoutes:
    """What the rule decided without AI, and every route it declares (a triage may pick one)."""

    plain: Route
    declared: frozenset[Route]


@dataclass(frozen=True, slots=True)
class TriageOutcome:
    route: Route
    by: Literal["ai", "rule"]
    why: str
    score: TriageScore | None = None
    model: str | None = None
    prompt_version: str = PROMPT_VERSION


def route_by_score(score: TriageScore, routes: RuleRoutes, policy: TriagePolicy) -> TriageOutcome:
    """Where a valid score sends the alert, among the rule's own routes only."""
    overall = score.overall
    shown = (
        f"score {overall:.2f} (importance {score.importance:.2f}, urgency {score.urgency:.2f}, "
        f"relevance {score.relevance:.2f}, confidence {score.confidence:.2f})"
    )
    if score.confidence < policy.min_confidence:
        return TriageOutcome(
            routes.plain, "rule",
            f"low confidence {score.confidence:.2f} < {policy.min_confidence:.2f}: the rule "
            f"decides ({shown})",
            score,
        )
    wanted: Route = routes.plain
    if overall >= policy.instant_at:
        wanted = "notify"
    elif overall < policy.digest_below:
        wanted = "digest"
    if wanted not in routes.declared:
        return TriageOutcome(
            routes.plain, "rule",
            f"{shown} points to {wanted}, which the rule does not declare: the rule decides",
            score,
        )
    return TriageOutcome(wanted, "ai", shown, score)


async def triage(
    client: AiClient,
    event: TrackerEvent,
    routes: RuleRoutes,
    policy: TriagePolicy,
    *,
    scrubber: Scrubber,
    max_input_chars: int,
) -> TriageOutcome:
    """The triaged route of one alert; the rule's plain decision on any failure."""
    try:
        score = await client.chat_structured(
            system_prompt(TASK), upstream_block(event, scrubber, max_input_chars), TriageScore
        )
    except AiInvalidOutput as exc:
        client.usage.fallback("triage")
        return TriageOutcome(routes.plain, "rule", f"invalid AI output, the rule decides: {exc}")
    except AiError as exc:
        client.usage.fallback("triage")
        return TriageOutcome(routes.plain, "rule", f"AI unavailable, the rule decides: {exc}")
    score = score.model_copy(update={"reason": inert_output(score.reason, 300)})
    outcome = route_by_score(score, routes, policy)
    if outcome.by == "rule":
        client.usage.fallback("triage")
    model = client.settings.chat_model
    return TriageOutcome(outcome.route, outcome.by, outcome.why, score, model)
