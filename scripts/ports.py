"""Free loopback ports for the servers a test starts.

Ports come from below the kernel's ephemeral range: a port found free there
stays free until its server binds it, because outgoing connections (the
workers' to the store, the tests' to nginx) take their local ports only from
the ephemeral range. A port chosen with bind(0) comes from that range, and
one connection made in the seconds before the server starts could take it
(seen in CI: nginx and the restarted store failed with EADDRINUSE). Nor is a
port handed out twice by one process: a stack chooses nginx's port, then the
store's eleven, before nginx binds its own (seen in CI: nginx lost its port
to the store it started after)."""

import random
import socket

LOWEST = 10000
_handed_out = set()


def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(v) for v in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_ports(count):
    """Distinct free TCP ports on 127.0.0.1 (all held until every one is chosen)."""
    low, _ = ephemeral_range()
    top = low - 1 if low - 1 > LOWEST + 1000 else 65535
    held, ports = [], []
    try:
        for _ in range(count * 200):
            if len(ports) == count:
                break
            port = random.randint(LOWEST, top)
            if port in ports or port in _handed_out:
                continue
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            held.append(s)
            ports.append(port)
    finally:
        for s in held:
            s.close()
    if len(ports) < count:
        raise RuntimeError(f"no {count} free ports between {LOWEST} and {top}")
    _handed_out.update(ports)
    return ports


def free_port():
    return free_ports(1)[0]
