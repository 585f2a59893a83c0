// Couchbase's session layer as a client speaks it, for the session integration tests: HELLO,
// SASL (PLAIN and SCRAM through ScramClient), SELECT_BUCKET, collection-prefixed keys, the
// key-to-vbucket rule and a users file made by the real memkv-admin. Like mcbp.h it shares
// nothing with src/: the wire constants are written out again from the protocol's own docs.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "support/mcbp.h"
#include "support/mcbp_client.h"

namespace memkv::test::couchbase {

namespace op {
inline constexpr uint8_t kHello = 0x1f;
inline constexpr uint8_t kSaslListMechs = 0x20;
inline constexpr uint8_t kSaslAuth = 0x21;
inline constexpr uint8_t kSaslStep = 0x22;
inline constexpr uint8_t kCreateBucket = 0x85;
inline constexpr uint8_t kDeleteBucket = 0x86;
inline constexpr uint8_t kListBuckets = 0x87;
inline constexpr uint8_t kSelectBucket = 0x89;
inline constexpr uint8_t kGetLocked = 0x94;
inline constexpr uint8_t kUnlockKey = 0x95;
inline constexpr uint8_t kGetClusterConfig = 0xb5;
inline constexpr uint8_t kGetCollectionId = 0xbb;
inline constexpr uint8_t kGetErrorMap = 0xfe;
}  // namespace op

namespace status {
inline constexpr uint16_t kNoBucket = 0x08;
inline constexpr uint16_t kLocked = 0x09;
inline constexpr uint16_t kNotLocked = 0x0e;
inline constexpr uint16_t kAuthError = 0x20;
inline constexpr uint16_t kAuthContinue = 0x21;
inline constexpr uint16_t kEaccess = 0x24;
inline constexpr uint16_t kEtmpfail = 0x86;
inline constexpr uint16_t kUnknownCollection = 0x88;
}  // namespace status

// HELLO feature codes.
namespace feature {
inline constexpr uint16_t kTcpNodelay = 0x03;
inline constexpr uint16_t kMutationSeqno = 0x04;
inline constexpr uint16_t kXattr = 0x06;
inline constexpr uint16_t kXerror = 0x07;
inline constexpr uint16_t kSelectBucket = 0x08;
inline constexpr uint16_t kSnappy = 0x0a;
inline constexpr uint16_t kJson = 0x0b;
inline constexpr uint16_t kDuplex = 0x0c;
inline constexpr uint16_t kClustermapNotification = 0x0d;
inline constexpr uint16_t kUnorderedExecution = 0x0e;
inline constexpr uint16_t kTracing = 0x0f;
inline constexpr uint16_t kAltRequest = 0x10;
inline constexpr uint16_t kSyncReplication = 0x11;
inline constexpr uint16_t kCollections = 0x12;
inline constexpr uint16_t kPreserveTtl = 0x14;
inline constexpr uint16_t kVattr = 0x15;
inline constexpr uint16_t kClusterConfigKnownVersion = 0x1d;
inline constexpr uint16_t kDedupeNotMyVbucket = 0x1e;
inline constexpr uint16_t kClustermapNotificationBrief = 0x1f;
}  // namespace feature

namespace datatype {
inline constexpr uint8_t kRaw = 0x00;
inline constexpr uint8_t kJson = 0x01;
inline constexpr uint8_t kSnappy = 0x02;
inline constexpr uint8_t kXattr = 0x04;
}  // namespace datatype

// The CAS every other client sees on a locked document.
inline constexpr uint64_t kLockedCas = ~uint64_t{0};

// u16 big-endian codes, and back (an odd trailing byte is ignored).
std::string featureBytes(const std::vector<uint16_t>& codes);
std::vector<uint16_t> featureCodes(std::string_view bytes);

// HELLO with `agent` as the key and `features` as the value.
Request makeHello(const std::vector<uint16_t>& features, std::string agent = "memkv-test",
                  uint32_t opaque = 0);
// Sends HELLO and returns the granted codes; throws McbpError unless the status is success.
std::vector<uint16_t> hello(McbpClient& client, const std::vector<uint16_t>& features);

// SASL_AUTH PLAIN "\0user\0password"; returns the response.
Response saslPlain(McbpClient& client, std::string_view user, std::string_view password);

// A whole SCRAM exchange: SASL_AUTH, then SASL_STEP if the server continues.
struct ScramOutcome {
  Response first;                // the SASL_AUTH response
  std::optional<Response> step;  // the SASL_STEP response, if one was sent
  bool server_verified = false;  // the server's v= matched what the password implies
  // The SASL status the client ends with: the step's, else the first's.
  uint16_t finalStatus() const { return step ? step->status : first.status; }
};
ScramOutcome saslScram(McbpClient& client, std::string_view mechanism, std::string_view user,
                       std::string_view password);

Request makeSelectBucket(std::string name, uint32_t opaque = 0);
Response selectBucket(McbpClient& client, std::string name);

// A raw request of the given opcode with key and value (no extras).
Request makeRequest(uint8_t opcode, std::string key = "", std::string value = "",
                    uint32_t opaque = 0);

// GET_LOCKED with a lock time in the extras (none: no extras); UNLOCK with the CAS.
Request makeGetLocked(std::string key, std::optional<uint32_t> lock_seconds, uint32_t opaque = 0);
Request makeUnlock(std::string key, uint64_t cas, uint32_t opaque = 0);

// Unsigned LEB128 of `value` (the collection-id prefix).
std::string leb128(uint64_t value);
// Reads an unsigned LEB128 at *pos (advanced past it); false if truncated or too long.
bool readLeb128(std::string_view bytes, size_t* pos, uint64_t* out);
// `key` prefixed with collection id `cid`.
std::string collectionKey(std::string_view key, uint32_t cid = 0);

// Couchbase's vbucket of a key: ((crc32(key) >> 16) & 0x7fff) % 1024, CRC-32/IEEE.
uint16_t vbucketOf(std::string_view key);

// A users file written by the built memkv-admin (`add-user`, password on stdin) in a
// temporary directory removed by the destructor.
class UsersFile {
 public:
  explicit UsersFile(std::string admin_bin);
  ~UsersFile();
  UsersFile(const UsersFile&) = delete;
  UsersFile& operator=(const UsersFile&) = delete;

  // Adds (or replaces) a user; false with *error (the tool's stderr) on failure. Few PBKDF2
  // iterations by default (the tests authenticate often, under sanitizers too); a file has one
  // count, so every user of a file must be given the same.
  bool addUser(const std::string& name, const std::string& password, const std::string& roles,
               std::string* error, uint32_t iterations = 64);
  // Removes a user; false with *error if memkv-admin fails (no such user included).
  bool removeUser(const std::string& name, std::string* error);
  // New roles for a user, its credentials kept (memkv-admin set-roles).
  bool setRoles(const std::string& name, const std::string& roles, std::string* error);
  const std::string& path() const { return path_; }

 private:
  bool run(std::vector<std::string> args, const std::string& input, std::string* error) const;

  std::string admin_bin_;
  std::string dir_;
  std::string path_;
};

struct TestUser {
  const char* name;
  const char* password;
  const char* roles;  // memkv-admin --roles
};

// The users file of this test process, written on the first call with `users` (later calls
// get the same file whatever they pass); *error is non-empty if memkv-admin failed. It lives
// until the process exits (ctest runs every test in its own process).
const UsersFile& sharedUsersFile(const std::string& admin_bin, std::span<const TestUser> users,
                                 std::string* error);

}  // namespace memkv::test::couchbase
