"""The public conformance check of placement algorithms, for this project and for third-party ones.

In the spirit of scikit-learn's ``check_estimator``: :func:`check_algorithm`
runs an algorithm class through small hand-built instances and checks the
contract of :meth:`placement.base.PlacementAlgorithm.place` that the
experiments, the online simulator and the parallel launchers rely on.  A
package that adds an algorithm calls it from its own tests::

    from placement.checks import check_algorithm
    from my_package import MyAlgorithm

    def test_my_algorithm_conforms():
        check_algorithm(MyAlgorithm)

Each check raises an :class:`AssertionError` that names the check and what
was wrong.  The checks are also available one by one in :data:`CHECKS`, so
that a test suite can report them separately.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle

import networkx as nx
import numpy as np

from .base import PlacementAlgorithm, validate_placement
from .errors import Infeasible
from .model import VNF, Chain, Placement
from .topologies import line, star, tree
from .workload import generate_chains

__all__ = ["check_algorithm", "CHECKS", "substrate_snapshot"]

REASONS = frozenset(
    {"cpu", "mem", "bandwidth", "latency", "no-path", "anti-affinity", "infeasible", "time-limit", "solver"}
)
"""The ``reason`` tags an :class:`~placement.errors.Infeasible` may carry (see its docstring)."""


def substrate_snapshot(G):
    """Everything about graph ``G`` that an algorithm must leave unchanged (deep copies of every attribute).

    Examples
    --------
    >>> G = line(2)
    >>> before = substrate_snapshot(G)
    >>> G.nodes["srv0"]["cpu"] -= 1
    >>> substrate_snapshot(G) == before
    False
    """
    return (
        copy.deepcopy(G.graph),
        [(n, copy.deepcopy(d)) for n, d in G.nodes(data=True)],
        [(u, v, copy.deepcopy(d)) for u, v, d in G.edges(data=True)],
    )


# ----------------------------------------------------------------- instances


def _feasible_instances():
    """Small instances every algorithm should place: ample capacity, loose latency bounds."""
    G = star(4, cpu=4.0)
    yield "star", G, generate_chains(G, 4, length=(1, 3), bw=(1.0, 10.0), seed=1)
    G = line(5)
    yield "line", G, generate_chains(G, 3, max_latency=(12.0, 20.0), seed=2)
    G = tree(2, 3, cpu=2.0)
    yield "tree", G, generate_chains(G, 3, endpoints="any", seed=3)
    # Two 60 Mbit/s chains cannot share the 100 Mbit/s link srv0-srv1: one goes the long way round.
    G = nx.cycle_graph(["srv0", "srv1", "srv2", "srv3"])
    nx.set_node_attributes(G, {n: {"kind": "server", "cpu": 8.0, "mem": 8192.0} for n in G})
    nx.set_edge_attributes(G, 100.0, "bw")
    nx.set_edge_attributes(G, 1.0, "delay")
    yield "ring-shared-link", G, [Chain(f"c{i}", (VNF("fw"),), "srv0", "srv1", bw=60.0) for i in range(2)]
    # Chains without ingress, egress or both; some with anti-affinity.
    G = star(4, cpu=4.0)
    chains = generate_chains(G, 4, length=(1, 3), seed=8)
    yield "star-mixed-ends", G, [
        dataclasses.replace(c, ingress=None if k % 2 else c.ingress, egress=None if k > 1 else c.egress,
                            anti_affinity=k % 3 == 0)
        for k, c in enumerate(chains)
    ]


def _infeasible_instances():
    """``(case, substrate, chains, reasons accepted)``: instances no placement satisfies, by cause."""
    G = star(2, cpu=4.0)  # room for two 4-core VNFs, not three
    yield "cpu", G, [Chain(f"c{i}", (VNF("ids", cpu=4.0),), "srv0", "srv1") for i in range(3)], {"cpu", "infeasible"}
    G = line(3, bw=5.0)
    yield "bandwidth", G, [Chain("wide", (VNF("fw"),), "srv0", "srv2", bw=10.0)], {"bandwidth", "infeasible"}
    G = line(4, delay=1.0)  # srv0 to srv3 takes at least 3 ms
    yield "latency", G, [Chain("fast", (VNF("fw", proc_delay=0.1),), "srv0", "srv3", max_latency=3.05)], {"latency"}
    G = star(3)
    G.add_node("island", kind="switch", cpu=0.0, mem=0.0)  # no links at all
    yield "no-path", G, [Chain("lost", (VNF("fw"),), "island", "srv1")], {"no-path"}


# ----------------------------------------------------------------- the checks


def _fail(check, what):
    raise AssertionError(f"{check.__name__}: {what}")


def _build(cls, params):
    return cls(**(params or {}))


def _place(check, algo, label, G, chains, seed):
    """``algo.place``; any exception other than :class:`Infeasible` fails ``check``."""
    try:
        return algo.place(G, chains, seed=seed)
    except Infeasible:
        raise
    except Exception as e:
        _fail(check, f"instance {label!r}: place() raised {type(e).__name__}: {e} "
              "(only placement.errors.Infeasible may signal that no placement was found)")


def _answer(check, algo, label, G, chains, seed):
    """The placement of a feasible instance, or fail ``check`` saying why there is none."""
    try:
        return _place(check, algo, label, G, chains, seed)
    except Infeasible as e:
        _fail(check, f"place() found no placement of the feasible instance {label!r} (Infeasible: {e})")


def check_params(cls, params=None):
    """``get_params`` holds the ``__init__`` keywords as given; ``set_params`` and rebuilding round-trip."""
    algo = _build(cls, params)
    got = algo.get_params()
    for key, value in (params or {}).items():
        if key not in got or (got[key] is not value and got[key] != value):
            _fail(check_params, f"__init__ got {key}={value!r} but get_params() holds {got.get(key, '<nothing>')!r}: "
                  "__init__ must store each keyword argument under its own name")
    clone = cls(**got)
    if clone.get_params() != got or repr(clone) != repr(algo):
        _fail(check_params, f"{cls.__name__}(**get_params()) gives {clone!r}, not {algo!r}")
    if algo.set_params(**got) is not algo or algo.get_params() != got:
        _fail(check_params, "set_params(**get_params()) must return the instance and leave the parameters as they were")


def check_place_contract(cls, params=None):
    """Each feasible instance gets a :class:`Placement` of its chains that :func:`validate_placement` accepts."""
    algo = _build(cls, params)
    for label, G, chains in _feasible_instances():
        placement = _answer(check_place_contract, algo, label, G, chains, 0)
        if not isinstance(placement, Placement):
            _fail(check_place_contract, f"place() returned a {type(placement).__name__}, not a Placement ({label!r})")
        if set(placement.embeddings) != {c.id for c in chains}:
            _fail(check_place_contract, f"instance {label!r}: embeddings for {sorted(placement.embeddings)}, "
                  f"chains {sorted(c.id for c in chains)}")
        problems = validate_placement(G, chains, placement)
        if problems:
            _fail(check_place_contract, f"instance {label!r}: invalid placement: {'; '.join(problems)}")
        if not (isinstance(placement.solve_time, float) and placement.solve_time >= 0):
            _fail(check_place_contract, f"solve_time={placement.solve_time!r} is not a duration in seconds")
    empty = _place(check_place_contract, algo, "no chains", star(2), [], 0)
    if not (isinstance(empty, Placement) and empty.embeddings == {}):
        _fail(check_place_contract, f"place() of no chains returned {empty!r}, not an empty Placement")


def check_infeasible(cls, params=None):
    """Instances infeasible for lack of CPU, bandwidth, latency or a path raise :class:`Infeasible` with that reason."""
    algo = _build(cls, params)
    for case, G, chains, reasons in _infeasible_instances():
        try:
            placement = _place(check_infeasible, algo, case, G, chains, 0)
        except Infeasible as e:
            if e.reason not in reasons:
                _fail(check_infeasible,
                      f"{case} case: Infeasible reason {e.reason!r}, expected one of {sorted(reasons)}")
            if e.chain_id is not None and e.chain_id not in {c.id for c in chains}:
                _fail(check_infeasible, f"{case} case: Infeasible names chain {e.chain_id!r}, which was not given")
        else:
            _fail(check_infeasible, f"{case} case: place() returned {placement!r} instead of raising Infeasible")


def check_determinism(cls, params=None):
    """The same int seed, or a generator seeded alike, gives the same answer; ``seed=None`` works."""
    algo = _build(cls, params)
    for label, G, chains in list(_feasible_instances())[:2]:
        first = _answer(check_determinism, algo, label, G, chains, 7).embeddings
        for again, call in ((7, "a second call with seed=7"), (np.random.default_rng(7), "seed=default_rng(7)")):
            if _answer(check_determinism, algo, label, G, chains, again).embeddings != first:
                _fail(check_determinism, f"instance {label!r}: {call} gives another placement than seed=7: "
                      "draw every random choice from the rng passed to _place")
        placement = _answer(check_determinism, algo, label, G, chains, None)
        problems = validate_placement(G, chains, placement)
        if problems:
            _fail(check_determinism, f"instance {label!r} with seed=None: invalid placement: {'; '.join(problems)}")


def check_inputs_unchanged(cls, params=None):
    """``place`` changes neither its parameters, nor the substrate, nor the list of chains, feasible or not."""
    algo = _build(cls, params)
    cases = [(label, G, chains) for label, G, chains in _feasible_instances()]
    cases += [(case, G, chains) for case, G, chains, _ in _infeasible_instances()]
    for label, G, chains in cases:
        params_before, graph_before = copy.deepcopy(algo.get_params()), substrate_snapshot(G)
        chains_before = list(chains)
        try:
            _place(check_inputs_unchanged, algo, label, G, chains, 0)
        except Infeasible:
            pass
        if algo.get_params() != params_before:
            _fail(check_inputs_unchanged, f"instance {label!r}: parameters {params_before} became {algo.get_params()}: "
                  "keep state of a call out of the parameters")
        if substrate_snapshot(G) != graph_before:
            _fail(check_inputs_unchanged, f"instance {label!r}: place() modified the substrate graph: "
                  "work on the residual copy passed to _place")
        if chains != chains_before:
            _fail(check_inputs_unchanged, f"instance {label!r}: place() reordered or changed the list of chains")


def check_pickle(cls, params=None):
    """The instance pickles, before and after a call (joblib and submitit need it), and the copy answers alike."""
    algo = _build(cls, params)
    label, G, chains = next(_feasible_instances())
    for when in ("before place()", "after place()"):
        try:
            clone = pickle.loads(pickle.dumps(algo))
        except Exception as e:
            _fail(check_pickle, f"the instance cannot be pickled {when} ({type(e).__name__}: {e})")
        if clone.get_params() != algo.get_params():
            _fail(check_pickle, f"unpickled {when}, the parameters are {clone.get_params()}, not {algo.get_params()}")
        mine = _answer(check_pickle, algo, label, G, chains, 3).embeddings
        if _answer(check_pickle, clone, label, G, chains, 3).embeddings != mine:
            _fail(check_pickle, f"unpickled {when}, the copy places instance {label!r} differently with the same seed")


def check_skip(cls, params=None):
    """``skip`` answers ``(bool, reason)``."""
    algo = _build(cls, params)
    label, G, chains = next(_feasible_instances())
    answer = algo.skip(G, chains)
    shaped = isinstance(answer, tuple) and len(answer) == 2
    if not (shaped and isinstance(answer[0], bool) and isinstance(answer[1], str)):
        _fail(check_skip, f"skip() returned {answer!r}, not (bool, reason)")


CHECKS = (check_params, check_place_contract, check_infeasible, check_inputs_unchanged, check_determinism,
          check_pickle, check_skip)
"""Every check of :func:`check_algorithm`, in the order it runs them; each takes ``(cls, params=None)``."""


def check_algorithm(cls, params: dict | None = None) -> None:
    """Run every check of :data:`CHECKS` on the algorithm class ``cls``, built as ``cls(**params)``.

    Raises
    ------
    TypeError
        ``cls`` is not a :class:`~placement.base.PlacementAlgorithm` subclass.
    AssertionError
        A check failed; the message starts with the check's name and says
        what was wrong.

    Examples
    --------
    >>> from placement.algorithms.greedy import Greedy
    >>> check_algorithm(Greedy, {"load_weight": 0.5})
    >>> class Lazy(PlacementAlgorithm):
    ...     def _place(self, residual, chains, rng):
    ...         return {}
    >>> check_algorithm(Lazy)
    Traceback (most recent call last):
    ...
    AssertionError: check_place_contract: instance 'star': embeddings for [], chains ['c0', 'c1', 'c2', 'c3']
    """
    if not (isinstance(cls, type) and issubclass(cls, PlacementAlgorithm)):
        raise TypeError(f"check_algorithm needs a placement.base.PlacementAlgorithm subclass, got {cls!r}")
    for check in CHECKS:
        check(cls, params)
