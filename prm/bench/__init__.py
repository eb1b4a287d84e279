"""Benchmarks behind `prm bench`: each prints its measurements next to a baseline taken in the same run."""
