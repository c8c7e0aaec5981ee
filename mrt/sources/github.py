"""GitHub issues and pull requests: one request per repo per cycle covers both."""

from __future__ import annotations

from pydantic import Field, field_validator

from mrt.config import SourceSection, Strict


class Monitor(Strict):
    issues: bool = True
    pulls: bool = True


class Config(SourceSection):
    """`sources.github` (v0 keys: repos, monitor, token_env)."""

    repos: list[str] = Field(min_length=1)
    monitor: Monitor = Field(default_factory=Monitor)
    issue_edited: bool = False  # also alert when a title, labels or body changed
    overlap_seconds: int = Field(120, ge=0)  # re-read this much before the cursor: ties are safe

    @field_validator("repos")
    @classmethod
    def _owner_slash_repo(cls, repos: list[str]) -> list[str]:
        for repo in repos:
            owner, _, name = repo.partition("/")
            if not owner or not name or "/" in name or " " in repo:
                raise ValueError(f"{repo!r} is not of the form owner/repo")
        return repos
