"""The speed guards' one timing rule, shared by the tests that have one.

A compiled path must beat the path it stands in for (its NumPy twin, or eager execution),
best of several runs timed in alternation, with retries against a noisy machine. They catch
a silent fall-back to scalar code, which only timing shows; how fast glassnet is gets
measured in ``bench/``.
"""
import time


def best(fn, repeats=7, calls=1):
    """The fastest of ``repeats`` timings of ``calls`` calls of ``fn`` (after one warm-up call),
    in seconds per call."""
    fn()
    fastest = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        fastest = min(fastest, (time.perf_counter() - start) / calls)
    return fastest


def faster(fast, slow, what="the compiled kernel", than="its NumPy twin", repeats=7, calls=1, by=1.0):
    """True when ``fast`` beats ``slow`` ``by`` times over (``by`` times ``fast``'s time is under
    ``slow``'s), best against best, timed in alternation (so a noisy stretch of the machine hits
    both) and tried up to three times; else an AssertionError with both times.

    ``by`` > 1 where scalar code would be about as fast as the twin: a one-pass loop against
    NumPy's five with a square root and a division in each element, say."""
    fast(), slow()
    for _ in range(3):
        f = s = float("inf")
        for _ in range(repeats):
            f = min(f, best(fast, 1, calls))
            s = min(s, best(slow, 1, calls))
        if f * by < s:
            return True
    times = "faster than" if by == 1 else f"{by:g} times as fast as"
    raise AssertionError(f"{what} took {f * 1e3:.3f} ms, not {times} {than} ({s * 1e3:.3f} ms): "
                         f"a fall-back to scalar code?")
