#pragma once
// memcached's command line (same letters, same meanings) plus memkv's own
// long options, parsed into server::Settings.
#include <string>
#include <variant>

#include "server/settings.h"

namespace memkv::app {

struct ExitNow {
  int code;             // 0 after -h / -V, 1 on a bad option
  std::string message;  // printed to stdout (code 0) or stderr (code 1)
};

std::variant<server::Settings, ExitNow> parseCommandLine(int argc, char** argv);

}  // namespace memkv::app
