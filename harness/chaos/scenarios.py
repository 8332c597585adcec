"""The seven chaos scenarios. Each takes (harness, size) and returns (passed, [figure, ...])."""
import base64
import collections
import datetime as dt
import json
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import threading
import time
import uuid
from urllib.parse import quote

import psycopg
from redis import RedisError

from harness import ChaosError, log_lines, results, wait_until
from messages import POISON_KINDS, Templates, poison_mix, push

STARTED = re.compile(r"task oauthq\.sleep\[([^\]]+)\] started")
FINISHED = re.compile(r"task [^\[]+\[([^\]]+)\] (SUCCESS|FAILURE|RETRY|REQUEUED|DEAD-LETTERED|REVOKED) in")
RETURNED = re.compile(r"returned (\d+) message\(s\) of dead workers")


def check(condition, figures, text):
    """Records a failed expectation as a figure; returns the condition."""
    if not condition:
        figures.append("FAILED: " + text)
    return condition


def timestamp(iso):
    return dt.datetime.fromisoformat(iso).timestamp()


def started_counts(processes):
    counts = collections.Counter()
    for process in processes:
        for line in log_lines(process.log):
            match = STARTED.search(line)
            if match:
                counts[match.group(1)] += 1
    return counts


def in_flight(process):
    """Ids a worker started and never logged an outcome for (from its own log)."""
    started, finished = set(), set()
    for line in log_lines(process.log):
        match = STARTED.search(line)
        if match:
            started.add(match.group(1))
        match = FINISHED.search(line)
        if match:
            finished.add(match.group(1))
    return started - finished


def stop_all(harness, processes, timeout=40):
    """SIGTERM every running process, then their exit statuses (None: still running after the timeout)."""
    for process in processes:
        harness.kill(process, signal.SIGTERM)
    return [harness.wait_exit(process, timeout) for process in processes]


def stranded(client, prefix, pid):
    """Task ids in the processing lists of the worker process `pid` (worker ids are <host>-<pid>-<random>)."""
    ids = []
    for key in client.keys(f"{prefix}:processing:*-{pid}-*"):
        for raw in client.lrange(key, 0, -1):
            try:
                ids.append(json.loads(raw)["headers"]["id"])
            except (ValueError, KeyError, TypeError):
                pass
    return ids


def processing_left(client, prefix):
    return sum(client.llen(key) for key in client.keys(f"{prefix}:processing:*"))


def sleep_or_ping(templates, queue, index, durations):
    if index % 5 == 4:
        return templates.make("ping", queue=queue)
    return templates.make("oauthq.sleep", kwargs={"seconds": durations[index % len(durations)]}, queue=queue)


def private_broker(h, name):
    """A private redis-server without persistence, a client and Celery message templates for it."""
    server = h.redis_server(name)
    return server, server.client(), Templates(server.url)


def ready_workers(h, name, url, args, count):
    """count workers named <name><k>, started and ready."""
    workers = [h.worker(f"{name}{k}", url, args) for k in range(count)]
    for worker in workers:
        h.wait_ready(worker)
    return workers


