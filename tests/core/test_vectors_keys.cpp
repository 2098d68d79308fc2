// keys.json: SessionBase._validate_session_key on odd values, and generated keys.

#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "backends/sql/db_engine.hpp"
#include "backends/sql/memory_table.hpp"
#include "core/clock.hpp"
#include "core/session_base.hpp"
#include "core/session_key.hpp"
#include "tests/support/vector_support.hpp"

using namespace sessionctl;
using vectors::Json;

namespace {

std::string str(const Json& j) { return j.get<std::string>(); }

std::unique_ptr<DbStore> make_store() {
    auto env = SessionEnvironment::make(SessionSettings{}, SecretKeys{"secret", {}},
                                        std::make_shared<FakeClock>(1700000000'750000));
    return std::make_unique<DbStore>(env, std::make_unique<MemoryTable>());
}

bool all_valid_chars(const std::string& key) {
    for (char ch : key)
        if (VALID_KEY_CHARS.find(ch) == std::string_view::npos) return false;
    return true;
}

}  // namespace

TEST_CASE("keys.json: session key validation matches _validate_session_key", "[vectors][keys]") {
    for (const auto& dir : vectors::versions()) {
        const Json& doc = vectors::load(dir, "keys.json");
        INFO(dir.name);
        CHECK(str(doc["VALID_KEY_CHARS"]) == VALID_KEY_CHARS);
        CHECK(doc["generated_key_length"].get<std::size_t>() == SESSION_KEY_LENGTH);
        auto store = make_store();
        for (const auto& v : doc["validate"]) {
            const std::string repr = str(v["input_repr"]);
            INFO("keys.json validate " << repr);
            const Json& after = v["session_key_after_assign"];
            std::optional<std::string> input;
            if (repr == "None") {
                input = std::nullopt;
            } else if (repr.size() >= 2 && repr.front() == '\'' && repr.back() == '\'') {
                input = repr.substr(1, repr.size() - 2);
                REQUIRE(input->find('\\') == std::string::npos);  // no escapes in these reprs
            } else {
                // Python ints (0 -> falsy -> None; 12345678 -> TypeError from len()).
                // Keys are std::string in our API, so a non-str key cannot be passed.
                CHECK((repr == "0" || repr == "12345678"));
                vectors::count_skipped("keys", dir, "validate " + repr,
                                       "non-str key (Python int) is not representable: session keys are strings");
                continue;
            }
            auto session = store->open(input);
            if (after.is_null()) {
                CHECK_FALSE(session->session_key().has_value());
                if (input) CHECK_FALSE(is_valid_session_key(*input));
            } else {
                REQUIRE(input.has_value());
                CHECK(is_valid_session_key(*input));
                REQUIRE(session->session_key().has_value());
                CHECK(*session->session_key() == str(after));
            }
            vectors::count_checked("keys");
        }
        for (const auto& sample : doc["generated_key_samples_unpatched"]) {
            const std::string key = str(sample);
            INFO("Django sample " << key);
            CHECK(key.size() == SESSION_KEY_LENGTH);
            CHECK(all_valid_chars(key));
            CHECK(is_valid_session_key(key));
            CHECK(has_only_valid_key_chars(key));
            vectors::count_checked("keys");
        }
    }
}

TEST_CASE("keys.json: our generated keys have Django's shape", "[vectors][keys]") {
    auto store = make_store();
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        auto session = store->open(std::nullopt);
        session->set("n", PyValue(i));
        session->save();
        REQUIRE(session->session_key().has_value());
        const std::string key = *session->session_key();
        CHECK(key.size() == SESSION_KEY_LENGTH);
        CHECK(all_valid_chars(key));
        CHECK(seen.insert(key).second);
    }
}
