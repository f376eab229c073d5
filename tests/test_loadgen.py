"""The open-loop load generator: rate profiles, its build cache, its output, and real runs over a veth pair."""

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from testbed import loadgen as lg

SERVER = Path(__file__).with_name("loadgen_server.py")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="real runs create network namespaces, which needs root")


# -- profiles ------------------------------------------------------------------------


def test_constant_ramp_and_steps_rates():
    c = lg.constant(200, 3)
    assert (c.duration, c.rate_at(0), c.rate_at(2.9), c.rate_at(3)) == (3, 200, 200, 0)
    assert c.expected(0, 3) == pytest.approx(600) and c.expected(-5, 1.5) == pytest.approx(300)
    r = lg.ramp([(30, 100), (30, 500)], start=20)
    assert r.rate_at(0) == 20 and r.rate_at(15) == pytest.approx(60) and r.rate_at(45) == pytest.approx(300)
    assert r.expected(0, 30) == pytest.approx((20 + 100) / 2 * 30)
    assert r.expected(25, 35) == pytest.approx(r.expected(25, 30) + r.expected(30, 35))
    s = lg.steps([100, 300, 50], 2)
    assert [s.rate_at(t) for t in (1, 3, 5)] == [100, 300, 50] and s.expected(0, 6) == pytest.approx(900)
    assert lg.ramp([(2, 0)], start=100).expected(0, 2) == pytest.approx(100)  # a ramp down to zero
    numpy_rates = lg.steps(np.array([100, 200]), np.float64(1.5))  # numpy numbers are numbers too
    assert numpy_rates.args() == ["--stage", "1.5:100.0:100.0", "--stage", "1.5:200.0:200.0"]


@pytest.mark.parametrize("make, message", [
    (lambda: lg.constant(-1, 5), "rate -1"),
    (lambda: lg.constant(math.nan, 5), "rate nan"),
    (lambda: lg.constant(100, 0), "duration 0"),
    (lambda: lg.steps([100], -2), "duration -2"),
    (lambda: lg.ramp([]), "no stages"),
    (lambda: lg.ramp([(10,)]), "must be a pair"),
    (lambda: lg.Profile([(10, 5)]), "must each be"),
    (lambda: lg.constant("100", 5), "rate '100'"),
    (lambda: lg.constant(0, 10), "no request"),
    (lambda: lg.constant(1e7, 1000), r"more than 1e\+09"),
    (lambda: lg.constant(1, 1e6), "more than 86400"),
])
def test_impossible_profiles_are_refused(make, message):
    with pytest.raises(lg.ProfileError, match=message):
        make()


def test_bad_options_are_refused_before_running():
    with pytest.raises(ValueError, match="plain HTTP"):
        lg.run_args("https://10.0.0.1/", lg.constant(10, 1))
    with pytest.raises(ValueError, match="attack_share"):
        lg.run_args("http://10.0.0.1/", lg.constant(10, 1), attack_share=1.5)
    with pytest.raises(lg.ProfileError, match="must be a Profile"):
        lg.run_args("http://10.0.0.1/", [(10, 100)])
    # The C program checks on its own too, for a caller that builds argv by hand.
    proc = subprocess.run([str(lg.binary()), "--stage", "5:-3", "http://10.0.0.1/"], capture_output=True, text=True)
    assert proc.returncode == 2 and "rates must be in [0" in proc.stderr


# -- build cache and output ----------------------------------------------------------------


