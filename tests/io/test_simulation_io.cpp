// The renderings of a simulation: CSV rows and values, JSON fields, a well-formed SVG with one line
// per lane (downsampled for long runs, labels escaped), and the text table of a sweep.
#include <doctest/doctest.h>

#include <sstream>

#include <nlohmann/json.hpp>

#include "eplb/gen_trace.h"
#include "eplb/simulate.h"
#include "io/simulation_io.h"
#include "io/svg_plot.h"

using namespace eplb;
using namespace eplb::io;
using nlohmann::json;

namespace {

struct Run {
    SimulationDoc doc;
    SimulationResult result;
};

Run simulate_small(int steps, const std::vector<LaneSpec>& lanes) {
    GenTraceOptions g;
    g.num_layers = 3;
    g.first_layer_id = 3;
    g.num_experts = 16;
    g.num_steps = steps;
    g.tokens_per_step = 256;
    g.drift = 0.05;
    TraceGenerator source(g);
    Run run;
    run.doc.title = "test series";
    run.doc.config = ParallelConfig{16, 20, 2, 1, 4};
    run.doc.layer_ids = source.layer_ids();
    run.doc.first_step = 100;
    run.doc.expert_bytes = 10;
    SimulationOptions o;
    o.config = run.doc.config;
    o.lanes = lanes;
    o.expert_bytes = 10;
    auto planner = make_cpu_planner();
    run.result = simulate(source, o, *planner);
    return run;
}

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> out;
    std::string item;
    std::istringstream in(text);
    while (std::getline(in, item, sep)) out.push_back(item);
    return out;
}

// A small well-formedness check of XML: tags nest and close, attributes are quoted, text holds no
// raw '<' and every '&' starts an entity. Returns "" or what is wrong.
std::string xml_problem(const std::string& xml) {
    std::vector<std::string> open;
    size_t i = 0;
    while (i < xml.size()) {
        if (xml[i] == '&') {
            const size_t semi = xml.find(';', i);
            const std::string entity = semi == std::string::npos ? "" : xml.substr(i, semi - i + 1);
            if (entity != "&amp;" && entity != "&lt;" && entity != "&gt;" && entity != "&quot;" &&
                entity != "&apos;") {
                return "bad entity at " + std::to_string(i);
            }
            i = semi + 1;
            continue;
        }
        if (xml[i] != '<') {
            if (xml[i] == '>') return "raw '>' in text at " + std::to_string(i);
            ++i;
            continue;
        }
        size_t j = i + 1;
        char quote = 0;
        for (; j < xml.size(); ++j) {
            if (quote) {
                if (xml[j] == quote) quote = 0;
                if (xml[j] == '<') return "'<' inside an attribute at " + std::to_string(j);
            } else if (xml[j] == '"' || xml[j] == '\'') {
                quote = xml[j];
            } else if (xml[j] == '>') {
                break;
            }
        }
        if (j == xml.size()) return "unterminated tag at " + std::to_string(i);
        const std::string tag = xml.substr(i + 1, j - i - 1);
        if (tag.empty()) return "empty tag";
        if (tag[0] == '/') {
            if (open.empty() || open.back() != tag.substr(1)) return "mismatched </" + tag.substr(1) + ">";
            open.pop_back();
        } else if (tag.back() != '/') {
            open.push_back(tag.substr(0, tag.find_first_of(" \n")));
        }
        i = j + 1;
    }
    return open.empty() ? "" : "unclosed <" + open.back() + ">";
}

