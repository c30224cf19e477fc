#!/usr/bin/env python3
"""A throwaway PostgreSQL cluster for the dev stack and the tests.

`PostgresServer(directory)` keeps everything under `directory`:

- `pgdata/`: the cluster (`initdb -E UTF8 --no-locale`, made once and reused
  on the next start, so `make run` keeps its metadata between runs);
- `socket/`: the server's unix socket (mode 0700, the server's user only):
  the superuser connects there (trust), for administration only;
- `database.password` (0600): the password of the role `depot`;
- `database.url`: `postgresql://depot@127.0.0.1:PORT/depot`, without the
  password (Depot refuses a password inside the URL).

The server listens on 127.0.0.1 only, on a port chosen when it first starts
(kept across stop/start/restart, so a running Depot reconnects to it), and
accepts TCP logins with SCRAM-SHA-256 only. Run as root, the server runs as
the `postgres` system user (Debian's package makes it) and `directory`
belongs to that user; otherwise it runs as the caller. Every process it
starts it stops by PID: SIGINT (fast shutdown), then SIGKILL.

Command line:

    python scripts/postgres_server.py run -- CMD...   # temp server, CMD with
        # DEPOT_TEST_POSTGRESQL_URL and DEPOT_TEST_POSTGRESQL_PASSWORD_FILE set;
        # exits with CMD's status
    python scripts/postgres_server.py serve DIRECTORY  # in the foreground until Ctrl-C
"""
import base64
import glob
import hashlib
import hmac
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ports import free_port  # noqa: E402

ROLE = "depot"
DATABASE = "depot"
SUPERUSER = "postgres"
NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def binaries_dir():
    """Where initdb, postgres and psql are: $DEPOT_POSTGRESQL_BIN, else the
    newest /usr/lib/postgresql/*/bin (Debian), else the PATH."""
    if os.environ.get("DEPOT_POSTGRESQL_BIN"):
        return os.environ["DEPOT_POSTGRESQL_BIN"]
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: [int(x) if x.isdigit() else 0 for x in p.split("/")[4].split(".")])
    if found:
        return os.path.dirname(found[-1])
    postgres = shutil.which("postgres")
    if postgres:
        return os.path.dirname(postgres)
    raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql (or set DEPOT_POSTGRESQL_BIN)")


