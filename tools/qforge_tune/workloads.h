// The operators qforge-tune can tune: their generator, the runtime slot a
// candidate stands in for, the schedule parameters searched and one shape's
// workload (inputs, the plain C++ reference, a call through the public API).
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace qforge::tune {

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One shape of one operator. prepare() runs in the tuner's parent process and
// must not run a Halide kernel (candidates run in forked children, and a
// Halide thread pool does not survive fork); setup(), run() and check() run in
// the child, after the CPU variant is fixed.
class Workload {
public:
    virtual ~Workload() = default;
    virtual void prepare() = 0;        // inputs and the reference output (plain C++)
    virtual void setup() = 0;          // e.g. weight packing (runs kernels)
    virtual void run() = 0;            // one call of the operator
    virtual std::string check() = 0;   // after run(): "" if the output matches the reference, else the first mismatch
    virtual void corrupt() = 0;        // testing: change one output element (check() must then fail)
    std::string shape;                 // as the user wrote it
    std::string shape_class;           // qforge/tuning.h
    double work = 0;                   // operations (GEMM, conv: 2 MACs) or bytes moved, per call
    const char *work_unit = "GOPS";    // how work / time is reported: "GOPS" or "GB/s"
};

// A schedule parameter's candidate values (strings as GeneratorParams take them).
struct ParamDomain {
    std::string name;
    std::vector<std::string> values;
};

struct TuneOperator {
    std::string name;                           // qforge-tune --op
    std::string generator;                      // the Halide generator (its name keys the database)
    std::map<std::string, std::string> fixed;   // algorithm parameters (e.g. requant_type)
    std::vector<std::string> features;          // target features the build adds (strict_float)
    std::string shape_syntax;                   // for --help and errors
    std::string example_shapes;
    bool exact = true;                          // integer outputs: bit-exact check
    std::string (*slot)(const std::string &shape_class);
    // The parameters the build's default library uses for this class
    // (cmake/kernels.cmake), then the search space for a class on a target family.
    std::map<std::string, std::string> (*base_params)(const std::string &shape_class);
    std::vector<ParamDomain> (*space)(const std::string &shape_class, bool arm);
    // int32_lanes: int32 lanes per vector of the target's int8 kernels (the
    // runtime's panel choice for the rows conv depends on it).
    std::unique_ptr<Workload> (*parse)(const std::string &shape, int int32_lanes);
};

const std::vector<TuneOperator> &operators();
const TuneOperator &find_operator(const std::string &name);  // throws UsageError naming the known ones

}  // namespace qforge::tune
