#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "qforge/model_file.h"

namespace qforge::train {

using nlohmann::json;

json to_json(const PhaseResult &r) {
    json h = json::array();
    for (const EpochRecord &e : r.history) {
        h.push_back({{"epoch", e.epoch},
                     {"train_loss", e.train_loss},
                     {"train_accuracy", e.train_accuracy},
                     {"test_accuracy", e.test_accuracy},
                     {"seconds", e.seconds}});
    }
    return {{"key", r.key},
            {"label", r.label},
            {"config", r.config},
            {"accuracy", r.accuracy},
            {"int_accuracy", r.int_accuracy},
            {"agreement", r.agreement},
            {"logits_identical", r.logits_identical},
            {"test_images", r.test_images},
            {"model_bytes", r.model_bytes},
            {"latency_b1_ms", r.latency_b1_ms},
            {"latency_b128_ms", r.latency_b128_ms},
            {"train_seconds", r.train_seconds},
            {"history", h}};
}

PhaseResult phase_from_json(const json &j) {
    PhaseResult r;
    r.key = j.at("key").get<std::string>();
    r.label = j.at("label").get<std::string>();
    r.config = j.at("config").get<std::string>();
    r.accuracy = j.at("accuracy").get<double>();
    r.int_accuracy = j.at("int_accuracy").get<double>();
    r.agreement = j.at("agreement").get<double>();
    r.logits_identical = j.at("logits_identical").get<int64_t>();
    r.test_images = j.at("test_images").get<int64_t>();
    r.model_bytes = j.at("model_bytes").get<int64_t>();
    r.latency_b1_ms = j.at("latency_b1_ms").get<double>();
    r.latency_b128_ms = j.at("latency_b128_ms").get<double>();
    r.train_seconds = j.at("train_seconds").get<double>();
    for (const json &e : j.at("history")) {
        EpochRecord x;
        x.epoch = e.at("epoch").get<int>();
        x.train_loss = e.at("train_loss").get<double>();
        x.train_accuracy = e.at("train_accuracy").get<double>();
        x.test_accuracy = e.at("test_accuracy").get<double>();
        x.seconds = e.at("seconds").get<double>();
        r.history.push_back(x);
    }
    return r;
}

void write_file_atomic(const std::string &path, const std::string &text) {
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f << text;
        f.flush();
        if (!f) {
            std::remove(tmp.c_str());
            throw FileError(path + ": cannot write " + tmp);
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw FileError(path + ": cannot rename the temporary file over it");
    }
}

namespace {

std::string fmt(const char *f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

struct Row {
    std::vector<std::string> cells;
};

std::vector<std::string> header() {
    return {"model", "test acc", "int model acc", "agreement", "int model bytes", "latency b1", "latency b128",
            "train time"};
}

Row row_of(const PhaseResult &r) {
    Row row;
    row.cells.push_back(r.label);
    row.cells.push_back(fmt("%.2f%%", 100 * r.accuracy));
    row.cells.push_back(r.int_accuracy >= 0 ? fmt("%.2f%%", 100 * r.int_accuracy) : "-");
    row.cells.push_back(r.agreement >= 0 ? fmt("%.2f%%", 100 * r.agreement) : "-");
    row.cells.push_back(std::to_string(r.model_bytes) + (r.key == "fp32" ? " (fp32)" : ""));
    row.cells.push_back(r.latency_b1_ms >= 0 ? fmt("%.3f ms", r.latency_b1_ms) : "-");
    row.cells.push_back(r.latency_b128_ms >= 0 ? fmt("%.2f ms", r.latency_b128_ms) : "-");
    row.cells.push_back(fmt("%.1f s", r.train_seconds));
    return row;
}

}  // namespace

std::string table_text(const std::vector<PhaseResult> &results) {
    std::vector<std::vector<std::string>> rows{header()};
    for (const PhaseResult &r : results) rows.push_back(row_of(r).cells);
    std::vector<size_t> width(rows[0].size(), 0);
    for (const auto &r : rows) {
        for (size_t c = 0; c < r.size(); c++) width[c] = std::max(width[c], r[c].size());
    }
    std::ostringstream out;
    for (size_t i = 0; i < rows.size(); i++) {
        for (size_t c = 0; c < rows[i].size(); c++) {
            std::string cell = rows[i][c];
            if (c == 0) {
                cell.resize(width[c], ' ');
            } else {
                cell = std::string(width[c] - cell.size(), ' ') + cell;
            }
            out << (c ? "  " : "") << cell;
        }
        out << "\n";
        if (i == 0) {
            size_t total = 0;
            for (size_t w : width) total += w + 2;
            out << std::string(total - 2, '-') << "\n";
        }
    }
    return out.str();
}

std::string table_markdown(const std::vector<PhaseResult> &results) {
    std::ostringstream out;
    auto h = header();
    out << "|";
    for (auto &c : h) out << " " << c << " |";
    out << "\n|";
    for (size_t c = 0; c < h.size(); c++) out << (c ? " ---: |" : " --- |");
    out << "\n";
    for (const PhaseResult &r : results) {
        out << "|";
        for (auto &c : row_of(r).cells) out << " " << c << " |";
        out << "\n";
    }
    out << "\nConfigurations:\n\n";
    for (const PhaseResult &r : results) out << "- **" << r.label << "**: " << r.config << "\n";
    return out.str();
}

std::string training_plot_svg(const std::vector<PhaseResult> &results) {
    // Two panels side by side: training loss and test accuracy per epoch, one line per phase.
    const int W = 1000, H = 420, margin = 60, panel_w = (W - 3 * margin) / 2, panel_h = H - 2 * margin - 40;
    static const char *colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    // QAT continues from the FP32 model: its epochs are drawn after FP32's.
    int fp32_epochs = 0;
    for (const PhaseResult &r : results) {
        if (r.key == "fp32") fp32_epochs = static_cast<int>(r.history.size());
    }
    auto offset = [&](const PhaseResult &r) { return r.key == "fp32" ? 0 : fp32_epochs; };
    int max_epochs = 1;
    double max_loss = 0, min_acc = 1, max_acc = 0;
    for (const PhaseResult &r : results) {
        max_epochs = std::max<int>(max_epochs, offset(r) + static_cast<int>(r.history.size()));
        for (const EpochRecord &e : r.history) {
            max_loss = std::max(max_loss, e.train_loss);
            min_acc = std::min(min_acc, e.test_accuracy);
            max_acc = std::max(max_acc, e.test_accuracy);
        }
    }
    if (max_loss <= 0) max_loss = 1;
    min_acc = std::floor(min_acc * 50) / 50;
    max_acc = std::min(1.0, std::ceil(max_acc * 50) / 50 + 0.001);
    if (max_acc <= min_acc) max_acc = min_acc + 0.02;
    std::ostringstream s;
    s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    auto panel = [&](int x0, const char *title, const char *ylabel, double y_lo, double y_hi, bool loss) {
        int y0 = margin;
        s << "<text x=\"" << x0 + panel_w / 2 << "\" y=\"" << y0 - 15 << "\" text-anchor=\"middle\" font-size=\"14\">"
          << title << "</text>\n";
        s << "<rect x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << panel_w << "\" height=\"" << panel_h
          << "\" fill=\"none\" stroke=\"#333\"/>\n";
        for (int t = 0; t <= 4; t++) {
            double v = y_lo + (y_hi - y_lo) * t / 4;
            int y = y0 + panel_h - panel_h * t / 4;
            s << "<text x=\"" << x0 - 5 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">"
              << (loss ? fmt("%.2f", v) : fmt("%.1f%%", 100 * v)) << "</text>\n";
            s << "<line x1=\"" << x0 << "\" x2=\"" << x0 + panel_w << "\" y1=\"" << y << "\" y2=\"" << y
              << "\" stroke=\"#ddd\"/>\n";
        }
        const int label_step = std::max(1, max_epochs / 12);
        for (int e = 1; e <= max_epochs; e += label_step) {
            int x = x0 + (max_epochs == 1 ? panel_w / 2 : panel_w * (e - 1) / (max_epochs - 1));
            s << "<text x=\"" << x << "\" y=\"" << y0 + panel_h + 15 << "\" text-anchor=\"middle\">" << e
              << "</text>\n";
        }
        s << "<text x=\"" << x0 + panel_w / 2 << "\" y=\"" << y0 + panel_h + 32
          << "\" text-anchor=\"middle\">epoch (QAT continues after the FP32 epochs)</text>\n";
        s << "<text x=\"" << x0 - 48 << "\" y=\"" << y0 + panel_h / 2 << "\" transform=\"rotate(-90 " << x0 - 48
          << " " << y0 + panel_h / 2 << ")\" text-anchor=\"middle\">" << ylabel << "</text>\n";
        int ci = 0;
        for (const PhaseResult &r : results) {
            const char *color = colors[ci++ % 10];
            if (r.history.empty()) continue;
            s << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\" points=\"";
            for (const EpochRecord &e : r.history) {
                double v = loss ? e.train_loss : e.test_accuracy;
                double fx = max_epochs == 1 ? 0.5 : double(offset(r) + e.epoch - 1) / (max_epochs - 1);
                double fy = std::clamp((v - y_lo) / (y_hi - y_lo), 0.0, 1.0);
                s << fmt("%.1f", x0 + fx * panel_w) << "," << fmt("%.1f", y0 + panel_h - fy * panel_h) << " ";
            }
            s << "\"/>\n";
        }
    };
    panel(margin, "training loss", "loss", 0, max_loss, true);
    panel(2 * margin + panel_w, "test accuracy (QAT: integer-exact eval)", "accuracy", min_acc, max_acc, false);
    // Legend.
    int ci = 0, lx = margin, ly = H - 18;
    for (const PhaseResult &r : results) {
        const char *color = colors[ci++ % 10];
        if (r.history.empty()) continue;
        s << "<rect x=\"" << lx << "\" y=\"" << ly - 9 << "\" width=\"14\" height=\"4\" fill=\"" << color << "\"/>";
        s << "<text x=\"" << lx + 18 << "\" y=\"" << ly - 4 << "\">" << r.label << "</text>\n";
        lx += 120;
    }
    s << "</svg>\n";
    return s.str();
}

}  // namespace qforge::train
