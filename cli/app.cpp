#include "cli/app.hpp"

#include <algorithm>
#include <functional>
#include <iostream>
#include <optional>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "backends/registry.hpp"
#include "cli/commands.hpp"
#include "cli/interrupt.hpp"
#include "cli/output.hpp"
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
        text += fmt::format("\n  {:<48} {:<13} {}", entry.engine, "built in", entry.summary);
    return text;
}

namespace {

constexpr const char* kMainFooter = R"(EXAMPLES
  sessionctl inspect 4x8zyq0wd2m1j5vhn3b7k6c9p0r2s1tq
  sessionctl inspect --user 42
  sessionctl decode --stdin < session_data.txt
  sessionctl create --user 42 --storage-state state.json --url http://localhost:8000/
  sessionctl delete --user 42 --dry-run
  sessionctl delete --dead
  sessionctl rekey --dry-run
  sessionctl expire 4x8zyq0wd2m1j5vhn3b7k6c9p0r2s1tq --in 3600
  sessionctl clearsessions --lock /tmp/sessionctl.lock
  sessionctl stats --prometheus > /var/lib/node_exporter/sessions.prom
  sessionctl copy --to /etc/mysite/sessionctl-redis.json
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

// ---- the command line never echoes a value
//
// A value on the command line may be a secret typed where it does not belong:
// after a misspelled option (`--secrte-key S3CRET`), attached to one
// (`--secret=S3CRET`), or out of place. So errors about the command line name
// options (the text up to '=', or a short option's two characters) and never
// show an argument that is not one, nor what follows '='.

// `arg` is an option as CLI11 reads it ("--name", "--name=value", "-x",
// "-xVALUE"): its name, without the value. "-", "--" and anything else: none.
std::optional<std::string_view> option_name(std::string_view arg) {
    if (arg.size() < 2 || arg[0] != '-') return std::nullopt;
    if (arg[1] != '-') return arg.substr(0, 2);
    if (arg.size() == 2) return std::nullopt;
    return arg.substr(0, arg.find('='));
}

// The secret's options people try (--secret-key, --secret, in any case, with
// '_' for '-'): refused by name before CLI11 parses, wherever they are on the
// command line, so the value after them is never parsed, kept or shown.
std::optional<std::string_view> secret_option(std::string_view arg) {
    const auto name = option_name(arg);
    if (!name || name->size() < 3 || (*name)[1] != '-') return std::nullopt;
    std::string normal;
    for (char c : *name) normal += c == '_' ? '-' : (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    for (std::string_view refused : {"--secret", "--secret-key", "--secret-key-fallbacks"})
        if (normal == refused) return name;
    return std::nullopt;
}

std::string refused_secret_option(std::string_view name) {
    return fmt::format(
        "{} is not accepted: secrets never go on the command line (they would show in ps); use SECRET_KEY_FILE "
        "in the config or the SESSIONCTL_SECRET_KEY environment variable",
        printable(name));
}

// CLI11's ExtrasError lists every argument it did not expect, values too.
// This names the unknown options among them and only counts the rest.
std::string unexpected_arguments(const CLI::App& app, int argc, char** argv) {
    // After "--" everything is an argument, even if it starts with '-'.
    std::vector<std::string_view> before_mark;
    for (int i = 1; i < argc && std::string_view(argv[i]) != "--"; ++i) before_mark.emplace_back(argv[i]);
    std::vector<std::string> options;
    std::size_t others = 0;
    for (const std::string& extra : app.remaining(/*recurse=*/true)) {
        const bool option_position = std::find(before_mark.begin(), before_mark.end(), extra) != before_mark.end();
        const auto name = option_position ? option_name(extra) : std::nullopt;
        if (name) options.push_back(printable(*name, 60));
        else ++others;
    }
    std::string text;
    if (!options.empty())
        text = fmt::format("unknown option{} {}", options.size() == 1 ? "" : "s", fmt::join(options, ", "));
    if (others > 0 || options.empty())
        text += fmt::format("{}{}, not shown", text.empty() ? "" : " and ",
                            count_of(others > 0 ? others : 1, "unexpected argument"));
    return text;
}

// CLI11's ConversionError and ValidationError quote the value they refused:
// "Could not convert: --limit = many", "The value X is not an allowed value
// for --x", "--x: <validator's words about the value>". This says which of the
// options defined on `app` or its commands it was, without the value.
std::string invalid_value(const CLI::App& app, std::string_view what) {
    const auto starts = [&](const std::string& prefix) { return what.substr(0, prefix.size()) == prefix; };
    const auto ends = [&](const std::string& suffix) {
        return what.size() >= suffix.size() && what.substr(what.size() - suffix.size()) == suffix;
    };
    std::vector<const CLI::App*> apps = {&app};
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) apps.push_back(sub);
    for (const CLI::App* a : apps) {
        for (const CLI::Option* option : a->get_options()) {
            const std::string name = option->get_name();
            if (name.empty() || !(starts(name + ":") || starts("Could not convert: " + name + " = ") ||
                                  ends(" is not an allowed value for " + name)))
                continue;
            const std::string type = option->get_type_name();
            return fmt::format("invalid value for {}, not shown: {}", name,
                               type.empty() ? "a flag takes no value" : "expected " + type);
        }
    }
    return "invalid value, not shown";
}

// The message for the CLI11 parse error being handled (call in its catch).
std::string parse_error_message(const CLI::App& app, int argc, char** argv) {
    try {
        throw;
    } catch (const CLI::ExtrasError&) {
        return unexpected_arguments(app, argc, argv);
    } catch (const CLI::ConversionError& e) {
        return invalid_value(app, e.what());
    } catch (const CLI::ValidationError& e) {
        return invalid_value(app, e.what());
    } catch (const CLI::RequiredError& e) {  // these name options and counts only
        return e.what();
    } catch (const CLI::ArgumentMismatch& e) {
        return e.what();
    } catch (const CLI::RequiresError& e) {
        return e.what();
    } catch (const CLI::ExcludesError& e) {
        return e.what();
    } catch (const CLI::InvalidError& e) {
        return e.what();
    } catch (const CLI::ParseError&) {  // any other: its words might quote a value
        return "invalid command line";
    }
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
    for (int i = 1; i < argc; ++i)
        if (const auto name = secret_option(argv[i])) return fail(err, ExitCode::usage, refused_secret_option(*name));

    GlobalOptions global;
    CLI::App app("Administer Django session stores: inspect, decode, create, delete, expire, clear, copy.",
                 "sessionctl");
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
    CopyArgs copy_args;
    RekeyArgs rekey_args;
    ConfigArgs config_args;
    const std::vector<Command> commands = {
        {setup_inspect(app, inspect_args), [&](Context& c) { return run_inspect(inspect_args, c); }},
        {setup_decode(app, decode_args), [&](Context& c) { return run_decode(decode_args, c); }},
        {setup_create(app, create_args), [&](Context& c) { return run_create(create_args, c); }},
        {setup_delete(app, delete_args), [&](Context& c) { return run_delete(delete_args, c); }},
        {setup_expire(app, expire_args), [&](Context& c) { return run_expire(expire_args, c); }},
        {setup_clearsessions(app, clear_args), [&](Context& c) { return run_clearsessions(clear_args, c); }},
        {setup_stats(app, stats_args), [&](Context& c) { return run_stats(stats_args, c); }},
        {setup_copy(app, copy_args), [&](Context& c) { return run_copy(copy_args, c); }},
        {setup_rekey(app, rekey_args), [&](Context& c) { return run_rekey(rekey_args, c); }},
        {setup_config(app, config_args), [&](Context& c) { return run_config(config_args, c); }},
    };

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {  // --help, --help-all, --version
        app.exit(e, out, err);
        return to_int(ExitCode::ok);
    } catch (const CLI::ParseError&) {
        return fail(err, ExitCode::usage,
                    fmt::format("{} (see sessionctl --help)", parse_error_message(app, argc, argv)));
    }

    const Command* chosen = nullptr;
    for (const auto& c : commands)
        if (c.app->parsed()) chosen = &c;
    if (!chosen)
        return fail(
            err, ExitCode::usage,
            "no command given: inspect, decode, create, delete, expire, clearsessions, stats, copy or config (see "
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
