"""Operating the store: backup, restore, prune, integrity check, metrics export."""
