"""The foundation: routes that work end to end, JSON errors, JWT checks,
worker supervision and systemd socket activation."""
import base64
import json
import os
import signal
import time
import uuid

import jwt
import pytest
import requests

from conftest import AUDIENCE, ISSUER, Client, Keys, assert_error


def claims(**over):
    now = int(time.time())
    c = {"sub": str(uuid.uuid4()), "org": str(uuid.uuid4()), "exp": now + 600, "iat": now,
         "iss": ISSUER, "aud": AUDIENCE}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def get_quota(stack, token):
    return requests.get(stack.base_url + "/api/v1/storage/quota",
                        headers={"Authorization": "Bearer " + token}, timeout=30)


def test_quota_returns_the_contract_shape(client):
    # A new organization gets the default organization plan.
    r = client.get("/api/v1/storage/quota")
    assert r.status_code == 200
    body = r.json()
    assert body == {"account_type": "organization", "plan": "organization", "quota_bytes": 100 << 30,
                    "max_file_size_bytes": 5 << 30, "max_files": 1_000_000,
                    "allowed_categories": ["data_source", "profile_image", "general"], "member_quota_bytes": None}


def test_individual_account_gets_individual_plan(stack):
    # acct=individual on first sight selects the Individual plan.
    c = Client(stack, acct="individual")
    body = c.get("/api/v1/storage/quota").json()
    assert (body["account_type"], body["plan"], body["quota_bytes"], body["max_file_size_bytes"], body["max_files"]) == \
        ("individual", "individual", 5 << 30, 100 << 20, 10_000)


def test_usage_of_an_empty_organization(client):
    # Every figure of the contract is present and zero.
    body = client.get("/api/v1/storage/usage").json()
    assert body == {"used_bytes": 0, "reserved_bytes": 0, "file_count": 0, "quota_bytes": 100 << 30,
                    "available_bytes": 100 << 30, "percent_used": 0, "user_used_bytes": 0, "user_file_count": 0,
                    "by_category": {c: {"bytes": 0, "files": 0} for c in ("data_source", "profile_image", "general")}}


def test_buckets_lists_the_deployment_bucket(client):
    # The bucket Depot stores into, with an RFC 3339 creation time.
    body = client.get("/api/v1/storage/buckets").json()
    assert [b["name"] for b in body["buckets"]] == ["depot"]
    assert body["buckets"][0]["created_at"].endswith("Z")


@pytest.mark.parametrize("path", ["/api/v1/storage/quota", "/api/v1/storage/usage", "/api/v1/storage/buckets",
                                  "/api/v1/storage/files", "/api/v1/objects/storage-usage"])
