// Conversion of a trained, quantized Network into the runtime's integer model
// (qforge/int_model.h): every stage folded (Network::fold: BN folded, weights
// quantized per channel, int32 biases, requantize multipliers), then
// validated and packed for the int8 kernels.
#pragma once

#include "network.h"
#include "qforge/int_model.h"

namespace qforge::train {

IntegerModel to_integer_model(Network &net);

}  // namespace qforge::train
