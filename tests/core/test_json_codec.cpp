// Tests for core/json_codec: Python 3.11's json.dumps(separators=(",", ":"))
// and json.loads(bytes.decode("latin-1")), byte for byte. Expected outputs,
// error messages and offsets were produced by running CPython 3.11.2.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json_codec.hpp"
#include "core/pyvalue.hpp"
#include "tests/core/json_test_helpers.hpp"

using namespace sessionctl;
using namespace std::string_literals;
using namespace std::string_view_literals;
using sessionctl::json_test::decode_error;
using sessionctl::json_test::repeat;

namespace {

double from_bits(std::uint64_t bits) { return std::bit_cast<double>(bits); }
std::uint64_t to_bits(double d) { return std::bit_cast<std::uint64_t>(d); }

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string loads_str(std::string_view text) {
    const PyValue v = json_loads_latin1(text);
    REQUIRE(v.is_str());
    return v.as_str();
}

// (IEEE-754 bits, repr()) for doubles sampled by CPython 3.11.2:
// random bit patterns, random decimals across the exponent range, and edges.
struct ReprPair {
    std::uint64_t bits;
    const char* repr;
};
const ReprPair kPythonReprs[] = {
    {0xd1a6e55e9b9b1325ULL, "-2.2239649050108196e+85"},
    {0x566bf9d7c55a45f8ULL, "2.0532095845172635e+108"},
    {0xcf0c26ef4243ed52ULL, "-6.217554322597633e+72"},
    {0x5d96cf7f265beda9ULL, "6.953979603744903e+142"},
    {0xc1d77cffb7decc0cULL, "-1576271583.481204"},
    {0x5e6a0a2edd70e34dULL, "6.503171038669016e+146"},
    {0x0463513755ac0ecdULL, "1.5857673189191353e-287"},
    {0xb37523a53b4a3ee2ULL, "-8.221863336486e-61"},
    {0x4de45321ad915a36ULL, "1.7123553371149197e+67"},
    {0x9823beb1e6ba3ad7ULL, "-2.1638530463091063e-192"},
    {0xdd4eabbd1fcfb980ULL, "-2.9219572677923937e+141"},
    {0x683447c10cc8af11ULL, "9.252761636154696e+193"},
    {0xbfb637dd5bae2d26ULL, "-0.08678992737093391"},
    {0xaed09b824ca87fc2ULL, "-3.419513645011445e-83"},
    {0x158d003d9a0b2361ULL, "7.226450560613817e-205"},
    {0x1ff135342e825ce1ULL, "8.021365036472743e-155"},
    {0x33f5f28807f0cbd4ULL, "2.1852629101185172e-58"},
    {0x00d9f4ad53a2f2b6ULL, "1.4784897218736648e-304"},
    {0x4cc346363c234038ULL, "6.194509959718476e+61"},
    {0xd330a5494d14cf1aULL, "-5.425245977872505e+92"},
    {0x668dc8f46a423cf9ULL, "1.0124757898277046e+186"},
    {0xd178403035c9a8c4ULL, "-2.944446857366267e+84"},
    {0x765890e0f94855d0ULL, "1.2086749044087354e+262"},
    {0xaf5d8bb09f2e9ea4ULL, "-1.5573811799210805e-80"},
    {0xa9dfdec6baecde5bULL, "-5.42808465396562e-107"},
    {0x699f071a5fd8e665ULL, "5.937551093150185e+200"},
    {0xf82d5644ef7d9967ULL, "-7.749285522714588e+270"},
    {0xfdfb462fd6fad8dbULL, "-7.134888966143026e+298"},
    {0xdb18bd763f20134cULL, "-6.859608543352666e+130"},
    {0x0e46c215b5fa5b0cULL, "6.826063143799301e-240"},
    {0xbf416c30f1f0742aULL, "-0.0005316962232232482"},
    {0x422acab59248b974ULL, "57535023396.36221"},
    {0x476354b65ed08d6bULL, "8.02974492705291e+35"},
    {0x3a7cfb366088155fULL, "5.852726618138463e-27"},
    {0x37c990fad57dcafdULL, "5.869740909421409e-40"},
    {0x26ad41ef88c279d9ULL, "2.2129413115836295e-122"},
    {0x6dbb8cb8ef65ed78ULL, "3.8900364282728575e+220"},
    {0x0e0bc896afbec9a6ULL, "5.2083625442892846e-241"},
    {0xdd63d2a5d1764460ULL, "-7.553946583906249e+141"},
    {0xda0aea0eaa72870bULL, "-5.693391869688787e+125"},
    {0x07bda21c604af42aULL, "2.1911047409340847e-271"},
    {0xd17737815438a5b5ULL, "-2.818911778819916e+84"},
    {0xeee45145f585675fULL, "-1.5040991579148302e+226"},
    {0x84d0c3f0b2e73ae0ULL, "-1.761642662237934e-285"},
    {0x5c80f9be67fd4c1eULL, "3.948318576242007e+137"},
    {0xaa5bf36518677db7ULL, "-1.2186953655621338e-104"},
    {0xea394aba6a42ed19ULL, "-4.956084037695639e+203"},
    {0x70faf36fb78eda4fULL, "1.7138399726928506e+236"},
    {0xca1ab21554c6c4b3ULL, "-9.753929657132168e+48"},
    {0x0f4bf777e1030fe1ULL, "5.49736026339521e-235"},
    {0x908a3e291dd257d5ULL, "-5.409083994422672e-229"},
    {0x2e0126319a72180dULL, "4.310374302572617e-87"},
    {0xfed5ce26af1ac6daULL, "-9.345817125499125e+302"},
    {0xcc31d7b90ff191f0ULL, "-1.1200023960706483e+59"},
    {0xf768f221a91b4e9dULL, "-1.608733339066941e+267"},
    {0x4a66b263ab8474ccULL, "2.6537167274827663e+50"},
    {0xc689c846b6b81ec6ULL, "-6.53659696798518e+31"},
    {0x535f2002b9f7f89eULL, "4.0577810885461344e+93"},
    {0x355cca5db3c7b88eULL, "1.2023470587576948e-51"},
    {0x857ce06bf9a21be1ULL, "-3.107068645161848e-282"},
    {0x02c89680e98c5884ULL, "3.0077087603228884e-295"},
    {0xd6442260559d7e79ULL, "-3.6942359140577326e+107"},
    {0x0473b8248ac03649ULL, "3.2375449474128926e-287"},
    {0x3cc89b41f339a684ULL, "6.8296687940174e-16"},
    {0xd68c20053f91ed95ULL, "-8.256618527360458e+108"},
    {0x5f4e45815c00d3d2ULL, "1.2386307567357675e+151"},
    {0x86f4f14cc599fac7ULL, "-3.7805423472813974e-275"},
    {0xd2e06b36b9ea43d4ULL, "-1.6722847020612747e+91"},
    {0xb2a57e606d09cf94ULL, "-1.0204724682369557e-64"},
    {0x8d1eac030bab1534ULL, "-1.7547066843945634e-245"},
    {0x25609be3c444a62eULL, "1.1980470828406925e-128"},
    {0xed20eb98ea70df2dULL, "-4.666325117398886e+217"},
    {0x133945bae4114d10ULL, "4.581939138498141e-216"},
    {0x40ba6f09be38fcbbULL, "6767.038058816625"},
    {0xd31f0231deef4351ULL, "-2.52662318921421e+92"},
    {0xc8fd442ec56309d2ULL, "-4.0791322597611117e+43"},
    {0x0286ecec43432c6bULL, "1.7527207115595254e-296"},
    {0xbbb458d39fd583ebULL, "-4.308640425335931e-21"},
    {0x43e94334742de49bULL, "1.4562850783828957e+19"},
    {0xf6bd8eca9f374cd6ULL, "-9.307392322080416e+263"},
    {0x3fa1d3b09c68b253ULL, "0.03481819066323468"},
    {0xc12afd8ad2f48726ULL, "-884421.41202185"},
    {0x4545eb97e0e83699ULL, "5.3e+25"},
    {0x2f87b6d71d20b96cULL, "1e-79"},
    {0x428be041735015bbULL, "3831248087554.7163"},
    {0x3faa43fe5c91d14fULL, "0.051300000000000005"},
    {0xc122357200000000ULL, "-596665.0"},
    {0x3ac70974e5c4d5d9ULL, "1.4887273524570788e-25"},
    {0x400ff5c28f5c28f6ULL, "3.995"},
    {0x41295206484b5dccULL, "829699.1412"},
    {0xc12a2de19dd07ec6ULL, "-857840.8082313172"},
    {0x3c644a9a66cdb0d6ULL, "8.8e-18"},
    {0x40d5e85e2e4ec560ULL, "22433.471576397656"},
    {0x43a462da01147e1dULL, "7.344880633249174e+17"},
    {0x433e708cf46f8000ULL, "8568000000000000.0"},
    {0x3b082db34012b252ULL, "2.5000000000000003e-24"},
    {0x3fe341205bc01a37ULL, "0.6017"},
    {0x433da3ea0f5c7000ULL, "8343000000000000.0"},
    {0x40fcf59f0b798a80ULL, "118617.94030145742"},
    {0xc0fad315c564a990ULL, "-109873.36069170223"},
    {0xc0fd83ea6fd8fd10ULL, "-120894.65230654576"},
    {0x444269973375096dULL, "6.793e+20"},
    {0x44d85a29990fe302ULL, "4.6e+23"},
    {0x41193ee3b781fb58ULL, "413624.92920677876"},
    {0x3c867b6257b8427aULL, "3.9000000000000005e-17"},
    {0xc11239a746833c60ULL, "-298601.81886"},
    {0x41104352b316e390ULL, "266452.6748920018"},
    {0x439434c04928f800ULL, "3.64e+17"},
    {0x3c2e547a8c9e7194ULL, "8.220961605097831e-19"},
    {0x3fea94467381d7dcULL, "0.8306"},
    {0x410c864000000000ULL, "233672.0"},
    {0x412ca67a1294f84aULL, "938813.0362928"},
    {0x3f50624dd2f1a9fcULL, "0.001"},
    {0x4367d22977381000ULL, "5.364e+16"},
    {0xc113a2207ae147aeULL, "-321672.12"},
    {0x416e848000000000ULL, "16000000.0"},
    {0x410c31ac7e32f778ULL, "230965.56162064872"},
    {0x0000002f201d49fbULL, "1e-312"},
    {0x3e0b7cdfd9d7bdbbULL, "8e-10"},
    {0x3c97bc7e37371c34ULL, "8.235183680298475e-17"},
    {0x43f22611d9aba6c2ULL, "2.0924037894129852e+19"},
    {0x3bb2d95122b22226ULL, "3.991408618607036e-21"},
    {0x4117857521e4b780ULL, "385373.28309904784"},
    {0x3e5d2ff429fd6bc7ULL, "2.7182809447241818e-08"},
    {0x42cdc2b81cd5ad13ULL, "65444299516762.15"},
    {0x3ae4d8989110b779ULL, "5.388584860904731e-25"},
    {0x3ffbe353f7ced917ULL, "1.743"},
    {0xc10d96bf9d0be338ULL, "-242391.95168283"},
    {0x3f29f3c70c996b76ULL, "0.000198"},
    {0xc12344b1d57d5dccULL, "-631384.9169720947"},
    {0x40202f007b47acc5ULL, "8.091800549029708"},
    {0x41212b96d844d014ULL, "562635.4224"},
    {0x401604189374bc6bULL, "5.5040000000000004"},
    {0x41f954fc40000000ULL, "6800000000.0"},
    {0xc11bfcd3c9f5594cULL, "-458548.94722499396"},
    {0x438de899a3033c97ULL, "2.6939266838872547e+17"},
    {0x43e0af40015536a0ULL, "9.618e+18"},
    {0x46048338c3a73e1eULL, "2.0314680129554098e+29"},
    {0x3f47903f7dc450fdULL, "0.0007191"},
    {0x412d9583a7292140ULL, "969409.8264856711"},
    {0x438341c751f85216ULL, "1.7345116438490387e+17"},
    {0x17dd331a4b10d3f6ULL, "1e-193"},
    {0x48078287f49c4a1dULL, "1e+39"},
    {0xc11f0e05ae32858eULL, "-508801.4201146"},
    {0x3f9dbca9691a75ceULL, "0.029040000000000003"},
    {0xc12c97d8f1af5e47ULL, "-936940.4720410787"},
    {0x483d6329f1c35ca5ULL, "1e+40"},
    {0x4395de0a8582ed40ULL, "3.939271220424417e+17"},
    {0xc12ae80d376e716fULL, "-881670.608264489"},
    {0x437d8abd39677ad8ULL, "1.3304511425830438e+17"},
    {0x4081800000000000ULL, "560.0"},
    {0x4302795f58d50000ULL, "650000000000000.0"},
    {0x4120c8e000000000ULL, "550000.0"},
    {0x41292a16c4e761b8ULL, "824587.3845778024"},
    {0x3fa0f27bb2fec56eULL, "0.033100000000000004"},
    {0x400eb645a1cac083ULL, "3.839"},
    {0x4111101f3bf1e4d0ULL, "279559.8085399391"},
    {0xc1037774f28100fcULL, "-159470.6184101178"},
    {0xc1205e6a2c6a3feaULL, "-536373.0867481206"},
    {0x40e10f60f4a98df0ULL, "34939.02986600611"},
    {0x25c5a956e225d672ULL, "1e-126"},
    {0x43a36dcc951d8c00ULL, "7e+17"},
    {0x439aee0f6a879eddULL, "4.85126359914887e+17"},
    {0x43a84d5a7bda1c22ULL, "8.755776590518725e+17"},
    {0x1ca3529ba7d19eafULL, "1e-170"},
    {0x3a850d5a39090464ULL, "8.502898877369103e-27"},
    {0xc12bd7095ff583a5ULL, "-912260.68742"},
    {0x3fe828f5c28f5c29ULL, "0.755"},
    {0x586fb969f40042c5ULL, "1e+118"},
    {0x41258a4ee3f901a0ULL, "705831.4452591427"},
    {0x44806eb455799448ULL, "9.7e+21"},
    {0x410ba406b30237e8ULL, "226432.83740657498"},
    {0x04f7cad23de82d7bULL, "1e-284"},
    {0x2ca0aff95cc5b092ULL, "1e-93"},
    {0x3c53d48b418ed58cULL, "4.3e-18"},
    {0x43acca3db7d5f040ULL, "1.0372692190675681e+18"},
    {0x43975c35548cc40aULL, "4.208197494962264e+17"},
    {0x3f3f588adb90b4eeULL, "0.00047829999999999997"},
    {0x3fd013a92a305533ULL, "0.25120000000000003"},
    {0x43a58735e2e1ba23ULL, "7.756339226091892e+17"},
    {0x15c91510781fb5f0ULL, "1e-203"},
    {0x3fb47ae147ae147bULL, "0.08"},
    {0xc12234c4914b0a15ULL, "-596578.28377563"},
    {0x18e6470cff6546b6ULL, "1e-188"},
    {0x3be58c5b356a3d4cULL, "3.6504183759143405e-20"},
    {0x42433ee47527150bULL, "165319076430.1644"},
    {0xc127db6387abe99eULL, "-781745.7649834638"},
    {0x443ef861531f74aaULL, "5.713e+20"},
    {0x43a7dd3f16d3c300ULL, "8.598e+17"},
    {0x42e95a27791e0000ULL, "223000000000000.0"},
    {0x0000000000000001ULL, "5e-324"},
    {0x8000000000000001ULL, "-5e-324"},
    {0x7fefffffffffffffULL, "1.7976931348623157e+308"},
    {0x0010000000000000ULL, "2.2250738585072014e-308"},
    {0x000fffffffffffffULL, "2.225073858507201e-308"},
    {0x3fb999999999999aULL, "0.1"},
    {0x3fd3333333333334ULL, "0.30000000000000004"},
    {0x3fd5555555555555ULL, "0.3333333333333333"},
    {0x3fe5555555555555ULL, "0.6666666666666666"},
    {0x4480f0cf064dd592ULL, "1e+22"},
    {0x44b52d02c7e14af6ULL, "1e+23"},
    {0x437b69b4ba630f35ULL, "1.2345678901234568e+17"},
    {0x3f1a36e2eb1c432dULL, "0.0001"},
    {0x3f1a36e2eb1c432cULL, "9.999999999999999e-05"},
    {0x4341c37937e08000ULL, "1e+16"},
    {0x4341c37937e07fffULL, "9999999999999998.0"},
    {0x430c6bf526340000ULL, "1000000000000000.0"},
    {0x3ee4f8b588e368f1ULL, "1e-05"},
    {0x3e8421f5f40d8376ULL, "1.5e-07"},
    {0x0000000000000000ULL, "0.0"},
    {0x8000000000000000ULL, "-0.0"},
    {0x3ff0000000000000ULL, "1.0"},
    {0xbff0000000000000ULL, "-1.0"},
    {0x4059000000000000ULL, "100.0"},
    {0x405edd2f1a9fbe77ULL, "123.456"},
    {0x4004000000000000ULL, "2.5"},
    {0x54b249ad2594c37dULL, "1e+100"},
};

// (input, json.loads error) as CPython 3.11.2 reports them: the message, then
// e.pos, which is a byte offset because the input is decoded as latin-1.
struct ErrorCase {
    std::string_view input;
    const char* message;
};
const ErrorCase kPythonErrors[] = {
    {""sv, "Expecting value at byte 0"},
    {" "sv, "Expecting value at byte 1"},
    {" \011\012\015"sv, "Expecting value at byte 4"},
    {"01"sv, "Extra data at byte 1"},
    {"1."sv, "Extra data at byte 1"},
    {".5"sv, "Expecting value at byte 0"},
    {"+1"sv, "Expecting value at byte 0"},
    {"-"sv, "Expecting value at byte 0"},
    {"-x"sv, "Expecting value at byte 0"},
    {"-NaN"sv, "Expecting value at byte 0"},
    {"nan"sv, "Expecting value at byte 0"},
    {"infinity"sv, "Expecting value at byte 0"},
    {"tru"sv, "Expecting value at byte 0"},
    {"nul"sv, "Expecting value at byte 0"},
    {"fals"sv, "Expecting value at byte 0"},
    {"1e"sv, "Extra data at byte 1"},
    {"1e+"sv, "Extra data at byte 1"},
    {"1E-"sv, "Extra data at byte 1"},
    {"1.e5"sv, "Extra data at byte 1"},
    {"00"sv, "Extra data at byte 1"},
    {"-01"sv, "Extra data at byte 2"},
    {"1 2"sv, "Extra data at byte 2"},
    {"true false"sv, "Extra data at byte 5"},
    {"[1,]"sv, "Expecting value at byte 3"},
    {"[,1]"sv, "Expecting value at byte 1"},
    {"[1 2]"sv, "Expecting ',' delimiter at byte 3"},
    {"[1"sv, "Expecting ',' delimiter at byte 2"},
    {"["sv, "Expecting value at byte 1"},
    {"]"sv, "Expecting value at byte 0"},
    {"{"sv, "Expecting property name enclosed in double quotes at byte 1"},
    {"}"sv, "Expecting value at byte 0"},
    {"{\"a\""sv, "Expecting ':' delimiter at byte 4"},
    {"{\"a\":"sv, "Expecting value at byte 5"},
    {"{\"a\":1"sv, "Expecting ',' delimiter at byte 6"},
    {"{\"a\":1,}"sv, "Expecting property name enclosed in double quotes at byte 7"},
    {"{\"a\" 1}"sv, "Expecting ':' delimiter at byte 5"},
    {"{1:2}"sv, "Expecting property name enclosed in double quotes at byte 1"},
    {"{'a':1}"sv, "Expecting property name enclosed in double quotes at byte 1"},
    {"{\"a\":1 \"b\":2}"sv, "Expecting ',' delimiter at byte 7"},
    {"{\"a\":1,\"b"sv, "Unterminated string starting at byte 7"},
    {"[1,\0142]"sv, "Expecting value at byte 3"},
    {"\0141"sv, "Expecting value at byte 0"},
    {"1\014"sv, "Extra data at byte 1"},
    {"\2401"sv, "Expecting value at byte 0"},
    {"\"abc"sv, "Unterminated string starting at byte 0"},
    {"\"a\\"sv, "Unterminated string starting at byte 0"},
    {"\"a\\x\""sv, "Invalid \\escape at byte 2"},
    {"\"\\U0041\""sv, "Invalid \\escape at byte 1"},
    {"\"\\'\""sv, "Invalid \\escape at byte 1"},
    {"\"\\u12\""sv, "Invalid \\uXXXX escape at byte 2"},
    {"\"\\u12g4\""sv, "Invalid \\uXXXX escape at byte 2"},
    {"\"\\u\""sv, "Invalid \\uXXXX escape at byte 2"},
    {"\"\\ud83d"sv, "Invalid \\uXXXX escape at byte 2"},
    {"\"\\ud83d\\uzzzz\""sv, "Invalid \\uXXXX escape at byte 8"},
    {"\"\\ud83d\\ude0\""sv, "Invalid \\uXXXX escape at byte 8"},
    {"\"a\001\""sv, "Invalid control character at byte 2"},
    {"\"a\000b\""sv, "Invalid control character at byte 2"},
    {"\"\037\""sv, "Invalid control character at byte 1"},
    {"\"\011\""sv, "Invalid control character at byte 1"},
    {"\"\012\""sv, "Invalid control character at byte 1"},
    {"\"\000"sv, "Invalid control character at byte 1"},
    {"[\"a\",\012\"b\012\"]"sv, "Invalid control character at byte 8"},
    {"{\"k\":\"v\"}x"sv, "Extra data at byte 9"},
    {"[] []"sv, "Extra data at byte 3"},
    {"\"x\" \"y\""sv, "Extra data at byte 4"},
    {"NaNx"sv, "Extra data at byte 3"},
    {"-Infinityy"sv, "Extra data at byte 9"},
    {"[1,2]]"sv, "Extra data at byte 5"},
    {"{\"a\":{\"b\":[1,{\"c\":}]}}"sv, "Expecting value at byte 18"},
};

}  // namespace

