"""The algorithm interface, the registry, and the one placement checker.

Every placement algorithm is a :class:`PlacementAlgorithm` (scikit-learn
style: ``__init__`` only stores keyword parameters) with one verb,
:meth:`~PlacementAlgorithm.place`, which embeds *all* given chains jointly or
raises :class:`~placement.errors.Infeasible`.  Algorithms have a short name
(the built-in ones listed in :data:`placement.algorithms.BUILTIN`, others
added by installed packages through the :data:`ENTRY_POINT_GROUP` entry
points) so that configurations and benchmarks pick them by string.
:func:`validate_placement` is the shared referee: tests, the online
simulator and users check any placement with it.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
import warnings
from importlib import metadata

import numpy as np

from .algorithms import BUILTIN
from .errors import AlgorithmLoadError, ChainError, Infeasible, InvalidPlacement, UnknownAlgorithm
from .metrics import chain_latency
from .model import BW, CPU, KIND, MEM, SERVER, Chain, Placement
from .numeric import number_fault
from .residual import check_residual, link_endpoints, path_delay, path_edges, usage, working_copy
from .substrate import servers
from .workload import validate_chain

__all__ = [
    "PlacementAlgorithm",
    "ENTRY_POINT_GROUP",
    "get_algorithm",
    "algorithm_class",
    "available_algorithms",
    "algorithm_entry_points",
    "registered_name",
    "validate_placement",
    "check_placement",
]

TOLERANCE = 1e-6
"""Slack of :func:`validate_placement` on capacities and latency bounds.

Looser than the algorithms' own :data:`placement.residual.EPS` (1e-9), so a
placement an algorithm accepts is never rejected for round-off.
"""

class PlacementAlgorithm:
    """Base class of placement algorithms: parameters in, one ``place`` verb.

    Subclasses take their parameters as keyword arguments of ``__init__``,
    store each under the same attribute name and implement
    :meth:`_place`.  The base :meth:`place` checks the inputs, copies the
    substrate (so it is never mutated), turns ``seed`` into a
    :class:`numpy.random.Generator` and times the call.

    Examples
    --------
    >>> algo = get_algorithm("greedy", load_weight=0.5)
    >>> algo
    Greedy(load_weight=0.5)
    >>> algo.get_params()
    {'load_weight': 0.5}
    """

    @property
    def name(self) -> str:
        """The name this algorithm is registered under ('' if none), as configurations and results call it."""
        return registered_name(type(self))

    def get_params(self) -> dict:
        """The keyword parameters of ``__init__`` and their current values."""
        return {p: getattr(self, p) for p in self._param_names()}

    def set_params(self, **params) -> PlacementAlgorithm:
        """Change parameters in place (unknown names raise ``ValueError``); return self."""
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"{type(self).__name__} has no parameter {key!r}; valid: {valid}")
            setattr(self, key, value)
        return self

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def skip(self, substrate, chains) -> tuple[bool, str]:
        """Whether this algorithm declines the instance (like benchopt), and why.

        The default accepts everything; the MILP declines instances too big
        to solve in reasonable time.
        """
        return False, ""

    def place(self, substrate, chains, *, seed=None) -> Placement:
        """Embed every chain of ``chains`` on ``substrate``, or raise :class:`Infeasible`.

        ``substrate`` holds the capacities still free (a fresh substrate, or
        the residual graph of an online run) and is not modified.  ``seed``
        (int, :class:`numpy.random.Generator` or None) drives every random
        choice: the same int gives the same embeddings.  ``solve_time`` is the
        wall time of the whole call.

        Raises
        ------
        Infeasible
            No joint embedding was found; ``chain_id`` names the culprit when
            one chain is to blame.
        ChainError, SubstrateError
            The inputs are malformed.
        """
        start = time.perf_counter()
        check_residual(substrate)
        chains = list(chains)
        _check_chains(substrate, chains)
        rng = np.random.default_rng(seed)
        result = self._place(working_copy(substrate), chains, rng) if chains else {}
        placement = result if isinstance(result, Placement) else Placement(dict(result))
        placement.solve_time = time.perf_counter() - start
        return placement

    def _place(self, residual, chains: list[Chain], rng: np.random.Generator):
        """Embed ``chains`` on ``residual`` (a private copy: consume it freely).

        Return a :class:`Placement` or a dict ``chain id -> Embedding``.
        """
        raise NotImplementedError


def _check_chains(substrate, chains):
    """Malformed chains raise :class:`ChainError`; ones too big for any server, :class:`Infeasible`."""
    seen = set()
    for chain in chains:
        if not isinstance(chain, Chain):
            raise ChainError(f"expected a Chain, got {type(chain).__name__}: build chains with placement.model.Chain")
        if chain.id in seen:
            raise ChainError(f"duplicate chain id {chain.id!r}: chain ids must be unique in a batch")
        seen.add(chain.id)
        try:
            validate_chain(substrate, chain)
        except ChainError:
            oversize = _oversize_resource(substrate, chain)
            if oversize is None:
                raise
            capped = _capped(substrate, chain)
            validate_chain(substrate, capped)  # still malformed otherwise: ChainError
            raise Infeasible(
                f"chain {chain.id!r}: a VNF needs more {oversize} than any server has free",
                chain_id=chain.id,
                reason=oversize,
            ) from None


def _largest(substrate):
    caps = [substrate.nodes[s] for s in servers(substrate)]
    return {r: max((a.get(r, 0.0) for a in caps), default=0.0) for r in (CPU, MEM)}


def _oversize_resource(substrate, chain):
    """``"cpu"``/``"mem"`` if some VNF exceeds every server's free capacity, else None."""
    largest = _largest(substrate)
    for resource in (CPU, MEM):
        if any(_exceeds(getattr(v, resource), largest[resource]) for v in chain.vnfs):
            return resource
    return None


