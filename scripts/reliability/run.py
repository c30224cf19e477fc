#!/usr/bin/env python3
"""`make reliability`: Depot under load and under faults, each scenario
followed by a file-by-file verification and the consistency check; then the
hostile-input, schemathesis and fuzzing suites when they exist. Prints a
summary table and exits 1 on any failure.

    run.py [--duration 60] [--clients 64] [--short] [--build release|debug]
           [--database sqlite|postgresql] [--scenarios load,kill_workers,...]
           [--keep] [--no-external]

Scenarios (scripts/reliability/scenarios.py says what counts as a failure in
each): load, kill_workers, kill_upload_workers, store_restart, long_write_lock, nginx_reload,
depot_reload, gc_during_load, resumable_kills (tus uploads under worker kills,
organizations of its own) on one stack (4 workers, 20 organizations, a
fifth of them near their quota), then disk_full on a stack of its own whose
database directory is a 2 MiB tmpfs (skipped when mounting is not allowed).
--database postgresql runs them on a PostgreSQL server of the run's own
(long_write_lock holds PostgreSQL's lock; disk_full, a SQLite file's
directory filling up, is skipped) and the external suites on PostgreSQL too.

--short is the CI form (16 clients, 15 s of load, 10 s per fault, shorter
external budgets). Everything runs on 127.0.0.1 in a temp directory and every
process started is stopped by PID, also on failure or Ctrl-C.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "scripts"))
from depot_stack import Stack  # noqa: E402
from postgres_server import PostgresServer  # noqa: E402
import scenarios  # noqa: E402
from load import Population, Run  # noqa: E402

LOAD_SCENARIOS = ("load", "kill_workers", "kill_upload_workers", "store_restart", "long_write_lock", "nginx_reload", "depot_reload", "gc_during_load",
                  "resumable_kills")
ALL_SCENARIOS = LOAD_SCENARIOS + ("disk_full",)


class Row:
    def __init__(self, name, requests="", rate="", failures=0, five_xx="", disrupted="", consistency="", ok=True,
                 details=(), notes=(), seconds=0.0):
        self.name, self.requests, self.rate, self.failures, self.five_xx = name, requests, rate, failures, five_xx
        self.disrupted, self.consistency, self.ok, self.details, self.notes = disrupted, consistency, ok, list(details), list(notes)
        self.seconds = seconds

    @classmethod
    def of(cls, run, seconds):
        problems = run.consistency or []
        cons = "not run" if run.consistency is None else ("OK" if not problems else f"{len(problems)} problems")
        return cls(run.name, run.requests, f"{run.rate():.0f}", len(run.failures), run.five_xx, run.disrupted, cons,
                   ok=run.ok, details=run.failures[:25] + [f"consistency: {p}" for p in problems[:25]],
                   notes=run.notes, seconds=seconds)


def print_table(rows):
    head = ("scenario", "requests", "req/s", "failures", "5xx", "expected errors", "consistency", "time", "result")
    lines = [head] + [(r.name, str(r.requests), str(r.rate), str(r.failures), str(r.five_xx), str(r.disrupted),
                       r.consistency, f"{r.seconds:.0f}s", "PASS" if r.ok else "FAIL") for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    sep = "+".join("-" * (w + 2) for w in widths)
    print(sep)
    for i, line in enumerate(lines):
        print(" " + " | ".join(v.ljust(w) for v, w in zip(line, widths)))
        if i == 0:
            print(sep)
    print(sep)


def print_routes(run):
    stats = run.route_stats()
    if not stats:
        return
    print(f"\n{run.name}: {run.requests} requests in {run.ended - run.started:.1f}s = {run.rate():.0f} req/s")
    print(f"  {'route':20} {'count':>7} {'p50 ms':>9} {'p99 ms':>9}")
    for route, (count, p50, p99) in sorted(stats.items(), key=lambda kv: -kv[1][0]):
        print(f"  {route:20} {count:7d} {p50:9.1f} {p99:9.1f}")


def external_suites(args, build):
    """The other reliability suites (hostile input, schemathesis, libFuzzer),
    each when present and each under a time budget (killed past it)."""
    env = dict(os.environ, DEPOT_BUILD=build, DEPOT_TEST_DATABASE=args.database,
               PATH=os.path.join(REPO, ".venv", "bin") + ":" + os.environ.get("PATH", ""))
    # schemathesis: the long form explores more, with a random seed (Tests/integration/test_schemathesis.py).
    env.setdefault("DEPOT_SCHEMATHESIS_EXAMPLES", "25" if args.short else "300")
    env.setdefault("DEPOT_SCHEMATHESIS_MAX_TIME", "120" if args.short else "420")
    if not args.short:
        env.setdefault("DEPOT_SCHEMATHESIS_SEED", "")
    py = sys.executable
    suites = []
    for name, path, command, budget in (
            ("hostile_input", "Tests/integration/test_hostile_input.py",
             [py, "-m", "pytest", "-q", "Tests/integration/test_hostile_input.py"], 600),
            ("schemathesis", "Tests/integration/test_schemathesis.py",
             [py, "-m", "pytest", "-q", "Tests/integration/test_schemathesis.py"],
             int(env["DEPOT_SCHEMATHESIS_MAX_TIME"] or 600) + 300),
            # Build (cached in .build-fuzz) plus SECONDS per target, three targets.
            ("fuzz", "scripts/fuzz.sh", ["bash", "scripts/fuzz.sh", "all", str(args.fuzz_seconds)],
             1200 + 3 * args.fuzz_seconds)):
        if os.path.exists(os.path.join(REPO, path)):
            suites.append((name, command, budget))
        else:
            print(f"\n== {name}: {path} not present, skipped")
    rows = []
    for name, command, budget in suites:
        shown = " ".join(command[1:] if command[0] == py else command)
        print(f"\n== {name}: {shown} (budget {budget}s)", flush=True)
        started = time.time()
        p = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True)
        try:
            rc = p.wait(timeout=budget)
            why = "" if rc == 0 else f"{shown}: exit status {rc} (its output is above)"
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            why = f"{shown}: over its {budget}s budget, stopped"
        except BaseException:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait()
            raise
        row = Row(name, consistency="-", failures=0 if not why else 1, ok=not why,
                  details=[why] if why else [], seconds=time.time() - started)
        row.requests = row.rate = row.five_xx = row.disrupted = "-"
        rows.append(row)
    return rows


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--short", action="store_true", help="the CI form: 16 clients, 15 s load, 10 s per fault")
    p.add_argument("--duration", type=float, help="seconds of plain load (default 60, short 15)")
    p.add_argument("--fault-duration", type=float, help="seconds of load per fault scenario (default 30, short 10)")
    p.add_argument("--clients", type=int, help="concurrent clients (default 64, short 16)")
    p.add_argument("--orgs", type=int, default=20)
    p.add_argument("--workers", type=int, default=4, help="depot worker processes (default 4)")
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                   help="the metadata database (postgresql: a server of the run's own)")
    p.add_argument("--build", choices=("release", "debug"), default="release",
                   help="which .build the stack runs (default release, what make reliability builds)")
    p.add_argument("--scenarios", default=",".join(ALL_SCENARIOS), help="comma-separated subset of " + ",".join(ALL_SCENARIOS))
    p.add_argument("--no-external", action="store_true", help="skip the hostile-input, schemathesis and fuzz suites")
    p.add_argument("--fuzz-seconds", type=int, default=None, help="libFuzzer time per target (default 120, short 30)")
    p.add_argument("--keep", action="store_true", help="keep the run directory (logs, database) afterwards")
    args = p.parse_args(argv)
    duration = args.duration or (15 if args.short else 60)
    fault_duration = args.fault_duration or (10 if args.short else 30)
    clients = args.clients or (16 if args.short else 64)
    build = args.build
    args.fuzz_seconds = args.fuzz_seconds if args.fuzz_seconds is not None else (30 if args.short else 120)
    wanted = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(wanted) - set(ALL_SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    for binary in ("depot", "depotctl"):
        if not os.access(os.path.join(REPO, ".build", build, binary), os.X_OK):
            p.error(f"no .build/{build}/{binary}: run make build{'' if build == 'release' else '-debug'} first")

    # SIGTERM (make, CI) stops the stack like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    root = tempfile.mkdtemp(prefix="depot-reliability-")
    print(f"reliability: {build} build, {args.database}, {clients} clients in {args.orgs} organizations, load {duration:.0f}s, "
          f"faults {fault_duration:.0f}s each; run dir {root}", flush=True)
    rows, runs = [], []
    stack = postgres = None
    database = {}
    interrupted = False
    try:
        load_wanted = [s for s in wanted if s in LOAD_SCENARIOS]
        if args.database == "postgresql" and load_wanted:
            postgres = PostgresServer(os.path.join(root, "postgres"), log_path=os.path.join(root, "postgres.log"))
            postgres.start()
            database = {"database": "postgresql", "postgres": postgres}
        if load_wanted:
            stack = Stack(os.path.join(root, "stack"), build=build, workers=args.workers, plans=scenarios.PLANS,
                          extra_config=scenarios.EXTRA_CONFIG, **database)
            os.makedirs(stack.run_dir)
            stack.start()
            population = Population(stack, orgs=args.orgs, clients=clients, near_orgs=max(1, args.orgs // 5))
            population.setup()
            for name in load_wanted:
                print(f"\n== {name}", flush=True)
                started = time.time()
                try:
                    if name == "load":
                        run = scenarios.load(stack, population, duration)
                    else:
                        run = getattr(scenarios, name)(stack, population, fault_duration)
                    scenarios.settle_and_check(stack, population, run)
                except Exception as e:  # noqa: BLE001 - a crashed scenario is a failed row, the rest still run
                    run = Run(name)
                    run.fail(f"scenario crashed: {e!r}\n{traceback.format_exc()}")
                    run.ended = time.time()
                runs.append(run)
                rows.append(Row.of(run, time.time() - started))
                print_table(rows[-1:])
                for note in run.notes:
                    print("  " + note)
                for d in rows[-1].details:
                    print("  " + d)
            stack.stop()
            stack = None
        if "disk_full" in wanted and args.database != "sqlite":
            print("\n== disk_full: SQLite only, skipped", flush=True)
            rows.append(Row("disk_full", rate="skipped", consistency="-", notes=["skipped: fills the directory of a SQLite file"]))
        elif "disk_full" in wanted:
            print("\n== disk_full", flush=True)
            started = time.time()

            def make(run_dir):
                return Stack(run_dir, build=build, workers=2, plans=scenarios.PLANS, extra_config=scenarios.EXTRA_CONFIG)
            try:
                run, skipped = scenarios.disk_full(make, root, keep=args.keep)
            except Exception as e:  # noqa: BLE001
                run, skipped = Run("disk_full"), None
                run.fail(f"scenario crashed: {e!r}\n{traceback.format_exc()}")
            if run is None:
                print("  disk_full " + skipped)
                rows.append(Row("disk_full", rate="skipped", consistency="-", notes=[skipped], seconds=time.time() - started))
            else:
                runs.append(run)
                rows.append(Row.of(run, time.time() - started))
            for note in rows[-1].notes:
                print("  " + note)
            for d in rows[-1].details:
                print("  " + d)
        if not args.no_external:
            rows += external_suites(args, build)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted", file=sys.stderr)
    finally:
        if stack is not None:
            stack.stop()
        if postgres is not None:
            postgres.stop()
        if args.keep or interrupted:
            print(f"run dir kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    print("\n== summary")
    print_table(rows)
    for run in runs:
        if run.name in ("load",):
            print_routes(run)
    for row in rows:
        for note in row.notes:
            print(f"{row.name}: {note}")
    failed = [r for r in rows if not r.ok]
    for r in failed:
        print(f"\nFAILED {r.name}:")
        for d in r.details:
            print("  " + d)
    if interrupted:
        return 130
    print("\nreliability: " + ("FAILED: " + ", ".join(r.name for r in failed) if failed else "all scenarios passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