// ---- json_dumps

TEST_CASE("json_dumps writes None, True and False as null, true and false", "[core][json]") {
    CHECK(json_dumps(PyValue()) == "null");
    CHECK(json_dumps(PyValue(nullptr)) == "null");
    CHECK(json_dumps(PyValue(true)) == "true");
    CHECK(json_dumps(PyValue(false)) == "false");
}

TEST_CASE("json_dumps writes int64 values in decimal including the extremes", "[core][json]") {
    CHECK(json_dumps(PyValue(0)) == "0");
    CHECK(json_dumps(PyValue(-7)) == "-7");
    CHECK(json_dumps(PyValue(300)) == "300");
    CHECK(json_dumps(PyValue(std::numeric_limits<std::int64_t>::max())) == "9223372036854775807");
    CHECK(json_dumps(PyValue(std::numeric_limits<std::int64_t>::min())) == "-9223372036854775808");
}

TEST_CASE("json_dumps writes a PyBigInt as its decimal text", "[core][json]") {
    CHECK(json_dumps(PyValue(PyBigInt{"1180591620717411303424"})) == "1180591620717411303424");
    CHECK(json_dumps(PyValue(PyBigInt{"-1180591620717411303424"})) == "-1180591620717411303424");
    CHECK(json_dumps(PyValue(PyBigInt{"18446744073709551615"})) == "18446744073709551615");
}

