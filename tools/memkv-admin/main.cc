// memkv-admin: maintains the users file that memkv authenticates against (format:
// docs/users-file.md). Passwords come in on stdin, never on the command line where `ps` and
// shell history would keep them, and leave only as SCRAM credentials.
#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "auth/scram_crypto.h"
#include "auth/users.h"
#include "cluster_map_command.h"

namespace memkv::auth {
namespace {

constexpr size_t kSaltBytes = 32;

constexpr std::string_view kUsage = R"(usage:
  memkv-admin add-user --users-file FILE --name NAME --roles ROLES [--iterations N]
  memkv-admin remove-user --users-file FILE --name NAME
  memkv-admin set-roles --users-file FILE --name NAME --roles ROLES
  memkv-admin list-users --users-file FILE
  memkv-admin cluster-map --nodes HOST:PORT[,...] [...]   (see memkv-admin cluster-map --help)

add-user reads the password from the first line of stdin (a trailing CR is dropped;
prompted without echo when stdin is a terminal), creates FILE if it does not exist and
replaces any user of the same name. It stores SCRAM-SHA512, SHA256 and SHA1 credentials,
each with its own random salt; never the password. set-roles changes a user's roles and
keeps its credentials.

ROLES: comma-separated, each `admin` or PRIV[BUCKET] with PRIV read|write|manage|stats and BUCKET a
bucket name or `*` (every bucket), e.g. "read[default],write[default]" or "read[*]".
--iterations: PBKDF2 iterations, 1..1000000 (default 10000). Every user of a file has the
same count, so that memkv's replies do not tell real users from made-up ones: add-user adopts
the count of the users already in FILE, and refuses a different --iterations for them (start
a new file and re-add every user, with their passwords, to change it).

The file is rewritten atomically with mode 0600; memkv reads it at startup and again on
SIGHUP (new roles apply to open connections; a removed user, or one given a new password,
must log in again).
)";

struct Options {
  std::string command;
  std::string users_file;
  std::string name;
  std::string roles;
  std::string iterations;
  bool help = false;
};

bool parseArgs(int argc, char** argv, Options* opts, std::string* error) {
  const std::map<std::string_view, std::string*> flags = {{"--users-file", &opts->users_file},
                                                          {"--name", &opts->name},
                                                          {"--roles", &opts->roles},
                                                          {"--iterations", &opts->iterations}};
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      opts->help = true;
      return true;
    }
    if (!arg.starts_with("-")) {
      if (!opts->command.empty()) {
        *error = "unexpected argument \"" + std::string(arg) + "\"";
        return false;
      }
      opts->command = arg;
      continue;
    }
    std::string_view value;
    bool has_value = false;
    if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    const auto it = flags.find(arg);
    if (it == flags.end()) {
      *error = "unknown option " + std::string(arg);
      return false;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        *error = "option " + std::string(arg) + " needs a value";
        return false;
      }
      value = args[++i];
    }
    *it->second = value;
  }
  return true;
}

// Reads the first line of stdin. With a terminal, prompts on stderr and turns echo off.
bool readPassword(std::string* password, std::string* error) {
  const bool tty = isatty(STDIN_FILENO) != 0;
  termios saved{};
  if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    std::cerr << "Password: " << std::flush;
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::cerr << "\n";
  }
  if (!got) {
    *error = "no password on stdin (give it as the first line)";
    return false;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) {
    *error = "the password is empty";
    return false;
  }
  *password = std::move(line);
  return true;
}

// Parses --iterations; *out untouched when it was not given.
bool parseIterations(const std::string& text, uint32_t* out, std::string* error) {
  if (text.empty()) return true;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || v > kMaxIterations) {
      v = kMaxIterations + 1;
      break;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v < kMinIterations || v > kMaxIterations) {
    *error = "--iterations must be a number in " + std::to_string(kMinIterations) + ".." +
             std::to_string(kMaxIterations);
    return false;
  }
  *out = static_cast<uint32_t>(v);
  return true;
}

// The users of FILE; an empty list if it does not exist and `missing_ok`.
bool loadUsers(const std::string& path, bool missing_ok, std::vector<User>* users,
               std::string* error) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    if (missing_ok) return true;
    *error = "users file " + path + " does not exist";
    return false;
  }
  auto db = UserDatabase::load(path, error);
  if (!db) return false;
  *users = db->users();
  return true;
}

