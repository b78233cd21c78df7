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
