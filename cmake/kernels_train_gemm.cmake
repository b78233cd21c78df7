# float32 training GEMM and convolution helpers (generators/train_gemm_generators.cpp,
# schedules/{x86,arm}/train_gemm_*.h; runtime/src/train_gemm.cpp).
#
# sgemm: op(A) read row-major (a_transposed=false) or from A^T (true); each in
# the register-tiled form (whole row tiles) and 4-row and one-row forms
# (tile_m=4, tile_m=1) the runtime runs on the last M mod tile_m rows. The probe reports the
# dispatched variant's panel width and tile rows.
qforge_kernel(qf_sgemm_layout_probe  GENERATOR sgemm_layout_probe)
qforge_kernel(qf_sgemm_nn            GENERATOR sgemm_f32 ASSEMBLY PARAMS a_transposed=false)
qforge_kernel(qf_sgemm_tn            GENERATOR sgemm_f32 PARAMS a_transposed=true)
qforge_kernel(qf_sgemm_nn_m4         GENERATOR sgemm_f32 PARAMS a_transposed=false tile_m=4)
qforge_kernel(qf_sgemm_tn_m4         GENERATOR sgemm_f32 PARAMS a_transposed=true tile_m=4)
qforge_kernel(qf_sgemm_nn_row        GENERATOR sgemm_f32 PARAMS a_transposed=false tile_m=1)
qforge_kernel(qf_sgemm_tn_row        GENERATOR sgemm_f32 PARAMS a_transposed=true tile_m=1)
# Copies with zero padding: B (op(B) row-major, padded to whole panels) and transposes.
qforge_kernel(qf_pack_f32            GENERATOR pack_f32 PARAMS transpose=false)
qforge_kernel(qf_pack_f32_t          GENERATOR pack_f32 PARAMS transpose=true)
# Convolution: im2col (forward, weight gradient) and the col2im gather (input gradient).
qforge_kernel(qf_im2col_f32          GENERATOR im2col_f32)
qforge_kernel(qf_col2im_f32          GENERATOR col2im_f32)
# Implicit-GEMM convolutions (no column matrix): the direct conv (forward, and
# the stride-1 input gradient with flipped weights) with 1- and 2-vector
# output-channel panels; the weight gradient with 1- and 2-vector panels and
# a variant for short kernel rows (C = 1); the probe reports the dispatched
# variant's float lanes and direct-conv tile rows.
qforge_kernel(qf_conv_f32_layout_probe GENERATOR conv_f32_layout_probe)
qforge_kernel(qf_direct_conv_f32_p1  GENERATOR direct_conv_f32 PARAMS panel_vectors=1)
qforge_kernel(qf_direct_conv_f32_p2  GENERATOR direct_conv_f32 ASSEMBLY PARAMS panel_vectors=2)
qforge_kernel(qf_conv_wgrad_f32_p1   GENERATOR conv_wgrad_f32 PARAMS panel_vectors=1)
qforge_kernel(qf_conv_wgrad_f32_p2   GENERATOR conv_wgrad_f32 ASSEMBLY PARAMS panel_vectors=2)
qforge_kernel(qf_conv_wgrad_f32_p1s  GENERATOR conv_wgrad_f32 PARAMS panel_vectors=1 short_rows=true)