TEST_CASE("json_dumps refuses a PyBigInt beyond Python's 4300-digit str() limit", "[core][json]") {
    const std::string d4300 = "9" + std::string(4299, '0');
    CHECK(json_dumps(PyValue(PyBigInt{d4300})) == d4300);
    CHECK(json_dumps(PyValue(PyBigInt{"-" + d4300})) == "-" + d4300);
    CHECK_THROWS_AS(json_dumps(PyValue(PyBigInt{d4300 + "0"})), JsonEncodeError);
    CHECK_THROWS_AS(json_dumps(PyValue(PyBigInt{"-" + d4300 + "0"})), JsonEncodeError);
}

TEST_CASE("json_dumps writes floats as Python's repr", "[core][json]") {
    CHECK(json_dumps(PyValue(1.0)) == "1.0");
    CHECK(json_dumps(PyValue(0.1)) == "0.1");
    CHECK(json_dumps(PyValue(2.5)) == "2.5");
    CHECK(json_dumps(PyValue(-0.0)) == "-0.0");
    CHECK(json_dumps(PyValue(0.0)) == "0.0");
    CHECK(json_dumps(PyValue(1e16)) == "1e+16");
    CHECK(json_dumps(PyValue(1e15)) == "1000000000000000.0");
    CHECK(json_dumps(PyValue(1.5e-7)) == "1.5e-07");
    CHECK(json_dumps(PyValue(123456789.12345679)) == "123456789.12345679");
}

