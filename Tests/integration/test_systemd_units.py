"""Operations packaging: the systemd units, the production nginx
configuration, and the Debian package.

- systemd-analyze verify and security on systemd/*, offline (no systemd
  needs to run here): the units are checked in a scratch root that holds the
  built binaries at the paths the units name.
- depot under systemd-socket-activate, with the socket mode and group
  depot.socket declares, behind an nginx whose workers run as that group's
  user, with uploads passed over FastCGI as in production.
- The production nginx site rendered by scripts/render-production-nginx.sh
  passes `nginx -t` (throwaway certificate, temp prefix).
- DEPOT_TEST_PACKAGING=1: `make deb`, `dpkg -i`, the commands on PATH,
  `dpkg -r` and `--purge` (installs system-wide; needs root).
- DEPOT_TEST_REAL_SYSTEMD=1: the shipped units under a real systemd, run as
  PID 1 of a private pid+mount namespace (needs root, when PID 1 here is not
  systemd): the full sandbox, credentials, the gc and backup services, and
  the production nginx site in front.
"""
import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import uuid

import pytest
import requests

from conftest import BUILD, REPO
from depot_stack import Stack, free_ports, make_self_signed_cert, wait_for

UNITS = ["depot.socket", "depot-upload.socket", "depot.service", "depot-gc.service", "depot-gc.timer", "depot-backup.service",
         "depot-backup.timer"]
BIN_DIR = os.path.join(REPO, ".build", BUILD)


def unit(name):
    """A unit file as {section: {key: [values, in order]}} (systemd repeats keys)."""
    sections, current = {}, None
    with open(os.path.join(REPO, "systemd", name)) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                current = sections.setdefault(line[1:-1], {})
                continue
            key, value = line.split("=", 1)
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(values):
    return values[-1]


def values(section, key):
    return section.get(key, [])


def credential_names(service):
    return {v.split(":", 1)[0] for v in values(unit(service)["Service"], "LoadCredential")}


def socket_settings():
    s = unit("depot.socket")["Socket"]
    return one(s["ListenStream"]), int(one(s["SocketMode"]), 8), one(s["SocketGroup"])


def require_binaries():
    for b in ("depot", "depotctl"):
        if not os.access(os.path.join(BIN_DIR, b), os.X_OK):
            pytest.skip(f"no {BIN_DIR}/{b}: run make build-debug")