def scram_verifier(password, iterations=4096):
    """The SCRAM-SHA-256 verifier PostgreSQL stores (RFC 5802/7677): the
    server is given this, never the password itself."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def quote_literal(text):
    return "'" + text.replace("'", "''") + "'"


class PostgresServer:
    """One PostgreSQL cluster under `directory`. `fsync=False` is for tests
    only (an OS crash could lose commits; a server crash cannot)."""

    def __init__(self, directory, port=None, fsync=True, log_path=None, max_connections=200):
        self.directory = os.path.abspath(directory)
        self.port = port
        self.fsync = fsync
        self.log_path = log_path or os.path.join(self.directory, "postgres.log")
        self.max_connections = max_connections
        self.bin = None
        self.process = None
        self._run_as = None  # (uid, gid) of the server's user when started as root

    # Paths and addresses
    @property
    def data_dir(self):
        return os.path.join(self.directory, "pgdata")

    @property
    def socket_dir(self):
        return os.path.join(self.directory, "socket")

    @property
    def password_file(self):
        return os.path.join(self.directory, "database.password")

    @property
    def url_file(self):
        return os.path.join(self.directory, "database.url")

    @property
    def password(self):
        with open(self.password_file) as f:
            return f.read().strip()

    def url_for(self, database=DATABASE):
        """The URL of one of this server's databases, for the role `depot`, without the password."""
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self):
        return self.url_for(DATABASE)

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def running(self):
        return self.process is not None and self.process.poll() is None

    # Lifecycle
    def start(self, timeout=60):
        """initdb (first time only), start the server, make the role and the database (first time only)."""
        if self.running():
            return self
        self.bin = self.bin or binaries_dir()
        self._prepare_directory()
        if not os.path.exists(os.path.join(self.data_dir, "PG_VERSION")):
            self._initdb()
        if not os.path.exists(self.password_file):
            self._write_private(self.password_file, secrets.token_urlsafe(24) + "\n")
        for attempt in range(3):
            chosen = self.port is None
            if chosen:
                self.port = free_port()
            try:
                self._start_postmaster(timeout)
                break
            except PortTaken:
                if not chosen or attempt == 2:
                    raise
                self.port = None  # another process took the port between the choice and the bind
        try:
            self._ensure_role_and_database()
        except Exception:
            self.stop()
            raise
        with open(self.url_file, "w") as f:
            f.write(self.url + "\n")
        return self

    def stop(self, timeout=30):
        """Fast shutdown (SIGINT to the postmaster, which ends its backends),
        then SIGKILL to it and its children if it hangs."""
        proc, self.process = self.process, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill(proc)
        if proc.stdout:
            proc.stdout.close()

    def kill(self):
        """SIGKILL of the postmaster, as a crash would do; its backends notice
        and exit (those that do not within 30 s are killed too)."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            self._kill(proc, children_too=False)

    def _kill(self, proc, children_too=True, timeout=30):
        # Each child of the postmaster leads a session of its own, so they are
        # found by parent before the postmaster goes, and waited for by PID.
        children = self.children(proc.pid)
        proc.kill()
        proc.wait()
        if children_too:
            for pid, start in children:
                if _alive(pid, start):
                    _signal(pid, signal.SIGKILL)
        deadline = time.time() + timeout
        while any(_alive(pid, start) for pid, start in children):
            if time.time() > deadline:
                for pid, start in children:
                    if _alive(pid, start):
                        _signal(pid, signal.SIGKILL)
                deadline = time.time() + timeout
            time.sleep(0.05)

    @staticmethod
    def children(pid):
        """(pid, start time) of the processes whose parent is `pid`."""
        found = []
        for entry in os.listdir("/proc"):
            stat_ = _proc_stat(entry) if entry.isdigit() else None
            if stat_ and int(stat_[1]) == pid:
                found.append((int(entry), stat_[19]))
        return found

    def restart(self, down_seconds=0):
        """stop(), wait `down_seconds`, start() on the same port."""
        self.stop()
        if down_seconds:
            time.sleep(down_seconds)
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # Databases
    def create_database(self, name):
        """A new database owned by `depot` (for another stack on this server); returns its URL."""
        if not NAME.match(name):
            raise ValueError(f"database name {name!r}: lowercase letters, digits and _ only")
        self.psql(f'CREATE DATABASE "{name}" OWNER {ROLE} ENCODING \'UTF8\' TEMPLATE template0')
        return self.url_for(name)

    def drop_database(self, name):
        if not NAME.match(name):
            raise ValueError(f"database name {name!r}")
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def databases(self):
        out = self.psql("SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1", tuples=True)
        return out.split()

    def psql(self, sql, database="postgres", tuples=False, timeout=60):
        """Runs SQL as the superuser over the private unix socket (SQL on
        stdin, never on a command line); returns stdout."""
        args = [os.path.join(self.bin or binaries_dir(), "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                "-h", self.socket_dir, "-p", str(self.port), "-U", SUPERUSER, "-d", database]
        if tuples:
            args += ["-A", "-t"]
        done = subprocess.run(args, input=sql, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, PGCONNECT_TIMEOUT="5"), **self._user_kwargs())
        if done.returncode != 0:
            raise RuntimeError(f"psql failed ({done.returncode}): {done.stderr.strip()[:1000]}")
        return done.stdout

    # Internals
    def _user_kwargs(self):
        if self._run_as is None:
            return {}
        uid, gid = self._run_as
        return {"user": uid, "group": gid, "extra_groups": []}

    def _prepare_directory(self):
        os.makedirs(self.directory, exist_ok=True)
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("as root the server runs as the user postgres, which does not exist: "
                                   "apt-get install postgresql") from None
            self._run_as = (account.pw_uid, account.pw_gid)
            self._reachable_by(account.pw_uid, account.pw_gid)
        os.makedirs(self.socket_dir, exist_ok=True)
        for d in (self.directory, self.socket_dir):
            os.chmod(d, 0o700)
            if self._run_as:
                os.chown(d, *self._run_as)

    def _reachable_by(self, uid, gid):
        """The server's user must reach `directory` by its path. Temp
        directories (mkdtemp makes them 0700) that this process owns get o+x
        (search, no listing); any other directory in the way is an error."""
        temp = os.path.realpath(tempfile.gettempdir())
        path = os.path.dirname(self.directory)
        while True:
            st = os.stat(path)
            if st.st_uid == uid:
                ok = st.st_mode & stat.S_IXUSR
            elif st.st_gid == gid:
                ok = st.st_mode & stat.S_IXGRP
            else:
                ok = st.st_mode & stat.S_IXOTH
            if not ok:
                real = os.path.realpath(path)
                if st.st_uid != os.geteuid() or not real.startswith(temp + os.sep):
                    raise RuntimeError(f"the postgres user cannot reach {self.directory}: {path} is closed to it "
                                       f"(chmod o+x {path}, or choose a directory elsewhere)")
                os.chmod(path, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
            if path == "/":
                return
            path = os.path.dirname(path)

    def _write_private(self, path, text):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        # Readable by this process's user (Depot, the tests) only.

    def _initdb(self):
        if os.path.exists(self.data_dir):
            shutil.rmtree(self.data_dir)  # a half-made cluster from an interrupted initdb
        os.makedirs(self.data_dir, mode=0o700)
        if self._run_as:
            os.chown(self.data_dir, *self._run_as)
        done = subprocess.run([os.path.join(self.bin, "initdb"), "-D", self.data_dir, "-U", SUPERUSER,
                               "-E", "UTF8", "--no-locale", "--auth-local=trust", "--auth-host=scram-sha-256",
                               "--no-instructions"],
                              capture_output=True, text=True, timeout=300, cwd=self.directory, **self._user_kwargs())
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
        # Only the server's own user reaches the socket (its directory is 0700),
        # so trust there admits the superuser and root; TCP needs SCRAM.
        with open(os.path.join(self.data_dir, "pg_hba.conf"), "w") as f:
            f.write("# Written by scripts/postgres_server.py.\n"
                    "# TYPE  DATABASE  USER  ADDRESS       METHOD\n"
                    "local   all       all                 trust\n"
                    "host    all       all   127.0.0.1/32  scram-sha-256\n")
        if self._run_as:
            os.chown(os.path.join(self.data_dir, "pg_hba.conf"), *self._run_as)

    def _start_postmaster(self, timeout):
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": self.socket_dir,
            "unix_socket_permissions": "0700",
            "password_encryption": "scram-sha-256",
            "max_connections": str(self.max_connections),
            "fsync": "on" if self.fsync else "off",
            "full_page_writes": "on" if self.fsync else "off",
            "log_destination": "stderr",
            "logging_collector": "off",
            "log_line_prefix": "%m [%p] %q%u@%d ",
            "log_timezone": "UTC",
            "timezone": "UTC",
            "shared_buffers": "64MB",
        }
        args = [os.path.join(self.bin, "postgres"), "-D", self.data_dir]
        for k, v in settings.items():
            args += ["-c", f"{k}={v}"]
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.directory,
                                            start_new_session=True, **self._user_kwargs())
        finally:
            log.close()
        deadline = time.time() + timeout
        while True:
            if self.process.poll() is not None:
                self.process = None
                tail = self._log_since(offset)
                if "could not bind" in tail or "Address already in use" in tail:
                    raise PortTaken(tail)
                raise RuntimeError(f"postgres exited; see {self.log_path}:\n{tail[-2000:]}")
            if self._ready():
                return
            if time.time() > deadline:
                self.stop()
                raise RuntimeError(f"postgres not ready after {timeout}s; see {self.log_path}")
            time.sleep(0.1)

    def _ready(self):
        done = subprocess.run([os.path.join(self.bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port),
                               "-d", "postgres", "-t", "2"], capture_output=True, timeout=10)
        return done.returncode == 0

    def _log_since(self, offset):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _ensure_role_and_database(self):
        verifier = scram_verifier(self.password)
        exists = self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}'", tuples=True).strip()
        verb = "ALTER" if exists else "CREATE"
        # The password file is the truth: the role's verifier follows it at every start.
        self.psql(f"{verb} ROLE {ROLE} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {quote_literal(verifier)}")
        if DATABASE not in self.databases():
            self.create_database(DATABASE)


class PortTaken(RuntimeError):
    pass


def _proc_stat(pid):
    """Fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def _alive(pid, start):
    """Whether `pid` is still the process that started at `start` (not a zombie)."""
    fields = _proc_stat(pid)
    return fields is not None and fields[19] == start and fields[0] != "Z"


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _run(argv):
    if not argv or argv[0] != "--" or len(argv) < 2:
        print("usage: postgres_server.py run -- CMD [ARGS...]", file=sys.stderr)
        return 2
    command = argv[1:]
    directory = tempfile.mkdtemp(prefix="depot-pg-")
    server = PostgresServer(directory, fsync=False)
    child = None

    def on_signal(signum, _frame):
        if child and child.poll() is None:
            child.send_signal(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        server.start()
        print(f"postgres_server: PostgreSQL on {server.url} (pid {server.pid}, log {server.log_path})", flush=True)
        env = dict(os.environ, DEPOT_TEST_POSTGRESQL_URL=server.url,
                   DEPOT_TEST_POSTGRESQL_PASSWORD_FILE=server.password_file)
        child = subprocess.Popen(command, env=env)
        try:
            return child.wait()
        except KeyboardInterrupt:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            return 130
    except KeyboardInterrupt:
        return 130
    finally:
        server.stop()
        if os.environ.get("DEPOT_KEEP_TMP") == "1":
            print(f"postgres_server: kept {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


def _serve(argv):
    if len(argv) != 1:
        print("usage: postgres_server.py serve DIRECTORY", file=sys.stderr)
        return 2
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    server = PostgresServer(argv[0])
    try:
        server.start()
        print(f"PostgreSQL on {server.url} (password in {server.password_file}, log {server.log_path}); Ctrl-C stops it",
              flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        server.stop()
    return 0


def main(argv):
    if argv and argv[0] == "run":
        return _run(argv[1:])
    if argv and argv[0] == "serve":
        return _serve(argv[1:])
    print(__doc__.strip().split("Command line:")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
