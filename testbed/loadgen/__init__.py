"""Open-loop HTTP load: rate profiles, and ``sfcload``, a small C generator compiled at first use.

Request ``i`` is due when the profile's cumulative count reaches ``i``, and
its latency counts from that due time, so a saturated chain cannot slow the
offered load down (no coordinated omission).  Debian 12 has no open-loop
generator with rate profiles (no wrk2, k6 or vegeta; wrk is closed loop and
h2load's rate is per connection), hence ``sfcload.c``: one file, epoll,
compiled with the system gcc into a cache keyed by its source hash.

>>> p = ramp([(10, 100), (10, 500)], start=0)
>>> p.rate_at(5), p.rate_at(15), p.expected(0, 10)
(50.0, 300.0, 500.0)
>>> steps([100, 200], 5).expected(0, 10)
1500.0
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

SOURCE = Path(__file__).with_name("sfcload.c")
CFLAGS = ["-O2", "-Wall", "-Werror", "-pthread"]
ATTACK_PATH = "/?id=1%27%20OR%20%271%27=%271"  # id=1' OR '1'='1: OWASP CRS flags it as SQL injection
# Bounds the C program enforces too: beyond them a profile is a typo, not a plan.
MAX_RATE = 1e7  # requests/s
MAX_DURATION = 86400.0  # s
MAX_TOTAL = 1e9  # requests in one run
SUB_BITS = 5  # histogram: 2**SUB_BITS log-linear buckets per power of two of microseconds


class ProfileError(ValueError):
    """A load profile that cannot be run (negative or NaN rate, empty, zero duration, absurd total)."""


class LoadError(RuntimeError):
    """The generator could not be built or run, or its output is truncated or garbled."""


@dataclass(frozen=True)
class Stage:
    """``duration`` seconds whose rate goes linearly from ``start`` to ``end`` requests/s."""

    duration: float
    start: float
    end: float


@dataclass(frozen=True)
class Profile:
    """A request-rate profile: piecewise-linear stages, checked when built.

    Build one with :func:`constant`, :func:`ramp` or :func:`steps`.
    """

    stages: tuple[Stage, ...]

    def __post_init__(self):
        try:
            stages = tuple(s if isinstance(s, Stage) else Stage(*s) for s in self.stages)
        except TypeError:
            raise ProfileError(f"load profile stages {self.stages!r} must each be (duration s, start rate, end rate)") \
                from None
        object.__setattr__(self, "stages", stages)
        if not stages:
            raise ProfileError("load profile has no stages: give at least one (duration, start rate, end rate)")
        for k, s in enumerate(stages):
            if not (isinstance(s.duration, numbers.Real) and math.isfinite(s.duration) and s.duration > 0):
                raise ProfileError(f"stage {k}: duration {s.duration!r} s must be a positive number")
            for rate in (s.start, s.end):
                if not (isinstance(rate, numbers.Real) and math.isfinite(rate) and 0 <= rate <= MAX_RATE):
                    raise ProfileError(f"stage {k}: rate {rate!r} must be a number of requests/s in [0, {MAX_RATE:g}]")
        if self.duration > MAX_DURATION:
            raise ProfileError(f"load profile lasts {self.duration:g} s, more than {MAX_DURATION:g} s")
        total = self.expected(0, self.duration)
        if total > MAX_TOTAL:
            raise ProfileError(f"load profile offers {total:.3g} requests, more than {MAX_TOTAL:g} in one run")
        if total < 1:
            raise ProfileError("load profile offers no request: its rates are all zero")

    @property
    def duration(self) -> float:
        """Seconds of load."""
        return sum(s.duration for s in self.stages)

    def rate_at(self, t: float) -> float:
        """Requests/s offered at ``t`` seconds from the start (0 outside the profile)."""
        t0 = 0.0
        for s in self.stages:
            if t0 <= t < t0 + s.duration:
                return s.start + (s.end - s.start) * (t - t0) / s.duration
            t0 += s.duration
        return 0.0

    def expected(self, t0: float, t1: float) -> float:
        """Requests offered between ``t0`` and ``t1`` seconds (the rate's integral)."""
        total, start = 0.0, 0.0
        for s in self.stages:
            a, b = max(t0, start), min(t1, start + s.duration)
            if b > a:
                total += (_rate_in(s, start, a) + _rate_in(s, start, b)) / 2 * (b - a)
            start += s.duration
        return total

    def args(self) -> list[str]:
        """The profile as sfcload's ``--stage`` options."""
        return [a for s in self.stages for a in ("--stage", f"{float(s.duration)!r}:{float(s.start)!r}:{float(s.end)!r}")]


def _rate_in(s: Stage, start: float, t: float) -> float:
    """The rate of stage ``s`` (which begins at ``start``) at ``t``, end included."""
    return s.start + (s.end - s.start) * (t - start) / s.duration


def constant(rate: float, duration: float) -> Profile:
    """``rate`` requests/s for ``duration`` s."""
    return Profile((Stage(duration, rate, rate),))


def ramp(stages, start: float = 0.0) -> Profile:
    """Like k6's ramping-arrival-rate: each ``(duration, target)`` ramps linearly from the previous rate.

    ``ramp([(30, 100), (30, 500)])`` ramps from ``start`` to 100/s over 30 s, then to 500/s over 30 s.
    """
    out, rate = [], start
    for item in stages:
        try:
            duration, target = item
        except (TypeError, ValueError):
            raise ProfileError(f"ramp stage {item!r} must be a pair (duration s, target rate)") from None
        out.append(Stage(duration, rate, target))
        rate = target
    return Profile(tuple(out))


def steps(rates, step: float) -> Profile:
    """Each rate in ``rates`` held constant for ``step`` seconds, in order."""
    return Profile(tuple(Stage(step, r, r) for r in rates))


# -- the generator -----------------------------------------------------------------


def cache_dir() -> Path:
    """Where compiled generators are kept: ``$SFCBENCH_CACHE_DIR/loadgen`` (default /var/cache/sfcbench)."""
    return Path(os.environ.get("SFCBENCH_CACHE_DIR", "/var/cache/sfcbench")) / "loadgen"


def binary() -> Path:
    """The compiled generator, built from ``sfcload.c`` on first use and cached by the source's hash.

    Two processes building at once each compile into their own file and
    rename it into place, so neither ever runs a half-written binary.
    """
    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(CFLAGS).encode()).hexdigest()[:16]
    target = cache_dir() / f"sfcload-{digest}"
    if target.exists():
        return target
    gcc = shutil.which("gcc")
    if gcc is None:
        raise LoadError("sfcload is built with gcc, which is not installed: install gcc: apt-get install gcc libc6-dev")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".sfcload-", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise LoadError(f"cannot write the generator's cache {target.parent}: {exc}; "
                        "set SFCBENCH_CACHE_DIR to a writable folder") from exc
    try:
        proc = subprocess.run([gcc, *CFLAGS, "-o", tmp, str(SOURCE), "-lm"], capture_output=True, text=True)
        if proc.returncode:
            raise LoadError(f"compiling {SOURCE} failed (is libc6-dev installed? apt-get install gcc libc6-dev):\n"
                            f"{proc.stderr[-2000:]}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def run_args(url: str, profile: Profile, *, source: str | None = None, connections: int = 64,
             new_connection: bool = False, body_bytes: int = 0, attack_share: float = 0.0,
             attack_path: str = ATTACK_PATH, seed: int = 0, timeout: float = 5.0,
             max_duration: float | None = None, threads: int = 1) -> list[str]:
    """The generator's argv, to run on any host that sees this file system (a Mininet host's popen, say).

    ``connections`` caps the connections open at once: in keep-alive mode a due
    request takes an idle one or opens one under the cap, else it waits (in its
    latency).  ``new_connection`` opens one per request (``Connection: close``).
    ``body_bytes`` > 0 POSTs a body of that size.  ``attack_share`` of the
    requests, picked by a PRNG seeded with ``seed``, go to ``attack_path``.
    A request unanswered ``timeout`` s after its due time is a timeout.
    """
    if not isinstance(profile, Profile):
        raise ProfileError(f"profile must be a Profile (constant(), ramp() or steps()), not {type(profile).__name__}")
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"load URL {url!r}: sfcload speaks plain HTTP only: give http://HOST[:PORT][/PATH]")
    checks = [(isinstance(connections, int) and 1 <= connections <= 1_000_000, "connections must be in [1, 10^6]"),
              (isinstance(threads, int) and 1 <= threads <= min(256, connections), "threads must be in [1, connections]"),
              (isinstance(body_bytes, int) and 0 <= body_bytes <= 1 << 30, "body_bytes must be in [0, 2^30]"),
              (0.0 <= attack_share <= 1.0, "attack_share must be in [0, 1]"),
              (math.isfinite(timeout) and 0 < timeout <= 3600, "timeout must be in (0, 3600] s"),
              (max_duration is None or max_duration > 0, "max_duration must be positive"),
              (attack_path.startswith("/") and " " not in attack_path, "attack_path must start with / and hold no spaces")]
    for ok, message in checks:
        if not ok:
            raise ValueError(f"load generator: {message}")
    argv = [str(binary()), *profile.args(), "--connections", str(connections), "--timeout", repr(float(timeout)),
            "--seed", str(int(seed)), "--threads", str(threads)]
    if new_connection:
        argv.append("--new-connection")
    if body_bytes:
        argv += ["--body-bytes", str(body_bytes)]
    if attack_share:
        argv += ["--attack-share", repr(float(attack_share)), "--attack-path", attack_path]
    if max_duration is not None:
        argv += ["--max-duration", repr(float(max_duration))]
    if source:
        argv += ["--source", source]
    return [*argv, url]


