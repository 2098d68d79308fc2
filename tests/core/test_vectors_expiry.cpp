// expiry.json: get_expiry_age / get_expiry_date / get_expire_at_browser_close
// for many _session_expiry values and settings, and what set_expiry() stores,
// in 3.2 (DjangoSeries::v3_2: an ISO string is not a date there) and main.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>

#include "backends/sql/db_engine.hpp"
#include "backends/sql/memory_table.hpp"
#include "core/clock.hpp"
#include "core/datetime.hpp"
#include "core/errors.hpp"
#include "core/expiry.hpp"
#include "core/session_base.hpp"
#include "tests/support/vector_support.hpp"

using namespace sessionctl;
using vectors::Json;

namespace {

std::string str(const Json& j) { return j.get<std::string>(); }

// The generator ran with TIME_ZONE (hence TZ) = UTC: with USE_TZ=False,
// timezone.now() is the naive UTC wall clock. Restores TZ afterwards.
class TzGuard {
public:
    explicit TzGuard(const char* tz) {
        if (const char* old = std::getenv("TZ")) old_ = old;
        ::setenv("TZ", tz, 1);
        ::tzset();
    }
    ~TzGuard() {
        if (old_) ::setenv("TZ", old_->c_str(), 1);
        else ::unsetenv("TZ");
        ::tzset();
    }
    TzGuard(const TzGuard&) = delete;
    TzGuard& operator=(const TzGuard&) = delete;

private:
    std::optional<std::string> old_;
};

struct Fixture {
    std::shared_ptr<FakeClock> clock;
    std::shared_ptr<const SessionEnvironment> env;
    std::unique_ptr<DbStore> store;
    std::unique_ptr<SessionBase> session;
};

Fixture make_fixture(const vectors::VersionDir& dir, const Json& doc, const Json& c) {
    SessionSettings settings;
    settings.series = dir.is_3_2 ? DjangoSeries::v3_2 : DjangoSeries::current;
    settings.use_tz = c["USE_TZ"].get<bool>();
    settings.cookie_age = doc.value("SESSION_COOKIE_AGE_default", std::int64_t{1209600});
    if (c.contains("settings")) {
        const Json& s = c["settings"];
        if (s.contains("SESSION_COOKIE_AGE")) settings.cookie_age = s["SESSION_COOKIE_AGE"].get<std::int64_t>();
        if (s.contains("SESSION_EXPIRE_AT_BROWSER_CLOSE"))
            settings.expire_at_browser_close = s["SESSION_EXPIRE_AT_BROWSER_CLOSE"].get<bool>();
        for (auto it = s.begin(); it != s.end(); ++it) {
            INFO("setting " << it.key());
            CHECK((it.key() == "SESSION_COOKIE_AGE" || it.key() == "SESSION_EXPIRE_AT_BROWSER_CLOSE"));
        }
    }
    Fixture f;
    f.clock = std::make_shared<FakeClock>(static_cast<std::int64_t>(std::llround(c["now"].get<double>() * 1e6)));
    f.env = SessionEnvironment::make(
        settings, SecretKeys{doc["meta"]["secret_key_used_unless_stated"].get<std::string>(), {}}, f.clock);
    f.store = std::make_unique<DbStore>(f.env, std::make_unique<MemoryTable>());
    f.session = f.store->open(std::nullopt);
    return f;
}

std::string python_class(const Json& outcome) {
    std::string cls = str(outcome["exception"]);
    if (cls.rfind("builtins.", 0) == 0) cls.erase(0, 9);
    return cls;
}

// Calls `fn` and compares with Django's {"result": ...} / {"exception": ...}.
template <typename Fn, typename Compare>
void check_call(const Json& outcome, Fn fn, Compare compare) {
    if (outcome.contains("exception")) {
        INFO("Django raised " << str(outcome["exception"]) << ": " << outcome.value("exception_message", ""));
        try {
            (void)fn();
            FAIL("expected " << python_class(outcome));
        } catch (const ExpiryError& e) {
            CHECK(e.python_class() == python_class(outcome));
        }
        return;
    }
    try {
        compare(fn(), outcome["result"]);
    } catch (const ExpiryError& e) {
        FAIL("unexpected " << e.python_class() << ": " << e.what());
    }
}

// set_expiry()'s argument from the vector's repr.
ExpiryValue parse_value_repr(const std::string& repr) {
    if (repr == "None") return std::monostate{};
    static const std::regex integer(R"(-?\d+)");
    static const std::regex timedelta(R"(datetime\.timedelta\((?:days=(-?\d+))?(?:, )?(?:seconds=(\d+))?\))");
    static const std::regex datetime(
        R"(datetime\.datetime\((\d+), (\d+), (\d+), (\d+), (\d+), (\d+)(?:, (\d+))?(, tzinfo=(?:datetime\.timezone\.utc|<UTC>))?\))");
    std::smatch m;
    if (std::regex_match(repr, m, integer)) return static_cast<std::int64_t>(std::stoll(repr));
    if (std::regex_match(repr, m, timedelta)) {
        std::int64_t days = m[1].matched ? std::stoll(m[1].str()) : 0;
        std::int64_t seconds = m[2].matched ? std::stoll(m[2].str()) : 0;
        return ExpiryDuration{(days * 86400 + seconds) * 1'000'000};
    }
    if (std::regex_match(repr, m, datetime)) {
        auto n = [&](int i) { return std::stoll(m[i].str()); };
        std::int64_t wall = days_from_civil(n(1), unsigned(n(2)), unsigned(n(3))) * 86400 * 1'000'000 +
                            (n(4) * 3600 + n(5) * 60 + n(6)) * 1'000'000 + (m[7].matched ? n(7) : 0);
        DateTime dt{wall, std::nullopt};
        if (m[8].matched) dt.utc_offset = 0;
        return dt;
    }
    throw std::runtime_error("unparsed set_expiry value " + repr);
}

PyDict current_dict(SessionBase& s) {
    PyDict d;
    for (auto& [k, v] : s.items()) d.set(k, v);
    return d;
}

}  // namespace

