"""Starts and stops a whole Depot stack on loopback: SeaweedFS (`weed mini`,
or a replicated cluster: seaweed_cluster.py), the depot supervisor and its
workers, nginx, and with `antivirus=True` a clamd (scripts/clamd_server.py)
that every upload is scanned with, all under one run directory.

Used by `make run` (scripts/run.py) and by the integration tests, so both
exercise the same configuration. Every process it starts it stops by PID.
"""
import grp
import json
import pwd
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))
from render_nginx import render  # noqa: E402
from ports import free_ports  # noqa: E402,F401 - re-exported for the tests


# What an HTTP client resends once when a reused connection closes before
# any answer (RFC 9112, 9.3.1): idempotent methods, never an upload.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class ProcessExited(RuntimeError):
    """The server being waited for is gone: waiting longer cannot help."""


def wait_for(check, timeout, what):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            if check():
                return
        except ProcessExited:
            raise
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready after {timeout}s ({last})")


def stop_process(proc, sig, timeout):
    """Sends `sig` to a process this script started (None or gone: nothing),
    waits `timeout` seconds, then kills it."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def make_self_signed_cert(directory):
    cert = os.path.join(directory, "store-cert.pem")
    key = os.path.join(directory, "store-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


class Stack:
    """One Depot stack. `port=None` picks a free port."""

    def __init__(self, run_dir, port=None, workers=2, store_tls=False, build="release", plans=None,
                 extra_config="", bin_dir=None, es256_public_pem=None, rs256_public_pem=None,
                 issuer=None, audience=None, socket_activation=False, extra_nginx_locations="",
                 socket_mode=None, socket_group=None, upload_workers=2, upload_slots=64, upload_slots_per_client=None,
                 store="mini", database="sqlite", postgres=None, database_url=None, database_password_file=None,
                 download_rate="200r/s", download_burst=400, webhooks=None, events=None, antivirus=False,
                 antivirus_fail_open=False, store_memory_limit="256MiB"):
        self.run_dir = os.path.abspath(run_dir)
        self.port = port or free_ports(1)[0]
        self.workers = workers
        self.store_tls = store_tls
        self.plans = plans or {}
        self.extra_config = extra_config
        self.bin_dir = bin_dir or os.path.join(REPO, ".build", build)
        self.es256_public_pem = es256_public_pem
        self.rs256_public_pem = rs256_public_pem
        self.issuer = issuer
        self.audience = audience
        self.socket_activation = socket_activation
        self.extra_nginx_locations = extra_nginx_locations
        # With socket activation: the socket's mode and group, as systemd's
        # SocketMode=/SocketGroup= would set them (None: left as created).
        self.socket_mode = socket_mode
        self.socket_group = socket_group
        # The upload pool: its workers, and how many uploads nginx lets run
        # at once (the rest wait in the socket's queue) in all and per client
        # address (tests all come from 127.0.0.1).
        self.upload_workers = upload_workers
        self.upload_slots = upload_slots
        self.upload_slots_per_client = upload_slots_per_client or upload_slots
        # nginx's per-address limit on the public download route.
        self.download_rate = download_rate
        self.download_burst = download_burst
        # Event endpoints: {name: url or {"url": ..., "types": "file.created,..."}};
        # each one's secret is written to secrets/ (webhook_secret_path).
        # `events`: [events] settings, e.g. {"retry_base_seconds": 1}.
        self.webhooks = webhooks or {}
        self.events = events or {}
        self.processes = {}
        self.weed_ports = {}
        # The store: "mini" (`weed mini`, one process) or "cluster"
        # (scripts/seaweed_cluster.py: replicated volume servers). A node made
        # by second_node() uses its first node's store and secrets.
        if store not in ("mini", "cluster"):
            raise ValueError(f"store must be mini or cluster, not {store!r}")
        self.store = store
        # The `weed mini` store's GOMEMLIMIT: 256 MiB bounds its RSS in test
        # runs; benchmarks pass None (Go's default, as a production store
        # runs), since 1 GiB transfers need about 560 MiB and under the cap
        # Go's collector runs without pause and halves the store's speed.
        self.store_memory_limit = store_memory_limit
        self.cluster = None
        self.first_node = None
        self.bucket = "depot"
        self.access_key = "depot-" + secrets.token_hex(6)
        self.secret_key = secrets.token_urlsafe(30)
        self._init_database(database, postgres, database_url, database_password_file)
        # A clamd of this stack's own in clamd/ (ClamdServer), named in
        # [antivirus]; `antivirus_fail_open` lets files through while it is down.
        self.antivirus = antivirus
        self.antivirus_fail_open = antivirus_fail_open
        self.clamd = None

    # Paths
    def path(self, *parts):
        return os.path.join(self.run_dir, *parts)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_endpoint(self):
        if self.first_node is not None:
            return self.first_node.store_endpoint
        if self.cluster is not None:
            return self.cluster.endpoint
        scheme = "https" if self.store_tls else "http"
        port = self.weed_ports["s3.port.https" if self.store_tls else "s3.port"]
        return f"{scheme}://127.0.0.1:{port}"

    @property
    def hs256_secret(self):
        with open(self.path("secrets", "jwt-hs256.key")) as f:
            return f.read().strip()

    def webhook_secret_path(self, name="default"):
        """The endpoint's signing secret: secrets/webhook.key for the one
        named `default` (the dev stack's DEPOT_WEBHOOK_URL), else
        secrets/webhook-NAME.key."""
        return self.path("secrets", "webhook.key" if name == "default" else f"webhook-{name}.key")

    def webhook_secret(self, name="default"):
        with open(self.webhook_secret_path(name)) as f:
            return f.read().strip()

    @property
    def socket_path(self):
        return self.path("depot.sock")

    @property
    def upload_socket_path(self):
        return self.path("upload.sock")

    # Lifecycle
    def start(self):
        for d in ("secrets", "logs", "data", "store", "nginx/client_body", "nginx/proxy", "nginx/fastcgi",
                  "nginx/uwsgi", "nginx/scgi", "docs"):
            os.makedirs(self.path(d), exist_ok=True)
        os.chmod(self.path("secrets"), 0o700)
        self._write_secrets()
        try:
            self.start_database()
            self.start_store()
            self.start_antivirus()
            self._write_config()
            self.start_depot()
            self._render_nginx()
            self.start_nginx()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self):
        for name in ("nginx", "depot", "weed"):
            self._stop_process(name)
        self.stop_antivirus()
        if self.cluster is not None and self.first_node is None:
            self.cluster.stop()
        for kind, key in (("filer", "filer.port.grpc"), ("volume", "volume.port.grpc"), ("master", "master.port.grpc"),
                          ("admin", "admin.port.grpc")):
            # weed drops gRPC sockets in /tmp whatever TMPDIR says.
            port = self.weed_ports.get(key)
            if port:
                for p in (f"/tmp/seaweedfs-{kind}-{port}.sock", f"/tmp/seaweedfs-{kind}-grpc-{port}.sock"):
                    if os.path.exists(p):
                        os.unlink(p)
        self.stop_database()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _stop_process(self, name, timeout=15):
        sig = {"nginx": signal.SIGQUIT, "depot": signal.SIGTERM, "weed": signal.SIGKILL}[name]
        stop_process(self.processes.pop(name, None), sig, timeout)

    def _write_secrets(self):
        def write(name, text):
            p = self.path("secrets", name)
            if not os.path.exists(p):
                fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(text)
            return p

        if self.first_node is not None:
            # Every node of one deployment signs and encrypts with the same keys.
            for name in os.listdir(self.first_node.path("secrets")):
                if os.path.exists(self.path("secrets", name)):
                    os.unlink(self.path("secrets", name))
                with open(self.first_node.path("secrets", name)) as f:
                    write(name, f.read())
        write("jwt-hs256.key", secrets.token_hex(32) + "\n")
        write("master.keys", "k1 " + secrets.token_hex(32) + "\n")
        write("link.key", secrets.token_hex(32) + "\n")
        for name in self.webhooks:
            write(os.path.basename(self.webhook_secret_path(name)), "whsec_" + secrets.token_hex(24) + "\n")
        # The store keys belong to this run's store; rewrite them each start.
        for name, value in (("store-access.key", self.access_key), ("store-secret.key", self.secret_key)):
            p = self.path("secrets", name)
            if os.path.exists(p):
                os.unlink(p)
            write(name, value + "\n")

    # The metadata database: SQLite in data/, or PostgreSQL
    def _init_database(self, database, postgres, url, password_file):
        """database="sqlite" (data/depot.sqlite3) or "postgresql": a server of
        its own in postgres/ (started and stopped with the stack), or, given
        `postgres` (a PostgresServer someone else runs), a database of its own
        on that server, or, given `database_url` and `database_password_file`,
        that very database (stacks sharing one). A node made by second_node()
        shares its first node's database."""
        if url or postgres is not None:
            database = "postgresql"
        if database not in ("sqlite", "postgresql"):
            raise ValueError(f"database must be sqlite or postgresql, not {database!r}")
        if url and not password_file:
            raise ValueError("database_url needs database_password_file")
        self.database = database
        self.postgres = postgres        # the server this stack's database lives on, if known
        self.own_postgres = False       # whether this stack started that server (and stops it)
        self.database_url = url         # set by start_database() for postgresql
        self._given_password_file = password_file

    @property
    def database_password_file(self):
        return self.path("secrets", "database.password") if self.database == "postgresql" else None

    def database_section(self):
        """The configuration's [database] section for this stack."""
        if self.database == "sqlite":
            where = f"path = {self.path('data', 'depot.sqlite3')}"
        else:
            where = f"url = {self.database_url}\npassword_file = {self.database_password_file}"
        return f"[database]\n{where}\nbusy_timeout_ms = 5000\n"

    def start_database(self):
        """For postgresql: the server (when this stack runs its own) and the
        database; writes RUN_DIR/database.url and secrets/database.password."""
        url_file = self.path("database.url")
        if self.database == "sqlite" and (self.first_node is None or self.first_node.database == "sqlite"):
            if os.path.exists(url_file):
                os.unlink(url_file)  # from an earlier run of this directory on PostgreSQL
            return
        from postgres_server import PostgresServer
        if self.first_node is not None:
            self.database, self.postgres = "postgresql", self.first_node.postgres
            self.database_url = self.first_node.database_url
            self._given_password_file = self.first_node.database_password_file
        elif self.database_url is None and self.postgres is None:
            self.postgres = PostgresServer(self.path("postgres"), log_path=self.path("logs", "postgres.log"))
            self.own_postgres = True
        if self.own_postgres:
            self.postgres.start()
            self.database_url = self.postgres.url
        elif self.database_url is None:
            # A database of this stack's own on a shared server.
            self.database_url = self.postgres.create_database("depot_" + secrets.token_hex(6))
        source = self._given_password_file or self.postgres.password_file
        with open(source) as f:
            password = f.read()
        p = self.database_password_file
        if os.path.exists(p):
            os.unlink(p)
        with os.fdopen(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(password)
        with open(url_file, "w") as f:
            f.write(self.database_url + "\n")

    def stop_database(self):
        """Stops the PostgreSQL server if this stack started it (a shared one keeps running)."""
        if self.own_postgres and self.postgres is not None:
            self.postgres.stop()

    # SeaweedFS
    def start_store(self):
        if self.first_node is not None or self.store == "cluster":
            return self._start_cluster_store()
        names = ["master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
                 "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc", "s3.port.https"]
        if not self.weed_ports:
            self.weed_ports = dict(zip(names, free_ports(len(names))))
        identities = {"identities": [{"name": "depot",
                                      "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                                      "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
        s3_config = self.path("secrets", "s3-identities.json")
        with open(os.open(s3_config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump(identities, f)
        args = [shutil.which("weed") or "weed", f"-logdir={self.path('logs')}", "mini",
                f"-dir={self.path('store')}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
                "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                f"-filer.localSocket={self.path('store', 'filer.sock')}",
                f"-s3.localSocket={self.path('store', 's3.sock')}",
                f"-s3.config={s3_config}", f"-bucket={self.bucket}"]
        for name, port in sorted(self.weed_ports.items()):
            if name == "s3.port.https" and not self.store_tls:
                continue
            args.append(f"-{name}={port}")
        if self.store_tls:
            self.store_cert, key = make_self_signed_cert(self.path("secrets"))
            args += [f"-s3.cert.file={self.store_cert}", f"-s3.key.file={key}"]
        env = dict(os.environ)
        if self.store_memory_limit:
            env["GOMEMLIMIT"] = self.store_memory_limit
        log = open(self.path("logs", "weed.log"), "ab")
        self.processes["weed"] = subprocess.Popen(args, stdout=log, stderr=log, env=env, cwd=self.run_dir,
                                                  start_new_session=True)

        def bucket_ready():
            if self.processes["weed"].poll() is not None:
                raise RuntimeError("weed exited; see " + self.path("logs", "weed.log"))
            self.s3().head_bucket(Bucket=self.bucket)
            return True

        wait_for(bucket_ready, 60, "SeaweedFS S3")
        with open(self.path("store.json"), "w") as f:
            json.dump({"endpoint": self.store_endpoint, "access_key": self.access_key, "secret_key": self.secret_key,
                       "bucket": self.bucket, "data_dir": self.path("store")}, f, indent=2)

    def stop_store(self):
        self._stop_process("weed")
        if self.cluster is not None and self.first_node is None:
            self.cluster.stop()

    # antivirus
    def start_antivirus(self):
        """Starts (or restarts) this stack's clamd; returns once it answers PING."""
        if not self.antivirus:
            return
        if self.first_node is not None:  # a second node scans with the first node's clamd
            self.clamd = self.first_node.clamd
            return
        if self.clamd is None:
            from clamd_server import ClamdServer
            self.clamd = ClamdServer(self.path("clamd"), log_path=self.path("logs", "clamd.log"))
        self.clamd.start()

    def stop_antivirus(self):
        if self.clamd is not None and self.first_node is None:
            self.clamd.stop()

    def _antivirus_config(self):
        if not self.antivirus:
            return ""
        return (f"[antivirus]\nclamd_socket = {self.clamd.socket_path}\n"
                f"fail_open = {'true' if self.antivirus_fail_open else 'false'}\n"
                "connect_timeout_seconds = 2\nreply_timeout_seconds = 60\n"
                "# clamd_server.py sets StreamMaxLength 200M\nstream_max_length = 200MiB\n")

    def _start_cluster_store(self):
        from seaweed_cluster import start_stack_store
        start_stack_store(self)

    def second_node(self, run_dir, port=None, **overrides):
        """Another node of this stack's deployment, in its own run directory with
        its own nginx and workers: the same settings, store, store credentials
        and secrets (JWT key, master keys), copied when it starts. Start it after
        this one; stopping it leaves the shared store running."""
        settings = dict(workers=self.workers, store_tls=self.store_tls, plans=self.plans,
                        extra_config=self.extra_config, bin_dir=self.bin_dir, es256_public_pem=self.es256_public_pem,
                        rs256_public_pem=self.rs256_public_pem, issuer=self.issuer, audience=self.audience,
                        extra_nginx_locations=self.extra_nginx_locations, upload_workers=self.upload_workers,
                        upload_slots=self.upload_slots, upload_slots_per_client=self.upload_slots_per_client,
                        store=self.store, webhooks=self.webhooks, events=self.events, antivirus=self.antivirus,
                        antivirus_fail_open=self.antivirus_fail_open)
        settings.update(overrides)
        node = Stack(run_dir, port=port, **settings)
        node.first_node = self
        node.bucket, node.access_key, node.secret_key = self.bucket, self.access_key, self.secret_key
        return node

    def s3(self):
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.store_endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name="us-east-1",
                            verify=getattr(self, "store_cert", None) if self.store_tls else None,
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                          connect_timeout=2, read_timeout=30))

    # depot
    def _write_config(self):
        plans = "".join(
            f"\n[plan.{name}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
            for name, values in self.plans.items())
        ca = f"ca_file = {self.store_cert}\n" if self.store_tls else ""
        text = f"""# Generated by scripts/depot_stack.py for a loopback dev/test stack.
[server]
listen = {"systemd" if self.socket_activation else self.socket_path}
socket_mode = 0660
workers = {self.workers}
public_url = {self.base_url}

[uploads]
listen = {"systemd" if self.socket_activation else self.upload_socket_path}
workers = {self.upload_workers}

{self.database_section()}

[store]
endpoint = {self.store_endpoint}
region = us-east-1
bucket = {self.bucket}
access_key_file = {self.path('secrets', 'store-access.key')}
secret_key_file = {self.path('secrets', 'store-secret.key')}
{ca}connect_timeout_seconds = 2
request_timeout_seconds = 120

[auth]
{self._auth_config()}

[encryption]
master_key_file = {self.path('secrets', 'master.keys')}
link_secret_file = {self.path('secrets', 'link.key')}
{self._events_config()}
{self._antivirus_config()}{plans}
{self.extra_config}
"""
        with open(self.path("depot.conf"), "w") as f:
            f.write(text)

    def _events_config(self):
        if not self.webhooks and not self.events:
            return ""
        text = "\n[events]\n" + "".join(f"{k} = {v}\n" for k, v in self.events.items())
        for name, endpoint in self.webhooks.items():
            endpoint = endpoint if isinstance(endpoint, dict) else {"url": endpoint}
            text += f"\n[webhook.{name}]\nurl = {endpoint['url']}\nsecret_file = {self.webhook_secret_path(name)}\n"
            if endpoint.get("types"):
                text += f"types = {endpoint['types']}\n"
        return text

    def _auth_config(self):
        algorithms = ["HS256"]
        lines = [f"hs256_secret_file = {self.path('secrets', 'jwt-hs256.key')}"]
        for alg, pem in (("ES256", self.es256_public_pem), ("RS256", self.rs256_public_pem)):
            if pem:
                p = self.path("secrets", f"jwt-{alg.lower()}.pub.pem")
                with open(p, "w") as f:
                    f.write(pem)
                algorithms.append(alg)
                lines.append(f"{alg.lower()}_public_key_file = {p}")
        if self.issuer:
            lines.append(f"issuer = {self.issuer}")
        if self.audience:
            lines.append(f"audience = {self.audience}")
        return "algorithms = " + ", ".join(algorithms) + "\n" + "\n".join(lines)

    @property
    def config_path(self):
        return self.path("depot.conf")

    def start_depot(self, env=None):
        log = open(self.path("logs", "depot.log"), "ab")
        command = [os.path.join(self.bin_dir, "depot"), "--config", self.config_path]
        if self.socket_activation:
            # systemd's way: the socket is opened by the manager and handed
            # over as fd 3 (LISTEN_FDS); the worker must not open its own.
            for path in (self.socket_path, self.upload_socket_path):
                if os.path.exists(path):
                    os.unlink(path)
            command = ["systemd-socket-activate", "-l", self.socket_path, "-l", self.upload_socket_path,
                       "--fdname=api:upload"] + command
        self.processes["depot"] = subprocess.Popen(
            command,
            stdout=log, stderr=log, env=dict(os.environ, **(env or {})), start_new_session=True)

        def ready():
            if self.processes["depot"].poll() is not None:
                raise RuntimeError("depot exited; see " + self.path("logs", "depot.log"))
            for path in (self.socket_path, self.upload_socket_path):
                s = socket.socket(socket.AF_UNIX)
                try:
                    s.connect(path)
                finally:
                    s.close()
            return True

        wait_for(ready, 30, "depot workers")
        if self.socket_activation:
            # systemd-socket-activate sets no mode or owner; apply the unit's
            # before nginx starts. The workers hold this very socket (fd 3).
            for path in (self.socket_path, self.upload_socket_path):
                if self.socket_group is not None:
                    os.chown(path, -1, grp.getgrnam(self.socket_group).gr_gid)
                if self.socket_mode is not None:
                    os.chmod(path, self.socket_mode)

    def stop_depot(self):
        self._stop_process("depot")

    def worker_pids(self):
        """PIDs of the supervisor's current worker processes (both pools)."""
        sup = self.processes["depot"].pid
        out = subprocess.run(["pgrep", "-P", str(sup)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    @property
    def worker_count(self):
        """How many workers the supervisor keeps: the API pool and the upload pool."""
        return self.workers + self.upload_workers

    def upload_worker_pids(self):
        """The upload pool's workers: those holding the upload socket (each
        worker keeps only its own pool's socket open)."""
        inode = None
        with open("/proc/net/unix") as f:
            for line in f:
                # Num RefCount Protocol Flags Type St Inode Path: the listener
                # (flag __SO_ACCEPTCON), not a connection accepted from it.
                fields = line.split()
                if len(fields) >= 8 and fields[-1] == self.upload_socket_path and int(fields[3], 16) & 0x10000:
                    inode = fields[6]
                    break
        if inode is None:
            return []
        found = []
        for pid in self.worker_pids():
            try:
                if any(os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]" for fd in os.listdir(f"/proc/{pid}/fd")):
                    found.append(pid)
            except (FileNotFoundError, ProcessLookupError):
                pass
        return found

    # nginx
    def _render_nginx(self):
        values = {
            "RUN_DIR": self.run_dir, "PORT": self.port, "USER": pwd.getpwuid(os.getuid()).pw_name, "SOCKET": self.socket_path,
            "STORE_ADDRESS": self.store_endpoint.split("://")[1], "STORE_HOST": self.store_endpoint.split("://")[1],
            "STORE_SCHEME": "https" if self.store_tls else "http",
            # nginx matches proxy_ssl_name against DNS names only (never an IP
            # SAN), so it checks the certificate's DNS:localhost.
            "STORE_TLS": (f"    proxy_ssl_trusted_certificate {self.store_cert};\n    proxy_ssl_verify on;\n"
                          "    proxy_ssl_name localhost;\n    proxy_ssl_session_reuse on;") if self.store_tls else "",
            "DOCS_DIR": self.path("docs"), "BODY_TEMP_DIR": self.path("nginx", "client_body"),
            "MAX_BODY_SIZE": "6g", "DOWNLOAD_RATE": self.download_rate, "DOWNLOAD_BURST": self.download_burst,
            "FASTCGI_PARAMS": self.path("nginx", "fastcgi_params"),
            "FASTCGI_UPLOAD_PARAMS": self.path("nginx", "fastcgi_upload_params"),
            "UPLOAD_SLOTS": self.upload_slots, "UPLOAD_SLOTS_PER_CLIENT": self.upload_slots_per_client,
            "EXTRA_LOCATIONS": self.extra_nginx_locations,
        }
        # The FastCGI parameters twice: to the API pool, and to the upload pool.
        upload_values = dict(values, SOCKET=self.upload_socket_path)
        for template, output, vals in (("depot-http.conf.in", "nginx/depot-http.conf", values),
                                       ("depot-server.conf.in", "nginx/depot-server.conf", values),
                                       ("fastcgi_params.in", "nginx/fastcgi_params", values),
                                       ("fastcgi_params.in", "nginx/fastcgi_upload_params", upload_values),
                                       ("dev-nginx.conf.in", "nginx/nginx.conf", values)):
            with open(os.path.join(REPO, "nginx", template)) as f:
                text = render(f.read(), vals)
            with open(self.path(output), "w") as f:
                f.write(text)
        docs = subprocess.run(["bash", os.path.join(REPO, "scripts", "install-docs-assets.sh"), self.path("docs")],
                              capture_output=True, text=True)
        if docs.returncode != 0:
            raise RuntimeError("docs assets: " + docs.stderr)

    def start_nginx(self):
        conf = self.path("nginx", "nginx.conf")
        check = subprocess.run(["nginx", "-t", "-p", self.path("nginx"), "-e", self.path("logs", "nginx-error.log"),
                                "-c", conf], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError("nginx -t failed: " + check.stderr)
        log = open(self.path("logs", "nginx.log"), "ab")
        self.processes["nginx"] = subprocess.Popen(
            ["nginx", "-p", self.path("nginx"), "-e", self.path("logs", "nginx-error.log"), "-c", conf],
            stdout=log, stderr=log, start_new_session=True)

        def ready():
            if self.processes["nginx"].poll() is not None:
                with open(self.path("logs", "nginx-error.log"), errors="replace") as f:
                    why = [line.strip() for line in f if "[emerg]" in line or "[alert]" in line][-3:]
                raise ProcessExited(f"nginx exited on port {self.port}: {' | '.join(why) or 'see ' + self.path('logs', 'nginx-error.log')}")
            with urllib.request.urlopen(self.base_url + "/openapi.json", timeout=2) as r:
                return r.status == 200

        wait_for(ready, 30, "nginx")

    def reload_nginx(self):
        self.processes["nginx"].send_signal(signal.SIGHUP)

    # Tokens
    def token(self, sub, org, role="member", acct=None, ttl=3600, **claims):
        import jwt
        now = int(time.time())
        payload = {"sub": sub, "org": org, "role": role, "iat": now, "exp": now + ttl}
        if self.issuer:
            payload["iss"] = self.issuer
        if self.audience:
            payload["aud"] = self.audience
        if acct:
            payload["acct"] = acct
        payload.update(claims)
        return jwt.encode(payload, self.hs256_secret, algorithm="HS256")


def temp_stack(**kwargs):
    """A stack in a fresh temp directory (removed by `cleanup`)."""
    run_dir = tempfile.mkdtemp(prefix="depot-test-")
    stack = Stack(run_dir, **kwargs)
    return stack
