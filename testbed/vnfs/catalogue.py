"""Which software can realise each VNF type, and how the testbed starts it in a server's inner container.

Every VNF type has the ``light`` implementation (``vnf.py``, the Python relay)
and, where Debian 12 has one, real software launched by ``real.py``:

=============  ==============================  ==========================
VNF type       implementations                 light role of ``vnf.py``
=============  ==============================  ==========================
forwarder      light, haproxy                  forwarder
nat            light                           forwarder
firewall       light, nftables                 firewall
load_balancer  light, haproxy                  load_balancer
ids            light                           ids
waf            light, nginx-modsecurity        firewall
cache          light, varnish                  forwarder
monitor        light, ndpi                     ids
=============  ==============================  ==========================

Suricata, Snort and Zeek are not in Debian 12; a user adds such an image of
their own with :func:`register` (image, command template, stats path)::

    register("ids", "suricata", image="registry.example.org/sfc-suricata:7",
             command=["--name", "{name}", "{next_args}", "--listen", "{listen}"],
             programs=["suricata"], cap_add=["NET_ADMIN", "NET_RAW"], user="0:0")

Its container must listen on :data:`PORT`, relay to the next hop(s) and
answer ``GET`` on its ``stats_path`` with JSON holding ``requests``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

try:
    from testbed.vnfs import real
except ImportError:  # run as a script beside real.py
    import real  # type: ignore[no-redef]

PORT = 8080
STATS_PATH = "/_sfcbench/stats"
RUN_DIR = "/run/vnf"
RUN_TMPFS = "rw,exec,mode=1777,size=64m"  # exec: varnishd dlopen()s the VCL it compiled there
LAUNCHER = "/opt/sfcbench/real.py"  # where testbed/images/vnf/Dockerfile puts real.py
VNF_ARGS = ("--role", "{role}", "--name", "{name}", "{next_args}", "--protocol", "http", "--listen", "{listen}")


class CatalogueError(ValueError):
    """An unknown VNF type or implementation, or an image lacking what an implementation needs."""


@dataclass(frozen=True)
class Implementation:
    """How to run one implementation of a VNF type as an inner container.

    ``image`` None means the testbed's thin VNF image (``/usr`` of the server
    mounted read-only, so the programs come from the server image).
    ``command`` is a template: ``{name}``, ``{role}``, ``{listen}``, ``{next}``
    (the first next hop) are filled in, and an element ``{next_args}``
    becomes ``--next URL`` for every next hop.

    Examples
    --------
    >>> impl = implementation("load_balancer", "haproxy")
    >>> impl.command_args("c0-1-lb", ["http://10.0.0.9:80", "http://10.0.0.13:80"])[:7]
    ['-u', '/opt/sfcbench/real.py', '--impl', 'haproxy', '--role', 'load_balancer', '--name']
    >>> impl.docker_options()
    ['--entrypoint', '/usr/bin/python3', '--tmpfs', '/run/vnf:rw,exec,mode=1777,size=64m']
    >>> implementation("firewall", "nftables").docker_options()[-4:]
    ['--user', '0:0', '--cap-add', 'NET_ADMIN']
    """

    vnf_type: str
    name: str
    role: str
    command: tuple[str, ...] = VNF_ARGS
    image: str | None = None
    entrypoint: str | None = None
    programs: tuple[str, ...] = ("python3",)
    user: str | None = None
    cap_add: tuple[str, ...] = ()
    tmpfs: tuple[str, ...] = ()
    mounts: tuple[str, ...] = ()
    stats_path: str = STATS_PATH
    port: int = PORT

    @property
    def own_network(self) -> bool:
        """Whether it needs a network namespace of its own: its capabilities act on the one it is in
        (nftables rules, packet capture), so it must not share its server's."""
        return bool(self.cap_add)

    def command_args(self, name: str, next_urls: Iterable[str], listen: str = f"0.0.0.0:{PORT}") -> list[str]:
        """The container's command for one instance (after the image name in ``docker run``)."""
        next_urls = list(next_urls)
        values = {"name": name, "role": self.role, "listen": listen, "next": next_urls[0] if next_urls else ""}
        args = []
        for part in self.command:
            if part == "{next_args}":
                args += [a for url in next_urls for a in ("--next", url)]
            else:
                args.append(part.format(**values))
        return args

    def docker_options(self) -> list[str]:
        """``docker run`` options this implementation adds (entrypoint, tmpfs, mounts, user, capabilities)."""
        options = ["--entrypoint", self.entrypoint] if self.entrypoint else []
        for spec in self.tmpfs:
            options += ["--tmpfs", spec]
        for spec in self.mounts:
            options += ["-v", spec]
        if self.user:
            options += ["--user", self.user]
        for cap in self.cap_add:
            options += ["--cap-add", cap]
        return options

    def require(self, has_program: Callable[[str], bool]) -> None:
        """Raise :class:`CatalogueError` unless ``has_program(p)`` holds for every program it needs.

        ``has_program`` looks into the image that will run it (for the thin
        image: the server image, whose ``/usr`` it borrows).
        """
        lacking = [p for p in self.programs if not has_program(p)]
        if lacking:
            where = self.image or "the server image (the thin VNF image borrows its /usr)"
            raise CatalogueError(
                f"VNF type {self.vnf_type!r}, implementation {self.name!r}: {where} lacks program(s) "
                f"{', '.join(lacking)}: rebuild the images (python -m testbed.images) or choose another "
                f"implementation ({', '.join(implementations(self.vnf_type))})")