# -- results -------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What one generator run measured.

    ``seconds`` has one row per second of the run, keyed by the second in
    which requests were *due*: ``offered``, ``attacks``, ``sent``, ``ok``
    (2xx), ``blocked`` (403), ``other`` statuses, ``errors``, ``timeouts``
    (these five add up to ``offered``), ``late`` (handled > 1 ms after their
    due time: the generator fell behind), ``late_max_ms``, ``queued`` (waited
    for a free connection), latency ``p50_ms``/``p90_ms``/``p99_ms``/``max_ms``
    of the answered ones, and ``hist`` ([bucket low µs, count] pairs).  Only
    ``completed`` counts by wall-clock second: answers received during it.
    ``summary`` holds the totals and the run's settings.
    """

    seconds: pd.DataFrame
    summary: dict

    def quantile(self, q: float, t0: float = 0, t1: float = math.inf) -> float:
        """Latency quantile (ms) of the requests due in seconds [t0, t1), from the merged histograms."""
        sel = self.seconds.loc[(self.seconds.second >= t0) & (self.seconds.second < t1), "hist"]
        return hist_quantiles(sel, (q,))[0]


def hist_quantiles(hists, qs=(0.5, 0.9, 0.99)) -> list[float]:
    """Latency quantiles (ms) of the union of per-second histograms (``[bucket low µs, count]`` pairs);
    NaN where they hold no request."""
    merged: dict[int, int] = {}
    for pairs in hists:
        for low, count in pairs:
            merged[int(low)] = merged.get(int(low), 0) + int(count)
    total = sum(merged.values())
    out = []
    for q in qs:
        seen, value = 0, math.nan
        for low in sorted(merged):
            seen += merged[low]
            if seen >= q * total:
                value = (low + bucket_width(low) / 2) / 1000
                break
        out.append(value if total else math.nan)
    return out


def bucket_width(low: int) -> int:
    """Width (µs) of the histogram bucket that starts at ``low`` µs."""
    return 1 if low < 2 ** (SUB_BITS + 1) else 2 ** (low.bit_length() - 1 - SUB_BITS)


def parse(text: str) -> LoadResult:
    """Read the generator's output: its per-second lines, then its summary line.

    Raises :class:`LoadError` if the output is empty, a line is not JSON, or
    the summary or some seconds are missing (the run was killed or cut short).
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise LoadError("load generator printed nothing: it did not run, or was killed before the end")
    rows = []
    for n, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except ValueError:
            raise LoadError(f"load generator output line {n} is garbled: {line[:120]!r}") from None
        if not isinstance(row, dict):
            raise LoadError(f"load generator output line {n} is not a JSON object: {line[:120]!r}")
        rows.append(row)
    summary = rows[-1]
    if not summary.get("summary"):
        raise LoadError(f"load generator output is truncated: no summary line after {len(rows)} lines "
                        "(killed, or its output was cut)")
    seconds = rows[:-1]
    if len(seconds) != summary.get("seconds") or [r.get("second") for r in seconds] != list(range(len(seconds))):
        raise LoadError(f"load generator output is incomplete: {len(seconds)} per-second lines, "
                        f"the summary announces {summary.get('seconds')}")
    frame = pd.DataFrame(seconds)
    for col in ("p50_ms", "p90_ms", "p99_ms", "max_ms"):
        frame[col] = frame[col].astype(float)
    return LoadResult(frame, summary)


def run(url: str, profile: Profile, *, netns: str | None = None, **options) -> LoadResult:
    """Run the generator here (in network namespace ``netns`` if given; ``run_args`` options) and parse its output."""
    argv = run_args(url, profile, **options)
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    limit = min(profile.duration, options.get("max_duration") or math.inf) + options.get("timeout", 5.0) + 30
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired as exc:
        raise LoadError(f"load generator still running {limit:g} s after start; killed") from exc
    if proc.returncode:
        raise LoadError(f"load generator failed (exit {proc.returncode}): {proc.stderr.strip()[-1000:]}")
    return parse(proc.stdout)
