"""Conformance declarations of the model hubs (Hugging Face, ModelScope) and of GitHub releases
and tags; collected in tests/source_conformance.py. No tests live here."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from conformance_case import Faulty, SourceCase
from pytest_httpserver import HTTPServer
from test_source_support import T0, FakeHub, FakeModelScope, hf_models, ms_models

from mrt.sources import github, huggingface, modelscope

ORG = "deepseek-ai"
NEWEST = T0 - timedelta(days=1)


# --- Hugging Face / ModelScope --------------------------------------------------------------
# Both serve ten models one hour apart, of which the older five (NEWEST-5h..-9h) are there at
# first: the change adds the sixth newest, `grow` the four newest (two pages of two).

class Hub(Faulty, FakeHub):
    def __init__(self, server: HTTPServer) -> None:
        self.all = hf_models(ORG, 10, NEWEST)
        super().__init__(server, self.all[5:])


class ModelScope(Faulty, FakeModelScope):
    def __init__(self, server: HTTPServer) -> None:
        self.all = ms_models(ORG, 10, NEWEST)
        super().__init__(server, self.all[5:])


def _add_sixth(fake: Hub | ModelScope) -> None:
    """A model created when last modified: new, not an old one updated."""
    model = fake.all[4]
    if "createdAt" in model:
        model["createdAt"] = model["lastModified"]
    else:
        model["created_at"] = model["last_modified"]
    fake.models.append(model)


def _add_four(fake: Hub | ModelScope) -> int:
    fake.models.extend(fake.all[:4])
    return 4


HUGGINGFACE = SourceCase(
    name="huggingface", plugin="huggingface", module=huggingface,
    section=lambda server: huggingface.Config(orgs=[ORG], base_url=server.url_for("/"),
                                              page_size=2),
    serve=Hub,
    change=_add_sixth,
    change_events=["model_added"],
    # NEWEST-5h and -6h were modified after the date (unchanged: nothing to say); -4h is new
    reset_at=NEWEST - timedelta(hours=6, minutes=30),
    reset_events=["model_added"],
    grow=_add_four,
)

MODELSCOPE = SourceCase(
    name="modelscope", plugin="modelscope", module=modelscope,
    section=lambda server: modelscope.Config(orgs=[ORG], base_url=server.url_for("/"),
                                             page_size=2),
    serve=ModelScope,
    change=_add_sixth,
    change_events=["model_added"],
    reset_at=NEWEST - timedelta(hours=6, minutes=30),
    reset_events=["model_added"],
    grow=_add_four,
)


# --- GitHub releases and tags ---------------------------------------------------------------

REPO = "PyGithub/PyGithub"


def _lists() -> Any:
    from test_source_github_releases import FakeList, recorded_releases, recorded_tags

    class Listing(Faulty, FakeList):
        pass

    return Listing, recorded_releases, recorded_tags


def _releases(server: HTTPServer) -> Any:
    listing, releases, _ = _lists()
    return listing(server, "releases", releases())


def _tags(server: HTTPServer) -> Any:
    listing, _, tags = _lists()
    return listing(server, "tags", tags())


def _new_release(fake: Any, number: int = 0) -> None:
    from test_source_github_releases import new_release
    item = new_release(fake.items[0], 900_000 + number, f"v9.{number}.0")
    at = T0 - timedelta(hours=1, minutes=number)
    item.update(published_at=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                created_at=at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    fake.items.insert(0, item)


def _new_tag(fake: Any, number: int = 0) -> None:
    fake.items.insert(0, {**copy.deepcopy(fake.items[-1]), "name": f"v9.{number}.0",
                          "commit": {"sha": f"{number:040x}", "url": "https://api.github.com/x"}})


def _grow_tags(fake: Any) -> int:
    for n in range(150, 0, -1):  # newest first: two pages of 100 after the 30 recorded
        _new_tag(fake, n)
    return 150


def _section(server: HTTPServer) -> github.Config:
    return github.Config(repos=[REPO], base_url=server.url_for("/"), token_env="GITHUB_TOKEN",
                         monitor={"issues": False, "pulls": False, "releases": True,
                                  "tags": True})


GITHUB_RELEASES = SourceCase(
    name="github-releases", plugin="github", module=github, key=f"github-releases:{REPO}",
    section=_section, serve=_releases, env={"GITHUB_TOKEN": "ghp_conformance"},
    change=_new_release,
    change_events=["release_published"],
    # the recorded releases after 2020-12-01 are known and unchanged: only the new one is news
    reset_at=datetime(2020, 12, 1, tzinfo=UTC),
    reset_events=["release_published"],
    no_paging="one conditional page of the newest releases is the window, by design",
)

GITHUB_TAGS = SourceCase(
    name="github-tags", plugin="github", module=github, key=f"github-tags:{REPO}",
    section=_section, serve=_tags, env={"GITHUB_TOKEN": "ghp_conformance"},
    change=_new_tag,
    change_events=["tag_created"],
    reset_at=datetime(2020, 12, 1, tzinfo=UTC),
    reset_events=["tag_created"],
    grow=_grow_tags,
)
