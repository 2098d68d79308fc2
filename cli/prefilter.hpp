#pragma once

// The scan prefilter of inspect and delete (--user, --where): most stored
// sessions can be ruled out on their verified, inflated JSON text, without
// the parse and the Python values a full decode builds. It only ever rules
// out: every session it lets through is decoded and matched in full, and a
// session it rules out is one the full decode would not have matched (never a
// miss: tests/test_cli_stats.cpp checks both on randomized corpora).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/store.hpp"
#include "cli/matchers.hpp"
#include "core/config.hpp"
#include "core/signer.hpp"

namespace sessionctl::cli {

class Prefilter {
public:
    // `signer`: the session salt with every secret key (SECRET_KEY and fallbacks).
    Prefilter(Signer signer, const SessionFilter& filter);

    // Whether anything can be ruled out early for this filter at all.
    [[nodiscard]] bool active() const { return user_.has_value() || !where_needles_.empty() || logins_only_; }
    // True only when the full decode of `blob` could not match the filter.
    [[nodiscard]] bool rejects(std::string_view blob) const;

private:
    Signer signer_;
    std::optional<std::string> user_;
    // --dead: a session without "_auth_user_id" is anonymous, never dead;
    // one whose login fields (read from the text) Django accepts is not dead.
    bool logins_only_ = false;
    const LoginChecker* dead_ = nullptr;
    // Per string-valued --where clause: the texts `"S"` one of which a plain
    // JSON text holding a matching value must contain.
    std::vector<std::vector<std::string>> where_needles_;
};

// The prefilter for a scan of `store` with `filter`, when it can rule anything
// out: a filter is given and the store holds signed session_data.
[[nodiscard]] std::optional<Prefilter> prefilter_for(const SessionFilter& filter, const Store& store,
                                                     const Config& config);

// The --user test alone (the tests call it directly).
bool user_prefilter_rejects(const Signer& signer, std::string_view blob, std::string_view user);

}  // namespace sessionctl::cli
