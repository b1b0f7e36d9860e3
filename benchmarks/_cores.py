"""Run a benchmark on one core, so that ours / peer ratios compare like with like.

Our Paillier code splits its big-integer loops over ``workers`` threads (default: the usable
CPUs, at most 2, read from the process's CPU affinity; see ``secagg/paillier/_parallel.py``);
``phe`` is single-threaded. Pinning the process to one CPU makes our default ``workers`` 1
and stops any other thread from running in parallel; the BLAS/OpenMP thread variables are
set to 1 too (our Paillier code makes no BLAS calls, numpy does only element-wise work). With
the process pinned, process CPU time (``time.process_time``) equals one core's time, for
both libraries alike.
"""

from __future__ import annotations

import os
import threading
from typing import Any

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Progress bars off: they must not cost anything in a timing.
os.environ["FEDCRYPT_PROGRESS"] = "0"


def single_core() -> dict[str, Any]:
    """Pin this process to one CPU (``FEDCRYPT_BENCH_CPU``, default the first allowed).

    Returns a description of the setup for the report.
    """
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"  # numpy is already imported: recorded, effective in children
    allowed = sorted(os.sched_getaffinity(0))
    chosen = int(os.environ.get("FEDCRYPT_BENCH_CPU", allowed[0]))  # pick one CPU by number
    os.sched_setaffinity(0, {chosen})
    return describe()


def restore(cpus: set[int]) -> None:
    """Give the process the CPUs ``cpus`` again (for a deliberate multi-thread measurement)."""
    os.sched_setaffinity(0, cpus)


def describe() -> dict[str, Any]:
    """The CPUs this process may use, our default worker count and live Python threads."""
    from secagg.paillier._parallel import default_workers

    return {
        "cpus_allowed": sorted(os.sched_getaffinity(0)),
        "machine_cpus": os.cpu_count(),
        "our_default_workers": default_workers(),
        "python_threads_alive": threading.active_count(),
        "blas_thread_variables": {name: os.environ.get(name) for name in _THREAD_VARIABLES},
        "load_average_1min": os.getloadavg()[0],
    }
