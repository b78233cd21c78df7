// Network descriptions: a small line-oriented text format (docs/qforge-train.md,
// "Model description files") that qforge-train trains from and every integer
// model file carries, and qforge-train's default network.
//
//   input 28 28 1                 # H W C of one example
//   conv conv1 out=16 kernel=5 pad=2 [stride=1] [dilation=1] [groups=1]
//   dwconv dw1 kernel=3 pad=1     # depthwise: groups = out = in channels
//   bn
//   relu
//   maxpool                       # 2x2, stride 2
//   flatten
//   linear fc1 out=128
//
// A conv may be followed by bn; a conv or linear by relu; then any maxpools
// (and a flatten before the first linear). The last layer must be a linear:
// its outputs are the logits.
#pragma once

#include <string>
#include <vector>

#include "qforge/conv.h"

namespace qforge {

enum class LayerKind { conv, linear };

// One weight layer with what follows it, as QAT and the integer model see it:
// conv/linear [+ bn] [+ relu] [+ maxpool...]. Shapes are per example.
struct StageSpec {
    std::string name;
    LayerKind kind = LayerKind::conv;
    int in_h = 1, in_w = 1, in_c = 1;  // input (a linear's input is flattened: in_c features)
    int out_c = 0;
    int kernel_h = 1, kernel_w = 1;
    Conv2dGeometry geometry;
    int out_h = 1, out_w = 1;  // after the conv, before pooling
    bool batch_norm = false, relu = false;
    int pools = 0;  // 2x2 max pools after the activation
    int pooled_h() const;
    int pooled_w() const;
    int64_t in_features() const { return int64_t(in_h) * in_w * in_c; }
    int64_t out_features() const { return int64_t(pooled_h()) * pooled_w() * out_c; }
    int64_t weight_fan_in() const { return int64_t(kernel_h) * kernel_w * (in_c / geometry.groups); }
};

struct ModelSpec {
    int in_h = 28, in_w = 28, in_c = 1;
    std::vector<StageSpec> stages;
    std::string text;  // the description it was parsed from
    int num_classes() const { return stages.empty() ? 0 : stages.back().out_c; }
};

// Parses a description; throws qforge::InvalidArgument naming `origin`, the
// line and the problem.
ModelSpec parse_model_spec(const std::string &text, const std::string &origin);
ModelSpec load_model_spec(const std::string &path);  // FileError when unreadable

// The default network: conv(1->16,5x5,pad 2)-BN-ReLU-maxpool -> conv(16->32,5x5,pad 2)-BN-ReLU-maxpool
// -> flatten -> linear(1568->128)-ReLU -> linear(128->10).
const char *default_model_text();

}  // namespace qforge
