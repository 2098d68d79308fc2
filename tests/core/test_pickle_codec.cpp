// Tests for core/pickle_codec: the safe pickle reader and the protocol-5
// writer. Expected bytes and reprs come from Django's vectors (cache.json,
// pickle_opcodes.json, signing.json) and from CPython 3.11.2 (pickle.dumps /
// repr, noted where used). Python 3.12's OrderedDict repr is the one
// python_repr writes; the 3.2 vectors (Python 3.11) are normalized to it.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "cli/pyvalue_json.hpp"
#include "core/base64.hpp"
#include "core/json_codec.hpp"
#include "core/pickle_codec.hpp"
#include "core/pyvalue.hpp"
#include "core/zlib_codec.hpp"
#include "tests/support/test_support.hpp"
#include "tests/support/vector_support.hpp"

using namespace sessionctl;
using namespace std::string_literals;

namespace {

using vectors::from_hex;
using vectors::hex_of;
using vectors::Json;

// Python 3.11 (the 3.2 vectors) writes OrderedDict([('a', 1)]); 3.12
// OrderedDict({'a': 1}), which python_repr follows.
std::string repr_312(std::string repr) {
    const std::string old_form = "OrderedDict([('a', 1)])";
    auto pos = repr.find(old_form);
    if (pos != std::string::npos) repr.replace(pos, old_form.size(), "OrderedDict({'a': 1})");
    return repr;
}

// The message of the PickleError pickle_loads throws, or "" when it does not.
std::string load_error(std::string_view bytes, const PickleLimits& limits = {}) {
    try {
        (void)pickle_loads(bytes, limits);
    } catch (const PickleError& e) {
        return e.what();
    }
    return "";
}

// The refused global's name, or "" when the pickle is not refused as unsafe.
std::string refused_global(std::string_view bytes) {
    try {
        (void)pickle_loads(bytes);
    } catch (const PickleRefusedError& e) {
        return e.global();
    } catch (const PickleError&) {
    }
    return "";
}

std::string repr_of(std::string_view bytes) { return python_repr(pickle_loads(bytes)); }

// Decodes `bytes`, compares with Python's repr and, when `identical`, checks
// that pickle_dumps gives back Python's exact bytes. Returns the value.
PyValue check_pickle(const std::string& label, const std::string& bytes, const std::string& expected_repr,
                     bool identical = true) {
    INFO(label);
    PyValue v = pickle_loads(bytes);
    CHECK(python_repr(v) == repr_312(expected_repr));
    if (identical) CHECK(hex_of(pickle_dumps(v)) == hex_of(bytes));
    // Whatever pickle_dumps writes reads back as the same value.
    CHECK(pickle_loads(pickle_dumps(v)) == v);
    return v;
}

PyTzInfoPtr fixed_tz(std::int64_t offset_us) {
    PyTzInfo tz;
    tz.utcoffset_us = offset_us;
    return std::make_shared<const PyTzInfo>(tz);
}

}  // namespace

// ---- vectors

TEST_CASE(
    "pickle vectors: every cache.json pickle decodes to Django's value and pickle_dumps writes it back byte for byte",
    "[pickle][vectors]") {
    std::size_t checked = 0;
    for (const auto& dir : vectors::versions()) {
        INFO(dir.name);
        const Json& doc = vectors::load(dir, "cache.json");
        std::map<std::string, std::string> reprs;  // payload name -> repr
        for (const char* section : {"redis", "memcached"})
            if (doc[section].is_array())
                for (const auto& e : doc[section])
                    if (e.contains("payload_repr"))
                        reprs[e["payload"].get<std::string>()] = e["payload_repr"].get<std::string>();

        // Redis (RedisCache, >= 4.0) and memcached (flag 1 = pickle) values.
        for (const char* section : {"redis", "memcached"}) {
            if (!doc[section].is_array()) continue;  // 3.2 has no RedisCache
            for (const auto& e : doc[section]) {
                if (!e.contains("value_hex") || !e["value_hex"].is_string()) continue;
                if (e.contains("flags") && e["flags"].get<int>() != 1) continue;
                const std::string bytes = from_hex(e["value_hex"].get<std::string>());
                std::string label = std::string(section) + "/";
                if (e.contains("payload")) {
                    const std::string payload = e["payload"].get<std::string>();
                    label += payload;
                    // {'a': [1, 2], 'b': [1, 2]} with ONE shared list: a PyValue
                    // is a tree, so the list is written twice (and Python reads
                    // two equal lists back).
                    const bool identical = payload != "shared_refs";
                    check_pickle(label, bytes, e["payload_repr"].get<std::string>(), identical);
                } else if (e.contains("flag_probe")) {
                    label += e["flag_probe"].get<std::string>();
                    check_pickle(label, bytes, e["value_repr"].get<std::string>());
                } else {
                    // expiry cases: {'foo': 'bar', '_session_expiry': ...}
                    label += e["expiry_case"].get<std::string>();
                    PyValue v = check_pickle(label, bytes, python_repr(pickle_loads(bytes)));
                    REQUIRE(v.is_dict());
                    CHECK(v.as_dict().find("foo")->as_str() == "bar");
                    CHECK(v.as_dict().contains("_session_expiry"));
                }
                ++checked;
            }
        }

        // FileBasedCache: pickle(expiry) || zlib(pickle(value)).
        for (const auto& e : doc["filebased"]) {
            const std::string file = from_hex(e["file_hex"].get<std::string>());
            const PickleLoadResult expiry = pickle_load_prefix(file);
            if (e.contains("expiry_value")) {
                REQUIRE(expiry.value.is_float());
                CHECK(expiry.value.as_float() == e["expiry_value"].get<double>());
                CHECK(expiry.consumed == e["zlib_part_offset"].get<std::size_t>());
                CHECK(hex_of(pickle_dumps(expiry.value)) == e["expiry_pickle_hex"].get<std::string>());
            } else {
                CHECK(expiry.value.is_none());  // cache.set(key, {'a': 1}, timeout=None)
                CHECK(expiry.consumed == 4);
                CHECK(hex_of(pickle_dumps(expiry.value)) == "80054e2e");
            }
            const std::string value_pickle = zlib_decompress(std::string_view(file).substr(expiry.consumed), 1 << 20);
            if (e.contains("value_pickle_hex")) CHECK(hex_of(value_pickle) == e["value_pickle_hex"].get<std::string>());
            const std::string payload = e.contains("payload") ? e["payload"].get<std::string>() : "";
            check_pickle("filebased/" + payload, value_pickle, payload.empty() ? "{'a': 1}" : reprs.at(payload));
            checked += 2;
        }

        // DatabaseCache: base64 of the pickle in the value column.
        for (const auto& r : doc["db_cache"]["rows"])
            for (const auto& row : r["rows"]) {
                const std::string bytes = b64_decode_lenient(row[1].get<std::string>());
                check_pickle("db_cache/" + r["payload"].get<std::string>(), bytes,
                             reprs.at(r["payload"].get<std::string>()));
                ++checked;
            }
    }
    // Every pickle the two files hold: Redis values, memcached flag-1 values
    // (sessions and the bool/float probes), FileBasedCache expiry and value
    // pickles, DatabaseCache rows.
    CHECK(checked == 125);
}

