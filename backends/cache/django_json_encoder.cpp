#include "backends/cache/django_json_encoder.hpp"

#include <fmt/format.h>

#include "core/errors.hpp"
#include "core/pickle_codec.hpp"

namespace sessionctl {
namespace {

// django.utils.duration.duration_iso_string: "P1DT02H03M04.000005S",
// "-P0DT00H00M01S".
std::string duration_iso_string(PyTimeDelta d) {
    std::string sign;
    if (d.days < 0) {  // negative: use the components of -d
        sign = "-";
        std::int64_t total_us = -((d.days * 86400 + d.seconds) * 1'000'000 + d.microseconds);
        d.days = total_us / (86400LL * 1'000'000);
        total_us %= 86400LL * 1'000'000;
        d.seconds = static_cast<std::int32_t>(total_us / 1'000'000);
        d.microseconds = static_cast<std::int32_t>(total_us % 1'000'000);
    }
    const int hours = d.seconds / 3600, minutes = d.seconds / 60 % 60, seconds = d.seconds % 60;
    const std::string ms = d.microseconds ? fmt::format(".{:06d}", d.microseconds) : "";
    return fmt::format("{}P{}DT{:02d}H{:02d}M{:02d}{}S", sign, d.days, hours, minutes, seconds, ms);
}

std::string encode_datetime(const PyDateTime& d) {
    if (d.tzinfo && !d.tzinfo->has_utcoffset)
        throw SerializationError(fmt::format(
            "a datetime in the zone {} cannot be written as JSON here: its UTC offset is not known", d.tzinfo->key));
    std::string r = python_isoformat(d);
    switch (d.kind) {
        case PyDateTime::Kind::datetime:
            if (d.microsecond) r = r.substr(0, 23) + r.substr(26);
            if (r.ends_with("+00:00")) r = r.substr(0, r.size() - 6) + "Z";
            return r;
        case PyDateTime::Kind::date: return r;
        case PyDateTime::Kind::time:
            if (d.tzinfo) throw SerializationError("JSON can't represent timezone-aware times.");
            if (d.microsecond) r = r.substr(0, 12);
            return r;
    }
    return r;
}

}  // namespace

PyValue django_json_encodable(const PyValue& value) {
    const auto& v = value.variant();
    if (const auto* d = std::get_if<PyDateTime>(&v)) return PyValue(encode_datetime(*d));
    if (const auto* td = std::get_if<PyTimeDelta>(&v)) return PyValue(duration_iso_string(*td));
    if (const auto* dec = std::get_if<PyDecimal>(&v)) return PyValue(dec->text);
    auto list_of = [](const PyList& items) {
        PyList out;
        out.reserve(items.size());
        for (const auto& item : items) out.push_back(django_json_encodable(item));
        return out;
    };
    auto dict_of = [](const PyDict& dict) {
        PyDict out;
        for (const auto& entry : dict) out.append_absent(entry.key, django_json_encodable(entry.value));
        return out;
    };
    if (value.is_list()) return PyValue(list_of(value.as_list()));
    if (const auto* t = std::get_if<PyTuple>(&v)) return PyValue(list_of(t->items));
    if (value.is_dict()) return PyValue(dict_of(value.as_dict()));
    if (const auto* od = std::get_if<PyOrderedDict>(&v)) return PyValue(dict_of(od->dict));
    return value;
}

}  // namespace sessionctl
