// The placement policies: the names users type, and the exact `deepseek` policy of DESIGN.md
// with its two building blocks exposed for tests and for other policies.
#pragma once

#include <string>
#include <string_view>

#include "eplb/config.h"
#include "eplb/names.h"
#include "eplb/placement.h"
#include "eplb/types.h"

namespace eplb {

enum class Policy {
    kDeepseek,  // DeepSeek's EPLB, canonical semantics of DESIGN.md (bit-exact)
    kBalanced,  // near-optimal counts and packing, no duplicate replicas where possible (balanced.h)
    kRobust,    // for the worst of several workloads (robust.h); one workload: balanced
};

// The names users type (--policy, "policy" in config and check files); one line per policy.
inline constexpr NamedValue<Policy> kPolicyNames[] = {
    {"deepseek", Policy::kDeepseek},
    {"balanced", Policy::kBalanced},
    {"robust", Policy::kRobust},
};

inline const char* policy_name(Policy policy) { return name_in<Policy>(kPolicyNames, policy); }

// The policy named `text` (any case); invalid input naming `what` and the known names otherwise.
inline Policy parse_policy(std::string_view text, std::string_view what) {
    return parse_name<Policy>(kPolicyNames, text, what);
}

// Result of balanced_packing: for each item (row r, item i) its pack and its rank in the pack.
struct Packing {
    IndexMatrix pack_index;    // [X][n]
    IndexMatrix rank_in_pack;  // [X][n]
};

// Packs the n items of every row of `weight` [X][n] onto num_packs packs of n/num_packs items each:
// items by weight descending (equal weights: lower index first), each to the least-loaded pack that
// still has room (ties: lowest pack index), pack weights accumulated in float32 in pick order.
// With one item per pack, item i goes to pack i (no sorting).
Packing balanced_packing(const LoadMatrix& weight, int num_packs);

// Result of replicate_experts for weight [X][n] and r slots.
struct Replication {
    IndexMatrix phy2log;  // [X][r] slot i < n holds expert i; slot n+j the j-th extra replica
    IndexMatrix phyrank;  // [X][r] replica rank: the expert's count before the increment
    IndexMatrix logcnt;   // [X][n] replicas per expert (>= 1, sums to r)
};

// Gives each of the r - n extra slots to the expert maximising weight/logcnt (float32 division;
// ties: lowest index), one at a time.
Replication replicate_experts(const LoadMatrix& weight, int num_physical);

// DeepSeek's rebalance_experts for loads [L][E] (any number of independent rows): hierarchical
// when config.hierarchical(), else the same procedure with one group and one node.
// `config` must be valid (ParallelConfig::validate) and loads finite and >= 0.
Placement plan_deepseek(const LoadMatrix& load, const ParallelConfig& config);
// The same into `out`, reusing its storage when the shapes match.
void plan_deepseek_into(const LoadMatrix& load, const ParallelConfig& config, Placement& out);

// Checks that loads are finite and >= 0; names the first bad (row, expert) and value.
void validate_loads(const LoadMatrix& load, const char* what = "load");

}  // namespace eplb
