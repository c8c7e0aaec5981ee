"""AI1 summaries: one to five short lines on what changed and what it may affect.

    text = await summarise(client, event, scrubber=..., max_input_chars=4000)   # AiError on failure

The answer is structured output in the SummaryLines schema (1-5 non-blank lines of at most 300
characters, nothing else), each line made inert like upstream text (mrt.ai.prompt), joined by
newlines. The caller caches it by (event fingerprint, model, PROMPT_VERSION) and puts it where
the message would show the upstream body: it is then cleaned for the channel (mentions,
controls, length) by the same code as that body (mrt/delivery/render.py).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from mrt.ai.client import AiClient
from mrt.ai.prompt import inert_output, system_prompt, upstream_block
from mrt.errors import AiInvalidOutput
from mrt.events import TrackerEvent
from mrt.secrets import Scrubber

PROMPT_VERSION = "summary-1"
MAX_LINE_CHARS = 300
TASK = (
    "Summarise the event for a team that runs AI models in production, in one to five short "
    "lines: what changed (name versions, models and components), and what it may affect for "
    "such a team. Plain text lines, no markdown, no mentions, no links unless in the event."
)

Line = Annotated[str, Field(min_length=1, max_length=MAX_LINE_CHARS)]


class SummaryLines(BaseModel):
    """The only answer a model may give."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lines: list[Line] = Field(min_length=1, max_length=5)


async def summarise(
    client: AiClient, event: TrackerEvent, *, scrubber: Scrubber, max_input_chars: int
) -> str:
    """The summary of `event`, as inert text of 1-5 lines; AiError when there is none."""
    answer = await client.chat_structured(
        system_prompt(TASK), upstream_block(event, scrubber, max_input_chars), SummaryLines
    )
    lines = [inert_output(line, MAX_LINE_CHARS).strip() for line in answer.lines]
    lines = [line for line in lines if line]
    if not lines:
        raise AiInvalidOutput("AI endpoint /chat/completions: a summary with no visible text")
    return "\n".join(lines)
