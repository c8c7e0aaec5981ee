"""`triage:` (AI4) as a rule action: validated, and only where the rule has both routes a score
may choose between (its notify and its digest). mrt.ai_triage routes by the score."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mrt.rules.model import NotifySpec, TriageSpec, validate_spec

if TYPE_CHECKING:
    from mrt.rules.parse import ParseContext


def parse_triage(
    value: Any, path: str, ctx: ParseContext, notify: NotifySpec | None, digest: str | None
) -> TriageSpec | None:
    """`triage:` routes between the rule's own notify and digest: it needs both."""
    if value is None:
        return None
    spec = validate_spec(TriageSpec, {} if value is True else value, f"{path}.triage", ctx.file)
    if notify is None or digest is None:
        lacking = " and ".join(
            k for k, v in (("notify", notify), ("digest", digest)) if v is None
        )
        raise ctx.error(
            f"triage routes a score between the rule's notify (high scores, at once) and its "
            f"digest (low scores); this rule has no {lacking}: add e.g. `notify: true` and "
            "`digest: daily`",
            f"{path}.triage",
        )
    return spec
