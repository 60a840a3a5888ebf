// The heartbeat record's text and the judge of every rank's record (see rank_liveness.h).
#include "eplb/rank_liveness.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <iterator>

#include "eplb/error.h"

namespace eplb {

namespace {

constexpr std::string_view kHeartbeatMagic = "eplb-heartbeat";
constexpr std::string_view kRankStateNames[] = {"running", "done", "timed_out", "failed"};

// `text` starts with "key=": removes it and returns the value up to the next space (or the end).
std::optional<std::string_view> take_field(std::string_view& text, std::string_view key,
                                           bool to_end = false) {
    if (text.substr(0, key.size()) != key || text.size() <= key.size() || text[key.size()] != '=')
        return std::nullopt;
    text.remove_prefix(key.size() + 1);
    const size_t end = to_end ? text.size() : std::min(text.find(' '), text.size());
    const std::string_view value = text.substr(0, end);
    text.remove_prefix(end);
    if (!text.empty()) text.remove_prefix(1);
    return value;
}

std::optional<int64_t> to_int(std::optional<std::string_view> text) {
    int64_t v = 0;
    if (!text || text->empty()) return std::nullopt;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (ec != std::errc() || end != text->data() + text->size()) return std::nullopt;
    return v;
}

std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", s);
    return buf;
}

std::string in_phase(const Heartbeat& h) { return h.phase.empty() ? "" : " in " + h.phase; }

RankVerdict judge_record(int rank, const RankReading& r, const Heartbeat& h, bool all_joined) {
    const std::string who = "rank " + std::to_string(rank);
    // A fresh record of a process known gone is its last one before it died.
    if (h.state == RankState::kRunning && r.age_s <= kHeartbeatStaleSeconds && r.pid_running != 0)
        return {rank, Liveness::kAlive, who + " alive" + in_phase(h)};
    // Before every rank joined, a record older than the judge's first is an earlier run's.
    if (r.predates && !all_joined)
        return {rank, Liveness::kNeverJoined,
                who + " never joined (its heartbeat file, " + seconds_text(r.age_s) +
                    " old, was left by an earlier run)"};
    switch (h.state) {
        case RankState::kDone:
            return {rank, Liveness::kExited, who + " finished and exited"};
        case RankState::kTimedOut:
            return {rank, Liveness::kTimedOut, who + " timed out too" + in_phase(h)};
        case RankState::kFailed:
            return {rank, Liveness::kFailed, who + " failed" + in_phase(h) + " (see its own error)"};
        case RankState::kRunning:
            break;
    }
    std::string pid = "pid " + std::to_string(h.pid) + " on host " + h.host;
    if (r.pid_running == 0) pid += " gone";
    if (r.pid_running == 1) pid += " still running";
    return {rank, Liveness::kStopped,
            who + " stopped responding " + seconds_text(r.age_s) + " ago" + in_phase(h) + " (" + pid + ")"};
}

}  // namespace

std::string format_heartbeat(const Heartbeat& h) {
    return std::string(kHeartbeatMagic) + " rank=" + std::to_string(h.rank) +
           " pid=" + std::to_string(h.pid) + " host=" + h.host + " beat=" + std::to_string(h.beat) +
           " state=" + std::string(kRankStateNames[static_cast<int>(h.state)]) + " phase=" + h.phase + "\n";
}

std::optional<Heartbeat> parse_heartbeat(std::string_view text) {
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (text.substr(0, kHeartbeatMagic.size() + 1) != std::string(kHeartbeatMagic) + " ") return std::nullopt;
    text.remove_prefix(kHeartbeatMagic.size() + 1);
    Heartbeat h;
    const auto rank = to_int(take_field(text, "rank"));
    const auto pid = to_int(take_field(text, "pid"));
    const auto host = take_field(text, "host");
    const auto beat = to_int(take_field(text, "beat"));
    const auto state = take_field(text, "state");
    const auto phase = take_field(text, "phase", true);
    if (!rank || *rank < 0 || *rank > INT32_MAX || !pid || *pid <= 0 || !host || host->empty() || !beat ||
        !state || !phase || phase->find('\n') != std::string_view::npos)
        return std::nullopt;
    h.rank = static_cast<int>(*rank);
    h.pid = *pid;
    h.host = std::string(*host);
    h.beat = *beat;
    h.phase = std::string(*phase);
    for (size_t s = 0; s < std::size(kRankStateNames); ++s) {
        if (*state == kRankStateNames[s]) {
            h.state = static_cast<RankState>(s);
            return h;
        }
    }
    return std::nullopt;
}

std::vector<RankVerdict> judge_ranks(const std::vector<RankReading>& readings, int self_rank,
                                     bool all_joined) {
    std::vector<RankVerdict> verdicts;
    for (int rank = 0; rank < static_cast<int>(readings.size()); ++rank) {
        const RankReading& r = readings[rank];
        const std::string who = "rank " + std::to_string(rank);
        if (rank == self_rank) {
            verdicts.push_back({rank, Liveness::kSelf, who + " (this one)"});
            continue;
        }
        if (!r.present) {
            verdicts.push_back(
                all_joined
                    ? RankVerdict{rank, Liveness::kExited, who + " exited (no heartbeat file)"}
                    : RankVerdict{rank, Liveness::kNeverJoined, who + " never joined (no heartbeat file)"});
            continue;
        }
        const std::optional<Heartbeat> h = parse_heartbeat(r.text);
        if (!h || h->rank != rank) {
            verdicts.push_back({rank, Liveness::kUnreadable,
                                who + " unknown (heartbeat file holds \"" + printable(r.text) + "\")"});
            continue;
        }
        verdicts.push_back(judge_record(rank, r, *h, all_joined));
    }
    return verdicts;
}

std::string describe_ranks(const std::vector<RankVerdict>& verdicts) {
    std::string lost, other, alive;
    int num_alive = 0, num_others = 0;
    for (const RankVerdict& v : verdicts) {
        if (v.liveness == Liveness::kSelf) continue;
        ++num_others;
        if (v.liveness == Liveness::kAlive) {
            alive += (num_alive++ ? ", " : "") + std::to_string(v.rank);
        } else {
            std::string& to = is_lost(v.liveness) ? lost : other;
            to += (to.empty() ? "" : "; ") + v.text;
        }
    }
    if (num_alive == num_others) return "every rank alive: NCCL itself is stuck (or a link or a GPU)";
    std::string out = lost.empty() ? "no rank lost" : lost;
    if (!other.empty()) out += "; " + other;
    if (num_alive > 0) out += "; " + std::string(num_alive > 1 ? "ranks " : "rank ") + alive + " alive";
    return out;
}

}  // namespace eplb
