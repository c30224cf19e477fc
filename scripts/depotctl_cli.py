"""depotctl from Python: how scripts and tests read and change what Depot's
database holds (plans, reservations, file records, figures) without writing
SQL. The one module that opens the database itself is database_oracle.py.

`where` is a stack (scripts/depot_stack.py, or anything with `bin_dir` and
`config_path`) or a directory holding the depotctl binary (then give
`config=`, or set DEPOT_CONFIG in `env`).
"""
import json
import os
import subprocess


class DepotctlFailed(AssertionError):
    """depotctl exited with another status than the caller expected."""


def run(where, *args, config=None, env=None, timeout=300):
    """Runs depotctl; returns the CompletedProcess (text stdout and stderr)."""
    bin_dir = where if isinstance(where, str) else where.bin_dir
    if config is None and not isinstance(where, str):
        config = where.config_path
    command = [os.path.join(bin_dir, "depotctl")] + (["--config", config] if config else []) + list(args)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **(env or {})))


def run_json(where, *args, code=0, **kw):
    """Runs `depotctl ARGS --json`, checks the exit status, returns the parsed document."""
    done = run(where, *args, "--json", **kw)
    if done.returncode != code:
        raise DepotctlFailed(f"depotctl {' '.join(args)} exited {done.returncode}, not {code}: "
                             f"{done.stderr.strip()[:500] or done.stdout.strip()[:500]}")
    return json.loads(done.stdout)


def set_plan(stack, org, plan):
    """Puts an organization (which must exist: it has made a request) on a plan."""
    done = run(stack, "org", "set-plan", org, plan, timeout=60)
    if done.returncode != 0:
        raise DepotctlFailed(f"depotctl org set-plan {org} {plan} exited {done.returncode}: {done.stderr.strip()[:500]}")


def reservations(stack, org=None):
    """The uploads in flight, oldest first: dicts with id, organization_id,
    user_id, object_key, upload_id, bytes, owner_pid, created_at, expires_at."""
    return run_json(stack, "reservations", "list", *(["--org", org] if org else []), timeout=60)["reservations"]


def file_records(stack, org=None):
    """The file records, sorted by key: dicts with object_key and size."""
    return run_json(stack, "files", "list", *(["--org", org] if org else []), timeout=120)["files"]


def record_keys(stack, org=None):
    """The object keys of the file records, sorted."""
    return [f["object_key"] for f in file_records(stack, org)]


def stats(stack):
    """`depotctl stats`: files, bytes, organizations, reservations, pending deletes, schema version."""
    return run_json(stack, "stats", timeout=60)


def organization(stack, org):
    """`depotctl org show ORG`: plan, usage, reservations and users of one organization."""
    return run_json(stack, "org", "show", org, timeout=60)
