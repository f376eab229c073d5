"""Chain generation is reproducible and bounded; validate_chain names each problem."""

import json
import math
import statistics

import numpy as np
import pytest

from placement.errors import ChainError
from placement.model import VNF, Chain
from placement.substrate import servers
from placement.topologies import fat_tree, line, star
from placement.workload import (
    DEFAULT_CATALOGUE,
    chains_from_json,
    chains_to_json,
    generate_chains,
    validate_chain,
)


@pytest.fixture
def G():
    return fat_tree(4)


def test_default_catalogue():
    assert {"forwarder", "firewall", "load_balancer", "ids", "nat"} <= set(DEFAULT_CATALOGUE)
    for name, vnf in DEFAULT_CATALOGUE.items():
        assert vnf.type == name
        assert 0.25 <= vnf.cpu <= 1 and 64 <= vnf.mem <= 256 and 0.05 <= vnf.proc_delay <= 0.5


def test_generate_defaults(G):
    chains = generate_chains(G, 50, seed=0)
    assert [c.id for c in chains] == [f"c{i}" for i in range(50)]
    srv = set(servers(G))
    for c in chains:
        validate_chain(G, c, catalogue=DEFAULT_CATALOGUE)
        assert 2 <= len(c.vnfs) <= 4
        assert all(v is DEFAULT_CATALOGUE[v.type] for v in c.vnfs)
        assert c.ingress in srv and c.egress in srv and c.ingress != c.egress
        assert 1.0 <= c.bw <= 10.0
        assert c.max_latency == math.inf and c.arrival == 0.0 and c.lifetime == math.inf
    assert {len(c.vnfs) for c in chains} == {2, 3, 4}


def test_fixed_values_and_ranges(G):
    chains = generate_chains(G, 30, length=3, bw=5.0, max_latency=(10.0, 20.0), seed=1)
    assert {len(c.vnfs) for c in chains} == {3}
    assert {c.bw for c in chains} == {5.0}
    assert all(10.0 <= c.max_latency <= 20.0 for c in chains)
    assert {c.max_latency for c in generate_chains(G, 5, max_latency=7.5, seed=1)} == {7.5}


def test_endpoints_any_uses_switches_too(G):
    chains = generate_chains(G, 100, endpoints="any", seed=2)
    ends = {c.ingress for c in chains} | {c.egress for c in chains}
    assert ends - set(servers(G))


def test_single_server_chains_loop_back():
    (c,) = generate_chains(line(1), 1, seed=0)
    assert c.ingress == c.egress == "srv0"


def test_reproducible_and_seed_sensitive(G):
    assert generate_chains(G, 20, seed=3) == generate_chains(G, 20, seed=3)
    assert generate_chains(G, 20, seed=3) != generate_chains(G, 20, seed=4)
    a = generate_chains(G, 20, seed=np.random.default_rng(3))
    assert a == generate_chains(G, 20, seed=np.random.default_rng(3))
    assert generate_chains(G, 0, seed=3) == []


def test_timing_options_do_not_change_the_chains(G):
    static = generate_chains(G, 20, seed=5)
    online = generate_chains(G, 20, seed=5, arrival_rate=2.0, mean_lifetime=3.0)
    strip = lambda c: (c.vnfs, c.ingress, c.egress, c.bw, c.max_latency)  # noqa: E731
    assert [strip(c) for c in static] == [strip(c) for c in online]


def test_poisson_arrivals_and_exponential_lifetimes(G):
    chains = generate_chains(G, 2000, seed=6, arrival_rate=4.0, mean_lifetime=10.0)
    arrivals = [c.arrival for c in chains]
    assert arrivals == sorted(arrivals) and arrivals[0] > 0
    gaps = np.diff([0.0, *arrivals])
    assert statistics.mean(gaps) == pytest.approx(0.25, rel=0.1)
    assert statistics.mean(c.lifetime for c in chains) == pytest.approx(10.0, rel=0.1)
    only_arrivals = generate_chains(G, 5, seed=6, arrival_rate=4.0)
    assert all(c.lifetime == math.inf for c in only_arrivals)


def test_custom_catalogue(G):
    cat = {"dpi": VNF("dpi", cpu=2.0, mem=512.0, proc_delay=1.0)}
    chains = generate_chains(G, 5, catalogue=cat, seed=0)
    assert {v.type for c in chains for v in c.vnfs} == {"dpi"}


def test_catalogue_too_big_for_servers():
    cat = {"ids": VNF("ids", cpu=8.0)}
    with pytest.raises(ChainError, match="VNF 'ids' of chain '<catalogue>' needs 8 cores but the largest server has 4"):
        generate_chains(star(2, cpu=4.0), 3, catalogue=cat)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n": -1}, "n must be an int >= 0, got -1"),
        ({"n": 2.0}, "n must be an int >= 0"),
        ({"length": 0}, r"length must be an int >= 1 or a \(lo, hi\) pair .* got 0"),
        ({"length": (3, 1)}, r"got \(3, 1\)"),
        ({"length": (1.5, 2)}, "length must be"),
        ({"bw": 0}, "bw must be a number > 0"),
        ({"bw": (5.0, 1.0)}, r"bw must .* 0 < lo <= hi < inf, got \(5.0, 1.0\)"),
        ({"bw": math.inf}, "bw must be"),
        ({"bw": math.nan}, "bw must be"),
        ({"max_latency": -1.0}, "max_latency must be a number > 0 \\(or inf\\)"),
        ({"max_latency": (1.0, math.inf)}, "max_latency must be"),
        ({"endpoints": "edges"}, "endpoints must be 'servers' or 'any', got 'edges'"),
        ({"arrival_rate": 0}, "arrival_rate must be None or a finite number > 0, got 0"),
        ({"mean_lifetime": -2.0}, "mean_lifetime must be None or a finite number > 0"),
        ({"catalogue": {}}, "catalogue is empty"),
    ],
)
def test_bad_arguments(G, kwargs, message):
    kwargs = {"n": 3, **kwargs}
    with pytest.raises(ChainError, match=message):
        generate_chains(G, kwargs.pop("n"), **kwargs)


