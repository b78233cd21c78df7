// Everything an app needs from the qforge runtime.
#pragma once

#include "qforge/device.h"
#include "qforge/dispatch.h"
#include "qforge/error.h"
#include "qforge/conv.h"
#include "qforge/gemm.h"
#include "qforge/idx.h"
#include "qforge/int_model.h"
#include "qforge/model_file.h"
#include "qforge/model_spec.h"
#include "qforge/observers.h"
#include "qforge/ops.h"
#include "qforge/quant_params.h"
#include "qforge/tensor.h"
#include "qforge/train_gemm.h"
#include "qforge/train_ops.h"