def test_compile_cache_builds_once_and_survives_a_race(tmp_path, monkeypatch):
    monkeypatch.setenv("SFCBENCH_CACHE_DIR", str(tmp_path))
    code = "from testbed import loadgen; print(loadgen.binary())"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    paths = {p.communicate()[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs) and len(paths) == 1
    built = Path(paths.pop())
    assert built.parent == tmp_path / "loadgen" and os.access(built, os.X_OK)
    assert [p.name for p in built.parent.iterdir()] == [built.name]  # no temporary file left behind
    mtime = built.stat().st_mtime_ns
    assert lg.binary() == built and built.stat().st_mtime_ns == mtime  # cached: not rebuilt
    monkeypatch.setattr(lg.shutil, "which", lambda name: None)
    monkeypatch.setenv("SFCBENCH_CACHE_DIR", str(tmp_path / "other"))
    with pytest.raises(lg.LoadError, match="apt-get install gcc libc6-dev"):
        lg.binary()


@pytest.fixture(scope="module")
def refused_output():
    """Real output of a short run whose every connection is refused (no server, no root needed)."""
    return subprocess.run(lg.run_args("http://127.0.0.1:9/", lg.constant(50, 1), timeout=1.0),
                          capture_output=True, text=True, check=True).stdout


def test_refused_connections_are_errors_with_a_reason(refused_output):
    result = lg.parse(refused_output)
    assert result.summary["offered"] == 50 and result.summary["errors"] == 50 and result.summary["ok"] == 0
    assert "Connection refused" in result.summary["first_error"] and math.isnan(result.seconds.p50_ms[0])


def test_garbled_or_truncated_output_is_an_error(refused_output):
    lines = refused_output.splitlines()
    with pytest.raises(lg.LoadError, match="printed nothing"):
        lg.parse("")
    with pytest.raises(lg.LoadError, match="no summary line"):
        lg.parse("\n".join(lines[:-1]))
    with pytest.raises(lg.LoadError, match="line 1 is garbled"):
        lg.parse(lines[0][:40] + "\n" + lines[-1])
    with pytest.raises(lg.LoadError, match="1 per-second lines, the summary announces 2"):
        lg.parse("\n".join([lines[0], lines[-1].replace('"seconds":1', '"seconds":2')]))


# -- real runs over a veth pair ------------------------------------------------------


@pytest.fixture(scope="module")
def net():
    """Client and server namespaces, with the test server listening on the server's side."""
    from testbed.loadgen.veth import veth_pair

    with veth_pair("sfct-lg") as pair:
        server = subprocess.Popen(pair.server([sys.executable, str(SERVER), pair.server_ip, "8080"]),
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout.readline().strip() == "ready"
            yield pair
        finally:
            server.terminate()
            server.wait(5)


def run(net, path, profile, **options):
    return lg.run(f"http://{net.server_ip}:8080{path}", profile, netns=net.client_ns, source=net.client_ip,
                  **options)


def achieved_by_stage(result, profile):
    """(achieved, target) requests/s per stage: answers received in its seconds against its integral."""
    out, t0 = [], 0
    for stage in profile.stages:
        rows = result.seconds[(result.seconds.second >= t0) & (result.seconds.second < t0 + stage.duration)]
        out.append((rows.completed.sum() / stage.duration, profile.expected(t0, t0 + stage.duration) / stage.duration))
        t0 += stage.duration
    return out


@needs_root
def test_constant_rate_is_held_each_second(net):
    result = run(net, "/", lg.constant(500, 3))
    s = result.summary
    assert (s["offered"], s["ok"], s["errors"], s["timeouts"]) == (1500, 1500, 0, 0)
    assert s["connects"] <= 64 and s["p99_ms"] < 100
    assert list(result.seconds.offered) == [500, 500, 500]  # due times follow the profile exactly
    # Answers by wall-clock second; the run as a whole, as a stall of the shared machine can shift a few
    # answers across a second's boundary.
    assert result.seconds.completed[:3].sum() / 3 == pytest.approx(500, rel=0.05)


@needs_root
@pytest.mark.parametrize("profile", [lg.ramp([(2, 600), (2, 200)], start=100), lg.steps([200, 700, 400], 1)],
                         ids=["ramp", "steps"])
def test_each_stage_reaches_its_target_rate(net, profile):
    result = run(net, "/", profile)
    assert result.summary["ok"] == result.summary["offered"]
    for achieved, target in achieved_by_stage(result, profile):
        assert achieved == pytest.approx(target, rel=0.05)


@needs_root
def test_attack_share_is_blocked_as_chosen(net):
    result = run(net, "/", lg.constant(400, 2), attack_share=0.25, seed=7)
    s = result.summary
    assert s["blocked"] == s["attacks"] and s["ok"] == s["offered"] - s["attacks"]
    assert s["attacks"] / s["offered"] == pytest.approx(0.25, abs=0.03)
    again = run(net, "/", lg.constant(400, 2), attack_share=0.25, seed=7, threads=2)
    assert again.summary["attacks"] == s["attacks"]  # the same seed picks the same requests, at any thread count
    assert again.summary["ok"] + again.summary["blocked"] == again.summary["offered"]


@needs_root
def test_new_connection_mode_opens_one_connection_per_request(net):
    profile = lg.constant(300, 2)
    result = run(net, "/", profile, new_connection=True)
    s = result.summary
    assert s["mode"] == "new-connection" and s["ok"] == s["offered"] == s["connects"] == 600
    for achieved, target in achieved_by_stage(result, profile):
        assert achieved == pytest.approx(target, rel=0.05)


@needs_root
@pytest.mark.parametrize("path", ["/chunked", "/close"])
def test_chunked_and_close_delimited_bodies_with_a_post_body(net, path):
    s = run(net, path, lg.constant(100, 1), body_bytes=3000).summary
    assert s["ok"] == s["offered"] == 100 and s["body_bytes"] == 3000
    assert s["connects"] == (100 if path == "/close" else s["connects"])


@needs_root
def test_unanswered_requests_time_out_and_garbage_is_an_error(net):
    s = run(net, "/hang", lg.constant(50, 1), timeout=0.3, connections=8).summary
    assert s["timeouts"] == s["offered"] == 50 and s["ok"] == 0 and s["queued"] > 0  # 8 hung connections
    s = run(net, "/garbage", lg.constant(50, 1)).summary
    assert s["errors"] == 50 and s["first_error"] == "garbled response"


@needs_root
def test_an_answer_before_the_body_is_sent_ends_the_request(net):
    s = run(net, "/early", lg.constant(20, 1), body_bytes=20_000_000, timeout=2.0).summary
    assert s["other"] == s["offered"] == 20 and s["errors"] == s["timeouts"] == 0
    assert s["elapsed_s"] < 2.5  # no connection left spinning on a send that will never finish
