# The table of kernel instantiations: which generator, with which parameters,
# becomes which AOT library. Every library is built for all x86 variants in
# QforgeTargets.cmake. The float32 quantization kernels are strict_float:
# bit-exactness with the reference needs IEEE semantics (docs/numerics.md).
#
# TUNING <operator> CLASSES <class>...: a slot that entries of the tuned
# schedule database (schedules/tuned/<target>.json) for that operator and
# class replace on their target (cmake/QforgeTuned.cmake). The tuner times one
# generator per operator (the GEMM and convs with u8 output); the other output
# kinds share its loop structure (only the output stage differs), so its entry
# applies to all four kinds' slots (and to the fake quants' mask variants).
#
#  library                      generator                      params / features
qforge_kernel(qf_cpu_variant_probe   GENERATOR cpu_variant_probe)
qforge_kernel(qf_fake_quant_pt       GENERATOR fake_quant_per_tensor        FEATURES strict_float
              TUNING fake_quant_per_tensor CLASSES small default)
qforge_kernel(qf_fake_quant_pt_mask  GENERATOR fake_quant_per_tensor_mask   FEATURES strict_float
              TUNING fake_quant_per_tensor CLASSES small default)
qforge_kernel(qf_fake_quant_pc       GENERATOR fake_quant_per_channel       FEATURES strict_float
              TUNING fake_quant_per_channel CLASSES small default)
qforge_kernel(qf_fake_quant_pc_mask  GENERATOR fake_quant_per_channel_mask  FEATURES strict_float
              TUNING fake_quant_per_channel CLASSES small default)
qforge_kernel(qf_ste_backward        GENERATOR ste_backward                 FEATURES strict_float)
qforge_kernel(qf_lsq_backward_pt     GENERATOR lsq_backward_per_tensor      FEATURES strict_float
              TUNING lsq_backward_per_tensor CLASSES small default)
qforge_kernel(qf_lsq_backward_pc     GENERATOR lsq_backward_per_channel     FEATURES strict_float
              TUNING lsq_backward_per_channel CLASSES small default)
qforge_kernel(qf_stream_copy         GENERATOR stream_copy)

# int8 GEMM. Weight packing, and the GEMM per output kind in two tilings the
# runtime picks by M: *_gemv for M <= 4 (one-row register tiles: batch-1
# inference) and the register-tiled kernel. (K blocking with accumulators in
# L2 measured no faster once weights were packed panel-major: 1024^3 538 vs
# 592 GOPS, 2048^3 539 vs 548; it was removed.) The layout probe tells the
# runtime the packed layout and row tile of the dispatched variant.
qforge_kernel(qf_gemm_layout_probe   GENERATOR gemm_layout_probe)
qforge_kernel(qf_pack_gemm_weights   GENERATOR pack_gemm_weights)
foreach (kind s32 u8 s8 f32)
  set(params)
  set(extra)
  if (kind STREQUAL "s32")
    set(gen gemm_int8_s32)
    set(extra ASSEMBLY)  # tests read its assembly (the VNNI variant must use zmm vpdpbusd)
  elseif (kind STREQUAL "f32")
    set(gen gemm_int8_f32)
  elseif (kind STREQUAL "u8")
    set(gen gemm_int8_requant)
    set(params requant_type=uint8)
  else ()
    set(gen gemm_int8_requant)
    set(params requant_type=int8)
  endif ()
  qforge_kernel(qf_gemm_${kind}        GENERATOR ${gen} ${extra} PARAMS ${params} tile_m=0
                TUNING gemm_int8_requant CLASSES small_m default)
  qforge_kernel(qf_gemm_${kind}_gemv   GENERATOR ${gen} PARAMS ${params} tile_m=1
                TUNING gemm_int8_requant CLASSES gemv)
endforeach ()

# int8 convolution: im2col feeding the GEMM above (general and grouped convs),
# and a direct depthwise kernel per output kind.
qforge_kernel(qf_im2col              GENERATOR im2col_int8)
qforge_kernel(qf_dwconv_s32          GENERATOR depthwise_conv_int8_s32
              TUNING depthwise_conv_int8_requant CLASSES default)
