#include "convert.h"

namespace qforge::train {

IntegerModel to_integer_model(Network &net) {
    std::vector<IntegerStage> stages;
    for (size_t i = 0; i < net.spec().stages.size(); i++) stages.push_back(net.fold(static_cast<int>(i)));
    return IntegerModel(net.spec(), std::move(stages));
}

}  // namespace qforge::train
