"""What the node-ranking baselines share: resource vectors, one propagation step, the mapping.

The ranking baselines of virtual network embedding (GRC, the random-walk
rank, PageRank) score every substrate node from its free CPU and the free
bandwidth around it, then map each virtual node on the best-ranked
substrate node that can host it.  Here the scores are recomputed from the
residual substrate before each chain (each request, as in the papers), and
the mapping runs on :func:`._sequential.embed_chain`: the VNFs of a chain
are taken in chain order and each goes on the best-ranked *feasible*
candidate (capacity, bandwidth to its predecessor, latency budget,
anti-affinity), its virtual link routed on the shortest-delay path with the
chain's bandwidth free.  Ranks are computed on edge lists with
:func:`numpy.bincount`, so one ranking costs O(iterations x edges).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..model import BW, CPU, KIND, SERVER
from ..substrate import servers
from ._sequential import SequentialPlacement, check_backtracks, embed_backtracking


DENSE_NODES = 500
"""Up to this many nodes a walk step is a dense matrix product (a 2 MB matrix), faster than edge lists."""


class ResourceGraph:
    """The residual substrate as arrays: node list, free CPU, directed edge list with free bandwidth.

    Every undirected edge appears in both directions (``src[k] -> dst[k]``
    with bandwidth ``bw[k]``); switches have CPU 0.

    Examples
    --------
    >>> from placement.topologies import line
    >>> R = ResourceGraph(line(3, cpu=2.0, bw=10.0))
    >>> R.nodes, R.cpu.tolist(), R.node_bw.tolist()
    (['srv0', 'srv1', 'srv2'], [2.0, 2.0, 2.0], [10.0, 20.0, 10.0])
    """

    def __init__(self, G):
        self.nodes = list(G)
        index = {n: i for i, n in enumerate(self.nodes)}
        self.cpu = np.array([a[CPU] if a.get(KIND) == SERVER else 0.0 for a in G._node.values()], dtype=float)
        m = G.number_of_edges()
        flat = np.fromiter((x for u, v, b in G.edges(data=BW) for x in (index[u], index[v], b)), float, 3 * m)
        flat = flat.reshape(m, 3)
        ends = flat[:, :2].astype(int)
        self.src = np.concatenate([ends[:, 0], ends[:, 1]])
        self.dst = np.concatenate([ends[:, 1], ends[:, 0]])
        self.bw = np.concatenate([flat[:, 2], flat[:, 2]])

    @property
    def n(self) -> int:
        return len(self.nodes)

    @property
    def node_bw(self) -> np.ndarray:
        """Free bandwidth of the links around each node (the sum over its incident edges)."""
        return np.bincount(self.src, weights=self.bw, minlength=self.n)

    def walk(self, weight):
        """One step of a walk leaving node ``u`` along edge ``k`` with probability ``weight[k] / out(u)``.

        Returns ``step(x)``, the mass each node receives from ``x``; the mass
        of nodes with no outgoing weight (dangling) is lost, callers put it
        back as they see fit.
        """
        out = np.bincount(self.src, weights=weight, minlength=self.n)[self.src]
        share = np.divide(weight, out, out=np.zeros_like(weight), where=out > 0)
        src, dst, n = self.src, self.dst, self.n
        if n <= DENSE_NODES:
            matrix = np.bincount(dst * n + src, weights=share, minlength=n * n).reshape(n, n)
            return matrix.__matmul__
        return lambda x: np.bincount(dst, weights=x[src] * share, minlength=n)

    def dangling(self, weight) -> np.ndarray:
        """Mask of the nodes with no outgoing weight."""
        return np.bincount(self.src, weights=weight, minlength=self.n) <= 0

    def as_dict(self, values) -> dict:
        """``{node: float(value)}`` in node order."""
        return dict(zip(self.nodes, map(float, values)))


def normalised(values) -> np.ndarray:
    """``values / values.sum()``, or uniform when the sum is 0 (nothing left anywhere)."""
    total = values.sum()
    return values / total if total > 0 else np.full(len(values), 1.0 / max(len(values), 1))


def iterate(step, start, *, tol, max_iter, norm=2, what="ranking"):
    """``x <- step(x)`` from ``start`` until ``||x_new - x||_norm < tol``; the last ``x``.

    Raises ``RuntimeError`` (naming ``what`` and how to fix it) if ``max_iter``
    steps do not converge.

    Examples
    --------
    >>> iterate(lambda x: 0.5 * x + 1.0, np.zeros(1), tol=1e-9, max_iter=100)
    array([2.])
    """
    x = start
    for _ in range(int(max_iter)):
        new = step(x)
        if np.linalg.norm(new - x, ord=norm) < tol:
            return new
        x = new
    raise RuntimeError(f"{what} did not converge to tol={tol:g} in {max_iter} iterations: raise max_iter or tol")


def check_probability(name, value, *, closed=False):
    """One clear ``ValueError`` unless ``value`` is a number in [0, 1) (or [0, 1] when ``closed``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 <= value and (
        value <= 1 if closed else value < 1
    )
    if not ok:
        raise ValueError(f"{name} must be a number in [0, {'1]' if closed else '1)'}, got {value!r}")


def check_positive(name, value):
    """One clear ``ValueError`` unless ``value`` is a positive number."""
    if not (isinstance(value, numbers.Real) and not isinstance(value, bool) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def embed_by_rank(G, chain, score, server_list, backtracks):
    """Embed ``chain`` taking, VNF by VNF, the best-scored candidate, backtracking on failure.

    Depth-first in rank order (:func:`._sequential.embed_backtracking`): when
    a chain cannot be completed, the last choice made is banned and the chain
    is embedded again, at most ``backtracks`` times.
    """
    return embed_backtracking(G, chain, lambda step, options: max(options, key=score.__getitem__), server_list,
                              backtracks)


class RankedPlacement(SequentialPlacement):
    """Base of the node-ranking baselines: each VNF on the best-ranked feasible server.

    Subclasses implement :meth:`rank` (residual graph -> ``{node: score}``)
    and :meth:`_check`, and store ``backtracks``: when a chain cannot be
    completed, the mapping backtracks in rank order that many times at most,
    as the backtracking node mapping of Cheng et al.'s RW-BFS does (a
    failure-free mapping is the plain rank order).  Ranks are recomputed
    before each chain, ties go to the first candidate in node order.
    Deterministic: the ``seed`` is ignored.
    """

    def rank(self, G) -> dict:
        """Score of every node of residual ``G`` (higher is better)."""
        raise NotImplementedError

    def _check(self) -> None:
        """Raise ``ValueError`` on bad parameters."""
        check_backtracks(self.name, self.backtracks)

    def _place(self, residual, chains, rng):
        self._check()
        server_list = servers(residual)
        return {c.id: embed_by_rank(residual, c, self.rank(residual), server_list, self.backtracks) for c in chains}
