"""Benchmarks and the chaos run: scripts that print figures (python -m bench.<name>)."""