TEST_CASE("pickle vectors: the same dict pickled with protocols 0-5 reads the same; protocol 5 re-encodes exactly",
          "[pickle][vectors]") {
    const std::string expected = "{'foo': 'bar', 'n': 1, 'l': [1, 2], 'u': 'é', 'f': 1.5, 'b': True, 'z': None}";
    for (const auto& dir : vectors::versions()) {
        const Json& doc = vectors::load(dir, "pickle_opcodes.json");
        const Json& protocols = doc["same_dict_all_protocols"];
        CHECK(protocols.size() == 6);
        std::string proto5_hex = protocols["5"]["hex"].get<std::string>();
        for (auto it = protocols.begin(); it != protocols.end(); ++it) {
            INFO(dir.name << " protocol " << it.key());
            PyValue v = pickle_loads(from_hex(it.value()["hex"].get<std::string>()));
            CHECK(python_repr(v) == expected);
            CHECK(hex_of(pickle_dumps(v)) == proto5_hex);
        }
        // Every opcode the vectors saw is one the reader builds data from.
        const std::vector<std::string> readable = {
            "ADDITEMS", "APPEND",     "APPENDS",    "BINFLOAT",       "BINGET",           "BININT",       "BININT1",
            "BININT2",  "BINUNICODE", "EMPTY_DICT", "EMPTY_LIST",     "EMPTY_SET",        "EMPTY_TUPLE",  "FRAME",
            "LONG1",    "MARK",       "MEMOIZE",    "NEWFALSE",       "NEWTRUE",          "NONE",         "PROTO",
            "REDUCE",   "SETITEM",    "SETITEMS",   "SHORT_BINBYTES", "SHORT_BINUNICODE", "STACK_GLOBAL", "STOP",
            "TUPLE1",   "TUPLE2",     "TUPLE3"};
        for (const auto& name : doc["union_of_opcodes"])
            CHECK(std::find(readable.begin(), readable.end(), name.get<std::string>()) != readable.end());
    }
}

TEST_CASE("pickle vectors: 3.2's PickleSerializer payloads decode and re-encode exactly", "[pickle][vectors]") {
    const Json& doc = vectors::load(vectors::version_3_2(), "signing.json");
    std::size_t n = 0;
    for (const auto& c : doc["pickle_serializer_cases"]) {
        check_pickle(c["id"].get<std::string>(), from_hex(c["payload_pickle_hex"].get<std::string>()),
                     c["object_repr"].get<std::string>());
        ++n;
    }
    CHECK(n == 4);
}

TEST_CASE("pickle: Django 3.2's aware datetime (pytz UTC) and 6.1's (timezone.utc) are data", "[pickle][vectors]") {
    for (const auto& dir : vectors::versions()) {
        const Json& doc = vectors::load(dir, "cache.json");
        const Json* e = vectors::find_by(doc["memcached"], "payload", "aware_datetime");
        REQUIRE(e);
        PyValue v = pickle_loads(from_hex((*e)["value_hex"].get<std::string>()));
        const PyValue* when = v.as_dict().find("when");
        REQUIRE(when);
        REQUIRE(when->holds<PyDateTime>());
        const PyDateTime& d = when->get<PyDateTime>();
        CHECK(python_isoformat(d) == "2024-01-02T03:04:05.600000+00:00");
        REQUIRE(d.tzinfo);
        CHECK(d.tzinfo->kind == (dir.is_3_2 ? PyTzInfo::Kind::pytz_utc : PyTzInfo::Kind::fixed));
        auto core = to_core_datetime(d);
        REQUIRE(core);
        CHECK(core->isoformat() == "2024-01-02T03:04:05.600000+00:00");
        CHECK(cli::render_json(v) == R"({"when":{"$datetime":"2024-01-02T03:04:05.600000+00:00"}})");
    }
}

// ---- Python-only kinds, 0-5