def _real(vnf_type: str, impl: str, role: str, privileged: tuple[str, ...] = ()) -> Implementation:
    return Implementation(
        vnf_type, impl, role, command=("-u", LAUNCHER, "--impl", impl, *VNF_ARGS), entrypoint="/usr/bin/python3",
        programs=("python3", *real.PROGRAMS[impl]), tmpfs=(f"{RUN_DIR}:{RUN_TMPFS}",),
        user="0:0" if privileged else None, cap_add=privileged)


_LIGHT_ROLES = {"forwarder": "forwarder", "nat": "forwarder", "firewall": "firewall",
                "load_balancer": "load_balancer", "ids": "ids", "waf": "firewall", "cache": "forwarder",
                "monitor": "ids"}
CATALOGUE: dict[str, dict[str, Implementation]] = {
    t: {"light": Implementation(t, "light", role)} for t, role in _LIGHT_ROLES.items()}
for _type, _impl, _priv in (("forwarder", "haproxy", ()), ("load_balancer", "haproxy", ()),
                            ("waf", "nginx-modsecurity", ()), ("cache", "varnish", ()),
                            ("firewall", "nftables", ("NET_ADMIN",)), ("monitor", "ndpi", ("NET_RAW",))):
    CATALOGUE[_type][_impl] = _real(_type, _impl, _LIGHT_ROLES[_type], _priv)


def implementations(vnf_type: str) -> list[str]:
    """Names of the implementations of ``vnf_type``.

    >>> implementations("cache")
    ['light', 'varnish']
    """
    if vnf_type not in CATALOGUE:
        raise CatalogueError(f"unknown VNF type {vnf_type!r}: known types are {', '.join(sorted(CATALOGUE))} "
                             "(add one with testbed.vnfs.catalogue.register)")
    return list(CATALOGUE[vnf_type])


def implementation(vnf_type: str, impl: str = "light") -> Implementation:
    """How to run implementation ``impl`` of ``vnf_type``; :class:`CatalogueError` if there is none.

    >>> implementation("waf", "nginx-modsecurity").programs
    ('python3', 'nginx')
    """
    names = implementations(vnf_type)
    if impl not in names:
        raise CatalogueError(f"no implementation {impl!r} for VNF type {vnf_type!r}: choose one of "
                             f"{', '.join(names)}")
    return CATALOGUE[vnf_type][impl]


def register(vnf_type: str, name: str, *, image: str, command: Iterable[str], programs: Iterable[str] = (),
             stats_path: str = STATS_PATH, port: int = PORT, entrypoint: str | None = None,
             user: str | None = None, cap_add: Iterable[str] = (), tmpfs: Iterable[str] = (),
             mounts: Iterable[str] = ()) -> Implementation:
    """Add a user's implementation (their own image) of ``vnf_type``, a new type if need be.

    >>> impl = register("ids", "suricata-demo", image="registry.example.org/sfc-suricata:7",
    ...                 command=["--name", "{name}", "{next_args}"], programs=["suricata"])
    >>> impl.command_args("c0-2-ids", ["http://10.0.0.5:80"])
    ['--name', 'c0-2-ids', '--next', 'http://10.0.0.5:80']
    >>> _ = CATALOGUE["ids"].pop("suricata-demo")
    """
    if not image:
        raise CatalogueError(f"implementation {name!r} of {vnf_type!r} needs an image")
    impl = Implementation(vnf_type, name, _LIGHT_ROLES.get(vnf_type, "forwarder"), command=tuple(command),
                          image=image, entrypoint=entrypoint, programs=tuple(programs), user=user,
                          cap_add=tuple(cap_add), tmpfs=tuple(tmpfs), mounts=tuple(mounts),
                          stats_path=stats_path, port=port)
    CATALOGUE.setdefault(vnf_type, {"light": Implementation(vnf_type, "light", impl.role)})[name] = impl
    return impl


def register_from_config(entries: dict) -> list[Implementation]:
    """:func:`register` every ``{vnf_type: {name: {image:, command:, ...}}}`` entry (e.g. from a Hydra config)."""
    done = []
    for vnf_type, impls in entries.items():
        for name, fields in impls.items():
            fields = dict(fields)
            unknown = set(fields) - set(register.__kwdefaults__) - {"image", "command"}
            if unknown:
                raise CatalogueError(f"implementation {name!r} of {vnf_type!r}: unknown key(s) "
                                     f"{', '.join(sorted(unknown))}")
            done.append(register(vnf_type, name, **fields))
    return done


__all__ = ["CATALOGUE", "CatalogueError", "Implementation", "implementation", "implementations", "register",
           "register_from_config"]
