"""scripts/install.sh into a staging root (DESTDIR), with the commands of this build (STS_BIN): what an
administrator gets, that the old daemon's names work, that an upgrade keeps the config, and that
--uninstall removes everything but the config."""
import filecmp
import os
import shutil
import subprocess

import pytest

from conftest import in_world
from stages import BIN

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMANDS = ["sts-dns", "sts-fetch", "sts-parse", "sts-cache", "sts-query", "sts-socketmapd"]
MAN = ["man1/sts-dns.1", "man1/sts-fetch.1", "man1/sts-parse.1", "man1/sts-cache.1", "man1/sts-query.1",
       "man5/sts-socketmapd.yml.5", "man8/sts-socketmapd.8"]


def install(root, *args):
    proc = subprocess.run([os.path.join(REPO, "scripts", "install.sh"), *args], capture_output=True, text=True,
                          env=dict(os.environ, DESTDIR=str(root), STS_BIN=BIN), stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_install_upgrade_and_uninstall(tmp_path, world):
    root = tmp_path / "root"
    install(root)
    bin_dir = root / "usr/local/bin"
    for command in COMMANDS:
        assert os.access(bin_dir / command, os.X_OK)
        assert filecmp.cmp(bin_dir / command, os.path.join(BIN, command), shallow=False)
    assert os.readlink(bin_dir / "mta-sts-daemon") == "sts-socketmapd"
    assert os.readlink(bin_dir / "mta-sts-query") == "sts-query"
    for page in MAN:
        assert (root / "usr/local/share/man" / page).is_file(), page
    units = root / "etc/systemd/system"
    assert (units / "sts-socketmapd.service").is_file() and (units / "sts-socketmapd.socket").is_file()
    config = root / "etc/mta-sts-daemon.yml"

    # The old daemon's names: its config check and its query command, from the installed files.
    check = subprocess.run([bin_dir / "mta-sts-daemon", "--check-config", "-c", config], capture_output=True, text=True)
    assert check.returncode == 0 and "config OK" in check.stdout, check.stderr
    query = in_world(bin_dir / "mta-sts-query", "good.test", capture_output=True, text=True, timeout=60)
    assert query.returncode == 0, query.stderr
    assert "Postfix: OK secure match=mail.good.test:.mx.good.test servername=hostname" in query.stdout

    # An upgrade keeps the administrator's config.
    config.write_text(config.read_text() + "# edited by the administrator\n")
    install(root)
    assert config.read_text().endswith("# edited by the administrator\n")

    install(root, "--uninstall")
    assert sorted(os.listdir(bin_dir)) == []
    for page in MAN:
        assert not (root / "usr/local/share/man" / page).exists(), page
    assert sorted(os.listdir(units)) == []
    assert config.is_file(), "the config is kept"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_unit_files_are_valid(tmp_path):
    # systemd-analyze checks that ExecStart= exists, so the units point at this build's daemon.
    for name in ("sts-socketmapd.service", "sts-socketmapd.socket"):
        text = open(os.path.join(REPO, "scripts", "systemd", name)).read()
        (tmp_path / name).write_text(text.replace("/usr/local/bin/", BIN.rstrip("/") + "/"))
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", tmp_path / "sts-socketmapd.socket", tmp_path / "sts-socketmapd.service"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
