// qforge-gen: the compiler front end (docs/qforge-gen.md).
//
//   qforge-gen --op <operator> --target <Halide target> --out DIR [--param k=v ...]
//              [--emit asm,stmt,...] [--name LIB]
//   qforge-gen --list
//
// It holds every qforge generator (the sources qforge_gen is built from) and
// drives them through Halide 14's generator API: the parent process validates
// everything it can (operator, parameters and their values, target string,
// output directory), then a forked child runs Halide's generate_filter_main
// into a private temporary directory, so that neither a CompileError nor an
// abort inside Halide or LLVM can take qforge-gen down without a clear
// message. Files reach DIR by rename only once all of them exist, the
// manifest last.

#include "Halide.h"
#include "qforge_tune/schedule_db.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef QFORGE_VERSION
#define QFORGE_VERSION "unknown"
#endif
#ifndef QFORGE_HALIDE_VERSION
#define QFORGE_HALIDE_VERSION "14"
#endif

namespace fs = std::filesystem;
using Halide::Internal::GeneratorBase;
using Halide::Internal::GeneratorParamBase;
using Halide::Internal::GeneratorParamInfo;
using Halide::Internal::GeneratorRegistry;

// ---- access to Halide 14's generator introspection ---------------------------------------
// Halide 14 keeps a generator's parameter list (param_info()) private and
// refuses to read a GeneratorParam before configure(). Explicit template
// instantiation may name private members, so these tags hand out pointers to
// the list, to each parameter's kind, and to its stored value.
namespace {
template<typename Tag, typename Tag::type M>
struct Expose {
    friend typename Tag::type get(Tag) { return M; }
};
struct ParamInfoTag {
    using type = GeneratorParamInfo &(GeneratorBase::*)();
    friend type get(ParamInfoTag);
};
template struct Expose<ParamInfoTag, &GeneratorBase::param_info>;
struct SyntheticTag {
    using type = bool (GeneratorParamBase::*)() const;
    friend type get(SyntheticTag);
};
template struct Expose<SyntheticTag, &GeneratorParamBase::is_synthetic_param>;
struct CTypeTag {
    using type = std::string (GeneratorParamBase::*)() const;
    friend type get(CTypeTag);
};
template struct Expose<CTypeTag, &GeneratorParamBase::get_c_type>;
struct DefaultTag {
    using type = std::string (GeneratorParamBase::*)() const;
    friend type get(DefaultTag);
};
template struct Expose<DefaultTag, &GeneratorParamBase::get_default_value>;

#pragma GCC diagnostic ignored "-Wnon-template-friend"
template<typename T>
struct ValueTag {
    using type = T Halide::Internal::GeneratorParamImpl<T>::*;
    friend type get(ValueTag);
};
#define QF_EXPOSE_VALUE(T) template struct Expose<ValueTag<T>, &Halide::Internal::GeneratorParamImpl<T>::value_>;
QF_EXPOSE_VALUE(bool)
QF_EXPOSE_VALUE(int8_t)
QF_EXPOSE_VALUE(int16_t)
QF_EXPOSE_VALUE(int32_t)
QF_EXPOSE_VALUE(int64_t)
QF_EXPOSE_VALUE(uint8_t)
QF_EXPOSE_VALUE(uint16_t)
QF_EXPOSE_VALUE(uint32_t)
QF_EXPOSE_VALUE(uint64_t)
QF_EXPOSE_VALUE(float)
QF_EXPOSE_VALUE(double)
QF_EXPOSE_VALUE(Halide::Type)
QF_EXPOSE_VALUE(std::string)
#undef QF_EXPOSE_VALUE

// ---- operators ---------------------------------------------------------------------------

struct ParamDesc {
    std::string name;
    std::string kind;   // int, bool, type, string, float, ...
    std::string value;  // as --param accepts it
};

// One-line descriptions of the registered generators.
const std::map<std::string, std::string> &descriptions() {
    static const std::map<std::string, std::string> d = {
        {"fake_quant_per_tensor", "float32 fake quantization, one scale/zero point (QAT forward)"},
        {"fake_quant_per_tensor_mask", "per-tensor fake quantization plus the STE pass-through mask"},
        {"fake_quant_per_channel", "float32 fake quantization, scale/zero point per channel"},
        {"fake_quant_per_channel_mask", "per-channel fake quantization plus the STE pass-through mask"},
        {"ste_backward", "straight-through-estimator backward: dx = dy inside the clamp range"},
        {"lsq_backward_per_tensor", "LSQ/LSQ+ backward: dx, dscale, dzero_point (per tensor)"},
        {"lsq_backward_per_channel", "LSQ/LSQ+ backward: dx, dscale, dzero_point (per channel)"},
        {"pack_gemm_weights", "pack int8 GEMM weights [N, K] into the schedule's panel layout"},
        {"gemm_layout_probe", "reports the packed GEMM layout {k group, panel width, row tile}"},
        {"gemm_int8_s32", "u8/s8 x packed s8 GEMM with int32 output"},
        {"gemm_int8_requant", "int8 GEMM requantized to u8 or s8 (requant_type)"},
        {"gemm_int8_f32", "int8 GEMM dequantized to float32"},
        {"im2col_int8", "NHWC int8 im2col feeding the int8 GEMM"},
        {"direct_conv_int8_s32", "direct (implicit-GEMM) int8 conv, int32 output"},
        {"direct_conv_int8_requant", "direct int8 conv requantized to u8/s8"},
        {"direct_conv_int8_f32", "direct int8 conv dequantized to float32"},
        {"direct_conv_rows_int8_s32", "int8 conv over flattened input rows (any C_in), int32 output"},
        {"direct_conv_rows_int8_requant", "int8 conv over input rows, requantized to u8/s8"},
        {"direct_conv_rows_int8_f32", "int8 conv over input rows, dequantized to float32"},
        {"depthwise_conv_int8_s32", "depthwise int8 conv, int32 output"},
        {"depthwise_conv_int8_requant", "depthwise int8 conv requantized to u8/s8"},
        {"depthwise_conv_int8_f32", "depthwise int8 conv dequantized to float32"},
        {"cpu_variant_probe", "reports which x86 variant the dispatcher chose"},
        {"stream_copy", "float32 streaming copy (memory bandwidth reference)"},
        {"sgemm_f32", "float32 GEMM with packed B, optional transposed A and bias"},
        {"sgemm_layout_probe", "reports the packed float32 GEMM layout"},
        {"pack_f32", "pack float32 GEMM operands into panels"},
        {"im2col_f32", "NHWC float32 im2col"},
        {"col2im_f32", "NHWC float32 col2im (conv input gradient)"},
        {"direct_conv_f32", "direct NHWC float32 convolution"},
        {"conv_wgrad_f32", "float32 convolution weight gradient"},
        {"conv_f32_layout_probe", "reports the float32 conv panel layout"},
        {"column_sum", "out(c) = sum over all other axes of x(c, m)"},
        {"channel_affine", "y = x * scale(c) + shift(c)"},
        {"channel_affine_backward", "dx, dscale, dshift of channel_affine"},
        {"batch_norm_train", "batch norm forward with batch statistics"},
        {"batch_norm_eval", "batch norm forward with running statistics"},
        {"batch_norm_backward", "batch norm backward: dx, dgamma, dbeta"},
        {"relu", "float32 ReLU"},
        {"relu_backward", "float32 ReLU backward"},
        {"max_pool2x2", "NHWC 2x2 stride-2 max pool with argmax"},
        {"max_pool2x2_backward", "max pool backward from dy and argmax"},
        {"max_pool2x2_u8", "integer-model 2x2 max pool, uint8"},
        {"max_pool2x2_s8", "integer-model 2x2 max pool, int8"},
        {"softmax_cross_entropy", "mean softmax cross-entropy loss and dlogits"},
        {"sgd_momentum", "SGD with momentum and weight decay, in place"},
        {"adam", "Adam update, in place"},
        {"quantize_u8", "float32 -> uint8 quantization"},
        {"quantize_s8", "float32 -> int8 quantization"},
        {"dequantize_u8", "uint8 -> float32 dequantization"},
        {"dequantize_s8", "int8 -> float32 dequantization"},
        {"requantize_u8", "int32 -> uint8 requantization, per-channel multiplier"},
        {"requantize_s8", "int32 -> int8 requantization, per-channel multiplier"},
    };
    return d;
}

// Friendly names: a generator with some parameters fixed.
struct Alias {
    std::string name, generator;
    std::map<std::string, std::string> fixed;
    std::string description;
};
const std::vector<Alias> &aliases() {
    static const std::vector<Alias> a = {
        {"gemm_int8", "gemm_int8_requant", {{"requant_type", "uint8"}}, "int8 GEMM requantized to uint8"},
        {"gemm_int8_u8", "gemm_int8_requant", {{"requant_type", "uint8"}}, "int8 GEMM requantized to uint8"},
        {"gemm_int8_s8", "gemm_int8_requant", {{"requant_type", "int8"}}, "int8 GEMM requantized to int8"},
        {"gemm_int8_gemv", "gemm_int8_requant", {{"requant_type", "uint8"}, {"tile_m", "1"}},
         "int8 GEMM to uint8, one-row tiles (M <= 4)"},
        {"conv_int8", "direct_conv_int8_requant", {{"requant_type", "uint8"}}, "direct int8 conv requantized to uint8"},
        {"depthwise_conv_int8", "depthwise_conv_int8_requant", {{"requant_type", "uint8"}},
         "depthwise int8 conv requantized to uint8"},
        {"fake_quant", "fake_quant_per_tensor", {}, "= fake_quant_per_tensor"},
        {"lsq_backward", "lsq_backward_per_tensor", {}, "= lsq_backward_per_tensor"},
        {"sgemm", "sgemm_f32", {}, "= sgemm_f32"},
        {"batch_norm", "batch_norm_train", {}, "= batch_norm_train"},
    };
    return a;
}

// Parameters every Halide generator has; they are accepted but not listed per operator.
bool is_builtin_param(const std::string &n) {
    return n == "target" || n == "auto_schedule" || n == "machine_params";
}

std::string type_name(const Halide::Type &t) {
    for (const auto &kv : Halide::Internal::get_halide_type_enum_map()) {
        if (kv.second == t) return kv.first;
    }
    std::ostringstream o;
    o << t;
    return o.str();
}

template<typename T>
bool read_value(GeneratorParamBase *p, std::string &kind, std::string &out) {
    auto *impl = dynamic_cast<Halide::Internal::GeneratorParamImpl<T> *>(p);
    if (!impl) return false;
    const T &v = impl->*get(ValueTag<T>());
    if constexpr (std::is_same_v<T, bool>) {
        kind = "bool";
        out = v ? "true" : "false";
    } else if constexpr (std::is_same_v<T, Halide::Type>) {
        kind = "type";
        out = type_name(v);
    } else if constexpr (std::is_same_v<T, std::string>) {
        kind = "string";
        out = v;
    } else if constexpr (std::is_floating_point_v<T>) {
        kind = std::is_same_v<T, float> ? "float32" : "float64";
        std::ostringstream o;
        o << v;
        out = o.str();
    } else {
        kind = (std::is_signed_v<T> ? "int" : "uint") + std::to_string(8 * sizeof(T));
        out = std::to_string(static_cast<long long>(v));
    }
    return true;
}

ParamDesc describe_param(GeneratorParamBase *p) {
    ParamDesc d;
    d.name = p->name();
    bool ok = read_value<bool>(p, d.kind, d.value) || read_value<int8_t>(p, d.kind, d.value) ||
              read_value<int16_t>(p, d.kind, d.value) || read_value<int32_t>(p, d.kind, d.value) ||
              read_value<int64_t>(p, d.kind, d.value) || read_value<uint8_t>(p, d.kind, d.value) ||
              read_value<uint16_t>(p, d.kind, d.value) || read_value<uint32_t>(p, d.kind, d.value) ||
              read_value<uint64_t>(p, d.kind, d.value) || read_value<float>(p, d.kind, d.value) ||
              read_value<double>(p, d.kind, d.value) || read_value<Halide::Type>(p, d.kind, d.value) ||
              read_value<std::string>(p, d.kind, d.value);
    if (!ok) {
        d.kind = (p->*get(CTypeTag()))();
        try {
            d.value = (p->*get(DefaultTag()))();
        } catch (const Halide::Error &) {
            d.value = "?";
        }
    }
    return d;
}

std::unique_ptr<GeneratorBase> make_generator(const std::string &gen, const std::string &target) {
    return GeneratorRegistry::create(gen, Halide::GeneratorContext(Halide::Target(target)));
}

// The generator's own parameters (built-ins and synthetic ones left out), current values.
std::vector<ParamDesc> generator_params(GeneratorBase &g) {
    std::vector<ParamDesc> out;
    GeneratorParamInfo &pi = (g.*get(ParamInfoTag()))();
    for (GeneratorParamBase *p : pi.generator_params()) {
        if ((p->*get(SyntheticTag()))() || is_builtin_param(p->name())) continue;
        out.push_back(describe_param(p));
    }
    return out;
}

std::string value_help(const ParamDesc &p) {
    if (p.kind == "bool") return "true or false";
    if (p.kind == "type") {
        std::string s;
        for (const auto &kv : Halide::Internal::get_halide_type_enum_map()) s += (s.empty() ? "" : ", ") + kv.first;
        return "one of " + s;
    }
    if (p.kind.rfind("int", 0) == 0) return "an integer";
    if (p.kind.rfind("uint", 0) == 0) return "a non-negative integer";
    if (p.kind.rfind("float", 0) == 0) return "a number";
    if (p.kind == "string") return "a string";
    return "a " + p.kind;
}

// ---- small helpers -----------------------------------------------------------------------

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

size_t edit_distance(const std::string &a, const std::string &b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); j++) prev[j] = j;
    for (size_t i = 1; i <= a.size(); i++) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); j++) {
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::vector<std::string> close_matches(const std::string &what, const std::vector<std::string> &names) {
    std::vector<std::pair<size_t, std::string>> scored;
    for (const auto &n : names) {
        size_t d = edit_distance(what, n);
        bool sub = what.size() >= 3 && n.find(what) != std::string::npos;
        if (sub) d = std::min<size_t>(d, 1);
        if (d <= std::max<size_t>(1, what.size() / 3) && d < n.size()) scored.emplace_back(d, n);
    }
    std::sort(scored.begin(), scored.end());
    std::vector<std::string> out;
    for (size_t i = 0; i < scored.size() && i < 6; i++) out.push_back(scored[i].second);
    return out;
}

std::string join(const std::vector<std::string> &v, const std::string &sep = ", ") {
    std::string s;
    for (const auto &x : v) s += (s.empty() ? "" : sep) + x;
    return s;
}

std::vector<std::string> split(const std::string &s, char c) {
    std::vector<std::string> out;
    std::string cur;
    std::istringstream in(s);
    while (std::getline(in, cur, c)) {
        if (!cur.empty()) out.push_back(cur);
    }
    return out;
}

std::string read_text(const fs::path &p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream o;
    o << in.rdbuf();
    return o.str();
}

// Trims whitespace and the prefixes Halide puts on its messages.
std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    size_t i = 0;
    while (i < s.size() && (s[i] == '\n' || s[i] == ' ')) i++;
    s = s.substr(i);
    for (const char *prefix : {"Unhandled exception: ", "Error: ", "User error: "}) {
        if (s.rfind(prefix, 0) == 0) s = s.substr(std::strlen(prefix));
    }
    return s;
}

