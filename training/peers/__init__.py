"""Benchmark pipeline runners, each run as a subprocess (peers in their own venvs); see training/bench.py."""
