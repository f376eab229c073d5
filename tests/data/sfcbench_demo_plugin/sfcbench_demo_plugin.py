"""A third-party placement algorithm: greedy that spreads VNFs over lightly used servers."""

from placement.algorithms.greedy import Greedy


class Spread(Greedy):
    """Greedy with a heavy load term by default, so that VNFs spread out rather than pack."""

    def __init__(self, *, load_weight=10.0):
        super().__init__(load_weight=load_weight)


def not_an_algorithm():
    """Named by an entry point on purpose: sfcbench must refuse it."""
