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
