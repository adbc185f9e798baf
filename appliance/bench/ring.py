"""`agma bench ring`: a frame pair's crossing from a writer process to this one, through the
shared-memory ring (capture/ring.py) beside a multiprocessing.Queue of the same arrays."""
from __future__ import annotations

from .. import bench


@bench.register("ring", default=False)
def bench_ring_rows(args) -> list[dict]:
    from ..capture.ring import bench_ring

    return bench_ring(repeat=min(getattr(args, "repeat", 100), 200))