std::string last_lines(const std::string &s, size_t n) {
    std::vector<std::string> lines = split(s, '\n');
    size_t from = lines.size() > n ? lines.size() - n : 0;
    return join(std::vector<std::string>(lines.begin() + from, lines.end()), "\n");
}

// ---- targets -------------------------------------------------------------------------------

// Says which component of a Halide target string is wrong.
std::string explain_bad_target(const std::string &t) {
    static const std::set<std::string> arches = {"x86", "arm", "powerpc", "hexagon", "wasm", "riscv"};
    static const std::set<std::string> bits = {"0", "32", "64"};
    static const std::set<std::string> oses = {"linux", "windows", "osx", "android", "ios", "qurt", "noos",
                                               "fuchsia", "wasmrt"};
    std::vector<std::string> bad;
    for (const auto &tok : split(t, '-')) {
        if (tok == "host" || arches.count(tok) || bits.count(tok) || oses.count(tok)) continue;
        if (!Halide::Target::validate_target_string("x86-64-linux-" + tok)) bad.push_back("'" + tok + "'");
    }
    std::string msg = "invalid Halide target string '" + t + "'";
    if (!bad.empty()) msg += ": unknown component" + std::string(bad.size() > 1 ? "s " : " ") + join(bad);
    msg += " (expected arch-bits-os[-feature...], e.g. x86-64-linux-avx2, arm-64-linux-arm_dot_prod, or host)";
    return msg;
}

