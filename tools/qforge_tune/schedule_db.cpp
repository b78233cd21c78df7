#include "schedule_db.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace qforge::tune {

namespace fs = std::filesystem;

const nlohmann::json *ScheduleDb::find(const std::string &op, const std::string &shape_class) const {
    for (const auto &e : entries) {
        if (e["operator"] == op && e["shape_class"] == shape_class) return &e;
    }
    return nullptr;
}

void ScheduleDb::put(const nlohmann::json &entry) {
    for (auto &e : entries) {
        if (e["operator"] == entry["operator"] && e["shape_class"] == entry["shape_class"]) {
            e = entry;
            return;
        }
    }
    entries.push_back(entry);
}

nlohmann::json ScheduleDb::to_json() const {
    return {{"format", "qforge-schedule-db"}, {"version", 1}, {"target", target}, {"entries", entries}};
}

ScheduleDb parse_db(const nlohmann::json &db, const std::string &where, const std::string &expected_target) {
    auto bad = [&](const std::string &what) { throw DbError(where + ": " + what); };
    if (!db.is_object() || !db.contains("format") || db["format"] != "qforge-schedule-db") {
        bad("\"format\" must be \"qforge-schedule-db\"");
    }
    if (!db.contains("version") || !db["version"].is_number_integer() || db["version"].get<int>() != 1) {
        bad("unsupported \"version\" (this qforge-tune reads version 1)");
    }
    if (!db.contains("target") || !db["target"].is_string()) bad("\"target\" must be a string");
    ScheduleDb out;
    out.target = db["target"].get<std::string>();
    if (!expected_target.empty() && out.target != expected_target) {
        bad("\"target\" is \"" + out.target + "\", expected \"" + expected_target + "\"");
    }
    if (!db.contains("entries") || !db["entries"].is_array()) bad("\"entries\" must be an array");
    for (size_t i = 0; i < db["entries"].size(); i++) {
        const auto &e = db["entries"][i];
        const std::string at = "entries[" + std::to_string(i) + "]";
        if (!e.is_object()) bad(at + " must be an object");
        for (const char *key : {"operator", "shape_class"}) {
            if (!e.contains(key) || !e[key].is_string() || e[key].get<std::string>().empty()) {
                bad(at + " needs \"" + key + "\" (a non-empty string)");
            }
        }
        if (!e.contains("params") || !e["params"].is_object()) bad(at + " needs \"params\" (an object)");
        for (const auto &kv : e["params"].items()) {
            if (!kv.value().is_string() && !kv.value().is_number_integer() && !kv.value().is_boolean()) {
                bad(at + ": parameter " + kv.key() + " must be a string, an integer or a boolean");
            }
        }
        for (const char *key : {"default_ms", "tuned_ms"}) {
            if (e.contains(key) && (!e[key].is_number() || e[key].get<double>() < 0)) {
                bad(at + ": \"" + key + "\" must be a non-negative number");
            }
        }
        if (out.find(e["operator"], e["shape_class"])) {
            bad(at + " repeats operator " + e["operator"].get<std::string>() + " with shape class " +
                e["shape_class"].get<std::string>());
        }
        out.entries.push_back(e);
    }
    return out;
}

ScheduleDb read_db(const std::string &file, const std::string &expected_target) {
    const std::string where = "tuned schedule database '" + file + "'";
    std::ifstream in(file);
    if (!in) throw DbError(where + " cannot be read");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception &e) {
        throw DbError(where + " is not valid JSON: " + e.what());
    }
    return parse_db(j, where, expected_target);
}

void write_db(const std::string &file, const ScheduleDb &db) {
    const fs::path path(file);
    if (path.has_parent_path()) fs::create_directories(path.parent_path());
    const std::string tmp = file + ".tmp";
    {
        std::ofstream out(tmp);
        out << db.to_json().dump(2) << "\n";
        if (!out) throw DbError("cannot write '" + tmp + "'");
    }
    fs::rename(tmp, path);
}

namespace {
double speedup(const nlohmann::json &e) {
    const double d = e.value("default_ms", 0.0), t = e.value("tuned_ms", 0.0);
    return (d > 0 && t > 0) ? d / t : 1.0;
}
}  // namespace

ScheduleDb merge_dbs(const std::vector<ScheduleDb> &dbs, std::vector<std::string> &log) {
    if (dbs.empty()) throw DbError("merge: no databases given");
    ScheduleDb out;
    out.target = dbs.front().target;
    for (const auto &db : dbs) {
        if (db.target != out.target) {
            throw DbError("merge: databases of different targets (" + out.target + ", " + db.target +
                          "): a database holds one target");
        }
        for (const auto &e : db.entries) {
            const nlohmann::json *have = out.find(e["operator"], e["shape_class"]);
            if (!have) {
                out.entries.push_back(e);
                continue;
            }
            const bool take = speedup(e) > speedup(*have);
            char line[256];
            std::snprintf(line, sizeof line, "%s %s: kept the entry with speedup %.3f over %.3f",
                          e["operator"].get<std::string>().c_str(), e["shape_class"].get<std::string>().c_str(),
                          take ? speedup(e) : speedup(*have), take ? speedup(*have) : speedup(e));
            log.push_back(line);
            if (take) out.put(e);
        }
    }
    return out;
}

}  // namespace qforge::tune
