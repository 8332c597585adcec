"""Processes and servers of one chaos run: private redis-servers, a private PostgreSQL cluster, oauthq workers
and beats. Everything started here is registered and killed by Harness.cleanup() (also on Ctrl-C or SIGTERM),
by pid, never by name. Loopback only; every wait is bounded.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

# The newest installed server binaries (Debian: /usr/lib/postgresql/<major>/bin), as scripts/services.sh picks them.
_PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
PG_BIN = _PG_BINS[-1] if _PG_BINS else Path("/usr/lib/postgresql/15/bin")


class ChaosError(Exception):
    """A step of a scenario could not be carried out (a server did not start, a wait ran out)."""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Polls predicate() until it is truthy; returns its value, or raises ChaosError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ChaosError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Harness:
    def __init__(self, oauthq, root, keep=False):
        self.oauthq = str(oauthq)
        self.root = Path(root)
        self.keep = keep
        self.dir = Path(tempfile.mkdtemp(prefix="oauthq-chaos."))
        self.logs = self.dir / "logs"
        self.logs.mkdir()
        self.secrets_file = self.dir / "secrets.txt"   # never printed: grep -F -f reads it
        self.processes = []      # every Popen started, killed at cleanup
        self.clusters = []       # PostgresCluster objects to stop at cleanup
        self.log_counter = 0

    # ---- files ---------------------------------------------------------------------------------

    def log_path(self, name):
        self.log_counter += 1
        return self.logs / f"{self.log_counter:04d}-{name}.log"

    def add_secrets(self, values):
        with open(self.secrets_file, "a", encoding="utf-8") as handle:
            for value in values:
                if value:
                    handle.write(value + "\n")

    # ---- processes -----------------------------------------------------------------------------

    def spawn(self, argv, log, env=None):
        handle = open(log, "ab")
        process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, start_new_session=True)
        handle.close()
        process.log = Path(log)
        self.processes.append(process)
        return process

    def run_oauthq(self, args, env, name, timeout=120, input_text=None):
        """Runs an oauthq command to completion; stdout and stderr go to files of the run (both are logs the
        security scenario greps). Returns (exit status, stdout, stderr)."""
        out, err = self.log_path(name + ".stdout"), self.log_path(name + ".stderr")
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            try:
                status = subprocess.run([self.oauthq] + args, stdout=stdout, stderr=stderr, env=env, timeout=timeout,
                                        input=input_text.encode() if input_text else None).returncode
            except subprocess.TimeoutExpired:
                status = None   # killed after `timeout` s (the arguments are not shown: they may hold passwords)
        return status, out.read_text(errors="replace"), err.read_text(errors="replace")

    @staticmethod
    def kill(process, sig=signal.SIGKILL):
        if process.poll() is None:
            try:
                os.kill(process.pid, sig)
            except ProcessLookupError:
                pass

    @staticmethod
    def wait_exit(process, timeout):
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def cleanup(self):
        for process in self.processes:
            self.kill(process)
        for process in self.processes:
            self.wait_exit(process, 10)
        for cluster in self.clusters:
            cluster.destroy()
        self.clusters = []
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- oauthq --------------------------------------------------------------------------------

    def env(self, **values):
        env = {k: v for k, v in os.environ.items()
               if k not in ("REDIS_URL", "DATABASE_URL", "RESULT_BACKEND", "REFRESH_TOKEN_EXPIRE_SECONDS")}
        env.update({k: str(v) for k, v in values.items() if v is not None})
        return env

    def worker(self, name, redis_url, args, env=None):
        """Starts `oauthq worker` (its log a file of the run) and returns the Popen with .log and .started."""
        merged = self.env(REDIS_URL=redis_url)
        merged.update(env or {})
        process = self.spawn([self.oauthq, "worker", "-n", f"{name}@chaos"] + args, self.log_path(name), merged)
        process.started = time.time()
        process.name = name
        return process

    def wait_ready(self, process, timeout=60):
        def ready():
            if process.poll() is not None:
                raise ChaosError(f"{process.name} exited with {process.returncode} before it was ready:\n"
                                 + process.log.read_text(errors="replace")[-2000:])
            return " ready: " in process.log.read_text(errors="replace")
        wait_until(ready, timeout, what=f"{process.name} to be ready")

    # ---- servers -------------------------------------------------------------------------------

    def redis_server(self, name, appendfsync=None, password=None):
        server = RedisServer(self, name, appendfsync, password)
        server.start()
        return server

    def stop_cluster(self, cluster):
        cluster.destroy()
        self.clusters.remove(cluster)

    def postgres_cluster(self, name):
        cluster = PostgresCluster(self, name)
        self.clusters.append(cluster)
        cluster.init()
        cluster.start()
        return cluster


class RedisServer:
    """A private redis-server on a free loopback port; AOF with `appendfsync` when given, else no persistence."""

    def __init__(self, harness, name, appendfsync, password):
        self.harness = harness
        self.port = free_port()
        self.dir = harness.dir / f"redis-{name}"
        self.dir.mkdir()
        self.appendfsync = appendfsync
        self.password = password
        self.process = None
        self.log = harness.log_path(f"redis-{name}")

    @property
    def url(self):
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=30)

    def start(self):
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir),
                "--pidfile", str(self.dir / "redis.pid"), "--logfile", str(self.log), "--save", "",
                "--daemonize", "no"]
        if self.appendfsync:
            argv += ["--appendonly", "yes", "--appendfsync", self.appendfsync]
        else:
            argv += ["--appendonly", "no"]
        if self.password:
            argv += ["--requirepass", self.password]
        self.process = self.harness.spawn(argv, self.dir / "stdout.log")

        def answers():
            if self.process.poll() is not None:
                raise ChaosError("redis-server exited: " + self.log.read_text(errors="replace")[-1000:])
            try:
                return self.client().ping()
            except redis.RedisError:   # not listening yet, or LOADING the AOF
                return False
        wait_until(answers, 30, what=f"redis-server on port {self.port}")

    def kill(self):
        self.harness.kill(self.process)
        self.harness.wait_exit(self.process, 10)

    def shutdown(self):
        """Graceful: SHUTDOWN (the AOF is fsynced), then wait for the exit."""
        try:
            self.client().shutdown()
        except redis.RedisError:
            pass
        if self.harness.wait_exit(self.process, 30) is None:
            raise ChaosError("redis-server did not exit after SHUTDOWN")


class PostgresCluster:
    """A private PostgreSQL cluster (initdb/pg_ctl as the postgres user) under /var/tmp, on a free loopback port."""

    def __init__(self, harness, name):
        self.harness = harness
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix=f"oauthq-chaos-{name}.", dir="/var/tmp"))
        self.data = self.base / "data"
        self.socket_dir = self.base / "run"
        self.name = name
        self.log = self.base / "postgres.log"    # the postgres user cannot write to the run directory
        self.as_root = os.geteuid() == 0
        self.started = False

    def url(self, database):
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, argv, timeout=300):
        if self.as_root:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        completed = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        if completed.returncode != 0:
            raise ChaosError(f"{' '.join(argv)} failed: {completed.stdout.decode(errors='replace')[-1500:]}")

    def init(self):
        self.socket_dir.mkdir()
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")
        self._run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                   "--locale=C.UTF-8", "--no-sync"])

    def start(self):
        # fsync=off: the restarts here are process restarts (pg_ctl -m immediate), never an OS crash, so committed
        # work is in the page cache either way; it makes seeding a million rows much faster.
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} -c fsync=off "
                   "-c max_connections=50 -c log_min_messages=warning")
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "120", "-o",
                   options, "start"])
        self.started = True

    def restart(self, mode="immediate"):
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "120", "stop"])
        self.started = False
        self.start()

    def destroy(self):
        if self.started:
            try:
                self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "-t", "60", "stop"])
            except (ChaosError, subprocess.TimeoutExpired):
                pid_file = self.data / "postmaster.pid"
                if pid_file.exists():
                    try:
                        os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
                    except (ValueError, ProcessLookupError):
                        pass
            self.started = False
        if self.log.exists():   # kept with the run's logs (the security scenario greps them)
            shutil.copyfile(self.log, self.harness.log_path(f"postgres-{self.name}"))
        shutil.rmtree(self.base, ignore_errors=True)


def log_lines(path):
    try:
        return Path(path).read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return []


def results(client, ids, chunk=1000):
    """Stored Celery results by task id (ids without a result are left out), read with MGET in chunks."""
    found = {}
    ids = list(ids)
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        for task_id, value in zip(part, client.mget(["celery-task-meta-" + i for i in part])):
            if value is not None:
                found[task_id] = json.loads(value)
    return found