int count_of(const std::string& text, const std::string& what) {
    int n = 0;
    for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("CSV: one row per step and lane with the result's values") {
    LaneSpec oracle;
    oracle.oracle = true;
    oracle.label = "deepseek oracle";
    std::vector<LaneSpec> lanes = make_lanes({Policy::kDeepseek}, {8}, {12}, {}, false);
    lanes.push_back(oracle);
    const Run run = simulate_small(40, lanes);
    const std::vector<std::string> lines = split(simulation_to_csv(run.doc, run.result), '\n');
    REQUIRE(lines.size() == 1 + 2 * 40);
    CHECK(lines[0] == "step,policy,balancedness,max_gpu_load,mean_gpu_load,rearranged,experts_moved");
    const LaneResult& lane = run.result.lanes[0];
    int rearranged = 0;
    int64_t moved = 0;
    for (int t = 0; t < 40; ++t) {
        const std::vector<std::string> f = split(lines[1 + t], ',');
        REQUIRE(f.size() == 7);
        CHECK(std::stoi(f[0]) == 100 + t);  // input step numbers
        CHECK(f[1] == "deepseek");
        CHECK(std::stod(f[2]) ==
              doctest::Approx(run.result.mean_gpu_load[t] / lane.max_gpu_load[t]).epsilon(1e-6));
        CHECK(std::stod(f[3]) == doctest::Approx(lane.max_gpu_load[t]).epsilon(1e-8));
        CHECK(std::stod(f[4]) == doctest::Approx(run.result.mean_gpu_load[t]).epsilon(1e-8));
        rearranged += std::stoi(f[5]);
        moved += std::stoll(f[6]);
        if (std::stoi(f[5]) == 0) CHECK(f[6] == "0");
    }
    CHECK(rearranged == lane.rearrangements);
    CHECK(rearranged == 4);  // after steps 2, 14, 26, 38
    CHECK(moved == lane.experts_moved);
    CHECK(split(lines[1 + 40], ',')[1] == "deepseek oracle");
    CHECK(split(lines[1 + 40], ',')[5] == "1");
}

TEST_CASE("JSON: schema, config, lanes with summaries and per-step series") {
    const Run run = simulate_small(30, make_lanes({Policy::kDeepseek}, {5, 10}, {6}, {}, true));
    const json j = json::parse(simulation_to_json(run.doc, run.result));
    CHECK(j["schema"] == "eplb.simulation/v1");
    CHECK(j["config"]["num_physical_experts"] == 20);
    CHECK(j["config"]["expert_bytes"] == 10);
    CHECK(j["layers"] == json::parse("[3, 4, 5]"));
    CHECK(j["first_step"] == 100);
    CHECK(j["num_steps"] == 30);
    CHECK(j["inputs"]["backend"] == "cpu");
    CHECK(j["mean_gpu_load"].size() == 30);
    REQUIRE(j["lanes"].size() == 3);
    for (size_t k = 0; k < 3; ++k) {
        const json& l = j["lanes"][k];
        const LaneResult& r = run.result.lanes[k];
        CHECK(l["label"] == r.spec.label);
        CHECK(l["balancedness"].size() == 30);
        CHECK(l["max_gpu_load"].size() == 30);
        CHECK(l["summary"]["balancedness"].get<double>() == r.balancedness);
        CHECK(l["summary"]["rearrangements"] == r.rearrangements);
        CHECK(l["summary"]["experts_moved"] == r.experts_moved);
        CHECK(l["summary"]["bytes_moved"] == r.experts_moved * 10);
        CHECK(l["summary"]["worst_step"] == 100 + r.worst_step);
        CHECK(l["rearranged_at"].size() == r.rearranged_at.size());
        CHECK(l["experts_moved_at"].size() == r.rearranged_at.size());
    }
    CHECK(j["lanes"][0]["label"] == "deepseek w=5");
    CHECK(j["lanes"][0]["window_size"] == 5);
    CHECK(j["lanes"][0]["threshold"].is_null());
    CHECK(j["lanes"][0]["rearranged_at"][0] == 100);  // I = 6: after floor(6/4) = 1 step
    CHECK(j["lanes"][2]["oracle"] == true);
    CHECK_FALSE(j["lanes"][2].contains("window_size"));
}

TEST_CASE("SVG: well-formed, one line per lane, marks, escaped labels, downsampled long runs") {
    std::vector<LaneSpec> lanes = make_lanes({Policy::kDeepseek}, {20}, {50, 200}, {}, true);
    lanes[0].label = "A&B <fixed>";
    const Run run = simulate_small(6000, lanes);
    const std::string svg = simulation_to_svg(run.doc, run.result);
    CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
    CHECK(svg.substr(svg.size() - 7) == "</svg>\n");
    CHECK(xml_problem(svg) == "");
    CHECK(count_of(svg, "<polyline") == 3);
    CHECK(svg.find("A&amp;B &lt;fixed&gt;") != std::string::npos);
    CHECK(svg.find("each point is the mean of 3 steps") != std::string::npos);
    // 2000 points per line at most; rearrangement marks for the two loop lanes, none for the oracle.
    const size_t first = svg.find("points=\"") + 8;
    const std::string points = svg.substr(first, svg.find('"', first) - first);
    CHECK(count_of(points, ",") == 2000);
    CHECK(count_of(svg, "<path stroke=") == 2 + 1);  // two rows of marks and the legend's key
    CHECK(count_of(svg, "M") >= run.result.lanes[0].rearrangements + run.result.lanes[1].rearrangements);
    // A short run is drawn point by point.
    const Run small = simulate_small(30, make_lanes({Policy::kDeepseek}, {5}, {6}, {}, false));
    const std::string svg2 = simulation_to_svg(small.doc, small.result);
    CHECK(xml_problem(svg2) == "");
    CHECK(svg2.find("mean of") == std::string::npos);
    CHECK(xml_problem("<a><b></a>") != "");  // the checker itself catches nesting errors
    CHECK(xml_problem("<a>x & y</a>") != "");
}

TEST_CASE("the text report: one table for a sweep, with the swept columns") {
    const Run run = simulate_small(60, make_lanes({Policy::kDeepseek}, {5, 10}, {6, 12}, {0.0, 0.99}, false));
    const std::string text = render_simulation_report(run.doc, run.result);
    CHECK(text.rfind("eplb simulate: test series\n", 0) == 0);
    CHECK(text.find("series    60 steps (100..159) x 3 layers (model layers 3..5)") != std::string::npos);
    CHECK(text.find("policy    window  interval  threshold  balancedness") != std::string::npos);
    CHECK(count_of(text, "\ndeepseek ") == 8);
    CHECK(text.find("checks") != std::string::npos);
    const Run one = simulate_small(60, make_lanes({Policy::kDeepseek}, {5}, {12}, {}, false));
    const std::string single = render_simulation_report(one.doc, one.result);
    CHECK(single.find("loop      window 5 steps, a check every 12 steps (the first after step 102)") !=
          std::string::npos);
    CHECK(single.find("threshold") == std::string::npos);
}
