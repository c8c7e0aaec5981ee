"""Console widgets, one class a file."""