namespace {

struct ProtocolCase {
    const char* label;
    const char* repr;
    std::vector<const char*> hex_by_protocol;  // pickle.dumps(value, 0..5), CPython 3.11.2
};

const std::vector<ProtocolCase>& protocol_cases() {
    static const std::vector<ProtocolCase> cases = {
        {"zoneinfo",
         "{'when': datetime.datetime(2024, 7, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo(key='Europe/Paris'))}",
         {
             "286470300a567768656e0a70310a636461746574696d650a6461746574696d650a70320a28635f636f646563730a656e636f64650"
             "a70330a285607e807010c5c75303030305c75303030305c75303030305c75303030305c75303030300a70340a566c6174696e310a"
             "70350a7470360a5270370a635f5f6275696c74696e5f5f0a676574617474720a70380a28637a6f6e65696e666f0a5a6f6e65496e6"
             "66f0a70390a565f756e7069636b6c650a7031300a747031310a527031320a28564575726f70652f50617269730a7031330a49310a"
             "747031340a527031350a747031360a527031370a732e",
             "7d710058040000007768656e7101636461746574696d650a6461746574696d650a710228635f636f646563730a656e636f64650a7"
             "10328580b00000007c3a807010c0000000000710458060000006c6174696e317105747106527107635f5f6275696c74696e5f5f0a"
             "676574617474720a710828637a6f6e65696e666f0a5a6f6e65496e666f0a710958090000005f756e7069636b6c65710a74710b527"
             "10c28580c0000004575726f70652f5061726973710d4b0174710e52710f747110527111732e",
             "80027d710058040000007768656e7101636461746574696d650a6461746574696d650a7102635f636f646563730a656e636f64650"
             "a7103580b00000007c3a807010c0000000000710458060000006c6174696e317105867106527107635f5f6275696c74696e5f5f0a"
             "676574617474720a7108637a6f6e65696e666f0a5a6f6e65496e666f0a710958090000005f756e7069636b6c65710a86710b52710"
             "c580c0000004575726f70652f5061726973710d4b0186710e52710f867110527111732e",
             "80037d710058040000007768656e7101636461746574696d650a6461746574696d650a7102430a07e807010c00000000007103636"
             "275696c74696e730a676574617474720a7104637a6f6e65696e666f0a5a6f6e65496e666f0a710558090000005f756e7069636b6c"
             "657106867107527108580c0000004575726f70652f506172697371094b0186710a52710b86710c52710d732e",
             "80049588000000000000007d948c047768656e948c086461746574696d65948c086461746574696d65949394430a07e807010c000"
             "0000000948c086275696c74696e73948c07676574617474729493948c087a6f6e65696e666f948c085a6f6e65496e666f9493948c"
             "095f756e7069636b6c6594869452948c0c4575726f70652f5061726973944b018694529486945294732e",
             "80059588000000000000007d948c047768656e948c086461746574696d65948c086461746574696d65949394430a07e807010c000"
             "0000000948c086275696c74696e73948c07676574617474729493948c087a6f6e65696e666f948c085a6f6e65496e666f9493948c"
             "095f756e7069636b6c6594869452948c0c4575726f70652f5061726973944b018694529486945294732e",
         }},
        {"pytz zones",
         "{'when': datetime.datetime(2024, 7, 1, 12, 0, tzinfo=<DstTzInfo 'Europe/Paris' CEST+2:00:00 DST>), 'est': "
         "<StaticTzInfo 'EST'>}",
         {
             "286470300a567768656e0a70310a636461746574696d650a6461746574696d650a70320a28635f636f646563730a656e636f64650"
             "a70330a285607e807010c5c75303030305c75303030305c75303030305c75303030305c75303030300a70340a566c6174696e310a"
             "70350a7470360a5270370a637079747a0a5f700a70380a28564575726f70652f50617269730a70390a49373230300a49333630300"
             "a56434553540a7031300a747031310a527031320a747031330a527031340a73566573740a7031350a67380a28564553540a703136"
             "0a747031370a527031380a732e",
             "7d71002858040000007768656e7101636461746574696d650a6461746574696d650a710228635f636f646563730a656e636f64650"
             "a710328580b00000007c3a807010c0000000000710458060000006c6174696e317105747106527107637079747a0a5f700a710828"
             "580c0000004575726f70652f506172697371094d201c4d100e580400000043455354710a74710b52710c74710d52710e580300000"
             "0657374710f68082858030000004553547110747111527112752e",
             "80027d71002858040000007768656e7101636461746574696d650a6461746574696d650a7102635f636f646563730a656e636f646"
             "50a7103580b00000007c3a807010c0000000000710458060000006c6174696e317105867106527107637079747a0a5f700a710828"
             "580c0000004575726f70652f506172697371094d201c4d100e580400000043455354710a74710b52710c86710d52710e580300000"
             "0657374710f680858030000004553547110857111527112752e",
             "80037d71002858040000007768656e7101636461746574696d650a6461746574696d650a7102430a07e807010c000000000071036"
             "37079747a0a5f700a710428580c0000004575726f70652f506172697371054d201c4d100e58040000004345535471067471075271"
             "0886710952710a5803000000657374710b68045803000000455354710c85710d52710e752e",
             "80049576000000000000007d94288c047768656e948c086461746574696d65948c086461746574696d65949394430a07e807010c0"
             "000000000948c047079747a948c025f70949394288c0c4575726f70652f5061726973944d201c4d100e8c04434553549474945294"
             "869452948c036573749468088c034553549485945294752e",
             "80059576000000000000007d94288c047768656e948c086461746574696d65948c086461746574696d65949394430a07e807010c0"
             "000000000948c047079747a948c025f70949394288c0c4575726f70652f5061726973944d201c4d100e8c04434553549474945294"
             "869452948c036573749468088c034553549485945294752e",
         }},
        {"time, timedelta, fixed offset",
         "{'t': datetime.time(3, 4, 5, 6, tzinfo=datetime.timezone(datetime.timedelta(days=-1, seconds=68400))), 'td': "
         "datetime.timedelta(days=-1, seconds=5)}",
         {
             "286470300a56740a70310a636461746574696d650a74696d650a70320a28635f636f646563730a656e636f64650a70330a2856030"
             "4055c75303030305c7530303030060a70340a566c6174696e310a70350a7470360a5270370a636461746574696d650a74696d657a"
             "6f6e650a70380a28636461746574696d650a74696d6564656c74610a70390a28492d310a4936383430300a49300a747031300a527"
             "031310a747031320a527031330a747031340a527031350a735674640a7031360a67390a28492d310a49350a49300a747031370a52"
             "7031380a732e",
             "7d7100285801000000747101636461746574696d650a74696d650a710228635f636f646563730a656e636f64650a7103285806000"
             "000030405000006710458060000006c6174696e317105747106527107636461746574696d650a74696d657a6f6e650a7108286364"
             "61746574696d650a74696d6564656c74610a7109284affffffff4a300b01004b0074710a52710b74710c52710d74710e52710f580"
             "2000000746471106809284affffffff4b054b00747111527112752e",
             "80027d7100285801000000747101636461746574696d650a74696d650a7102635f636f646563730a656e636f64650a71035806000"
             "000030405000006710458060000006c6174696e317105867106527107636461746574696d650a74696d657a6f6e650a7108636461"
             "746574696d650a74696d6564656c74610a71094affffffff4a300b01004b0087710a52710b85710c52710d86710e52710f5802000"
             "0007464711068094affffffff4b054b00877111527112752e",
             "80037d7100285801000000747101636461746574696d650a74696d650a710243060304050000067103636461746574696d650a746"
             "96d657a6f6e650a7104636461746574696d650a74696d6564656c74610a71054affffffff4a300b01004b00877106527107857108"
             "52710986710a52710b58020000007464710c68054affffffff4b054b0087710d52710e752e",
             "80049571000000000000007d94288c0174948c086461746574696d65948c0474696d6594939443060304050000069468028c08746"
             "96d657a6f6e6594939468028c0974696d6564656c74619493944affffffff4a300b01004b008794529485945294869452948c0274"
             "649468094affffffff4b054b0087945294752e",
             "80059571000000000000007d94288c0174948c086461746574696d65948c0474696d6594939443060304050000069468028c08746"
             "96d657a6f6e6594939468028c0974696d6564656c74619493944affffffff4a300b01004b008794529485945294869452948c0274"
             "649468094affffffff4b054b0087945294752e",
         }},
        {"frozenset, bytearray, bytes, named timezone, Decimal",
         "{'fs': frozenset(), 'ba': bytearray(b'ab'), 'b': b'', 'tz': "
         "datetime.timezone(datetime.timedelta(seconds=3600), 'CET'), 'd': Decimal('-1E+3')}",
         {
             "286470300a5666730a70310a635f5f6275696c74696e5f5f0a66726f7a656e7365740a70320a28286c70330a7470340a5270350a7"
             "35662610a70360a635f5f6275696c74696e5f5f0a6279746561727261790a70370a28635f636f646563730a656e636f64650a7038"
             "0a285661620a70390a566c6174696e310a7031300a747031310a527031320a747031330a527031340a7356620a7031350a635f5f6"
             "275696c74696e5f5f0a62797465730a7031360a2874527031370a7356747a0a7031380a636461746574696d650a74696d657a6f6e"
             "650a7031390a28636461746574696d650a74696d6564656c74610a7032300a2849300a49333630300a49300a747032310a5270323"
             "20a564345540a7032330a747032340a527032350a7356640a7032360a63646563696d616c0a446563696d616c0a7032370a28562d"
             "31452b330a7032380a747032390a527033300a732e",
             "7d710028580200000066737101635f5f6275696c74696e5f5f0a66726f7a656e7365740a7102285d7103747104527105580200000"
             "062617106635f5f6275696c74696e5f5f0a6279746561727261790a710728635f636f646563730a656e636f64650a710828580200"
             "00006162710958060000006c6174696e31710a74710b52710c74710d52710e580100000062710f635f5f6275696c74696e5f5f0a6"
             "2797465730a7110295271115802000000747a7112636461746574696d650a74696d657a6f6e650a711328636461746574696d650a"
             "74696d6564656c74610a7114284b004d100e4b0074711552711658030000004345547117747118527119580100000064711a63646"
             "563696d616c0a446563696d616c0a711b2858050000002d31452b33711c74711d52711e752e",
             "80027d710028580200000066737101635f5f6275696c74696e5f5f0a66726f7a656e7365740a71025d71038571045271055802000"
             "00062617106635f5f6275696c74696e5f5f0a6279746561727261790a7107635f636f646563730a656e636f64650a710858020000"
             "006162710958060000006c6174696e31710a86710b52710c85710d52710e580100000062710f635f5f6275696c74696e5f5f0a627"
             "97465730a7110295271115802000000747a7112636461746574696d650a74696d657a6f6e650a7113636461746574696d650a7469"
             "6d6564656c74610a71144b004d100e4b0087711552711658030000004345547117867118527119580100000064711a63646563696"
             "d616c0a446563696d616c0a711b58050000002d31452b33711c85711d52711e752e",
             "80037d710028580200000066737101636275696c74696e730a66726f7a656e7365740a71025d71038571045271055802000000626"
             "17106636275696c74696e730a6279746561727261790a710743026162710885710952710a580100000062710b4300710c58020000"
             "00747a710d636461746574696d650a74696d657a6f6e650a710e636461746574696d650a74696d6564656c74610a710f4b004d100"
             "e4b0087711052711158030000004345547112867113527114580100000064711563646563696d616c0a446563696d616c0a711658"
             "050000002d31452b337117857118527119752e",
             "800495a3000000000000007d94288c026673942891948c026261948c086275696c74696e73948c096279746561727261799493944"
             "302616294859452948c0162944300948c02747a948c086461746574696d65948c0874696d657a6f6e65949394680d8c0974696d65"
             "64656c74619493944b004d100e4b00879452948c0343455494869452948c0164948c07646563696d616c948c07446563696d616c9"
             "493948c052d31452b339485945294752e",
             "8005958d000000000000007d94288c026673942891948c026261949602000000000000006162948c0162944300948c02747a948c0"
             "86461746574696d65948c0874696d657a6f6e6594939468088c0974696d6564656c74619493944b004d100e4b00879452948c0343"
             "455494869452948c0164948c07646563696d616c948c07446563696d616c9493948c052d31452b339485945294752e",
         }},
        {"OrderedDict, set, tuples",
         "{'od': OrderedDict({'x': 1, 'y': (2,)}), 's': {3}, 't': (), 't4': (1, 2, 3, 4)}",
         {
             "286470300a566f640a70310a63636f6c6c656374696f6e730a4f726465726564446963740a70320a28745270330a56780a70340a4"
             "9310a7356790a70350a2849320a7470360a737356730a70370a635f5f6275696c74696e5f5f0a7365740a70380a28286c70390a49"
             "330a61747031300a527031310a7356740a7031320a2874735674340a7031330a2849310a49320a49330a49340a747031340a732e",
             "7d71002858020000006f64710163636f6c6c656374696f6e730a4f726465726564446963740a71022952710328580100000078710"
             "44b015801000000797105284b02747106755801000000737107635f5f6275696c74696e5f5f0a7365740a7108285d71094b036174"
             "710a52710b580100000074710c2958020000007434710d284b014b024b034b0474710e752e",
             "80027d71002858020000006f64710163636f6c6c656374696f6e730a4f726465726564446963740a7102295271032858010000007"
             "871044b0158010000007971054b02857106755801000000737107635f5f6275696c74696e5f5f0a7365740a71085d71094b036185"
             "710a52710b580100000074710c2958020000007434710d284b014b024b034b0474710e752e",
             "80037d71002858020000006f64710163636f6c6c656374696f6e730a4f726465726564446963740a7102295271032858010000007"
             "871044b0158010000007971054b02857106755801000000737107636275696c74696e730a7365740a71085d71094b036185710a52"
             "710b580100000074710c2958020000007434710d284b014b024b034b0474710e752e",
             "8004955a000000000000007d94288c026f64948c0b636f6c6c656374696f6e73948c0b4f726465726564446963749493942952942"
             "88c0178944b018c0179944b028594758c0173948f94284b03908c017494298c02743494284b014b024b034b047494752e",
             "8005955a000000000000007d94288c026f64948c0b636f6c6c656374696f6e73948c0b4f726465726564446963749493942952942"
             "88c0178944b018c0179944b028594758c0173948f94284b03908c017494298c02743494284b014b024b034b047494752e",
         }},
    };
    return cases;
}

}  // namespace

