"""AI3 lexical clustering: the same topic seen several times in a window is one cluster, named in
details.cluster before the rules run, so an aggregation grouped by it sends one message. Real
cycles over a loopback GitHub, a real SQLite file, the real flush and sender to a webhook."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import peewee
from pytest_httpserver import HTTPServer
from test_replay_support import Sink, config_data, drain, make_engine, run_cycle, write_config
from test_source_support import T0, FakeGitHub, close, recorded_issues

from mrt.ai.clusters import ClusterItem, assign, new_cluster_id
from mrt.noise.flush import flush_due
from mrt.store.models import Alert, AlertEvent, Event

T1 = T0 + timedelta(minutes=10)
TOPIC = ["DeepSeek-V4 weights released", "[Model] Support DeepSeek-V4",
         "Mirror deepseek-ai/DeepSeek-V4 on ModelScope"]


def test_similar_items_share_a_stable_id_and_the_same_inputs_give_the_same_ids() -> None:
    items = [ClusterItem.of(f"{n:040x}", title) for n, title in enumerate(
        [*TOPIC, "Qwen3 tokenizer crash", "[Model] Support DeepSeek-V3"])]

    ids = assign(items, [], 0.4)

    first = new_cluster_id(items[0].fingerprint)
    assert ids == [first, first, first, new_cluster_id(items[3].fingerprint),
                   new_cluster_id(items[4].fingerprint)]
    assert assign(items, [], 0.4) == ids  # deterministic
    # incremental: a later item joins the cluster stored with an earlier one, id unchanged
    stored = [ClusterItem(i.fingerprint, i.terms, c) for i, c in zip(items, ids, strict=True)]
    later = ClusterItem.of("f" * 40, "DeepSeek-V4 FP8 kernels")
    assert assign([later], stored, 0.4) == [first]


def test_one_topic_on_several_items_becomes_one_aggregate_message(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    sink = Sink(httpserver)
    config = write_config(tmp_path / "mrt.json", config_data(
        httpserver, db_path, watch_keywords=[],
        aggregation={"cluster_window_minutes": 60, "cluster_threshold": 0.4},
        rules=[{"name": "models", "when": {"keywords": ["deepseek", "qwen"]},
                "aggregate": {"window_minutes": 5, "group_by": ["details.cluster"]},
                "notify": ["hook"]}],
    ))
    engine = make_engine(db, config)
    issues = recorded_issues()
    FakeGitHub(httpserver, "PyGithub/PyGithub", issues)
    run_cycle(engine, T0)  # baseline
    for n, title in enumerate([*TOPIC, "Qwen3 tokenizer crash"]):
        issues[n]["title"] = title
        close(issues[n], T0 + timedelta(minutes=5))
    run_cycle(engine, T1)

    clusters = {e.title: e.details["cluster"] for e in Event.select() if e.title in
                [*TOPIC, "Qwen3 tokenizer crash"]}
    assert len({clusters[t] for t in TOPIC}) == 1
    assert clusters["Qwen3 tokenizer crash"] != clusters[TOPIC[0]]
    first = clusters[TOPIC[0]]

    # a later cycle: a new item on the same topic joins the stored cluster, same id
    issues[5]["title"] = "DeepSeek-V4 FP8 kernels"
    close(issues[5], T1 + timedelta(minutes=1))
    run_cycle(engine, T1 + timedelta(minutes=2))
    assert Event.get(Event.title == "DeepSeek-V4 FP8 kernels").details["cluster"] == first

    flush_due(db, engine.renderer, engine.targets, T1 + timedelta(minutes=10))
    aggregates = list(Alert.select().where(Alert.kind == "aggregate"))
    sizes = sorted(AlertEvent.select().where(AlertEvent.alert == a.id).count()
                   for a in aggregates)
    assert sizes == [1, 4]  # the topic's four items in one message; the tokenizer crash alone
    assert drain(config, T1 + timedelta(minutes=10)) == 2
    [topic_message] = [str(b) for b in sink.received if "DeepSeek-V4 weights" in str(b)]
    assert all(t in topic_message for t in [*TOPIC[1:], "DeepSeek-V4 FP8 kernels"])
