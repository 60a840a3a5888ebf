// The lane grid of simulate.h (make_lanes): which policies and loop parameters run side by side,
// and the labels reports give them.
#include "eplb/simulate.h"

#include <sstream>
#include <string>
#include <vector>

#include "eplb/error.h"

namespace eplb {

namespace {

std::string format_threshold(double t) {
    if (t <= 0) return "off";
    std::ostringstream s;
    s << t;
    return s.str();
}

}  // namespace

std::vector<LaneSpec> make_lanes(const std::vector<Policy>& policies, const std::vector<int>& window_sizes,
                                 const std::vector<int>& step_intervals,
                                 const std::vector<double>& thresholds, bool oracle,
                                 const std::vector<bool>& relabel) {
    EPLB_CHECK(!policies.empty(), "no policy to simulate");
    const std::vector<int> windows = window_sizes.empty() ? std::vector<int>{1000} : window_sizes;
    const std::vector<int> intervals = step_intervals.empty() ? std::vector<int>{3000} : step_intervals;
    const std::vector<double> thres = thresholds.empty() ? std::vector<double>{0.0} : thresholds;
    const std::vector<bool> relabels = relabel.empty() ? std::vector<bool>{false} : relabel;
    std::vector<LaneSpec> lanes;
    for (Policy policy : policies) {
        for (int w : windows) {
            for (int i : intervals) {
                for (double t : thres) {
                    for (bool relabelled : relabels) {
                        LaneSpec lane;
                        lane.policy = policy;
                        lane.window_size = w;
                        lane.step_interval = i;
                        lane.threshold = t;
                        lane.relabel = relabelled;
                        lane.label = policy_name(policy);
                        if (windows.size() > 1) lane.label += " w=" + std::to_string(w);
                        if (intervals.size() > 1) lane.label += " i=" + std::to_string(i);
                        if (thres.size() > 1 || t > 0) lane.label += " t=" + format_threshold(t);
                        if (relabelled) lane.label += " relabel";
                        lanes.push_back(lane);
                    }
                }
            }
        }
    }
    if (oracle) {
        for (Policy policy : policies) {
            LaneSpec lane;
            lane.policy = policy;
            lane.oracle = true;
            lane.label = std::string(policy_name(policy)) + " oracle";
            lanes.push_back(lane);
        }
    }
    return lanes;
}

}  // namespace eplb
