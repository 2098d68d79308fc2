// sessionctl create: a new session Django will accept, INSERTed under a fresh
// random key (SessionBase.create(): never reuses a key).

#include <fstream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "backends/users/login_check.hpp"
#include "cli/commands.hpp"
#include "cli/expiry_arg.hpp"
#include "cli/json_input.hpp"
#include "cli/login_files.hpp"
#include "cli/pyvalue_json.hpp"
#include "core/auth_hash.hpp"
#include "core/errors.hpp"

namespace sessionctl::cli {

CLI::App* setup_create(CLI::App& parent, CreateArgs& args) {
    CLI::App* cmd = parent.add_subcommand("create", "Create a session Django will accept; print its key and cookie");
    auto* data = cmd->add_option("--data", args.data, "Session data: a JSON object")->type_name("JSON");
    auto* file = cmd->add_option("--data-file", args.data_file, "Read the JSON object from FILE (- for stdin)")
                     ->type_name("FILE");
    data->excludes(file);
    auto* user = cmd->add_option("--user", args.user,
                                 "Log in this user id: _auth_user_id, _auth_user_backend, and _auth_user_hash from "
                                 "the user table (AUTH_USER_MODEL in DATABASES)")
                     ->type_name("ID");
    cmd->add_option("--password-hash", args.password_hash,
                    "The user's password column (e.g. pbkdf2_sha256$...) instead of the user table's; - reads "
                    "it from stdin")
        ->type_name("H")
        ->needs(user);
    cmd->add_option("--auth-backend", args.auth_backend,
                    fmt::format("_auth_user_backend (default {})", DEFAULT_AUTH_BACKEND))
        ->type_name("B")
        ->needs(user);
    cmd->add_option("--expiry", args.expiry,
                    "set_expiry(): whole seconds (0 = browser close), an ISO 8601 date-time, or browser-close")
        ->type_name("WHEN");
    cmd->add_option("--storage-state", args.storage_state,
                    "Also write a Playwright storage state with the session cookie to FILE (mode 0600)")
        ->type_name("FILE");
    cmd->add_option("--cookie-jar", args.cookie_jar,
                    "Also write the cookie to FILE in the Netscape cookie file format curl, wget and http.cookiejar "
                    "read (mode 0600)")
        ->type_name("FILE");
    cmd->add_option("--url", args.url,
                    "The site's address, whose host is the cookie's domain unless SESSION_COOKIE_DOMAIN is set")
        ->type_name("URL");
    cmd->footer(R"(EXAMPLES
  sessionctl create --data '{"cart": [1, 2]}'
  sessionctl create --user 42                      # the hash comes from the user table
  sessionctl create --user 42 --storage-state state.json --url http://localhost:8000/
  sessionctl create --user 42 --cookie-jar jar.txt --url http://localhost:8000/ && curl -b jar.txt ...
  sessionctl create --user 42 --password-hash - <<< "$PASSWORD_COLUMN"
  sessionctl create --user 42 --expiry 3600 --json
  sessionctl create --expiry 2030-01-01T00:00:00Z --data-file session.json)");
    return cmd;
}

namespace {

std::string read_all(std::istream& in) {
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string read_data_file(const std::string& path, std::istream& stdin_stream) {
    if (path == "-") return read_all(stdin_stream);
    std::ifstream file(path, std::ios::binary);
    if (!file) throw UsageError(fmt::format("cannot read --data-file {}", path));
    return read_all(file);
}

std::string read_password_hash(std::istream& in) {
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (line.empty()) throw UsageError("--password-hash -: standard input held no password hash");
    return line;
}

// The user a login names, looked up as Django's get_user() would: it must
// exist and, under a backend that checks it, be active. Returns its
// password column and its key as str(pk).
UserRow user_to_log_in(const std::string& user_id, const std::string& backend, Context& ctx) {
    const Config& config = ctx.config();
    auto users = open_user_source(config);
    auto row = users->find(user_id);
    if (!row)
        throw CliError(ExitCode::not_found,
                       fmt::format("no user {} in {}: Django would not accept the login", user_id, users->describe()));
    if (!row->is_active && backend_checks_is_active(backend))
        throw UsageError(fmt::format("user {} is inactive (is_active false in {}): {} does not log them in", user_id,
                                     users->describe(), backend));
    // str(uuid): the hyphenated form login() stores.
    if (users->pk_kind() == UserPkKind::uuid && row->pk.size() == 32)
        row->pk = fmt::format("{}-{}-{}-{}-{}", row->pk.substr(0, 8), row->pk.substr(8, 4), row->pk.substr(12, 4),
                              row->pk.substr(16, 4), row->pk.substr(20));
    return *row;
}

}  // namespace

ExitCode run_create(const CreateArgs& args, Context& ctx) {
    if (args.data_file && *args.data_file == "-" && args.password_hash && *args.password_hash == "-")
        throw UsageError("--data-file - and --password-hash - cannot both read standard input");
    if (args.user && args.user->empty()) throw UsageError("--user needs a user id");
    if (args.url && !args.storage_state && !args.cookie_jar)
        throw UsageError("--url only sets the domain of --storage-state and --cookie-jar");

    // Everything the user typed is checked before the store is opened.
    PyDict data;
    if (args.data) data = parse_user_json_object(*args.data, "--data");
    if (args.data_file)
        data = parse_user_json_object(read_data_file(*args.data_file, ctx.io().in), "--data-file " + *args.data_file);
    std::optional<std::string> password_hash = args.password_hash;
    if (password_hash && *password_hash == "-") password_hash = read_password_hash(ctx.io().in);
    if (password_hash && password_hash->empty()) throw UsageError("--password-hash is empty");
    const Config& config = ctx.config();
    std::optional<ExpiryValue> expiry;
    if (args.expiry) {
        expiry = parse_expiry_arg(*args.expiry, config.use_tz());
        if (const auto* seconds = std::get_if<std::int64_t>(&*expiry))
            check_expiry_seconds(*seconds, ctx.clock(), "--expiry");
    }

    const std::string backend = args.auth_backend.value_or(std::string(DEFAULT_AUTH_BACKEND));
    std::string user_id = args.user.value_or("");
    if (args.user) {
        bool listed = false;
        for (const auto& b : config.get("AUTHENTICATION_BACKENDS")) listed = listed || b.get<std::string>() == backend;
        if (!listed)
            throw UsageError(
                fmt::format("{} is not in AUTHENTICATION_BACKENDS: Django would not accept the login", backend));
        if (!password_hash) {
            UserRow row = user_to_log_in(*args.user, backend, ctx);
            password_hash = std::move(row.password);
            user_id = std::move(row.pk);  // str(pk), as login() stores it
        }
    }
    // Checked before anything is written: no session without its files.
    if (args.storage_state || args.cookie_jar) (void)session_cookie(config, "", std::nullopt, args.url);

    auto store = ctx.open_store(Access::read_write);
    auto session = store->open(std::nullopt);
    if (!data.empty()) session->update(data);
    if (args.user) {
        // The keys login() writes, in its order.
        session->set(std::string(SESSION_KEY), PyValue(user_id));
        session->set(std::string(BACKEND_SESSION_KEY), PyValue(backend));
        session->set(std::string(HASH_SESSION_KEY),
                     PyValue(session_auth_hash(*password_hash, config.secret_keys().secret_key)));
    }
    if (expiry) session->set_expiry(*expiry);
    // create(): a new key, INSERT with the data set above (retries on a collision).
    try {
        session->create();
    } catch (const ExpiryError& e) {
        // Only the user's --data can hold an _session_expiry Django cannot read.
        throw UsageError(fmt::format("the session's _session_expiry is unusable: {}", e.what()));
    }

    const std::string& key = *session->session_key();
    std::string cookie = fmt::format("{}={}", config.cookie_name(), key);
    if (args.storage_state || args.cookie_jar) {
        std::optional<std::int64_t> expires;
        if (!session->get_expire_at_browser_close()) expires = session->get_expiry_date().to_unix_micros() / 1'000'000;
        const SessionCookie file_cookie = session_cookie(config, key, expires, args.url);
        if (args.storage_state)
            write_private_file(*args.storage_state, playwright_storage_state(file_cookie), "--storage-state");
        if (args.cookie_jar) write_private_file(*args.cookie_jar, netscape_cookie_jar(file_cookie), "--cookie-jar");
    }
    if (ctx.json()) {
        ordered_json j = ordered_json::object();
        j["key"] = key;
        j["cookie"] = cookie;
        ctx.out() << dump_json(j) << '\n';
    } else {
        ctx.out() << key << '\n' << "Cookie: " << cookie << '\n';
    }
    return ExitCode::ok;
}

}  // namespace sessionctl::cli
