#!/usr/bin/env python3
"""`make run`: the whole Depot stack on loopback, in the foreground.

DEPOT_PORT (default 8080) and DEPOT_RUN_DIR (default ./.run) choose where.
DEPOT_DATABASE=postgresql keeps the metadata in a PostgreSQL server started
in the run directory (postgres/; URL in database.url); default sqlite.
DEPOT_NODES=2 starts two nodes (each its own nginx and workers, node 2 in
RUN_DIR/node2) on DEPOT_PORT and DEPOT_PORT+1, sharing one PostgreSQL and a
SeaweedFS cluster (master, two volume servers with replication 001, filer,
S3 gateway: scripts/seaweed_cluster.py); it implies postgresql.
DEPOT_WEBHOOK_URL=URL sends every event to one endpoint (named `default`);
its signing secret is written to RUN_DIR/secrets/webhook.key.
DEPOT_ANTIVIRUS=clamd starts clamd on a unix socket in the run directory
(clamd/clamd.sock) with a signature database, made at start, that detects
the EICAR test file; every upload is scanned with it.
Ctrl-C stops everything this started.
"""
import os
import signal
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import depotctl_cli  # noqa: E402
from depot_stack import Stack  # noqa: E402


def main():
    run_dir = os.environ.get("DEPOT_RUN_DIR", "./.run")
    port = int(os.environ.get("DEPOT_PORT", "8080"))
    os.makedirs(run_dir, exist_ok=True)
    nodes = os.environ.get("DEPOT_NODES", "1")
    if nodes not in ("1", "2"):
        sys.exit(f"DEPOT_NODES must be 1 or 2, not {nodes!r}")
    database = os.environ.get("DEPOT_DATABASE", "postgresql" if nodes == "2" else "sqlite")
    if database not in ("sqlite", "postgresql"):
        sys.exit(f"DEPOT_DATABASE must be sqlite or postgresql, not {database!r}")
    if nodes == "2" and database != "postgresql":
        sys.exit("DEPOT_NODES=2 needs DEPOT_DATABASE=postgresql (the nodes share one database)")
    antivirus = os.environ.get("DEPOT_ANTIVIRUS", "")
    if antivirus not in ("", "clamd"):
        sys.exit(f"DEPOT_ANTIVIRUS must be clamd (or unset), not {antivirus!r}")
    stack = Stack(run_dir, port=port, workers=int(os.environ.get("DEPOT_WORKERS", "0")) or os.cpu_count(),
                  database=database, store="cluster" if nodes == "2" else "mini", antivirus=antivirus == "clamd",
                  webhooks={"default": os.environ["DEPOT_WEBHOOK_URL"]} if os.environ.get("DEPOT_WEBHOOK_URL") else None)
    second = stack.second_node(os.path.join(run_dir, "node2"), port=port + 1) if nodes == "2" else None
    try:
        stack.start()
        if second:
            second.start()
        ids_file = stack.path("dev-identity")
        if os.path.exists(ids_file):
            org, user = open(ids_file).read().split()
        else:
            org, user = str(uuid.uuid4()), str(uuid.uuid4())
            with open(ids_file, "w") as f:
                f.write(f"{org} {user}\n")
        token = stack.token(user, org, role="admin", acct="organization", ttl=24 * 3600)
        console = depotctl_cli.run_json(stack, "token", "issue", "--console", "--user", user, "--org", org, "--role", "admin",
                                        "--acct", "organization", "--ttl", str(24 * 3600), "--login-ttl", "3600")["console_url"]
        url = stack.base_url
        metadata = (f"PostgreSQL {stack.database_url} (password in {stack.database_password_file})"
                    if stack.database == "postgresql" else "SQLite " + stack.path("data", "depot.sqlite3"))
        node2 = ""
        webhook = (f"Events: POSTed to {os.environ['DEPOT_WEBHOOK_URL']}, signed with the secret in "
                   f"{stack.webhook_secret_path()} (depotctl events list)\n" if stack.webhooks else "")
        if second:
            cluster = stack.cluster
            node2 = (f"Node 2 is running at {second.base_url}   "
                     f"(run dir: {second.run_dir}; logs in {second.path('logs')})\n"
                     f"Store: SeaweedFS cluster at {stack.store_endpoint}: {cluster.volume_count} volume servers, "
                     f"replication {cluster.replication} (data in {stack.path('store')})\n")
        scanning = (f"Antivirus: clamd at {stack.clamd.socket_path} (detects the EICAR test file)\n"
                    if stack.clamd else "")
        print(f"""
Depot is running at {url}   (run dir: {stack.run_dir}; logs in {stack.path('logs')})
{node2}{scanning}API docs: {url}/docs   OpenAPI: {url}/openapi.json
Console: {url}/console/   one-time login link (valid 1 h; depotctl token issue --console makes more):
  {console}
Metadata: {metadata}
{webhook}
Bearer token (organization admin, valid 24 h):
export TOKEN={token}

Try:
  curl -H "Authorization: Bearer $TOKEN" {url}/api/v1/storage/quota
  curl -H "Authorization: Bearer $TOKEN" -F file=@README.md -F category=general {url}/api/v1/storage/upload
  curl -H "Authorization: Bearer $TOKEN" "{url}/api/v1/storage/files?page_size=5"

Ctrl-C stops nginx, the workers{", the store and PostgreSQL" if stack.own_postgres else " and the store"}.
""", flush=True)
        # Signals are blocked (see below) so Ctrl-C during start-up cannot
        # leave half a stack behind; here we wait for one.
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        print("stopping...", flush=True)
        if second:
            second.stop()
        stack.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    main()
