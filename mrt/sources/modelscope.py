"""ModelScope organisation models through the OpenAPI, with a degraded fallback."""

from __future__ import annotations

from pydantic import Field

from mrt.config import SourceSection


class Config(SourceSection):
    """`sources.modelscope` (v0 key: orgs)."""

    orgs: list[str] = Field(min_length=1)
    page_size: int = Field(50, ge=1, le=100)
    fallback: bool = True  # on a 404 or a changed shape, try the legacy list endpoint
