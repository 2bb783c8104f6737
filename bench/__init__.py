"""Benchmarks: `python -m bench <name>` runs `bench.<name>.main()`; figures go to docs/benchmarks.md."""
