"""The Celery 5 side of the worker benchmark: a no-op task on a worker set
up the way the issue asks to compare against qdeck -- prefork pool, late
acks (ack after the task ran), no result backend, the same broker and the
same concurrency as the qdeck worker.

Configured from the environment (so one module serves RabbitMQ and Redis):
  CELERY_BENCH_BROKER   broker URL (amqp://... or redis://...)
  CELERY_BENCH_QUEUE    queue name (default celery-bench)

Run with Debian's interpreter, which is the one that has Celery:
  /usr/bin/python3 -m celery -A celery_noop worker -P prefork -c 4 ...
"""
import os

from celery import Celery

app = Celery("celery_noop", broker=os.environ.get("CELERY_BENCH_BROKER", "amqp://guest:guest@127.0.0.1//"))
app.conf.update(
    task_acks_late=True,
    task_ignore_result=True,
    result_backend=None,
    task_default_queue=os.environ.get("CELERY_BENCH_QUEUE", "celery-bench"),
    worker_hijack_root_logger=False,
    worker_send_task_events=False,
    broker_connection_retry_on_startup=True,
)


@app.task(name="bench.noop")
def noop():
    return None
