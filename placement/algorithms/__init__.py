"""The built-in placement algorithms, one module each, listed once in :data:`BUILTIN`.

This package imports none of its modules: :func:`placement.base.get_algorithm`
loads an algorithm's module the first time the algorithm is asked for, so
the registry in :mod:`placement.base` and the algorithms (which import it)
form no import cycle.  Third-party algorithms are found the same way through
the ``sfcbench.algorithms`` entry-point group.
"""

BUILTIN = {
    "annealing": "placement.algorithms.annealing:SimulatedAnnealing",
    "bw_greedy": "placement.algorithms.bw_greedy:BandwidthGreedy",
    "first_fit": "placement.algorithms.first_fit:FirstFit",
    "genetic": "placement.algorithms.genetic:Genetic",
    "grc": "placement.algorithms.grc:GRC",
    "greedy": "placement.algorithms.greedy:Greedy",
    "local_search": "placement.algorithms.local_search:LocalSearch",
    "milp": "placement.algorithms.milp:MILP",
    "pagerank": "placement.algorithms.pagerank:PageRank",
    "random": "placement.algorithms.random:RandomPlacement",
    "rw_rank": "placement.algorithms.rw_rank:RWRank",
    "tabu": "placement.algorithms.tabu:TabuSearch",
}
"""Registry name -> ``"module:Class"`` (entry-point syntax) of every built-in algorithm.

Adding a built-in algorithm is one line here (plus its ``conf/algo/*.yaml``).
"""

__all__ = ["BUILTIN"]
