"""Managed-Redis scenarios: `sentinel` (a master killed -9 while Celery's client streams tasks through the
sentinel URL; the sentinel promotes the replica) and `tls` (worker, beat, `enqueue --wait` and Celery's client over
rediss:// with the same URL, plus the one-line failures). Each takes (harness, size), returns (passed, figures).
"""
import collections
import json
import subprocess
import threading
import time
import uuid

import redis
from celery import Celery

from harness import ChaosError, free_port, log_lines, results, wait_until
from scenarios import SENT, check, started_counts, stop_all, timestamp

MASTER_NAME = "chaos-master"


class SentinelSet:
    """One master, one replica, one sentinel (redis-server --sentinel), private, on free loopback ports."""

    def __init__(self, h):
        self.h = h
        self.dir = h.dir / "sentinel"
        self.dir.mkdir()
        self.master_port, self.replica_port, self.sentinel_port = free_port(), free_port(), free_port()
        self.processes = {}

    @property
    def url(self):
        return f"sentinel://127.0.0.1:{self.sentinel_port}/0"

    def _server(self, name, port, extra):
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(self.dir),
                "--dbfilename", f"{name}.rdb", "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--logfile", str(self.h.log_path(f"redis-{name}"))] + extra
        self.processes[name] = self.h.spawn(argv, self.dir / f"{name}.stdout")
        wait_until(lambda: self._ping(port), 30, what=f"redis-server {name}")

    @staticmethod
    def _ping(port):
        try:
            return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2).ping()
        except redis.RedisError:
            return False

    def start(self):
        self._server("master", self.master_port, ["--repl-diskless-sync-delay", "0"])
        self._server("replica", self.replica_port, ["--replicaof", "127.0.0.1", str(self.master_port)])
        wait_until(lambda: self.client(self.replica_port).info("replication").get("master_link_status") == "up",
                   30, interval=0.1, what="the replica to sync")
        conf = self.dir / "sentinel.conf"
        conf.write_text(f"port {self.sentinel_port}\nbind 127.0.0.1\ndir {self.dir}\n"
                        f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 1\n"
                        f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
                        f"sentinel failover-timeout {MASTER_NAME} 10000\n")
        self.processes["sentinel"] = self.h.spawn(["redis-server", str(conf), "--sentinel", "--logfile",
                                                   str(self.h.log_path("redis-sentinel"))], self.dir / "sentinel.stdout")
        wait_until(lambda: self._ping(self.sentinel_port), 30, what="the sentinel")
        wait_until(lambda: any(str(self.replica_port) == str(r.get("port")) for r in self.replicas()), 40,
                   interval=0.2, what="the sentinel to discover the replica")

    def sentinel_client(self):
        return redis.Redis(host="127.0.0.1", port=self.sentinel_port, socket_timeout=5, decode_responses=True)

    def replicas(self):
        try:
            return self.sentinel_client().sentinel_slaves(MASTER_NAME)
        except redis.RedisError:
            return []

    def master_port_now(self):
        try:
            address = self.sentinel_client().sentinel_get_master_addr_by_name(MASTER_NAME)
            return int(address[1]) if address else None
        except redis.RedisError:
            return None

    def client(self, port):
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)

    def kill(self, name):
        self.h.kill(self.processes[name])
        self.h.wait_exit(self.processes[name], 10)


def celery_app(url, **conf):
    """Celery's client for a broker URL; a sentinel URL takes the master's name as Celery users give it."""
    app = Celery(f"chaos_{uuid.uuid4().hex[:6]}", broker=url)
    app.conf.broker_transport_options = {"master_name": MASTER_NAME}
    app.conf.broker_connection_retry_on_startup = True
    app.conf.update(conf)
    return app


class Stream(threading.Thread):
    """send_task of `count` oauthq.sleep tasks through Celery's client, one by one; records when each call returned
    (an id counts as sent only then) and which calls raised."""

    def __init__(self, app, queue, count, pause):
        super().__init__(daemon=True)
        self.app, self.queue, self.count, self.pause = app, queue, count, pause
        self.sent = []         # (time.monotonic() when send_task returned, id)
        self.failed = 0

    def run(self):
        for _ in range(self.count):
            task_id = str(uuid.uuid4())
            try:
                self.app.send_task("oauthq.sleep", kwargs={"seconds": 0.005}, queue=self.queue, task_id=task_id)
                self.sent.append((time.monotonic(), task_id))
            except Exception:  # noqa: BLE001 - a publish that failed after kombu's retries is counted, not fatal
                self.failed += 1
            time.sleep(self.pause)


