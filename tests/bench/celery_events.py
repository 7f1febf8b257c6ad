"""Events benchmark, the Celery side: writes a synthetic Celery event stream
(worker heartbeats; per task task-sent, then a task.multi batch of
received, started and succeeded -- the shapes a prefork worker with events
on sends, field for field) as JSONL {"rk", "body"} for build/tools/celery-replay,
and times celery.events.state.State -- Flower's event handling -- fed the
same bodies (json.loads included, as qdeck's side parses JSON too, and
the local_received stamp Celery's EventReceiver adds).

  /usr/bin/python3 celery_events.py write FILE TASKS
  /usr/bin/python3 celery_events.py state FILE      prints: events seconds
  /usr/bin/python3 celery_events.py flood FILE BROKER   publishes FILE to celeryev
"""
import json
import sys
import time
import uuid


def write(path, tasks):
    now = time.time()
    hosts = ["celery@bench-%d" % i for i in range(8)]
    with open(path, "w") as out:
        def emit(rk, body):
            out.write(json.dumps({"rk": rk, "body": json.dumps(body)}) + "\n")
        for i in range(tasks):
            t = now + i * 0.001
            host = hosts[i % len(hosts)]
            if i % 500 == 0:
                for h in hosts:
                    emit("worker.heartbeat", {"hostname": h, "utcoffset": 0, "pid": 100, "clock": i, "freq": 2.0,
                                              "active": 1, "processed": i // len(hosts), "loadavg": [1.0, 1.0, 1.0],
                                              "sw_ident": "py-celery", "sw_ver": "5.2.6", "sw_sys": "Linux",
                                              "timestamp": t, "type": "worker-heartbeat"})
            u = str(uuid.uuid4())
            name = "bench.task%d" % (i % 5)
            emit("task.sent", {"hostname": "gen@producer", "utcoffset": 0, "pid": 1, "clock": i, "uuid": u,
                               "root_id": u, "parent_id": None, "name": name, "args": "()", "kwargs": "{}",
                               "retries": 0, "eta": None, "expires": None, "queue": "celery", "exchange": "",
                               "routing_key": "celery", "timestamp": t, "type": "task-sent"})
            base = {"hostname": host, "utcoffset": 0, "pid": 101, "clock": i, "uuid": u}
            emit("task.multi", [
                dict(base, name=name, args="()", kwargs="{}", root_id=u, parent_id=None, retries=0, eta=None,
                     expires=None, timestamp=t + 0.002, type="task-received"),
                dict(base, timestamp=t + 0.003, type="task-started"),
                dict(base, result="None", runtime=0.05 + (i % 7) * 0.001, timestamp=t + 0.054,
                     type="task-succeeded"),
            ])


def state(path):
    from celery.events.state import State
    bodies = [json.loads(line)["body"] for line in open(path)]
    st = State()
    n = 0
    t0 = time.process_time()
    for b in bodies:
        ev = json.loads(b)
        for e in (ev if isinstance(ev, list) else [ev]):
            e["local_received"] = time.time()   # what celery's EventReceiver adds to each event
            st.event(e)
            n += 1
    took = time.process_time() - t0
    print(n, took)




def flood(path, broker):
    """Publishes every recorded body to the celeryev exchange, as fast as
    pyamqp goes (the exchange is declared as Celery declares it)."""
    from kombu import Connection, Exchange
    ex = Exchange("celeryev", type="topic")
    lines = [json.loads(line) for line in open(path)]
    t0 = time.time()
    with Connection(broker) as c:
        ex(c.default_channel).declare()
        producer = c.Producer(exchange=ex, serializer="json")
        ch = c.default_channel
        for r in lines:
            msg = ch.prepare_message(r["body"], content_type="application/json", content_encoding="utf-8")
            ch.basic_publish(msg, exchange="celeryev", routing_key=r["rk"])
        del producer
    print(len(lines), time.time() - t0)


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "flood":
        flood(sys.argv[2], sys.argv[3])
    else:
        state(sys.argv[2])