TEST_CASE("json_dumps writes NaN, Infinity and -Infinity as bare tokens", "[core][json]") {
    CHECK(json_dumps(PyValue(kNaN)) == "NaN");
    CHECK(json_dumps(PyValue(-kNaN)) == "NaN");
    CHECK(json_dumps(PyValue(kInf)) == "Infinity");
    CHECK(json_dumps(PyValue(-kInf)) == "-Infinity");
    CHECK(json_dumps(PyValue(PyList{kNaN, kInf, -kInf})) == "[NaN,Infinity,-Infinity]");
}

TEST_CASE("json_dumps copies printable ASCII unescaped, including /", "[core][json]") {
    std::string printable;
    for (int c = 0x20; c <= 0x7e; ++c)
        if (c != '"' && c != '\\') printable.push_back(static_cast<char>(c));
    CHECK(json_dumps(PyValue(printable)) == "\"" + printable + "\"");
    CHECK(json_dumps(PyValue("a/b</script>&amp;")) == "\"a/b</script>&amp;\"");
}

TEST_CASE("json_dumps escapes quote and backslash with a backslash", "[core][json]") {
    CHECK(json_dumps(PyValue("\"'\\/")) == R"("\"'\\/")");
    CHECK(json_dumps(PyValue("\\\\")) == R"("\\\\")");
}

