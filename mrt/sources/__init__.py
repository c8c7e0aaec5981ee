"""Source plugins: one module per platform, discovered through the `mrt.sources` entry points."""
