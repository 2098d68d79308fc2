#include "backends/redis/redis_sentinel.hpp"

#include <cstdlib>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "backends/redis/redis_connection.hpp"
#include "core/errors.hpp"

namespace sessionctl {
namespace {

std::string reply_text(const redisReply& r) { return std::string(r.str ? r.str : "", r.str ? r.len : 0); }

}  // namespace

SentinelAnswer ask_sentinels_for_primary(const RedisSentinelSettings& settings, const RedisEndpoint& server) {
    std::vector<std::string> failures;
    bool answered = false;
    for (const auto& [host, port] : settings.sentinels) {
        RedisEndpoint ep = settings.sentinel_template;
        ep.host = host;
        ep.port = port;
        ep.db = 0;
        const std::string name = fmt::format("{}:{}", host, port);
        try {
            RedisConnection sentinel(ep);
            if (ep.password) {
                if (ep.username.empty()) sentinel.append({"AUTH", *ep.password});
                else sentinel.append({"AUTH", ep.username, *ep.password});
                RedisReply auth = sentinel.read_reply();
                if (auth->type == REDIS_REPLY_ERROR) {
                    failures.push_back(
                        fmt::format("{} refused the password (SENTINEL_KWARGS): {}", name, reply_text(*auth)));
                    continue;
                }
            }
            sentinel.append({"SENTINEL", "get-master-addr-by-name", settings.service});
            RedisReply r = sentinel.read_reply();
            answered = true;
            if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
                r->element[1]->type == REDIS_REPLY_STRING) {
                const std::string port_text = reply_text(*r->element[1]);
                SentinelAnswer answer{server, name};
                answer.primary.host = reply_text(*r->element[0]);
                answer.primary.port = std::atoi(port_text.c_str());
                answer.primary.unix_path.clear();
                answer.primary.via = fmt::format("primary of '{}' by sentinel {}", settings.service, name);
                return answer;
            }
            failures.push_back(r->type == REDIS_REPLY_ERROR
                                   ? fmt::format("{} answered: {}", name, reply_text(*r))
                                   : fmt::format("{} does not monitor '{}'", name, settings.service));
        } catch (const StoreUnavailable& e) {
            failures.push_back(fmt::format("{}: {}", name, e.what()));
        }
    }
    std::string why;
    for (const auto& f : failures) why += (why.empty() ? "" : "; ") + f;
    const std::string message =
        fmt::format("no sentinel gave the primary of '{}' (OPTIONS SENTINELS): {}", settings.service, why);
    if (answered) throw StoreError(message);
    throw StoreUnavailable(message);
}

}  // namespace sessionctl
