"""The database: peewee models, migrations, and the queries everyone shares (only here).

The floor of the house: modules here import only the core types (mrt.events, mrt.errors,
mrt.message, mrt.retry, mrt.secrets, the mrt.config models) and each other, never delivery/,
rules/, pipeline, noise/, replay, ops/ or commands/ (tests/test_layering.py checks it). What
rows mean in words (`mrt trace`'s explanations) and what matches them (silences) live above.

Holding the database handle: one way. `open_database` / `open_store` (store/db.py) bind the
models' proxy once per process, and every query goes through the models: a store function
takes no `db`. The exceptions are the functions that work on the connection itself rather
than on rows: opening and migrating, raw SQL and PRAGMAs (`fetch_all`, `execute`,
`integrity_check`, v0's tables), and transaction boundaries (`write_transaction(db)`,
`require_transaction(db, ...)`, and `commit_cycle`, which checks the caller's transaction).
Code in the store that needs the bound handle asks `db.bound_database()`.

Transactions: a store function either is a whole operation and opens its own
`write_transaction` (claim_due, mark_sent, acknowledge ...), or is one part of its caller's
and only checks that one is open (`require_transaction`: commit_cycle), never opening one
inside its caller's (a part never nests one of its own).
"""