TEST_CASE("json_dumps uses the short escapes \\n \\r \\t \\b \\f", "[core][json]") {
    CHECK(json_dumps(PyValue("a\nb\tc\rd\be\ff")) == R"("a\nb\tc\rd\be\ff")");
}

TEST_CASE("json_dumps escapes other control characters as lowercase \\u00XX", "[core][json]") {
    CHECK(json_dumps(PyValue(std::string("\0", 1))) == R"("\u0000")");
    CHECK(json_dumps(PyValue("\x01\x1f\x1b\x0b")) == R"("\u0001\u001f\u001b\u000b")");
    const std::string shorts = "\b\t\n\f\r";
    for (int c = 0; c < 0x20; ++c) {
        if (shorts.find(static_cast<char>(c)) != std::string::npos) continue;
        static constexpr char hex[] = "0123456789abcdef";
        const std::string expected = "\"\\u00"s + hex[c >> 4] + hex[c & 0xF] + "\"";
        CHECK(json_dumps(PyValue(std::string(1, static_cast<char>(c)))) == expected);
    }
}

TEST_CASE("json_dumps escapes DEL as \\u007f", "[core][json]") { CHECK(json_dumps(PyValue("\x7f")) == R"("\u007f")"); }

TEST_CASE("json_dumps escapes non-ASCII BMP characters as lowercase \\uXXXX", "[core][json]") {
    CHECK(json_dumps(PyValue("cl\xc3\xa9")) == R"("cl\u00e9")");  // é
    CHECK(json_dumps(PyValue("\xc2\x80\xc3\xbf")) == R"("\u0080\u00ff")");
    CHECK(json_dumps(PyValue("\xe6\xbc\xa2\xe5\xad\x97")) == R"("\u6f22\u5b57")");  // 漢字
    CHECK(json_dumps(PyValue("\xe2\x80\xa8\xe2\x80\xa9")) == R"("\u2028\u2029")");
    CHECK(json_dumps(PyValue("\xef\xbb\xbf\xef\xbf\xbf")) == R"("\ufeff\uffff")");
    CHECK(json_dumps(PyValue("\xe0\xa0\x80")) == R"("\u0800")");
}

TEST_CASE("json_dumps escapes non-BMP characters as a lowercase surrogate pair", "[core][json]") {
    CHECK(json_dumps(PyValue("\xf0\x9f\x98\x80")) == R"("\ud83d\ude00")");  // 😀
    CHECK(json_dumps(PyValue("\xf0\x90\x80\x80")) == R"("\ud800\udc00")");  // U+10000
    CHECK(json_dumps(PyValue("\xf4\x8f\xbf\xbf")) == R"("\udbff\udfff")");  // U+10FFFF
}

TEST_CASE("json_dumps escapes WTF-8 lone surrogates as \\uXXXX", "[core][json]") {
    CHECK(json_dumps(PyValue("\xed\xa0\x80")) == R"("\ud800")");
    CHECK(json_dumps(PyValue("\xed\xbf\xbf")) == R"("\udfff")");
    CHECK(json_dumps(PyValue("a\xed\xb0\x80"
                             "b")) == R"("a\udc00b")");
    // A pair of separately encoded surrogates is two str code points in
    // Python too ('\ud83d\ude00'), which json.dumps writes like the emoji.
    CHECK(json_dumps(PyValue("\xed\xa0\xbd\xed\xb8\x80")) == R"("\ud83d\ude00")");
}

TEST_CASE("json_dumps throws JsonEncodeError on invalid UTF-8", "[core][json]") {
    const std::vector<std::string> invalid = {
        "\x80",              // stray continuation byte
        "a\xbf",             // stray continuation byte
        "\xc3",              // truncated 2-byte sequence
        "\xe6\xbc",          // truncated 3-byte sequence
        "\xf0\x9f\x98",      // truncated 4-byte sequence
        "\xc3(",             // bad continuation
        "\xc0\x80",          // overlong NUL
        "\xc1\xbf",          // overlong
        "\xe0\x80\xaf",      // overlong '/'
        "\xe0\x9f\xbf",      // overlong U+07FF
        "\xf0\x8f\xbf\xbf",  // overlong U+FFFF
        "\xf4\x90\x80\x80",  // beyond U+10FFFF
        "\xf5\x80\x80\x80",  // beyond U+10FFFF
        "\xf8\x88\x80\x80\x80",
        "\xfe",
        "\xff",
    };
    for (const auto& s : invalid) {
        INFO("bytes: " << s);
        CHECK_THROWS_AS(json_dumps(PyValue(s)), JsonEncodeError);
        CHECK_THROWS_AS(json_dumps(PyValue(PyDict{{s, 1}})), JsonEncodeError);
        CHECK_THROWS_AS(json_dumps(PyValue(PyList{"ok", PyDict{{"k", s}}})), JsonEncodeError);
    }
}

TEST_CASE("json_dumps writes lists and dicts without whitespace", "[core][json]") {
    const PyValue v = PyDict{
        {"a", PyDict{{"b", PyList{1, 2.5, PyDict{{"c", nullptr}}}}}}, {"t", true}, {"f", false}, {"i", -7},
        {"deep", PyList{PyList{PyList{PyList{PyList{"x"}}}}}},
    };
    CHECK(json_dumps(v) == R"({"a":{"b":[1,2.5,{"c":null}]},"t":true,"f":false,"i":-7,"deep":[[[[["x"]]]]]})");
}

TEST_CASE("json_dumps writes dict keys in insertion order", "[core][json]") {
    PyDict d;
    d.set("z", 1);
    d.set("a", 2);
    d.set("m", 3);
    d.set("z", 4);  // reassignment keeps the first position
    CHECK(json_dumps(PyValue(d)) == R"({"z":4,"a":2,"m":3})");
    CHECK(json_dumps(PyValue(PyDict{{"1", "string key one"}, {"01", "zero-one"}})) ==
          R"({"1":"string key one","01":"zero-one"})");
}

TEST_CASE("json_dumps escapes dict keys like any other string", "[core][json]") {
    CHECK(json_dumps(PyValue(PyDict{{"cl\xc3\xa9", 1}, {"\"\n", 2}, {"\xf0\x9f\x98\x80", nullptr}})) ==
          R"({"cl\u00e9":1,"\"\n":2,"\ud83d\ude00":null})");
}