std::string parentDirectory(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Temp file in the same directory (so rename() cannot cross file systems), fsync, rename,
// then fsync the directory so the rename itself survives a crash. A reader sees the old file
// or the new one, never a torn one.
bool writeAtomically(const std::string& path, const std::string& text, std::string* error) {
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = mkstemp(tmp.data());
  if (fd < 0) {
    *error = "cannot create a temporary file next to " + path + ": " + std::strerror(errno);
    return false;
  }
  const auto fail = [&](const char* what) {
    *error = std::string(what) + " " + tmp + ": " + std::strerror(errno);
    close(fd);
    unlink(tmp.c_str());
    return false;
  };
  if (fchmod(fd, 0600) != 0) return fail("cannot chmod");
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write");
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return fail("cannot fsync");
  if (close(fd) != 0) {
    *error = "cannot close " + tmp + ": " + std::strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  const int dir = open(parentDirectory(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    fsync(dir);
    close(dir);
  }
  return true;
}

bool saveUsers(const std::string& path, std::vector<User> users, std::string* error) {
  auto db = UserDatabase::create(std::move(users), error);
  return db && writeAtomically(path, db->toJson(), error);
}

bool addUser(const Options& opts, std::string* error) {
  std::string why;
  if (!validUserName(opts.name, &why)) {
    *error = "--name: " + why;
    return false;
  }
  bool admin = false;
  BucketPrivileges buckets;
  if (!parseRoles(opts.roles, &admin, &buckets, &why)) {
    *error = "--roles: " + why;
    return false;
  }
  uint32_t given = 0;
  if (!parseIterations(opts.iterations, &given, error)) return false;
  // Check the file before asking for a password that could not be stored.
  std::vector<User> users;
  if (!loadUsers(opts.users_file, /*missing_ok=*/true, &users, error)) return false;
  std::erase_if(users, [&](const User& u) { return u.name() == opts.name; });
  // The users that stay fix the count (a loaded file has one; see users.h).
  uint32_t iterations = given != 0 ? given : kDefaultIterations;
  if (!users.empty()) {
    const uint32_t file_count = users.front().credential(ScramHash::kSha512)->iterations;
    if (given != 0 && given != file_count) {
      *error = "--iterations " + std::to_string(given) + " differs from the " +
               std::to_string(file_count) + " iterations of the users already in " +
               opts.users_file +
               "; a users file has one count (omit --iterations to use it, or start a new "
               "file and re-add every user to change it)";
      return false;
    }
    iterations = file_count;
  }
  std::string password;
  if (!readPassword(&password, error)) return false;

  User user(opts.name, admin, std::move(buckets));
  for (ScramHash h : kAllScramHashes) {
    std::string salt = randomBytes(kSaltBytes);
    ScramCredential c = makeCredential(h, password, std::move(salt), iterations);
    if (c.salt.empty() || c.stored_key.empty() || c.server_key.empty()) {
      *error = "cannot derive the " + std::string(credentialName(h)) + " credential (libcrypto)";
      return false;
    }
    user.setCredential(h, std::move(c));
  }
  users.push_back(std::move(user));
  return saveUsers(opts.users_file, std::move(users), error);
}

bool removeUser(const Options& opts, std::string* error) {
  std::vector<User> users;
  if (!loadUsers(opts.users_file, /*missing_ok=*/false, &users, error)) return false;
  if (std::erase_if(users, [&](const User& u) { return u.name() == opts.name; }) == 0) {
    *error = "no user named \"" + opts.name + "\" in " + opts.users_file;
    return false;
  }
  return saveUsers(opts.users_file, std::move(users), error);
}

// New roles, the same credentials: a running memkv applies them to the user's open
// connections on SIGHUP, where a new password (add-user) makes them log in again.
bool setRoles(const Options& opts, std::string* error) {
  bool admin = false;
  BucketPrivileges buckets;
  std::string why;
  if (!parseRoles(opts.roles, &admin, &buckets, &why)) {
    *error = "--roles: " + why;
    return false;
  }
  std::vector<User> users;
  if (!loadUsers(opts.users_file, /*missing_ok=*/false, &users, error)) return false;
  const auto it = std::find_if(users.begin(), users.end(),
                               [&](const User& u) { return u.name() == opts.name; });
  if (it == users.end()) {
    *error = "no user named \"" + opts.name + "\" in " + opts.users_file;
    return false;
  }
  User updated(it->name(), admin, std::move(buckets));
  for (ScramHash h : kAllScramHashes) {
    if (const ScramCredential* c = it->credential(h)) updated.setCredential(h, *c);
  }
  *it = std::move(updated);
  return saveUsers(opts.users_file, std::move(users), error);
}

bool listUsers(const Options& opts, std::string* error) {
  std::vector<User> users;
  if (!loadUsers(opts.users_file, /*missing_ok=*/false, &users, error)) return false;
  for (const User& u : users) {
    const std::string roles = formatRoles(u);
    std::cout << u.name() << '\t' << (roles.empty() ? "(no roles)" : roles) << '\n';
  }
  return static_cast<bool>(std::cout.flush());
}

int run(int argc, char** argv) {
  Options opts;
  std::string error;
  if (!parseArgs(argc, argv, &opts, &error)) {
    std::cerr << "memkv-admin: " << error << "\n" << kUsage;
    return 1;
  }
  if (opts.help) {
    std::cout << kUsage;
    return 0;
  }
  // Which options each command takes; anything else given is a mistake worth reporting.
  struct Command {
    std::string_view name;
    bool (*fn)(const Options&, std::string*);
    bool name_opt, roles_opt;
  };
  static constexpr Command kCommands[] = {{"add-user", addUser, true, true},
                                          {"remove-user", removeUser, true, false},
                                          {"set-roles", setRoles, true, true},
                                          {"list-users", listUsers, false, false}};
  const Command* cmd = nullptr;
  for (const auto& c : kCommands) {
    if (c.name == opts.command) cmd = &c;
  }
  if (cmd == nullptr) {
    std::cerr << "memkv-admin: "
              << (opts.command.empty() ? "no command given"
                                       : "unknown command \"" + opts.command + "\"")
              << "\n"
              << kUsage;
    return 1;
  }
  std::string missing;
  if (opts.users_file.empty()) missing = "--users-file";
  if (cmd->name_opt && opts.name.empty()) missing = "--name";
  if (cmd->roles_opt && opts.roles.empty()) missing = "--roles";
  if (!missing.empty()) {
    std::cerr << "memkv-admin " << cmd->name << ": " << missing << " is required\n" << kUsage;
    return 1;
  }
  if ((!cmd->name_opt && !opts.name.empty()) || (!cmd->roles_opt && !opts.roles.empty()) ||
      (cmd->fn != addUser && !opts.iterations.empty())) {
    std::cerr << "memkv-admin " << cmd->name << ": takes only the options shown\n" << kUsage;
    return 1;
  }
  if (!cmd->fn(opts, &error)) {
    std::cerr << "memkv-admin " << cmd->name << ": " << error << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace memkv::auth

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "cluster-map") {
    return memkv::admin::runClusterMap(argc, argv);
  }
  return memkv::auth::run(argc, argv);
}