TEST_CASE("expiry.json: get_expiry_age/date and expire_at_browser_close match Django", "[vectors][expiry]") {
    TzGuard tz("UTC");
    for (const auto& dir : vectors::versions()) {
        const Json& doc = vectors::load(dir, "expiry.json");
        for (const auto& c : doc["cases"]) {
            const std::string id = str(c["id"]);
            INFO(dir.name << " expiry.json " << id << " " << str(c["session_repr"]));
            if (c["session"].is_null()) {
                // e.g. {'_session_expiry': datetime.datetime(...)}: only possible
                // with pickle-based storage; a JSON session holds no datetime.
                CHECK(str(c["session_repr"]).find("datetime.datetime(") != std::string::npos);
                vectors::count_skipped("expiry", dir, id,
                                       "_session_expiry is a pickled datetime object (cache engine/PickleSerializer); "
                                       "out of scope for the JSON core");
                continue;
            }
            Fixture f = make_fixture(dir, doc, c);
            SessionBase& s = *f.session;
            for (auto it = c["session"].begin(); it != c["session"].end(); ++it)
                s.set(it.key(), vectors::to_py(it.value()));

            ExpiryQuery query;
            if (!c["modification"].is_null()) {
                query.modification = parse_isoformat(str(c["modification"]));
                // Django's modification is timezone.now() at the frozen time.
                CHECK(*query.modification == f.env->now());
            }

            check_call(
                c["get_expiry_age"], [&] { return s.get_expiry_age(query); },
                [](const PyValue& age, const Json& expected) {
                    // int, float, True or (3.2) the string itself: type and value.
                    CHECK(age == vectors::to_py(expected));
                    CHECK(age.type_name() == std::string(vectors::to_py(expected).type_name()));
                });
            check_call(
                c["get_expiry_date"], [&] { return s.get_expiry_date(query); },
                [](const DateTime& date, const Json& expected) { CHECK(date.isoformat() == str(expected)); });
            check_call(
                c["get_expire_at_browser_close"], [&] { return s.get_expire_at_browser_close(); },
                [](bool at_close, const Json& expected) { CHECK(at_close == expected.get<bool>()); });

            // The free functions the stores use give the same answers.
            const PyValue stored_value = s.get(SessionBase::EXPIRY_KEY);
            const PyValue* stored = stored_value.is_none() ? nullptr : &stored_value;
            const DateTime modification = query.modification ? *query.modification : f.env->now();
            check_call(
                c["get_expiry_age"], [&] { return expiry_age(stored, modification, f.env->settings); },
                [](const PyValue& age, const Json& expected) { CHECK(age == vectors::to_py(expected)); });
            check_call(
                c["get_expiry_date"], [&] { return expiry_date(stored, modification, f.env->settings); },
                [](const DateTime& date, const Json& expected) { CHECK(date.isoformat() == str(expected)); });
            vectors::count_checked("expiry");
        }
    }
}

TEST_CASE("expiry.json: set_expiry stores Django's value and encodes to its bytes", "[vectors][expiry]") {
    TzGuard tz("UTC");
    for (const auto& dir : vectors::versions()) {
        const Json& doc = vectors::load(dir, "expiry.json");
        for (const auto& c : doc["set_expiry"]) {
            const std::string id = str(c["id"]);
            INFO(dir.name << " expiry.json set_expiry " << id << " " << str(c["value_repr"]));
            CHECK(c["set_expiry"]["result"].is_null());
            if (str(c["stored_type"]) == "datetime") {
                // 3.2 stores the datetime object itself, which JSONSerializer
                // cannot encode: no JSON session written by 3.2 can hold it.
                // sessionctl writes the >= 4.1 ISO form (checked on the 6.1 side).
                CHECK(dir.is_3_2);
                CHECK(str(c["encode_with_JSONSerializer"]["exception"]) == "builtins.TypeError");
                vectors::count_skipped("expiry", dir, "set_expiry/" + id,
                                       "3.2 stores a datetime object that JSONSerializer cannot encode (TypeError); "
                                       "not representable in a JSON session");
                continue;
            }
            Fixture f = make_fixture(dir, doc, c);
            SessionBase& s = *f.session;
            s.set_expiry(parse_value_repr(str(c["value_repr"])));
            if (c["stored_value"].is_string() && str(c["stored_value"]) == "<absent>") {
                CHECK_FALSE(s.contains(SessionBase::EXPIRY_KEY));
            } else {
                const PyValue stored = s.get(SessionBase::EXPIRY_KEY);
                CHECK(stored == vectors::to_py(c["stored_value"]));
                CHECK(stored.type_name() == str(c["stored_type"]));
            }
            CHECK(s.encode(current_dict(s)) == str(c["encode_with_JSONSerializer"]["result"]));
            vectors::count_checked("expiry");
        }
    }
}
