"""Every table MRT keeps, in one place: the schema at `mrt.store.migrations.LATEST`, whose steps
say what each version added.

Timestamps are aware UTC datetimes in Python. JSON columns never hold a secret. A new column or
table is a new migration in `mrt/store/migrations.py`, never an edit of a shipped one.
"""

from __future__ import annotations

import peewee

from mrt.store.fields import JsonField, UtcDateTimeField

# Bound to a real database by mrt.store.db.open_database(); one process talks to one database.
database_proxy = peewee.DatabaseProxy()


class BaseModel(peewee.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class SchemaVersion(BaseModel):
    """One row per applied migration; the highest `version` is the schema's version."""

    version = peewee.IntegerField(primary_key=True)
    name = peewee.TextField()
    applied_at = UtcDateTimeField()
    backup_path = peewee.TextField(null=True)


class SourceState(BaseModel):
    """What the scheduler and the TUI know of one configured source instance."""

    source_key = peewee.TextField(primary_key=True)  # github:vllm-project/vllm
    source = peewee.TextField()  # the plugin name: github
    cursor = JsonField(null=True)  # None until the baseline poll has committed
    # {url: {"etag": ..., "last_modified": ...}} for conditional requests
    validators = JsonField(default=dict)
    next_poll_at = UtcDateTimeField(null=True)
    last_poll_at = UtcDateTimeField(null=True)
    last_success_at = UtcDateTimeField(null=True)
    last_error = peewee.TextField(null=True)  # never holds a secret
    last_error_class = peewee.TextField(null=True)
    last_http_status = peewee.IntegerField(null=True)
    consecutive_failures = peewee.IntegerField(default=0)
    failure_notified = peewee.BooleanField(default=False)  # "told the operators once"
    deferred_until = UtcDateTimeField(null=True)  # rate-limited: not polled before this
    ratelimit_remaining = peewee.IntegerField(null=True)
    ratelimit_reset_at = UtcDateTimeField(null=True)
    health = peewee.TextField(default="new")  # new | ok | degraded | failing | deferred
    health_detail = peewee.TextField(null=True)  # e.g. "OpenAPI 404: fell back to legacy list"
    poll_requested_at = UtcDateTimeField(null=True)  # "poll now" from the TUI/CLI
    lease_owner = peewee.TextField(null=True)  # one poller per source across workers
    lease_expires_at = UtcDateTimeField(null=True)
    updated_at = UtcDateTimeField()
    # Schema v6 (source_leases): bumped by every take of the lease; the cycle's commit checks
    # it (fencing), so a worker whose lease was taken over commits nothing (store/leases.py)
    # (a database default, not a Python one: step 1's v0 upgrade inserts rows without it)
    lease_epoch = peewee.IntegerField(constraints=[peewee.SQL("DEFAULT 0")])


class ResourceSnapshot(BaseModel):
    """What a source last saw of one resource (an issue, a model); events are its differences."""

    id = peewee.AutoField()
    source_key = peewee.TextField()
    resource_key = peewee.TextField()  # vllm-project/vllm#123, deepseek-ai/DeepSeek-V3
    state = JsonField()
    updated_at = UtcDateTimeField()

    class Meta:
        indexes = ((("source_key", "resource_key"), True),)


class RuleVersion(BaseModel):
    """Each distinct rule set, stored once; events and alerts point at the one that decided."""

    id = peewee.AutoField()
    digest = peewee.TextField(unique=True)  # sha256 of the canonical rules JSON
    rules = JsonField()
    created_at = UtcDateTimeField()


class Silence(BaseModel):
    """An Alertmanager-style silence: events matching `matcher` before `expires_at` are muted."""

    id = peewee.AutoField()
    matcher = JsonField()
    created_at = UtcDateTimeField()
    expires_at = UtcDateTimeField(index=True)
    created_by = peewee.TextField()
    reason = peewee.TextField(null=True)
    expired_early_at = UtcDateTimeField(null=True)


class Event(BaseModel):
    """Every observed event, matched or not (pruned by retention)."""

    id = peewee.AutoField()
    fingerprint = peewee.TextField(unique=True)
    source = peewee.TextField()
    source_key = peewee.TextField(index=True)
    resource_type = peewee.TextField()
    resource_id = peewee.TextField()
    event_type = peewee.TextField()
    event_id = peewee.TextField()
    title = peewee.TextField()
    summary = peewee.TextField(default="")
    url = peewee.TextField(default="")
    author = peewee.TextField(default="")
    labels = JsonField(default=list)
    occurred_at = UtcDateTimeField(null=True)
    observed_at = UtcDateTimeField(index=True)
    details = JsonField(default=dict)
    raw = JsonField(default=dict)
    legacy_fingerprint = peewee.TextField(null=True, index=True)
    # notify | suppress | aggregate | digest | none | silenced | baseline | seen_by_v0 | failed
    # | deduped (folded into an earlier alert on the same resource: see mrt/noise/dedupe.py)
    decision = peewee.TextField(default="none", index=True)
    decision_detail = JsonField(default=dict)  # matched rules and why; nearest miss
    rule_version = peewee.ForeignKeyField(RuleVersion, null=True, on_delete="SET NULL")
    error = peewee.TextField(null=True)  # best-effort processing failure, replayable
    # schema v2: the silence that muted this event (decision "silenced"), for the trace
    silence = peewee.ForeignKeyField(Silence, null=True, on_delete="SET NULL", index=True)


class Alert(BaseModel):
    """One event (or an aggregate/digest of several) that a rule decided to tell someone about."""

    id = peewee.AutoField()
    kind = peewee.TextField(default="event")  # event | aggregate | digest | v0
    event = peewee.ForeignKeyField(Event, null=True, on_delete="SET NULL", index=True)
    fingerprint = peewee.TextField(null=True, index=True)
    group_key = peewee.TextField(null=True, index=True)
    title = peewee.TextField(default="")
    source_key = peewee.TextField(null=True, index=True)
    priority = peewee.TextField(default="normal")  # low | normal | high | critical
    tags = JsonField(default=list)
    matched = JsonField(default=list)  # [{"rule": name, "reasons": [...]}]
    rule_version = peewee.ForeignKeyField(RuleVersion, null=True, on_delete="SET NULL")
    payload = JsonField(default=dict)  # v0 alert_json, aggregate members, digest contents
    created_at = UtcDateTimeField(index=True)
    acknowledged_at = UtcDateTimeField(null=True)
    acknowledged_by = peewee.TextField(null=True)


class AlertEvent(BaseModel):
    """Members of an aggregate or digest alert."""

    alert = peewee.ForeignKeyField(Alert, on_delete="CASCADE")
    event = peewee.ForeignKeyField(Event, on_delete="CASCADE")

    class Meta:
        primary_key = peewee.CompositeKey("alert", "event")


class Outbox(BaseModel):
    """One delivery of one alert to one target: pending -> sending -> sent | retrying -> dead."""

    id = peewee.AutoField()
    alert = peewee.ForeignKeyField(Alert, on_delete="CASCADE", index=True)
    channel = peewee.TextField()  # the configured channel's name
    target = peewee.TextField()  # the target's redacted URL: stable, secret-free
    status = peewee.TextField(default="pending")
    subject = peewee.TextField(default="")  # rendered at enqueue time, inside the cycle
    body = peewee.TextField(default="")
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = UtcDateTimeField()
    lease_owner = peewee.TextField(null=True)
    lease_expires_at = UtcDateTimeField(null=True)
    last_error = peewee.TextField(null=True)
    created_at = UtcDateTimeField()
    updated_at = UtcDateTimeField()
    sent_at = UtcDateTimeField(null=True)
    # Schema v9. The carrier row whose message this one went out in (burst folding); NULL when
    # it went (or goes) alone. A plain id, not a foreign key: the carrier is in this table.
    folded_into = peewee.IntegerField(null=True, index=True)

    class Meta:
        indexes = (
            (("status", "next_attempt_at"), False),
            (("alert", "channel", "target"), True),
        )


class DeliveryAttempt(BaseModel):
    """Every try, successful or not: the trace an operator reads."""

    id = peewee.AutoField()
    outbox = peewee.ForeignKeyField(Outbox, on_delete="CASCADE", index=True)
    started_at = UtcDateTimeField(index=True)
    duration_ms = peewee.IntegerField(default=0)
    outcome = peewee.TextField()  # sent | retry | dead | throttled
    http_status = peewee.IntegerField(null=True)
    vendor_code = peewee.TextField(null=True)
    error_class = peewee.TextField(null=True)
    message = peewee.TextField(null=True)  # secrets removed


class CycleMetric(BaseModel):
    """The figures of one poll cycle of one source, for the TUI and `mrt sources`."""

    id = peewee.AutoField()
    source_key = peewee.TextField()
    started_at = UtcDateTimeField()
    duration_ms = peewee.IntegerField(default=0)
    outcome = peewee.TextField(default="ok")  # ok | failed | deferred | not_modified
    requests = peewee.IntegerField(default=0)
    fetched = peewee.IntegerField(default=0)
    new_events = peewee.IntegerField(default=0)
    matched = peewee.IntegerField(default=0)
    alerts = peewee.IntegerField(default=0)
    deliveries_ok = peewee.IntegerField(default=0)
    deliveries_failed = peewee.IntegerField(default=0)
    retries = peewee.IntegerField(default=0)
    http_statuses = JsonField(default=dict)  # {"200": 3, "304": 1}
    error = peewee.TextField(null=True)

    class Meta:
        indexes = ((("source_key", "started_at"), False),)


class AuditLog(BaseModel):
    """Every operator action: who (cli/tui), when, what, with which parameters and why."""

    id = peewee.AutoField()
    at = UtcDateTimeField(index=True)
    actor = peewee.TextField()  # cli | tui | worker
    action = peewee.TextField()  # outbox.retry, cursor.reset, replay, silence.create, ...
    params = JsonField(default=dict)
    reason = peewee.TextField(null=True)
    result = JsonField(default=dict)


class Command(BaseModel):
    """Requests to the running worker: reload, wake_senders (poll now is poll_requested_at)."""

    id = peewee.AutoField()
    kind = peewee.TextField()
    args = JsonField(default=dict)
    created_at = UtcDateTimeField()
    taken_by = peewee.TextField(null=True)
    taken_at = UtcDateTimeField(null=True)
    done_at = UtcDateTimeField(null=True)
    result = JsonField(null=True)


class WorkerHeartbeat(BaseModel):
    """Each worker's last sign of life, so consoles can say "worker down since ...". """

    worker_id = peewee.TextField(primary_key=True)
    hostname = peewee.TextField()
    pid = peewee.IntegerField()
    version = peewee.TextField()
    started_at = UtcDateTimeField()
    heartbeat_at = UtcDateTimeField()
    stopped_at = UtcDateTimeField(null=True)
    # Schema v8. The worker's last config reload (SIGHUP or the reload command): why and when it
    # last failed (sanitised, secret-free, bounded; the worker runs its previous config then),
    # cleared by the next one that succeeds (reloaded_at). mrt/store/workers.py writes them.
    reload_error = peewee.TextField(null=True)
    reload_failed_at = UtcDateTimeField(null=True)
    reloaded_at = UtcDateTimeField(null=True)
    # Schema v11. How the worker runs: daemon | once (cron, `--once`) | service (under systemd);
    # None for a heartbeat written before v8. The console says the truth for each.
    mode = peewee.TextField(null=True)


class V0SeenEvent(BaseModel):
    """v0's `seen_events`, kept so the upgraded database never re-alerts what v0 saw."""

    fingerprint = peewee.TextField(primary_key=True)
    first_seen_at = peewee.TextField(null=True)


class V0NotifyFailure(BaseModel):
    """v0's `notify_failures`, kept as visible history."""

    id = peewee.AutoField()
    fingerprint = peewee.TextField(null=True)
    channel = peewee.TextField(null=True)
    error = peewee.TextField(null=True)
    created_at = peewee.TextField(null=True)


class AggregateBucket(BaseModel):
    """Schema v2. An open aggregation window: events sharing `group_key` until `window_end`.

    When the window closes the bucket is flushed into one Alert (kind "aggregate") whose members
    are AlertEvent rows; `flushed_at` and `alert` record that.
    """

    id = peewee.AutoField()
    group_key = peewee.TextField(index=True)
    channels = JsonField(default=list)  # the channel names the flushed alert goes to
    window_end = UtcDateTimeField(index=True)
    created_at = UtcDateTimeField()
    flushed_at = UtcDateTimeField(null=True)
    alert = peewee.ForeignKeyField(Alert, null=True, on_delete="SET NULL")
    # Schema v6 (source_leases): the group key while this is the group's open bucket, else
    # NULL; a unique index makes a second open bucket of one group impossible (store/noise.py)
    open_key = peewee.TextField(null=True)


class DigestItem(BaseModel):
    """Schema v2. One event waiting for (or already sent in) a named digest."""

    id = peewee.AutoField()
    digest = peewee.TextField(index=True)  # the configured digest's name
    event = peewee.ForeignKeyField(Event, on_delete="CASCADE", index=True)
    alert = peewee.ForeignKeyField(Alert, null=True, on_delete="SET NULL")
    created_at = UtcDateTimeField()
    sent_at = UtcDateTimeField(null=True, index=True)


class AggregateMember(BaseModel):
    """Schema v3. An event waiting in an aggregation bucket, committed with the event's cycle.

    Kept after the flush (the alert's AlertEvent rows say the same), so a trace can tell which
    window an event fell into.
    """

    bucket = peewee.ForeignKeyField(AggregateBucket, on_delete="CASCADE")
    event = peewee.ForeignKeyField(Event, on_delete="CASCADE", index=True)

    class Meta:
        primary_key = peewee.CompositeKey("bucket", "event")


class DigestSchedule(BaseModel):
    """Schema v3. The last scheduled time a named digest fired at (sent, or found empty)."""

    digest = peewee.TextField(primary_key=True)
    last_fired_at = UtcDateTimeField()
    alert = peewee.ForeignKeyField(Alert, null=True, on_delete="SET NULL")  # the last one sent
    updated_at = UtcDateTimeField()


class QuarantinedItem(BaseModel):
    """Schema v5. An upstream item a source could not use (identity or a required field), kept
    aside so the rest of its page went on and the cursor moved past it.

    One row per (source, item): seeing the same item again bumps `count` and `last_seen_at`
    and is not news. `raw` is a trimmed copy with valid text; `reason` names the item and field.
    """

    id = peewee.AutoField()
    source_key = peewee.TextField()
    item_key = peewee.TextField()  # "#123", "id:deepseek-ai/X", "sha256:..." (see mrt/source_kit/items.py)
    upstream_id = peewee.TextField(null=True)
    url = peewee.TextField(null=True)
    reason = peewee.TextField()
    raw = JsonField(default=dict)
    first_seen_at = UtcDateTimeField()
    last_seen_at = UtcDateTimeField(index=True)
    count = peewee.IntegerField(default=1)

    class Meta:
        indexes = ((("source_key", "item_key"), True),)


class VendorThread(BaseModel):
    """Schema v7 (issue 16, "vendor_threads"). The first message a chat vendor posted about one
    resource on one target, so that a later alert about it replies in that message's thread
    (mrt/store/vendor_threads.py). `thread_key` is the resource's identity (source, type, id);
    `message_id` is the vendor's id of that first message (Slack's `ts`). No secrets."""

    id = peewee.AutoField()
    target_key = peewee.TextField()  # the target's redacted key, as the outbox stores it
    thread_key = peewee.TextField()
    message_id = peewee.TextField()
    created_at = UtcDateTimeField(index=True)

    class Meta:
        indexes = ((("target_key", "thread_key"), True),)


class TargetBudget(BaseModel):
    """Schema v9. A delivery target's rate budget (a token bucket), shared by every sender of
    every worker: `tokens` as of `updated_at`, refilled from then on (mrt/store/budgets.py).
    An `updated_at` in the future is a throttled target: nothing refills before it."""

    target = peewee.TextField(primary_key=True)  # the budget key: a target key, or a mail server
    tokens = peewee.FloatField()
    updated_at = UtcDateTimeField()

    class Meta:
        table_name = "target_budget"


class WebhookDelivery(BaseModel):
    """Schema v10 (webhook_deliveries). A webhook delivery received and acted on, by its upstream id
    (GitHub's X-GitHub-Delivery): the same delivery sent again is recognised, not acted on."""

    delivery_id = peewee.TextField(primary_key=True)
    provider = peewee.TextField()  # github
    event = peewee.TextField()  # issues | pull_request | release | push | ...
    source_key = peewee.TextField(null=True)  # the source its events were stored under
    events = peewee.IntegerField(default=0)  # new events it made
    received_at = UtcDateTimeField(index=True)


class AiCacheEntry(BaseModel):
    """Schema v12. What a model produced for an event (mrt/store/ai_cache.py): one row per
    (event fingerprint, capability, model, prompt version), so a changed model or prompt is
    asked again and an unchanged one never twice."""

    id = peewee.AutoField()
    fingerprint = peewee.TextField()
    capability = peewee.TextField()  # summary | triage
    model = peewee.TextField()
    prompt_version = peewee.TextField()
    text = peewee.TextField()  # already made inert (mrt.ai.prompt.inert_output)
    created_at = UtcDateTimeField(index=True)

    class Meta:
        indexes = ((("fingerprint", "capability", "model", "prompt_version"), True),)


class AiStatus(BaseModel):
    """Schema v12. One row: whether the AI endpoint is degraded, since when, and whether the
    operators were told (once per degradation, whatever the number of workers or runs)."""

    id = peewee.IntegerField(primary_key=True)  # always 1
    degraded_since = UtcDateTimeField(null=True)
    last_error = peewee.TextField(null=True)  # scrubbed, secret-free
    notified_at = UtcDateTimeField(null=True)
    updated_at = UtcDateTimeField()


ALL_MODELS: tuple[type[BaseModel], ...] = (
    SchemaVersion,
    SourceState,
    ResourceSnapshot,
    RuleVersion,
    Event,
    Alert,
    AlertEvent,
    Outbox,
    DeliveryAttempt,
    CycleMetric,
    AuditLog,
    Command,
    WorkerHeartbeat,
    Silence,
    V0SeenEvent,
    V0NotifyFailure,
    AggregateBucket,
    DigestItem,
    AggregateMember,
    DigestSchedule,
    QuarantinedItem,
    VendorThread,
    TargetBudget,
    WebhookDelivery,
    AiCacheEntry,
    AiStatus,
)
