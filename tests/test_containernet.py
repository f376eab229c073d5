"""Containernet-style scripts run on sfcbench's testbed after changing one import."""

import pytest

from testbed.images import CACHE_DIR, ImageNames, ensure_images, saved_image
from testbed.system import TestbedError
from tests.testbed_helpers import project_leftovers, skip_without_testbed

pytestmark = [pytest.mark.testbed, skip_without_testbed]


@pytest.fixture(scope="module")
def images():
    return ensure_images(ImageNames(), log=lambda *_: None)


def test_two_docker_hosts_and_a_switch_ping(images):
    from testbed.containernet import Containernet  # the one changed import

    net = Containernet()
    run_id = net.run.id
    try:
        net.addController("c0")
        d1 = net.addDocker("d1", ip="10.0.0.251", dimage=images.base)
        d2 = net.addDocker("d2", ip="10.0.0.252", dimage=images.base)
        s1 = net.addSwitch("s1")
        net.addLink(d1, s1)
        net.addLink(s1, d2, bw=10, delay="5ms")
        net.start()
        assert net.ping([d1, d2], timeout="2") == 0.0
        # Each host is its own container: own hostname, own filesystem.
        assert d1.cmd("hostname").strip() == "d1"
        d1.cmd("echo one > /tmp/mine")
        assert "No such file" in d2.cmd("cat /tmp/mine")
        # No dcmd: the image's own command runs (bash, kept open by the tty).
        assert d1.container.attrs["Config"]["Cmd"] == ["bash"]
    finally:
        net.stop()
    assert project_leftovers(run_id) == {}


def test_unsupported_argument_is_named_not_dropped(images):
    from testbed.containernet import Containernet

    with Containernet() as net:
        with pytest.raises(TestbedError, match="unsupported argument.*bogus_option"):
            net.addDocker("d1", dimage=images.base, bogus_option=1)


def test_privileged_dind_host_runs_two_inner_servers_a_client_reaches(images):
    from testbed.containernet import Containernet

    tar = saved_image(__import__("docker").from_env(), images.vnf).name
    with Containernet() as net:
        srv = net.addDocker("srv", ip="10.0.0.10", dimage=images.dind, privileged=True,
                            volumes=[f"{CACHE_DIR / 'images'}:/images:ro"])
        client = net.addHost("client", ip="10.0.0.20")
        s1 = net.addSwitch("s1")
        net.addLink(srv, s1)
        net.addLink(client, s1)
        net.start()
        srv.cmd("for i in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.1; done")
        assert "Loaded image" in srv.cmd(f"docker load -i /images/{tar}")
        for port in (80, 8080):
            srv.cmd(f"docker run -d --name web{port} -p {port}:8080 -v /usr:/usr:ro {images.vnf} "
                    f"--role counter --name web{port}")
        client.cmd("for i in $(seq 50); do curl -sf http://10.0.0.10:8080/_sfcbench/stats >/dev/null && break; "
                   "sleep 0.1; done")
        answers = [client.cmd(f"curl -s -m 5 http://10.0.0.10:{port}/").strip() for port in (80, 8080, 80, 8080)]
        assert answers == ["0", "0", "1", "1"]


def test_open_vswitch_option_works_or_says_why(images):
    from testbed.containernet import Containernet, ovs_datapath_available

    with Containernet(switch="ovs") as net:
        d1 = net.addDocker("d1", ip="10.0.0.1", dimage=images.base)
        d2 = net.addDocker("d2", ip="10.0.0.2", dimage=images.base)
        if not ovs_datapath_available():
            with pytest.raises(TestbedError, match="kernel datapath"):
                net.addSwitch("s1")
            return
        s1 = net.addSwitch("s1")
        net.addLink(d1, s1)
        net.addLink(s1, d2)
        net.start()
        assert net.ping([d1, d2], timeout="2") == 0.0
