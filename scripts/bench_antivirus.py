"""Malware scanning benchmark: 1 MiB uploads with clamd scanning on vs off.

A benchmark, not a test: it never fails for being slow; it prints figures.
`scripts/bench.py` calls `run_cases(stack, record, ...)` on its running
stack: the same 1 MiB file is uploaded `count` times with scanning off,
then the stack is reconfigured ([antivirus], its own clamd with the EICAR
database: scripts/clamd_server.py) and the uploads repeated; finally the
stack is put back as it was. The ratio is files/s on / off (target >= 0.8:
clamd spools each stream and scans it after the last byte, so every file
pays one extra round trip and a scan of its bytes).
"""
import os
import time

from bench_common import Caller


def _reconfigure(stack, antivirus):
    """Restarts the stack's workers with scanning on or off (nginx and the store keep running)."""
    stack.antivirus = antivirus
    if antivirus:
        stack.start_antivirus()
    stack._write_config()
    stack.stop_depot()
    stack.start_depot()
    if not antivirus:
        stack.stop_antivirus()


def run_cases(stack, record, work, quick, upload, plan=None):
    """`upload(url, token, path, name)` -> (status, seconds): bench.py's curl upload.
    `plan(org)` puts a caller on a plan large enough for the run."""
    count = 40 if quick else 200
    print(f"antivirus: 1 MiB x{count} uploads with clamd scanning on vs off", flush=True)
    caller = Caller(stack)
    if plan:
        plan(caller.org)
    path = os.path.join(work, "antivirus-1m.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(1 << 20))
    url = stack.base_url + "/api/v1/storage/upload"

    def rate(tag):
        t = time.perf_counter()
        for i in range(count):
            status = upload(url, caller.token, path, f"av-{tag}-{i}.bin")[0]
            assert status == 201, f"upload answered {status}"
        return count / (time.perf_counter() - t)

    off = rate("off")
    was = stack.antivirus
    _reconfigure(stack, True)
    try:
        on = rate("on")
    finally:
        _reconfigure(stack, was)
    record(f"upload 1 MiB x{count} scanned (clamd) vs not, files/s", on, off, "files/s", ">= 0.8")
