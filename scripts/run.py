#!/usr/bin/env python3
"""`make run`: the whole Depot stack on loopback, in the foreground.

DEPOT_PORT (default 8080) and DEPOT_RUN_DIR (default ./.run) choose where.
Ctrl-C stops everything this started.
"""
import os
import signal
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from depot_stack import Stack  # noqa: E402


def main():
    run_dir = os.environ.get("DEPOT_RUN_DIR", "./.run")
    port = int(os.environ.get("DEPOT_PORT", "8080"))
    os.makedirs(run_dir, exist_ok=True)
    stack = Stack(run_dir, port=port, workers=int(os.environ.get("DEPOT_WORKERS", "0")) or os.cpu_count())
    try:
        stack.start()
        ids_file = stack.path("dev-identity")
        if os.path.exists(ids_file):
            org, user = open(ids_file).read().split()
        else:
            org, user = str(uuid.uuid4()), str(uuid.uuid4())
            with open(ids_file, "w") as f:
                f.write(f"{org} {user}\n")
        token = stack.token(user, org, role="admin", acct="organization", ttl=24 * 3600)
        url = stack.base_url
        print(f"""
Depot is running at {url}   (run dir: {stack.run_dir}; logs in {stack.path('logs')})
API docs: {url}/docs   OpenAPI: {url}/openapi.json

Bearer token (organization admin, valid 24 h):
export TOKEN={token}

Try:
  curl -H "Authorization: Bearer $TOKEN" {url}/api/v1/storage/quota
  curl -H "Authorization: Bearer $TOKEN" -F file=@README.md -F category=general {url}/api/v1/storage/upload
  curl -H "Authorization: Bearer $TOKEN" "{url}/api/v1/storage/files?page_size=5"

Ctrl-C stops nginx, the workers and the store.
""", flush=True)
        # Signals are blocked (see below) so Ctrl-C during start-up cannot
        # leave half a stack behind; here we wait for one.
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        print("stopping...", flush=True)
        stack.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    main()
