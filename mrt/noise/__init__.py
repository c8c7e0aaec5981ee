"""Less noise: aggregation windows, scheduled digests and time-window dedupe.

    collect_cycle(planned, now)                       inside the cycle's transaction (pipeline)
    fold_repeats(planned, window_minutes, now)        dedupe, before the cycle commits
    flush_due_aggregates(db, targets, render, now)    -> alerts made from ended windows
    flush_due_digests(db, config, targets, now)       -> digests sent whose cron fired
    flush_due(db, config, targets, render, now)       both; what the worker calls every tick

The queries live in mrt.store.noise; the digest text in mrt.delivery.digest_render.
"""