def _exceeds(demand, capacity) -> bool:
    """Whether ``demand`` is a well-formed demand (see :func:`validate_chain`) above ``capacity``."""
    return number_fault(demand, allow_inf=True) is None and demand > capacity


def _capped(substrate, chain):
    """``chain`` with over-size VNF demands cut to the largest server (to check the rest)."""
    largest = _largest(substrate)

    def cap(v):
        changes = {r: largest[r] for r in (CPU, MEM) if _exceeds(getattr(v, r), largest[r])}
        return dataclasses.replace(v, **changes)

    return dataclasses.replace(chain, vnfs=tuple(cap(v) for v in chain.vnfs))


# --------------------------------------------------------------------- registry

ENTRY_POINT_GROUP = "sfcbench.algorithms"
"""Entry-point group through which an installed package adds algorithms.

A package declares ``name = "module:Class"`` in this group (``[project.entry-points."sfcbench.algorithms"]``
of its ``pyproject.toml``); the class must subclass :class:`PlacementAlgorithm`.
"""


_WARNED: set[str] = set()


def _builtin_entries() -> dict[str, metadata.EntryPoint]:
    return {name: metadata.EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in BUILTIN.items()}


def _origin(ep: metadata.EntryPoint) -> str:
    """Where an algorithm comes from, in words: the built-in list, or a package's entry point."""
    if ep.name in BUILTIN and ep.value == BUILTIN[ep.name]:
        return f"built-in algorithm {ep.name!r} ({ep.value})"
    dist = getattr(ep, "dist", None)
    package = f" of package {dist.name} {dist.version}" if dist is not None else ""
    return f"entry point {ep.name} = {ep.value!r}{package} (group {ENTRY_POINT_GROUP})"


def algorithm_entry_points() -> dict[str, metadata.EntryPoint]:
    """The third-party algorithms: installed entry points of :data:`ENTRY_POINT_GROUP`, by name.

    Nothing is imported.  An entry point whose name is already taken (by a
    built-in or by another package) is ignored with a warning naming its
    package, so that no package can hide a built-in algorithm.
    """
    found = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in BUILTIN or ep.name in found:
            owner = _origin(found[ep.name]) if ep.name in found else "a built-in algorithm"
            message = f"{_origin(ep)} is ignored: {ep.name!r} is already {owner}; rename the entry point"
            if message not in _WARNED:  # once per process, however often the registry is read
                _WARNED.add(message)
                warnings.warn(message, stacklevel=2)
            continue
        found[ep.name] = ep
    return found


def available_algorithms() -> list[str]:
    """Sorted names of every algorithm: the built-in ones and those of installed packages.

    Names only: no algorithm module is imported, so a broken package cannot
    hide the others (it fails when asked for, see :func:`algorithm_class`).

    Examples
    --------
    >>> {"first_fit", "genetic", "greedy", "milp", "random"} <= set(available_algorithms())
    True
    """
    return sorted({*BUILTIN, *algorithm_entry_points()})


