#pragma once

// django.core.serializers.json.DjangoJSONEncoder, which django-redis's
// JSONSerializer passes to json.dumps: what it turns into strings before the
// JSON is written.

#include "core/pyvalue.hpp"

namespace sessionctl {

// `value` with every datetime, date, time, timedelta and Decimal replaced by
// the string DjangoJSONEncoder.default() returns for it (recursively).
// Anything else json.dumps cannot write (a set, bytes, a tzinfo) is left for
// json_dumps to refuse, as Python's encoder does. Throws SerializationError
// for an aware time (ValueError in Django) and for a datetime whose offset is
// not known (a zone kept by name only).
[[nodiscard]] PyValue django_json_encodable(const PyValue& value);

}  // namespace sessionctl