TEST_CASE("pickle: datetimes, time zones, Decimal, sets, bytes, tuples and OrderedDict read from every protocol",
          "[pickle]") {
    for (const auto& c : protocol_cases()) {
        REQUIRE(c.hex_by_protocol.size() == 6);
        const std::string proto5 = from_hex(c.hex_by_protocol[5]);
        for (std::size_t proto = 0; proto < 6; ++proto) {
            INFO(c.label << ", protocol " << proto);
            PyValue v = pickle_loads(from_hex(c.hex_by_protocol[proto]));
            CHECK(python_repr(v) == c.repr);
            // What Python's pickle.dumps(pickle.loads(x), 5) writes.
            CHECK(hex_of(pickle_dumps(v)) == hex_of(proto5));
        }
    }
}

TEST_CASE("pickle: fold, naive/aware times and the text forms of the Python-only kinds", "[pickle]") {
    // pickle.dumps({'t': datetime.time(3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-5))),
    //               'td': timedelta(days=-1, seconds=5), 'fold': datetime(2024, 1, 2, fold=1)}, 5)
    const std::string bytes = from_hex(
        "80059598000000000000007d94288c0174948c086461746574696d65948c0474696d6594939443060304050000069468028c0874696d"
        "657a6f6e6594939468028c0974696d6564656c74619493944affffffff4a300b01004b008794529485945294869452948c0274649468"
        "094affffffff4b054b00879452948c04666f6c649468028c086461746574696d65949394430a07e881020000000000009485945294"
        "752e");
    PyValue v = check_pickle("fold", bytes,
                             "{'t': datetime.time(3, 4, 5, 6, tzinfo=datetime.timezone(datetime.timedelta(days=-1, "
                             "seconds=68400))), 'td': datetime.timedelta(days=-1, seconds=5), 'fold': "
                             "datetime.datetime(2024, 1, 2, 0, 0, fold=1)}");
    const PyDict& d = v.as_dict();
    CHECK(python_isoformat(d.find("t")->get<PyDateTime>()) == "03:04:05.000006-05:00");
    CHECK(python_str(d.find("td")->get<PyTimeDelta>()) == "-1 day, 0:00:05");
    CHECK(python_isoformat(d.find("fold")->get<PyDateTime>()) == "2024-01-02T00:00:00");
    CHECK(d.find("fold")->type_name() == "datetime"s);
    CHECK(d.find("t")->type_name() == "time"s);
    CHECK(d.find("td")->type_name() == "timedelta"s);

    CHECK(python_str(PyTimeDelta{0, 90, 0}) == "0:01:30");
    CHECK(python_str(PyTimeDelta{2, 5, 3}) == "2 days, 0:00:05.000003");
    CHECK(python_str(PyTimeDelta{-1, 86399, 0}) == "-1 day, 23:59:59");

    PyTzInfo named;
    named.utcoffset_us = 3600'000'000LL;
    named.has_name = true;
    named.name = "CET";
    CHECK(python_tzname(named) == "CET");
    CHECK(python_tzname(*fixed_tz(0)) == "UTC");
    CHECK(python_tzname(*fixed_tz(-(5 * 3600 + 30 * 60) * 1'000'000LL)) == "UTC-05:30");
    CHECK(python_tzname(*fixed_tz(1'000'007)) == "UTC+00:00:01.000007");

    PyDateTime naive;
    naive.year = 2023;
    naive.month = 11;
    naive.day = 14;
    naive.hour = 22;
    naive.minute = 13;
    naive.second = 30;
    naive.microsecond = 750000;
    CHECK(python_isoformat(naive) == "2023-11-14T22:13:30.750000");
    auto core = to_core_datetime(naive);
    REQUIRE(core);
    CHECK_FALSE(core->aware());
    CHECK(core->isoformat() == "2023-11-14T22:13:30.750000");
    PyDateTime paris = naive;
    PyTzInfo zi;
    zi.kind = PyTzInfo::Kind::zoneinfo;
    zi.has_utcoffset = false;
    zi.key = "Europe/Paris";
    paris.tzinfo = std::make_shared<const PyTzInfo>(zi);
    CHECK(python_isoformat(paris) == "2023-11-14T22:13:30.750000[Europe/Paris]");
    CHECK_FALSE(to_core_datetime(paris));  // its offset is not in the pickle
    PyDateTime offset = naive;
    offset.tzinfo = fixed_tz(3600'000'000LL);
    CHECK(to_core_datetime(offset)->isoformat() == "2023-11-14T22:13:30.750000+01:00");
}

