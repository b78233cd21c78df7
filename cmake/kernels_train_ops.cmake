# float32 training operators and integer-model helpers
# (generators/train_ops_generators.cpp, schedules/{x86,arm}/train_ops_*.h; the
# formulas are in docs/training-ops.md). All strict_float: elementwise results
# are bit-exact with tests/reference/train_ops_ref.h on every x86 and AArch64 variant, and
# quantize / requantize follow the numerics contract (docs/numerics.md) bit for bit.
#
#  library                       generator                      params / features
qforge_kernel(qf_column_sum            GENERATOR column_sum              FEATURES strict_float)
qforge_kernel(qf_channel_affine        GENERATOR channel_affine          FEATURES strict_float)
qforge_kernel(qf_channel_affine_bwd    GENERATOR channel_affine_backward FEATURES strict_float)
qforge_kernel(qf_batch_norm_train      GENERATOR batch_norm_train        FEATURES strict_float)
qforge_kernel(qf_batch_norm_eval       GENERATOR batch_norm_eval         FEATURES strict_float)
qforge_kernel(qf_batch_norm_bwd        GENERATOR batch_norm_backward     FEATURES strict_float)
qforge_kernel(qf_relu                  GENERATOR relu                    FEATURES strict_float)
qforge_kernel(qf_relu_bwd              GENERATOR relu_backward           FEATURES strict_float)
qforge_kernel(qf_max_pool2x2           GENERATOR max_pool2x2             FEATURES strict_float)
qforge_kernel(qf_max_pool2x2_bwd       GENERATOR max_pool2x2_backward    FEATURES strict_float)
qforge_kernel(qf_max_pool2x2_u8        GENERATOR max_pool2x2_u8)
qforge_kernel(qf_max_pool2x2_s8        GENERATOR max_pool2x2_s8)
qforge_kernel(qf_softmax_xent          GENERATOR softmax_cross_entropy   FEATURES strict_float)
qforge_kernel(qf_sgd_momentum          GENERATOR sgd_momentum            FEATURES strict_float)
qforge_kernel(qf_adam                  GENERATOR adam                    FEATURES strict_float)
qforge_kernel(qf_quantize_u8           GENERATOR quantize_u8             FEATURES strict_float)
qforge_kernel(qf_quantize_s8           GENERATOR quantize_s8             FEATURES strict_float)
qforge_kernel(qf_dequantize_u8         GENERATOR dequantize_u8           FEATURES strict_float)
qforge_kernel(qf_dequantize_s8         GENERATOR dequantize_s8           FEATURES strict_float)
qforge_kernel(qf_requantize_u8         GENERATOR requantize_u8           FEATURES strict_float)
qforge_kernel(qf_requantize_s8         GENERATOR requantize_s8           FEATURES strict_float)
