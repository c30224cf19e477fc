"""schemathesis against the OpenAPI document the stack serves at /openapi.json:
every operation, with an admin token, zero failures of any check that
scripts/run_schemathesis.py enables (no 5xx, statuses, content types, bodies
and headers as documented, documented input accepted, undocumented refused).

CI form: 25 examples per operation, a fixed seed. `make reliability` sets
DEPOT_SCHEMATHESIS_EXAMPLES (e.g. 300) and DEPOT_SCHEMATHESIS_MAX_TIME
(seconds), and DEPOT_SCHEMATHESIS_SEED (empty for a random seed).
"""
import os
import sys
import uuid

from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "scripts"))
import run_schemathesis  # noqa: E402

EXAMPLES = int(os.environ.get("DEPOT_SCHEMATHESIS_EXAMPLES", "25"))
MAX_TIME = float(os.environ.get("DEPOT_SCHEMATHESIS_MAX_TIME", "0")) or None
SEED = os.environ.get("DEPOT_SCHEMATHESIS_SEED", "20261130")


def test_schemathesis_finds_nothing(stack):
    # An organization of its own, so the stateful phase's uploads and deletes touch no other test's data.
    token = stack.token(str(uuid.uuid4()), str(uuid.uuid4()), role="admin", ttl=int((MAX_TIME or 1800) + 600))
    code, output = run_schemathesis.run(stack.base_url, token, examples=EXAMPLES, max_time=MAX_TIME,
                                        seed=int(SEED) if SEED else None)
    summary = output[output.rfind("SUMMARY"):] if "SUMMARY" in output else output[-3000:]
    assert code == 0, "schemathesis found problems:\n" + output[-20000:]
    assert "No issues found" in output, summary
