#include "support/couchbase_client.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <cstdlib>

#include <filesystem>
#include <system_error>

#include "support/scram_client.h"

namespace memkv::test::couchbase {

std::string featureBytes(const std::vector<uint16_t>& codes) {
  std::string out;
  for (const uint16_t code : codes) out += be16(code);
  return out;
}

std::vector<uint16_t> featureCodes(std::string_view bytes) {
  std::vector<uint16_t> out;
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) out.push_back(readBe16(bytes.substr(i)));
  return out;
}

Request makeHello(const std::vector<uint16_t>& features, std::string agent, uint32_t opaque) {
  return makeRequest(op::kHello, std::move(agent), featureBytes(features), opaque);
}

std::vector<uint16_t> hello(McbpClient& client, const std::vector<uint16_t>& features) {
  const Response r = client.call(makeHello(features));
  if (r.status != memkv::test::status::kSuccess) {
    throw McbpError("HELLO failed with status " + std::to_string(r.status));
  }
  return featureCodes(r.value);
}

Response saslPlain(McbpClient& client, std::string_view user, std::string_view password) {
  return client.call(makeRequest(op::kSaslAuth, "PLAIN", plainAuthPayload(user, password)));
}

ScramOutcome saslScram(McbpClient& client, std::string_view mechanism, std::string_view user,
                       std::string_view password) {
  ScramClient scram(mechanism);
  ScramOutcome outcome;
  outcome.first =
      client.call(makeRequest(op::kSaslAuth, std::string(mechanism), scram.clientFirst(user)));
  if (outcome.first.status != status::kAuthContinue) return outcome;
  const std::string final_message = scram.clientFinal(outcome.first.value, password);
  outcome.step = client.call(makeRequest(op::kSaslStep, std::string(mechanism), final_message));
  outcome.server_verified = outcome.step->status == memkv::test::status::kSuccess &&
                            scram.verifyServerFinal(outcome.step->value);
  return outcome;
}

Request makeSelectBucket(std::string name, uint32_t opaque) {
  return makeRequest(op::kSelectBucket, std::move(name), "", opaque);
}

Response selectBucket(McbpClient& client, std::string name) {
  return client.call(makeSelectBucket(std::move(name)));
}

Request makeRequest(uint8_t opcode, std::string key, std::string value, uint32_t opaque) {
  Request r;
  r.opcode = opcode;
  r.key = std::move(key);
  r.value = std::move(value);
  r.opaque = opaque;
  return r;
}

Request makeGetLocked(std::string key, std::optional<uint32_t> lock_seconds, uint32_t opaque) {
  Request r = makeRequest(op::kGetLocked, std::move(key), "", opaque);
  if (lock_seconds) r.extras = be32(*lock_seconds);
  return r;
}

Request makeUnlock(std::string key, uint64_t cas, uint32_t opaque) {
  Request r = makeRequest(op::kUnlockKey, std::move(key), "", opaque);
  r.cas = cas;
  return r;
}

std::string leb128(uint64_t value) {
  std::string out;
  do {
    uint8_t byte = value & 0x7f;
    value >>= 7;
    if (value != 0) byte |= 0x80;
    out.push_back(static_cast<char>(byte));
  } while (value != 0);
  return out;
}

bool readLeb128(std::string_view bytes, size_t* pos, uint64_t* out) {
  uint64_t n = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= bytes.size()) return false;
    const uint8_t b = static_cast<uint8_t>(bytes[(*pos)++]);
    n |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) {
      *out = n;
      return true;
    }
  }
  return false;
}

std::string collectionKey(std::string_view key, uint32_t cid) {
  return leb128(cid) + std::string(key);
}

uint16_t vbucketOf(std::string_view key) {
  uint32_t crc = 0xffffffffu;
  for (const char ch : key) {
    crc ^= static_cast<uint8_t>(ch);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  crc = ~crc;
  return static_cast<uint16_t>(((crc >> 16) & 0x7fff) % 1024);
}

UsersFile::UsersFile(std::string admin_bin) : admin_bin_(std::move(admin_bin)) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "memkv-users-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) != nullptr) {
    dir_ = tmpl;
    path_ = dir_ + "/users.json";
  }
}

UsersFile::~UsersFile() {
  if (dir_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

namespace {
std::string drain(int fd) {
  std::string data;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  return data;
}
}  // namespace

bool UsersFile::addUser(const std::string& name, const std::string& password,
                        const std::string& roles, std::string* error, uint32_t iterations) {
  return run({"add-user", "--users-file", path_, "--name", name, "--roles", roles, "--iterations",
              std::to_string(iterations)},
             password + "\n", error);
}

bool UsersFile::removeUser(const std::string& name, std::string* error) {
  return run({"remove-user", "--users-file", path_, "--name", name}, "", error);
}

bool UsersFile::setRoles(const std::string& name, const std::string& roles, std::string* error) {
  return run({"set-roles", "--users-file", path_, "--name", name, "--roles", roles}, "", error);
}

// memkv-admin with `args`, `input` on its stdin; false with its stderr in *error unless it
// exits 0.
bool UsersFile::run(std::vector<std::string> args, const std::string& input,
                    std::string* error) const {
  if (path_.empty()) {
    *error = "no temporary directory for the users file";
    return false;
  }
  const std::string command = args.front();
  args.insert(args.begin(), admin_bin_);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int in[2];
  int err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    *error = "pipe failed";
    return false;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    *error = "fork failed";
    return false;
  }
  if (pid == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(err[1]);
  std::size_t done = 0;
  while (done < input.size()) {
    const ssize_t n = ::write(in[1], input.data() + done, input.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(in[1]);
  const std::string stderr_text = drain(err[0]);
  ::close(err[0]);
  int wait_status = 0;
  while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
    *error = admin_bin_ + " " + command + " failed: " + stderr_text;
    return false;
  }
  return true;
}

const UsersFile& sharedUsersFile(const std::string& admin_bin, std::span<const TestUser> users,
                                 std::string* error) {
  static UsersFile file(admin_bin);
  static const std::string failure = [&] {
    std::string e;
    for (const TestUser& u : users) {
      if (!file.addUser(u.name, u.password, u.roles, &e)) break;
    }
    return e;
  }();
  *error = failure;
  return file;
}

}  // namespace memkv::test::couchbase