TEST_CASE("json_dumps writes empty containers and empty strings", "[core][json]") {
    CHECK(json_dumps(PyValue(PyList{})) == "[]");
    CHECK(json_dumps(PyValue(PyDict{})) == "{}");
    CHECK(json_dumps(PyValue("")) == R"("")");
    CHECK(json_dumps(PyValue(PyDict{{"", PyList{PyList{}, PyDict{}, ""}}})) == R"({"":[[],{},""]})");
}

// ---- python_float_repr

TEST_CASE("python_float_repr uses fixed notation with a fractional part for exponents -4..15", "[core][json]") {
    CHECK(python_float_repr(0.0) == "0.0");
    CHECK(python_float_repr(1.0) == "1.0");
    CHECK(python_float_repr(-1.0) == "-1.0");
    CHECK(python_float_repr(100.0) == "100.0");
    CHECK(python_float_repr(123.456) == "123.456");
    CHECK(python_float_repr(0.0001) == "0.0001");
    CHECK(python_float_repr(0.00012) == "0.00012");
    CHECK(python_float_repr(1e15) == "1000000000000000.0");
    CHECK(python_float_repr(9999999999999998.0) == "9999999999999998.0");
    CHECK(python_float_repr(1234567890123456.8) == "1234567890123456.8");
    CHECK(python_float_repr(123456789.12345679) == "123456789.12345679");
}

TEST_CASE("python_float_repr uses scientific notation below 1e-4 and from 1e16", "[core][json]") {
    CHECK(python_float_repr(1e16) == "1e+16");
    CHECK(python_float_repr(-1e16) == "-1e+16");
    CHECK(python_float_repr(1e-5) == "1e-05");
    CHECK(python_float_repr(9.999999999999999e-05) == "9.999999999999999e-05");
    CHECK(python_float_repr(1.5e-7) == "1.5e-07");
    CHECK(python_float_repr(1.234e20) == "1.234e+20");
    CHECK(python_float_repr(1e22) == "1e+22");
    CHECK(python_float_repr(1e100) == "1e+100");
    CHECK(python_float_repr(123456789012345678.0) == "1.2345678901234568e+17");
    CHECK(python_float_repr(1.7976931348623157e308) == "1.7976931348623157e+308");
    CHECK(python_float_repr(5e-324) == "5e-324");
    CHECK(python_float_repr(-5e-324) == "-5e-324");
    CHECK(python_float_repr(2.2250738585072014e-308) == "2.2250738585072014e-308");
}

TEST_CASE("python_float_repr writes nan, inf and -inf", "[core][json]") {
    CHECK(python_float_repr(kNaN) == "nan");
    CHECK(python_float_repr(-kNaN) == "nan");
    CHECK(python_float_repr(kInf) == "inf");
    CHECK(python_float_repr(-kInf) == "-inf");
}

TEST_CASE("python_float_repr keeps the sign of negative zero", "[core][json]") {
    CHECK(python_float_repr(-0.0) == "-0.0");
    CHECK(python_float_repr(0.0) == "0.0");
}

TEST_CASE("python_float_repr gives the shortest digits that round-trip", "[core][json]") {
    CHECK(python_float_repr(0.1) == "0.1");
    CHECK(python_float_repr(0.1 + 0.2) == "0.30000000000000004");
    CHECK(python_float_repr(1.0 / 3.0) == "0.3333333333333333");
    CHECK(python_float_repr(2.0 / 3.0) == "0.6666666666666666");
    CHECK(python_float_repr(1e23) == "1e+23");
    CHECK(python_float_repr(from_bits(0x000fffffffffffffULL)) == "2.225073858507201e-308");
}

TEST_CASE("python_float_repr matches CPython 3.11 for sampled doubles", "[core][json]") {
    STATIC_REQUIRE(std::size(kPythonReprs) >= 200);
    for (const auto& [bits, repr] : kPythonReprs) {
        INFO("bits 0x" << std::hex << bits << ", Python repr " << repr);
        const double d = from_bits(bits);
        CHECK(python_float_repr(d) == repr);
        CHECK(json_dumps(PyValue(d)) == repr);
        // ...and json.loads(repr) gives back the same double.
        const PyValue back = json_loads_latin1(repr);
        REQUIRE(back.is_float());
        CHECK(to_bits(back.as_float()) == bits);
    }
}

// ---- json_loads_latin1

TEST_CASE("json_loads_latin1 reads null, true, false, NaN, Infinity and -Infinity", "[core][json]") {
    CHECK(json_loads_latin1("null").is_none());
    CHECK(json_loads_latin1("true") == PyValue(true));
    CHECK(json_loads_latin1("false") == PyValue(false));
    const PyValue nan = json_loads_latin1("NaN");
    REQUIRE(nan.is_float());
    CHECK(std::isnan(nan.as_float()));
    CHECK(json_loads_latin1("Infinity") == PyValue(kInf));
    CHECK(json_loads_latin1("-Infinity") == PyValue(-kInf));
    CHECK(json_loads_latin1("[NaN,Infinity,-Infinity,null]") == PyValue(PyList{kNaN, kInf, -kInf, nullptr}));
}

TEST_CASE("json_loads_latin1 reads constants case-sensitively and in full", "[core][json]") {
    for (const char* bad : {"nan", "NAN", "infinity", "INFINITY", "-infinity", "-NaN", "+Infinity", "Null", "True",
                            "FALSE", "nul", "tru", "fals", "Infinit", "-Infinit", "None"}) {
        INFO(bad);
        CHECK(decode_error(bad) == "Expecting value at byte 0");
    }
    CHECK(decode_error("nullx") == "Extra data at byte 4");
    CHECK(decode_error("truefalse") == "Extra data at byte 4");
}

TEST_CASE("json_loads_latin1 reads integers that fit int64 as int", "[core][json]") {
    CHECK(json_loads_latin1("0") == PyValue(0));
    CHECK(json_loads_latin1("7") == PyValue(7));
    CHECK(json_loads_latin1("-7") == PyValue(-7));
    CHECK(json_loads_latin1("300") == PyValue(300));
    CHECK(json_loads_latin1("123456789012345678") == PyValue(std::int64_t{123456789012345678}));
    CHECK(json_loads_latin1("9223372036854775807") == PyValue(std::numeric_limits<std::int64_t>::max()));
    CHECK(json_loads_latin1("-9223372036854775808") == PyValue(std::numeric_limits<std::int64_t>::min()));
}

TEST_CASE("json_loads_latin1 reads -0 as the int 0", "[core][json]") {
    const PyValue v = json_loads_latin1("-0");
    REQUIRE(v.is_int());
    CHECK(v.as_int() == 0);
    CHECK(json_dumps(v) == "0");
}

