"""Times how fast a queue drains, the same way for every worker under test
(qdeck, Celery): it polls the queue's depth every 5 ms over one persistent
connection, starts the clock when the depth first drops below TOTAL (the
worker took its first message, so start-up is not counted) and stops it when
nothing is left. Rate = messages taken after the clock started / elapsed.

  drain_timer.py amqp URL QUEUE TOTAL     depth: messages ready (passive
                                          queue.declare; at most one prefetch
                                          window of unacked is not seen)
  drain_timer.py redis URL KEY TOTAL      depth: LLEN KEY + every qdeck
                                          processing list of KEY + Celery's
                                          `unacked` hash: exact, acks included

Prints "drained N in S s: R msgs/s"; exit 1 when the depth does not move for
--stall seconds (default 60). Run with /usr/bin/python3 (py-amqp, redis-py).
"""
import argparse
import sys
import time

REDIS_DEPTH = """
local n = redis.call('LLEN', KEYS[1]) + redis.call('HLEN', 'unacked')
for _, k in ipairs(redis.call('KEYS', 'qdeck:processing:*:' .. KEYS[1])) do
  n = n + redis.call('LLEN', k)
end
return n
"""


def amqp_depth(url, queue):
    import urllib.parse

    import amqp

    u = urllib.parse.urlparse(url)
    vhost = urllib.parse.unquote(u.path[1:]) or "/"
    conn = amqp.Connection(host=f"{u.hostname}:{u.port or 5672}", userid=urllib.parse.unquote(u.username or "guest"),
                           password=urllib.parse.unquote(u.password or "guest"), virtual_host=vhost)
    conn.connect()
    ch = conn.channel()

    def depth():
        return ch.queue_declare(queue, passive=True).message_count

    return depth


def redis_depth(url, key):
    import redis

    r = redis.Redis.from_url(url)
    script = r.register_script(REDIS_DEPTH)
    return lambda: int(script(keys=[key]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["amqp", "redis"])
    ap.add_argument("url")
    ap.add_argument("queue")
    ap.add_argument("total", type=int)
    ap.add_argument("--stall", type=float, default=60)
    a = ap.parse_args()
    depth = amqp_depth(a.url, a.queue) if a.kind == "amqp" else redis_depth(a.url, a.queue)
    last, moved = depth(), time.monotonic()
    start = start_depth = None
    while True:
        d = depth()
        t = time.monotonic()
        if d != last:
            last, moved = d, t
        if start is None and d < a.total:
            start, start_depth = t, d
        if start is not None and d == 0:
            break
        if t - moved > a.stall:
            print(f"drain_timer: {a.queue} stuck at {d} of {a.total} for {a.stall:.0f} s", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.005)
    secs = t - start
    n = start_depth  # taken after the clock started
    print(f"drained {n} in {secs:.3f} s: {n / secs if secs > 0 else 0:.0f} msgs/s")


main()
