// SessionBase::create_by_saving, the create() every engine shares: a new key
// per CreateError, modified on success, and a limit when one is given.

#include <memory>
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "core/clock.hpp"
#include "core/errors.hpp"
#include "core/session_base.hpp"

namespace {

using namespace sessionctl;

// save(must_create) refuses the first `taken` keys, as a store whose keys
// were taken meanwhile would.
class CollidingSession final : public SessionBase {
public:
    CollidingSession(std::shared_ptr<const SessionEnvironment> env, int taken, std::optional<int> limit)
        : SessionBase(std::nullopt, std::move(env)), taken_(taken), limit_(limit) {}
    std::set<std::string> tried;
    bool created = false;

    bool exists(std::string_view) override { return false; }
    void create() override { created = create_by_saving(limit_); }
    void save(bool must_create) override {
        REQUIRE(must_create);
        tried.insert(*session_key());
        if (static_cast<int>(tried.size()) <= taken_) throw CreateError("taken");
    }
    void delete_session(const std::optional<std::string>&) override {}
    PyDict load() override { return {}; }
    void clear_expired() override {}

private:
    int taken_;
    std::optional<int> limit_;
};

}  // namespace

TEST_CASE("create_by_saving tries a new key after each CreateError, up to a limit", "[core][session_base]") {
    auto env = SessionEnvironment::make(SessionSettings{}, SecretKeys{"secret-for-create-tests", {}},
                                        std::make_shared<FakeClock>(1'700'000'000'000'000));
    CollidingSession lucky(env, 3, std::nullopt);
    lucky.create();
    CHECK(lucky.created);
    CHECK(lucky.tried.size() == 4);  // three taken, a fresh key each time, the fourth saved
    CHECK(lucky.tried.count(*lucky.session_key()) == 1);
    CHECK(lucky.modified());

    CollidingSession unlucky(env, 10, 5);
    unlucky.create();
    CHECK_FALSE(unlucky.created);
    CHECK(unlucky.tried.size() == 5);
    CHECK_FALSE(unlucky.modified());
}