TEST_CASE("json_loads_latin1 reads integers beyond int64 as a canonical PyBigInt", "[core][json]") {
    const std::vector<std::string> bigs = {
        "9223372036854775808",     // 2**63
        "-9223372036854775809",    // -(2**63) - 1
        "18446744073709551615",    // 2**64 - 1
        "1180591620717411303424",  // 2**70
        "-1180591620717411303424", "100000000000000000000000000000000000000000000000000000000000",
    };
    for (const auto& text : bigs) {
        INFO(text);
        const PyValue v = json_loads_latin1(text);
        REQUIRE(v.is_bigint());
        CHECK(v.as_bigint().decimal == text);
        CHECK(json_dumps(v) == text);
    }
}

TEST_CASE("json_loads_latin1 rejects integers beyond Python's 4300-digit limit", "[core][json]") {
    const std::string d4300 = "1" + std::string(4299, '0');
    CHECK(json_loads_latin1(d4300) == PyValue(PyBigInt{d4300}));
    CHECK(json_loads_latin1("-" + d4300) == PyValue(PyBigInt{"-" + d4300}));
    CHECK_THROWS_AS(json_loads_latin1(d4300 + "0"), JsonDecodeError);
    CHECK_THROWS_AS(json_loads_latin1("[-" + d4300 + "0]"), JsonDecodeError);
    CHECK_THAT(decode_error("[" + d4300 + "0]"), Catch::Contains("4301 digits") && Catch::Contains("at byte 1"));
    // The limit is int()'s; float() takes any number of digits.
    const PyValue f = json_loads_latin1(d4300 + "0.0e-4000");
    REQUIRE(f.is_float());
    CHECK(f.as_float() == 1e300);
}

TEST_CASE("json_loads_latin1 reads a number with a fraction or exponent as float", "[core][json]") {
    const std::vector<std::pair<std::string, double>> cases = {
        {"1.0", 1.0},
        {"2.5", 2.5},
        {"-2.5", -2.5},
        {"0.1", 0.1},
        {"1e5", 1e5},
        {"1E5", 1e5},
        {"1e+5", 1e5},
        {"1e-5", 1e-5},
        {"1E-5", 1e-5},
        {"0.5e1", 5.0},
        {"100e-2", 1.0},
        {"0e0", 0.0},
        {"1e16", 1e16},
        {"1.5e-07", 1.5e-7},
        {"1e+100", 1e100},
        {"0.3333333333333333", 1.0 / 3.0},
        {"123456789.12345679", 123456789.12345679},
    };
    for (const auto& [text, expected] : cases) {
        INFO(text);
        const PyValue v = json_loads_latin1(text);
        REQUIRE(v.is_float());
        CHECK(to_bits(v.as_float()) == to_bits(expected));
    }
    CHECK(json_dumps(json_loads_latin1("1E2")) == "100.0");
    CHECK(json_dumps(json_loads_latin1("0.1e1")) == "1.0");
}

TEST_CASE("json_loads_latin1 keeps the sign of -0.0", "[core][json]") {
    for (const char* text : {"-0.0", "-0e0", "-0.0e999", "-0E-5"}) {
        INFO(text);
        const PyValue v = json_loads_latin1(text);
        REQUIRE(v.is_float());
        CHECK(v.as_float() == 0.0);
        CHECK(std::signbit(v.as_float()));
    }
    CHECK(json_dumps(json_loads_latin1("-0.0")) == "-0.0");
}

TEST_CASE("json_loads_latin1 rounds decimal text to the nearest double", "[core][json]") {
    const std::vector<std::pair<std::string, std::uint64_t>> cases = {
        {"0.1", 0x3fb999999999999aULL},
        {"9007199254740993.0", 0x4340000000000000ULL},  // 2**53 + 1: ties to even
        {"2.2250738585072011e-308", 0x000fffffffffffffULL},
        {"1.7976931348623157e308", 0x7fefffffffffffffULL},
        {"1.7976931348623158e308", 0x7fefffffffffffffULL},
        {"4.9406564584124654e-324", 0x1ULL},
        {"2.4703282292062328e-324", 0x1ULL},
        {"1e23", 0x44b52d02c7e14af6ULL},
        {"0.000000000000000000000000000001e330", 0x7e37e43c8800759cULL},
        {"123456789012345678901234567890e-330", 0x01752a64e34ba0d3ULL},
    };
    for (const auto& [text, bits] : cases) {
        INFO(text);
        const PyValue v = json_loads_latin1(text);
        REQUIRE(v.is_float());
        CHECK(to_bits(v.as_float()) == bits);
    }
}

TEST_CASE("json_loads_latin1 overflows huge floats to infinity and underflows tiny ones to zero", "[core][json]") {
    const std::vector<std::pair<std::string, double>> cases = {
        {"1e400", kInf},
        {"-1e400", -kInf},
        {"1.7976931348623159e308", kInf},
        {"1000e306", kInf},
        {"1e99999999999999999999", kInf},
        {"-1e99999999999999999999", -kInf},
        {"1e-400", 0.0},
        {"-1e-400", -0.0},
        {"2.4703282292062327e-324", 0.0},
        {"0.001e-321", 0.0},
        {"100000000000000000000000000000000000000000e-365", 0.0},
        {"1e-99999999999999999999", 0.0},
        {"-1e-99999999999999999999", -0.0},
        {"0e99999999999999999999", 0.0},
        {"-0.000e99999999999999999999", -0.0},
    };
    for (const auto& [text, expected] : cases) {
        INFO(text);
        const PyValue v = json_loads_latin1(text);
        REQUIRE(v.is_float());
        CHECK(to_bits(v.as_float()) == to_bits(expected));
    }
}

TEST_CASE("json_loads_latin1 rejects numbers outside Python's JSON number grammar", "[core][json]") {
    CHECK(decode_error("01") == "Extra data at byte 1");
    CHECK(decode_error("00") == "Extra data at byte 1");
    CHECK(decode_error("-01") == "Extra data at byte 2");
    CHECK(decode_error("1.") == "Extra data at byte 1");
    CHECK(decode_error("1.e5") == "Extra data at byte 1");
    CHECK(decode_error("1e") == "Extra data at byte 1");
    CHECK(decode_error("1e+") == "Extra data at byte 1");
    CHECK(decode_error("1E-") == "Extra data at byte 1");
    CHECK(decode_error("1.5e") == "Extra data at byte 3");
    CHECK(decode_error(".5") == "Expecting value at byte 0");
    CHECK(decode_error("+1") == "Expecting value at byte 0");
    CHECK(decode_error("-") == "Expecting value at byte 0");
    CHECK(decode_error("-.5") == "Expecting value at byte 0");
    CHECK(decode_error("--1") == "Expecting value at byte 0");
    CHECK(decode_error("0x10") == "Extra data at byte 1");
    CHECK(decode_error("1_000") == "Extra data at byte 1");
    CHECK(decode_error("[1.]") == "Expecting ',' delimiter at byte 2");
}