TEST_CASE("pickle: the Python-only kinds keep Python's truth, type names and equality", "[pickle]") {
    CHECK_FALSE(PyValue(PyTuple{}).truthy());
    CHECK(PyValue(PyTuple{{PyValue(1)}}).truthy());
    CHECK_FALSE(PyValue(PySet{{}, true}).truthy());
    CHECK(PyValue(PySet{{PyValue(1)}, true}).type_name() == "frozenset"s);
    CHECK(PyValue(PySet{{PyValue(1)}, false}).type_name() == "set"s);
    CHECK_FALSE(PyValue(PyBytes{""}).truthy());
    CHECK(PyValue(PyByteArray{"x"}).truthy());
    CHECK_FALSE(PyValue(PyDecimal{"-0.00"}).truthy());
    CHECK_FALSE(PyValue(PyDecimal{"0E+3"}).truthy());
    CHECK(PyValue(PyDecimal{"0.01"}).truthy());
    CHECK(PyValue(PyDecimal{"NaN"}).truthy());
    CHECK_FALSE(PyValue(PyTimeDelta{}).truthy());
    CHECK(PyValue(PyTimeDelta{0, 0, 1}).truthy());
    CHECK(PyValue(PyDateTime{}).truthy());
    CHECK_FALSE(PyValue(PyOrderedDict{}).truthy());
    CHECK(PyValue(PyTimezone{fixed_tz(0)}).type_name() == "timezone"s);
    CHECK(PyValue(PyDecimal{"1"}).type_name() == "Decimal"s);
    CHECK(PyValue(PyOrderedDict{}).type_name() == "OrderedDict"s);
    CHECK(PyValue(PyBytes{}).is_python_only());
    CHECK_FALSE(PyValue(PyDict{}).is_python_only());
    // A tuple is not a list; sets compare without order; tz by value.
    CHECK_FALSE(PyValue(PyTuple{{PyValue(1)}}) == PyValue(PyList{PyValue(1)}));
    CHECK(PyValue(PySet{{PyValue(1), PyValue(2)}, false}) == PyValue(PySet{{PyValue(2), PyValue(1)}, false}));
    CHECK_FALSE(PyValue(PySet{{PyValue(1)}, false}) == PyValue(PySet{{PyValue(1)}, true}));
    CHECK(PyValue(PyTimezone{fixed_tz(5)}) == PyValue(PyTimezone{fixed_tz(5)}));
    CHECK_FALSE(PyValue(PyTimezone{fixed_tz(5)}) == PyValue(PyTimezone{fixed_tz(6)}));
}

// ---- older writers' opcodes

TEST_CASE("pickle: protocol 0-3 opcodes and the rarer ones build the same data Python builds", "[pickle]") {
    // Each expected repr is CPython 3.11.2's repr(pickle.loads(bytes)).
    CHECK(repr_of("(S'ab\\x41\\n'\nU\x02"
                  "cdT\x03\x00\x00\x00"
                  "efgVx\\u20ac\\U0001f600\\ud800y\nl."s) == "['abA\\n', 'cd', 'efg', 'x€😀\\ud800y']");
    CHECK(repr_of("(I01\nI00\nI-7\nI12345678901234567890\nL5L\nL-99999999999999999999999L\nF-2.5\nFinf\nt."s) ==
          "(True, False, -7, 12345678901234567890, 5, -99999999999999999999999, -2.5, inf)");
    CHECK(repr_of("K\x05"
                  "2\x86."s) == "(5, 5)");  // DUP
    CHECK(repr_of("K\x01K\x02"
                  "0\x85."s) == "(1,)");  // POP
    CHECK(repr_of("K\x01(K\x02K\x03"
                  "1\x85."s) == "(1,)");                                                 // POP_MARK
    CHECK(repr_of("(K\x01K\x02K\x03idatetime\ndate\n."s) == "datetime.date(1, 2, 3)");   // INST
    CHECK(repr_of("(cdatetime\ndate\nK\x01K\x02K\x03o."s) == "datetime.date(1, 2, 3)");  // OBJ
    CHECK(repr_of("\x80\x02"
                  "cdecimal\nDecimal\nX\x03\x00\x00\x00"
                  "1.5\x85\x81."s) == "Decimal('1.5')");  // NEWOBJ
    CHECK(repr_of("\x80\x04"
                  "cdatetime\ndate\nK\x01K\x02K\x03\x87}\x92."s) == "datetime.date(1, 2, 3)");  // NEWOBJ_EX
    CHECK(repr_of("\x80\x02"
                  "ccollections\nOrderedDict\n)RNb."s) == "OrderedDict()");     // BUILD with no state
    CHECK(repr_of("]r\x00\x01\x00\x00j\x00\x01\x00\x00\x86."s) == "([], [])");  // LONG_BINPUT / LONG_BINGET
    CHECK(repr_of("((lp7\ng7\nt."s) == "([], [])");                             // PUT / GET
    CHECK(repr_of("(\x8e\x02\x00\x00\x00\x00\x00\x00\x00"
                  "ab\x8d\x02\x00\x00\x00\x00\x00\x00\x00"
                  "cd"
                  "\x96\x01\x00\x00\x00\x00\x00\x00\x00"
                  "e\x8b\x02\x00\x00\x00\xff\x7f"
                  "B\x01\x00\x00\x00"
                  "f"
                  "X\x01\x00\x00\x00gt."s) == "(b'ab', 'cd', bytearray(b'e'), 32767, b'f', 'g')");
    CHECK(repr_of("\x8f(K\x01K\x02\x90(K\x03\x91\x86."s) ==
          "({1, 2}, frozenset({3}))");  // EMPTY_SET ADDITEMS FROZENSET
    CHECK(repr_of("(X\x01\x00\x00\x00"
                  "aK\x01"
                  "d."s) == "{'a': 1}");  // DICT
    CHECK(repr_of("](K\x01K\x02"
                  "e."s) == "[1, 2]");  // APPENDS
    // Trailing bytes after STOP are ignored, as by pickle.loads.
    CHECK(repr_of("K\x01.garbage"s) == "1");
}

TEST_CASE("pickle: dict keys become str as json.dumps converts them, with Python's key equality", "[pickle]") {
    // pickle.dumps({1: 'a', True: 'b', None: 'c', 1.5: 'd', 'k': float('nan')}, 2): Python's dict is
    // {1: 'b', None: 'c', 1.5: 'd', 'k': nan}; json.loads(json.dumps(...)) gives the same as we do.
    PyValue v = pickle_loads(from_hex(
        "80027d7100284b0158010000006271014e5801000000637102473ff8000000000000580100000064710358010000006b7104477ff8"
        "000000000000752e"));
    CHECK(python_repr(v) == "{'1': 'b', 'null': 'c', '1.5': 'd', 'k': nan}");
    // {1: 'x', '1': 'y'} is two keys in Python and one after json.dumps/loads: the last value wins.
    CHECK(repr_of("}(K\x01X\x01\x00\x00\x00xX\x01\x00\x00\x00"
                  "1X\x01\x00\x00\x00yu."s) == "{'1': 'y'}");
    CHECK(
        repr_of(
            "}(\x88K\x01\x89K\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01K\x03G\x7f\xf0\x00\x00\x00\x00\x00\x00K\x04u."s) ==
        "{'true': 1, 'false': 2, '18446744073709551616': 3, 'Infinity': 4}");
    // Keys json.dumps refuses are refused, naming the type.
    CHECK_THAT(load_error("}K\x01K\x02\x86K\x03s."s), Catch::Contains("dict key of type tuple"));
    CHECK_THAT(load_error("}C\x01xK\x03s."s), Catch::Contains("dict key of type bytes"));
    CHECK_THAT(load_error("}]K\x03s."s), Catch::Contains("unhashable type: 'list'"));
}