# --- systemd-analyze, offline ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def unit_root(tmp_path_factory):
    """A scratch root for `systemd-analyze --root`: the units in etc/systemd/system,
    the built binaries at the paths their Exec lines name, systemd's own units."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    require_binaries()
    system_units = next((d for d in ("/usr/lib/systemd/system", "/lib/systemd/system")
                         if os.path.exists(os.path.join(d, "sysinit.target"))), None)
    if system_units is None:
        pytest.skip("systemd's own units (sysinit.target, ...) are not installed")
    root = str(tmp_path_factory.mktemp("unit-root"))
    for d in ("etc/systemd/system", "usr/local/bin", "usr/local/lib/depot", "usr/lib/systemd", "usr/bin"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copytree(system_units, os.path.join(root, "usr/lib/systemd/system"), symlinks=True)
    os.symlink("usr/bin", os.path.join(root, "bin"))
    os.symlink("usr/lib", os.path.join(root, "lib"))
    shutil.copy(shutil.which("kill") or "/bin/kill", os.path.join(root, "usr/bin/kill"))
    for b in ("depot", "depotctl"):
        shutil.copy(os.path.join(BIN_DIR, b), os.path.join(root, "usr/local/bin", b))
    shutil.copy(os.path.join(REPO, "scripts", "depot-backup-rotate"), os.path.join(root, "usr/local/lib/depot"))
    for u in UNITS:
        shutil.copy(os.path.join(REPO, "systemd", u), os.path.join(root, "etc/systemd/system", u))
    return root


def test_units_pass_systemd_analyze_verify(unit_root):
    # Every unit loads with no error and no warning (an unknown key is only a
    # warning to systemd, a failure here), and every Exec path exists.
    paths = [os.path.join(unit_root, "etc/systemd/system", u) for u in UNITS]
    r = subprocess.run(["systemd-analyze", "verify", f"--root={unit_root}", "--man=no", *paths],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr


def test_verify_notices_a_missing_binary(unit_root, tmp_path):
    # The check above is not vacuous: without the binary at ExecStart= it fails.
    root = str(tmp_path / "root")
    shutil.copytree(unit_root, root, symlinks=True)
    os.unlink(os.path.join(root, "usr/local/bin/depot"))
    r = subprocess.run(["systemd-analyze", "verify", f"--root={root}", "--man=no",
                        os.path.join(root, "etc/systemd/system/depot.service")], capture_output=True, text=True)
    assert r.returncode != 0 and "/usr/local/bin/depot" in r.stderr, r.stderr


@pytest.mark.parametrize("service", [u for u in UNITS if u.endswith(".service")])
def test_every_service_security_exposure_is_at_most_2(service):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                        os.path.join(REPO, "systemd", service)], capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for " + re.escape(service) + r": ([0-9.]+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout


def test_units_agree_with_each_other_and_the_example_config():
    service = unit("depot.service")
    s = service["Service"]
    assert one(s["ExecStart"]) == "/usr/local/bin/depot --config /etc/depot/depot.conf"
    assert one(s["ExecReload"]) == "/bin/kill -HUP $MAINPID"
    assert (one(s["User"]), one(s["Group"])) == ("depot", "depot")
    # Both pools' sockets: required, handed over by name (the names the
    # supervisor looks for in LISTEN_FDNAMES), with the same access rule.
    for name in ("depot.socket", "depot-upload.socket"):
        assert name in one(service["Unit"]["Requires"]).split()
        assert name in one(s["Sockets"]).split()
    api, upload = unit("depot.socket")["Socket"], unit("depot-upload.socket")["Socket"]
    assert (one(api["FileDescriptorName"]), one(upload["FileDescriptorName"])) == ("api", "upload")
    for key in ("SocketUser", "SocketGroup", "SocketMode"):
        assert one(api[key]) == one(upload[key])
    assert one(upload["ListenStream"]) == "/run/depot/upload.sock"
    # Every secret is a credential loaded from /etc/depot/secrets/NAME ...
    for v in values(s, "LoadCredential"):
        name, source = v.split(":", 1)
        assert source == "/etc/depot/secrets/" + name
    # ... the example config names exactly those, and gc (which loads the
    # whole configuration) gets the same ones.
    example = open(os.path.join(REPO, "docs", "depot.conf.example")).read()
    referenced = set(re.findall(r"^\s*\w+\s*=\s*credential:(\S+)", example, re.M))
    assert referenced == credential_names("depot.service") == credential_names("depot-gc.service")
    # Both pools listen on the sockets systemd passes.
    assert len(re.findall(r"^listen = systemd$", example, re.M)) == 2
    # The timers start their services.
    assert one(unit("depot-gc.timer")["Timer"]["OnCalendar"]) == "hourly"
    assert one(unit("depot-backup.timer")["Timer"]["OnCalendar"]) == "daily"
    assert "depotctl --config /etc/depot/depot.conf gc" in one(unit("depot-gc.service")["Service"]["ExecStart"])


@pytest.mark.sqlite_only("the example configuration names a SQLite file")
def test_example_config_loads(tmp_path):
    # docs/depot.conf.example is a working configuration for the real parser,
    # with the secrets where systemd would put them.
    require_binaries()
    creds = tmp_path / "credentials"
    creds.mkdir()
    for name in credential_names("depot.service"):
        content = "k1 " + "ab" * 32 if name == "master.keys" else "ab" * 32 if name == "link.key" else "x" * 64
        (creds / name).write_text(content + "\n")
    text = open(os.path.join(REPO, "docs", "depot.conf.example")).read()
    text = re.sub(r"^path = .*$", f"path = {tmp_path / 'depot.sqlite3'}", text, flags=re.M)
    (tmp_path / "depot.conf").write_text(text)
    r = subprocess.run([os.path.join(BIN_DIR, "depot"), "--config", str(tmp_path / "depot.conf"), "--check"],
                       env=dict(os.environ, CREDENTIALS_DIRECTORY=str(creds)), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


# --- socket activation with the unit's socket mode and group ---------------------------------------------------------

class NginxAsUserStack(Stack):
    """A dev stack whose nginx workers run as `nginx_user` (not the stack's
    user), as nginx's www-data does in production."""

    def __init__(self, *args, nginx_user, **kwargs):
        super().__init__(*args, **kwargs)
        self.nginx_user = nginx_user

    def _render_nginx(self):
        super()._render_nginx()
        conf = self.path("nginx", "nginx.conf")
        with open(conf) as f:
            text = f.read()
        text, n = re.subn(r"^user \S+;", f"user {self.nginx_user};", text, count=1, flags=re.M)
        assert n == 1
        with open(conf, "w") as f:
            f.write(text)
        user = pwd.getpwnam(self.nginx_user)
        for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.chown(self.path("nginx", d), user.pw_uid, user.pw_gid)


def unix_socket_inode(path):
    """The socket inode of the listening unix socket bound at `path`."""
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            # The listener (flag __SO_ACCEPTCON), not a connection accepted from it.
            if len(fields) >= 8 and fields[7] == path and int(fields[3], 16) & 0x10000:
                return int(fields[6])
    return None


def connect_as(path, user, group, extra_groups=()):
    """errno of connecting to the unix socket as user:group (0 = accepted)."""
    code = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
            "try:\n s.connect(sys.argv[1]); print(0)\nexcept OSError as e:\n print(e.errno)\n")
    r = subprocess.run(["/usr/bin/python3", "-c", code, path], user=user, group=group, extra_groups=list(extra_groups),
                       capture_output=True, text=True, timeout=30)
    return int(r.stdout.strip())