def algorithm_class(name: str) -> type[PlacementAlgorithm]:
    """The class registered as ``name``, its module imported on first use.

    Raises
    ------
    UnknownAlgorithm
        No built-in algorithm or installed entry point has this name.
    AlgorithmLoadError
        The entry point cannot be imported or does not name a
        :class:`PlacementAlgorithm` subclass; the message names the package.

    Examples
    --------
    >>> algorithm_class("greedy").__name__
    'Greedy'
    """
    entries = _builtin_entries() if name in BUILTIN else algorithm_entry_points()
    ep = entries.get(name) if isinstance(name, str) else None
    if ep is None:
        raise UnknownAlgorithm(f"unknown algorithm {name!r}: choose one of {', '.join(available_algorithms())}")
    try:
        cls = ep.load()
    except Exception as e:
        raise AlgorithmLoadError(
            f"{_origin(ep)} cannot be loaded ({type(e).__name__}: {e}); fix or uninstall that package"
        ) from e
    if not (isinstance(cls, type) and issubclass(cls, PlacementAlgorithm)):
        raise AlgorithmLoadError(
            f"{_origin(ep)} names a {type(cls).__name__}, not a placement.base.PlacementAlgorithm subclass; "
            "point it at the algorithm's class"
        )
    return cls


def registered_name(cls: type) -> str:
    """The name ``cls`` is registered under, or ``""`` (a subclass does not inherit its parent's name).

    Examples
    --------
    >>> from placement.algorithms.greedy import Greedy
    >>> registered_name(Greedy), registered_name(PlacementAlgorithm)
    ('greedy', '')
    """
    where = (cls.__module__, cls.__qualname__)
    builtin = _builtin_entries()
    for name, ep in builtin.items():
        if (ep.module, ep.attr) == where:
            return name
    plugins = algorithm_entry_points()
    for name, ep in plugins.items():
        if (ep.module, ep.attr) == where:
            return name
    for name, ep in plugins.items():  # an entry point may name a re-export of the class
        try:
            if ep.load() is cls:
                return name
        except Exception:  # a broken package says so when it is asked for by name
            continue
    return ""


def get_algorithm(name: str, **params) -> PlacementAlgorithm:
    """A new instance of the algorithm registered as ``name`` with ``params``.

    Examples
    --------
    >>> get_algorithm("first_fit").name
    'first_fit'
    >>> get_algorithm("best_fit")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    placement.errors.UnknownAlgorithm: unknown algorithm 'best_fit': choose one of ..., first_fit, genetic, ...
    """
    cls = algorithm_class(name)
    unknown = sorted(set(params) - set(cls._param_names()))
    if unknown:
        raise ValueError(f"{name} has no parameter(s) {unknown}; valid: {cls._param_names()}")
    return cls(**params)


# ------------------------------------------------------------------- validation


def _embedding_problems(G, chain, embedding) -> list[str]:
    """Structural problems of one embedding: servers, path ends, continuity."""
    who = f"chain {chain.id!r}"
    if embedding.chain_id != chain.id:
        return [f"{who}: embedding is labelled {embedding.chain_id!r}"]
    if len(embedding.servers) != len(chain.vnfs):
        return [f"{who}: {len(embedding.servers)} servers for {len(chain.vnfs)} VNFs"]
    problems = [
        f"{who}: VNF {i} on {s!r}, which is not a server of the substrate"
        for i, s in enumerate(embedding.servers)
        if s not in G or G.nodes[s].get(KIND) != SERVER
    ]
    if len(embedding.paths) != chain.n_links:
        return problems + [f"{who}: {len(embedding.paths)} paths for {chain.n_links} virtual links"]
    for i, (path, (src, dst)) in enumerate(zip(embedding.paths, link_endpoints(chain, embedding.servers))):
        where = f"{who}: link {i} path {list(path)}"
        if not path or path[0] != src or path[-1] != dst:
            problems.append(f"{where} must run from {src!r} to {dst!r}")
        elif len(set(path)) != len(path):
            problems.append(f"{where} visits a node twice (not a simple path)")
        else:
            problems += [f"{where} uses {u!r}-{v!r}, not an edge" for u, v in path_edges(path) if not G.has_edge(u, v)]
    return problems


