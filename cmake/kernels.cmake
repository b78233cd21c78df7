# The table of kernel instantiations: which generator, with which parameters,
# becomes which AOT library. Every library is built for all x86 variants in
# QforgeTargets.cmake. The float32 quantization kernels are strict_float:
# bit-exactness with the reference needs IEEE semantics (docs/numerics.md).
#
#  library                      generator                      params / features
qforge_kernel(qf_cpu_variant_probe   GENERATOR cpu_variant_probe)
qforge_kernel(qf_fake_quant_pt       GENERATOR fake_quant_per_tensor        FEATURES strict_float)
qforge_kernel(qf_fake_quant_pt_mask  GENERATOR fake_quant_per_tensor_mask   FEATURES strict_float)
qforge_kernel(qf_fake_quant_pc       GENERATOR fake_quant_per_channel       FEATURES strict_float)
qforge_kernel(qf_fake_quant_pc_mask  GENERATOR fake_quant_per_channel_mask  FEATURES strict_float)
qforge_kernel(qf_ste_backward        GENERATOR ste_backward                 FEATURES strict_float)
qforge_kernel(qf_lsq_backward_pt     GENERATOR lsq_backward_per_tensor      FEATURES strict_float)
qforge_kernel(qf_lsq_backward_pc     GENERATOR lsq_backward_per_channel     FEATURES strict_float)
qforge_kernel(qf_stream_copy         GENERATOR stream_copy)

# int8 GEMM (issue: int8 GEMM and conv2d). Weight packing, and the GEMM per
# output kind; *_gemv are the same algorithms tiled for one row (M < 6: batch-1
# inference), which the runtime picks by M.
qforge_kernel(qf_pack_gemm_weights   GENERATOR pack_gemm_weights)
qforge_kernel(qf_gemm_s32            GENERATOR gemm_int8_s32      ASSEMBLY)
qforge_kernel(qf_gemm_u8             GENERATOR gemm_int8_requant  PARAMS requant_type=uint8)
qforge_kernel(qf_gemm_s8             GENERATOR gemm_int8_requant  PARAMS requant_type=int8)
qforge_kernel(qf_gemm_f32            GENERATOR gemm_int8_f32)
qforge_kernel(qf_gemm_s32_gemv       GENERATOR gemm_int8_s32      PARAMS tile_m=1)
qforge_kernel(qf_gemm_u8_gemv        GENERATOR gemm_int8_requant  PARAMS requant_type=uint8 tile_m=1)
qforge_kernel(qf_gemm_s8_gemv        GENERATOR gemm_int8_requant  PARAMS requant_type=int8 tile_m=1)
qforge_kernel(qf_gemm_f32_gemv       GENERATOR gemm_int8_f32      PARAMS tile_m=1)
