// SVG line plot (see svg_plot.h).
#include "io/svg_plot.h"

#include <algorithm>
#include <cmath>

#include "eplb/error.h"
#include "io/junit.h"  // xml_escape
#include "io/report.h"

namespace eplb::io {

namespace {

// Colour-blind-friendly categorical palette (Okabe-Ito, then Tableau's for more series).
const char* const kColors[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
                               "#000000", "#8c564b", "#7f7f7f", "#bcbd22", "#17becf", "#9467bd"};
constexpr int kNumColors = sizeof(kColors) / sizeof(kColors[0]);

// A round step (1, 2 or 5 times a power of ten) that cuts `range` into about `parts` pieces.
double nice_step(double range, int parts) {
    const double raw = range / parts;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0, 10.0}) {
        if (m * magnitude >= raw) return m * magnitude;
    }
    return 10.0 * magnitude;
}

std::string tick_label(double v, double step) {
    if (std::abs(v) < step * 1e-6) v = 0.0;  // no "-0"
    if (step >= 1) return format("%.0f", v);
    const int decimals = std::clamp(static_cast<int>(std::ceil(-std::log10(step) - 1e-9)), 0, 6);
    return format("%.*f", decimals, v);
}

}  // namespace

std::string render_line_plot_svg(const LinePlot& plot) {
    EPLB_CHECK(!plot.series.empty(), "nothing to plot");
    const size_t n = plot.series.front().y.size();
    EPLB_CHECK(n >= 1, "nothing to plot: the series are empty");
    for (const PlotSeries& s : plot.series) {
        EPLB_CHECK(s.y.size() == n,
                   "plot series '" << s.label << "' has " << s.y.size() << " values, expected " << n);
    }
    const int num_series = static_cast<int>(plot.series.size());
    const size_t bucket = std::max<size_t>(1, (n + plot.max_points - 1) / std::max(1, plot.max_points));
    const size_t num_points = (n + bucket - 1) / bucket;

    // Bucket means: x at the bucket's centre.
    std::vector<std::vector<double>> ys(num_series, std::vector<double>(num_points));
    std::vector<double> xs(num_points);
    double lo = plot.y_max;
    for (size_t p = 0; p < num_points; ++p) {
        const size_t a = p * bucket, b = std::min(n, a + bucket);
        xs[p] = plot.x0 + (static_cast<double>(a) + static_cast<double>(b - 1)) / 2.0;
        for (int k = 0; k < num_series; ++k) {
            double sum = 0;
            for (size_t i = a; i < b; ++i) sum += plot.series[k].y[i];
            ys[k][p] = sum / static_cast<double>(b - a);
            if (std::isfinite(ys[k][p])) lo = std::min(lo, ys[k][p]);
        }
    }
    // y axis: from a round value under the lowest point to y_max.
    double y_lo = std::max(plot.y_floor, std::floor((lo - 0.005) * 20.0) / 20.0);
    if (y_lo > plot.y_max - 0.05) y_lo = std::max(plot.y_floor, plot.y_max - 0.1);
    const double y_hi = plot.y_max;
    const double x_lo = plot.x0, x_hi = plot.x0 + std::max<double>(1.0, static_cast<double>(n - 1));

    // Layout (pixels).
    constexpr double kWidth = 960, kLeft = 72, kRight = 24, kTop = 64, kPlotHeight = 340;
    constexpr double kRugRow = 8, kLegendRow = 20;
    const double plot_w = kWidth - kLeft - kRight;
    const double plot_bottom = kTop + kPlotHeight;
    const double rug_top = plot_bottom + 6, rug_bottom = rug_top + kRugRow * num_series;
    const int legend_columns = 3;
    const double legend_item = plot_w / legend_columns;
    const int legend_rows = (num_series + 1 + legend_columns - 1) / legend_columns;  // + the event key
    const double legend_top = rug_bottom + 48;
    const double height = legend_top + legend_rows * kLegendRow + 12;
    auto px = [&](double x) { return kLeft + (x - x_lo) / (x_hi - x_lo) * plot_w; };
    auto py = [&](double y) {
        return plot_bottom - (std::clamp(y, y_lo, y_hi) - y_lo) / (y_hi - y_lo) * kPlotHeight;
    };

    std::string svg;
    svg += format(
        R"(<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" )",
        kWidth, height, kWidth, height);
    svg += R"(font-family="Helvetica, Arial, sans-serif" font-size="12">)"
           "\n";
    svg += format(R"(<rect x="0" y="0" width="%.0f" height="%.0f" fill="#ffffff"/>)", kWidth, height) + "\n";
    svg += format(R"(<text x="%.0f" y="24" font-size="16" font-weight="bold">)", kLeft) +
           xml_escape(plot.title) + "</text>\n";
    svg +=
        format(R"(<text x="%.0f" y="44" fill="#555555">)", kLeft) + xml_escape(plot.subtitle) + "</text>\n";

    // Grid and y ticks.
    const double y_step = nice_step(y_hi - y_lo, 6);
    svg += R"(<g stroke="#e5e5e5" stroke-width="1">)"
           "\n";
    std::string y_labels;
    for (double y = std::ceil(y_lo / y_step - 1e-9) * y_step; y <= y_hi + 1e-9; y += y_step) {
        svg += format(R"(<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>)", kLeft, py(y), kLeft + plot_w,
                      py(y)) +
               "\n";
        y_labels += format(R"(<text x="%.1f" y="%.1f" text-anchor="end">%s</text>)", kLeft - 6, py(y) + 4,
                           tick_label(y, y_step).c_str()) +
                    "\n";
    }
    const double x_step = nice_step(x_hi - x_lo, 8);
    std::string x_labels;
    for (double x = std::ceil(x_lo / x_step - 1e-9) * x_step; x <= x_hi + 1e-9; x += x_step) {
        svg += format(R"(<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>)", px(x), kTop, px(x), plot_bottom) +
               "\n";
        x_labels += format(R"(<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>)", px(x),
                           rug_bottom + 16, tick_label(x, x_step).c_str()) +
                    "\n";
    }
    svg += "</g>\n<g fill=\"#333333\">\n" + y_labels + x_labels + "</g>\n";
    svg += format(R"(<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333333"/>)",
                  kLeft, kTop, plot_w, kPlotHeight) +
           "\n";
    svg += format(R"(<text x="%.1f" y="%.1f" text-anchor="middle" fill="#333333">)", kLeft + plot_w / 2,
                  rug_bottom + 34) +
           xml_escape(plot.x_label) + "</text>\n";
    svg +=
        format(
            R"svg(<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle" fill="#333333">)svg",
            kTop + kPlotHeight / 2) +
        xml_escape(plot.y_label) + "</text>\n";

    // Series: the line, then its row of event marks under the plot.
    for (int k = 0; k < num_series; ++k) {
        const char* color = kColors[k % kNumColors];
        svg +=
            format(R"(<polyline fill="none" stroke="%s" stroke-width="1.5" stroke-linejoin="round" points=")",
                   color);
        for (size_t p = 0; p < num_points; ++p) {
            if (p > 0) svg += ' ';
            svg += format("%.1f,%.1f", px(xs[p]), py(ys[k][p]));
        }
        svg += "\"/>\n";
        const auto& events = plot.series[k].events;
        if (!events.empty()) {
            const double y0 = rug_top + k * kRugRow;
            svg += format(R"(<path stroke="%s" stroke-width="1" d=")", color);
            for (size_t i = 0; i < events.size(); ++i) {
                if (i > 0) svg += ' ';
                svg += format("M%.1f %.1fv%.0f", px(plot.x0 + events[i]), y0, kRugRow - 2);
            }
            svg += "\"/>\n";
        }
    }

    // Legend: one item per series, then what the marks mean.
    for (int k = 0; k <= num_series; ++k) {
        const double x = kLeft + (k % legend_columns) * legend_item,
                     y = legend_top + (k / legend_columns) * kLegendRow;
        if (k < num_series) {
            svg += format(R"(<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>)",
                          x, y - 4, x + 24, y - 4, kColors[k % kNumColors]) +
                   "\n";
            svg += format(R"(<text x="%.1f" y="%.1f">)", x + 30, y) + xml_escape(plot.series[k].label) +
                   "</text>\n";
        } else if (!plot.event_label.empty()) {
            svg +=
                format(R"(<path stroke="#333333" d="M%.1f %.1fv%.0f M%.1f %.1fv%.0f M%.1f %.1fv%.0f"/>)",
                       x + 4, y - 10, kRugRow - 2, x + 12, y - 10, kRugRow - 2, x + 20, y - 10, kRugRow - 2) +
                "\n";
            svg +=
                format(R"(<text x="%.1f" y="%.1f">)", x + 30, y) + xml_escape(plot.event_label) + "</text>\n";
        }
    }
    svg += "</svg>\n";
    return svg;
}

}  // namespace eplb::io
