"""Integration test fixtures: a real stack (SeaweedFS, depot workers, nginx)
on free loopback ports in a temp dir, stopped by PID even when tests fail.

DEPOT_TEST_DATABASE=postgresql runs the session's stacks on PostgreSQL: one
server for the session (tmp_root/postgres), a database of its own for each
stack. Tests marked `sqlite_only` (they are about the SQLite file itself)
are skipped then; tests marked `postgresql_only` run on that pass only."""
import os
import shutil
import sys
import tempfile
import uuid

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts"))
from depot_stack import IDEMPOTENT_METHODS, Stack  # noqa: E402
from postgres_server import PostgresServer  # noqa: E402
from depotctl_cli import set_plan  # noqa: E402,F401 - shared with the test modules

BUILD = os.environ.get("DEPOT_BUILD", "debug")
DATABASE = os.environ.get("DEPOT_TEST_DATABASE", "sqlite")
if DATABASE not in ("sqlite", "postgresql"):
    raise pytest.UsageError(f"DEPOT_TEST_DATABASE must be sqlite or postgresql, not {DATABASE!r}")
ISSUER = "https://issuer.depot.test"
AUDIENCE = "depot-api"


class Keys:
    """Asymmetric JWT keys made for this test run; never written to the repo."""

    def __init__(self):
        self.ec_private = ec.generate_private_key(ec.SECP256R1())
        self.rsa_private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @staticmethod
    def public_pem(key):
        return key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(reason): about the SQLite database file itself; "
                                       "skipped when DEPOT_TEST_DATABASE=postgresql")
    config.addinivalue_line("markers", "postgresql_only(reason): about PostgreSQL itself; "
                                       "skipped unless DEPOT_TEST_DATABASE=postgresql")


def pytest_report_header(config):
    return f"metadata database: {DATABASE} (DEPOT_TEST_DATABASE)"


def pytest_collection_modifyitems(config, items):
    skipped = "postgresql_only" if DATABASE == "sqlite" else "sqlite_only"
    for item in items:
        mark = item.get_closest_marker(skipped)
        if mark is not None:
            why = mark.args[0] if mark.args else mark.kwargs.get("reason", "")
            item.add_marker(pytest.mark.skip(reason=f"{skipped.replace('_', ' ')}: {why}".rstrip(": ")))


@pytest.fixture(scope="session")
def keys():
    return Keys()


def make_stack(tmp_root, name, postgres_server=None, **kwargs):
    """A stack in tmp_root/name; on the PostgreSQL pass, with a database of
    its own on the session's server unless the caller chose its database."""
    run_dir = os.path.join(tmp_root, name)
    os.makedirs(run_dir)
    if postgres_server is not None and not {"database", "postgres", "database_url"} & set(kwargs):
        kwargs["postgres"] = postgres_server
    return Stack(run_dir, build=BUILD, **kwargs)


def drop_stack_database(stack, postgres_server):
    """Drops the database a stack made on the session's server (kept with DEPOT_KEEP_TMP=1)."""
    if (postgres_server is not None and stack.postgres is postgres_server and stack.database_url
            and os.environ.get("DEPOT_KEEP_TMP") != "1"):
        postgres_server.drop_database(stack.database_url.rsplit("/", 1)[1])


