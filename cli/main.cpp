#include "cli/app.hpp"

int main(int argc, char** argv) { return sessionctl::cli::run(argc, argv); }
