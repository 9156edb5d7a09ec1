"""The line every benchmark prints first: how many cores, which Python, and how fast this machine runs Python.

The loop figure lets figures from two machines be compared: VMs of the same size differ
by up to 3x in plain CPU speed, and a slower one slows every benchmark alike.
"""

import os
import sys
import time


def loop_seconds(steps: int = 10_000_000) -> float:
    """Best of three runs of a plain Python loop of `steps` additions."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for step in range(steps):
            total += step
        best = min(best, time.perf_counter() - start)
    return best


def describe() -> str:
    return (
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"10M-step Python loop in {loop_seconds():.2f} s"
    )
