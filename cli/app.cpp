#include "cli/app.hpp"

#include <functional>
#include <iostream>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "backends/registry.hpp"
#include "cli/commands.hpp"
#include "cli/interrupt.hpp"
#include "core/datetime.hpp"
#include "core/errors.hpp"
#include "core/json_codec.hpp"

#ifndef SESSIONCTL_VERSION
#define SESSIONCTL_VERSION "0.0.0"
#endif

namespace sessionctl::cli {

std::string version_text() {
    std::string text = fmt::format("sessionctl {}", SESSIONCTL_VERSION);
    for (const auto& entry : engine_registry())
        text += fmt::format("\n  {:<48} {:<13} {}", entry.engine, entry.open ? "built in" : "not built yet",
                            entry.summary);
    return text;
}

namespace {

constexpr const char* kMainFooter = R"(EXAMPLES
  sessionctl inspect 4x8zyq0wd2m1j5vhn3b7k6c9p0r2s1tq
  sessionctl inspect --user 42
  sessionctl decode --stdin < session_data.txt
  sessionctl create --user 42 --password-hash - <<< "$PASSWORD_COLUMN"
  sessionctl delete --user 42 --dry-run
  sessionctl expire 4x8zyq0wd2m1j5vhn3b7k6c9p0r2s1tq --in 3600
  sessionctl clearsessions --lock /tmp/sessionctl.lock
  sessionctl stats --prometheus > /var/lib/node_exporter/sessions.prom
  sessionctl --config /etc/mysite/sessionctl.json config

CONFIGURATION
  A JSON file of Django setting names: --config FILE, else $SESSIONCTL_CONFIG,
  ./sessionctl.json, $XDG_CONFIG_HOME/sessionctl/config.json, /etc/sessionctl/config.json.
  The secret comes from SECRET_KEY_FILE, $SESSIONCTL_SECRET_KEY or SECRET_KEY in the
  file; never from the command line.

EXIT STATUS
  0 success   1 not found / nothing matched   2 usage or configuration error
  3 store unavailable, locked or timed out    4 bad data (bad signature, malformed)
  5 partial (some items failed)               130 interrupted (SIGINT), 143 (SIGTERM))";

struct Command {
    CLI::App* app;
    std::function<ExitCode(Context&)> run;
};

int fail(std::ostream& err, ExitCode code, const std::string& message) {
    if (!message.empty()) print_error(err, message);
    return to_int(code);
}

}  // namespace

int run(int argc, char** argv) {
    RunHooks hooks;
    hooks.in_is_tty = fd_is_tty(0);
    hooks.out_is_tty = fd_is_tty(1);
    hooks.err_is_tty = fd_is_tty(2);
    return run(argc, argv, std::cin, std::cout, std::cerr, hooks);
}

int run(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err) {
    return run(argc, argv, in, out, err, RunHooks{});
}