def test_no_servers_to_draw_from():
    import networkx as nx

    H = nx.Graph()
    with pytest.raises(ChainError, match="no candidate endpoints"):
        generate_chains(H, 1)


def _chain(**changes):
    base = dict(id="c3", vnfs=(DEFAULT_CATALOGUE["firewall"],), ingress="srv0", egress="srv1", bw=2.0)
    return Chain(**{**base, **changes})


def test_valid_chain_passes():
    validate_chain(star(2), _chain(), catalogue=DEFAULT_CATALOGUE)


@pytest.mark.parametrize(
    "chain, message",
    [
        (_chain(ingress="x"), "chain 'c3': ingress 'x' is not a node of the substrate"),
        (_chain(egress=["unhashable"]), "chain 'c3': egress \\['unhashable'\\] is not a node"),
        (_chain(vnfs=()), "chain 'c3' has no VNFs"),
        (_chain(bw=-3.0), "chain 'c3': bw is -3, must be >= 0"),
        (_chain(max_latency=0.0), "max_latency is 0, must be > 0"),
        (_chain(arrival=-1.0), "arrival is -1, must be >= 0"),
        (_chain(lifetime=0.0), "lifetime is 0, must be > 0"),
        (_chain(vnfs=(VNF("ids", cpu=-1.0),)), "VNF 'ids' of chain 'c3': cpu is -1, must be >= 0"),
        (_chain(vnfs=(VNF("ids", mem=math.nan),)), "VNF 'ids' of chain 'c3': mem is nan"),
        (_chain(vnfs=(VNF("ids", proc_delay=-0.1),)), "proc_delay is -0.1"),
        (_chain(vnfs=(VNF("ids", cpu=16.0),)), "VNF 'ids' of chain 'c3' needs 16 cores but the largest server has 8"),
        (_chain(vnfs=(VNF("ids", mem=10000.0),)), "needs 10000 MiB but the largest server has 8192"),
        (_chain(vnfs=(VNF("a"),) * 3, anti_affinity=True), "anti_affinity needs 3 distinct servers but the substrate has 2"),
        (_chain(anti_affinity="yes"), "anti_affinity is 'yes', must be true or false"),
        (_chain(link_latency=(1.0,)), "link_latency has 1 bounds for 2 virtual links \\(one per virtual link"),
        (_chain(link_latency=(1.0, 0.0)), "link_latency\\[1\\] is 0, must be > 0 \\(ms\\)"),
        (_chain(ingress=None, link_latency=(math.nan,)), "link_latency\\[0\\] is nan"),
    ],
)
def test_each_chain_problem_is_named(chain, message):
    with pytest.raises(ChainError, match=message):
        validate_chain(star(2), chain)


def test_unknown_type_only_with_catalogue():
    chain = _chain(vnfs=(VNF("dpi"),))
    validate_chain(star(2), chain)
    with pytest.raises(ChainError, match="VNF 'dpi' of chain 'c3': type not in the catalogue \\(known: firewall"):
        validate_chain(star(2), chain, catalogue=DEFAULT_CATALOGUE)


def test_all_chain_problems_in_one_error():
    with pytest.raises(ChainError) as info:
        validate_chain(star(2), _chain(ingress="x", bw=-1.0, vnfs=()))
    assert str(info.value).count(";") == 2


def test_json_round_trip(G):
    chains = generate_chains(G, 10, seed=8, max_latency=(5.0, 9.0), arrival_rate=1.0)
    chains += generate_chains(G, 3, seed=9)
    text = json.dumps(chains_to_json(chains), allow_nan=False)
    assert chains_from_json(json.loads(text)) == chains


def test_json_accepts_inf_strings_and_defaults():
    data = chains_to_json([_chain()])
    data[0]["max_latency"] = "inf"
    data[0].pop("lifetime")
    data[0].pop("arrival")
    (c,) = chains_from_json(data)
    assert c.max_latency == math.inf and c.lifetime == math.inf and c.arrival == 0.0


def test_json_malformed():
    with pytest.raises(ChainError, match="malformed chain JSON"):
        chains_from_json([{"id": "c0"}])


def test_chains_without_endpoints_are_valid():
    validate_chain(star(2), _chain(bw=0.0))  # a virtual link that only connects (VNE requests have them)
    validate_chain(star(2), _chain(ingress=None, egress=None, vnfs=(VNF("a"),) * 2, anti_affinity=True))
    validate_chain(star(2), _chain(egress=None, link_latency=(1.0,)))
    validate_chain(star(2), _chain(link_latency=(1.0, math.inf)))


def test_json_round_trip_of_open_ended_chains():
    chains = [
        _chain(ingress=None, egress=None, vnfs=(VNF("a"),) * 2, anti_affinity=True, link_latency=(2.5,)),
        _chain(ingress=None, link_latency=(math.inf,)),
        _chain(),
    ]
    text = json.dumps(chains_to_json(chains), allow_nan=False)
    assert chains_from_json(json.loads(text)) == chains
    data = json.loads(text)
    assert data[0]["ingress"] is None and data[0]["anti_affinity"] is True and data[1]["link_latency"] == [None]
    for d in data:  # files written before these fields existed still read
        d.pop("anti_affinity"), d.pop("link_latency")
    assert [c.anti_affinity for c in chains_from_json(data)] == [False] * 3
