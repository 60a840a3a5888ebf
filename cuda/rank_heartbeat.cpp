// The heartbeat files beside the id file (see rank_heartbeat.h): the writer thread and the
// reading a rank takes of every rank's file when its phase times out.
#include "cuda/rank_heartbeat.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <fstream>

#include "eplb/error.h"

namespace eplb::cuda {

namespace fs = std::filesystem;

std::string heartbeat_path(const std::string& id_file, int rank) {
    return id_file + ".rank" + std::to_string(rank);
}

std::string this_host() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "?";
    std::string host = name;
    for (char& c : host) {
        if (c == ' ' || c == '\n') c = '_';  // one field of the record
    }
    return host;
}

int pid_running(int64_t pid) {
    if (pid <= 0 || pid > INT_MAX) return 0;
    return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM ? 1 : 0;
}

HeartbeatWriter::HeartbeatWriter(const std::string& id_file, int rank, double period_s)
    : path_(heartbeat_path(id_file, rank)), period_s_(period_s) {
    record_.rank = rank;
    record_.pid = getpid();
    record_.host = this_host();
    beat_now();
    std::error_code ec;
    first_written_ = fs::last_write_time(path_, ec);
    if (ec)
        EPLB_FAIL_KIND(ErrorKind::kDevice, "cannot write the heartbeat file "
                                               << path_ << " (beside --id-file: every rank must be able to "
                                               << "write that directory)");
    thread_ = std::thread([this] { loop(); });
}

HeartbeatWriter::~HeartbeatWriter() { finish(RankState::kFailed); }

void HeartbeatWriter::set_phase(const std::string& phase) {
    std::lock_guard<std::mutex> lock(mu_);
    record_.phase = phase;
    for (char& c : record_.phase) {
        if (c == '\n') c = ' ';
    }
}

// Failures are ignored here: a record that stops being rewritten is what the peers report.
void HeartbeatWriter::beat_now() {
    std::lock_guard<std::mutex> io(io_mu_);
    std::string text;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (finished_) return;  // checked under io_mu_: the final record is never overwritten
        ++record_.beat;
        text = format_heartbeat(record_);
    }
    write_file(text);
}

bool HeartbeatWriter::finished() {
    std::lock_guard<std::mutex> lock(mu_);
    return finished_;
}

void HeartbeatWriter::finish(RankState state) {
    std::string text;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (finished_) return;
        finished_ = true;
        record_.state = state;
        text = format_heartbeat(record_);
    }
    cv_.notify_all();
    {
        std::lock_guard<std::mutex> io(io_mu_);
        std::error_code ec;
        if (state == RankState::kDone) {
            fs::remove(path_, ec);
        } else {
            write_file(text);
        }
    }
    if (thread_.joinable()) thread_.join();
}

void HeartbeatWriter::write_file(const std::string& text) {
    const std::string tmp = path_ + ".tmp." + std::to_string(record_.pid);
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << text;
        if (!out) return;
    }
    std::error_code ec;
    fs::rename(tmp, path_, ec);
    if (ec) fs::remove(tmp, ec);
}

void HeartbeatWriter::loop() {
    const auto period = std::chrono::duration<double>(period_s_);
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mu_);
            if (cv_.wait_for(lock, period, [&] { return finished_; })) return;
        }
        beat_now();
    }
}

std::vector<RankReading> read_heartbeats(const std::string& id_file, int world_size, fs::file_time_type now,
                                         fs::file_time_type self_start) {
    const std::string host = this_host();
    std::vector<RankReading> readings(static_cast<size_t>(std::max(world_size, 0)));
    for (int rank = 0; rank < world_size; ++rank) {
        RankReading& r = readings[rank];
        const std::string path = heartbeat_path(id_file, rank);
        // Opened before its time is read: on NFS, opening revalidates the cached attributes.
        std::ifstream in(path);
        if (!in) continue;
        std::string text(4096, '\0');
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        text.resize(static_cast<size_t>(in.gcount()));
        std::error_code ec;
        const fs::file_time_type written = fs::last_write_time(path, ec);
        if (ec) continue;
        r.present = true;
        r.text = std::move(text);
        r.age_s = std::max(0.0, std::chrono::duration<double>(now - written).count());
        r.predates = written < self_start;
        const std::optional<Heartbeat> h = parse_heartbeat(r.text);
        if (h && h->host == host) r.pid_running = pid_running(h->pid);
    }
    return readings;
}

std::vector<RankVerdict> judge_world(HeartbeatWriter& self, const std::string& id_file, int self_rank,
                                     int world_size, bool all_joined) {
    self.beat_now();
    std::error_code ec;
    fs::file_time_type now = fs::last_write_time(self.path(), ec);
    if (ec) now = fs::file_time_type::clock::now();
    return judge_ranks(read_heartbeats(id_file, world_size, now, self.first_written()), self_rank,
                       all_joined);
}

std::string describe_world(HeartbeatWriter& self, const std::string& id_file, int self_rank, int world_size,
                           bool all_joined) {
    return describe_ranks(judge_world(self, id_file, self_rank, world_size, all_joined));
}

}  // namespace eplb::cuda