def replica_ids(client, queue, prefix):
    """Task ids the replica holds right now: in the queue, in processing lists, or with a stored result."""
    ids = set()
    for raw in client.lrange(queue, 0, -1):
        ids.add(json.loads(raw)["headers"]["id"])
    for key in client.keys(f"{prefix}:processing:*"):
        for raw in client.lrange(key, 0, -1):
            ids.add(json.loads(raw)["headers"]["id"])
    for key in client.keys("celery-task-meta-*"):
        ids.add(key.decode()[len("celery-task-meta-"):])
    return ids


# ---- sentinel -----------------------------------------------------------------------------------------------


def sentinel(h, size):
    figures = []
    count = size.get("sentinel_tasks", 2_000)
    cluster = SentinelSet(h)
    cluster.start()
    queue, prefix = "chaos_sentinel", "chaossentinel"
    env = {"OAUTHQ_SENTINEL_MASTER": MASTER_NAME}
    args = ["-Q", queue, "-c", "4", "--debug-tasks", "--key-prefix", prefix, "--result-expires", "3600"]
    workers = [h.worker(f"sentinel-w{k}", cluster.url, args, env) for k in range(2)]
    for worker in workers:
        h.wait_ready(worker)
    beat = h.spawn([h.oauthq, "beat", "--entry", "ping every 1s", "--queue", "chaos_sentinel_beat", "--key-prefix",
                    prefix, "--lock-ttl", "2"], h.log_path("sentinel-beat"), h.env(REDIS_URL=cluster.url, **env))
    # The client retries a publish across the failover (kombu's default gives up after about 0.6 s).
    app = celery_app(cluster.url, task_publish_retry_policy={
        "max_retries": 100, "interval_start": 0.1, "interval_step": 0.1, "interval_max": 0.5})
    stream = Stream(app, queue, count, pause=0.004)
    stream.start()
    wait_until(lambda: len(stream.sent) >= count // 2, 300, what="half the stream")
    replica = cluster.client(cluster.replica_port)
    # `enqueue --wait` across the failover: its queue gets a worker only after the promotion.
    late = "chaos_sentinel_late"
    waiter = h.spawn([h.oauthq, "enqueue", "ping", "--queue", late, "--wait", "--timeout", "120"],
                     h.log_path("sentinel-wait-across"), h.env(REDIS_URL=cluster.url, **env))
    wait_until(lambda: replica.llen(late) == 1, 30, what="the --wait message on the replica")
    visible = replica_ids(replica, queue, prefix)   # what the replica had just before the kill
    cluster.kill("master")
    killed = time.monotonic()
    wait_until(lambda: cluster.master_port_now() == cluster.replica_port, 60, interval=0.05,
               what="the sentinel to promote the replica")
    promoted, promoted_wall = time.monotonic(), time.time()
    done_at_promotion = len(replica.keys("celery-task-meta-*"))
    late_worker = h.worker("sentinel-late", cluster.url, ["-Q", late, "-c", "1", "--key-prefix", prefix], env)
    resumed = wait_until(lambda: len(replica.keys("celery-task-meta-*")) > done_at_promotion and time.monotonic(),
                         120, interval=0.05, what="the first result after the promotion")
    stream.join(timeout=600)
    sent = [task_id for _, task_id in stream.sent]
    after = [task_id for t, task_id in stream.sent if t > promoted]

    def all_done():
        return len(results(replica, sent)) == len(sent)
    try:
        wait_until(all_done, 240, interval=0.5, what="results of every sent task")
    except ChaosError:
        pass
    stored = results(replica, sent)
    success = {i for i, r in stored.items() if r["status"] == "SUCCESS"}
    required = set(after) | (visible & set(sent))
    lost_required = sorted(required - success)
    lost = [i for i in sent if i not in success]
    starts = started_counts(workers)
    duplicates = sum(n - 1 for n in starts.values() if n > 1)

    # Every loop came back: slots (results above), maintenance, presence (Celery's ping reaches both workers
    # through the sentinel), beat (ticks after the promotion), and `enqueue --wait` through the sentinel.
    maintenance = sum(1 for w in workers for line in log_lines(w.log) if "maintenance connection to Redis restored" in line)
    slots_back = sum(1 for w in workers for line in log_lines(w.log) if "connected to Redis again" in line)
    try:
        pongs = celery_app(cluster.url).control.ping(timeout=3)
    except Exception as error:  # noqa: BLE001
        pongs = [f"error {type(error).__name__}"]
    status, out, err = h.run_oauthq(["enqueue", "ping", "--queue", queue, "--wait", "--timeout", "60"],
                                    h.env(REDIS_URL=cluster.url, **env), "sentinel-enqueue-wait")
    beat_after = [line for line in log_lines(beat.log) if SENT.search(line)
                  and timestamp(SENT.search(line).group(1)) > promoted_wall + 1]
    waited = h.wait_exit(waiter, 150)
    waited_output = waiter.log.read_text(errors="replace")
    alive = all(w.poll() is None for w in workers + [late_worker]) and beat.poll() is None
    exits = stop_all(h, workers + [late_worker, beat])

    figures.append(f"{count} tasks by Celery's client through {cluster.url} (master_name), master killed -9 after "
                   f"{len(visible & set(sent))} reached the replica; sent {len(sent)} (publish errors {stream.failed}), "
                   f"{len(after)} after the promotion")
    figures.append(f"promotion {promoted - killed:.1f} s after the kill; first result on the new master "
                   f"{resumed - killed:.1f} s after the kill")
    figures.append(f"lost {len(lost)} (of them sent after the promotion or seen on the replica: {len(lost_required)}); "
                   f"duplicates (started twice) {duplicates}")
    figures.append(f"loops back: slots reconnected {slots_back}, maintenance {maintenance}, Celery ping replies "
                   f"{len(pongs)}, beat sends after the promotion {len(beat_after)}, enqueue --wait exit {status}, "
                   f"enqueue --wait across the failover exit {waited}")
    ok = check(not lost_required, figures, f"{len(lost_required)} task(s) sent after the promotion or on the replica "
                                           f"without SUCCESS: {lost_required[:5]}")
    ok &= check(alive and all(e == 0 for e in exits), figures, f"processes alive {alive}, exits {exits}")
    ok &= check(status == 0 and "pong" in out, figures, f"enqueue --wait through the sentinel: {status} {err[-300:]}")
    ok &= check(len(pongs) == 3, figures, f"Celery ping replies {pongs} (expected the 3 workers)")
    ok &= check(waited == 0 and "pong" in waited_output, figures,
                f"enqueue --wait across the failover: exit {waited}: {waited_output[-300:]}")
    ok &= check(len(beat_after) >= 2, figures, "beat sent nothing after the promotion")
    ok &= check(maintenance >= 2, figures, "a maintenance loop did not report its reconnect")
    for name in ("replica", "sentinel"):
        cluster.kill(name)
    return ok, figures


# ---- tls ----------------------------------------------------------------------------------------------------


def make_certificates(directory):
    """CA, server (DNS:localhost only) and client certificates, by the openssl CLI."""
    directory.mkdir()
    (directory / "server.ext").write_text("subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n")
    (directory / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    steps = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
         "-subj", "/CN=oauthq chaos CA"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
        ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
         "server.crt", "-days", "1", "-extfile", "server.ext"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=worker"],
        ["x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
         "client.crt", "-days", "1", "-extfile", "client.ext"],
    ]
    for step in steps:
        subprocess.run(["openssl"] + step, cwd=directory, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return directory


def tls_server(h, certs, port, plain_port=0, clients="yes"):
    data = h.dir / f"redis-tls-{port}"
    data.mkdir()
    argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(plain_port), "--tls-port", str(port),
            "--tls-cert-file", str(certs / "server.crt"), "--tls-key-file", str(certs / "server.key"),
            "--tls-ca-cert-file", str(certs / "ca.crt"), "--tls-auth-clients", clients, "--dir", str(data),
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", str(h.log_path(f"redis-tls-{port}"))]
    process = h.spawn(argv, data / "stdout.log")
    client = redis.Redis(host="localhost", port=port, ssl=True, ssl_ca_certs=str(certs / "ca.crt"),
                         ssl_certfile=str(certs / "client.crt"), ssl_keyfile=str(certs / "client.key"), socket_timeout=30)

    def answers():
        try:
            return client.ping()
        except redis.RedisError:
            return False
    wait_until(answers, 30, what="redis-server --tls-port")
    return process, client


def tls(h, size):
    figures = []
    certs = make_certificates(h.dir / "certs")
    port, plain_port = free_port(), free_port()
    server, client = tls_server(h, certs, port, plain_port=plain_port)
    ca, cert, key = certs / "ca.crt", certs / "client.crt", certs / "client.key"
    # One URL for oauthq and for Celery, mutual TLS included.
    url = (f"rediss://localhost:{port}/0?ssl_cert_reqs=required&ssl_ca_certs={ca}"
           f"&ssl_certfile={cert}&ssl_keyfile={key}")
    queue, prefix = "chaos_tls", "chaostls"
    count = size.get("tls_tasks", 200)
    worker = h.worker("tls-w", url, ["-Q", queue, "-c", "4", "--key-prefix", prefix, "--result-expires", "600"])
    h.wait_ready(worker)
    beat = h.spawn([h.oauthq, "beat", "--entry", "ping every 1s", "--queue", queue, "--key-prefix", prefix],
                   h.log_path("tls-beat"), h.env(REDIS_URL=url))
    app = Celery("chaos_tls", broker=url, backend=url)
    started = time.monotonic()
    sent = [app.send_task("ping", queue=queue) for _ in range(count)]
    values = []
    for result in sent:
        try:
            values.append(result.get(timeout=60))
        except Exception as error:  # noqa: BLE001
            values.append(f"{type(error).__name__}")
    seconds = time.monotonic() - started
    status, out, err = h.run_oauthq(["enqueue", "ping", "--queue", queue, "--wait", "--timeout", "60"],
                                    h.env(REDIS_URL=url), "tls-enqueue-wait")
    wait_until(lambda: sum(1 for line in log_lines(beat.log) if SENT.search(line)) >= 2, 30, what="two beat sends")
    beat_sends = sum(1 for line in log_lines(beat.log) if SENT.search(line))
    pongs = app.control.ping(timeout=3)
    exits = stop_all(h, [worker, beat])
    ok = check(values.count("pong") == count, figures, f"Celery over rediss://: {values.count('pong')}/{count} pong")
    ok &= check(status == 0 and "pong" in out, figures, f"enqueue --wait over rediss://: {status} {err[-300:]}")
    ok &= check(len(pongs) == 1, figures, f"Celery ping over rediss://: {pongs}")
    ok &= check(all(e == 0 for e in exits), figures, f"exits {exits}")
    figures.insert(0, f"one URL for both sides (mutual TLS): {count} send_task + get in {seconds:.1f} s, "
                      f"enqueue --wait exit {status}, beat sends {beat_sends}, "
                      f"Celery ping replies {len(pongs)}")

    # The failures: one line each, exit status 1, within the connect timeout.
    other = h.dir / "certs-other"
    make_certificates(other)
    cases = {
        "untrusted": (f"rediss://localhost:{port}?ssl_certfile={cert}&ssl_keyfile={key}", "not trusted"),
        "other CA": (f"rediss://localhost:{port}?ssl_ca_certs={other / 'ca.crt'}&ssl_certfile={cert}&ssl_keyfile={key}",
                     "not trusted"),
        "hostname mismatch": (f"rediss://127.0.0.1:{port}?ssl_ca_certs={ca}&ssl_certfile={cert}&ssl_keyfile={key}",
                              "hostname mismatch"),
        "plain client, TLS port": (f"redis://localhost:{port}", "use rediss://"),
        "TLS client, plain port": (f"rediss://localhost:{plain_port}?ssl_ca_certs={ca}", "plain"),
        "missing CA file": (f"rediss://localhost:{port}?ssl_ca_certs={h.dir / 'nope.crt'}", "ssl_ca_certs"),
        "no client certificate": (f"rediss://localhost:{port}?ssl_ca_certs={ca}", "client certificate"),
    }
    plain_worked = None
    for name, (bad, expected) in cases.items():
        t0 = time.monotonic()
        status, out, err = h.run_oauthq(["status"], h.env(REDIS_URL=bad), f"tls-fail-{name.replace(' ', '-')}", timeout=60)
        lines = [line for line in (out + err).splitlines() if line.strip()]
        good = status == 1 and len(lines) == 1 and lines[0].startswith("oauthq: error:") and expected in lines[0]
        if name == "TLS client, plain port":
            plain_worked = time.monotonic() - t0
        ok &= check(good, figures, f"{name}: exit {status}, output {lines[:3]}")
        figures.append(f"{name}: exit {status} in {time.monotonic() - t0:.1f} s: {lines[0][:160] if lines else ''}")
    status, out, err = h.run_oauthq(["status"], h.env(REDIS_URL=f"rediss://localhost:{port}?ssl_cert_reqs=none"
                                                          f"&ssl_certfile={cert}&ssl_keyfile={key}"), "tls-none")
    warnings = [line for line in err.splitlines() if "warning" in line]
    ok &= check(status == 0 and len(warnings) == 1, figures, f"ssl_cert_reqs=none: exit {status}, warnings {warnings}")
    h.kill(server)
    return ok, figures
