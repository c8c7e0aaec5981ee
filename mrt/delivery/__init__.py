"""Delivery: the outbox state machine, channels (Apprise and our own plugins), templates."""
