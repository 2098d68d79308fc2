// sessionctl decode: a session_data value, a session file's content, or a
// signed_cookies cookie value, verified with SECRET_KEY and its fallbacks.

#include <iterator>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/pyvalue_json.hpp"
#include "cli/session_view.hpp"
#include "core/session_codec.hpp"

namespace sessionctl::cli {

CLI::App* setup_decode(CLI::App& parent, DecodeArgs& args) {
    CLI::App* cmd = parent.add_subcommand(
        "decode", "Decode a session_data value, a session file's content, or a signed cookie value");
    auto* blob = cmd->add_option("blob", args.blob, "The encoded value (default: standard input)")->type_name("BLOB");
    cmd->add_flag("--stdin", args.from_stdin, "Read the value from standard input")->excludes(blob);
    auto* cookie = cmd->add_flag("--signed-cookie", args.signed_cookie,
                                 "A signed_cookies engine cookie (its salt; max age SESSION_COOKIE_AGE)");
    cmd->add_option("--salt", args.salt, "Verify with this signing salt instead of the session salt")
        ->type_name("S")
        ->excludes(cookie);
    cmd->add_flag("--no-verify", args.no_verify,
                  "Show the payload even when the signature is bad or absent (marked UNVERIFIED; exit 4 "
                  "unless it verified)");
    cmd->add_option("--max-age", args.max_age, "Reject a value signed more than SECONDS ago")->type_name("SECONDS");
    cmd->footer(R"(EXAMPLES
  sessionctl decode '.eJyrVkrMTcxTslJKSixOTVbSUcpMUbIyMjfQUcorzUnVUSpILC4uzy9KUbKqBgCXRwqD:1r2x3y:abc...'
  sqlite3 db.sqlite3 "select session_data from django_session limit 1" | sessionctl decode --stdin
  sessionctl decode --signed-cookie "$COOKIE_VALUE" --max-age 86400
  sessionctl decode --no-verify --json < /var/lib/mysite/sessions/sessionidabc123...)");
    return cmd;
}

namespace {

std::string read_input(const DecodeArgs& args, Io& io) {
    std::string text;
    if (args.blob) {
        text = *args.blob;
    } else {
        if (!args.from_stdin && io.in_is_tty)
            throw UsageError("give the value to decode as an argument, or pipe it in (--stdin)");
        text.assign(std::istreambuf_iterator<char>(io.in), std::istreambuf_iterator<char>());
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '\t' ||
                             text.back() == '\f' || text.back() == '\v'))
        text.pop_back();
    if (text.empty()) throw UsageError("nothing to decode: the value is empty");
    return text;
}

std::string failure_text(const DecodeResult& r) {
    if (r.status == DecodeStatus::malformed) return fmt::format("malformed value ({}): {}", r.malformed_part, r.error);
    return r.error.empty() ? std::string(to_string(r.status)) : r.error;
}

}  // namespace

ExitCode run_decode(const DecodeArgs& args, Context& ctx) {
    if (args.max_age && *args.max_age < 0) throw UsageError("--max-age must be zero or more seconds");
    const std::string blob = read_input(args, ctx.io());
    const Config& config = ctx.config();
    SessionSettings settings = config.session_settings();

    // No secret is needed to look without verifying.
    bool can_verify = config.has_secret();
    if (!can_verify && !args.no_verify)
        throw ConfigError(
            "no secret key configured (set SECRET_KEY_FILE or $SESSIONCTL_SECRET_KEY), so nothing "
            "can be verified; --no-verify shows the payload unverified");
    SecretKeys keys = can_verify ? config.secret_keys() : SecretKeys{};

    std::string salt = args.signed_cookie ? std::string(kSignedCookiesSalt)
                       : args.salt        ? *args.salt
                                          : session_key_salt(settings.store_class_name);
    SessionCodec codec(std::move(keys), salt, settings.store_class_name, settings.max_inflated_bytes);
    DecodeOptions options;
    if (args.max_age) options.max_age = *args.max_age;
    else if (args.signed_cookie) options.max_age = settings.cookie_age;
    options.now = ctx.clock().now_float();

    // First the real check; with --no-verify, then a look without it.
    DecodeResult checked;
    if (can_verify) {
        checked = codec.decode(blob, options);
    } else {
        checked.status = DecodeStatus::bad_signature;
        checked.error = "not verified: no secret key configured";
    }
    const bool verified_ok = checked.ok();
    DecodeResult shown = checked;
    if (!verified_ok && args.no_verify) {
        DecodeOptions look = options;
        look.verify = false;
        look.max_age.reset();
        shown = codec.decode(blob, look);
    }
    const bool session_value = !args.salt;  // a session must be a dict; a --salt value may be anything
    const bool not_a_dict = shown.ok() && session_value && !shown.data.is_dict();

    if (ctx.json()) {
        ordered_json j = ordered_json::object();
        j["data"] = nullptr;  // rendered exactly below
        std::string with = checked.verified_with();
        j["verified_with"] = verified_ok && !with.empty() ? ordered_json(with) : ordered_json();
        j["timestamp"] = shown.timestamp ? ordered_json(utc_iso(*shown.timestamp * 1'000'000)) : ordered_json();
        j["compressed"] = shown.compressed;
        j["format"] = shown.ok() || verified_ok ? ordered_json(shown.format_name()) : ordered_json();
        j["status"] = !can_verify ? "unverified" : to_string(checked.status);
        j["verified"] = verified_ok;
        j["error"] = verified_ok ? ordered_json() : ordered_json(failure_text(checked));
        ctx.out() << dump_json_with_data(j, shown.ok() ? &shown.data : nullptr) << '\n';
    } else if (shown.ok()) {
        ctx.out() << render_json(shown.data, 2) << '\n';
    }
    ctx.out().flush();

    std::vector<std::string> facts;
    if (verified_ok) facts.push_back("verified with " + verified_with_text(checked));
    if (shown.timestamp) facts.push_back("signed " + utc_text(*shown.timestamp * 1'000'000));
    if (shown.compressed) facts.push_back("compressed");
    if (!ctx.json() && !ctx.quiet() && shown.ok() && verified_ok)
        ctx.io().err << fmt::format("{}", fmt::join(facts, "; ")) << '\n';

    if (!verified_ok) {
        if (args.no_verify && shown.ok()) {
            // Printed even with -q: the payload above must not be mistaken for a verified one.
            print_warning(ctx.io().err,
                          fmt::format("UNVERIFIED: {}{}", failure_text(checked),
                                      facts.empty() ? "" : "; " + fmt::format("{}", fmt::join(facts, "; "))));
        } else {
            ctx.error(failure_text(shown.ok() ? checked : shown));
        }
        return ExitCode::bad_data;
    }
    if (not_a_dict) {
        ctx.warn(fmt::format("the value is {}, not a JSON object: Django reads it as an empty session",
                             type_phrase(shown.data)));
        return ExitCode::bad_data;
    }
    return ExitCode::ok;
}

}  // namespace sessionctl::cli