TEST_CASE("json_loads_latin1 reports errors with Python's message and byte offset", "[core][json]") {
    for (const auto& [input, message] : kPythonErrors) {
        INFO("input: " << input);
        CHECK(decode_error(input) == message);
    }
}

TEST_CASE("json_loads_latin1 reads each byte as one latin-1 code point stored as UTF-8", "[core][json]") {
    // Raw UTF-8 "é" (C3 A9) is mojibake "Ã©" (U+00C3 U+00A9), exactly as in Django.
    CHECK(loads_str("\"cl\xc3\xa9\"") == "cl\xc3\x83\xc2\xa9");
    CHECK(json_dumps(json_loads_latin1("\"cl\xc3\xa9\"")) == R"("cl\u00c3\u00a9")");

    std::string input = "\"";
    std::string expected;
    for (int b = 0x80; b <= 0xff; ++b) {
        input.push_back(static_cast<char>(b));
        expected.push_back(static_cast<char>(0xC0 | (b >> 6)));
        expected.push_back(static_cast<char>(0x80 | (b & 0x3F)));
    }
    input.push_back('"');
    CHECK(loads_str(input) == expected);
}

TEST_CASE("json_loads_latin1 accepts DEL and bytes >= 0x80 raw inside strings", "[core][json]") {
    CHECK(loads_str("\"a\x7f"
                    "b\"") ==
          "a\x7f"
          "b");
    CHECK(loads_str("\"\xff\"") == "\xc3\xbf");
    CHECK(loads_str("\"\x80\\n\xa0\"") == "\xc2\x80\n\xc2\xa0");
    CHECK(json_loads_latin1("{\"\xe9\":\"\xe9\"}") == PyValue(PyDict{{"\xc3\xa9", "\xc3\xa9"}}));
}

TEST_CASE("json_loads_latin1 rejects raw control characters inside strings", "[core][json]") {
    for (int c = 0; c < 0x20; ++c) {
        std::string input = "\"ab";
        input.push_back(static_cast<char>(c));
        input += "cd\"";
        INFO("control character " << c);
        CHECK(decode_error(input) == "Invalid control character at byte 3");
    }
    CHECK(decode_error("{\"k\x0a\":1}") == "Invalid control character at byte 3");
}

TEST_CASE("json_loads_latin1 decodes the simple escapes", "[core][json]") {
    CHECK(loads_str(R"("\"\\\/\b\f\n\r\t")") == "\"\\/\b\f\n\r\t");
    CHECK(loads_str(R"("a\/b")") == "a/b");
    CHECK(loads_str(R"("\\u0041")") == "\\u0041");
}

TEST_CASE("json_loads_latin1 decodes \\uXXXX with hex digits of either case", "[core][json]") {
    CHECK(loads_str(R"("\u0041\u00e9\u00E9\u6F22\uFFFF")") == "A\xc3\xa9\xc3\xa9\xe6\xbc\xa2\xef\xbf\xbf");
    CHECK(loads_str(R"("\u0000")") == std::string("\0", 1));
    CHECK(loads_str(R"("\u007f\u0080\u07ff\u0800")") == "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80");
    CHECK(loads_str(R"("\uaBcD")") == "\xea\xaf\x8d");
}

TEST_CASE("json_loads_latin1 joins an escaped surrogate pair into one code point", "[core][json]") {
    CHECK(loads_str(R"("\ud83d\ude00")") == "\xf0\x9f\x98\x80");
    CHECK(loads_str(R"("\uD83D\uDE00")") == "\xf0\x9f\x98\x80");
    CHECK(loads_str(R"("\ud800\udc00")") == "\xf0\x90\x80\x80");
    CHECK(loads_str(R"("\udbff\udfff")") == "\xf4\x8f\xbf\xbf");
    CHECK(loads_str(R"("x\ud83d\ude00y")") == "x\xf0\x9f\x98\x80y");
}

TEST_CASE("json_loads_latin1 keeps lone surrogates as WTF-8", "[core][json]") {
    CHECK(loads_str(R"("\ud800")") == "\xed\xa0\x80");
    CHECK(loads_str(R"("\udfff")") == "\xed\xbf\xbf");
    CHECK(loads_str(R"("\udc00\ud800")") == "\xed\xb0\x80\xed\xa0\x80");  // low then high: two lone
    CHECK(loads_str(R"("\ud83dA")") ==
          "\xed\xa0\xbd"
          "A");
    CHECK(loads_str(R"("\ud83d\u0041")") ==
          "\xed\xa0\xbd"
          "A");  // not a low surrogate
    CHECK(loads_str(R"("\ud83d\n")") == "\xed\xa0\xbd\n");
    CHECK(loads_str(R"("\ud83d\ud83d\ude00")") == "\xed\xa0\xbd\xf0\x9f\x98\x80");
    CHECK(json_dumps(json_loads_latin1(R"("\ud83d\ud83d\ude00\udc00\ud800")")) ==
          R"("\ud83d\ud83d\ude00\udc00\ud800")");
}

TEST_CASE("json_loads_latin1 rejects unknown escapes and truncated \\u escapes", "[core][json]") {
    for (const char* esc : {"a", "x", "U", "'", "0", "v", "e", "N", " "}) {
        INFO(esc);
        CHECK(decode_error("\"a\\"s + esc + "\"") == "Invalid \\escape at byte 2");
    }
    CHECK(decode_error(std::string("\"\\\xe9\"")) == "Invalid \\escape at byte 1");
    CHECK(decode_error(R"("\u")") == "Invalid \\uXXXX escape at byte 2");
    CHECK(decode_error(R"("\u12")") == "Invalid \\uXXXX escape at byte 2");
    CHECK(decode_error(R"("\u123")") == "Invalid \\uXXXX escape at byte 2");
    CHECK(decode_error(R"("\u12G4")") == "Invalid \\uXXXX escape at byte 2");
    CHECK(decode_error(R"("\u 123")") == "Invalid \\uXXXX escape at byte 2");
    CHECK(decode_error(R"("\ud83d\uzzzz")") == "Invalid \\uXXXX escape at byte 8");
    CHECK(decode_error(R"("\ud83d\ude0")") == "Invalid \\uXXXX escape at byte 8");
    CHECK(decode_error(R"("ab\)") == "Unterminated string starting at byte 0");
    CHECK(decode_error(R"(["ab)") == "Unterminated string starting at byte 1");
}
