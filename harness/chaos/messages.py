"""Task messages for the chaos suite: real Celery 5.7 send_task messages (captured from the client, then copied
with fresh ids and delivery tags) and the malformed ones of the poison scenario.
"""
import base64
import json
import random
import uuid

import redis
from celery import Celery


class Templates:
    """One captured send_task message per (task, args, kwargs), reused with fresh ids."""

    def __init__(self, redis_url):
        self.url = redis_url
        self.cache = {}

    def raw(self, task, args=(), kwargs=None, queue="celery"):
        key = (task, json.dumps(list(args)), json.dumps(kwargs or {}, sort_keys=True), queue)
        if key not in self.cache:
            app = Celery("chaos_template", broker=self.url, backend=self.url)
            probe = f"chaos.template.{uuid.uuid4()}"
            result = app.send_task(task, args=list(args), kwargs=kwargs or {}, queue=probe, ignore_result=True)
            client = redis.Redis.from_url(self.url)
            raw = client.rpop(probe)
            client.delete(probe)
            client.close()
            app.close()
            envelope = json.loads(raw)
            envelope["properties"]["delivery_info"]["routing_key"] = queue
            # ignore_result only kept the probe from subscribing; the copies store results.
            envelope["headers"]["ignore_result"] = None
            self.cache[key] = (json.dumps(envelope), result.id, envelope["properties"]["delivery_tag"])
        return self.cache[key]

    def make(self, task, args=(), kwargs=None, queue="celery"):
        """(task id, message bytes) with a fresh id and delivery tag."""
        raw, old_id, old_tag = self.raw(task, args, kwargs, queue)
        task_id = str(uuid.uuid4())
        return task_id, raw.replace(old_id, task_id).replace(old_tag, str(uuid.uuid4())).encode()


def push(client, queue, messages, chunk=500):
    """Pipelined LPUSH of message bytes, as kombu does (LPUSH + BRPOP = FIFO)."""
    pipe = client.pipeline(transaction=False)
    for index, message in enumerate(messages):
        pipe.lpush(queue, message)
        if index % chunk == chunk - 1:
            pipe.execute()
    pipe.execute()


POISON_KINDS = ("truncated-json", "wrong-types", "huge-body", "invalid-utf8", "unknown-task", "bad-base64",
                "not-an-envelope", "wrong-arguments")


def _envelope(templates, queue, task="ping", args=(), kwargs=None):
    task_id, raw = templates.make(task, args, kwargs, queue)
    return task_id, json.loads(raw)


def _body(args, kwargs):
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    return base64.b64encode(json.dumps([args, kwargs, embed]).encode()).decode()


def poison(templates, queue, index, kind, rng, huge_bytes):
    """One malformed message of `kind` (unique bytes: the index is inside). Returns (bytes, task id or None)."""
    if kind == "truncated-json":
        task_id, raw = templates.make("ping", queue=queue)
        raw = raw.replace(b'"lang": "py"', f'"lang": "py", "n": {index}'.encode())
        return raw[: rng.randrange(1, len(raw) - 1)], None
    if kind == "wrong-types":
        task_id, envelope = _envelope(templates, queue)
        variant = index % 8
        if variant == 0:
            envelope["headers"]["id"] = index                           # id not a string
            task_id = None
        elif variant == 1:
            envelope["headers"]["task"] = [index]                       # task name not a string
        elif variant == 2:
            envelope["body"] = index                                    # body not a string
        elif variant == 3:
            envelope["body"] = _body({"n": index}, {})                  # args not a list
        elif variant == 4:
            envelope["body"] = _body([], [index])                       # kwargs not a dict
        elif variant == 5:
            envelope["headers"] = [index]                               # headers not an object
            task_id = None
        elif variant == 6:
            envelope["body"] = base64.b64encode(json.dumps({"n": index}).encode()).decode()  # body not a list
        else:
            envelope["headers"]["retries"] = f"many-{index}"            # retries not an int
        return json.dumps(envelope).encode(), task_id
    if kind == "huge-body":
        task_id, envelope = _envelope(templates, queue)
        variant = index % 2
        if variant == 0:                                                 # megabytes of base64 of non-JSON
            envelope["body"] = base64.b64encode(rng.randbytes(huge_bytes * 3 // 4)).decode()
        else:                                                            # a valid body with a huge argument
            envelope["body"] = _body(["x" * huge_bytes, index], {})
        return json.dumps(envelope).encode(), task_id
    if kind == "invalid-utf8":
        task_id, raw = templates.make("ping", queue=queue)
        variant = index % 3
        if variant == 0:                                                 # in the envelope's JSON text
            return raw.replace(b'"lang": "py"', b'"lang": "p\xff\xfe' + str(index).encode() + b'"'), task_id
        if variant == 1:                                                 # in the base64-decoded body
            envelope = json.loads(raw)
            body = b'[["\xc3\x28' + str(index).encode() + b'"], {}, {}]'
            envelope["body"] = base64.b64encode(body).decode()
            return json.dumps(envelope).encode(), task_id
        return b"\x80\x81\xfe\xff" + str(index).encode() + b"\xc0\xc1", None   # not even text
    if kind == "unknown-task":
        task_id, raw = templates.make(f"no.such.task.{index % 7}", queue=queue)
        return raw.replace(b'"lang": "py"', f'"lang": "py", "n": {index}'.encode()), task_id
    if kind == "bad-base64":
        task_id, envelope = _envelope(templates, queue)
        envelope["body"] = f"!!not*base64#{index}%%"
        return json.dumps(envelope).encode(), task_id
    if kind == "not-an-envelope":
        variant = index % 4
        return [f"not json {index}".encode(), f"[1, 2, {index}]".encode(), f'"{index}"'.encode(),
                json.dumps({"n": index, "body": None}).encode()][variant], None
    if kind == "wrong-arguments":
        variant = index % 3
        if variant == 0:
            task_id, raw = templates.make("ping", args=[1, "two"], queue=queue)
        elif variant == 1:
            task_id, raw = templates.make("cleartokens", kwargs={"no_such_setting": 1}, queue=queue)
        else:
            task_id, raw = templates.make("oauthq.sleep", kwargs={"seconds": 1000}, queue=queue)
        return raw, task_id
    raise ValueError(kind)


def poison_mix(templates, queue, count, huge_count, huge_bytes, seed=7):
    """count malformed messages, every kind equally often except huge bodies (huge_count of them)."""
    rng = random.Random(seed)
    kinds = [k for k in POISON_KINDS if k != "huge-body"]
    out = []
    for index in range(count - huge_count):
        kind = kinds[index % len(kinds)]
        raw, task_id = poison(templates, queue, index, kind, rng, huge_bytes)
        out.append((kind, raw, task_id))
    for index in range(huge_count):
        raw, task_id = poison(templates, queue, count + index, "huge-body", rng, huge_bytes)
        out.append(("huge-body", raw, task_id))
    return out
