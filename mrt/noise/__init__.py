"""Less noise: aggregation windows, scheduled digests and time-window dedupe.

    collect.collect_cycle(planned, now)                 inside the cycle's transaction (pipeline)
    dedupe.fold_repeats(planned, window_minutes, now)   before the cycle commits (pipeline)
    aggregate.flush_due_aggregates(db, targets, render, now) -> alerts made from ended windows
    digest.flush_due_digests(db, config, targets, now)       -> digests sent whose cron fired
    flush.flush_due(db, config, targets, render, now)        both: what the worker calls

The queries live in mrt.store.noise; the digest text in mrt.delivery.digest_render. The
behaviour is documented in docs/RULES.md, "Aggregation and digests".
"""
