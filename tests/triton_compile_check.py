"""Compile both Sinkhorn kernels for an H100 (sm_90) down to a cubin, with no GPU: the backend's type checks
and lowering (float64 potentials, runtime loops and branches, barriers) that the interpreter does not run.
Run by tests/test_sinkhorn_triton.py in a subprocess (fresh Triton cache)."""

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from msinet.layers import sinkhorn_triton as st

WIDE = {"u_ptr", "v_ptr", "c_ptr"}  # float64: potentials and the constant log 1/2W

for kernel in (st._forward_kernel, st._backward_kernel):
    signature = {
        name: ("*fp64" if name in WIDE else "*fp32") if name.endswith("_ptr") else "i32" for name in kernel.arg_names
    }
    signature.update(BLOCK_R="constexpr", BLOCK_C="constexpr")
    block_r, block_c = st.tile(310)
    compiled = triton.compile(
        ASTSource(fn=kernel, signature=signature, constexprs={"BLOCK_R": block_r, "BLOCK_C": block_c}),
        target=GPUTarget("cuda", 90, 32),
        options={"num_warps": st.NUM_WARPS},
    )
    assert len(compiled.asm["cubin"]) > 0, kernel.__name__
    print(kernel.__name__, "cubin", len(compiled.asm["cubin"]), "bytes")
