// Django's SQL naming, shared by every SQL engine. Expected names come from
// Django 3.2's own BaseDatabaseSchemaEditor._create_index_name (the same rule
// through 6.1) with each backend's max_name_length().

#include <catch2/catch.hpp>

#include "backends/sql/sql_naming.hpp"

using namespace sessionctl;

TEST_CASE("index names are the ones manage.py migrate gives django_session", "[sql][naming]") {
    // `manage.py sqlmigrate sessions 0001` on SQLite (no limit: 200) and PostgreSQL (63).
    for (std::size_t limit : {std::size_t{200}, std::size_t{63}, std::size_t{64}}) {
        CHECK(django_index_name("django_session", "expire_date", {}, limit) == "django_session_expire_date_a5c62663");
        CHECK(django_index_name("django_session", "session_key", "_like", limit) ==
              "django_session_session_key_c0390e0f_like");
    }
}

TEST_CASE("long index names are shortened as Django shortens them", "[sql][naming]") {
    const std::string table = "my_project_custom_session_model_with_a_rather_long_table_name";
    CHECK(django_index_name(table, "session_key", "_like", 63) == "my_project_custom_sessio_session_key_1c5063ab_like");
    CHECK(django_index_name(table, "expire_date", {}, 63) == "my_project_custom_session__expire_date_58a1b702");
    // A name starting with an underscore gets Django's "D" prefix (and loses its last character).
    std::string underscored = "_";
    for (int i = 0; i < 4; ++i) underscored += table;
    CHECK(django_index_name(underscored, "expire_date") ==
          "D_my_project_custom_session_model_with_a_rather_long_table_namemy_project_custom_session_model_w_"
          "expire_date_e53fbc1");
    // Lengths are Python's (code points), digests over UTF-8 bytes.
    CHECK(django_index_name("s\xc3\xa9ssions_\xc3\xbcn\xc3\xaf"
                            "code_" +
                                std::string(50, 'x'),
                            "expire_date", {}, 63) ==
          "s\xc3\xa9ssions_\xc3\xbcn\xc3\xaf"
          "code_xxxxxxxxx_expire_date_62b19f7f");
}

TEST_CASE("identifiers are double-quoted with quotes doubled", "[sql][naming]") {
    CHECK(quote_sql_identifier("django_session") == "\"django_session\"");
    CHECK(quote_sql_identifier(R"(my "odd" table)") == R"("my ""odd"" table")");
}