std::vector<Halide::Target> parse_targets(const std::string &spec) {
    std::vector<std::string> parts = split(spec, ',');
    if (parts.empty()) throw UsageError("--target is empty");
    std::vector<Halide::Target> out;
    for (const auto &p : parts) {
        if (!Halide::Target::validate_target_string(p)) throw UsageError(explain_bad_target(p));
        try {
            out.emplace_back(p);
        } catch (const Halide::Error &e) {
            throw UsageError("invalid Halide target string '" + p + "': " + trim(e.what()));
        }
    }
    return out;
}

// ---- outputs -------------------------------------------------------------------------------

// --emit names (friendly and Halide's) -> Halide's generate_filter_main names.
const std::map<std::string, std::string> &emit_kinds() {
    static const std::map<std::string, std::string> k = {
        {"asm", "assembly"},
        {"assembly", "assembly"},
        {"stmt", "stmt"},
        {"stmt_html", "stmt_html"},
        {"html", "stmt_html"},
        {"llvm_assembly", "llvm_assembly"},
        {"ll", "llvm_assembly"},
        {"bitcode", "bitcode"},
        {"bc", "bitcode"},
        {"object", "object"},
        {"o", "object"},
        {"c_source", "c_source"},
        {"schedule", "schedule"},
        {"cpp_stub", "cpp_stub"},
        {"python_extension", "python_extension"},
        {"pytorch_wrapper", "pytorch_wrapper"},
        {"compiler_log", "compiler_log"},
        {"featurization", "featurization"},
        {"registration", "registration"},
        {"static_library", "static_library"},
        {"a", "static_library"},
        {"h", "c_header"},
        {"c_header", "c_header"},
    };
    return k;
}

