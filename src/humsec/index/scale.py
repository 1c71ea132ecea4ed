"""Where independent pieces of index work run: here, or on a Dask cluster.

An :class:`Executor` maps a top-level function over items. :class:`SerialExecutor`
runs them in this process; :class:`DaskExecutor` sends them to a ``dask.distributed``
cluster (a scheduler address, or a :class:`~distributed.LocalCluster` started for the
call). Work is split so that every piece is computed by the same code on the same
inputs wherever it runs, so results are identical to the single-process path.

Use :func:`executor_for` to get one from what a user passes (``None``, ``"local"``,
``"local:4"``, ``"tcp://host:8786"`` or a :class:`distributed.Client`); it closes what it
opened.

References
----------
.. [Dask] Rocklin, M. (2015). Dask: Parallel computation with blocked algorithms and
   task scheduling. *Proc. 14th Python in Science Conf.*, 130-136.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
from collections.abc import Callable, Iterator, Sequence
from typing import Any
import os

from humsec.errors import HumsecError, MissingExtra

__all__ = ["DaskExecutor", "Executor", "SerialExecutor", "executor_for", "tune_malloc_for_arrays"]


class Executor:
    """Protocol of the executors (also a usable base: serial)."""

    serial: bool = True

    def share(self, obj: Any) -> Any:
        """A handle on ``obj`` to pass to every task (sent once to each worker)."""
        return obj

    def map_unordered(self, fn: Callable[..., Any], items: Sequence[Any], **kwargs: Any
                      ) -> Iterator[tuple[int, Any]]:
        """``(i, fn(items[i], **kwargs))`` for every item, in order of completion."""
        for i, item in enumerate(items):
            yield i, fn(item, **kwargs)

    def map(self, fn: Callable[..., Any], items: Sequence[Any], **kwargs: Any) -> list[Any]:
        """``[fn(item, **kwargs) for item in items]`` in the order of ``items``."""
        out: list[Any] = [None] * len(items)
        for i, res in self.map_unordered(fn, items, **kwargs):
            out[i] = res
        return out

    @property
    def n_workers(self) -> int:
        return 1


class SerialExecutor(Executor):
    """Everything in this process, one item after another."""


def tune_malloc_for_arrays() -> bool:
    """Give this process glibc's large-array allocation behaviour back (a Dask worker).

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` so that freed
    memory goes back to the OS at once. Setting any trim threshold also freezes glibc's
    mmap threshold at 128 KiB, so every numpy temporary above it is a fresh ``mmap``
    whose pages fault in again on every use: the index kernels, which allocate
    units x indicators temporaries, then run 1.5-2x slower than in a plain process
    (measured: 20 uncertainty groups of 20,000 x 49 took 6.1 s instead of 3.2-4.5 s).
    This sets the thresholds glibc's own dynamic rule settles on for such arrays
    (mmap 32 MiB, trim 64 MiB: at most 64 MiB of freed heap is kept for reuse).

    Returns
    -------
    bool
        Whether the settings were applied (False where the C library is not glibc).

    References
    ----------
    .. [mallopt] mallopt(3), Linux man-pages: ``M_MMAP_THRESHOLD``, ``M_TRIM_THRESHOLD``.
    .. [DaskTrim] Dask distributed, "Worker memory management: automatically trim memory".
    """
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 * 2**20)) and bool(mallopt(m_trim_threshold, 64 * 2**20))


class DaskExecutor(Executor):
    """Items as tasks on a ``dask.distributed`` cluster.

    Parameters
    ----------
    client : distributed.Client
    tune_workers : bool, default True
        Run :func:`tune_malloc_for_arrays` on the cluster's current workers, so that
        index kernels run there as fast as in a plain process. Pass False to leave a
        shared cluster's workers exactly as they are.
    """

    serial = False

    def __init__(self, client: Any, *, tune_workers: bool = True):
        self.client = client
        if tune_workers:
            client.run(tune_malloc_for_arrays)

    def share(self, obj: Any) -> Any:
        return self.client.scatter(obj, broadcast=True, hash=False)

    def map_unordered(self, fn: Callable[..., Any], items: Sequence[Any], **kwargs: Any
                      ) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        if not items:
            return
        futures = self.client.map(fn, list(items), pure=False, **kwargs)
        where = {f.key: i for i, f in enumerate(futures)}
        for fut, res in as_completed(futures, with_results=True):
            yield where[fut.key], res

    @property
    def n_workers(self) -> int:
        return max(1, len(self.client.scheduler_info(n_workers=-1).get("workers", {})))


def _require_distributed() -> Any:
    try:
        import distributed
    except ModuleNotFoundError as exc:
        raise MissingExtra("dask", "running on a Dask cluster", str(exc)) from None
    return distributed


@contextlib.contextmanager
def executor_for(scheduler: Any = None) -> Iterator[Executor]:
    """An executor for what the user asked for; closes what it opened.

    Parameters
    ----------
    scheduler : None, str, distributed.Client or Executor
        ``None``: this process. ``"local"`` or ``"local:N"``: a local cluster of N worker
        processes (default: the number of cores), one thread each, started here and shut
        down afterwards. Any other string: the address of a running Dask scheduler
        (e.g. ``"tcp://10.0.0.5:8786"``). A ``distributed.Client``: used as it is.
    """
    if scheduler is None:
        yield SerialExecutor()
        return
    if isinstance(scheduler, Executor):
        yield scheduler
        return
    distributed = _require_distributed()
    if isinstance(scheduler, distributed.Client):
        yield DaskExecutor(scheduler)
        return
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise HumsecError(f"scheduler: expected 'local', 'local:N' or a Dask scheduler address, got {scheduler!r}")
    s = scheduler.strip()
    if s == "local" or s.startswith("local:"):
        n = os.cpu_count() or 1
        if s.startswith("local:"):
            try:
                n = int(s.split(":", 1)[1])
            except ValueError:
                raise HumsecError(f"scheduler '{s}': expected local:N with N a whole number of workers") from None
            if n < 1:
                raise HumsecError(f"scheduler '{s}': expected at least 1 worker")
        with distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                      dashboard_address=":0", silence_logs=40) as cluster, \
                distributed.Client(cluster) as client:
            yield DaskExecutor(client)
        return
    try:
        client = distributed.Client(s, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise HumsecError(f"cannot reach the Dask scheduler at '{s}': {exc}") from None
    try:
        yield DaskExecutor(client)
    finally:
        client.close()

