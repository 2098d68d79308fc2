#include "cli/json_input.hpp"

#include "cli/pyvalue_json.hpp"

#include <cstdint>
#include <limits>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.hpp"

namespace sessionctl::cli {
namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxDepth = 512;

// Builds a PyValue straight from nlohmann's SAX events: the DOM would turn an
// integer beyond uint64 into a double, while the SAX event still has its text.
class Builder final : public nlohmann::json_sax<json> {
public:
    bool null() override { return add(PyValue()); }
    bool boolean(bool val) override { return add(PyValue(val)); }
    bool number_integer(number_integer_t val) override { return add(PyValue(static_cast<std::int64_t>(val))); }
    bool number_unsigned(number_unsigned_t val) override {
        if (val > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            return add(PyValue(PyBigInt{std::to_string(val)}));
        return add(PyValue(static_cast<std::int64_t>(val)));
    }
    bool number_float(number_float_t val, const string_t& text) override {
        // An integer token that overflowed uint64 arrives here with its text.
        bool integral = !text.empty();
        for (std::size_t i = 0; i < text.size(); ++i)
            if (!((text[i] >= '0' && text[i] <= '9') || (i == 0 && text[i] == '-'))) integral = false;
        if (integral && text != "-") return add(PyValue(PyBigInt{text}));
        return add(PyValue(static_cast<double>(val)));
    }
    bool string(string_t& val) override { return add(PyValue(std::move(val))); }
    bool binary(binary_t&) override { return fail("binary values are not JSON"); }
    bool start_object(std::size_t) override { return push(PyValue(PyDict{})); }
    bool key(string_t& val) override {
        stack_.back().pending_key = std::move(val);
        return true;
    }
    bool end_object() override { return pop(); }
    bool start_array(std::size_t) override { return push(PyValue(PyList{})); }
    bool end_array() override { return pop(); }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
        // "[json.exception.parse_error.101] parse error at ..." -> "parse error at ..."
        std::string what = ex.what();
        if (auto close = what.find("] "); what.rfind("[json.exception", 0) == 0 && close != std::string::npos)
            what = what.substr(close + 2);
        return fail(what);
    }

    std::optional<PyValue> root;
    std::string error;

private:
    struct Frame {
        PyValue value;
        std::string pending_key;
    };

    bool fail(std::string why) {
        error = std::move(why);
        return false;
    }
    bool add(PyValue v) {
        if (stack_.empty()) {
            root = std::move(v);
            return true;
        }
        Frame& f = stack_.back();
        if (f.value.is_dict()) f.value.as_dict().set(std::move(f.pending_key), std::move(v));
        else f.value.as_list().push_back(std::move(v));
        return true;
    }
    bool push(PyValue container) {
        if (stack_.size() >= kMaxDepth) return fail(fmt::format("nested deeper than {} levels", kMaxDepth));
        stack_.push_back(Frame{std::move(container), {}});
        return true;
    }
    bool pop() {
        PyValue v = std::move(stack_.back().value);
        stack_.pop_back();
        return add(std::move(v));
    }

    std::vector<Frame> stack_;
};

}  // namespace

std::optional<PyValue> parse_user_json(std::string_view text, std::string* error) {
    Builder builder;
    bool ok = json::sax_parse(text.begin(), text.end(), &builder);
    if (!ok || !builder.root) {
        if (error) *error = builder.error.empty() ? "not JSON" : builder.error;
        return std::nullopt;
    }
    return std::move(builder.root);
}

PyDict parse_user_json_object(std::string_view text, std::string_view what) {
    std::string why;
    auto value = parse_user_json(text, &why);
    if (!value) throw UsageError(fmt::format("{} is not valid JSON: {}", what, why));
    if (!value->is_dict()) throw UsageError(fmt::format("{} must be a JSON object, not {}", what, type_phrase(*value)));
    return std::move(value->as_dict());
}

}  // namespace sessionctl::cli