std::vector<std::string> emit_names() {
    std::vector<std::string> n;
    for (const auto &kv : emit_kinds()) n.push_back(kv.first);
    return n;
}

struct Request {
    std::string op, generator, name, out_dir, target_spec;
    std::vector<Halide::Target> targets;
    std::vector<std::string> emits;                       // Halide names, static_library + c_header first
    std::vector<std::pair<std::string, std::string>> user_params;  // as given (after alias defaults)
    std::map<std::string, std::string> fixed;            // from the alias
    std::vector<ParamDesc> resolved;                     // every parameter, value used
    std::vector<std::string> builtin_set;                // built-in params the user set
    std::string tuned_dir;                               // schedule database directory ("" = none)
    std::string shape_class = "default";                 // which tuned entry to use
    std::map<std::string, std::string> tuned;            // parameters taken from the database
    std::string tuned_file;                              // the database file they came from
};

// ---- the child: run Halide's generator driver --------------------------------------------

[[noreturn]] void child_generate(const Request &r, const fs::path &tmp) {
    // stderr (Halide's and LLVM's own messages) goes to a file the parent reads.
    int fd = ::open((tmp / ".qforge-gen.stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        ::dup2(fd, 2);
        ::close(fd);
    }
    auto fail = [&](const std::string &kind, const std::string &msg) {
        std::ofstream e(tmp / ".qforge-gen.error");
        e << kind << "\n" << msg;
        e.close();
        std::_Exit(3);
    };
    // Test hook (tests/check_qforge_gen.sh): make the child die the way an
    // abort inside Halide or LLVM would.
    if (const char *e = std::getenv("QFORGE_GEN_TEST_CHILD_ABORT"); e && *e == '1') {
        std::fputs("simulated abort inside the generator\n", stderr);
        std::abort();
    }
    int rc = 1;
    try {
        std::vector<std::string> args = {"qforge-gen", "-g", r.generator, "-o", tmp.string(), "-e",
                                         join(r.emits, ","), "-f", r.name, "-n", r.name};
        std::string t;
        for (const auto &tg : r.targets) t += (t.empty() ? "" : ",") + tg.to_string();
        args.push_back("target=" + t);
        for (const auto &kv : r.fixed) args.push_back(kv.first + "=" + kv.second);
        for (const auto &kv : r.user_params) args.push_back(kv.first + "=" + kv.second);
        for (const auto &kv : r.tuned) args.push_back(kv.first + "=" + kv.second);
        std::vector<char *> argv;
        for (auto &a : args) argv.push_back(const_cast<char *>(a.c_str()));
        argv.push_back(nullptr);
        std::ostringstream err;
        rc = Halide::Internal::generate_filter_main((int)args.size(), argv.data(), err);
        if (rc != 0) fail("driver", err.str());
    } catch (const Halide::CompileError &e) {
        fail("compile", e.what());
    } catch (const Halide::InternalError &e) {
        fail("internal", e.what());
    } catch (const Halide::Error &e) {
        fail("halide", e.what());
    } catch (const std::exception &e) {
        fail("exception", e.what());
    } catch (...) {
        fail("exception", "unknown exception");
    }
    std::fflush(nullptr);
    std::_Exit(0);
}

std::string target_list(const Request &r) {
    std::vector<std::string> t;
    for (const auto &tg : r.targets) t.push_back(tg.to_string());
    return join(t, ",");
}

// Runs the child; returns an empty string on success, else the message to print.
std::string run_child(const Request &r, const fs::path &tmp, std::string &warnings) {
    std::cout.flush();
    std::cerr.flush();
    pid_t pid = ::fork();
    if (pid < 0) return std::string("cannot fork: ") + std::strerror(errno);
    if (pid == 0) child_generate(r, tmp);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return std::string("waitpid failed: ") + std::strerror(errno);
    }
    std::string stderr_text = read_text(tmp / ".qforge-gen.stderr");
    std::string err = read_text(tmp / ".qforge-gen.error");
    std::error_code ec;
    fs::remove(tmp / ".qforge-gen.stderr", ec);
    fs::remove(tmp / ".qforge-gen.error", ec);
    const std::string what = "operator " + r.op + (r.op != r.generator ? " (generator " + r.generator + ")" : "") +
                             " for target " + target_list(r);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        std::string msg = "generating " + what + " crashed (signal " + std::to_string(sig) + ", " +
                          strsignal(sig) + ")";
        if (!trim(stderr_text).empty()) msg += ":\n" + last_lines(trim(stderr_text), 15);
        return msg;
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    if (code == 0) {
        warnings = trim(stderr_text);
        return "";
    }
    if (!err.empty()) {
        std::string kind = err.substr(0, err.find('\n'));
        std::string text = trim(trim(err.substr(err.find('\n') + 1)));
        if (text.find("no int8 schedule for target") != std::string::npos ||
            text.find("no schedule for target") != std::string::npos) {
            return "operator " + r.op + " has no schedule for target " + target_list(r) +
                   " (qforge's schedules cover x86 and AArch64 targets; Halide said: " + text + ")";
        }
        if (kind == "driver") return "Halide's generator driver rejected the request for " + what + ": " + text;
        return "generating " + what + " failed: " + text;
    }
    std::string msg = "generating " + what + " failed (exit status " + std::to_string(code) + ")";
    if (!trim(stderr_text).empty()) msg += ":\n" + last_lines(trim(stderr_text), 15);
    return msg;
}

