// Line-protocol bridge for tests/system/django_roundtrip.py: lets real Django check
// that what sessionctl's core writes, Django reads, and the other way round.
//   roundtrip_tool encode   stdin: one JSON session dict per line -> encoded value
//   roundtrip_tool decode   stdin: one encoded value per line     -> json.dumps text
// The secret comes from $SESSIONCTL_SECRET_KEY, as for sessionctl itself.

#include <cstdlib>
#include <iostream>
#include <string>

#include "core/clock.hpp"
#include "core/json_codec.hpp"
#include "core/session_codec.hpp"

int main(int argc, char** argv) {
    using namespace sessionctl;
    std::string mode = argc > 1 ? argv[1] : "";
    const char* secret = std::getenv("SESSIONCTL_SECRET_KEY");
    if ((mode != "encode" && mode != "decode") || !secret) {
        std::cerr << "usage: SESSIONCTL_SECRET_KEY=... roundtrip_tool encode|decode\n";
        return 2;
    }
    SessionCodec codec(SecretKeys{secret, {}}, session_key_salt("SessionStore"));
    SystemClock clock;
    std::string line;
    while (std::getline(std::cin, line)) {
        try {
            if (mode == "encode") {
                std::cout << codec.encode(json_loads_latin1(line), clock.now_seconds()) << '\n';
            } else {
                DecodeResult r = codec.decode(line);
                if (r.ok() && r.verified) std::cout << json_dumps(r.data) << '\n';
                else std::cout << "ERROR " << to_string(r.status) << ": " << r.error << '\n';
            }
        } catch (const std::exception& e) {
            std::cout << "ERROR " << e.what() << '\n';
        }
    }
    return 0;
}
