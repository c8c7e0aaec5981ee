from mrt.events import TrackerEvent, fingerprint_of


def test_v0_worked_example_fingerprint() -> None:
    # The worked example from the foundation issue: v0's exact recipe.
    assert (
        fingerprint_of("github", "repo_issue", "vllm-project/vllm", "issue_updated", "2345678901")
        == "19cf1579457629ee850bd2056cc2410ca4652795078ae1df2bd3f971fc3901e8"
    )


def test_fingerprint_is_stable_and_field_sensitive() -> None:
    base = dict(
        source="huggingface",
        source_key="huggingface:deepseek-ai",
        resource_type="model",
        resource_id="deepseek-ai/DeepSeek-V3",
        event_type="model_updated",
        event_id="abc123",
        title="DeepSeek-V3",
    )
    a = TrackerEvent(**base)  # type: ignore[arg-type]
    b = TrackerEvent(**{**base, "title": "renamed", "summary": "different"})  # type: ignore[arg-type]
    c = TrackerEvent(**{**base, "event_id": "def456"})  # type: ignore[arg-type]
    assert a.fingerprint == b.fingerprint  # only identity fields count
    assert a.fingerprint != c.fingerprint


def test_field_value_reads_dotted_details() -> None:
    event = TrackerEvent(
        source="huggingface",
        source_key="huggingface:deepseek-ai",
        resource_type="model",
        resource_id="m",
        event_type="model_added",
        event_id="1",
        title="t",
        details={"card": {"license": "mit"}},
    )
    assert event.field_value("details.card.license") == "mit"
    assert event.field_value("details.missing.x") is None
    assert event.field_value("title") == "t"


def _v0_recipe(*values: object) -> str:
    """v0's fingerprint written out: json.dumps of the five fields, sorted, compact."""
    import hashlib
    import json

    keys = ("source", "resource_type", "resource_id", "event_type", "event_id")
    payload = json.dumps(dict(zip(keys, values, strict=True)), ensure_ascii=False,
                         sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def test_fingerprint_keeps_v0_recipe_for_awkward_text() -> None:
    awkward = ['quote " and \\ back', "tab\tnew\nline\x00nul\x1f", "中文 ＠ é", "\u2028\u2029",
               "emoji 🚀", "", "</script>"]
    for text in awkward:
        fields = ("github", "issue", text, "issue_opened", text[::-1])
        assert fingerprint_of(*fields) == _v0_recipe(*fields)
    # a plugin handing a number where a str belongs still gets v0's JSON of it
    assert fingerprint_of("github", "issue", "a#1", "issue_opened", 7) == _v0_recipe(  # type: ignore[arg-type]
        "github", "issue", "a#1", "issue_opened", 7)
    assert fingerprint_of("github", "issue", "a#1", "issue_opened", ["x"]) == _v0_recipe(  # type: ignore[arg-type]
        "github", "issue", "a#1", "issue_opened", ["x"])
    # values equal as cache keys but written differently by v0 (1, 1.0, true) stay apart,
    # whichever was remembered first
    for value in (1, True, 1.0, 1, "1"):
        assert fingerprint_of("github", "issue", "a#1", "issue_opened", value) == _v0_recipe(  # type: ignore[arg-type]
            "github", "issue", "a#1", "issue_opened", value)


def test_fingerprint_hashed_once_however_often_a_cycle_reads_it(monkeypatch) -> None:
    import hashlib

    import mrt.events

    hashed: list[bytes] = []

    class Counting:
        @staticmethod
        def sha256(data: bytes) -> "hashlib._Hash":
            hashed.append(data)
            return hashlib.sha256(data)

    monkeypatch.setattr(mrt.events, "hashlib", Counting)
    event = TrackerEvent(source="github", source_key="github:a/b", resource_type="issue",
                         resource_id="a/b#hashed-once", event_type="issue_opened",
                         event_id="hashed-once-1", title="t")
    again = TrackerEvent(source="github", source_key="github:a/b", resource_type="issue",
                         resource_id="a/b#hashed-once", event_type="issue_opened",
                         event_id="hashed-once-1", title="the same event, seen again")
    # v0 check, clusters, dedupe, the commit's lookup: one event is read several times a cycle
    reads = {event.fingerprint for _ in range(4)} | {again.fingerprint}
    assert reads == {_v0_recipe("github", "issue", "a/b#hashed-once", "issue_opened",
                                "hashed-once-1")}
    assert len(hashed) == 1