// ---- --list --------------------------------------------------------------------------------

int list_operators(bool json) {
    std::vector<std::string> gens = GeneratorRegistry::enumerate();
    nlohmann::json j = nlohmann::json::object();
    std::ostringstream o;
    o << "Operators (registered generators). Parameters: name=default (kind).\n";
    o << "Every operator also takes Halide's built-in auto_schedule and machine_params.\n\n";
    for (const auto &g : gens) {
        std::vector<ParamDesc> ps;
        try {
            auto gen = make_generator(g, "x86-64-linux");
            ps = generator_params(*gen);
        } catch (const Halide::Error &e) {
            o << "  " << g << ": cannot introspect (" << trim(e.what()) << ")\n";
            continue;
        }
        auto it = descriptions().find(g);
        std::string desc = it == descriptions().end() ? "" : it->second;
        o << "  " << g << "\n      " << desc << "\n";
        if (!ps.empty()) {
            o << "      params:";
            for (const auto &p : ps) o << " " << p.name << "=" << p.value << " (" << p.kind << ")";
            o << "\n";
        }
        nlohmann::json jp = nlohmann::json::object();
        for (const auto &p : ps) jp[p.name] = {{"default", p.value}, {"kind", p.kind}};
        j["operators"][g] = {{"description", desc}, {"params", jp}};
    }
    o << "\nAliases:\n";
    for (const auto &a : aliases()) {
        std::vector<std::string> f;
        for (const auto &kv : a.fixed) f.push_back(kv.first + "=" + kv.second);
        o << "  " << a.name << " -> " << a.generator << (f.empty() ? "" : " " + join(f, " ")) << "\n      "
          << a.description << "\n";
        j["aliases"][a.name] = {{"generator", a.generator}, {"fixed_params", a.fixed}, {"description", a.description}};
    }
    if (json) {
        std::cout << j.dump(2) << "\n";
    } else {
        std::cout << o.str();
    }
    return 0;
}

