"""Reliability, short form (the CI part of `make reliability`): load and
faults against a private stack each, every acknowledged file verified byte
for byte afterwards, then the consistency check (counters = records =
store objects, no stuck reservation, no orphan after one gc).

The scenarios and what counts as a failure under each fault are in
scripts/reliability/scenarios.py; `make reliability` runs the long form.
"""
import os
import subprocess
import sys
import threading
import time

import pytest

import database_oracle
import depotctl_cli
from conftest import BUILD, DATABASE, REPO, Client, assert_error
from depot_stack import Stack

sys.path.insert(0, os.path.join(REPO, "scripts", "reliability"))
import consistency  # noqa: E402
import scenarios  # noqa: E402
from load import Population  # noqa: E402

CLIENTS = 16
ORGS = 8


def start(fresh_stack, workers=4, **kwargs):
    return fresh_stack(workers=workers, plans=scenarios.PLANS, extra_config=scenarios.EXTRA_CONFIG + kwargs.pop("extra_config", ""),
                       **kwargs)


def assert_passed(run):
    report = "\n".join(run.notes + run.failures[:30] + [f"consistency: {p}" for p in (run.consistency or [])[:30]])
    assert not run.failures, report
    assert run.consistency == [], report


def scenario_passes(fresh_stack, scenario, seconds):
    """A private stack and population, `scenario` run for `seconds`, every
    acknowledged file verified, the consistency check: asserts that the run
    passed and returns it."""
    stack = start(fresh_stack)
    pop = Population(stack, orgs=ORGS, clients=CLIENTS, near_orgs=2)
    pop.setup()
    run = scenario(stack, pop, seconds)
    scenarios.settle_and_check(stack, pop, run)
    assert_passed(run)
    return run


def test_short_load_loses_nothing_and_stays_consistent(fresh_stack):
    # 16 clients, 15 s of mixed traffic, two organizations near their quota:
    # no 5xx, every download hashes to its upload, counters match records and store.
    run = scenario_passes(fresh_stack, scenarios.load, 15)
    assert run.requests > 100, run.notes


def test_killing_workers_during_load_cuts_only_their_requests(fresh_stack):
    # SIGKILL of a random worker every 2 s: at most one 502 per kill, every
    # 201 file intact, and after gc no reservation, orphan or drift is left.
    scenario_passes(fresh_stack, scenarios.kill_workers, 10)


def test_killing_upload_workers_during_streamed_uploads_leaves_nothing_behind(fresh_stack):
    # SIGKILL of an upload worker every 1.5 s while 6-8 MiB uploads stream in
    # multipart parts: at most one upload cut per kill, the API workers
    # untouched, and after gc no reservation, part, multipart upload or orphan.
    run = scenario_passes(fresh_stack, scenarios.kill_upload_workers, 10)
    assert "upload workers killed" in run.notes[-1]


def test_store_restart_gives_503_then_success(fresh_stack):
    # The store stops for 4 s during load: 503 store_unavailable (or nginx's
    # 503 for downloads) while it is away, success again once it is back.
    run = scenario_passes(fresh_stack, scenarios.store_restart, 10)
    assert run.disrupted > 0, run.notes


def test_long_write_lock_gives_503_never_500(fresh_stack):
    # Another process holds BEGIN IMMEDIATE past the busy timeout: writes
    # wait, then 503 database_unavailable; nothing else fails, nothing corrupts.
    scenario_passes(fresh_stack, scenarios.long_write_lock, 10)


def test_nginx_reload_during_uploads_fails_nothing(fresh_stack):
    # SIGHUP to nginx every second while clients upload: no request fails
    # (one retry of a request whose keep-alive connection closed unanswered,
    # as browsers do), no upload is lost or stored twice.
    scenario_passes(fresh_stack, scenarios.nginx_reload, 8)


def test_gc_during_load_never_takes_a_needed_object(fresh_stack):
    # `depotctl gc` back to back during load with an orphan grace of 0: it
    # may delete what no record or reservation claims, never a file's object
    # (it checks both claims in one snapshot, so a commit in between cannot
    # make a key look unclaimed).
    scenario_passes(fresh_stack, scenarios.gc_during_load, 10)