def test_socket_activation_with_the_units_mode_and_group(tmp_path_factory, stack_database):
    # The socket is made the way depot.socket declares it (mode, group); the
    # workers serve that very socket (fd 3); nginx, running as a member of the
    # group only, reaches them; a user outside the group cannot connect.
    if os.geteuid() != 0:
        pytest.skip("needs root (nginx workers as another user, chown to the socket group)")
    if not shutil.which("systemd-socket-activate"):
        pytest.skip("systemd-socket-activate is not installed")
    require_binaries()
    _, mode, group = socket_settings()
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        pytest.skip(f"group {group} does not exist here")
    members = [p.pw_name for p in pwd.getpwall() if p.pw_gid == gid and p.pw_uid != 0]
    if not members:
        pytest.skip(f"no user has {group} as primary group")
    nginx_user = "www-data" if "www-data" in members else members[0]

    base = tempfile.mkdtemp(prefix="depot-units-")
    os.chmod(base, 0o711)  # others may reach the socket by path, as in /run/depot
    run_dir = os.path.join(base, "s")
    os.makedirs(run_dir)
    os.chmod(run_dir, 0o711)
    stack = NginxAsUserStack(run_dir, build=BUILD, workers=2, socket_activation=True, socket_mode=mode,
                             socket_group=group, nginx_user=nginx_user, **stack_database)
    try:
        stack.start()
        info = os.stat(stack.socket_path)
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == mode, oct(info.st_mode)
        assert info.st_gid == gid

        # The workers hold the sockets bound at these paths, each only its own
        # pool's: the API pool's as fd 3, the upload pool's as fd 4 (two each).
        inode = unix_socket_inode(stack.socket_path)
        upload_inode = unix_socket_inode(stack.upload_socket_path)
        assert inode is not None and upload_inode is not None
        workers = stack.worker_pids()
        assert len(workers) == 4
        pools = {"api": [], "upload": []}
        for pid in workers:
            fd3 = os.readlink(f"/proc/{pid}/fd/3") if os.path.lexists(f"/proc/{pid}/fd/3") else None
            fd4 = os.readlink(f"/proc/{pid}/fd/4") if os.path.lexists(f"/proc/{pid}/fd/4") else None
            if fd3 == f"socket:[{inode}]":
                assert fd4 != f"socket:[{upload_inode}]"
                pools["api"].append(pid)
            else:
                assert fd4 == f"socket:[{upload_inode}]" and fd3 != f"socket:[{inode}]"
                pools["upload"].append(pid)
        assert len(pools["api"]) == len(pools["upload"]) == 2, pools
        assert sorted(stack.upload_worker_pids()) == sorted(pools["upload"])

        # Mode and group decide who may connect.
        nobody = "nobody"
        other_group = next(g.gr_name for g in grp.getgrall() if g.gr_name in ("nogroup", "nobody"))
        assert connect_as(stack.socket_path, nobody, other_group) == 13  # EACCES
        assert connect_as(stack.socket_path, nobody, group) == 0

        # nginx's workers (group members only) reach depot: a FastCGI request,
        # and an upload streamed over FastCGI to the upload pool, then
        # the download streamed by nginx from the store.
        nginx_workers = subprocess.run(["pgrep", "-P", str(stack.processes["nginx"].pid)],
                                       capture_output=True, text=True).stdout.split()
        assert nginx_workers and all(os.stat(f"/proc/{p}").st_uid == pwd.getpwnam(nginx_user).pw_uid
                                     for p in nginx_workers)
        org, user = str(uuid.uuid4()), str(uuid.uuid4())
        headers = {"Authorization": "Bearer " + stack.token(user, org)}
        r = requests.get(stack.base_url + "/api/v1/storage/quota", headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        data = os.urandom(300_000)
        r = requests.post(stack.base_url + "/api/v1/storage/upload", headers=headers, timeout=120,
                          files={"file": ("socket-test.bin", data, "application/octet-stream")})
        assert r.status_code == 201, r.text
        assert r.json()["sha256"] == hashlib.sha256(data).hexdigest()
        r = requests.get(stack.base_url + "/api/v1/objects/download", headers=headers, timeout=60,
                         params={"objectKey": r.json()["object_key"]})
        assert r.status_code == 200 and r.content == data
    finally:
        stack.stop()
        shutil.rmtree(base, ignore_errors=True)


# --- the production nginx site -----------------------------------------------------------------------------------

def render_production(out_dir, **values):
    env = dict(os.environ, **{k: str(v) for k, v in values.items()})
    env.pop("DEPOT_NGINX_ENV", None)
    r = subprocess.run(["sh", os.path.join(REPO, "scripts", "render-production-nginx.sh"), "--env", "/dev/null",
                        "--install"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def self_signed(directory, name):
    key, cert = os.path.join(directory, f"{name}.key"), os.path.join(directory, f"{name}.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name}"], check=True, capture_output=True)
    return cert, key


def nginx_main_conf(prefix, site, user=None):
    t = os.path.join(prefix, "tmp")
    return (f"{'user ' + user + ';' if user else ''}\npid {prefix}/nginx.pid;\nerror_log {prefix}/logs/error.log;\n"
            "events {}\nhttp {\n    include /etc/nginx/mime.types;\n"
            f"    client_body_temp_path {t}/cb; proxy_temp_path {t}/p; fastcgi_temp_path {t}/f;\n"
            f"    uwsgi_temp_path {t}/u; scgi_temp_path {t}/s;\n    access_log {prefix}/logs/access.log;\n"
            f"    include {site};\n}}\n")


def test_production_site_passes_nginx_t(tmp_path):
    if not shutil.which("nginx"):
        pytest.skip("nginx is not installed")
    p = str(tmp_path)
    for d in ("snippets", "logs", "body", "tmp", "sites"):
        os.makedirs(os.path.join(p, d))
    cert, key = self_signed(p, "depot.test")
    ca, _ = self_signed(p, "minio.test")
    render_production(tmp_path, DEPOT_SERVER_NAME="depot.test", DEPOT_TLS_CERT=cert, DEPOT_TLS_KEY=key,
                      DEPOT_STORE_ENDPOINT="https://localhost:9000", DEPOT_STORE_SSL_NAME="minio.test",
                      DEPOT_STORE_CA_FILE=ca,
                      DEPOT_SNIPPETS_DIR=f"{p}/snippets", DEPOT_SITE_FILE=f"{p}/sites/depot", DEPOT_LOG_DIR=f"{p}/logs",
                      DEPOT_BODY_TEMP_DIR=f"{p}/body", DEPOT_DOCS_DIR=f"{p}/docs")
    site = open(f"{p}/sites/depot").read()
    assert site.startswith("# render-nginx sha256=")
    server = open(f"{p}/snippets/depot-server.conf").read()
    fastcgi = open(f"{p}/snippets/depot-fastcgi.conf").read()
    # Production: TLS to the store, checked; uploads judged from their
    # headers (auth_request), then their body passed unbuffered to the upload
    # pool's socket, never nginx's temp file by path.
    assert "proxy_pass https://depot_store" in server and "proxy_ssl_verify on;" in server
    assert f"proxy_ssl_trusted_certificate {ca};" in server and "proxy_ssl_name minio.test;" in server
    directives = "\n".join(line for line in server.splitlines() if not line.lstrip().startswith("#"))
    assert "REQUEST_BODY_FILE" not in directives and "client_body_in_file_only" not in directives
    upload = directives[directives.index("location = /api/v1/storage/upload {"):]
    upload = upload[:upload.index("}")]
    assert "auth_request /_depot_upload_admission;" in upload and "fastcgi_request_buffering off;" in upload
    assert f"include {p}/snippets/depot-fastcgi-upload.conf;" in upload
    assert re.search(r"limit_conn depot_uploads 16;", upload) and re.search(r"limit_conn depot_upload_clients 4;", upload)
    assert "fastcgi_pass unix:/run/depot/depot.sock;" in fastcgi
    upload_fastcgi = open(f"{p}/snippets/depot-fastcgi-upload.conf").read()
    assert "fastcgi_pass unix:/run/depot/upload.sock;" in upload_fastcgi
    assert "Strict-Transport-Security" in upload_fastcgi
    assert "Strict-Transport-Security" in fastcgi and "Strict-Transport-Security" in site
    assert "listen 443 ssl http2;" in site and "return 301 https://$host$request_uri;" in site
    m = re.search(r"client_max_body_size (\d+)m;", server)
    assert m and int(m.group(1)) << 20 > 5 << 30  # above the largest default plan
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_main_conf(p, f"{p}/sites/depot"))
    r = subprocess.run(["nginx", "-t", "-p", p, "-e", f"{p}/logs/error.log", "-c", str(conf)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    # Re-rendering follows nginx.env while the site is as rendered; once the
    # admin edits it, it is kept and the fresh render lands beside it.
    again = dict(DEPOT_SNIPPETS_DIR=f"{p}/snippets", DEPOT_SITE_FILE=f"{p}/sites/depot", DEPOT_STORE_CA_FILE=ca)
    render_production(tmp_path, DEPOT_SERVER_NAME="other.test", **again)
    assert "server_name other.test;" in open(f"{p}/sites/depot").read()
    with open(f"{p}/sites/depot", "a") as f:
        f.write("# the admin's edit\n")
    edited = open(f"{p}/sites/depot").read()
    render_production(tmp_path, DEPOT_SERVER_NAME="third.test", **again)
    assert open(f"{p}/sites/depot").read() == edited
    assert "server_name third.test;" in open(f"{p}/sites/depot.new").read()


# --- the Debian package (opt-in: installs system-wide) ---------------------------------------------------------

# Debian's layout (make install keeps /usr/local and /etc/systemd/system).
PACKAGE_PATHS = ["/usr/bin/depot", "/usr/bin/depotctl", "/usr/lib/depot/depot-backup-rotate",
                 "/usr/lib/depot/render-nginx", "/usr/lib/depot/setup-host",
                 "/usr/share/depot/docs/openapi.json", "/usr/share/doc/depot/OPERATIONS.md",
                 "/usr/share/doc/depot/depot-dashboard.json",
                 "/usr/share/doc/depot/copyright", "/usr/share/doc/depot/changelog.gz",
                 "/etc/depot/depot.conf", "/etc/depot/nginx.env"] + [f"/lib/systemd/system/{u}" for u in UNITS]


@pytest.mark.sqlite_only("the package sets up SQLite in /var/lib/depot")
@pytest.mark.skipif(os.environ.get("DEPOT_TEST_PACKAGING") != "1",
                    reason="installs a package system-wide; set DEPOT_TEST_PACKAGING=1")
def test_deb_builds_installs_runs_and_removes():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "depot"], capture_output=True, text=True).stdout
    existing = [p for p in ("/etc/depot", "/var/lib/depot", "/var/backups/depot", "/usr/bin/depot", "/usr/local/bin/depot")
                if os.path.exists(p)]
    if "installed" in status or existing or _user_exists("depot"):
        pytest.skip(f"Depot is already on this host ({status or existing or 'user depot'}); not touching it")
    site = "/etc/nginx/sites-available/depot"
    site_existed = os.path.exists(site)

    # make lintian: make deb, then lintian, which must report no error.
    build = subprocess.run(["make", "lintian"], cwd=REPO, capture_output=True, text=True, timeout=3600)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    m = re.search(r"built (dist/depot_\S+_amd64\.deb)", build.stdout)
    assert m, build.stdout[-2000:]
    deb = os.path.join(REPO, m.group(1))

    info = subprocess.run(["dpkg-deb", "-f", deb, "Package", "Version", "Depends"], capture_output=True, text=True)
    assert "Package: depot" in info.stdout and "libcurl" in info.stdout and "libfcgi" not in info.stdout, info.stdout
    conffiles = subprocess.run(["dpkg-deb", "-I", deb, "conffiles"], capture_output=True, text=True).stdout.split()
    assert conffiles == ["/etc/depot/depot.conf", "/etc/depot/nginx.env"], conffiles
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True).stdout
    for p in PACKAGE_PATHS:
        assert "." + p in listing, p
    assert "./usr/local" not in listing and "./etc/systemd" not in listing, listing

    try:
        r = subprocess.run(["dpkg", "-i", deb], capture_output=True, text=True, timeout=600,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        assert r.returncode == 0, r.stdout + r.stderr
        for p in PACKAGE_PATHS:
            assert os.path.exists(p), p
        # postinst: the user, the directories, depotctl init, the nginx snippets.
        assert _user_exists("depot")
        assert stat.S_IMODE(os.stat("/etc/depot/secrets").st_mode) == 0o700
        assert stat.S_IMODE(os.stat("/etc/depot/secrets/master.keys").st_mode) == 0o600
        assert stat.S_IMODE(os.stat("/etc/depot/secrets/link.key").st_mode) == 0o600
        assert os.stat("/var/lib/depot/depot.sqlite3").st_uid == pwd.getpwnam("depot").pw_uid
        assert os.path.exists("/etc/nginx/snippets/depot-server.conf")
        # The commands run from PATH (not from the build tree), with the Swift
        # runtime linked in.
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        for cmd in ("depot", "depotctl"):
            assert shutil.which(cmd, path=env["PATH"]) == f"/usr/bin/{cmd}"
            r = subprocess.run([cmd, "--help"], env=env, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0 and "usage" in r.stdout.lower(), r.stdout + r.stderr
            libs = subprocess.run(["ldd", f"/usr/bin/{cmd}"], capture_output=True, text=True).stdout
            assert "libswiftCore" not in libs
        # Units and scripts name the package's paths, not make install's.
        unit = open("/lib/systemd/system/depot.service").read()
        assert "ExecStart=/usr/bin/depot --config /etc/depot/depot.conf" in unit, unit
        for path in [f"/lib/systemd/system/{u}" for u in UNITS] + ["/usr/lib/depot/render-nginx", "/usr/lib/depot/setup-host",
                                                                   "/usr/lib/depot/depot-backup-rotate", "/etc/depot/nginx.env"]:
            assert "/usr/local" not in open(path).read(), path
        # The installed units verify against the installed binaries.
        if shutil.which("systemd-analyze"):
            r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                                *[f"/lib/systemd/system/{u}" for u in UNITS]], capture_output=True, text=True)
            assert r.returncode == 0 and not r.stderr.strip(), r.stderr
        # Removal: program files go, configuration stays until purge.
        r = subprocess.run(["dpkg", "-r", "depot"], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        assert not os.path.exists("/usr/bin/depot") and not os.path.exists("/usr/bin/depotctl")
        assert not os.path.exists("/lib/systemd/system/depot.service")
        assert os.path.exists("/etc/depot/depot.conf")
        r = subprocess.run(["dpkg", "--purge", "depot"], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        assert not os.path.exists("/etc/depot/depot.conf")
        assert not os.path.exists("/etc/nginx/snippets/depot-server.conf")
        assert not os.path.exists("/etc/nginx/snippets/depot-fastcgi-upload.conf")
        # Keys and data are kept on purge, on purpose.
        assert os.path.exists("/etc/depot/secrets/master.keys")
    finally:
        # Leave the host as it was: the package, then what purge keeps.
        subprocess.run(["dpkg", "--purge", "depot"], capture_output=True)
        for p in ("/etc/depot", "/var/lib/depot", "/var/backups/depot", "/usr/lib/depot",
                  "/usr/share/depot", "/usr/share/doc/depot"):
            shutil.rmtree(p, ignore_errors=True)
        for f in ("/etc/nginx/snippets/depot-http.conf", "/etc/nginx/snippets/depot-server.conf",
                  "/etc/nginx/snippets/depot-fastcgi.conf", "/etc/nginx/snippets/depot-fastcgi-upload.conf"):
            if os.path.exists(f):
                os.unlink(f)
        if not site_existed:
            for f in (site, site + ".new", site + ".old"):
                if os.path.exists(f):
                    os.unlink(f)
        if _user_exists("depot"):
            subprocess.run(["userdel", "depot"], capture_output=True)
        if _group_exists("depot"):
            subprocess.run(["groupdel", "depot"], capture_output=True)


def _user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


# --- a real systemd (opt-in) -------------------------------------------------------------------------------------

INNER = """#!/bin/sh
# PID 1 of a private pid+mount namespace: the host's /etc, /var and /usr/local
# under overlays (changes land in {w}/up-*), a private /run and cgroup2, then systemd.
set -e
mount --make-rprivate /
mount -t tmpfs -o mode=0755 tmpfs /run
for d in etc var usr/local; do
    n=$(echo $d | tr / _)
    mkdir -p {w}/up-$n {w}/work-$n
    mount -t overlay overlay -o lowerdir=/$d,upperdir={w}/up-$n,workdir={w}/work-$n /$d
done
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# systemd makes / shared itself, except in a container: credentials need it.
mount --make-rshared /
exec env SYSTEMD_UNIT_PATH=/etc/systemd/test /lib/systemd/systemd --system --unit=depot-test.target \\
    --log-target=kmsg --log-level=warning --show-status=no
"""

BASE_UNITS = ["basic.target", "sysinit.target", "sockets.target", "timers.target", "paths.target", "slices.target",
              "shutdown.target", "network-online.target", "network.target", "multi-user.target", "time-set.target",
              "time-sync.target", "local-fs.target", "swap.target", "umount.target", "final.target",
              "emergency.target", "rescue.target"]


class RealSystemd:
    """systemd as PID 1 of private namespaces, with the shipped units."""

    def __init__(self, work):
        self.work = work
        self.pid = None

    def sh(self, script, check=True, timeout=120):
        r = subprocess.run(["nsenter", "-t", str(self.pid), "-m", "-p", "sh", "-c", script],
                           capture_output=True, text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, f"{script}\n{r.stdout}\n{r.stderr}"
        return r

    def start(self):
        inner = os.path.join(self.work, "inner.sh")
        with open(inner, "w") as f:
            f.write(INNER.format(w=self.work))
        os.chmod(inner, 0o755)
        proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount", "--uts", "--ipc", "--mount-proc", inner],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.unshare = proc

        def booted():
            kids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
            if not kids:
                return False
            self.pid = int(kids[0])
            return os.readlink(f"/proc/{self.pid}/exe").endswith("systemd") and self.sh(
                "systemctl is-active depot.socket depot.service", check=False, timeout=10).stdout.split() == [
                "active", "active"]

        wait_for(booted, 60, "systemd in a namespace")

    def stop(self):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if getattr(self, "unshare", None):
            self.unshare.wait(timeout=30)
        # The cgroups this systemd made in the (host-wide) cgroup2 hierarchy.
        for line in open("/proc/self/mountinfo"):
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2":
                for top in ("system.slice", "init.scope"):
                    base = os.path.join(fields[4], top)
                    for dirpath, _, _ in sorted(os.walk(base), key=lambda w: -w[0].count("/")):
                        try:
                            os.rmdir(dirpath)
                        except OSError:
                            pass


@pytest.mark.sqlite_only("the shipped units and example configuration keep SQLite in /var/lib/depot")
@pytest.mark.skipif(os.environ.get("DEPOT_TEST_REAL_SYSTEMD") != "1",
                    reason="runs systemd as PID 1 of a namespace; set DEPOT_TEST_REAL_SYSTEMD=1")
def test_units_under_a_real_systemd(tmp_path_factory):
    if os.geteuid() != 0 or not shutil.which("unshare") or not os.path.exists("/lib/systemd/systemd"):
        pytest.skip("needs root, unshare and systemd installed")
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd runs this host: install the units and test them there")
    require_binaries()
    work = tempfile.mkdtemp(prefix="depot-systemd-")
    os.chmod(work, 0o755)
    store = Stack(os.path.join(work, "store"), store_tls=True, build=BUILD)
    for d in ("secrets", "logs"):
        os.makedirs(store.path(d), exist_ok=True)
    systemd = RealSystemd(work)
    nginx_dir = os.path.join(work, "nginx")
    try:
        store.start_store()
        endpoint = f"https://localhost:{store.weed_ports['s3.port.https']}"
        etc = os.path.join(work, "up-etc")
        os.makedirs(os.path.join(etc, "depot", "secrets"))
        os.chmod(os.path.join(etc, "depot", "secrets"), 0o700)
        secrets_ = {"master.keys": "k1 " + os.urandom(32).hex(), "jwt-hs256.key": os.urandom(32).hex(),
                    "link.key": os.urandom(32).hex(),
                    "store-access.key": store.access_key, "store-secret.key": store.secret_key}
        for name, value in secrets_.items():
            p = os.path.join(etc, "depot", "secrets", name)
            with open(os.open(p, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(value + "\n")
        shutil.copy(store.store_cert, os.path.join(etc, "depot", "store-ca.pem"))
        os.chmod(os.path.join(etc, "depot", "store-ca.pem"), 0o644)
        conf = open(os.path.join(REPO, "docs", "depot.conf.example")).read()
        conf = conf.replace("endpoint = https://minio.example.com:9000", "endpoint = " + endpoint)
        conf = conf.replace("workers = 0", "workers = 2")
        with open(os.path.join(etc, "depot", "depot.conf"), "w") as f:
            f.write(conf)
        uid = next(i for i in range(990, 900, -1) if not _uid_taken(i))
        with open(os.path.join(etc, "passwd"), "w") as f:
            f.write(open("/etc/passwd").read() + f"depot:x:{uid}:{uid}:Depot:/var/lib/depot:/usr/sbin/nologin\n")
        with open(os.path.join(etc, "group"), "w") as f:
            f.write(open("/etc/group").read() + f"depot:x:{uid}:\n")
        units = os.path.join(etc, "systemd", "test")
        os.makedirs(units)
        for u in UNITS:
            shutil.copy(os.path.join(REPO, "systemd", u), units)
        for u in BASE_UNITS:
            if os.path.exists("/lib/systemd/system/" + u):
                shutil.copy("/lib/systemd/system/" + u, units)
        with open(os.path.join(units, "depot-test.target"), "w") as f:
            f.write("[Unit]\nWants=depot.socket depot.service\n")
        for svc in ("depot.service", "depot-gc.service", "depot-backup.service"):
            # No journald in the namespace: output to files (the only change).
            os.makedirs(os.path.join(units, svc + ".d"))
            with open(os.path.join(units, svc + ".d", "output.conf"), "w") as f:
                f.write(f"[Service]\nStandardOutput=append:/var/log/{svc}.log\nStandardError=inherit\n")
        local = os.path.join(work, "up-usr_local")
        os.makedirs(os.path.join(local, "bin"))
        os.makedirs(os.path.join(local, "lib", "depot"))
        for b in ("depot", "depotctl"):
            shutil.copy(os.path.join(BIN_DIR, b), os.path.join(local, "bin", b))
        shutil.copy(os.path.join(REPO, "scripts", "depot-backup-rotate"), os.path.join(local, "lib", "depot"))
        backups = os.path.join(work, "up-var", "backups", "depot")
        os.makedirs(backups)
        os.chown(backups, uid, uid)
        os.chmod(backups, 0o750)

        systemd.start()
        r = systemd.sh("systemctl is-active depot.service; stat -c '%a %U:%G' /run/depot/depot.sock; "
                       "M=$(systemctl show -p MainPID --value depot.service); "
                       "grep -E '^(Uid|CapEff|NoNewPrivs|Seccomp):' /proc/$M/status")
        out = r.stdout
        assert out.startswith("active\n"), out + open(os.path.join(work, "up-var/log/depot.service.log")).read()
        _, mode, group = socket_settings()
        assert f"{mode:o} root:{group}" in out
        assert re.search(rf"Uid:\s+{uid}\s", out) and re.search(r"CapEff:\s+0+\n", out)
        assert re.search(r"NoNewPrivs:\s+1", out) and re.search(r"Seccomp:\s+2", out)

        # The production nginx site in front, its workers as www-data.
        for d in ("logs", "body", "tmp", "docs", "snippets"):
            os.makedirs(os.path.join(nginx_dir, d))
        www = pwd.getpwnam("www-data")
        for d in ("body", "tmp"):
            os.chown(os.path.join(nginx_dir, d), www.pw_uid, www.pw_gid)
        cert, key = self_signed(nginx_dir, "depot.test")
        subprocess.run(["bash", os.path.join(REPO, "scripts", "install-docs-assets.sh"), os.path.join(nginx_dir, "docs")],
                       check=True, capture_output=True)
        render_production(nginx_dir, DEPOT_SERVER_NAME="depot.test", DEPOT_TLS_CERT=cert, DEPOT_TLS_KEY=key,
                          DEPOT_STORE_ENDPOINT=endpoint, DEPOT_STORE_CA_FILE=store.store_cert,
                          DEPOT_SNIPPETS_DIR=f"{nginx_dir}/snippets", DEPOT_SITE_FILE=f"{nginx_dir}/site",
                          DEPOT_LOG_DIR=f"{nginx_dir}/logs", DEPOT_BODY_TEMP_DIR=f"{nginx_dir}/body",
                          DEPOT_DOCS_DIR=f"{nginx_dir}/docs")
        https_port, http_port = free_ports(2)
        site = open(f"{nginx_dir}/site").read()
        site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
        site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        site = re.sub(r"^\s*listen \[::\].*\n", "", site, flags=re.M)
        with open(f"{nginx_dir}/site", "w") as f:
            f.write(site)
        with open(f"{nginx_dir}/nginx.conf", "w") as f:
            f.write(nginx_main_conf(nginx_dir, f"{nginx_dir}/site", user="www-data"))
        r = subprocess.run(["nsenter", "-t", str(systemd.pid), "-m", "nginx", "-p", nginx_dir, "-e",
                            f"{nginx_dir}/logs/error.log", "-c", f"{nginx_dir}/nginx.conf"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr

        base = f"https://127.0.0.1:{https_port}"
        s = requests.Session()
        s.verify = False
        s.trust_env = False  # else REQUESTS_CA_BUNDLE would override verify=False
        s.headers["Host"] = "depot.test"
        import urllib3
        urllib3.disable_warnings()
        r = s.get(base + "/api/v1/health", timeout=30)
        assert r.status_code == 200 and r.json()["store"] == "ok", r.text
        assert "max-age" in r.headers["Strict-Transport-Security"]
        import jwt
        now = int(time.time())
        token = jwt.encode({"sub": str(uuid.uuid4()), "org": str(uuid.uuid4()), "iat": now, "exp": now + 600},
                           secrets_["jwt-hs256.key"], algorithm="HS256")
        auth = {"Authorization": "Bearer " + token}
        data = os.urandom(40 << 20)  # above the multipart threshold
        r = s.post(base + "/api/v1/storage/upload", headers=auth, timeout=300,
                   files={"file": ("big.bin", data, "application/octet-stream")})
        assert r.status_code == 201, r.text
        key_ = r.json()["object_key"]
        r = s.get(base + "/api/v1/objects/download", headers=auth, params={"objectKey": key_}, timeout=300)
        assert r.status_code == 200 and hashlib.sha256(r.content).digest() == hashlib.sha256(data).digest()
        assert requests.get(f"http://127.0.0.1:{http_port}/", headers={"Host": "depot.test"},
                            allow_redirects=False, timeout=30).status_code == 301

        # Reload swaps the workers; the socket survives a stop of the service
        # and starts it again on the next request.
        systemd.sh("systemctl reload depot.service && systemctl stop depot.service")
        assert s.get(base + "/api/v1/health", timeout=60).status_code == 200
        assert systemd.sh("systemctl is-active depot.service").stdout.strip() == "active"

        # The timers' services, as the depot user with their own sandboxes.
        r = systemd.sh("systemctl start depot-gc.service && systemctl start depot-backup.service && "
                       "ls /var/backups/depot", check=False)
        logs = "".join(open(os.path.join(work, "up-var/log", f)).read()
                       for f in os.listdir(os.path.join(work, "up-var/log")) if f.startswith("depot-"))
        assert r.returncode == 0, r.stdout + r.stderr + logs
        assert re.search(r"depot-\d{8}T\d{6}Z\.sqlite3", r.stdout), r.stdout + logs
    finally:
        pid_file = os.path.join(nginx_dir, "nginx.pid")
        if os.path.exists(pid_file):
            try:
                os.kill(int(open(pid_file).read()), signal.SIGQUIT)
            except (ProcessLookupError, ValueError):
                pass
        systemd.stop()
        store.stop()
        shutil.rmtree(work, ignore_errors=True)


def _uid_taken(uid):
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        try:
            grp.getgrgid(uid)
            return True
        except KeyError:
            return False
