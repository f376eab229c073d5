"""bw_greedy: fewest hops first, then the richest server; and its edge over the node-ranking baselines online."""

from __future__ import annotations

import pytest

from placement.algorithms.bw_greedy import BandwidthGreedy
from placement.errors import Infeasible
from placement.model import VNF, Chain
from placement.online import simulate
from placement.topologies import line
from placement.vne import geant, generate_requests

NODE_RANKING = ("grc", "rw_rank", "pagerank")


def test_fewer_hops_beat_a_richer_server():
    """srv2 has the most CPU left, but srv1 is one hop from the first VNF and srv2 two."""
    G = line(3, cpu=2.0)
    G.nodes["srv0"]["cpu"] = 100.0
    G.nodes["srv2"]["cpu"] = 50.0
    c = Chain("c", (VNF("a"), VNF("b")), anti_affinity=True)
    assert BandwidthGreedy().place(G, [c]).embeddings["c"].servers == ("srv0", "srv1")


def test_backtracking_completes_what_the_first_choice_cannot():
    """The richest first server, the middle of a line, leaves the third VNF no server within one hop."""
    G = line(3, cpu=2.0)
    G.nodes["srv1"]["cpu"] = 100.0
    c = Chain("c", (VNF("a"), VNF("b"), VNF("c")), anti_affinity=True, link_latency=(1.0, 1.0))
    with pytest.raises(Infeasible):
        BandwidthGreedy(backtracks=2).place(G, [c])
    assert BandwidthGreedy(backtracks=3).place(G, [c]).embeddings["c"].servers == ("srv0", "srv1", "srv2")


@pytest.mark.parametrize("backtracks", [-1, 1.5, True, "3"])
def test_bad_backtracks_is_one_clear_error(backtracks):
    G = line(2)
    with pytest.raises(ValueError, match="bw_greedy backtracks must be an integer >= 0"):
        BandwidthGreedy(backtracks=backtracks).place(G, [Chain("c", (VNF("a"),))])


def test_accepts_more_than_every_node_ranking_baseline_online_on_geant():
    """The online target of benchmarks/placement.py in small: one GEANT instance, 300 Virne-like requests.

    Bandwidth runs out first on GEANT; bw_greedy spends less of it per
    request, so it accepts more than the best node-ranking baseline.
    """
    G = geant(seed=7)
    requests = generate_requests(G, 300, seed=7)
    ours = simulate(G, requests, "bw_greedy", seed=0).acceptance_ratio
    best = max(simulate(G, requests, name, seed=0).acceptance_ratio for name in NODE_RANKING)
    assert ours > best