def validate_placement(substrate, chains, placement: Placement) -> list[str]:
    """Every constraint ``placement`` breaks, one sentence each (empty when valid).

    Checks that each chain has an embedding (and no stranger does), that every
    VNF sits on an existing server, that each virtual link's path is a simple
    path over existing edges from the right node to the right node, that
    CPU, memory and bandwidth fit cumulatively over all chains, that each
    chain's model latency is within its ``max_latency`` and each virtual
    link's delay within its ``link_latency`` bound, and that the VNFs of an
    anti-affinity chain sit on distinct servers.

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF, Embedding
    >>> G = line(3, cpu=1.0)
    >>> c = Chain("c", (VNF("fw", cpu=2.0),), ingress="srv0", egress="srv2")
    >>> p = Placement({"c": Embedding("c", ("srv1",), (("srv0", "srv1"), ("srv1", "srv0", "srv2")))})
    >>> for problem in validate_placement(G, [c], p):
    ...     print(problem)
    chain 'c': link 1 path ['srv1', 'srv0', 'srv2'] uses 'srv0'-'srv2', not an edge
    >>> p = Placement({"c": Embedding("c", ("srv1",), (("srv0", "srv1"), ("srv1", "srv2")))})
    >>> validate_placement(G, [c], p)
    ["server 'srv1': cpu over capacity (2 used of 1)"]
    >>> r = Chain("r", (VNF("a", cpu=0.5), VNF("b", cpu=0.5)), anti_affinity=True, link_latency=(0.5,))
    >>> validate_placement(G, [r], Placement({"r": Embedding("r", ("srv1", "srv1"), (("srv1",),))}))
    ["chain 'r': VNFs [0, 1] share server 'srv1' but the chain asks for anti-affinity"]
    >>> validate_placement(G, [r], Placement({"r": Embedding("r", ("srv1", "srv2"), (("srv1", "srv2"),))}))
    ["chain 'r': virtual link 0 delay 1 ms over its bound 0.5 ms"]
    """
    chains = list(chains)
    known = {c.id for c in chains}
    problems = [f"embedding for unknown chain {cid!r}" for cid in placement.embeddings if cid not in known]
    sound = {}
    for chain in chains:
        embedding = placement.embeddings.get(chain.id)
        if embedding is None:
            problems.append(f"chain {chain.id!r}: not embedded")
            continue
        structural = _embedding_problems(substrate, chain, embedding)
        if structural:
            problems += structural
            continue
        sound[chain.id] = embedding
        latency = chain_latency(substrate, chain, embedding)
        if latency > chain.max_latency + TOLERANCE:
            problems.append(f"chain {chain.id!r}: latency {latency:g} ms over its bound {chain.max_latency:g} ms")
        problems += _chain_rule_problems(substrate, chain, embedding)
    return problems + _capacity_problems(substrate, *usage(chains, sound))


def _chain_rule_problems(G, chain, embedding) -> list[str]:
    """Anti-affinity and per-virtual-link latency violations of one sound embedding."""
    who, problems = f"chain {chain.id!r}", []
    if chain.anti_affinity:
        shared = sorted({s for s in embedding.servers if embedding.servers.count(s) > 1}, key=str)
        for s in shared:
            vnfs = [i for i, t in enumerate(embedding.servers) if t == s]
            problems.append(f"{who}: VNFs {vnfs} share server {s!r} but the chain asks for anti-affinity")
    if chain.link_latency is not None and len(chain.link_latency) != chain.n_links:
        return problems + [f"{who}: link_latency has {len(chain.link_latency)} bounds for {chain.n_links} links"]
    for j, path in enumerate(embedding.paths):
        delay, bound = path_delay(G, path), chain.link_bound(j)
        if delay > bound + TOLERANCE:
            problems.append(f"{who}: virtual link {j} delay {delay:g} ms over its bound {bound:g} ms")
    return problems


def _capacity_problems(substrate, node_use, edge_use) -> list[str]:
    problems = []
    for s, used in node_use.items():
        for r in (CPU, MEM):
            cap = substrate.nodes[s][r]
            if used[r] > cap + TOLERANCE:
                problems.append(f"server {s!r}: {r} over capacity ({used[r]:g} used of {cap:g})")
    for key, used in edge_use.items():
        u, v = key
        cap = substrate.edges[u, v][BW]
        if used > cap + TOLERANCE:
            problems.append(f"edge {(u, v)!r}: bw over capacity ({used:g} used of {cap:g})")
    return problems


def check_placement(substrate, chains, placement: Placement) -> None:
    """Raise :class:`~placement.errors.InvalidPlacement` if :func:`validate_placement` finds anything.

    Examples
    --------
    >>> from placement.topologies import line
    >>> from placement.model import VNF
    >>> G = line(2)
    >>> c = Chain("c", (VNF("fw"),), ingress="srv0", egress="srv1")
    >>> check_placement(G, [c], get_algorithm("greedy").place(G, [c]))
    >>> check_placement(G, [c], Placement())
    Traceback (most recent call last):
    ...
    placement.errors.InvalidPlacement: invalid placement: chain 'c': not embedded
    """
    problems = validate_placement(substrate, chains, placement)
    if problems:
        raise InvalidPlacement(problems)