@pytest.fixture(scope="session")
def tmp_root():
    d = tempfile.mkdtemp(prefix="depot-it-")
    yield d
    # DEPOT_KEEP_TMP=1 keeps the run dirs (logs, database) for a post-mortem.
    if os.environ.get("DEPOT_KEEP_TMP") != "1":
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server(tmp_root):
    """The session's PostgreSQL server on the PostgreSQL pass (else None).
    fsync is off: an OS crash is not among the faults tested."""
    if DATABASE != "postgresql":
        yield None
        return
    server = PostgresServer(os.path.join(tmp_root, "postgres"), fsync=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stack_database(postgres_server):
    """Keyword arguments for a Stack a test builds itself: this pass's database."""
    return {"postgres": postgres_server} if postgres_server is not None else {}


@pytest.fixture(scope="session")
def stack(tmp_root, keys, postgres_server):
    """The shared stack: HS256, ES256 and RS256 accepted, issuer and audience checked."""
    s = make_stack(tmp_root, "main", postgres_server, workers=2, issuer=ISSUER, audience=AUDIENCE,
                   es256_public_pem=Keys.public_pem(keys.ec_private),
                   rs256_public_pem=Keys.public_pem(keys.rsa_private),
                   plans={"tiny": {"quota": "1MiB", "max_file_size": "512KiB", "max_files": 5},
                          "small": {"quota": "64MiB", "max_file_size": "8MiB", "max_files": 1000}})
    s.start()
    yield s
    s.stop()


@pytest.fixture
def fresh_stack(tmp_root, postgres_server):
    """A private stack for tests that kill or signal processes."""
    made = []

    def start(**kwargs):
        s = make_stack(tmp_root, "s-" + uuid.uuid4().hex[:8], postgres_server, **kwargs)
        made.append(s)
        return s.start()

    yield start
    for s in made:
        s.stop()
        drop_stack_database(s, postgres_server)


class Client:
    """A caller of the API through nginx, with its own identity."""

    def __init__(self, stack, org=None, user=None, role="member", acct=None, token=None):
        self.stack = stack
        self.org = org or str(uuid.uuid4())
        self.user = user or str(uuid.uuid4())
        self.role = role
        self.token = token or stack.token(self.user, self.org, role=role, acct=acct)
        self.session = requests.Session()
        # nginx closes a keep-alive connection after answering before the
        # whole body was read (an early refusal); a request already sent on
        # it sees the close. Like HTTP clients (RFC 9112, 9.3.1), an
        # idempotent request is retried once then; uploads never are.
        retry = Retry(total=1, connect=0, read=1, status=0, redirect=0, other=0,
                      allowed_methods=IDEMPOTENT_METHODS, raise_on_status=False)
        self.session.mount("http://", HTTPAdapter(max_retries=retry))

    @property
    def headers(self):
        return {"Authorization": "Bearer " + self.token}

    def url(self, path):
        return self.stack.base_url + path

    def get(self, path, **kw):
        return self.session.get(self.url(path), headers={**self.headers, **kw.pop("headers", {})}, timeout=60, **kw)

    def post(self, path, **kw):
        return self.session.post(self.url(path), headers={**self.headers, **kw.pop("headers", {})}, timeout=300, **kw)

    def delete(self, path, **kw):
        return self.session.delete(self.url(path), headers={**self.headers, **kw.pop("headers", {})}, timeout=60, **kw)

    def upload(self, name, data, category=None, content_type="application/octet-stream", **fields):
        form = {k: v for k, v in fields.items() if v is not None}
        if category:
            form["category"] = category
        return self.post("/api/v1/storage/upload", files={"file": (name, data, content_type)}, data=form)

    def colleague(self, role="member"):
        """Another user of the same organization."""
        return Client(self.stack, org=self.org, role=role)


@pytest.fixture
def client(stack):
    c = Client(stack)
    c.get("/api/v1/storage/quota").raise_for_status()
    return c


@pytest.fixture
def admin(stack):
    c = Client(stack, role="admin")
    c.get("/api/v1/storage/quota").raise_for_status()
    return c


def store_keys(stack, prefix="organizations/"):
    """The set of object keys under `prefix` in the stack's bucket."""
    s3 = stack.s3()
    keys, token = [], None
    while True:
        kw = {"Bucket": stack.bucket, "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_objects_v2(**kw)
        keys += [o["Key"] for o in page.get("Contents", [])]
        token = page.get("NextContinuationToken")
        if not token:
            return set(keys)


def assert_error(response, status, code=None):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "request_id"}
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]
