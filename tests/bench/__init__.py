"""The benchmark suite (not collected by pytest): `python -m tests.bench`. See README.md."""
