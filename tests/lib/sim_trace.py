#!/usr/bin/env python3
"""Seeded traces for qdeck sim's tests and benchmark (JSONL on stdout).

  sim_trace.py poisson N LAMBDA MEAN_SERVICE SEED
      one type, Poisson arrivals, exponential service (the theory check)
  sim_trace.py llm N LAMBDA FAIL_SHARE SEED
      type "chat" on queue "llm", priorities 1..9, tokens_out U(20, 1200),
      service 0.02 + 0.0002 * tokens_out + N(0, 0.005), that share of
      attempts failed (prices are the config's)
  sim_trace.py burst N LAMBDA SEED
      type "call" on queue "api": every attempt from t = 20 s to 40 s fails
  sim_trace.py mix N TYPES LAMBDA SEED
      TYPES types on TYPES/2 queues, mixed priorities and tokens (the benchmark)
"""
import json
import random
import sys


def poisson(n, lam, mean, seed):
    r = random.Random(seed)
    t = 0.0
    for _ in range(n):
        t += r.expovariate(lam)
        yield '{"t":%.6f,"type":"job","service":%.6f}' % (t, r.expovariate(1 / mean))


def llm(n, lam, fail_share, seed):
    r = random.Random(seed)
    t = 0.0
    for _ in range(n):
        t += r.expovariate(lam)
        out = r.randint(20, 1200)
        svc = max(0.0, 0.02 + 0.0002 * out + r.gauss(0, 0.005))
        yield {"t": round(t, 6), "type": "chat", "queue": "llm", "priority": r.randint(1, 9),
               "service": round(svc, 6), "tokens_in": r.randint(100, 400), "tokens_out": out,
               "outcome": "fail" if r.random() < fail_share else "ok"}


def burst(n, lam, seed):
    r = random.Random(seed)
    t = 0.0
    for _ in range(n):
        t += r.expovariate(lam)
        yield {"t": round(t, 6), "type": "call", "queue": "api", "service": round(r.expovariate(20), 6),
               "outcome": "fail" if 20 <= t < 40 else "ok"}


def mix(n, types, lam, seed):
    r = random.Random(seed)
    t = 0.0
    for _ in range(n):
        t += r.expovariate(lam)
        k = r.randrange(types)
        out = r.randint(0, 500)
        yield ('{"t":%.6f,"type":"type%d","queue":"q%d","priority":%d,"service":%.6f,"tokens_in":50,'
               '"tokens_out":%d,"outcome":"%s"}' % (t, k, k % max(1, types // 2), r.randint(0, 9),
                                                   0.001 * (k + 1) + 0.00001 * out, out,
                                                   "fail" if r.random() < 0.01 else "ok"))


def main():
    kind, args = sys.argv[1], sys.argv[2:]
    if kind == "poisson":
        gen = poisson(int(args[0]), float(args[1]), float(args[2]), int(args[3]))
    elif kind == "llm":
        gen = llm(int(args[0]), float(args[1]), float(args[2]), int(args[3]))
    elif kind == "burst":
        gen = burst(int(args[0]), float(args[1]), int(args[2]))
    else:
        gen = mix(int(args[0]), int(args[1]), float(args[2]), int(args[3]))
    out = sys.stdout
    for rec in gen:
        out.write((rec if isinstance(rec, str) else json.dumps(rec, separators=(",", ":"))) + "\n")


if __name__ == "__main__":
    main()
