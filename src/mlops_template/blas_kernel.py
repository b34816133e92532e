"""One BLAS kernel on every x86-64 machine, so that the same commit, data and params give
the same model file wherever they run (a fresh clone's first `make run` remakes the
committed dvc.lock byte for byte).

OpenBLAS, numpy's and scipy's BLAS, chooses its kernels by the CPU when it loads: a linear
model fitted with the AVX-512 kernels (SkylakeX) and one fitted with the AVX2 ones
(Haswell) differ in the last bits of their coefficients. The Haswell kernels run on every
x86-64 CPU with AVX2 and FMA (Intel's since 2013, AMD's since 2015), so they are the ones
asked for there; on other CPUs, or where OPENBLAS_CORETYPE is set already, nothing changes.
It must be set before numpy loads: the package's __init__ calls `pin()`, and the processes
started from here (stages, servers) inherit it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, MutableMapping

ENV = "OPENBLAS_CORETYPE"
KERNEL = "Haswell"
NEEDS = {"avx2", "fma"}  # the instructions the Haswell kernels use beyond x86-64's base


def kernel_for(machine: str, cpuinfo: Iterable[str]) -> str | None:
    """The kernel to ask for on this machine (`uname -m`, /proc/cpuinfo's lines), if any.
    Reads the lines up to the first processor's flags only: on a machine of many cores
    the kernel makes the whole file slowly, and every process pays for it here."""
    if machine != "x86_64":
        return None
    for line in cpuinfo:
        if line.startswith("flags"):
            return KERNEL if NEEDS.issubset(line.partition(":")[2].split()) else None
    return None


def pin(environ: MutableMapping[str, str] = os.environ) -> None:
    if ENV in environ or not hasattr(os, "uname"):
        return
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            kernel = kernel_for(os.uname().machine, cpuinfo)
    except OSError:  # not Linux: the kernel OpenBLAS chooses
        return
    if kernel:
        environ[ENV] = kernel
