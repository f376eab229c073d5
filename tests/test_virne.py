"""Virne instance dumps read into substrates and chains; VNE-like instances with Virne's settings."""

from __future__ import annotations

import math
import re
import shutil
import statistics
from pathlib import Path

import networkx as nx
import pytest
import yaml

from placement.errors import ChainError, SubstrateError
from placement.metrics import revenue
from placement.online import simulate
from placement.substrate import servers, validate_substrate
from placement.virne import read_dump, read_requests, read_substrate
from placement.vne import generate_requests, geant, wx100

DUMP = Path(__file__).resolve().parent / "data" / "virne_small"


@pytest.fixture
def dump(tmp_path):
    """A writable copy of the small dump, to break in one place per test."""
    return Path(shutil.copytree(DUMP, tmp_path / "dump"))


def _edit(path, old, new, count=1):
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count))


# ------------------------------------------------------------------------------------- reading


def test_substrate_maps_every_node_to_a_server():
    G = read_substrate(DUMP)
    raw = nx.read_gml(DUMP / "p_net.gml", label="id")
    validate_substrate(G)
    assert sorted(G) == sorted(str(n) for n in raw)
    assert servers(G) == sorted(G, key=int)
    for n, attrs in raw.nodes(data=True):
        assert G.nodes[str(n)]["cpu"] == attrs["cpu"]
    for u, v, attrs in raw.edges(data=True):
        assert G.edges[str(u), str(v)]["bw"] == attrs["bw"]
        assert G.edges[str(u), str(v)]["delay"] == attrs["ltc"]
    assert read_substrate(DUMP / "p_net.gml").edges == G.edges


def test_requests_become_open_ended_anti_affine_chains():
    G, chains = read_dump(DUMP)
    assert [c.id for c in chains] == ["vnet0", "vnet1", "vnet2", "vnet3"]
    for chain in chains:
        raw = nx.read_gml(DUMP / "v_nets" / f"v_net-{int(chain.id[4:]):05d}.gml", label="id")
        assert chain.ingress is None and chain.egress is None and chain.anti_affinity
        assert [v.cpu for v in chain.vnfs] == [raw.nodes[i]["cpu"] for i in range(len(raw))]
        assert chain.bw == max((a["bw"] for _, _, a in raw.edges(data=True)), default=0.0)
        assert chain.arrival == raw.graph["arrival_time"] and chain.lifetime == raw.graph["lifetime"]
        assert chain.n_links == raw.number_of_edges()
    assert chains[0].link_latency == (50.0, 60.0)
    assert chains[1].link_latency is None and chains[1].bw == 0.0
    assert chains[3].n_links == 0 and revenue(chains[3]) == 9.0
    assert revenue(chains[2]) == 40.0 * 3 + (20 + 15 + 4 + 11)  # the largest link bw on every link


def test_path_order_follows_the_links_not_the_ids(dump):
    # GML ids are positions in the file: write request 2's nodes in the order 1, 3, 2, 0 so
    # that its path 0-1-2-3 reads 3-0-2-1 in ids; VNFs must follow the links from id 1 (old node 3).
    path = dump / "v_nets" / "v_net-00002.gml"
    raw = nx.read_gml(path, label="id")
    shuffled = nx.Graph(**raw.graph)
    shuffled.add_nodes_from((n, raw.nodes[n]) for n in (1, 3, 2, 0))
    shuffled.add_edges_from(raw.edges(data=True))
    nx.write_gml(shuffled, path)
    chain = read_requests(read_substrate(dump), dump)[2]
    assert [v.cpu for v in chain.vnfs] == [11.0, 4.0, 15.0, 20.0]


def test_every_algorithm_runs_the_dump_online():
    G, chains = read_dump(DUMP)
    for name in ("first_fit", "greedy", "milp"):
        result = simulate(G, chains, name, seed=0)  # check=True validates every placement
        assert result.acceptance_ratio >= (0.75 if name == "first_fit" else 1.0)  # first fit runs out of bw
        for row in result.rows:
            assert len(set(row["servers"].values())) == len(row["servers"])


# ------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "file, old, new, error, message",
    [
        ("p_net.gml", "cpu 55", "", SubstrateError, r"p_net.gml: node 1 has no 'cpu' attribute"),
        ("p_net.gml", "bw 75", "bw -75", SubstrateError, r"p_net.gml: edge \(1, 2\) has bw=-75, must be"),
        ("p_net.gml", "ltc 3.5", "", SubstrateError, r"p_net.gml: edge \(1, 2\) has no 'ltc' attribute"),
        ("p_net.gml", "graph [", "graph [[", SubstrateError, r"p_net.gml: not a readable GML file"),
        ("v_nets/v_net-00000.gml", "cpu 7", "", ChainError, r"v_net-00000.gml: node 1 has no 'cpu'"),
        ("v_nets/v_net-00000.gml", "cpu 7", "cpu 101", ChainError,
         r"v_net-00000.gml: node 1 needs cpu 101 but the largest server has 100"),
        ("v_nets/v_net-00000.gml", "bw 45", "", ChainError, r"v_net-00000.gml: link \(1, 2\) has no 'bw'"),
        ("v_nets/v_net-00000.gml", "ltc 60.0", "", ChainError, r"v_net-00000.gml: link \(1, 2\) has no 'ltc'"),
        ("v_nets/v_net-00000.gml", "lifetime 400.0", "", ChainError,
         r"v_net-00000.gml: the request has no graph attribute 'lifetime'"),
        ("events.yaml", "time: 35.5", "time: 36.5", ChainError,
         r"events.yaml: .*v_net 1 arrives at 36.5 .* but v_net-00001.gml says arrival_time=35.5"),
        ("events.yaml", "type: 0", "type: 2", ChainError, r"events.yaml: event \d+: type=2, must be 1 .* or 0"),
        ("events.yaml", "v_net_id: 3", "v_net_id: 7", ChainError, r"events.yaml: events for v_net 7, which has no file"),
        ("events.yaml", "- id: 0", "- {", ChainError, r"events.yaml: not valid YAML"),
    ],
)
def test_bad_dumps_name_file_and_element(dump, file, old, new, error, message):
    _edit(dump / file, old, new)
    with pytest.raises(error, match=message):
        read_dump(dump)


