"""medreason: a data-versioned pipeline that reproduces and extends HuatuoGPT-o1.

Importing the package pins the CPU kernels torch, MKL and oneDNN use to their AVX2 versions, so that the same
inputs give the same bits on any x86 CPU with AVX2 (with the same thread count): the default run's sampled texts,
loglik answers and fine-tuned weights then do not depend on whether the machine has AVX-512 or AMX. It has to
happen before torch runs its first operation; a variable already set wins (``ATEN_CPU_CAPABILITY=default`` gives
back the fastest kernels, and with them CPU-dependent results). GPUs are not affected.
"""

import os

for _name, _value in (("ATEN_CPU_CAPABILITY", "avx2"), ("MKL_CBWR", "AVX2"), ("ONEDNN_MAX_CPU_ISA", "AVX2")):
    os.environ.setdefault(_name, _value)