def stream_half(server, queue, messages, timeout):
    """Starts a Producer of `messages` and returns it once half of them are acked."""
    producer = Producer(server, queue, messages, chunk=10, pause=0.01)
    producer.start()
    wait_until(lambda: len(producer.acked) >= len(messages) // 2, timeout, what="half the stream")
    return producer


class Producer(threading.Thread):
    """Streams messages into a queue in small pipelined chunks; an id counts as acked only when its LPUSH was
    answered. Survives a Redis restart (reconnects for up to 60 s)."""

    def __init__(self, server, queue, messages, chunk=20, pause=0.004):
        super().__init__(daemon=True)
        self.server, self.queue, self.messages, self.chunk, self.pause = server, queue, messages, chunk, pause
        self.acked, self.unacked, self.error = [], [], None
        self.ack_times = []     # (time.monotonic(), messages) per answered chunk

    def run(self):
        client = self.server.client()
        index = 0
        failures = 0
        while index < len(self.messages):
            part = self.messages[index:index + self.chunk]
            try:
                pipe = client.pipeline(transaction=False)
                for _, raw in part:
                    pipe.lpush(self.queue, raw)
                pipe.execute()
                self.acked += [task_id for task_id, _ in part]
                self.ack_times.append((time.monotonic(), len(part)))
                failures = 0
            except RedisError:
                # Unanswered: these may or may not have been written; they are not counted as sent.
                self.unacked += [task_id for task_id, _ in part]
                failures += 1
                if failures > 600:
                    self.error = "Redis unreachable for 60 s"
                    return
                time.sleep(0.1)
                client = self.server.client()
            index += len(part)
            time.sleep(self.pause)


# ---- 1. kill -9 storm --------------------------------------------------------------------------------------


def killstorm(h, size):
    figures = []
    count = size["killstorm_tasks"]
    server, client, templates = private_broker(h, "killstorm")
    queue, prefix = "chaos_kill", "chaoskill"
    durations = (0.02, 0.05, 0.1, 0.2)
    messages = [sleep_or_ping(templates, queue, i, durations) for i in range(count)]
    ids = [task_id for task_id, _ in messages]
    push(client, queue, [raw for _, raw in messages])
    args = ["-Q", queue, "-c", "4", "--debug-tasks", "--key-prefix", prefix, "--result-expires", "3600"]
    live = [h.worker(f"kill-w{k}-0", server.url, args) for k in range(3)]
    instances = list(live)
    kills = []          # (process, unix time of the kill)
    generation = [0, 0, 0]
    missing = set(ids)
    deadline = time.monotonic() + (900 if count > 2000 else 240)
    next_kill = time.monotonic() + 0.5
    next_check = 0.0
    storm = True
    t0 = time.time()
    while missing and time.monotonic() < deadline:
        now = time.monotonic()
        if storm and now >= next_kill:
            slot = random.randrange(3)
            victim = live[slot]
            h.kill(victim)
            killed_at = time.time()
            h.wait_exit(victim, 10)
            kills.append((victim, killed_at, stranded(client, prefix, victim.pid)))
            generation[slot] += 1
            live[slot] = h.worker(f"kill-w{slot}-{generation[slot]}", server.url, args)
            instances.append(live[slot])
            next_kill = now + random.uniform(0.3, 0.7)
            if client.llen(queue) == 0:
                storm = False   # the queue is drained: let the last kills' messages be recovered
        if now >= next_check:
            missing -= set(results(client, missing))
            next_check = now + 0.5
        time.sleep(0.02)
    elapsed = time.time() - t0
    exits = stop_all(h, live)
    stored = results(client, ids)
    lost = len(ids) - len(stored)
    not_success = sum(1 for r in stored.values() if r["status"] != "SUCCESS")

    starts = started_counts(instances)
    reruns = {task_id: n - 1 for task_id, n in starts.items() if n > 1}
    flying = set()       # tasks a killed worker had started and not finished
    for process, _, _ in kills:
        flying |= in_flight(process)
    # Recovery wait: from a kill to the completion of each message it stranded (running or fetched, read from the
    # dead worker's processing lists right after the kill); a message stranded again by a later kill counts from
    # that later kill (a message hit twice waits twice, once per kill).
    last_kill = {}
    for _, killed_at, ids_held in kills:
        for task_id in ids_held:
            last_kill[task_id] = killed_at
    waits = sorted(timestamp(stored[i]["date_done"]) - k for i, k in last_kill.items() if i in stored)
    returned = sum(int(m.group(1)) for p in instances for line in log_lines(p.log) for m in [RETURNED.search(line)] if m)
    duplicates = sum(1 for p in instances for line in log_lines(p.log) if "redelivered duplicate, not run again" in line)
    longest = max(waits) if waits else 0.0

    ok = check(lost == 0, figures, f"{lost} task(s) have no result")
    ok &= check(not_success == 0, figures, f"{not_success} result(s) are not SUCCESS")
    ok &= check(set(reruns) <= set(flying), figures,
                f"{len(set(reruns) - set(flying))} task(s) ran twice without being in flight at a kill")
    ok &= check(longest < 10, figures, f"longest recovery wait {longest:.1f} s (goal < 10 s)")
    ok &= check(all(e == 0 for e in exits), figures, f"worker exit statuses after SIGTERM {exits}")
    ok &= check(processing_left(client, prefix) == 0 and client.llen(queue) == 0 and client.llen(prefix + ":dead") == 0,
                figures, "messages left in processing lists, the queue or dead letters")
    figures[:0] = [
        f"{count} tasks (80% oauthq.sleep 20-200 ms, 20% ping), 3 workers -c 4, {len(kills)} kill -9 in {elapsed:.0f} s",
        f"lost {lost}", f"SUCCESS {len(stored) - not_success}/{count}",
        f"re-run {sum(reruns.values())} (started in a killed worker: {len(flying)}; messages returned by the reaper: {returned};"
        f" redelivered duplicates skipped: {duplicates})",
        f"recovery wait (kill to completion of each message it stranded) max {longest:.1f} s, median"
        f" {statistics.median(waits) if waits else 0:.1f} s, p99 {waits[int(0.99 * (len(waits) - 1))] if waits else 0:.1f} s"
        f" (n={len(waits)} strandings)",
    ]
    return ok, figures


# ---- 2. Redis restart with AOF ------------------------------------------------------------------------------


def redis(h, size):
    figures = []
    ok = True
    count = size["redis_tasks"]
    for fsync, how in (("always", "SIGKILL"), ("everysec", "SIGKILL"), ("everysec", "SHUTDOWN")):
        name = f"aof-{fsync}-{how.lower()}"
        server = h.redis_server(name, appendfsync=fsync)
        templates = Templates(server.url)
        queue, prefix = "chaos_aof", "chaosaof"
        messages = [sleep_or_ping(templates, queue, i, (0.005, 0.01)) for i in range(count)]
        args = ["-Q", queue, "-c", "4", "--debug-tasks", "--key-prefix", prefix, "--result-expires", "3600"]
        workers = ready_workers(h, f"{name}-w", server.url, args, 2)
        producer = stream_half(server, queue, messages, 120)
        down = time.monotonic()
        # What an OS crash (not a process kill) could lose with everysec: what was acked in the last second.
        exposed = sum(n for t, n in list(producer.ack_times) if down - 1 <= t <= down)
        if how == "SIGKILL":
            server.kill()
        else:
            server.shutdown()
        time.sleep(0.5)
        server.start()
        outage = time.monotonic() - down
        producer.join(timeout=300)
        client = server.client()
        acked = producer.acked

        def all_done():
            return len(results(client, acked)) == len(acked)
        try:
            wait_until(all_done, 180, interval=0.5, what="results of every acked task")
        except ChaosError:
            pass
        stored = results(client, acked)
        lost = len(acked) - len(stored)
        extra = len(results(client, producer.unacked))
        alive = all(w.poll() is None for w in workers)
        exits = stop_all(h, workers)
        reconnected = sum(1 for w in workers for line in log_lines(w.log) if "connected to Redis again" in line)
        figures.append(f"appendfsync {fsync}, {how} at {count // 2}/{count}: "
                       f"acked {len(acked)}, lost {lost}, unanswered LPUSH {len(producer.unacked)} ({extra} ran anyway), "
                       f"outage {outage:.1f} s, slots reconnected {reconnected}"
                       + (f"; acked in the last 1 s before it (an OS crash could lose them): {exposed}"
                          if fsync == "everysec" else ""))
        if fsync == "always" or how == "SHUTDOWN":
            ok &= check(lost == 0, figures, f"{name}: {lost} acked task(s) lost")
        ok &= check(producer.error is None, figures, f"{name}: producer: {producer.error}")
        ok &= check(alive and all(e == 0 for e in exits), figures, f"{name}: workers alive {alive}, exits {exits}")
        ok &= check(all(r["status"] == "SUCCESS" for r in stored.values()), figures, f"{name}: non-SUCCESS results")
        server.kill()
    return ok, figures


# ---- 3. PostgreSQL restart in the middle of cleartokens -----------------------------------------------------


TABLES = ("auth_user", "oauth2_provider_application", "oauth2_provider_accesstoken", "oauth2_provider_refreshtoken",
          "oauth2_provider_idtoken", "oauth2_provider_grant", "oauth2_provider_devicegrant")


def fingerprint(url):
    """Per table: row count and md5 over the md5 of every row's text, in id order."""
    out = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for table in TABLES:
            row = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(md5(t::text), '' ORDER BY t.id), '')) FROM {table} t").fetchone()
            out[table] = (row[0], row[1])
    return out


