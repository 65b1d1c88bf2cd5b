"""medreason: a data-versioned pipeline that reproduces and extends HuatuoGPT-o1.

Importing the package pins the CPU kernels torch, MKL and oneDNN use to their AVX2 versions, so that the same
inputs give the same bits on any x86 CPU with AVX2 (with the same thread count): the default run's sampled texts,
loglik answers and fine-tuned weights then do not depend on whether the machine has AVX-512 or AMX. It has to
happen before torch runs its first operation. ``MEDREASON_CPU_KERNELS=native`` leaves the machine's fastest kernels
(and CPU-dependent results); a variable already set wins. GPUs are not affected.
"""

import os

if os.environ.get("MEDREASON_CPU_KERNELS", "avx2") != "native":
    for _name, _value in (("ATEN_CPU_CAPABILITY", "avx2"), ("MKL_CBWR", "AVX2"), ("ONEDNN_MAX_CPU_ISA", "AVX2")):
        os.environ.setdefault(_name, _value)
