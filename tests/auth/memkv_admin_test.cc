// Runs the built memkv-admin the way an operator would, then authenticates with what it
// wrote through the server's own code.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "auth/sasl.h"
#include "auth/scram_crypto.h"
#include "auth/users.h"
#include "support/scram_client.h"

#ifndef MEMKV_ADMIN_BIN
#error "MEMKV_ADMIN_BIN must name the memkv-admin binary"
#endif

namespace memkv::auth {
namespace {

struct AdminRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string drain(int fd) {
  std::string data;
  char buf[4096];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return data;
}

// Runs memkv-admin with `args`, feeding `input` on stdin. Output is small, so reading stdout
// to the end before stderr cannot deadlock on a full pipe.
AdminRun runAdmin(const std::vector<std::string>& args, const std::string& input) {
  // memkv-admin may refuse and exit before reading its input (a broken users
  // file): the write must fail with EPIPE, not kill the test with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  int in[2], out[2], err[2];
  if (pipe(in) != 0 || pipe(out) != 0 || pipe(err) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
    std::vector<char*> argv;
    std::string bin = MEMKV_ADMIN_BIN;
    argv.push_back(bin.data());
    std::vector<std::string> copies(args);
    for (auto& a : copies) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  size_t done = 0;
  while (done < input.size()) {
    const ssize_t n = write(in[1], input.data() + done, input.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(in[1]);
  AdminRun run;
  run.out = drain(out[0]);
  run.err = drain(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class MemkvAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/memkv-admin-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    file_ = dir_ + "/users.json";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  AdminRun add(const std::string& name, const std::string& roles, const std::string& password) {
    return runAdmin(
        {"add-user", "--users-file", file_, "--name", name, "--roles", roles, "--iterations", "64"},
        password);
  }

  std::unique_ptr<const UserDatabase> load() {
    std::string error;
    auto db = UserDatabase::load(file_, &error);
    EXPECT_NE(db, nullptr) << error;
    return db;
  }

  std::string dir_;
  std::string file_;
};

bool scramOk(const UserDatabase& db, std::string_view mech, const std::string& user,
             const std::string& password) {
  SaslServer server(db);
  memkv::test::ScramClient client(mech);
  SaslResult first = server.start(mech, client.clientFirst(user));
  if (first.outcome != SaslOutcome::kContinue) return false;
  SaslResult final = server.step(mech, client.clientFinal(first.payload, password));
  return final.outcome == SaslOutcome::kOk && client.verifyServerFinal(final.payload);
}

TEST_F(MemkvAdminTest, AddUserThenAuthenticate) {
  const std::string password = "correct horse battery staple";
  const AdminRun r = add("alice", "read[default],write[default]", password + "\nignored line\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  struct stat st {};
  ASSERT_EQ(stat(file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string text = readFile(file_);
  EXPECT_EQ(text.find(password), std::string::npos);
  EXPECT_EQ(text.find(base64Encode(password)), std::string::npos);
  EXPECT_EQ(text.find("ignored"), std::string::npos);

  const auto db = load();
  ASSERT_NE(db, nullptr);
  const User* alice = db->find("alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->privileges("default"), kRead | kWrite);
  EXPECT_EQ(alice->privileges("other"), 0);
  std::vector<std::string> salts;
  for (ScramHash h : kAllScramHashes) {
    ASSERT_NE(alice->credential(h), nullptr);
    EXPECT_EQ(alice->credential(h)->iterations, 64u);
    EXPECT_EQ(alice->credential(h)->salt.size(), 32u);
    salts.push_back(alice->credential(h)->salt);
    EXPECT_TRUE(scramOk(*db, mechanismName(h), "alice", password)) << mechanismName(h);
    EXPECT_FALSE(scramOk(*db, mechanismName(h), "alice", password + "x"));
  }
  EXPECT_NE(salts[0], salts[1]);
  EXPECT_NE(salts[1], salts[2]);

  SaslServer server(*db);
  EXPECT_EQ(server.start("PLAIN", memkv::test::plainAuthPayload("alice", password)).user, alice);
}

TEST_F(MemkvAdminTest, DefaultIterationsAndCrlf) {
  const AdminRun r =
      runAdmin({"add-user", "--users-file=" + file_, "--name=bob", "--roles=admin"}, "pw\r\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto db = load();
  ASSERT_NE(db, nullptr);
  ASSERT_NE(db->find("bob"), nullptr);
  EXPECT_TRUE(db->find("bob")->admin());
  EXPECT_EQ(db->find("bob")->credential(ScramHash::kSha512)->iterations, kDefaultIterations);
  SaslServer server(*db);
  EXPECT_EQ(server.start("PLAIN", memkv::test::plainAuthPayload("bob", "pw")).outcome,
            SaslOutcome::kOk);
}

TEST_F(MemkvAdminTest, ReplaceListRemove) {
  ASSERT_EQ(add("alice", "read[default]", "one\n").exit_code, 0);
  ASSERT_EQ(add("b,o=b", "admin", "two\n").exit_code, 0);
  ASSERT_EQ(add("alice", "manage[*]", "three\n").exit_code, 0);

  auto db = load();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->size(), 2u);
  EXPECT_FALSE(scramOk(*db, "SCRAM-SHA512", "alice", "one"));
  EXPECT_TRUE(scramOk(*db, "SCRAM-SHA512", "alice", "three"));
  EXPECT_TRUE(scramOk(*db, "SCRAM-SHA1", "b,o=b", "two"));
  EXPECT_EQ(db->find("alice")->privileges("x"), kManage);

  AdminRun list = runAdmin({"list-users", "--users-file", file_}, "");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out, "alice\tmanage[*]\nb,o=b\tadmin\n");

  // set-roles: new roles, the same credentials (the password still works, unasked).
  const std::string alice_key = db->find("alice")->credential(ScramHash::kSha512)->stored_key;
  AdminRun roles = runAdmin(
      {"set-roles", "--users-file", file_, "--name", "alice", "--roles", "read[a],stats[*]"}, "");
  ASSERT_EQ(roles.exit_code, 0) << roles.err;
  db = load();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->find("alice")->privileges("a"), kRead | kStats);
  EXPECT_EQ(db->find("alice")->credential(ScramHash::kSha512)->stored_key, alice_key);
  EXPECT_TRUE(scramOk(*db, "SCRAM-SHA512", "alice", "three"));
  EXPECT_TRUE(scramOk(*db, "SCRAM-SHA1", "b,o=b", "two"));
  roles =
      runAdmin({"set-roles", "--users-file", file_, "--name", "nobody", "--roles", "read[a]"}, "");
  EXPECT_EQ(roles.exit_code, 1);
  EXPECT_NE(roles.err.find("no user named \"nobody\""), std::string::npos) << roles.err;
  roles = runAdmin({"set-roles", "--users-file", file_, "--name", "alice", "--roles", "read[a]",
                    "--iterations", "5"},
                   "");
  EXPECT_EQ(roles.exit_code, 1);
  EXPECT_NE(roles.err.find("only the options"), std::string::npos) << roles.err;

  AdminRun rm = runAdmin({"remove-user", "--users-file", file_, "--name", "alice"}, "");
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  db = load();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->size(), 1u);
  EXPECT_EQ(db->find("alice"), nullptr);

  rm = runAdmin({"remove-user", "--users-file", file_, "--name", "alice"}, "");
  EXPECT_EQ(rm.exit_code, 1);
  EXPECT_NE(rm.err.find("no user named \"alice\""), std::string::npos) << rm.err;

  // No temporary files are left behind.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST_F(MemkvAdminTest, TheFileKeepsOneIterationCount) {
  ASSERT_EQ(add("alice", "admin", "one\n").exit_code, 0);  // 64 iterations
  // Without --iterations a new user gets the file's count, not the default.
  AdminRun r =
      runAdmin({"add-user", "--users-file", file_, "--name", "bob", "--roles", "admin"}, "two\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto db = load();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->iterations(), 64u);
  EXPECT_EQ(db->find("bob")->credential(ScramHash::kSha1)->iterations, 64u);

  // A different count for a file that has other users is refused, and the file is unchanged.
  const std::string before = readFile(file_);
  r = runAdmin({"add-user", "--users-file", file_, "--name", "carol", "--roles", "admin",
                "--iterations", "128"},
               "three\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("differs from the 64 iterations"), std::string::npos) << r.err;
  EXPECT_EQ(readFile(file_), before);
  // The same count given explicitly is fine.
  r = runAdmin({"add-user", "--users-file", file_, "--name", "carol", "--roles", "admin",
                "--iterations", "64"},
               "three\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // Replacing the only user may change the count: no one else keeps the old one.
  ASSERT_EQ(runAdmin({"remove-user", "--users-file", file_, "--name", "bob"}, "").exit_code, 0);
  ASSERT_EQ(runAdmin({"remove-user", "--users-file", file_, "--name", "carol"}, "").exit_code, 0);
  r = runAdmin({"add-user", "--users-file", file_, "--name", "alice", "--roles", "admin",
                "--iterations", "32"},
               "four\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  db = load();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->iterations(), 32u);
}

TEST_F(MemkvAdminTest, BadUsageExitsOneWithAMessage) {
  struct Case {
    std::vector<std::string> args;
    std::string input;
    std::string expected;  // substring of stderr
  };
  const std::string f = file_;
  const Case cases[] = {
      {{}, "", "no command"},
      {{"frobnicate"}, "", "unknown command \"frobnicate\""},
      {{"add-user", "--users-file", f, "--name", "a"}, "pw\n", "--roles is required"},
      {{"add-user", "--users-file", f, "--roles", "admin"}, "pw\n", "--name is required"},
      {{"add-user", "--name", "a", "--roles", "admin"}, "pw\n", "--users-file is required"},
      {{"add-user", "--users-file", f, "--name", "a", "--roles", "read"}, "pw\n", "--roles"},
      {{"add-user", "--users-file", f, "--name", "a", "--roles", "admin", "--iterations", "0"},
       "pw\n",
       "--iterations"},
      {{"add-user", "--users-file", f, "--name", "a", "--roles", "admin", "--iterations", "1e3"},
       "pw\n",
       "--iterations"},
      {{"add-user", "--users-file", f, "--name", "a", "--roles", "admin"}, "\n", "empty"},
      {{"add-user", "--users-file", f, "--name", "a", "--roles", "admin"}, "", "no password"},
      {{"add-user", "--users-file", f, "--name", "", "--roles", "admin"}, "pw\n", "--name"},
      {{"add-user", "--users-file", f, "--name", std::string(129, 'n'), "--roles", "admin"},
       "pw\n",
       "longer than 128"},
      {{"add-user", "--users-file", f, "--bogus", "x"}, "", "unknown option --bogus"},
      {{"add-user", "--users-file"}, "", "needs a value"},
      {{"list-users", "--users-file", f}, "", "does not exist"},
      {{"list-users", "--users-file", f, "--name", "a"}, "", "only the options"},
      {{"remove-user", "--users-file", f}, "", "--name is required"},
      {{"set-roles", "--users-file", f, "--name", "a"}, "", "--roles is required"},
      {{"set-roles", "--users-file", f, "--name", "a", "--roles", "admin"}, "", "does not exist"},
  };
  for (const auto& c : cases) {
    const AdminRun r = runAdmin(c.args, c.input);
    EXPECT_EQ(r.exit_code, 1) << c.expected;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << "want " << c.expected << " in\n"
                                                         << r.err;
    EXPECT_FALSE(std::filesystem::exists(file_)) << c.expected;
  }
}

TEST_F(MemkvAdminTest, RefusesToOverwriteABrokenFile) {
  { std::ofstream(file_) << "{\"version\": 1, \"users\": [ oops"; }
  const AdminRun r = add("alice", "admin", "pw\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(file_), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not valid JSON"), std::string::npos) << r.err;
  EXPECT_EQ(readFile(file_), "{\"version\": 1, \"users\": [ oops");
}

TEST_F(MemkvAdminTest, Help) {
  const AdminRun r = runAdmin({"--help"}, "");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("add-user"), std::string::npos);
  EXPECT_NE(r.out.find("read[default]"), std::string::npos);
}

}  // namespace
}  // namespace memkv::auth