def test_a_request_that_is_not_a_path_is_refused(dump):
    path = dump / "v_nets" / "v_net-00002.gml"
    raw = nx.read_gml(path, label="id")
    raw.add_edge(1, 3, bw=5)  # node 1 now has three links
    nx.write_gml(raw, path)
    with pytest.raises(ChainError, match=r"v_net-00002.gml: the request is not a path: node 1 has 3 links"):
        read_dump(dump)
    raw.remove_edge(1, 3)
    raw.add_edge(0, 3, bw=5)  # a ring: degree 2 everywhere, but n links
    nx.write_gml(raw, path)
    with pytest.raises(ChainError, match=r"v_net-00002.gml: the request is not a path: 4 nodes, 4 links"):
        read_dump(dump)


def test_missing_pieces_are_named(dump):
    (dump / "events.yaml").unlink()
    with pytest.raises(ChainError, match=r"events.yaml: no such file"):
        read_dump(dump)
    shutil.rmtree(dump / "v_nets")
    with pytest.raises(ChainError, match=r"v_nets: no v_net-\*.gml request files"):
        read_dump(dump)
    (dump / "p_net.gml").unlink()
    with pytest.raises(SubstrateError, match=r"p_net.gml: no such file"):
        read_dump(dump)


def test_events_must_be_in_time_order(dump):
    events = yaml.safe_load((dump / "events.yaml").read_text())
    events[0], events[1] = events[1], events[0]
    (dump / "events.yaml").write_text(yaml.dump(events))
    with pytest.raises(ChainError, match=r"events.yaml: event 1 at time 10 comes after one at 35.5"):
        read_dump(dump)


def test_anti_affinity_longer_than_the_substrate_is_refused(dump):
    path = dump / "v_nets" / "v_net-00002.gml"
    long = nx.path_graph(7)
    nx.set_node_attributes(long, 1, "cpu")
    nx.set_edge_attributes(long, 1, "bw")
    long.graph.update(nx.read_gml(path, label="id").graph)
    nx.write_gml(long, path)
    with pytest.raises(ChainError, match=r"v_net-00002.gml: .*anti_affinity needs 7 distinct servers but the substrate has 6"):
        read_dump(dump)


# ------------------------------------------------------------------------------- generated


def test_vne_like_requests_follow_virnes_settings():
    G = wx100(seed=3)
    assert len(G) == 100 and nx.is_connected(G)
    caps = [a["cpu"] for _, a in G.nodes(data=True)] + [a["bw"] for _, _, a in G.edges(data=True)]
    assert all(50 <= c <= 100 and c == int(c) for c in caps) and {50.0, 100.0} <= set(caps)
    rs = generate_requests(G, 2000, seed=3)
    sizes = [len(r.vnfs) for r in rs]
    assert min(sizes) == 2 and max(sizes) == 10
    cpus = [v.cpu for r in rs for v in r.vnfs]
    assert min(cpus) == 0 and max(cpus) == 20 and all(c == int(c) for c in cpus)
    assert min(r.bw for r in rs) == 0 and max(r.bw for r in rs) == 50
    gaps = [b.arrival - a.arrival for a, b in zip(rs, rs[1:])]
    assert statistics.mean(gaps) == pytest.approx(1 / 0.04, rel=0.1)
    assert statistics.mean(r.lifetime for r in rs) == pytest.approx(500.0, rel=0.1)
    assert all(r.ingress is None and r.egress is None and r.anti_affinity for r in rs)
    assert all(math.isinf(r.max_latency) and r.link_latency is None for r in rs)
    assert rs == generate_requests(G, 2000, seed=3) and rs != generate_requests(G, 2000, seed=4)


def test_geant_has_forty_servers_and_runs_online():
    G = geant(seed=1)
    assert len(G) == 40 and len(servers(G)) == 40
    assert nx.utils.graphs_equal(G, geant(seed=1))
    result = simulate(G, generate_requests(G, 60, seed=1), "greedy", seed=1)
    assert 0 < result.acceptance_ratio <= 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"length": (2, 50)}, r"requests need 1 to 40 virtual nodes on this substrate"),
        ({"cpu": (0, 500)}, r"a request node may need 500 but the largest server has \d+"),
        ({"cpu": (5, 1)}, r"cpu must be an int >= 0 or an inclusive \(lo, hi\) pair"),
        ({"arrival_rate": 0}, r"arrival_rate must be a finite number > 0"),
    ],
)
def test_vne_like_bad_settings(kwargs, message):
    with pytest.raises(ChainError, match=message):
        generate_requests(geant(seed=0), 5, **kwargs)


def test_the_dump_format_matches_what_virne_writes():
    # Virne's save_dataset: v_nets/v_net-<5-digit id>.gml, events as a YAML list of {id, type, v_net_id, time}.
    names = sorted(p.name for p in (DUMP / "v_nets").iterdir())
    assert all(re.fullmatch(r"v_net-\d{5}\.gml", n) for n in names)
    events = yaml.safe_load((DUMP / "events.yaml").read_text())
    assert all(set(e) == {"id", "type", "v_net_id", "time"} for e in events)
    assert [e["id"] for e in events] == list(range(len(events))) == list(range(2 * len(names)))
