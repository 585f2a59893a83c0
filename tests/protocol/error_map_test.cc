// The error map lists exactly the statuses memkv sends: the sources are
// scanned for the statuses their send sites name, and that set must equal
// statusesSent(), the map's entries. A status sent but missing from the map
// leaves SDKs guessing; one in the map that nothing sends misleads them and
// the fuzzers' oracle.
#include "protocol/error_map.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

#ifndef MEMKV_SOURCE_DIR
#error "MEMKV_SOURCE_DIR must name the source tree"
#endif

namespace memkv::mcbp {
namespace {

namespace fs = std::filesystem;

// Every Status enumerator by its C++ name, written out by hand. A scan that
// finds a name not listed here fails: add the new status here and to the map.
const std::map<std::string, Status> kByName = {
    {"Success", Status::Success},
    {"KeyEnoent", Status::KeyEnoent},
    {"KeyEexists", Status::KeyEexists},
    {"E2big", Status::E2big},
    {"Einval", Status::Einval},
    {"NotStored", Status::NotStored},
    {"DeltaBadval", Status::DeltaBadval},
    {"NotMyVbucket", Status::NotMyVbucket},
    {"NoBucket", Status::NoBucket},
    {"Locked", Status::Locked},
    {"NotLocked", Status::NotLocked},
    {"AuthError", Status::AuthError},
    {"AuthContinue", Status::AuthContinue},
    {"Erange", Status::Erange},
    {"Rollback", Status::Rollback},
    {"Eaccess", Status::Eaccess},
    {"UnknownFrameInfo", Status::UnknownFrameInfo},
    {"UnknownCommand", Status::UnknownCommand},
    {"Enomem", Status::Enomem},
    {"NotSupported", Status::NotSupported},
    {"Einternal", Status::Einternal},
    {"Ebusy", Status::Ebusy},
    {"Etmpfail", Status::Etmpfail},
    {"UnknownCollection", Status::UnknownCollection},
    {"DurabilityInvalidLevel", Status::DurabilityInvalidLevel},
    {"RangeScanCancelled", Status::RangeScanCancelled},
    {"RangeScanMore", Status::RangeScanMore},
    {"RangeScanComplete", Status::RangeScanComplete},
    {"VbUuidNotEqual", Status::VbUuidNotEqual},
};

// The files that define statuses rather than send them.
bool definesStatuses(const fs::path& file) {
  const std::string name = file.filename().string();
  return name == "status.h" || name == "status.cc" || name == "error_map.cc" ||
         name == "error_map.h";
}

// `Status::Name` (mcbp's statuses are PascalCase; EngineStatus::kX,
// HeaderStatus::kX and FrameInfoStatus::kX are not wire statuses) in the code
// of every source file under src/server and src/protocol, comments skipped.
// Every such use is a send site: executors send what they name, and
// protocol/ returns statuses that dispatch sends.
std::map<std::string, std::string> scanSendSites() {
  static const std::regex kUse(R"((^|[^A-Za-z0-9_])Status::([A-Z][A-Za-z0-9]*))");
  std::map<std::string, std::string> found;  // name -> first file:line naming it
  for (const char* dir : {"src/server", "src/protocol"}) {
    for (const auto& entry : fs::recursive_directory_iterator(fs::path(MEMKV_SOURCE_DIR) / dir)) {
      const fs::path& path = entry.path();
      if (!entry.is_regular_file() || definesStatuses(path)) continue;
      if (path.extension() != ".cc" && path.extension() != ".h") continue;
      std::ifstream in(path);
      std::string line;
      for (int number = 1; std::getline(in, line); ++number) {
        line = line.substr(0, line.find("//"));
        for (std::sregex_iterator it(line.begin(), line.end(), kUse), end; it != end; ++it) {
          found.emplace((*it)[2].str(), fs::relative(path, MEMKV_SOURCE_DIR).string() + ":" +
                                            std::to_string(number));
        }
      }
    }
  }
  return found;
}

std::string hexCode(Status s) {
  char code[8];
  std::snprintf(code, sizeof code, "%x", static_cast<unsigned>(s));
  return code;
}

TEST(ErrorMapTest, ListsExactlyTheStatusesMemkvSends) {
  const std::map<std::string, std::string> sent = scanSendSites();
  ASSERT_GT(sent.size(), 10u) << "the scan found almost nothing under " << MEMKV_SOURCE_DIR;
  std::set<Status> scanned;
  for (const auto& [name, where] : sent) {
    const auto it = kByName.find(name);
    if (it == kByName.end()) {
      ADD_FAILURE() << "Status::" << name << " (" << where
                    << ") is not in this test's table: add it here and to the error map";
      continue;
    }
    scanned.insert(it->second);
  }
  const std::set<Status> listed(statusesSent().begin(), statusesSent().end());
  EXPECT_EQ(listed.size(), statusesSent().size()) << "a status is listed twice";
  for (Status s : scanned) {
    EXPECT_TRUE(listed.contains(s)) << "sent but not in the error map: 0x" << hexCode(s);
  }
  for (Status s : listed) {
    EXPECT_TRUE(scanned.contains(s)) << "in the error map but nothing sends it: 0x" << hexCode(s);
  }
}

TEST(ErrorMapTest, EveryListedStatusHasAnEntryInEveryVersion) {
  for (uint16_t version : {1, 2, 7}) {
    const auto map = nlohmann::json::parse(errorMapJson(version));
    EXPECT_EQ(map.at("version"), std::min<uint16_t>(version, kErrorMapVersion));
    EXPECT_TRUE(map.at("revision").is_number_integer());
    const auto& errors = map.at("errors");
    for (Status s : statusesSent()) {
      const std::string code = hexCode(s);
      ASSERT_TRUE(errors.contains(code)) << code;
      const auto& e = errors.at(code);
      EXPECT_FALSE(e.at("name").get<std::string>().empty());
      EXPECT_FALSE(e.at("desc").get<std::string>().empty());
      EXPECT_TRUE(e.at("attrs").is_array());
    }
    EXPECT_EQ(errors.size(), statusesSent().size());
  }
}

}  // namespace
}  // namespace memkv::mcbp
