"""Issue 11's chaos scenarios: a poison pill that kills its workers (`pill`) and a worker paused past its heartbeat
TTL in the middle of cleartokens (`pause`). Each takes (harness, size) and returns (passed, [figure, ...])."""
import json
import random
import signal
import subprocess
import time

import psycopg

from harness import ChaosError, log_lines, results, wait_until
from messages import Templates, push
from scenarios import check, fingerprint, on_cluster, processing_left, seeded_copies, stop_all, timestamp, TABLES

WORKER_LOST = 3   # the default --max-worker-lost


# ---- poison pill: oauthq.crash among ordinary tasks ------------------------------------------------------------


def pill(h, size):
    figures = []
    count = size["pill_tasks"]
    server = h.redis_server("pill")
    client = server.client()
    templates = Templates(server.url)
    queue, prefix = "chaos_pill", "chaospill"
    messages = []
    for index in range(count - 1):
        if index % 4 == 3:
            messages.append(templates.make("oauthq.sleep", kwargs={"seconds": 0.01}, queue=queue))
        else:
            messages.append(templates.make("ping", queue=queue))
    crash_id, crash_raw = templates.make("oauthq.crash", queue=queue)
    messages.insert(random.Random(11).randrange(count // 10, count // 2), (crash_id, crash_raw))
    ids = [task_id for task_id, _ in messages]
    others = [task_id for task_id in ids if task_id != crash_id]
    args = ["-Q", queue, "-c", "2", "--debug-tasks", "--key-prefix", prefix, "--result-expires", "3600",
            "--max-worker-lost", str(WORKER_LOST)]
    live = [h.worker(f"pill-w{k}-0", server.url, args) for k in range(3)]
    for worker in live:
        h.wait_ready(worker)
    push(client, queue, [raw for _, raw in messages])
    t0 = time.monotonic()
    instances, deaths, generation = list(live), [], [0, 0, 0]

    def settled():
        for slot, worker in enumerate(live):
            if worker.poll() is not None:     # the harness restarts a dead worker, as a supervisor would
                deaths.append((worker.name, worker.returncode))
                generation[slot] += 1
                live[slot] = h.worker(f"pill-w{slot}-{generation[slot]}", server.url, args)
                instances.append(live[slot])
        return len(results(client, ids)) == len(ids)
    try:
        wait_until(settled, 300 if count > 2000 else 180, interval=0.2, what="every task to have a result")
    except ChaosError as error:
        figures.append(f"FAILED: {error}")
    elapsed = time.monotonic() - t0
    exits = stop_all(h, live)
    stored = results(client, ids)
    crash = stored.get(crash_id, {})
    letters = [json.loads(item) for item in client.lrange(prefix + ":dead", 0, -1)]
    crash_letters = [r for r in letters if r.get("task_id") == crash_id]
    lost = len(ids) - len(stored)
    not_success = [i for i in others if stored.get(i, {}).get("status") != "SUCCESS"]
    crash_starts = sum(1 for p in instances for line in log_lines(p.log) if f"oauthq.crash[{crash_id}] started" in line)

    ok = check(lost == 0, figures, f"{lost} task(s) have no result")
    ok &= check(not not_success, figures, f"{len(not_success)} ordinary task(s) are not SUCCESS")
    ok &= check(crash.get("status") == "FAILURE" and (crash.get("result") or {}).get("exc_type") == "WorkerLostError",
                figures, f"the crash task's result is {crash.get('status')} {(crash.get('result') or {}).get('exc_type')}")
    ok &= check(len(crash_letters) == 1 and crash_letters[0]["reason"].startswith("WorkerLost"), figures,
                f"dead letters for the crash task: {[r.get('reason', '')[:60] for r in crash_letters]}")
    ok &= check(len(letters) == 1, figures, f"{len(letters)} dead letters (expected only the crash task)")
    ok &= check(len(deaths) == WORKER_LOST and crash_starts == WORKER_LOST, figures,
                f"workers died {len(deaths)} times, the crash task started {crash_starts} times (expected {WORKER_LOST})")
    ok &= check(all(e == 0 for e in exits), figures, f"worker exit statuses after SIGTERM {exits}")
    ok &= check(processing_left(client, prefix) == 0 and client.llen(queue) == 0, figures,
                "messages left in processing lists or the queue")
    figures[:0] = [
        f"{count} tasks (1 oauthq.crash, the rest ping and oauthq.sleep 10 ms), 3 workers -c 2 restarted when they die",
        f"worker deaths {len(deaths)} (signals {sorted({-rc for _, rc in deaths if rc and rc < 0})}); crash task started"
        f" {crash_starts} times, then dead-lettered: {crash_letters[0]['reason'][:90] if crash_letters else 'no'}",
        f"lost {lost}; others SUCCESS {len(others) - len(not_success)}/{len(others)}; all settled in {elapsed:.0f} s",
    ]
    return ok, figures


# ---- pause: SIGSTOP a worker running cleartokens for longer than its heartbeat TTL --------------------------------


def pause(h, size):
    return on_cluster(h, "pause", _pause, size)


def _pause(h, size, cluster):
    figures = []
    units, batch = size["pause_units"], size["pause_batch"]
    env = h.env()
    seeded_copies(h, cluster, "pause", units, 43, ["pause_dot", "pause_run"])

    server = h.redis_server("pause")
    client = server.client()
    settings = {"REFRESH_TOKEN_EXPIRE_SECONDS": "86400", "CLEAR_EXPIRED_TOKENS_BATCH_SIZE": str(batch),
                "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL": "0.2"}
    queue, prefix = "chaos_pause", "chaospause"
    args = ["-Q", queue, "-c", "1", "--key-prefix", prefix, "--result-expires", "3600"]
    worker_env = dict(settings, DATABASE_URL=cluster.url("pause_run"))
    a = h.worker("pause-a", server.url, args, env=worker_env)
    h.wait_ready(a)
    task_id, raw = Templates(server.url).make("cleartokens", queue=queue)
    run = psycopg.connect(cluster.url("pause_run"), autocommit=True)
    initial = run.execute("SELECT count(*) FROM oauth2_provider_refreshtoken").fetchone()[0]
    push(client, queue, [raw])
    wait_until(lambda: run.execute("SELECT count(*) FROM oauth2_provider_refreshtoken").fetchone()[0] < initial, 300,
               interval=0.1, what="cleartokens to delete its first batch on worker A")
    b = h.worker("pause-b", server.url, args, env=worker_env)
    h.wait_ready(b)
    h.kill(a, signal.SIGSTOP)
    stopped_at = time.monotonic()
    # B must notice A's death (heartbeat TTL 5 s) and take the message while A is stopped.
    taken = False
    while time.monotonic() - stopped_at < 8:
        taken = taken or any(f"cleartokens[{task_id}]" in line for line in log_lines(b.log))
        time.sleep(0.1)
    h.kill(a, signal.SIGCONT)
    result = wait_until(lambda: results(client, [task_id]).get(task_id, {}).get("status") in ("SUCCESS", "FAILURE")
                        and results(client, [task_id])[task_id], 900, interval=0.5, what="the cleartokens result")
    # Let the deferred copy come back once more and be recognised as done (by whichever worker fetches it).
    wait_until(lambda: any(f"[{task_id}] SUCCESS" in line and "redelivered duplicate, not run again" in line
                           for worker in (a, b) for line in log_lines(worker.log)), 60,
               interval=0.2, what="the deferred copy to be dropped as a duplicate")
    remaining = client.zcard(prefix + ":delayed") + client.llen(queue) + processing_left(client, prefix)
    run.close()
    exits = stop_all(h, [a, b])
    log_a, log_b = "\n".join(log_lines(a.log)), "\n".join(log_lines(b.log))
    deferred = log_b.count(f"cleartokens[{task_id}] DEFERRED")
    summary = result.get("result") if isinstance(result.get("result"), dict) else {}
    skipped = summary.get("skipped") == "already running"
    run_now = (result.get("result") or {}).get("now")

    dot_env = dict(env, DATABASE_URL=cluster.url("pause_dot"), REFRESH_TOKEN_EXPIRE_SECONDS="86400",
                   CLEAR_EXPIRED_TOKENS_BATCH_SIZE=str(batch))
    completed = subprocess.run([str(h.root / ".venv/bin/python"), str(h.root / "harness/reference/cleartokens_at.py"),
                                "--now", str(run_now)], env=dot_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               timeout=3600)
    if completed.returncode != 0:
        raise ChaosError("DOT's cleartokens failed: " + completed.stderr.decode(errors="replace")[-500:])
    dot, ours = fingerprint(cluster.url("pause_dot")), fingerprint(cluster.url("pause_run"))
    differing = [t for t in TABLES if dot[t] != ours[t]]
    deleted = sum(step.get("deleted", 0) for step in summary.get("steps", []) if isinstance(step, dict)) or None

    ok = check(taken, figures, "worker B never took the message while A was stopped")
    ok &= check(result.get("status") == "SUCCESS" and not skipped and bool(run_now), figures,
                f"the stored result is {result.get('status')} {json.dumps(result.get('result'))[:120]}")
    ok &= check(deferred >= 1, figures, "worker B never deferred its duplicate")
    ok &= check(f"cleartokens[{task_id}] SUCCESS" in log_a, figures, "worker A did not log its own SUCCESS")
    ok &= check(not differing, figures, f"tables differ from DOT's run at the same now: {', '.join(differing)}")
    ok &= check(remaining == 0, figures, f"{remaining} message(s) left in the delayed set, the queue or processing lists")
    ok &= check(all(e == 0 for e in exits), figures, f"worker exits {exits}")
    figures[:0] = [
        f"{units:,} units seeded, batch {batch}, interval 0.2 s; worker A stopped (SIGSTOP) 8 s mid-run with B up",
        f"B took the redelivered message: {taken}; B deferred it {deferred} time(s) while A's run held the lock"
        f" (never stored 'skipped')",
        f"result SUCCESS from A's run: {result.get('status') == 'SUCCESS' and not skipped}"
        f" (deleted {deleted if deleted is not None else '?'}); all {len(TABLES)} tables identical to DOT's: {not differing}",
    ]
    return ok, figures
