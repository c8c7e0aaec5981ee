"""Subcommands of `mrt`, one module per theme; each exposes `register(subparsers, common)`."""