// ---- hostile

TEST_CASE("pickle: globals outside the whitelist are refused by name before anything else happens", "[pickle]") {
    // The classic: os.system('echo hi') with protocol 0.
    const std::string os_system = "cos\nsystem\n(S'echo hi'\ntR."s;
    CHECK(refused_global(os_system) == "os.system");
    CHECK_THAT(load_error(os_system), Catch::Contains("refusing to unpickle global os.system"));
    // Protocol 4: STACK_GLOBAL builtins.eval + REDUCE('print("hi")').
    const std::string eval =
        "\x80\x04\x8c\x08"
        "builtins\x94\x8c\x04"
        "eval\x94\x93\x94\x8c\x0b"
        "print(\"hi\")\x94\x85\x94R\x94."s;
    CHECK(refused_global(eval) == "builtins.eval");
    CHECK_THAT(load_error(eval), Catch::Contains("refusing to unpickle global builtins.eval"));
    CHECK(refused_global("\x80\x02"
                         "c__builtin__\neval\nX\x01\x00\x00\x00"
                         "1\x85R."s) == "__builtin__.eval");
    CHECK(refused_global("(S'ls'\nisubprocess\nPopen\n."s) == "subprocess.Popen");  // INST
    CHECK(refused_global("\x80\x04\x8c\x05posix\x8c\x06system\x93."s) == "posix.system");
    CHECK(refused_global("\x80\x02"
                         "ccopy_reg\n_reconstructor\n."s) == "copy_reg._reconstructor");
    CHECK(refused_global("cbuiltins\nopen\n."s) == "builtins.open");
    // getattr is read only as getattr(zoneinfo.ZoneInfo, '_unpickle').
    CHECK(refused_global("\x80\x02"
                         "cbuiltins\ngetattr\ncdatetime\ndatetime\nX\x03\x00\x00\x00now\x86R)R."s) ==
          "builtins.getattr(datetime.datetime.now)");
    // Copyreg extension codes name globals too.
    CHECK_THAT(load_error("\x80\x02\x82\x01."s), Catch::Contains("refusing to unpickle extension code 1"));
    // Refused as soon as the global is read: what follows does not matter.
    CHECK(refused_global("cos\nsystem\n\xff\xff"s) == "os.system");
    CHECK(refused_global("\x80\x05"
                         "cnt\nsystem\n"s) == "nt.system");
    // The name is the pickle's; the message escapes what could drive a terminal.
    const std::string sneaky = "cos\r\x1b[2J\nsystem\n."s;
    CHECK(refused_global(sneaky) == "os\r\x1b[2J.system");
    CHECK_THAT(load_error(sneaky), Catch::Contains("global os\\r\\x1b[2J.system"));
}

TEST_CASE("pickle: a refused pickle runs nothing", "[pickle]") {
    sessionctl::testing::TempDir dir("sessionctl-pickle");
    const std::string marker = dir.file("pwned");
    const std::string shell = "touch " + marker;
    const std::string payloads[] = {
        "cos\nsystem\n(S'" + shell + "'\ntR.",
        "cposix\nsystem\n(S'" + shell + "'\ntR.",
        "csubprocess\ncall\n((S'touch'\nS'" + marker + "'\nltR.",
        "\x80\x04\x8c\x08"
        "builtins\x8c\x04"
        "exec\x93\x8c" +
            std::string(1, static_cast<char>(28 + marker.size())) + "open('" + marker + "', 'w').close()\x85R.",
    };
    for (const auto& p : payloads) {
        INFO(p);
        CHECK_THROWS_AS(pickle_loads(p), PickleRefusedError);
    }
    CHECK_FALSE(std::filesystem::exists(marker));
}

TEST_CASE("pickle: REDUCE of something that is not a whitelisted callable is refused", "[pickle]") {
    CHECK_THAT(load_error("\x80\x05\x8c\x03"
                          "abc)R."s),
               Catch::Contains("a str is not callable"));
    CHECK_THAT(load_error("\x80\x05]\x94)R."s), Catch::Contains("a list is not callable"));
    CHECK_THAT(load_error("\x80\x02"
                          "cpytz\nutc\n)R."s),
               Catch::Contains("a UTC is not callable"));
    CHECK_THAT(load_error("\x80\x02"
                          "cpytz\n_UTC\n)\x81."s),
               Catch::Contains("pytz._UTC is not a class"));
    CHECK_THAT(load_error("\x80\x02"
                          "cdatetime\ndate\nK\x01\x85R."s),
               Catch::Contains("datetime.date: takes 3"));
    CHECK_THAT(load_error("\x80\x02"
                          "c_codecs\nencode\nX\x01\x00\x00\x00xX\x05\x00\x00\x00utf-8\x86R."s),
               Catch::Contains("only the latin-1 encoding"));
    CHECK_THAT(load_error("\x80\x02"
                          "cdecimal\nDecimal\nX\x03\x00\x00\x00"
                          "1.x\x85R."s),
               Catch::Contains("invalid literal"));
    CHECK_THAT(load_error("\x80\x02"
                          "cdatetime\ndate\nC\x04\x07\xe8\x0d\x01\x85R."s),
               Catch::Contains("month"));
    CHECK_THAT(load_error("\x80\x02"
                          "ccollections\nOrderedDict\n)R}(X\x01\x00\x00\x00xK\x01ub."s),
               Catch::Contains("BUILD"));
    // The class itself is not a value.
    CHECK_THAT(load_error("cdatetime\ndatetime\n."s), Catch::Contains("datetime.datetime itself"));
}

