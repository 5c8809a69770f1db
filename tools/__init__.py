"""Project tooling kept out of the runtime package: benchmarks, the scrubber evaluation and its labeled set.

Run from the project root, e.g. ``python -m tools.evaluate`` or ``python -m tools.bench``.
"""
