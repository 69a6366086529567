"""Probes: narrower measurements behind a finding in ``docs/performance.md``, run by hand.

Each is ``python -m bench.probes.<name>``; none is part of ``python -m bench``'s table.
"""
