"""Experiments: run, sweep, verify and report placement (and testbed) benchmarks.

``python -m experiments.run`` (Hydra app, configuration in ``conf/``),
``python -m experiments.verify PATH...`` and ``python -m experiments.report PATH...``.
"""