int run(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err, const RunHooks& hooks) {
    GlobalOptions global;
    CLI::App app("Administer Django session stores: inspect, decode, create, delete, expire, clear.", "sessionctl");
    app.fallthrough();  // global flags also after the command; set before adding subcommands
    app.set_version_flag("--version", version_text(), "Print the version and the engines built in, and exit");
    app.add_option("--config", global.config_path, "Config file (JSON of Django setting names)")->type_name("FILE");
    app.add_option("--engine", global.engine,
                   "SESSION_ENGINE for this run (db, file, cache, cached_db, signed_cookies or a dotted name)")
        ->type_name("E");
    app.add_option("--set", global.overrides, "Override one setting for this run (not secrets); repeatable")
        ->type_name("KEY=VALUE")
        ->allow_extra_args(false);
    app.add_flag("--json", global.json, "Machine-readable output (JSON; JSON Lines for inspect)");
    auto* quiet = app.add_flag("-q,--quiet", global.quiet, "Print nothing but errors");
    app.add_flag("-v,--verbose", global.verbose, "Say more (keys acted on, skipped records); repeatable")
        ->excludes(quiet);
    app.require_subcommand(0, 1);
    app.footer(kMainFooter);

    InspectArgs inspect_args;
    DecodeArgs decode_args;
    CreateArgs create_args;
    DeleteArgs delete_args;
    ExpireArgs expire_args;
    ClearSessionsArgs clear_args;
    StatsArgs stats_args;
    ConfigArgs config_args;
    const std::vector<Command> commands = {
        {setup_inspect(app, inspect_args), [&](Context& c) { return run_inspect(inspect_args, c); }},
        {setup_decode(app, decode_args), [&](Context& c) { return run_decode(decode_args, c); }},
        {setup_create(app, create_args), [&](Context& c) { return run_create(create_args, c); }},
        {setup_delete(app, delete_args), [&](Context& c) { return run_delete(delete_args, c); }},
        {setup_expire(app, expire_args), [&](Context& c) { return run_expire(expire_args, c); }},
        {setup_clearsessions(app, clear_args), [&](Context& c) { return run_clearsessions(clear_args, c); }},
        {setup_stats(app, stats_args), [&](Context& c) { return run_stats(stats_args, c); }},
        {setup_config(app, config_args), [&](Context& c) { return run_config(config_args, c); }},
    };

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {  // --help, --help-all, --version
        app.exit(e, out, err);
        return to_int(ExitCode::ok);
    } catch (const CLI::ParseError& e) {
        return fail(err, ExitCode::usage, fmt::format("{} (see sessionctl --help)", e.what()));
    }

    const Command* chosen = nullptr;
    for (const auto& c : commands)
        if (c.app->parsed()) chosen = &c;
    if (!chosen)
        return fail(err, ExitCode::usage,
                    "no command given: inspect, decode, create, delete, expire, clearsessions, stats or config (see "
                    "sessionctl --help)");

    Context ctx(global, Io{in, out, err, hooks.in_is_tty, hooks.out_is_tty, hooks.err_is_tty}, hooks.clock,
                hooks.race_hook);
    int code;
    try {
        ExitCode result = chosen->run(ctx);
        // Commands return `interrupted` for either signal; SIGTERM's is 143.
        if (result == ExitCode::interrupted) result = interrupted_exit_code();
        code = to_int(result);
    } catch (const CliError& e) {
        code = fail(err, e.code(), ctx.scrub(e.what()));
    } catch (const ConfigError& e) {
        code = fail(err, ExitCode::usage, ctx.scrub(e.what()));
    } catch (const InvalidSessionKey& e) {
        code = fail(err, ExitCode::usage, ctx.scrub(e.what()));
    } catch (const StoreUnavailable& e) {
        code = fail(err, ExitCode::unavailable, ctx.scrub(e.what()));
    } catch (const StoreMissing& e) {
        // No such database file, directory or table: fix the configuration
        // (or run manage.py migrate); retrying will not help.
        code = fail(err, ExitCode::usage, ctx.scrub(e.what()));
    } catch (const StoreCorrupt& e) {
        code = fail(err, ExitCode::bad_data, ctx.scrub(e.what()));
    } catch (const StoreError& e) {
        // The store answered but refused the operation (read-only, I/O).
        code = fail(err, ExitCode::unavailable, ctx.scrub(e.what()));
    } catch (const SessionError& e) {
        code = fail(err, ExitCode::bad_data, ctx.scrub(e.what()));
    } catch (const JsonEncodeError& e) {
        code = fail(err, ExitCode::bad_data, ctx.scrub(e.what()));
    } catch (const DateTimeError& e) {
        code = fail(err, ExitCode::bad_data, ctx.scrub(e.what()));
    } catch (const std::exception& e) {
        code = fail(err, ExitCode::bad_data, ctx.scrub(fmt::format("unexpected failure: {}", e.what())));
    }
    out.flush();
    err.flush();
    return code;
}

}  // namespace sessionctl::cli
