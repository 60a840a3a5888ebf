// A plain-SVG line plot (no scripts, no external fonts): axes with round ticks, one polyline per
// series, a row of tick marks per series for events (rearrangements), and a legend. Long series
// are drawn as the means of equal buckets so that the file stays small and the lines readable.
#pragma once

#include <string>
#include <vector>

namespace eplb::io {

struct PlotSeries {
    std::string label;
    std::vector<double> y;    // one value per x = x0, x0 + 1, ...
    std::vector<int> events;  // indices into y where an event happened (drawn as marks)
};

struct LinePlot {
    std::string title, subtitle, x_label, y_label, event_label;
    double x0 = 0;          // x of y[0]
    double y_max = 1.0;     // top of the y axis
    double y_floor = 0.0;   // the y axis never starts below this
    int max_points = 2000;  // per series; more values are averaged in buckets
    std::vector<PlotSeries> series;
};

// The SVG document (UTF-8, ends with a newline). Series must all have the same length (>= 1).
std::string render_line_plot_svg(const LinePlot& plot);

}  // namespace eplb::io
