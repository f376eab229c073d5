"""Workloads: the testbed's VNF catalogue, random chain generation, chain checks, JSON.

:func:`generate_chains` draws reproducible batches (everything at time 0)
or online workloads (Poisson arrivals, exponential lifetimes) from a seed;
:func:`validate_chain` rejects chains no substrate could host before an
algorithm wastes time on them.
"""

from __future__ import annotations


import numpy as np

from .errors import ChainError
from .model import CPU, KIND, MEM, SERVER, VNF, Chain
from .numeric import number_fault
from .substrate import node_sort_key, servers

__all__ = [
    "DEFAULT_CATALOGUE",
    "generate_chains",
    "rated_catalogue",
    "validate_chain",
    "chains_to_json",
    "chains_from_json",
    "load_chains",
]

DEFAULT_CATALOGUE: dict[str, VNF] = {
    "forwarder": VNF("forwarder", cpu=0.25, mem=64.0, proc_delay=0.05),
    "nat": VNF("nat", cpu=0.25, mem=64.0, proc_delay=0.1),
    "firewall": VNF("firewall", cpu=0.5, mem=128.0, proc_delay=0.1),
    "load_balancer": VNF("load_balancer", cpu=0.5, mem=128.0, proc_delay=0.15),
    "ids": VNF("ids", cpu=1.0, mem=256.0, proc_delay=0.5),
}
"""VNF types the testbed can run, with nominal demands (cores, MiB, ms).

Treat it as read-only; pass your own dict to :func:`generate_chains` to
change demands (e.g. from the testbed's calibration).
"""

_INF = float("inf")


def _range(name, value, *, allow_inf=False):
    """Parse a number or a ``(lo, hi)`` pair into ``(lo, hi)``; only a lone number may be inf."""
    fixed = not isinstance(value, (tuple, list))
    pair = (value, value) if fixed else tuple(value)

    def fine(x):
        return number_fault(x, positive=True, allow_inf=allow_inf and fixed) is None

    if len(pair) != 2 or not all(map(fine, pair)) or pair[0] > pair[1]:
        inf = " (or inf)" if allow_inf else ""
        raise ChainError(
            f"{name} must be a number > 0{inf} or a (lo, hi) pair with 0 < lo <= hi < inf, got {value!r}"
        )
    return float(pair[0]), float(pair[1])


def _length_range(length):
    pair = length if isinstance(length, (tuple, list)) else (length, length)
    ints = len(pair) == 2 and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in pair)
    if not (ints and 1 <= pair[0] <= pair[1]):
        raise ChainError(
            f"length must be an int >= 1 or a (lo, hi) pair of ints with 1 <= lo <= hi, got {length!r}"
        )
    return int(pair[0]), int(pair[1])


def _rate(name, value):
    if value is not None and number_fault(value, positive=True):
        raise ChainError(f"{name} must be None or a finite number > 0, got {value!r}")
    return value