TEST_CASE("pickle: truncated, malformed and out-of-range input is a clear error", "[pickle]") {
    // Every proper prefix of Django's auth and aware-datetime pickles.
    const Json& doc = vectors::load(vectors::version_6_1(), "cache.json");
    for (const char* payload : {"auth", "aware_datetime", "python_only_types"}) {
        const std::string full =
            from_hex((*vectors::find_by(doc["memcached"], "payload", payload))["value_hex"].get<std::string>());
        for (std::size_t n = 0; n < full.size(); ++n) {
            INFO(payload << " cut at " << n);
            const std::string error = load_error(full.substr(0, n));
            CHECK((error.find("truncated") != std::string::npos || error.find("empty input") != std::string::npos));
        }
    }
    CHECK_THAT(load_error("\x80\x05]h\x05."s), Catch::Contains("memo index 5 not found"));
    CHECK_THAT(load_error("\x80\x05]j\x00\x00\x01\x00."s), Catch::Contains("memo index 65536 not found"));
    CHECK_THAT(load_error("g3\n."s), Catch::Contains("memo index 3 not found"));
    CHECK_THAT(load_error("\x80\x05."s), Catch::Contains("unpickling stack underflow"));
    CHECK_THAT(load_error("\x80\x05K\x01"
                          "a."s),
               Catch::Contains("stack underflow"));
    CHECK_THAT(load_error("\x80\x05](a."s), Catch::Contains("unexpected MARK found"));
    CHECK_THAT(load_error("\x80\x05K\x01u."s), Catch::Contains("could not find MARK"));
    CHECK_THAT(load_error("\x80\x05\xff."s), Catch::Contains("invalid load key, '\\xff'"));
    CHECK_THAT(load_error("\x80\x06}."s), Catch::Contains("unsupported pickle protocol: 6"));
    CHECK_THAT(load_error("\x80\x05}(K\x01u."s), Catch::Contains("odd number of items"));
    CHECK_THAT(load_error("\x80\x05)K\x01"
                          "a."s),
               Catch::Contains("cannot append to a tuple"));
    CHECK_THAT(load_error("\x80\x05]K\x01K\x01s."s), Catch::Contains("cannot set items of a list"));
    CHECK_THAT(load_error("\x8b\xff\xff\xff\xff."s), Catch::Contains("negative byte count"));
    CHECK_THAT(load_error("\x8c\x02\xff\xfe."s), Catch::Contains("'utf-8' codec can't decode byte 0xff"));
    CHECK_THAT(load_error("S'caf\xc3\xa9'\n."s), Catch::Contains("'ascii' codec"));
    CHECK_THAT(load_error("Sabc\n."s), Catch::Contains("must be quoted"));
    CHECK_THAT(load_error("S'\\x4'\n."s), Catch::Contains("invalid \\x escape"));
    CHECK_THAT(load_error("Ixyz\n."s), Catch::Contains("could not convert string to int"));
    CHECK_THAT(load_error("F1.5x\n."s), Catch::Contains("could not convert string to float"));
    CHECK_THAT(load_error("K\x01"s), Catch::Contains("truncated"));
    CHECK_THAT(load_error("\x80\x05\x95\xff\x00\x00\x00\x00\x00\x00\x00}."s), Catch::Contains("truncated"));
    CHECK_THAT(load_error(""), Catch::Contains("empty input"));
    CHECK_THAT(load_error("P1\n."s), Catch::Contains("persistent IDs"));
    CHECK_THAT(load_error("\x80\x05\x97."s), Catch::Contains("out-of-band buffers"));
}

TEST_CASE("pickle: deep nesting, self-reference and shared-reference bombs are refused without exhausting anything",
          "[pickle]") {
    // 100000 nested lists the way pickle writes them (EMPTY_LIST ... APPEND ...).
    std::string deep(100000, ']');
    deep += std::string(99999, 'a') + ".";
    CHECK_THAT(load_error(deep), Catch::Contains("nesting deeper than 2048"));
    // The same depth built through the memo, where no single step looks deep.
    std::string linked;
    constexpr std::uint32_t kLists = 100000;
    auto le32 = [](std::uint32_t v) {
        return std::string{static_cast<char>(v & 0xFF), static_cast<char>((v >> 8) & 0xFF),
                           static_cast<char>((v >> 16) & 0xFF), static_cast<char>(v >> 24)};
    };
    for (std::uint32_t i = 0; i < kLists; ++i) linked += "]r" + le32(i) + "0";
    for (std::uint32_t i = 0; i + 1 < kLists; ++i) linked += "j" + le32(i) + "j" + le32(i + 1) + "a0";
    linked += "j" + le32(0) + ".";
    CHECK_THAT(load_error(linked), Catch::Contains("nesting deeper than 2048"));
    // 100000 open MARKs.
    CHECK_THAT(load_error(std::string(100000, '(') + "."), Catch::Contains("MARKs nested deeper than 2048"));
    // A list that contains itself.
    CHECK_THAT(load_error("\x80\x05]\x94h\x00"
                          "a."s),
               Catch::Contains("contains itself"));
    // 60 levels of t = (t, t): 2**60 leaves from a few hundred bytes.
    std::string bomb =
        "X\x01\x00\x00\x00"
        "a\x94"s;
    for (int i = 0; i < 60; ++i) bomb += "0h"s + static_cast<char>(i) + "h"s + static_cast<char>(i) + "\x86\x94"s;
    bomb += ".";
    CHECK_THAT(load_error(bomb), Catch::Contains("more than 2000000 parts"));
    // The same with long strings: bytes are bounded too.
    std::string text_bomb = "X\x00\x00\x10\x00"s + std::string(1 << 20, 'x') + "\x94";
    for (int i = 0; i < 12; ++i) text_bomb += "0h"s + static_cast<char>(i) + "h"s + static_cast<char>(i) + "\x86\x94"s;
    text_bomb += ".";
    CHECK_THAT(load_error(text_bomb), Catch::Contains("more than 268435456 bytes"));
}

TEST_CASE("pickle: every limit is enforced", "[pickle]") {
    PickleLimits small;
    small.max_input_size = 10;
    CHECK_THAT(load_error(std::string(20, 'N'), small), Catch::Contains("exceeds the limit of 10 bytes"));
    CHECK_THAT(vectors::hex_of(pickle_dumps(pickle_load_prefix("N." + std::string(20, 'x'), small).value)),
               Catch::Equals("80054e2e"));
    small = {};
    small.max_memo_size = 2;
    CHECK(load_error("N\x94N\x94."
                     "",
                     small)
              .empty());
    CHECK_THAT(load_error("N\x94N\x94N\x94.", small), Catch::Contains("more than 2 memo entries"));
    small = {};
    small.max_container_size = 3;
    CHECK(load_error("](K\x01K\x02K\x03"
                     "e.",
                     small)
              .empty());
    CHECK_THAT(load_error("](K\x01K\x02K\x03K\x04"
                          "e.",
                          small),
               Catch::Contains("a list with more than 3 items"));
    CHECK_THAT(load_error("}(K\x01K\x01K\x02K\x02K\x03K\x03K\x04K\x04u.", small),
               Catch::Contains("a dict with more than 3"));
    small = {};
    small.max_int_bytes = 8;
    CHECK_THAT(load_error("\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01."s, small),
               Catch::Contains("an integer of 9 bytes"));
    small = {};
    small.max_depth = 3;
    CHECK(load_error("]]]aa.", small).empty());
    CHECK_THAT(load_error("]]]]aaa.", small), Catch::Contains("nesting deeper than 3"));
    small = {};
    small.max_values = 100;
    CHECK_THAT(load_error(std::string(200, 'N') + ".", small), Catch::Contains("stack deeper than 100"));
    CHECK_THAT(load_error(std::string(200, 'K') + ".", small), Catch::Contains("more than 100 objects"));
}

// ---- writing

