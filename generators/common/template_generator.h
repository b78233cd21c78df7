// Templated Halide generators (one class, several output kinds) must name
// their base's dependent members before using them; this names them once.
#pragma once

#include "Halide.h"

// Inside `class Self : public Halide::Generator<Self>` where Self is a template.
#define QF_TEMPLATE_GENERATOR(Self)                                                                         \
    template<typename T> using Input = typename Halide::Generator<Self>::template Input<T>;                \
    template<typename T> using Output = typename Halide::Generator<Self>::template Output<T>;              \
    template<typename T> using GeneratorParam = typename Halide::Generator<Self>::template GeneratorParam<T>; \
    using Halide::Generator<Self>::get_target