def generate_chains(
    substrate,
    n,
    *,
    length=(2, 4),
    catalogue=DEFAULT_CATALOGUE,
    bw=(1.0, 10.0),
    max_latency=_INF,
    endpoints="servers",
    arrival_rate=None,
    mean_lifetime=None,
    request_rate=None,
    cpu_per_request=None,
    seed=None,
) -> list[Chain]:
    """Draw ``n`` random chains ``"c0"``, ``"c1"``, ... over ``substrate``.

    Each chain has a uniform number of VNFs in ``length`` (an int or an
    inclusive ``(lo, hi)``), types drawn uniformly with repetition from
    ``catalogue`` (keyed by VNF type), ``bw`` and
    ``max_latency`` uniform in their ``(lo, hi)`` (or fixed), and distinct
    ingress and egress drawn among the servers (``endpoints="servers"``) or
    all nodes (``"any"``) when at least two exist.  With ``arrival_rate``
    chains arrive as a Poisson process of that rate (else all at time 0);
    with ``mean_lifetime`` they live exponentially long (else forever).
    With ``request_rate`` (requests/s each chain carries) every VNF reserves
    the CPU that rate costs: ``request_rate * cpu_per_request[type] / 1000``
    cores, ``cpu_per_request`` being ms of CPU per request by VNF type, as
    :mod:`testbed.calibrate` measures them.
    Every random draw is made whatever the options, so changing only the
    timing options keeps the same chains.  The catalogue is checked against
    the substrate first (every type fits some server), so each chain passes
    :func:`validate_chain`.

    Examples
    --------
    >>> from placement.topologies import star
    >>> G = star(4)
    >>> chains = generate_chains(G, 3, length=2, bw=5.0, seed=7)
    >>> [c.id for c in chains], [len(c.vnfs) for c in chains], chains[0].bw
    (['c0', 'c1', 'c2'], [2, 2, 2], 5.0)
    >>> chains == generate_chains(G, 3, length=2, bw=5.0, seed=7)
    True
    """
    if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0):
        raise ChainError(f"n must be an int >= 0, got {n!r}")
    len_lo, len_hi = _length_range(length)
    bw_lo, bw_hi = _range("bw", bw)
    lat_lo, lat_hi = _range("max_latency", max_latency, allow_inf=True)
    _rate("arrival_rate", arrival_rate)
    _rate("mean_lifetime", mean_lifetime)
    if not catalogue:
        raise ChainError("catalogue is empty: give at least one VNF type")
    if request_rate is not None:
        catalogue = rated_catalogue(catalogue, request_rate, cpu_per_request)
    if endpoints == "servers":
        candidates = servers(substrate)
    elif endpoints == "any":
        candidates = sorted(substrate, key=node_sort_key)
    else:
        raise ChainError(f"endpoints must be 'servers' or 'any', got {endpoints!r}")
    if not candidates:
        raise ChainError(f"no candidate endpoints for endpoints={endpoints!r}: the substrate has none")
    probe = Chain("<catalogue>", tuple(catalogue.values()), candidates[0], candidates[0])
    validate_chain(substrate, probe, catalogue=catalogue)

    rng = np.random.default_rng(seed)
    types = list(catalogue)
    chains, clock = [], 0.0
    for i in range(n):
        k = int(rng.integers(len_lo, len_hi + 1))
        vnfs = tuple(catalogue[types[j]] for j in rng.integers(len(types), size=k))
        pair = rng.choice(len(candidates), size=2, replace=len(candidates) < 2)
        u_bw, u_lat, gap, life = rng.random(), rng.random(), rng.exponential(), rng.exponential()
        latency = lat_lo if lat_lo == lat_hi else lat_lo + u_lat * (lat_hi - lat_lo)
        if arrival_rate is not None:
            clock += gap / arrival_rate
        chain = Chain(
            id=f"c{i}",
            vnfs=vnfs,
            ingress=candidates[pair[0]],
            egress=candidates[pair[1]],
            bw=bw_lo + u_bw * (bw_hi - bw_lo),
            max_latency=latency,
            arrival=clock,
            lifetime=_INF if mean_lifetime is None else life * mean_lifetime,
        )
        chains.append(chain)
    return chains


def rated_catalogue(catalogue, request_rate, cpu_per_request) -> dict:
    """``catalogue`` with each type's CPU demand set to what ``request_rate`` requests/s cost it.

    >>> rated_catalogue(DEFAULT_CATALOGUE, 200, {t: 0.5 for t in DEFAULT_CATALOGUE})["ids"].cpu
    0.1
    """
    import dataclasses

    if number_fault(request_rate, positive=True) is not None:
        raise ChainError(f"request_rate must be a number of requests/s > 0, got {request_rate!r}")
    missing = sorted(set(catalogue) - set(cpu_per_request or {}))
    if missing:
        raise ChainError(f"request_rate needs the CPU cost per request of every VNF type; missing: "
                         f"{', '.join(missing)} (measure them: python -m testbed.calibrate; or give cpu_per_request)")
    for t, ms in cpu_per_request.items():
        if number_fault(ms, positive=True) is not None:
            raise ChainError(f"cpu_per_request[{t!r}] must be ms of CPU > 0, got {ms!r}")
    return {t: dataclasses.replace(v, cpu=request_rate * float(cpu_per_request[t]) / 1000.0)
            for t, v in catalogue.items()}