TEST_CASE("pickle_dumps writes what CPython's pickle.dumps(value, 5) writes", "[pickle]") {
    // pickle.dumps({'k': [1, 'x', 2.5, None, True, 2**70, -2**63]}, 5)
    PyDict d;
    d.set("k", PyList{PyValue(1), PyValue("x"), PyValue(2.5), PyValue(), PyValue(true),
                      PyValue(PyBigInt{"1180591620717411303424"}), PyValue(std::numeric_limits<std::int64_t>::min())});
    CHECK(
        hex_of(pickle_dumps(d)) ==
        "80059532000000000000007d948c016b945d94284b018c0178944740040000000000004e888a090000000000000000408a080000000000"
        "00008065732e");
    CHECK(hex_of(pickle_dumps(PyValue())) == "80054e2e");  // no frame under 4 bytes
    CHECK(hex_of(pickle_dumps(PyValue(PyDict{}))) == "80057d942e");
    CHECK(hex_of(pickle_dumps(PyValue(1.5))) == "8005950a00000000000000473ff80000000000002e");
    CHECK(hex_of(pickle_dumps(PyValue(true))) == "8005882e");
    // int boundaries: BININT1, BININT2, BININT, LONG1.
    CHECK(hex_of(pickle_dumps(PyValue(255))) == "80054bff2e");
    CHECK(hex_of(pickle_dumps(PyValue(256))) == "80059504000000000000004d00012e");
    CHECK(hex_of(pickle_dumps(PyValue(-1))) == "80059506000000000000004affffffff2e");
    CHECK(hex_of(pickle_dumps(PyValue(std::int64_t{-2147483649}))) == "80059508000000000000008a05ffffff7fff2e");
    CHECK(hex_of(pickle_dumps(PyValue(std::int64_t{2147483648}))) == "80059508000000000000008a0500000080002e");
    CHECK(pickle_loads(pickle_dumps(PyValue(PyBigInt{"-" + std::string(300, '9')}))) ==
          PyValue(PyBigInt{"-" + std::string(300, '9')}));

    // Large values: batches of 1000, 64 KiB frames, str outside frames.
    // SHA-256 of CPython 3.11.2's pickle.dumps(obj, 5).
    auto keyed = [](int n) {
        PyDict out;
        for (int i = 0; i < n; ++i) {
            char key[16];
            std::snprintf(key, sizeof key, "k%05d", i);
            out.append_absent(key, PyValue(i));
        }
        return out;
    };
    auto range = [](int n) {
        PyList out;
        for (int i = 0; i < n; ++i) out.push_back(PyValue(i));
        return out;
    };
    auto sha = [](const PyValue& v) { return vectors::plain_digest_hex(false, pickle_dumps(v)); };
    // {'k%05d' % i: i for i in range(n)}
    CHECK(sha(keyed(1000)) == "33f6dc7a517d6a9489add6072c92b6274a62eb1098fb483d6dd6f50d0a7c52e5");
    CHECK(sha(keyed(2001)) == "b11fb91210650f9ae9c8df364b640aafe5e119eae7e2fe84e2188b4b93bead65");
    // {'l': list(range(n))}
    CHECK(sha(PyDict{{"l", range(1000)}}) == "8a92312fbfce7708cefe850b4abe565d02fcbc9a64025700b5e66b364373c733");
    CHECK(sha(PyDict{{"l", range(2001)}}) == "f3c94801f16c3d92816e4e54eb50952b67b20987abd48de893b5ca5a3ec64549");
    // {'big': 'x' * 70000, 'after': ['y' * 10, 'z' * 65536, 'w']}
    CHECK(sha(PyDict{{"big", std::string(70000, 'x')},
                     {"after", PyList{std::string(10, 'y'), std::string(65536, 'z'), "w"}}}) ==
          "7e02564f90a1326bbdb0365cbcb41f1961bc1e1d2d926c762c180cae71283010");
    // [['%05d' % i + 'v' * 100, '%05d' % i + 'w' * 100] for i in range(1500)]
    PyList frames;
    for (int i = 0; i < 1500; ++i) {
        char n[8];
        std::snprintf(n, sizeof n, "%05d", i);
        frames.push_back(PyList{std::string(n) + std::string(100, 'v'), std::string(n) + std::string(100, 'w')});
    }
    CHECK(sha(frames) == "ded1ab551e5fd00d1bcc2e5e503f63a8314b797e7088ab949db0550cf78d8737");
    CHECK(pickle_loads(pickle_dumps(frames)) == PyValue(frames));
}

TEST_CASE("pickle_dumps refuses values Python could not have held", "[pickle]") {
    CHECK_THROWS_AS(pickle_dumps(PyValue(PyBigInt{"12x"})), PickleError);
    CHECK_THROWS_AS(pickle_dumps(PyValue("\xff"s)), PickleError);
    CHECK_THROWS_AS(pickle_dumps(PyValue(PyDecimal{"one"})), PickleError);
}

TEST_CASE("pickle_dumps round-trips whatever json_loads reads", "[pickle]") {
    for (const char* text : {R"({"a":[1,2.5,null,true,false,"x"],"b":{"c":{}},"n":-9223372036854775808})",
                             R"({"big":123456789012345678901234567890,"neg":-1e-7,"nan":NaN,"inf":-Infinity})",
                             R"({"\ud800":"\udfff","k":"\u00e9\u6f22","e":""})", "[]", "\"s\"", "0"}) {
        INFO(text);
        PyValue v = json_loads_latin1(text);
        PyValue back = pickle_loads(pickle_dumps(v));
        CHECK(back == v);
        CHECK(json_dumps(back) == json_dumps(v));
    }
}

// ---- rendering

TEST_CASE("pickle-only kinds as JSON: json.dumps' rules for json_dumps, tagged objects for output", "[pickle]") {
    const Json& doc = vectors::load(vectors::version_6_1(), "cache.json");
    PyValue v = pickle_loads(from_hex(
        (*vectors::find_by(doc["memcached"], "payload", "python_only_types"))["value_hex"].get<std::string>()));
    // json.dumps writes a tuple as a list and an OrderedDict as an object, and
    // raises TypeError for the rest.
    CHECK(json_dumps(*v.as_dict().find("tuple")) == R"([1,"a"])");
    CHECK(json_dumps(*v.as_dict().find("ordered")) == R"({"a":1})");
    CHECK_THROWS_WITH(json_dumps(v), "Object of type set is not JSON serializable");
    CHECK_THROWS_WITH(json_dumps(*v.as_dict().find("bytes")), "Object of type bytes is not JSON serializable");
    CHECK_THROWS_WITH(json_dumps(*v.as_dict().find("decimal")), "Object of type Decimal is not JSON serializable");
    CHECK_THROWS_AS(json_dumps(PyValue(PyDateTime{})), JsonEncodeError);

    CHECK(cli::render_json(v) ==
          R"({"tuple":[1,"a"],"set":{"$set":[1]},"bytes":{"$bytes_hex":"00ff"},"decimal":{"$decimal":"1.10"},)"
          R"("nan":null,"ordered":{"a":1}})");
    CHECK(cli::render_json(v, 1).find("\"$set\": [\n") != std::string::npos);
    CHECK(cli::dump_json(cli::to_json(v)) ==
          R"({"tuple":[1,"a"],"set":{"$set":[1]},"bytes":{"$bytes_hex":"00ff"},"decimal":{"$decimal":"1.10"},)"
          R"("nan":null,"ordered":{"a":1}})");
    PyDict more;
    more.set("d", PyDateTime{PyDateTime::Kind::date, 1, 2, 0, 0, 0, 0, 2024, 0, nullptr});
    more.set("td", PyTimeDelta{1, 5, 0});
    more.set("tz", PyTimezone{fixed_tz(3600'000'000LL)});
    more.set("fs", PySet{{}, true});
    more.set("ba", PyByteArray{"\x01"});
    CHECK(cli::render_json(more) ==
          R"({"d":{"$date":"2024-01-02"},"td":{"$timedelta":"1 day, 0:00:05"},"tz":{"$timezone":"UTC+01:00"},)"
          R"("fs":{"$frozenset":[]},"ba":{"$bytearray_hex":"01"}})");
    CHECK(cli::dump_json(cli::to_json(more)) == cli::render_json(more));
    CHECK(cli::type_phrase(PyValue(PyTuple{})) == "a list"s);
    CHECK(cli::type_phrase(PyValue(PyDecimal{"1"})) == "a Python object"s);
}