# Regression tests for defects the scenarios found -------------------------

def reservations(stack):
    return [(r["id"], r["object_key"]) for r in depotctl_cli.reservations(stack)]


def test_upload_failing_on_a_locked_database_gives_its_reservation_back(fresh_stack):
    # Regression: an upload whose commit found the database locked past the
    # busy timeout could not release its reservation either, and the live
    # worker kept it (and its quota) until the TTL, hours later. The worker
    # now retries the release itself once the lock is gone.
    stack = fresh_stack(workers=1, extra_config="[database]\nbusy_timeout_ms = 300\n")
    client = Client(stack)
    client.get("/api/v1/storage/quota").raise_for_status()
    data = os.urandom(40 << 20)  # multipart: several store round trips after the reservation
    for attempt in range(3):
        answer = {}
        t = threading.Thread(target=lambda: answer.setdefault("r", client.upload(f"locked-{attempt}.bin", data)))
        t.start()
        deadline = time.time() + 60
        while not reservations(stack) and t.is_alive() and time.time() < deadline:
            time.sleep(0.002)
        with database_oracle.write_lock(stack):
            t.join(timeout=60)  # the upload fails while the lock is held
            time.sleep(0.5)     # and its release too
        t.join(timeout=60)
        if answer["r"].status_code != 201:
            break
        client.delete(f"/api/v1/storage/objects/{answer['r'].json()['object_name']}")  # too fast: try again
    assert_error(answer["r"], 503, "database_unavailable")
    deadline = time.time() + 5
    while reservations(stack) and time.time() < deadline:
        time.sleep(0.1)
    assert reservations(stack) == []
    usage = client.get("/api/v1/storage/usage").json()
    assert (usage["reserved_bytes"], usage["used_bytes"]) == (0, 0)
    assert consistency.check(stack) == []


@pytest.mark.sqlite_only("fills the tmpfs that holds the SQLite file")
def test_disk_full_gives_clear_errors_and_recovers(tmp_root):
    # The database directory is a 2 MiB tmpfs that fills up: uploads get 503
    # database_unavailable JSON, reads keep working, no refused upload leaves
    # a record, and when space returns the stack recovers by itself (the
    # failed uploads' reservations are given back within seconds).
    def make(run_dir):  # disk_full mounts run_dir/data first, and stops the stack
        return Stack(run_dir, build=BUILD, workers=2, plans=scenarios.PLANS, extra_config=scenarios.EXTRA_CONFIG)

    run, skipped = scenarios.disk_full(make, tmp_root)
    if run is None:
        pytest.skip(skipped)
    assert run.disrupted > 0, run.notes
    assert_passed(run)


def test_resumable_uploads_complete_while_workers_are_killed(fresh_stack):
    # 16 tus clients resume from the server's offset after every cut
    # request; every file arrives whole, and nothing is left over.
    stack = start(fresh_stack)
    run = scenarios.resumable_kills(stack, None, 20, clients=CLIENTS)
    run.consistency = consistency.check(stack, since=run.started)
    assert_passed(run)


def test_make_reliability_runs_on_this_pass_database():
    # `make reliability` itself (scripts/reliability/run.py): its own stack on
    # this pass's database, a short load, the verification and the summary
    # (disk_full, run by the test above on SQLite, is skipped on PostgreSQL).
    wanted = "load" if DATABASE == "sqlite" else "load,disk_full"
    done = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "reliability", "run.py"), "--build", BUILD,
                           "--database", DATABASE, "--scenarios", wanted, "--duration", "4", "--clients", "4",
                           "--orgs", "2", "--no-external"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"{BUILD} build, {DATABASE}," in done.stdout
    assert "reliability: all scenarios passed" in done.stdout, done.stdout[-2000:]
    if DATABASE == "postgresql":
        assert "disk_full: SQLite only, skipped" in done.stdout