def _demand_problem(owner, name, value, *, positive=False, allow_inf=False, unit=""):
    bound = "> 0" if positive else ">= 0"
    fault = number_fault(value, positive=positive, allow_inf=allow_inf)
    if fault in ("type", "nonfinite"):
        return f"{owner}: {name} is {value!r}, must be a {'' if allow_inf else 'finite '}number {bound}{unit}"
    if fault:
        return f"{owner}: {name} is {value:g}, must be {bound}{unit}"
    return None


def _option_problems(substrate, chain):
    """Problems of the optional fields: ``anti_affinity`` and ``link_latency``."""
    cid, problems = chain.id, []
    if not isinstance(chain.anti_affinity, bool):
        problems.append(f"chain {cid!r}: anti_affinity is {chain.anti_affinity!r}, must be true or false")
    elif chain.anti_affinity and len(chain.vnfs) > len(servers(substrate)):
        problems.append(
            f"chain {cid!r}: anti_affinity needs {len(chain.vnfs)} distinct servers"
            f" but the substrate has {len(servers(substrate))}"
        )
    bounds = chain.link_latency
    if bounds is not None:
        if len(bounds) != chain.n_links:
            problems.append(
                f"chain {cid!r}: link_latency has {len(bounds)} bounds for {chain.n_links} virtual links"
                " (one per virtual link, in order)"
            )
        for j, bound in enumerate(bounds):
            problem = _demand_problem(f"chain {cid!r}", f"link_latency[{j}]", bound, positive=True, allow_inf=True)
            if problem:
                problems.append(problem + " (ms)")
    return problems


def validate_chain(substrate, chain: Chain, *, catalogue=None) -> None:
    """Check that ``chain`` is well formed and could fit ``substrate`` in principle.

    Raises :class:`~placement.errors.ChainError` listing every problem:
    unknown endpoints (None means no fixed endpoint), no VNFs, negative or
    non-finite demands, ``bw < 0``, a VNF larger than the largest server,
    an anti-affinity chain longer than the number of servers, a
    ``link_latency`` of the wrong length or with bounds <= 0, or (when
    ``catalogue`` is given) a VNF type not in it.  Fitting every VNF on some server is necessary, not
    sufficient: capacity sharing and latency are the algorithms' business.

    Examples
    --------
    >>> from placement.topologies import line
    >>> big = VNF("ids", cpu=16.0)
    >>> validate_chain(line(2), Chain("c3", (big,), "srv0", "srv1"))
    Traceback (most recent call last):
    ...
    placement.errors.ChainError: VNF 'ids' of chain 'c3' needs 16 cores but the largest server has 8
    """
    cid = chain.id
    problems = []
    for end in ("ingress", "egress"):
        node = getattr(chain, end)
        if node is None:  # no fixed endpoint
            continue
        try:
            present = node in substrate
        except TypeError:  # unhashable
            present = False
        if not present:
            problems.append(f"chain {cid!r}: {end} {node!r} is not a node of the substrate")
    if not chain.vnfs:
        problems.append(f"chain {cid!r} has no VNFs: give at least one")
    problems += _option_problems(substrate, chain)
    for name, value, positive, allow_inf, unit in (
        ("bw", chain.bw, False, False, " (Mbit/s)"),  # 0: a virtual link that only connects
        ("max_latency", chain.max_latency, True, True, " (ms)"),
        ("arrival", chain.arrival, False, False, ""),
        ("lifetime", chain.lifetime, True, True, ""),
    ):
        problem = _demand_problem(
            f"chain {cid!r}", name, value, positive=positive, allow_inf=allow_inf, unit=unit
        )
        if problem:
            problems.append(problem)

    caps = [d for _, d in substrate.nodes(data=True) if d.get(KIND) == SERVER]
    largest = {a: max((d.get(a, 0.0) for d in caps), default=0.0) for a in (CPU, MEM)}
    units = {CPU: "cores", MEM: "MiB"}
    for vnf in chain.vnfs:
        owner = f"VNF {vnf.type!r} of chain {cid!r}"
        if catalogue is not None and vnf.type not in catalogue:
            problems.append(f"{owner}: type not in the catalogue (known: {', '.join(sorted(catalogue))})")
        bad = [_demand_problem(owner, a, getattr(vnf, a)) for a in (CPU, MEM, "proc_delay")]
        problems += [p for p in bad if p]
        if any(bad):
            continue
        for a in (CPU, MEM):
            if getattr(vnf, a) > largest[a]:
                problems.append(
                    f"{owner} needs {getattr(vnf, a):g} {units[a]} but the largest server has {largest[a]:g}"
                )
    if problems:
        raise ChainError("; ".join(problems))