def on_cluster(h, name, scenario, size):
    """Runs scenario(h, size, cluster) on a PostgreSQL cluster of its own, stopped afterwards."""
    cluster = h.postgres_cluster(name)
    try:
        return scenario(h, size, cluster)
    finally:
        h.stop_cluster(cluster)


def seeded_copies(h, cluster, name, units, seed, copies):
    """Database NAME_tpl on `cluster`: `oauthq migrate`, then harness/reference/seed.py with UNITS token units
    around now (random seed SEED), vacuumed and analysed; then one database per name in COPIES made from it.
    Returns the seconds the seeding took."""
    template = name + "_tpl"
    admin = psycopg.connect(cluster.url("postgres"), autocommit=True)
    admin.execute(f"CREATE DATABASE {template}")
    status, _, err = h.run_oauthq(["migrate", "--database-url", cluster.url(template)], h.env(), name + "-migrate")
    if status != 0:
        raise ChaosError("migrate failed: " + err.strip())
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    started = time.monotonic()
    subprocess.run([str(h.root / ".venv/bin/python"), str(h.root / "harness/reference/seed.py"), "--count", str(units),
                    "--seed", str(seed), "--now", now, "--database-url", cluster.url(template)],
                   check=True, stdout=subprocess.DEVNULL, timeout=3600)
    with psycopg.connect(cluster.url(template), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    seconds = time.monotonic() - started
    for copy in copies:
        admin.execute(f"CREATE DATABASE {copy} TEMPLATE {template}")
    admin.close()
    return seconds


def postgres(h, size):
    return on_cluster(h, "pg", _postgres, size)


def _postgres(h, size, cluster):
    figures = []
    units, batch = size["pg_units"], size["pg_batch"]
    interval = "0" if units >= 200_000 else "0.05"
    env = h.env()
    seed_seconds = seeded_copies(h, cluster, "chaos", units, 42, ["chaos_calm", "chaos_storm"])
    before = fingerprint(cluster.url("chaos_storm"))
    rows_before = sum(n for n, _ in before.values())

    server = h.redis_server("pg")
    client = server.client()
    settings = {"REFRESH_TOKEN_EXPIRE_SECONDS": "86400", "CLEAR_EXPIRED_TOKENS_BATCH_SIZE": str(batch),
                "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL": interval}
    worker = h.worker("pg-worker", server.url,
                      ["-Q", "chaos_pg", "-c", "1", "--max-retries", "5", "--retry-backoff", "1", "--result-expires", "3600"],
                      env=dict(settings, DATABASE_URL=cluster.url("chaos_storm")))
    h.wait_ready(worker)
    templates = Templates(server.url)
    task_id, raw = templates.make("cleartokens", queue="chaos_pg")
    initial = before["oauth2_provider_refreshtoken"][0]
    storm = psycopg.connect(cluster.url("chaos_storm"), autocommit=True)
    push(client, "chaos_pg", [raw])
    t_task = time.time()

    def progressed():
        return storm.execute("SELECT count(*) FROM oauth2_provider_refreshtoken").fetchone()[0] < initial
    wait_until(progressed, 600, interval=0.1, what="cleartokens to delete its first batch")
    remaining = storm.execute("SELECT count(*) FROM oauth2_provider_refreshtoken").fetchone()[0]
    access_left = storm.execute("SELECT count(*) FROM oauth2_provider_accesstoken").fetchone()[0]
    storm.close()
    t_restart = time.time()
    cluster.restart("immediate")
    restart_seconds = time.time() - t_restart
    result = wait_until(lambda: results(client, [task_id]).get(task_id, {}).get("status") == "SUCCESS"
                        and results(client, [task_id])[task_id], 3600, interval=0.5, what="cleartokens SUCCESS")
    task_seconds = timestamp(result["date_done"]) - t_task
    log = "\n".join(log_lines(worker.log))
    retried = f"task cleartokens[{task_id}] RETRY" in log
    succeeded = f"task cleartokens[{task_id}] SUCCESS" in log
    exits = stop_all(h, [worker])
    run_now = result["result"]["now"]

    status, _, err = h.run_oauthq(["cleartokens", "--database-url", cluster.url("chaos_calm"), "--now", run_now],
                                  dict(env, **settings), "pg-calm-cleartokens", timeout=3600)
    if status != 0:
        raise ChaosError("undisturbed cleartokens failed: " + err.strip()[-500:])
    calm, disturbed = fingerprint(cluster.url("chaos_calm")), fingerprint(cluster.url("chaos_storm"))
    differing = [t for t in TABLES if calm[t] != disturbed[t]]
    rows_after = sum(n for n, _ in disturbed.values())

    ok = check(retried and succeeded, figures, f"worker log: RETRY {retried}, SUCCESS {succeeded}")
    # Where the restart landed: right after the first committed batch, i.e. while steps 1-3 (refresh tokens, which
    # share their primary-key windows) run and before step 4 touched an access token.
    ok &= check(access_left == before["oauth2_provider_accesstoken"][0], figures,
                "the restart came after step 4 had started")
    ok &= check(not differing, figures, f"tables differ from the undisturbed run: {', '.join(differing)}")
    ok &= check(exits == [0], figures, f"worker exit {exits}")
    figures[:0] = [
        f"{units:,} units seeded in {seed_seconds:.0f} s ({rows_before:,} rows), batch {batch}",
        f"restart (pg_ctl -m immediate, {restart_seconds:.1f} s) after {initial - remaining:,} refresh tokens deleted"
        " (steps 1-3 running)",
        f"task RETRY then SUCCESS in {task_seconds:.0f} s; {rows_before - rows_after:,} rows deleted",
        f"all {len(TABLES)} tables identical to an undisturbed run with the same now: {not differing}",
    ]
    return ok, figures


# ---- 4. Poison messages -------------------------------------------------------------------------------------


def poison(h, size):
    figures = []
    server, client, templates = private_broker(h, "poison")
    queue, prefix = "chaos_poison", "chaospoison"
    bad = poison_mix(templates, queue, size["poison"], size["poison_huge"], size["huge_bytes"])
    valid = [sleep_or_ping(templates, queue, i, (0, 0.001)) for i in range(size["poison_valid"])]
    mixed = [raw for _, raw, _ in bad] + [raw for _, raw in valid]
    random.Random(3).shuffle(mixed)
    push(client, queue, mixed, chunk=50)
    worker = h.worker("poison-worker", server.url,
                      ["-Q", queue, "-c", "2", "--debug-tasks", "--key-prefix", prefix, "--result-expires", "3600"])
    valid_ids = [task_id for task_id, _ in valid]
    exited = []

    def done():
        if worker.poll() is not None:
            exited.append(worker.returncode)
            return True
        return client.llen(prefix + ":dead") >= len(bad) and len(results(client, valid_ids)) == len(valid_ids)
    try:
        wait_until(done, 600, interval=0.5, what="every message to be settled")
    except ChaosError as error:
        figures.append(f"FAILED: {error}")
    alive = worker.poll() is None
    records = [json.loads(item) for item in client.lrange(prefix + ":dead", 0, -1)]
    originals = collections.Counter(base64.b64decode(r["original"]) for r in records)
    expected = collections.Counter(raw for _, raw, _ in bad)
    reasons = collections.Counter()
    for record in records:
        reasons[record["reason"].split(":")[0][:40]] += 1
    without_reason = sum(1 for r in records if not r.get("reason"))
    stored = results(client, valid_ids)
    valid_ok = sum(1 for r in stored.values() if r["status"] == "SUCCESS")
    poison_ids = [task_id for _, _, task_id in bad if task_id]
    poison_results = results(client, poison_ids)
    exits = stop_all(h, [worker]) if alive else exited

    ok = check(alive, figures, f"the worker exited ({exited})")
    ok &= check(originals == expected, figures,
                f"dead letters {len(records)} != poison {len(bad)} (or their bytes differ)")
    ok &= check(without_reason == 0, figures, f"{without_reason} dead letter(s) without a reason")
    ok &= check(valid_ok == len(valid_ids), figures, f"valid tasks SUCCESS {valid_ok}/{len(valid_ids)}")
    ok &= check(all(r["status"] == "FAILURE" for r in poison_results.values()), figures,
                "a poison message with a readable id got a non-FAILURE result")
    ok &= check(exits == [0], figures, f"worker exit {exits}")
    kinds = collections.Counter(kind for kind, _, _ in bad)
    figures[:0] = [
        f"{len(bad)} poison ({', '.join(f'{k} {kinds[k]}' for k in POISON_KINDS)}; huge = {size['huge_bytes'] >> 20} MiB)"
        f" mixed into {len(valid_ids)} valid",
        f"dead-lettered {len(records)}/{len(bad)}, all with a reason ({len(reasons)} distinct reason kinds);"
        f" FAILURE results for {len(poison_results)} readable ids",
        f"valid SUCCESS {valid_ok}/{len(valid_ids)}; worker alive throughout, exit {exits}",
    ]
    if size["fuzz_seconds"] > 0:
        fuzz_ok, line = fuzz(h, size["fuzz_seconds"])
        figures.append(line)
        ok &= check(fuzz_ok, figures, "the envelope fuzzer failed")
    return ok, figures


def fuzz(h, seconds):
    log = h.log_path("fuzz-envelope")
    with open(log, "wb") as out:
        status = subprocess.run(["bash", str(h.root / "scripts/fuzz-envelope.sh"), str(seconds)], stdout=out,
                                stderr=subprocess.STDOUT, timeout=seconds + 3600).returncode
    text = log.read_text(errors="replace")
    match = re.search(r"==> executions: (\S+) in (\d+)s \((\S+)/s\); corpus: (\d+)", text)
    summary = (f"envelope fuzzer {seconds} s: {match.group(1)} executions ({match.group(3)}/s), corpus {match.group(4)}"
               if match else "envelope fuzzer: no summary")
    return status == 0, summary + ("" if status == 0 else f", exit {status}")


# ---- 5. Warm shutdown under load ----------------------------------------------------------------------------


def warm(h, size):
    figures = []
    count = size["warm_tasks"]
    server, client, templates = private_broker(h, "warm")
    queue, prefix = "chaos_warm", "chaoswarm"
    # 2 s tasks outlast the 1 s shutdown timeout: they are cancelled and returned; the rest finish.
    messages = [sleep_or_ping(templates, queue, i, (0.02, 0.05, 0.02, 0.3, 0.02, 0.05, 2.0, 0.02)) for i in range(count)]
    ids = [task_id for task_id, _ in messages]
    args = ["-Q", queue, "-c", "4", "--debug-tasks", "--key-prefix", prefix, "--result-expires", "3600",
            "--shutdown-timeout", "1"]
    first = ready_workers(h, "warm-a", server.url, args, 3)
    producer = stream_half(server, queue, messages, 300)
    t_term = time.monotonic()
    exits = stop_all(h, first, timeout=30)
    shutdown_seconds = time.monotonic() - t_term
    left_in_processing = processing_left(client, prefix)
    registered = client.scard(prefix + ":workers")
    done_before = len(results(client, ids))
    second = [h.worker(f"warm-b{k}", server.url, args) for k in range(3)]
    producer.join(timeout=600)
    try:
        wait_until(lambda: len(results(client, ids)) == count, 600, interval=0.5, what="every result")
    except ChaosError:
        pass
    stored = results(client, ids)
    lost = count - len(stored)
    exits2 = stop_all(h, second)
    requeued = sum(1 for p in first for line in log_lines(p.log) if "REQUEUED" in line)
    reruns = sum(n - 1 for n in started_counts(first + second).values() if n > 1)

    ok = check(lost == 0, figures, f"{lost} task(s) without a result")
    ok &= check(all(r["status"] == "SUCCESS" for r in stored.values()), figures, "non-SUCCESS results")
    ok &= check(all(e == 0 for e in exits + exits2), figures, f"exit statuses {exits} then {exits2}")
    ok &= check(left_in_processing == 0 and registered == 0, figures,
                f"after the shutdown: {left_in_processing} in processing lists, {registered} workers registered")
    ok &= check(reruns <= requeued, figures, f"{reruns} re-runs but only {requeued} tasks returned by the shutdown")
    ok &= check(not producer.unacked, figures, f"{len(producer.unacked)} LPUSH unanswered")
    figures[:0] = [
        f"{count} tasks (sleep 20 ms-2 s, ping) streamed; SIGTERM to all 3 workers (-c 4, --shutdown-timeout 1) at {count // 2}",
        f"all exited 0 in {shutdown_seconds:.1f} s, processing lists empty, {done_before} done before",
        f"running tasks cut by the timeout and returned: {requeued}; re-run after restart: {reruns}",
        f"lost {lost}; SUCCESS {len(stored)}/{count}",
    ]
    return ok, figures


# ---- 6. Beat failover ---------------------------------------------------------------------------------------

SENT = re.compile(r"^(\S+) beat: sent ping for \"(.+)\" at (\S+) id (\S+) queue")


def beat(h, size):
    figures = []
    target = size["beat_ticks"]
    server = h.redis_server("beat")
    client = server.client()
    queue, prefix, entry, step = "chaos_beat", "chaosbeat", "ping every 2s", 2
    argv = [h.oauthq, "beat", "--entry", entry, "--queue", queue, "--key-prefix", prefix, "--lock-ttl", "1"]
    env = h.env(REDIS_URL=server.url)
    generation = collections.Counter()

    def start(slot):
        generation[slot] += 1
        return h.spawn(argv, h.log_path(f"beat-{slot}-{generation[slot]}"), env)
    live = {"a": start("a"), "b": start("b")}
    instances = list(live.values())
    kills = []
    kill_at = [max(2, target // 3), max(4, (2 * target) // 3)]
    deadline = time.monotonic() + target * step + 120
    while client.llen(queue) < target and time.monotonic() < deadline:
        sent = client.llen(queue)
        if kill_at and sent >= kill_at[0]:
            kill_at.pop(0)
            time.sleep(random.uniform(0, step))    # any phase of the tick interval

            def last_sent(process):
                lines = [line for line in log_lines(process.log) if SENT.search(line)]
                return lines[-1] if lines else ""
            slot = max(live, key=lambda s: last_sent(live[s]))
            h.kill(live[slot])
            h.wait_exit(live[slot], 10)
            kills.append(time.time())
            live[slot] = start(slot)
            instances.append(live[slot])
        time.sleep(0.05)
    exits = stop_all(h, list(live.values()))

    sent_lines = []
    for process in instances:
        for line in log_lines(process.log):
            match = SENT.search(line)
            if match:
                sent_lines.append((timestamp(match.group(1)), match.group(3), match.group(4)))
    ids = collections.Counter(json.loads(raw)["headers"]["id"] for raw in client.lrange(queue, 0, -1))
    ticks = sorted({int(timestamp(tick.replace("Z", "+00:00"))) for _, tick, _ in sent_lines})
    expected = {}
    if ticks:
        for second in range(ticks[0], ticks[-1] + 1, step):
            expected[str(uuid.uuid5(uuid.NAMESPACE_URL, f"{prefix}:{entry}:{second}"))] = second
    duplicates = sum(n - 1 for n in ids.values() if n > 1)
    missing = [s for i, s in expected.items() if i not in ids]
    strangers = [i for i in ids if i not in expected]
    takeovers = []
    for killed_at in kills:
        after = [t for t, _, _ in sent_lines if t > killed_at]
        if after:
            takeovers.append(min(after) - killed_at)

    ok = check(len(kills) == 2, figures, f"{len(kills)} leader kills (expected 2)")
    ok &= check(len(expected) >= target, figures, f"only {len(expected)} ticks in the run")
    ok &= check(duplicates == 0, figures, f"{duplicates} duplicate enqueue(s)")
    ok &= check(not missing, figures, f"ticks without a message: {missing}")
    ok &= check(not strangers, figures, f"{len(strangers)} message(s) that are no tick of the entry")
    ok &= check(all(e == 0 for e in exits), figures, f"beat exits {exits}")
    figures[:0] = [
        f"2 beats, '{entry}', --lock-ttl 1, {len(expected)} ticks, leader killed -9 {len(kills)} times (random phase)",
        f"messages {sum(ids.values())}: exactly one per tick {duplicates == 0 and not missing and not strangers}"
        f" (duplicates {duplicates}, missing {len(missing)})",
        "first send after each kill: " + ", ".join(f"{t:.1f} s" for t in takeovers),
    ]
    return ok, figures


# ---- 7. Security --------------------------------------------------------------------------------------------

INJECTIONS = [
    "'; DROP TABLE oauth2_provider_application; --",
    "\" OR 1=1 --",
    "$1",
    "Robert'); DROP TABLE auth_user;--",
    "1' UNION SELECT client_secret FROM oauth2_provider_application --",
    "ünïcødé ✓ 中文 🙂 \\x00 %s %n {0}",
]


def one_clear_line(status, out, err, forbidden):
    """Exit non-zero (not killed by the timeout), exactly one line mentioning an error, and it is oauthq's one-line
    error; no backtrace; the wrong password nowhere."""
    errors = [line for line in (out + err).splitlines() if "error" in line.lower()]
    return (status not in (0, None) and len(errors) == 1 and errors[0].startswith("oauthq: error:")
            and forbidden not in out + err and "Fatal error" not in err and "Stack dump" not in err)


def security(h, size):
    figures = []
    shared = os.environ.get("DATABASE_URL")
    password_url = os.environ.get("OAUTHQ_PASSWORD_DATABASE_URL")
    if not shared or not password_url:
        raise ChaosError("DATABASE_URL and OAUTHQ_PASSWORD_DATABASE_URL (scripts/services.sh env) are needed")
    database = f"chaos_sec_{secrets.token_hex(4)}"
    base = shared.rsplit("/", 1)[0]
    db_url = f"{base}/{database}"
    admin = psycopg.connect(shared, autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    try:
        return _security(h, size, figures, db_url, database, password_url)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


def _security(h, size, figures, db_url, database, password_url):
    ok = True
    env = h.env()
    status, _, err = h.run_oauthq(["migrate", "--database-url", db_url], env, "sec-migrate")
    if status != 0:
        raise ChaosError("migrate failed: " + err.strip())
    # Tokens: seeded units whose token strings are then made random, as real ones are.
    subprocess.run([str(h.root / ".venv/bin/python"), str(h.root / "harness/reference/seed.py"), "--count", "300",
                    "--seed", "5", "--database-url", db_url], check=True, stdout=subprocess.DEVNULL, timeout=600)
    with psycopg.connect(db_url, autocommit=True) as conn:
        for table, column in (("accesstoken", "token"), ("refreshtoken", "token"), ("grant", "code")):
            conn.execute(f'UPDATE "oauth2_provider_{table}" SET {column} = '
                         f"'tok' || md5(random()::text || id) || md5(clock_timestamp()::text || id)")
        tokens = [r[0] for table, column in (("accesstoken", "token"), ("refreshtoken", "token"), ("grant", "code"))
                  for r in conn.execute(f'SELECT {column} FROM "oauth2_provider_{table}"')]
        tokens += [r[0] for r in conn.execute("SELECT client_secret FROM oauth2_provider_application")]
    h.add_secrets(tokens)

    password = secrets.token_urlsafe(18)
    server = h.redis_server("secure", password=password)
    client = server.client()
    queue, prefix, expires = "chaos_sec", "chaossec", 321
    worker = h.worker("sec-worker", server.url,
                      ["-Q", queue, "-c", "2", "--key-prefix", prefix, "--result-expires", str(expires), "-l", "trace"],
                      env={"DATABASE_URL": db_url, "REFRESH_TOKEN_EXPIRE_SECONDS": "86400"})
    h.wait_ready(worker)
    templates = Templates(server.url)

    def run_task(task, args=(), kwargs=None):
        task_id, raw = templates.make(task, args, kwargs, queue)
        push(client, queue, [raw])
        return task_id
    # createapplication through the worker: generated secrets, given secrets, a refused one, a dead-lettered one.
    given = [secrets.token_urlsafe(24) for _ in range(3)]
    h.add_secrets(given)
    app_ids = [run_task("createapplication", ["confidential", "client-credentials"], {"name": f"sec-{i}"})
               for i in range(3)]
    app_ids.append(run_task("createapplication", ["confidential", "client-credentials"],
                            {"name": "given", "client_secret": given[0]}))
    app_ids.append(run_task("createapplication", ["confidential", "client-credentials"],
                            {"name": "given-plain", "client_secret": given[1], "hash_client_secret": False}))
    refused = run_task("createapplication", ["confidential", "authorization-code"], {"client_secret": given[2]})
    dead = run_task("createapplication", ["confidential", "client-credentials"],
                    {"client_secret": given[2], "no_such_option": 1})
    clear = run_task("cleartokens")
    all_ids = app_ids + [refused, dead, clear]
    wait_until(lambda: len(results(client, all_ids)) == len(all_ids), 120, interval=0.2, what="security task results")
    stored = results(client, all_ids)
    generated = [stored[i]["result"].get("client_secret") for i in app_ids if isinstance(stored[i]["result"], dict)]
    h.add_secrets(generated)
    ok &= check(all(stored[i]["status"] == "SUCCESS" for i in app_ids + [clear]), figures, "a createapplication/cleartokens task failed")
    ok &= check(stored[refused]["status"] == "FAILURE" and stored[dead]["status"] == "FAILURE", figures,
                "the refused / dead-lettered createapplication did not fail")
    ok &= check(len([g for g in generated if g]) == 3, figures, "generated secrets missing from the results")
    ttls = [client.ttl("celery-task-meta-" + i) for i in all_ids]
    ok &= check(all(expires - 10 <= t <= expires for t in ttls), figures, f"result TTLs {sorted(set(ttls))} != {expires}")

    # createapplication from the CLI: its stdout is the one place a generated secret is printed (by design).
    status, out, _ = h.run_oauthq(["createapplication", "confidential", "client-credentials", "--name", "cli",
                                   "--database-url", db_url], env, "sec-cli-createapplication-prints-secret")
    cli_secret = out.split("client_secret:")[-1].strip().split()[0] if "client_secret:" in out else ""
    h.add_secrets([cli_secret])
    ok &= check(status == 0 and len(cli_secret) == 128, figures, "CLI createapplication did not print its secret once")

    # SQL injection strings in every field: stored verbatim when valid, refused cleanly otherwise; nothing harmed.
    counts_before = table_counts(db_url)
    verbatim = 0
    for index, text in enumerate(INJECTIONS):
        client_id = f"{text}-{index}"[:100]
        redirect = f"https://example.com/cb?q={quote(text, safe='')}"
        secret = f"{text}#{index}"
        h.add_secrets([secret])
        status, out, err = h.run_oauthq(
            ["createapplication", "confidential", "authorization-code", "--name", text, "--client-id", client_id,
             "--redirect-uris", redirect, "--post-logout-redirect-uris", redirect, "--client-secret", secret,
             "--no-hash-client-secret", "--database-url", db_url], env, f"sec-inject-{index}")
        row = None
        with psycopg.connect(db_url) as conn:
            row = conn.execute("SELECT name, client_id, redirect_uris, post_logout_redirect_uris, client_secret "
                               "FROM oauth2_provider_application WHERE client_id = %s", (client_id,)).fetchone()
        if status == 0 and row == (text, client_id, redirect, redirect, secret):
            verbatim += 1
        else:
            figures.append(f"FAILED: injection {index}: exit {status}, stored {row is not None and row == (text, client_id, redirect, redirect, secret)}: {err.strip()[:200]}")
            ok = False
        # Fields with choices or integers: refused with a validation message, nothing written.
        for bad in (["--user", text], ["--algorithm", text]):
            status, out, err = h.run_oauthq(["createapplication", "confidential", "client-credentials", "--name", "x"]
                                            + bad + ["--database-url", db_url], env, f"sec-inject-{index}-refused")
            ok &= check(status in (1, 2) and "Traceback" not in out + err, figures, f"{bad[0]} {index}: exit {status}")
        status, out, err = h.run_oauthq(["createapplication", text, text, "--database-url", db_url], env,
                                        f"sec-inject-{index}-types")
        ok &= check(status in (1, 2), figures, f"client/grant type injection {index}: exit {status}")
    worker_inject = run_task("createapplication", ["confidential", "client-credentials"],
                             {"name": INJECTIONS[0], "client_id": INJECTIONS[1], "client_secret": INJECTIONS[3],
                              "hash_client_secret": False})
    wait_until(lambda: results(client, [worker_inject]), 60, what="the injected createapplication task")
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT name, client_secret FROM oauth2_provider_application WHERE client_id = %s",
                           (INJECTIONS[1],)).fetchone()
    ok &= check(row == (INJECTIONS[0], INJECTIONS[3]), figures, "worker createapplication did not store the strings verbatim")
    counts_after = table_counts(db_url)
    intact = all(n is not None for n in counts_after.values()) and all(
        counts_after[t] == counts_before[t] for t in counts_before if t != "oauth2_provider_application")
    ok &= check(intact, figures, f"tables changed or missing: {counts_before} -> {counts_after}")
    ok &= check(counts_after["oauth2_provider_application"] == counts_before["oauth2_provider_application"] + verbatim + 1,
                figures, "unexpected number of applications after the injections")

    # Credentials: requirepass Redis and a password PostgreSQL role through URLs; wrong ones give one clear line.
    status, out, err = h.run_oauthq(["status", "--redis-url", server.url, "--key-prefix", prefix], env, "sec-status")
    ok &= check(status == 0 and "alive" in out, figures, f"status with the Redis password: exit {status}")
    h.run_oauthq(["status", "--json", "--redis-url", server.url, "--key-prefix", prefix], env, "sec-status-json")
    status, out, _ = h.run_oauthq(["dead-letters", "list", "--redis-url", server.url, "--key-prefix", prefix], env,
                                  "sec-dead-letters")
    ok &= check(status == 0 and "no_such_option" in out, figures, f"dead-letters list: exit {status}")
    wrong = secrets.token_urlsafe(12)
    wrong_redis = f"redis://:{wrong}@127.0.0.1:{server.port}/0"
    clear_lines = 0
    for name, args, extra in (
        ("status", ["status", "--redis-url", wrong_redis], {}),
        ("enqueue", ["enqueue", "ping", "--redis-url", wrong_redis], {}),
        ("worker", ["worker", "-Q", queue, "--redis-url", wrong_redis], {"DATABASE_URL": db_url}),
        ("beat", ["beat", "--redis-url", wrong_redis], {}),
    ):
        status, out, err = h.run_oauthq(args, dict(env, **extra), f"sec-wrong-redis-{name}", timeout=60)
        good = one_clear_line(status, out, err, wrong)
        clear_lines += good
        ok &= check(good, figures, f"{name} with a wrong Redis password: exit {status}, output {len((out + err).splitlines())} line(s)")
    pw_db = password_url.rsplit("/", 1)[0] + "/" + database
    status, out, err = h.run_oauthq(["migrate", "--check", "--database-url", pw_db], env, "sec-pg-password")
    ok &= check(status == 0, figures, f"migrate --check with the password role: exit {status}: {err.strip()[:200]}")
    status, out, err = h.run_oauthq(["cleartokens", "--dry-run", "--database-url", pw_db], env, "sec-pg-password-dry")
    ok &= check(status == 0, figures, f"cleartokens --dry-run with the password role: exit {status}")
    user_part, host_part = pw_db.split("@", 1)
    wrong_pg = user_part.rsplit(":", 1)[0] + ":" + wrong + "@" + host_part
    for name, args in (("migrate", ["migrate", "--check", "--database-url", wrong_pg]),
                       ("cleartokens", ["cleartokens", "--database-url", wrong_pg]),
                       ("createapplication", ["createapplication", "public", "password", "--database-url", wrong_pg])):
        status, out, err = h.run_oauthq(args, env, f"sec-wrong-pg-{name}")
        good = one_clear_line(status, out, err, wrong)
        clear_lines += good
        ok &= check(good and "password authentication failed" in err, figures,
                    f"{name} with a wrong PostgreSQL password: exit {status}: {err.strip()[:200]}")
    exits = stop_all(h, [worker])
    ok &= check(exits == [0], figures, f"worker exit {exits}")

    # Last: grep every log of the whole run (all scenarios so far) for every secret, fed from the file.
    files = [p for p in sorted(h.logs.iterdir()) if "createapplication-prints-secret.stdout" not in p.name]
    secret_count = sum(1 for line in h.secrets_file.read_text().splitlines() if line)
    grep = subprocess.run(["grep", "-F", "-l", "-f", str(h.secrets_file), "--"] + [str(p) for p in files],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    leaked = [line for line in grep.stdout.decode().splitlines() if line]
    ok &= check(grep.returncode in (0, 1) and not leaked, figures,
                f"secrets found in {len(leaked)} file(s): {', '.join(p.rsplit('/', 1)[-1] for p in leaked)}")
    log_lines_total = sum(len(log_lines(p)) for p in files)
    figures[:0] = [
        f"{secret_count} secrets (client secrets given/generated, token strings) grepped in {len(files)} log/output"
        f" files ({log_lines_total:,} lines, incl. worker -l trace, status, dead-letters list): {len(leaked)} hits",
        f"SQL injection: {verbatim}/{len(INJECTIONS)} stored verbatim in name, client_id, redirect URIs, secret;"
        f" choice/integer fields refused; all tables intact",
        f"requirepass Redis + password PostgreSQL role work; wrong credentials: {clear_lines}/7 one clear line,"
        f" not echoed", f"result TTL {min(ttls)}-{max(ttls)} s for --result-expires {expires}",
    ]
    return ok, figures


def table_counts(url):
    out = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for table in TABLES:
            exists = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0]
            out[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if exists else None
    return out