qforge_kernel(qf_dwconv_u8           GENERATOR depthwise_conv_int8_requant PARAMS requant_type=uint8
              TUNING depthwise_conv_int8_requant CLASSES default)
qforge_kernel(qf_dwconv_s8           GENERATOR depthwise_conv_int8_requant PARAMS requant_type=int8
              TUNING depthwise_conv_int8_requant CLASSES default)
qforge_kernel(qf_dwconv_f32          GENERATOR depthwise_conv_int8_f32
              TUNING depthwise_conv_int8_requant CLASSES default)
# Direct (implicit-GEMM) conv for ungrouped convs with C_in % 4 == 0: no im2col
# pass. Its k loop runs over channel groups of one tap (16 for C_in = 64):
# unrolling 2 measured best on the bench's convs (4: 56x56x64 slower).
# Register tiles of 3 pixels x 2 output rows (tile_oy=2) instead of 6 x 1
# pixels: less padding work at the end of narrow rows, and row pairs of all
# images as parallel tasks (Zen 4, bench_conv vs oneDNN at 1 / 2 threads:
# 8x14x14x256 3x3 0.75 / 0.72 -> 0.91 / 0.92; 56x56x64 0.92 / 0.85 -> 0.96 / 0.91;
# 28x28x128 0.91 / 0.82 -> 0.92 / 0.88). 7 x 1 tiles spilled (0.58-0.70).
qforge_kernel(qf_dconv_s32           GENERATOR direct_conv_int8_s32     ASSEMBLY PARAMS k_unroll=2 tile_oy=2
              TUNING direct_conv_int8_requant CLASSES narrow default)
qforge_kernel(qf_dconv_u8            GENERATOR direct_conv_int8_requant PARAMS requant_type=uint8 k_unroll=2 tile_oy=2
              TUNING direct_conv_int8_requant CLASSES narrow default)
qforge_kernel(qf_dconv_s8            GENERATOR direct_conv_int8_requant PARAMS requant_type=int8 k_unroll=2 tile_oy=2
              TUNING direct_conv_int8_requant CLASSES narrow default)
qforge_kernel(qf_dconv_f32           GENERATOR direct_conv_int8_f32     PARAMS k_unroll=2 tile_oy=2
              TUNING direct_conv_int8_requant CLASSES narrow default)
# Direct conv over flattened input rows (any C_in, dilation_w = 1), in three
# panel widths the runtime picks by C_out: 1, 2 or 4 int32 vectors
# (qf_rconv<v>_<kind>): C_in = 1 or 3 convs skip im2col, and C_out = 16 or 32
# computes no padded columns.
# Each panel width is its own tuning class (pv1, pv2, pv4: qforge/tuning.h).
foreach (pv 1 2 4)
  set(tuning TUNING direct_conv_rows_int8_requant CLASSES pv${pv})
  qforge_kernel(qf_rconv${pv}_s32    GENERATOR direct_conv_rows_int8_s32     PARAMS panel_vectors=${pv} ${tuning})
  qforge_kernel(qf_rconv${pv}_u8     GENERATOR direct_conv_rows_int8_requant PARAMS requant_type=uint8 panel_vectors=${pv}
                ${tuning})
  qforge_kernel(qf_rconv${pv}_s8     GENERATOR direct_conv_rows_int8_requant PARAMS requant_type=int8 panel_vectors=${pv}
                ${tuning})
  qforge_kernel(qf_rconv${pv}_f32    GENERATOR direct_conv_rows_int8_f32     PARAMS panel_vectors=${pv} ${tuning})
endforeach ()

# float32 training kernels: GEMM and convolution (kernels_train_gemm.cmake),
# batch norm, ReLU, pooling, loss, optimizers and integer-model helpers
# (kernels_train_ops.cmake).
include(kernels_train_gemm)
include(kernels_train_ops)
