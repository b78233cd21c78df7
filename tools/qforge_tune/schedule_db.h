// The tuned schedule database, schedules/tuned/<target>.json (format
// "qforge-schedule-db", version 1; docs/qforge-tune.md): read with every
// check, written atomically, merged.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace qforge::tune {

struct DbError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct ScheduleDb {
    std::string target;
    std::vector<nlohmann::json> entries;  // each checked: operator, shape_class, params (+ free-form fields)

    // nullptr if absent.
    const nlohmann::json *find(const std::string &op, const std::string &shape_class) const;
    void put(const nlohmann::json &entry);  // replaces the entry with the same operator and shape class
    nlohmann::json to_json() const;
};

// Throws DbError naming the file and the problem. expected_target: "" accepts any.
ScheduleDb read_db(const std::string &file, const std::string &expected_target);
ScheduleDb parse_db(const nlohmann::json &j, const std::string &where, const std::string &expected_target);
// Writes to a temporary file in the same directory, then renames it over `file`.
void write_db(const std::string &file, const ScheduleDb &db);

// Combines databases of one target: entries of distinct (operator, shape
// class) are all kept; for the same key the entry with the larger measured
// speedup (default_ms / tuned_ms) wins. `log` receives one line per conflict.
ScheduleDb merge_dbs(const std::vector<ScheduleDb> &dbs, std::vector<std::string> &log);

}  // namespace qforge::tune
