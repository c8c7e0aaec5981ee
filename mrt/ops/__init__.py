"""Every operator action, one function each, for `mrt` (mrt/commands) and `mrt-tui` (tui/) alike.

The CLI and the console parse, ask and print; the action itself, and its audit record, happen
here, so the same action is audited under one name whichever door it came through. Each write
takes `actor` ("cli", "tui"; the worker's own automatic replay says "worker").

    module     function                      audit action
    outbox     retry                         outbox.retry
               discard                       outbox.discard
    sources    poll_now                      source.poll       (sets poll_requested_at: the
                                                                one "poll now" mechanism)
    cursor     reset_cursor                  cursor.reset      (backs the database up first)
    alerts     acknowledge                   alert.acknowledge
               unacknowledge                 alert.unacknowledge
    replay     apply                         replay            (record written in the same
                                                                transaction as the alerts)
               replay_after_rules_change     replay            (actor "worker": the worker's
                                                                own replay after a rules change)
    silences   create                        silence.create
               expire                        silence.expire
    backup     migrate_database              db.migrate        (only when something changed)
               backup_database               db.backup
               backup_postgres               db.backup         (pg_dump)
               restore_database              db.restore
               prune_database                db.prune          (not on a dry run)
    notify     send_test                     notify.test       (a test message, sent now)

Only the reads an action needs live beside it (outbox.preview, outbox.refusals); listing,
counting and every other read is a query of mrt.store.views, which `mrt` and the console share. The outbox has one filter type and one row
type (mrt.store.views.OutboxFilter, OutboxRow), re-exported by mrt.ops.outbox.
"""
