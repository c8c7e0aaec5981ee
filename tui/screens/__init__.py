"""Console screens, one class a file."""
