"""The BLAS kernel pinned so that a model's bytes do not depend on the CPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_template.blas_kernel import ENV, kernel_for

SKYLAKE = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f\n\nprocessor\t: 1\nflags\t: fpu"


@pytest.mark.parametrize(
    ("machine", "cpuinfo", "kernel"),
    [
        ("x86_64", SKYLAKE, "Haswell"),
        ("x86_64", "flags\t: fpu sse2 avx avx2\n", None),  # no FMA: OpenBLAS's own choice
        ("x86_64", "flags\t: fpu sse2 avx fma\n", None),
        ("x86_64", "processor\t: 0\n", None),
        ("aarch64", "Features\t: fp asimd\nflags\t: avx2 fma\n", None),
    ],
)
def test_the_haswell_kernels_where_the_cpu_runs_them(machine, cpuinfo, kernel):
    assert kernel_for(machine, cpuinfo.splitlines()) == kernel


def _blas_in_a_new_process(env: dict[str, str]) -> dict[str, str]:
    script = (
        "import mlops_template, json, numpy, os, threadpoolctl\n"
        "blas = [i for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']\n"
        f"print(json.dumps({{'env': os.environ.get('{ENV}'), 'kernel': blas[0]['architecture']}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_the_package_pins_the_kernel_before_numpy_loads_and_keeps_a_users_choice():
    env = {k: v for k, v in os.environ.items() if k != ENV}
    expected = kernel_for(os.uname().machine, Path("/proc/cpuinfo").read_text().splitlines())
    if expected is None:
        pytest.skip("this CPU runs no pinned kernel")
    assert _blas_in_a_new_process(env) == {"env": expected, "kernel": expected}
    assert _blas_in_a_new_process({**env, ENV: "Sandybridge"}) == {
        "env": "Sandybridge",
        "kernel": "Sandybridge",
    }
