"""Hugging Face organisation models: model_added and model_updated (sha changed)."""

from __future__ import annotations

from pydantic import Field

from mrt.config import SourceSection


class Config(SourceSection):
    """`sources.huggingface` (v0 keys: orgs, token_env). base_url falls back to $HF_ENDPOINT."""

    orgs: list[str] = Field(min_length=1)
    page_size: int = Field(100, ge=1, le=1000)