// ---- request validation --------------------------------------------------------------------

void resolve_operator(Request &r) {
    std::vector<std::string> gens = GeneratorRegistry::enumerate();
    if (std::find(gens.begin(), gens.end(), r.op) != gens.end()) {
        r.generator = r.op;
        return;
    }
    for (const auto &a : aliases()) {
        if (a.name == r.op) {
            r.generator = a.generator;
            r.fixed = a.fixed;
            return;
        }
    }
    std::vector<std::string> all = gens;
    for (const auto &a : aliases()) all.push_back(a.name);
    std::vector<std::string> m = close_matches(r.op, all);
    std::string msg = "unknown operator '" + r.op + "'";
    msg += m.empty() ? "" : "; did you mean: " + join(m) + "?";
    msg += " (qforge-gen --list shows all operators)";
    throw UsageError(msg);
}

// ---- the tuned schedule database (qforge-tune's output; docs/qforge-gen.md) ------------------

// <dir>/<target>.json for a single-target request: the entry for this
// generator and shape class supplies parameter values the user did not set.
// A file that exists but is malformed is an error naming the file and the
// problem (a silently ignored database would quietly change the schedule).
void apply_tuned_database(Request &r, const std::set<std::string> &user_set, const std::vector<std::string> &names) {
    if (r.tuned_dir.empty() || r.targets.size() != 1) return;
    const fs::path file = fs::path(r.tuned_dir) / (r.targets[0].to_string() + ".json");
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) return;
    qforge::tune::ScheduleDb db;
    try {
        db = qforge::tune::read_db(file.string(), r.targets[0].to_string());
    } catch (const qforge::tune::DbError &e) {
        throw UsageError(e.what());
    }
    for (size_t i = 0; i < db.entries.size(); i++) {
        const auto &e = db.entries[i];
        if (e["operator"] != r.generator || e["shape_class"] != r.shape_class) continue;
        for (const auto &kv : e["params"].items()) {
            if (std::find(names.begin(), names.end(), kv.key()) == names.end()) {
                throw UsageError("tuned schedule database '" + file.string() + "': entries[" + std::to_string(i) +
                                 "]: operator " + r.generator + " has no parameter '" + kv.key() + "'");
            }
            const std::string v = kv.value().is_string() ? kv.value().get<std::string>() : kv.value().dump();
            if (!user_set.count(kv.key()) && !r.fixed.count(kv.key())) r.tuned[kv.key()] = v;
        }
        r.tuned_file = file.string();
        return;
    }
}

void resolve_params(Request &r, const std::vector<std::string> &raw) {
    auto gen = make_generator(r.generator, r.targets[0].to_string());
    std::vector<ParamDesc> declared = generator_params(*gen);
    std::vector<std::string> names;
    for (const auto &p : declared) names.push_back(p.name);

    std::map<std::string, std::string> values;
    for (const auto &kv : r.fixed) values[kv.first] = kv.second;
    std::set<std::string> seen;
    for (const auto &s : raw) {
        size_t eq = s.find('=');
        if (eq == std::string::npos || eq == 0) {
            throw UsageError("--param '" + s + "' must be name=value");
        }
        std::string k = s.substr(0, eq), v = s.substr(eq + 1);
        if (k == "target") throw UsageError("set the target with --target, not --param target=");
        if (!seen.insert(k).second) throw UsageError("parameter " + k + " is given twice");
        if (is_builtin_param(k)) {
            r.builtin_set.push_back(k);
        } else if (std::find(names.begin(), names.end(), k) == names.end()) {
            std::vector<std::string> m = close_matches(k, names);
            std::string msg = "operator " + r.op + " has no parameter '" + k + "'";
            if (!m.empty()) msg += "; did you mean " + join(m, " or ") + "?";
            msg += names.empty() ? " (it has no parameters)" : " (valid parameters: " + join(names) + ")";
            throw UsageError(msg);
        }
        auto f = r.fixed.find(k);
        if (f != r.fixed.end() && f->second != v) {
            throw UsageError("alias " + r.op + " fixes " + k + "=" + f->second + "; use operator " + r.generator +
                             " to choose " + k + " yourself");
        }
        r.user_params.emplace_back(k, v);
        values[k] = v;
    }
    // Tuned values for what the user left at its default; they are checked
    // like the user's own below.
    apply_tuned_database(r, seen, names);
    for (const auto &kv : r.tuned) values[kv.first] = kv.second;
    // Check each value by setting it on a fresh generator (Halide parses it).
    for (const auto &kv : values) {
        auto probe = make_generator(r.generator, r.targets[0].to_string());
        try {
            Halide::Internal::GeneratorParamsMap one;
            one[kv.first] = kv.second;
            probe->set_generator_param_values(one);
        } catch (const Halide::Error &e) {
            std::string help = "a valid value";
            for (const auto &p : declared) {
                if (p.name == kv.first) help = value_help(p) + " (default " + p.value + ")";
            }
            if (kv.first == "auto_schedule") help = "true or false";
            if (kv.first == "machine_params") help = "cores,last_level_cache_bytes,balance (e.g. 16,16777216,40)";
            const std::string from = r.tuned.count(kv.first) ? " in " + r.tuned_file : "";
            throw UsageError("bad value '" + kv.second + "' for parameter " + kv.first + " of operator " + r.op +
                             from + ": expected " + help + " (Halide: " + trim(e.what()) + ")");
        }
    }
    // Every parameter's value as used: the defaults with the given values applied.
    Halide::Internal::GeneratorParamsMap all;
    for (const auto &kv : values) all[kv.first] = kv.second;
    gen->set_generator_param_values(all);
    r.resolved = generator_params(*gen);
    // Drop the alias's fixed values from user_params duplicates (they are passed via fixed).
    std::vector<std::pair<std::string, std::string>> up;
    for (const auto &kv : r.user_params) {
        if (!r.fixed.count(kv.first)) up.push_back(kv);
    }
    r.user_params = up;
}

