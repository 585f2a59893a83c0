#include "protocol/status.h"

namespace memkv::mcbp {

std::string_view statusText(Status status) {
  switch (status) {
    case Status::KeyEnoent:
      return "Not found";
    case Status::KeyEexists:
      return "Data exists for key.";
    case Status::E2big:
      return "Too large.";
    case Status::Einval:
      return "Invalid arguments";
    case Status::NotStored:
      return "Not stored.";
    case Status::DeltaBadval:
      return "Non-numeric server-side value for incr or decr";
    case Status::AuthError:
      return "Auth failure.";
    case Status::UnknownCommand:
      return "Unknown command";
    case Status::Enomem:
      return "Out of memory allocating item";
    default:
      return {};
  }
}

}  // namespace memkv::mcbp
