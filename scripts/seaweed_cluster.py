"""A SeaweedFS cluster on loopback, one process per role: a master, two or
more volume servers, a filer and the S3 gateway.

Where `weed mini` (depot_stack.py's default store) keeps one copy of every
byte in one process, this keeps two: the master's default replication is
`001` (a second copy on another volume server of the same rack), so a file
written through S3 survives one stopped volume server. Used by
`Stack(store="cluster")`, by `DEPOT_NODES=2 make run` and by the two-node
integration tests.

Every process is started in its own session and stopped by its PID; each
logs to `logs_dir/weed-ROLE.log` (glog's files also go to `logs_dir`). Ports
are chosen once, at the first start, so a volume server stopped with
`stop_volume(i)` comes back on the same address with `start_volume(i)`.

Replication needs care: the master grows a collection's volumes at its
first write, with `001` only when two volume servers are registered in one
rack. `start()` therefore waits for every volume server to be registered
before it creates the bucket, then writes a probe object and checks that its
bytes are on two servers (`object_locations`).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from depot_stack import free_ports, make_self_signed_cert, stop_process, wait_for  # noqa: E402


def write_s3_identities(path, access_key, secret_key):
    """The S3 gateway's static identities file: one identity with every action
    on every bucket (what Depot's store credentials need)."""
    identities = {"identities": [{"name": "depot",
                                  "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                                  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump(identities, f)
    return path


def _get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


class SeaweedCluster:
    """One SeaweedFS cluster under `directory` (master/, volume0/, volume1/, ...,
    filer/). `s3_config` is the identities file (write_s3_identities); with
    `tls` the gateway also serves HTTPS with `cert_file`/`key_file`, and
    `endpoint` is the HTTPS one."""

    def __init__(self, directory, access_key, secret_key, s3_config, bucket="depot", volumes=2,
                 replication="001", logs_dir=None, tls=False, cert_file=None, key_file=None,
                 volume_size_limit_mb=64, volume_max=24, memory_limit="128MiB"):
        if volumes < 2 and replication != "000":
            raise ValueError("replication needs at least two volume servers")
        self.directory = os.path.abspath(directory)
        self.logs_dir = os.path.abspath(logs_dir or os.path.join(self.directory, "logs"))
        self.access_key = access_key
        self.secret_key = secret_key
        self.s3_config = s3_config
        self.bucket = bucket
        self.volume_count = volumes
        self.replication = replication
        self.tls = tls
        self.cert_file = cert_file
        self.key_file = key_file
        # Small volumes, and enough slots per server for a few rounds of
        # growth (the master grows several volumes at a time, each copy
        # taking a slot on both servers).
        self.volume_size_limit_mb = volume_size_limit_mb
        self.volume_max = volume_max
        self.memory_limit = memory_limit
        self.ports = {}
        self.processes = {}

    # Addresses
    def _choose_ports(self):
        if self.ports:
            return
        names = ["master", "master.grpc", "filer", "filer.grpc", "s3", "s3.grpc", "s3.https"]
        for i in range(self.volume_count):
            names += [f"volume{i}", f"volume{i}.grpc"]
        self.ports = dict(zip(names, free_ports(len(names))))

    def _address(self, role):
        """host:port.grpcPort, SeaweedFS's way to name both ports of a server."""
        return f"127.0.0.1:{self.ports[role]}.{self.ports[role + '.grpc']}"

    @property
    def master_url(self):
        return f"http://127.0.0.1:{self.ports['master']}"

    @property
    def filer_url(self):
        return f"http://127.0.0.1:{self.ports['filer']}"

    @property
    def endpoint(self):
        if self.tls:
            return f"https://127.0.0.1:{self.ports['s3.https']}"
        return f"http://127.0.0.1:{self.ports['s3']}"

    # Processes
    def _spawn(self, name, args):
        os.makedirs(self.logs_dir, exist_ok=True)
        log = open(os.path.join(self.logs_dir, f"weed-{name}.log"), "ab")
        command = [shutil.which("weed") or "weed", f"-logdir={self.logs_dir}"] + args
        env = dict(os.environ, GOMEMLIMIT=self.memory_limit)
        self.processes[name] = subprocess.Popen(command, stdout=log, stderr=log, env=env, cwd=self.directory,
                                                start_new_session=True)
        log.close()

    def _check_alive(self, name):
        proc = self.processes.get(name)
        if proc is None or proc.poll() is not None:
            raise RuntimeError(f"weed {name} exited; see {os.path.join(self.logs_dir, f'weed-{name}.log')}")

    def _stop(self, name, sig=signal.SIGTERM, timeout=10):
        stop_process(self.processes.pop(name, None), sig, timeout)

    def start(self):
        """Starts every role and waits until the bucket takes replicated writes."""
        self._choose_ports()
        for d in ["master", "filer"] + [f"volume{i}" for i in range(self.volume_count)]:
            os.makedirs(os.path.join(self.directory, d), exist_ok=True)
        try:
            self._start_master()
            for i in range(self.volume_count):
                self.start_volume(i, wait=False)
            wait_for(self._all_volume_servers_registered, 60, "SeaweedFS volume servers")
            self._start_filer()
            self._start_s3()
            self._create_bucket()
            self._check_probe_replicated()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self):
        """Stops every process (gateway first, master last)."""
        for name in ["s3", "filer"] + [f"volume{i}" for i in range(self.volume_count)] + ["master"]:
            # The filer's graceful gRPC stop waits for its own metadata
            # subscription, which never ends: SIGKILL after 2 s (its leveldb
            # store recovers from its journal).
            self._stop(name, timeout=2 if name == "filer" else 10)
        # weed drops gRPC sockets in /tmp whatever TMPDIR says.
        for kind, role in [("s3", "s3"), ("filer", "filer"), ("master", "master")] + \
                [("volume", f"volume{i}") for i in range(self.volume_count)]:
            port = self.ports.get(role + ".grpc")
            for p in (f"/tmp/seaweedfs-{kind}-grpc-{port}.sock", f"/tmp/seaweedfs-{kind}-{port}.sock"):
                if port and os.path.exists(p):
                    os.unlink(p)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _start_master(self):
        self._spawn("master", [
            "master", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-port={self.ports['master']}",
            f"-port.grpc={self.ports['master.grpc']}", f"-mdir={os.path.join(self.directory, 'master')}",
            "-peers=none", "-telemetry=false", f"-defaultReplication={self.replication}",
            f"-volumeSizeLimitMB={self.volume_size_limit_mb}",
            # A stopped volume server is noticed within seconds.
            "-heartbeatInterval=300ms"])

        def ready():
            self._check_alive("master")
            return _get_json(self.master_url + "/cluster/status").get("IsLeader") is True

        wait_for(ready, 60, "SeaweedFS master")

    def start_volume(self, i, wait=True):
        """Starts volume server `i` (again, on the same ports and data)."""
        name = f"volume{i}"
        self._spawn(name, [
            "volume", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-port={self.ports[name]}",
            f"-port.grpc={self.ports[name + '.grpc']}", f"-dir={os.path.join(self.directory, name)}",
            f"-max={self.volume_max}", f"-master={self._address('master')}", "-preStopSeconds=0",
            "-index=memory"])
        if wait:
            def registered():
                self._check_alive(name)
                return f"127.0.0.1:{self.ports[name]}" in self.registered_volume_servers()

            wait_for(registered, 60, f"SeaweedFS {name}")

    def stop_volume(self, i, kill=False):
        """Stops volume server `i` (SIGKILL with `kill`, else SIGTERM) and waits
        until the master no longer lists it."""
        self._stop(f"volume{i}", signal.SIGKILL if kill else signal.SIGTERM, timeout=5)
        gone = f"127.0.0.1:{self.ports[f'volume{i}']}"
        wait_for(lambda: gone not in self.registered_volume_servers(), 60, f"master dropping volume{i}")

    def volume_running(self, i):
        proc = self.processes.get(f"volume{i}")
        return proc is not None and proc.poll() is None

    def _start_filer(self):
        self._spawn("filer", [
            "filer", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-port={self.ports['filer']}",
            f"-port.grpc={self.ports['filer.grpc']}", f"-master={self._address('master')}",
            f"-defaultStoreDir={os.path.join(self.directory, 'filer')}",
            f"-defaultReplicaPlacement={self.replication}",
            f"-localSocket={os.path.join(self.directory, 'filer.sock')}"])

        def ready():
            self._check_alive("filer")
            with urllib.request.urlopen(self.filer_url + "/?pretty=y", timeout=2) as r:
                return r.status == 200

        wait_for(ready, 60, "SeaweedFS filer")

    def _start_s3(self):
        args = ["s3", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-port={self.ports['s3']}",
                f"-port.grpc={self.ports['s3.grpc']}", f"-filer={self._address('filer')}",
                f"-config={self.s3_config}", "-port.iceberg=0", "-port.lance=0",
                f"-localSocket={os.path.join(self.directory, 's3.sock')}"]
        if self.tls:
            args += [f"-port.https={self.ports['s3.https']}", f"-cert.file={self.cert_file}",
                     f"-key.file={self.key_file}"]
        self._spawn("s3", args)

    def s3(self):
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name="us-east-1",
                            verify=self.cert_file if self.tls else None,
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                          connect_timeout=2, read_timeout=30))

    def _create_bucket(self):
        def ready():
            self._check_alive("s3")
            s3 = self.s3()
            try:
                s3.head_bucket(Bucket=self.bucket)
            except Exception as e:  # noqa: BLE001 - 404 until made; other errors retried
                code = getattr(e, "response", {}).get("Error", {}).get("Code")
                if code not in ("404", "NoSuchBucket", "NotFound"):
                    raise
                s3.create_bucket(Bucket=self.bucket)
            return True

        wait_for(ready, 60, "SeaweedFS S3 bucket")

    # What the master knows
    def topology(self):
        """The master's /dir/status Topology: data centers, racks, data nodes."""
        return _get_json(self.master_url + "/dir/status")["Topology"]

    def registered_volume_servers(self):
        """The volume servers (host:port) the master has now."""
        found = []
        for dc in self.topology().get("DataCenters") or []:
            for rack in dc.get("Racks") or []:
                for node in rack.get("DataNodes") or []:
                    found.append(node["Url"])
        return found

    def _all_volume_servers_registered(self):
        for i in range(self.volume_count):
            self._check_alive(f"volume{i}")
        return len(self.registered_volume_servers()) >= self.volume_count

    def volume_locations(self, volume_id):
        """The volume servers (host:port) holding a copy of `volume_id`."""
        found = _get_json(f"{self.master_url}/dir/lookup?volumeId={volume_id}")
        return sorted(loc["url"] for loc in found.get("locations") or [])

    def collection_volumes(self, collection=None):
        """{volume id: [servers with a copy]} for one collection (the bucket's, by default)."""
        collection = self.bucket if collection is None else collection
        volumes = {}
        for dc in self.topology().get("DataCenters") or []:
            for rack in dc.get("Racks") or []:
                for node in rack.get("DataNodes") or []:
                    for v in (_get_json(f"http://{node['Url']}/status").get("Volumes") or []):
                        if v.get("Collection", "") == collection:
                            volumes.setdefault(v["Id"], []).append(node["Url"])
        return {vid: sorted(urls) for vid, urls in volumes.items()}

    def object_chunks(self, key):
        """The file ids ("volume,needle...") of an S3 object's chunks, from the filer."""
        path = "/buckets/" + self.bucket + "/" + urllib.parse.quote(key)
        entry = _get_json(self.filer_url + path + "?metadata=true")
        return [c.get("file_id") or c.get("fileId") for c in entry.get("chunks") or []]

    def object_locations(self, key):
        """For each chunk of an S3 object: the volume servers holding a copy."""
        return [self.volume_locations(fid.split(",")[0]) for fid in self.object_chunks(key)]

    def _check_probe_replicated(self):
        key = ".depot-cluster-probe"
        s3 = self.s3()
        s3.put_object(Bucket=self.bucket, Key=key, Body=b"replicated?")
        try:
            copies = 1 + sum(int(d) for d in self.replication)
            locations = self.object_locations(key)
            if not locations or any(len(set(urls)) < copies for urls in locations):
                raise RuntimeError(f"SeaweedFS did not replicate a write {copies} times: {locations}")
        finally:
            s3.delete_object(Bucket=self.bucket, Key=key)


def start_stack_store(stack):
    """Stack(store="cluster").start_store(): the cluster in the stack's store/
    (started again after stop_store), or, on a node made by second_node(), its
    first node's store. Writes the stack's store.json either way."""
    if stack.first_node is not None:
        stack.cluster = stack.first_node.cluster
        if stack.store_tls:
            stack.store_cert = stack.first_node.store_cert
    else:
        if stack.cluster is None:
            key = None
            if stack.store_tls:
                stack.store_cert, key = make_self_signed_cert(stack.path("secrets"))
            s3_config = write_s3_identities(stack.path("secrets", "s3-identities.json"), stack.access_key,
                                            stack.secret_key)
            stack.cluster = SeaweedCluster(stack.path("store"), stack.access_key, stack.secret_key, s3_config,
                                           bucket=stack.bucket, logs_dir=stack.path("logs"), tls=stack.store_tls,
                                           cert_file=getattr(stack, "store_cert", None), key_file=key)
        stack.cluster.start()
    with open(stack.path("store.json"), "w") as f:
        json.dump({"endpoint": stack.store_endpoint, "access_key": stack.access_key, "secret_key": stack.secret_key,
                   "bucket": stack.bucket, "data_dir": (stack.first_node or stack).path("store")}, f, indent=2)


if __name__ == "__main__":
    # A quick look: start a cluster in a temp dir, print its topology, stop.
    import secrets
    import tempfile
    d = tempfile.mkdtemp(prefix="weed-cluster-")
    access, secret = "depot-" + secrets.token_hex(6), secrets.token_urlsafe(30)
    c = SeaweedCluster(d, access, secret, write_s3_identities(os.path.join(d, "s3.json"), access, secret))
    t0 = time.time()
    with c:
        print(f"ready in {time.time() - t0:.1f}s at {c.endpoint}; volumes {c.collection_volumes()}")
    shutil.rmtree(d, ignore_errors=True)
