"""Optional AI enhancements (summaries, semantic matching); everything works without them."""
