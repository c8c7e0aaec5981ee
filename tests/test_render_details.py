"""Each source's details in the default messages: a real event from every source's recorded
fixtures (polled over loopback: a baseline, then a change) renders the labelled details its
EVENT_DETAILS names in the WeLink text and in the email body; hostile detail text stays inert."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conformance_case import SourceCase
from pytest_httpserver import HTTPServer
from source_conformance import CASES
from test_delivery_render import DECISION, v0_config
from test_source_gitlab import ENV as GITLAB_ENV
from test_source_gitlab import FakeGitLab
from test_source_gitlab import spec as gitlab_spec
from test_source_modeldir import section as modeldir_section
from test_source_modeldir import write
from test_source_oci import FakeDockerHub
from test_source_oci import section as oci_section
from test_source_support import T0, FakeClock, SourceState, make_pool, poll_once, run, spec_for

from mrt.delivery.render import render_message
from mrt.delivery.sanitize import clean_line
from mrt.events import TrackerEvent
from mrt.plugins import detail_facts
from mrt.sources import gitlab, modeldir, oci
from tests.hostile import CASES as HOSTILE
from tests.hostile import assert_inert, mentions


def changed(module: Any, spec: Any, change: Any, env: dict[str, str] | None = None
            ) -> list[TrackerEvent]:
    """Baseline, `change()`, poll again: the events of the change."""
    state = SourceState()

    async def go() -> list[TrackerEvent]:
        async with make_pool(FakeClock()) as pool:
            await poll_once(module, spec, pool, state, env=env)
            change()
            result, _ = await poll_once(module, spec, pool, state, env=env)
            return list(result.events)

    events: list[TrackerEvent] = run(go)
    return events


def assert_rendered(event: TrackerEvent) -> list[tuple[str, str]]:
    facts = detail_facts(event.source, event.event_type, event.details)
    assert facts, f"{event.source} {event.event_type}: no detail named ({event.details})"
    welink = render_message(v0_config(), "welink", [event], DECISION).body
    email = render_message(v0_config(), "email", [event], DECISION).body
    label, value = facts[0]
    assert f"{label}: {value[:40]}" in welink, welink
    lines = email.splitlines()
    for label, value in facts:
        assert any(line.startswith(f"{label}: {value[:40]}") for line in lines), email
    assert len(welink) <= 500
    return facts


# what each source's recorded change must show at least (the rest depends on the payload)
EXPECTED = {"github": {"Author", "State", "Merged"}, "huggingface": {"Task", "Library"},
            "pypi": {"Version", "Python"}, "npm": {"Version"},
            "osv": {"Severity", "Fixed in"}, "ghsa": {"Severity", "CVE", "Patched in"},
            "arxiv": {"Categories", "Version"}, "feed": {"Feed"}, "modelscope": {"Tasks", "License"},
            "github-releases": {"Tag", "Author", "Notes"}, "github-tags": {"Tag", "Commit"}}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_conformance_source_shows_its_details(case: SourceCase, httpserver: HTTPServer
                                                   ) -> None:
    served = case.serve(httpserver)
    specs = case.module.instances(case.plugin, case.section(httpserver), None)
    spec = next(s for s in specs if case.key in (None, s.key))
    events = changed(case.module, spec, lambda: case.change(served), case.env)
    assert [e.event_type for e in events] == case.change_events
    for event in events:
        labels = {label for label, _ in assert_rendered(event)}
        assert EXPECTED.get(case.name, set()) <= labels, labels


def test_github_issue_author_and_labels_and_huggingface_task_and_library(
        httpserver: HTTPServer) -> None:
    github = next(c for c in CASES if c.name == "github")
    served = github.serve(httpserver)
    spec = github.module.instances(github.plugin, github.section(httpserver), None)[0]
    (event, *_) = changed(github.module, spec, lambda: github.change(served), github.env)
    labels = dict(assert_rendered(event))
    assert labels["Author"] == event.author and labels["State"]
    hf = next(c for c in CASES if c.name == "huggingface")
    httpserver.clear()
    served = hf.serve(httpserver)
    spec = hf.module.instances(hf.plugin, hf.section(httpserver), None)[0]
    facts = dict(assert_rendered(changed(hf.module, spec, lambda: hf.change(served))[0]))
    assert {"Task", "Library"} <= set(facts), facts


def test_gitlab_merge_request_shows_author_labels_state_and_target(httpserver: HTTPServer) -> None:
    fake = FakeGitLab(httpserver)
    events = changed(gitlab, gitlab_spec(httpserver, "mrs"), lambda: fake.items[
        "merge_requests"][0].update(state="merged", updated_at="2030-01-01T00:00:00Z"), GITLAB_ENV)
    (merged,) = events
    facts = dict(assert_rendered(merged))
    assert facts["State"] == "merged" and facts["Target"] == "master"
    assert facts["Labels"] == "Community contribution, Manage"


def test_docker_hub_tag_shows_tag_and_digests(httpserver: HTTPServer) -> None:
    hub = FakeDockerHub(httpserver)
    hub.push("latest", T0 - timedelta(days=2), digest="sha256:aaa")

    def repush() -> None:
        hub.push("latest", T0 - timedelta(minutes=30), digest="sha256:bbb")

    (moved,) = changed(oci, spec_for(oci, oci_section(httpserver)), repush)
    assert dict(assert_rendered(moved)) == {"Tag": "latest", "Digest": "sha256:bbb",
                                            "Was": "sha256:aaa"}


def test_model_directory_file_change_shows_file_and_sizes(tmp_path: Path) -> None:
    write(tmp_path / "qwen/config.json", b'{"a": 1}')
    spec = spec_for(modeldir, modeldir_section(tmp_path))
    (event,) = changed(modeldir, spec, lambda: write(tmp_path / "qwen/config.json", b'{"a": 22}'))
    assert dict(assert_rendered(event)) == {"File": "config.json", "Bytes": "9", "Was": "8"}


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_detail_values_render_inert(text: str) -> None:
    """Every hostile string as a detail value (and a label list of it): each detail line is one
    inert line in the WeLink text and in the email body, and mentions no one."""
    event = TrackerEvent(
        source="github", source_key="github:o/r", resource_type="issue", resource_id="1",
        event_type="issue_opened", event_id="1", title="t", url="https://github.com/o/r/1",
        observed_at=T0, details={"author": text, "labels": [text, text], "state": text},
    )
    for channel in ("welink", "email"):
        body = render_message(v0_config(), channel, [event], DECISION).body
        assert_inert(body)
        assert not mentions(body)
        fact_lines = [ln for ln in body.splitlines() if ln.startswith(("Author: ", "Labels: "))]
        assert bool(fact_lines) == bool(clean_line(text)), body  # a blank value gets no line
