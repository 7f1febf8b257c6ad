#!/usr/bin/env python3
"""Key press to redraw latency of a program running in a tmux pane.

For each sample: capture the pane, send one key, poll capture-pane until the
screen differs, and record the elapsed time. Keys are taken in turn from the
list given, so each press changes the screen (e.g. "2 1" switches views).
Prints: median, p90 and max in milliseconds, and the number of samples.

usage: keylatency.py SOCKET TARGET SAMPLES KEY [KEY...]
"""
import statistics
import subprocess
import sys
import time


def capture(sock, target):
    return subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", target],
                          check=True, capture_output=True).stdout


def main():
    sock, target, samples = sys.argv[1], sys.argv[2], int(sys.argv[3])
    keys = sys.argv[4:]
    times = []
    for i in range(samples):
        before = capture(sock, target)
        start = time.monotonic()
        subprocess.run(["tmux", "-L", sock, "send-keys", "-t", target, keys[i % len(keys)]], check=True)
        while True:
            if capture(sock, target) != before:
                break
            if time.monotonic() - start > 5:
                print(f"keylatency: screen did not change within 5 s (sample {i})", file=sys.stderr)
                sys.exit(1)
        times.append((time.monotonic() - start) * 1000)
        time.sleep(0.05)
    times.sort()
    p90 = times[int(0.9 * (len(times) - 1))]
    print(f"median_ms={statistics.median(times):.1f} p90_ms={p90:.1f} max_ms={times[-1]:.1f} samples={len(times)}")


if __name__ == "__main__":
    main()
