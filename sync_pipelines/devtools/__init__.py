"""Local stand-ins for external systems, for the demo, benchmarks and tests."""