def _encode(x):
    return None if x == _INF else x


def _decode(x):
    return _INF if x is None or (isinstance(x, str) and x.lower() in ("inf", "infinity")) else float(x)


def chains_to_json(chains) -> list[dict]:
    """Chains as JSON-ready dicts, infinite ``max_latency``/``lifetime``/link bounds as null.

    A missing endpoint is null too; ``anti_affinity`` and ``link_latency``
    may be left out when reading (false and none).

    Examples
    --------
    >>> c = Chain("c0", (VNF("nat"),), "a", "b")
    >>> chains_to_json([c])[0]["max_latency"] is None
    True
    >>> chains_from_json(chains_to_json([c])) == [c]
    True
    >>> r = Chain("r", (VNF("a"), VNF("b")), anti_affinity=True, link_latency=(float("inf"),))
    >>> chains_to_json([r])[0]["link_latency"], chains_from_json(chains_to_json([r])) == [r]
    ([None], True)
    """
    return [
        {
            "id": c.id,
            "vnfs": [{"type": v.type, "cpu": v.cpu, "mem": v.mem, "proc_delay": v.proc_delay} for v in c.vnfs],
            "ingress": c.ingress,
            "egress": c.egress,
            "bw": c.bw,
            "max_latency": _encode(c.max_latency),
            "arrival": c.arrival,
            "lifetime": _encode(c.lifetime),
            "anti_affinity": c.anti_affinity,
            "link_latency": None if c.link_latency is None else [_encode(b) for b in c.link_latency],
        }
        for c in chains
    ]


def chains_from_json(data) -> list[Chain]:
    """Rebuild chains saved by :func:`chains_to_json` (null or ``"inf"`` means infinity)."""
    try:
        return [
            Chain(
                id=d["id"],
                vnfs=tuple(VNF(**v) for v in d["vnfs"]),
                ingress=d["ingress"],
                egress=d["egress"],
                bw=float(d["bw"]),
                max_latency=_decode(d.get("max_latency")),
                arrival=float(d.get("arrival", 0.0)),
                lifetime=_decode(d.get("lifetime")),
                anti_affinity=d.get("anti_affinity", False),
                link_latency=None if d.get("link_latency") is None else tuple(map(_decode, d["link_latency"])),
            )
            for d in data
        ]
    except (KeyError, TypeError, ValueError) as e:
        raise ChainError(f"malformed chain JSON: {e!r}") from None


def load_chains(substrate, path, *, catalogue=DEFAULT_CATALOGUE) -> list[Chain]:
    """Chains from a JSON file (as :func:`chains_to_json` writes), each checked against ``substrate``.

    VNF types must be in ``catalogue`` (``None`` accepts any type).  Raises
    one :class:`ChainError` naming the file and every problem found.

    Examples
    --------
    >>> import json, tempfile
    >>> from placement.topologies import line
    >>> c = Chain("c0", (DEFAULT_CATALOGUE["firewall"],), "srv0", "srv1")
    >>> with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
    ...     json.dump(chains_to_json([c]), f)
    >>> load_chains(line(2), f.name) == [c]
    True
    """
    import json
    from pathlib import Path

    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise ChainError(f"{path}: cannot read the chains file ({e.strerror})") from None
    except ValueError as e:
        raise ChainError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, list) or not data:
        raise ChainError(f"{path}: expected a non-empty JSON list of chains")
    try:
        chains = chains_from_json(data)
    except ChainError as e:
        raise ChainError(f"{path}: {e}") from None
    problems = []
    for chain in chains:
        try:
            validate_chain(substrate, chain, catalogue=catalogue)
        except ChainError as e:
            problems.append(str(e))
    ids = [c.id for c in chains]
    if len(set(ids)) != len(ids):
        problems.append(f"chain ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    if problems:
        raise ChainError(f"{path}: " + "; ".join(problems))
    return chains
