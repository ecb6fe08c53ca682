"""Tools for development, tests and benchmarks; never used by a production path."""
