"""Publishes N no-op tasks for the Celery baseline with Celery's own client
(apply_async over one producer), so the messages are exactly what Celery
itself sends -- protocol 2 headers, JSON body -- on either broker.

  CELERY_BENCH_BROKER=URL /usr/bin/python3 celery_publish.py N
Prints "published N in S s".
"""
import sys
import time

from celery_noop import app, noop

n = int(sys.argv[1])
t0 = time.monotonic()
with app.producer_or_acquire() as producer:
    for _ in range(n):
        noop.apply_async(producer=producer)
print(f"published {n} in {time.monotonic() - t0:.2f} s")