def test_missing_token_is_401_json(stack, path):
    # No Authorization header: 401, JSON, WWW-Authenticate: Bearer.
    r = requests.get(stack.base_url + path, timeout=30)
    assert_error(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"] == "Bearer"


def test_unknown_route_is_404_json(client):
    # A path under the API that no route matches.
    assert_error(client.get("/api/v1/storage/nothing-here"), 404, "not_found")
    assert_error(client.get("/api/v2/anything"), 404, "not_found")


def test_wrong_method_is_405_json(client):
    # PUT on a GET route names the allowed methods.
    r = client.session.put(client.url("/api/v1/storage/quota"), headers=client.headers, timeout=30)
    assert_error(r, 405, "method_not_allowed")
    assert "GET" in r.headers["Allow"]


def test_errors_carry_request_ids(client):
    # Two errors, two distinct request ids.
    a = assert_error(client.get("/api/v1/storage/nothing"), 404)
    b = assert_error(client.get("/api/v1/storage/nothing"), 404)
    assert a["request_id"] and a["request_id"] != b["request_id"]


def test_hs256_es256_rs256_tokens_from_pyjwt_are_accepted(stack, keys, tmp_path):
    # Tokens minted by an independent library with each configured algorithm.
    for alg, key in (("HS256", stack.hs256_secret), ("ES256", keys.ec_private), ("RS256", keys.rsa_private)):
        token = jwt.encode(claims(), key, algorithm=alg)
        assert get_quota(stack, token).status_code == 200, alg


def b64(obj):
    raw = json.dumps(obj).encode() if not isinstance(obj, bytes) else obj
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forged_tokens(stack, keys):
    rsa_public_pem = Keys.public_pem(keys.rsa_private).encode()
    header_payload = b64({"alg": "HS256", "typ": "JWT"}) + "." + b64(claims())
    import hmac, hashlib
    confusion = header_payload + "." + b64(hmac.new(rsa_public_pem, header_payload.encode(), hashlib.sha256).digest())
    good = jwt.encode(claims(), stack.hs256_secret, algorithm="HS256")
    h, p, s = good.split(".")
    return {
        "alg none": b64({"alg": "none", "typ": "JWT"}) + "." + b64(claims()) + ".",
        "alg None": b64({"alg": "None"}) + "." + b64(claims()) + ".",
        "wrong signature": jwt.encode(claims(), "x" * 64, algorithm="HS256"),
        "HS256 with RS256 public key": confusion,
        "expired": jwt.encode(claims(exp=int(time.time()) - 3600), stack.hs256_secret, algorithm="HS256"),
        "not yet valid": jwt.encode(claims(nbf=int(time.time()) + 3600), stack.hs256_secret, algorithm="HS256"),
        "wrong audience": jwt.encode(claims(aud="someone-else"), stack.hs256_secret, algorithm="HS256"),
        "wrong issuer": jwt.encode(claims(iss="https://evil.example"), stack.hs256_secret, algorithm="HS256"),
        "no exp": jwt.encode(claims(exp=None), stack.hs256_secret, algorithm="HS256"),
        "sub not a uuid": jwt.encode(claims(sub="alice"), stack.hs256_secret, algorithm="HS256"),
        "unknown kid": jwt.encode(claims(), stack.hs256_secret, algorithm="HS256", headers={"kid": "nope"}),
        "malformed base64": h + ".%%%." + s,
        "tampered payload": h + "." + b64(claims(role="admin")) + "." + s,
        "two parts": h + "." + p,
        "100 KB token": jwt.encode(claims(pad="x" * 100_000), stack.hs256_secret, algorithm="HS256"),
        "garbage": "not-a-token",
    }


def test_forged_and_invalid_tokens_are_401(stack, keys):
    # Every forgery or invalid claim set: 401 JSON, never a 5xx.
    for name, token in forged_tokens(stack, keys).items():
        r = get_quota(stack, token)
        assert r.status_code == 401, (name, r.status_code, r.text[:200])
        assert_error(r, 401, "unauthorized")


def test_bad_role_claim_is_refused(stack):
    # role must be member or admin.
    token = jwt.encode(claims(role="root"), stack.hs256_secret, algorithm="HS256")
    assert_error(get_quota(stack, token), 401)


def test_killed_worker_is_replaced(fresh_stack):
    # SIGKILL a worker of each pool: the supervisor starts another in the
    # same pool, and requests and uploads succeed.
    s = fresh_stack(workers=2, upload_workers=2)
    c = Client(s)
    assert c.get("/api/v1/storage/quota").status_code == 200
    before = s.worker_pids()
    uploaders = s.upload_worker_pids()
    assert len(before) == 4 and len(uploaders) == 2
    victims = [uploaders[0], next(p for p in before if p not in uploaders)]
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 10
    while time.time() < deadline:
        now = s.worker_pids()
        if len(now) == 4 and not set(victims) & set(now) and len(s.upload_worker_pids()) == 2:
            break
        time.sleep(0.05)
    now = s.worker_pids()
    assert len(now) == 4 and not set(victims) & set(now)
    assert len(s.upload_worker_pids()) == 2
    for _ in range(20):
        assert c.get("/api/v1/storage/quota").status_code == 200
    for i in range(4):
        assert c.upload(f"after-{i}.bin", b"after the kill").status_code == 201


def test_sigterm_stops_supervisor_and_workers(fresh_stack):
    # SIGTERM on the supervisor: it and every worker exit, the socket is gone.
    s = fresh_stack(workers=2)
    workers = s.worker_pids()
    supervisor = s.processes["depot"]
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=20) == 0
    for pid in workers:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert not os.path.exists(s.socket_path)


def test_sighup_replaces_workers(fresh_stack):
    # SIGHUP re-reads the configuration by starting new workers.
    s = fresh_stack(workers=2)
    c = Client(s)
    before = set(s.worker_pids())
    s.processes["depot"].send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while time.time() < deadline and (set(s.worker_pids()) & before or len(s.worker_pids()) != 2):
        time.sleep(0.05)
    assert not (set(s.worker_pids()) & before)
    assert c.get("/api/v1/storage/quota").status_code == 200


def test_systemd_socket_activation(fresh_stack):
    # Started by systemd-socket-activate: the workers serve the socket on fd 3.
    s = fresh_stack(workers=2, socket_activation=True)
    c = Client(s)
    r = c.get("/api/v1/storage/quota")
    assert r.status_code == 200, r.text
    assert r.json()["plan"] == "organization"


def test_health_reports_database_and_store(stack):
    # Both reachable: 200 ok.
    r = requests.get(stack.base_url + "/api/v1/health", timeout=30)
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "store": "ok"}


def test_docs_and_openapi_are_served_by_nginx(stack):
    # Static docs without a worker: the OpenAPI document and the Swagger UI page.
    r = requests.get(stack.base_url + "/openapi.json", timeout=30)
    assert r.status_code == 200 and r.json()["openapi"].startswith("3.1")
    assert requests.get(stack.base_url + "/openapi.yaml", timeout=30).status_code == 200
    page = requests.get(stack.base_url + "/docs", timeout=30)
    assert page.status_code == 200 and "swagger" in page.text.lower()