void resolve_emits(Request &r, const std::vector<std::string> &raw) {
    r.emits = {"static_library", "c_header"};
    for (const auto &list : raw) {
        for (const auto &e : split(list, ',')) {
            auto it = emit_kinds().find(e);
            if (it == emit_kinds().end()) {
                std::vector<std::string> m = close_matches(e, emit_names());
                throw UsageError("unknown --emit kind '" + e + "'" + (m.empty() ? "" : "; did you mean " + join(m, " or ") + "?") +
                                 " (valid: " + join(emit_names()) + ")");
            }
            if (std::find(r.emits.begin(), r.emits.end(), it->second) == r.emits.end()) r.emits.push_back(it->second);
        }
    }
}

bool is_identifier(const std::string &s) {
    if (s.empty() || !(std::isalpha((unsigned char)s[0]) || s[0] == '_')) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum((unsigned char)c) || c == '_'; });
}

// ---- generate ------------------------------------------------------------------------------

int generate(Request &r) {
    // The output directory: create it, then a private temporary directory inside it.
    fs::path out(r.out_dir);
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec || !fs::is_directory(out)) {
        throw UsageError("cannot create output directory '" + r.out_dir + "': " +
                         (ec ? ec.message() : std::string("exists and is not a directory")));
    }
    std::string templ = (out / (".qforge-gen-" + r.name + "-XXXXXX")).string();
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) {
        throw UsageError("output directory '" + r.out_dir + "' is not writable: " + std::strerror(errno));
    }
    fs::path tmp(buf.data());
    auto cleanup = [&] {
        std::error_code e2;
        fs::remove_all(tmp, e2);
    };

    for (const auto &t : r.targets) {
        // CUDA targets get the CUDA schedules (schedules/cuda/; an operator
        // without one is an error); other GPU APIs have none.
        if (t.has_gpu_feature() && !t.has_feature(Halide::Target::CUDA)) {
            std::cerr << "qforge-gen: warning: qforge has no schedules for this GPU API: " << r.op << " for "
                      << t.to_string() << " runs on the host CPU; the GPU feature only adds the GPU runtime\n";
        }
    }
    std::string warnings;
    std::string err = run_child(r, tmp, warnings);
    if (!err.empty()) {
        cleanup();
        std::cerr << "qforge-gen: error: " << err << "\n";
        return 1;
    }
    if (!warnings.empty()) std::cerr << warnings << "\n";

    // The manifest.
    nlohmann::json m;
    m["manifest_version"] = 1;
    m["operator"] = r.op;
    m["generator"] = r.generator;
    m["function_name"] = r.name;
    m["target"] = r.target_spec;
    std::vector<std::string> canon;
    for (const auto &t : r.targets) canon.push_back(t.to_string());
    m["targets"] = canon;
    nlohmann::json params = nlohmann::json::object();
    std::set<std::string> given;
    for (const auto &kv : r.user_params) given.insert(kv.first);
    for (const auto &p : r.resolved) {
        std::string source = r.fixed.count(p.name)   ? "alias"
                             : given.count(p.name)   ? "user"
                             : r.tuned.count(p.name) ? "tuned"
                                                     : "default";
        params[p.name] = {{"value", p.value}, {"kind", p.kind}, {"source", source}};
    }
    for (const auto &b : r.builtin_set) {
        for (const auto &kv : r.user_params) {
            if (kv.first == b) params[b] = {{"value", kv.second}, {"kind", "builtin"}, {"source", "user"}};
        }
    }
    m["params"] = params;
    m["tuned_database"] = r.tuned_file.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.tuned_file);
    m["shape_class"] = r.shape_class;
    m["emit"] = r.emits;
    m["halide_runtime"] = "included in the static library";
    nlohmann::json files = nlohmann::json::array();
    std::vector<fs::path> produced;
    for (const auto &e : fs::directory_iterator(tmp)) {
        if (e.is_regular_file()) produced.push_back(e.path());
    }
    std::sort(produced.begin(), produced.end());
    for (const auto &p : produced) {
        files.push_back({{"file", p.filename().string()}, {"bytes", (uint64_t)fs::file_size(p)}});
    }
    m["outputs"] = files;
    m["qforge_version"] = QFORGE_VERSION;
    m["halide_version"] = QFORGE_HALIDE_VERSION;
    {
        std::time_t now = std::time(nullptr);
        char ts[64];
        std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
        m["generated_at"] = ts;
    }
    const std::string manifest_name = r.name + ".manifest.json";
    {
        std::ofstream f(tmp / manifest_name);
        f << m.dump(2) << "\n";
        f.close();
        if (!f) {
            cleanup();
            std::cerr << "qforge-gen: error: cannot write the manifest in '" << r.out_dir << "'\n";
            return 1;
        }
    }
    // Move into place: every output, then the manifest.
    produced.push_back(tmp / manifest_name);
    for (const auto &p : produced) {
        fs::rename(p, out / p.filename(), ec);
        if (ec) {
            cleanup();
            std::cerr << "qforge-gen: error: cannot move " << p.filename() << " into '" << r.out_dir
                      << "': " << ec.message() << "\n";
            return 1;
        }
    }
    cleanup();
    std::cout << "qforge-gen: " << r.op << " for " << target_list(r) << " -> " << r.out_dir << "/\n";
    for (const auto &f : files) {
        std::cout << "  " << f["file"].get<std::string>() << " (" << f["bytes"].get<uint64_t>() << " bytes)\n";
    }
    std::cout << "  " << manifest_name << "\n";
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    CLI::App app{"qforge-gen: compile a qforge operator for any Halide target into a static library + header.\n"
                 "See docs/qforge-gen.md."};
    app.set_version_flag("--version", std::string("qforge-gen ") + QFORGE_VERSION + " (Halide " +
                                          QFORGE_HALIDE_VERSION + ")");
    bool list = false, list_json = false;
    Request r;
    std::vector<std::string> raw_params, raw_emits;
    app.add_flag("--list", list, "List operators with their parameters, defaults and descriptions");
    app.add_flag("--json", list_json, "With --list: print the list as JSON");
    app.add_option("--op", r.op, "Operator (a registered generator or an alias; see --list)");
    app.add_option("--target", r.target_spec,
                   "Halide target string, e.g. x86-64-linux-avx2 or arm-64-linux; a comma-separated list "
                   "builds a multi-target library with runtime dispatch (best first, last is the fallback)");
    app.add_option("--out", r.out_dir, "Output directory (created if missing)");
    app.add_option("--param", raw_params, "GeneratorParam name=value (repeatable)");
    app.add_option("--emit", raw_emits,
                   "Extra outputs, comma-separated: asm, stmt, stmt_html, llvm_assembly, bitcode, object, "
                   "c_source, schedule, ... (the .a and .h are always written)");
    app.add_option("--name", r.name, "Library and function name (default: the operator name)");
    r.tuned_dir = QFORGE_TUNED_DIR;
    if (const char *env = std::getenv("QFORGE_TUNED_DIR"); env) r.tuned_dir = env;
    app.add_option("--tuned", r.tuned_dir,
                   "Tuned schedule database directory (<dir>/<target>.json, written by qforge-tune); "
                   "default: " QFORGE_TUNED_DIR " or $QFORGE_TUNED_DIR");
    bool no_tuned = false;
    app.add_flag("--no-tuned", no_tuned, "Ignore the tuned schedule database (use the schedules' defaults)");
    app.add_option("--shape-class", r.shape_class,
                   "Which tuned entry of the operator to use (default: \"default\")");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e);
    }

    try {
        if (list) return list_operators(list_json);
        if (no_tuned) r.tuned_dir.clear();
        std::vector<std::string> missing;
        if (r.op.empty()) missing.push_back("--op");
        if (r.target_spec.empty()) missing.push_back("--target");
        if (r.out_dir.empty()) missing.push_back("--out");
        if (!missing.empty()) {
            throw UsageError("missing " + join(missing) + " (usage: qforge-gen --op OP --target TARGET --out DIR; "
                             "qforge-gen --list shows the operators)");
        }
        resolve_operator(r);
        r.targets = parse_targets(r.target_spec);
        if (r.name.empty()) r.name = r.op;
        if (!is_identifier(r.name)) {
            throw UsageError("--name '" + r.name + "' must be a C identifier (letters, digits, _)");
        }
        resolve_params(r, raw_params);
        resolve_emits(r, raw_emits);
        return generate(r);
    } catch (const UsageError &e) {
        std::cerr << "qforge-gen: error: " << e.what() << "\n";
        return 2;
    } catch (const Halide::Error &e) {
        std::cerr << "qforge-gen: error: " << trim(e.what()) << "\n";
        return 1;
    } catch (const std::exception &e) {
        std::cerr << "qforge-gen: error: " << e.what() << "\n";
        return 1;
    }
}
