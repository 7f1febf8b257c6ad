#!/usr/bin/env python3
"""The exact reference for qdeck sim's theory check: FIFO with C servers
over the same trace (each arrival starts when the earliest server frees,
in arrival order), and Erlang C from the trace's own rates.

  sim_fifo_ref.py TRACE C   ->  {"wait_mean", "e2e_p95", "erlang_c_wait", "tasks"}
p95 is the nearest rank, as qdeck sim reports it."""
import heapq
import json
import math
import sys


def main():
    path, c = sys.argv[1], int(sys.argv[2])
    arrivals, services = [], []
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            arrivals.append(rec["t"])
            services.append(rec["service"])
    free = [arrivals[0]] * c
    waits, e2e = [], []
    for a, s in zip(arrivals, services):
        start = max(a, heapq.heappop(free))
        waits.append(start - a)
        e2e.append(start - a + s)
        heapq.heappush(free, start + s)
    n = len(arrivals)
    e2e.sort()
    lam = (n - 1) / (arrivals[-1] - arrivals[0])
    mu = n / sum(services)
    load = lam / mu
    rho = load / c
    below = sum(load ** k / math.factorial(k) for k in range(c))
    top = load ** c / math.factorial(c) / (1 - rho)
    erlang_c_wait = top / (below + top) / (c * mu - lam)
    print(json.dumps({"wait_mean": sum(waits) / n, "e2e_p95": e2e[math.ceil(0.95 * n) - 1],
                      "erlang_c_wait": erlang_c_wait, "tasks": n}))


if __name__ == "__main__":
    main()
