"""Cross-checks oauthq's CeleryProtocol wire layer against kombu 5.7 / celery 5.7 themselves.

Usage: python crosscheck.py DIR
DIR holds what the Swift test wrote:
  messages.json  [{"raw": <envelope text>, "expect": {...}}, ...]   envelopes made by CeleryMessage.make
  values.json    [{"json": <text>, "dumps": <text>, "repr": <text>, "saferepr": <text>}, ...]
  results.json   [<CeleryResult.encoded() text>, ...]
Prints one line per problem and exits 1 if there was any; prints "OK ..." and exits 0 otherwise.
"""
import base64
import json
import sys
from datetime import timezone

from celery import Celery
from celery.utils.saferepr import saferepr
from celery.worker.request import Request
from kombu import Connection

problems = []


def check(cond, what):
    if not cond:
        problems.append(what)


def main(directory):
    app = Celery('crosscheck', broker='memory://', backend='cache+memory://')
    app.conf.accept_content = ['json']

    @app.task(name='oauth2_provider.cleartokens')
    def cleartokens(*args, **kwargs):
        return None

    conn = Connection('memory://')
    channel = conn.channel()

    messages = json.load(open(f'{directory}/messages.json'))
    for i, item in enumerate(messages):
        raw, expect = item['raw'], item['expect']
        payload = json.loads(raw)
        # kombu's own JSON writer must reproduce the bytes (key order, separators, escapes).
        check(json.dumps(payload) == raw, f'message {i}: json.dumps(json.loads(raw)) != raw')
        # kombu's virtual transport: body_encoding base64 → decode → loads with the accept list.
        message = channel.Message(payload, channel=channel)
        body = message.decode()
        check(isinstance(body, (list, tuple)) and len(body) == 3, f'message {i}: body shape {type(body)}')
        args, kwargs, embed = body
        check(list(args) == expect['args'], f'message {i}: args differ')
        check(kwargs == expect['kwargs'], f'message {i}: kwargs differ')
        check(list(kwargs) == list(expect['kwargs']), f'message {i}: kwargs order differs')
        check(embed == {'callbacks': None, 'errbacks': None, 'chain': None, 'chord': None}, f'message {i}: embed')
        # The same Request the worker builds (celery/worker/strategy.py default()).
        req = Request(message, app=app, task=cleartokens, body=body, headers=message.headers, decoded=False,
                      utc=True, hostname='crosscheck@localhost')
        check(req.id == expect['id'], f'message {i}: id')
        check(req.name == expect['task'], f'message {i}: task name')
        check(req.root_id == expect['id'], f'message {i}: root_id')
        check(req.delivery_info['routing_key'] == expect['queue'], f'message {i}: routing_key')
        check(req.delivery_info['exchange'] == '', f'message {i}: exchange')
        check(message.delivery_tag == expect['delivery_tag'], f'message {i}: delivery_tag')
        check(message.properties.get('priority') == expect['priority'], f'message {i}: priority')
        # The headers celery's own as_task_v2 (what send_task uses) builds from the same inputs, in the same order.
        headers = payload['headers']
        reference = app.amqp.as_task_v2(
            headers['id'], headers['task'], args=args, kwargs=kwargs, eta=headers['eta'], expires=headers['expires'],
            retries=headers['retries'], time_limit=headers['timelimit'][0], soft_time_limit=headers['timelimit'][1],
            root_id=headers['root_id'], parent_id=headers['parent_id'], origin=headers['origin'],
            ignore_result=headers['ignore_result'],
        ).headers
        for key, value in expect.get('extra_headers', {}).items():
            reference[key] = value
        check(list(reference.items()) == list(headers.items()),
              f'message {i}: headers differ from as_task_v2:\n  ours {list(headers.items())}\n  ref  {list(reference.items())}')
        hard, soft = req.time_limits
        check([hard, soft] == expect['timelimit'], f'message {i}: time limits {req.time_limits}')
        for field in ('eta', 'expires'):
            value = getattr(req, field)
            if expect[field] is None:
                check(value is None, f'message {i}: {field} should be None')
            else:
                check(value is not None and value.astimezone(timezone.utc).isoformat() == expect[field],
                      f'message {i}: {field} {value!r} != {expect[field]}')
        if expect.get('expiration') is not None:
            check(message.properties.get('expiration') == expect['expiration'], f'message {i}: expiration')
        else:
            check('expiration' not in message.properties, f'message {i}: unexpected expiration')
        # A Python worker needs these to not lose the message (docs/architecture.md#the-message-envelope).
        check('delivery_tag' in payload['properties'], f'message {i}: no delivery_tag')
        check({'exchange', 'routing_key'} <= set(payload['properties']['delivery_info']), f'message {i}: delivery_info')

    values = json.load(open(f'{directory}/values.json'))
    for i, item in enumerate(values):
        v = json.loads(item['json'])
        check(json.dumps(v) == item['dumps'], f'value {i}: json.dumps differs: {json.dumps(v)[:200]!r} vs {item["dumps"][:200]!r}')
        check(repr(v) == item['repr'], f'value {i}: repr differs: {repr(v)[:200]!r} vs {item["repr"][:200]!r}')
        check(saferepr(v, 1024) == item['saferepr'], f'value {i}: saferepr differs: {saferepr(v, 1024)[:200]!r} vs {item["saferepr"][:200]!r}')

    results = json.load(open(f'{directory}/results.json'))
    backend = app.backend
    for i, text in enumerate(results):
        meta = backend.decode(text.encode())  # raw meta; decode_result would already convert exceptions
        check('task_id' in meta and 'status' in meta, f'result {i}: missing task_id/status')
        if meta['status'] in ('FAILURE', 'REVOKED'):
            exc = backend.exception_to_python(meta['result'])
            check(isinstance(exc, BaseException), f'result {i}: not an exception: {exc!r}')
            check(type(exc).__name__ == meta['result']['exc_type'], f'result {i}: exception type {type(exc)}')
            check(list(exc.args) == meta['result']['exc_message'], f'result {i}: exception args')

    for p in problems:
        print(p)
    if problems:
        return 1
    print(f'OK {len(messages)} messages, {len(values)} values, {len(results)} results')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
