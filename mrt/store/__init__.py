"""The database: peewee models, migrations, and the queries everyone shares (only here)."""
