// The SVG line plot on series small enough to place by hand: the document's size, the y axis from a
// round value under the lowest point, the tick labels, each polyline's pixel coordinates, the rows of
// event marks, the legend, escaping, bucket means for long series, and the errors.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "io/svg_plot.h"
#include "tests/test_util.h"
#include "tests/xml_check.h"

using namespace eplb;
using namespace eplb::io;
using test::XmlElement;

namespace {

// Two series of 3 points at x = 10, 11, 12; the lowest value 0.5 puts the y axis at 0.45..1.
// Plot area: x 72..936 (864 px for 2 steps), y 404 (0.45) .. 64 (1.0), 340 px for 0.55.
LinePlot two_series() {
    LinePlot p;
    p.title = "A & B <x>";
    p.subtitle = "sub";
    p.x_label = "step";
    p.y_label = "balancedness";
    p.event_label = "rearrangement";
    p.x0 = 10;
    p.series = {{"first", {0.5, 0.75, 1.0}, {1}}, {"second", {1.0, 0.9, 0.8}, {}}};
    return p;
}

std::vector<const XmlElement*> all(const XmlElement& e, const std::string& name) {
    std::vector<const XmlElement*> out;
    for (const XmlElement& c : e.children) {
        if (c.name == name) out.push_back(&c);
        for (const XmlElement* d : all(c, name)) out.push_back(d);
    }
    return out;
}

std::vector<std::string> texts(const XmlElement& root) {
    std::vector<std::string> out;
    for (const XmlElement* t : all(root, "text")) out.push_back(t->text);
    return out;
}

}  // namespace

TEST_CASE("SVG: size, title escaped, axes ticks and labels for a small plot") {
    const std::string svg = render_line_plot_svg(two_series());
    // Height: the plot (64 + 340), a row of marks per series (6 + 2 x 8), 48 for the x labels, one
    // legend row (3 items: two series and the marks' key) of 20, and 12 below.
    CHECK(
        svg.rfind(R"(<svg xmlns="http://www.w3.org/2000/svg" width="960" height="506" viewBox="0 0 960 506" )"
                  R"(font-family="Helvetica, Arial, sans-serif" font-size="12">)"
                  "\n",
                  0) == 0);
    CHECK(svg.substr(svg.size() - 7) == "</svg>\n");
    const XmlElement root = test::parse_xml(svg);
    CHECK(root.name == "svg");
    CHECK(root.attrs.at("height") == "506");
    CHECK(svg.find(R"(<text x="72" y="24" font-size="16" font-weight="bold">A &amp; B &lt;x&gt;</text>)") !=
          std::string::npos);
    CHECK(svg.find(R"(<text x="72" y="44" fill="#555555">sub</text>)") != std::string::npos);
    // y ticks every 0.1 from 0.5 to 1.0 (6), x ticks every 0.5 from 10 to 12 (5): one grid line each.
    const XmlElement* grid = root.child("g");
    REQUIRE(grid != nullptr);
    CHECK(grid->attrs.at("stroke") == "#e5e5e5");
    CHECK(grid->count("line") == 11);
    CHECK(svg.find(R"(<line x1="72.0" y1="373.1" x2="936.0" y2="373.1"/>)") != std::string::npos);  // y = 0.5
    CHECK(svg.find(R"(<line x1="504.0" y1="64.0" x2="504.0" y2="404.0"/>)") != std::string::npos);  // x = 11
    CHECK(svg.find(R"(<text x="66.0" y="377.1" text-anchor="end">0.5</text>)") != std::string::npos);
    CHECK(svg.find(R"(<text x="66.0" y="68.0" text-anchor="end">1.0</text>)") != std::string::npos);
    CHECK(svg.find(R"(<text x="288.0" y="442.0" text-anchor="middle">10.5</text>)") != std::string::npos);
    const std::vector<std::string> labels = texts(root);
    const std::vector<std::string> expected = {
        "A & B <x>", "sub",  "0.5",  "0.6",  "0.7",  "0.8",          "0.9",   "1.0",    "10.0",
        "10.5",      "11.0", "11.5", "12.0", "step", "balancedness", "first", "second", "rearrangement"};
    CHECK(labels == expected);
    CHECK(
        svg.find(R"(<rect x="72.0" y="64.0" width="864.0" height="340.0" fill="none" stroke="#333333"/>)") !=
        std::string::npos);
}

TEST_CASE("SVG: each series a polyline at its pixel coordinates, its events a row of marks, a legend") {
    const std::string svg = render_line_plot_svg(two_series());
    const XmlElement root = test::parse_xml(svg);
    const std::vector<const XmlElement*> lines = all(root, "polyline");
    REQUIRE(lines.size() == 2);
    CHECK(lines[0]->attrs.at("stroke") == "#0072B2");
    CHECK(lines[0]->attrs.at("points") == "72.0,373.1 504.0,218.5 936.0,64.0");
    CHECK(lines[1]->attrs.at("stroke") == "#D55E00");
    CHECK(lines[1]->attrs.at("points") == "72.0,64.0 504.0,125.8 936.0,187.6");
    // The first series' event at index 1 (x = 11) in the first row of marks under the plot; the
    // second series has none; the legend's key shows three marks.
    const std::vector<const XmlElement*> paths = all(root, "path");
    REQUIRE(paths.size() == 2);
    CHECK(paths[0]->attrs.at("stroke") == "#0072B2");
    CHECK(paths[0]->attrs.at("d") == "M504.0 410.0v6");
    CHECK(paths[1]->attrs.at("d") == "M652.0 464.0v6 M660.0 464.0v6 M668.0 464.0v6");
    CHECK(
        svg.find(R"(<line x1="72.0" y1="470.0" x2="96.0" y2="470.0" stroke="#0072B2" stroke-width="3"/>)") !=
        std::string::npos);
    CHECK(svg.find(
              R"(<line x1="360.0" y1="470.0" x2="384.0" y2="470.0" stroke="#D55E00" stroke-width="3"/>)") !=
          std::string::npos);
    CHECK(svg.find(R"(<text x="678.0" y="474.0">rearrangement</text>)") != std::string::npos);
}

TEST_CASE("SVG: long series are drawn as bucket means at the buckets' centres") {
    LinePlot p;
    p.max_points = 2;  // 5 values: buckets of 3 (x0..x0+2) and 2 (x0+3..x0+4)
    p.series = {{"s", {1.0, 1.0, 1.0, 0.5, 0.5}, {}}};
    const XmlElement root = test::parse_xml(render_line_plot_svg(p));
    const std::vector<const XmlElement*> lines = all(root, "polyline");
    REQUIRE(lines.size() == 1);
    // Centres x = 1 and 3.5 of the axis 0..4; means 1.0 and 0.5 on the axis 0.45..1.
    CHECK(lines[0]->attrs.at("points") == "288.0,64.0 828.0,373.1");
    CHECK(all(root, "path").empty());  // no events, no event label: no marks and no key
}

TEST_CASE("SVG: nothing to plot, or series of different lengths, is an error") {
    LinePlot empty;
    CHECK(test::error_of([&] { render_line_plot_svg(empty); }) == "nothing to plot");
    LinePlot no_values;
    no_values.series = {{"a", {}, {}}};
    CHECK(test::error_of([&] { render_line_plot_svg(no_values); }) ==
          "nothing to plot: the series are empty");
    LinePlot uneven;
    uneven.series = {{"a", {1, 2, 3}, {}}, {"b", {1, 2}, {}}};
    CHECK(test::error_of([&] { render_line_plot_svg(uneven); }) ==
          "plot series 'b' has 2 values, expected 3");
}
