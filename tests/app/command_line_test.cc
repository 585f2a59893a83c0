#include "app/command_line.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace memkv::app {
namespace {

std::variant<server::Settings, ExitNow> parse(const std::vector<std::string>& args) {
  std::string program = "memkv";
  std::vector<std::string> copy = args;
  std::vector<char*> argv{program.data()};
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  return parseCommandLine(static_cast<int>(argv.size() - 1), argv.data());
}

// std::get throws (failing the test) when the parse went the other way.
server::Settings ok(const std::vector<std::string>& args) {
  return std::get<server::Settings>(parse(args));
}

ExitNow exits(const std::vector<std::string>& args) {
  return std::get<ExitNow>(parse(args));
}

TEST(CommandLineTest, DefaultsAreMemcachedsWithLoopbackListen) {
  const auto s = ok({});
  EXPECT_EQ(s.port, 11211);
  EXPECT_EQ(s.listen_hosts, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(s.threads, 4u);
  EXPECT_EQ(s.memory_limit, 64ull << 20);
  EXPECT_EQ(s.max_connections, 1024u);
  EXPECT_EQ(s.item_size_max, 1u << 20);
  EXPECT_TRUE(s.cas_enabled);
  EXPECT_TRUE(s.flush_enabled);
  EXPECT_TRUE(s.evict);
}

TEST(CommandLineTest, MemcachedFlagsKeepTheirMeaning) {
  const auto s = ok({"-p", "12345",  "-l", "127.0.0.1,::1",
                     "-t", "8",      "-m", "128",
                     "-c", "50",     "-I", "2m",
                     "-b", "64",     "-R", "5",
                     "-C", "-F",     "-M", "-vv",
                     "-u", "nobody", "-U", "0"});
  EXPECT_EQ(s.port, 12345);
  EXPECT_EQ(s.listen_hosts, (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ(s.threads, 8u);
  EXPECT_EQ(s.memory_limit, 128ull << 20);
  EXPECT_EQ(s.max_connections, 50u);
  EXPECT_EQ(s.item_size_max, 2u << 20);
  EXPECT_EQ(s.backlog, 64);
  EXPECT_EQ(s.requests_per_event, 5u);
  EXPECT_FALSE(s.cas_enabled);
  EXPECT_FALSE(s.flush_enabled);
  EXPECT_FALSE(s.evict);
  EXPECT_EQ(s.verbosity, 2);
}

TEST(CommandLineTest, ItemSizeAcceptsSuffixes) {
  EXPECT_EQ(ok({"-I", "512k"}).item_size_max, 512u << 10);
  EXPECT_EQ(ok({"-I", "4096"}).item_size_max, 4096u);
}

TEST(CommandLineTest, ExtendedOptionsHonourKnownAndAcceptUnknown) {
  const auto s = ok({"-o", "read_buf_mem_limit=8,hashpower=20,modern"});
  // memcached's read buffer cap is server-wide, as memkv's read memory limit.
  EXPECT_EQ(s.read_memory_limit, 8u << 20);
}

TEST(CommandLineTest, ReadMemoryLimitAndStallTimeout) {
  const auto defaults = ok({});
  EXPECT_EQ(defaults.read_memory_limit, 256u << 20);
  EXPECT_EQ(defaults.read_stall_timeout_s, 30);
  const auto s = ok({"--read-memory-limit", "64m", "--read-stall-timeout", "0"});
  EXPECT_EQ(s.read_memory_limit, 64u << 20);
  EXPECT_EQ(s.read_stall_timeout_s, 0);
  EXPECT_EQ(ok({"--read-memory-limit", "0"}).read_memory_limit, 0u);
}

TEST(CommandLineTest, MemkvLongOptions) {
  const auto s = ok({"--port-file", "/tmp/p", "--max-body-size", "8m", "--output-high-watermark",
                     "256k", "--output-stall-timeout", "30", "--read-buffer-pool-limit", "4m",
                     "--shutdown-grace-ms", "100"});
  EXPECT_EQ(s.port_file, "/tmp/p");
  EXPECT_EQ(s.max_body_size, 8u << 20);
  EXPECT_EQ(s.output_high_watermark, 256u << 10);
  EXPECT_EQ(s.output_stall_timeout_s, 30);
  EXPECT_EQ(s.read_buffer_pool_limit, 4u << 20);
  EXPECT_EQ(s.shutdown_grace_ms, 100);
}

TEST(CommandLineTest, LogFileAndVerbosity) {
  EXPECT_EQ(ok({}).log_file, "");
  EXPECT_EQ(ok({}).verbosity, 0);
  const auto s = ok({"--log-file", "/var/log/memkv.log", "-vvv"});
  EXPECT_EQ(s.log_file, "/var/log/memkv.log");
  EXPECT_EQ(s.verbosity, 3);
  EXPECT_EQ(ok({"--log-file=/tmp/x.log", "-v", "-v"}).verbosity, 2);
  EXPECT_EQ(exits({"--log-file="}).code, 1);
  const std::string help = exits({"-h"}).message;
  EXPECT_NE(help.find("--log-file"), std::string::npos);
  EXPECT_NE(help.find("SIGUSR1"), std::string::npos);
  EXPECT_NE(help.find("-vvv"), std::string::npos);
}

TEST(CommandLineTest, AuthThreadsSizeSaslsOwnPool) {
  EXPECT_EQ(ok({}).auth_threads, 1u);
  EXPECT_EQ(ok({"--auth-threads", "3"}).auth_threads, 3u);
  EXPECT_EQ(ok({"--auth-threads=2"}).auth_threads, 2u);
  for (const char* bad : {"0", "65", "x"}) {
    const ExitNow e = exits({"--auth-threads", bad});
    EXPECT_EQ(e.code, 1) << bad;
    EXPECT_NE(e.message.find("--auth-threads"), std::string::npos) << e.message;
  }
  EXPECT_NE(exits({"-h"}).message.find("--auth-threads"), std::string::npos);
}

TEST(CommandLineTest, InvalidValuesAreRefusedWithAMessage) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"-t", "0"},
           {"--read-memory-limit", "100k"},
           {"--read-stall-timeout", "-1"},
           {"-o", "read_buf_mem_limit=x"},
           {"-c", "0"},
           {"-I", "10"},
           {"-I", "2g"},
           {"-p", "70000"},
           {"-p", "abc"},
           {"-m", "0"},
           {"-R", "0"},
           {"-m", "2", "-I", "2m"},  // more than half the memory
           {"--bogus"},
           {"-Z"},
           {"-p"},
           {"stray"},
       }) {
    const ExitNow e = exits(args);
    EXPECT_EQ(e.code, 1) << args[0];
    EXPECT_FALSE(e.message.empty()) << args[0];
  }
  EXPECT_NE(exits({"-I", "10"}).message.find("1024"), std::string::npos);
}

TEST(CommandLineTest, ClusterMapTakesANodeIndex) {
  const auto s = ok({"--cluster-map", "/etc/memkv/map.json", "--node-index", "2"});
  EXPECT_EQ(s.cluster_map_file, "/etc/memkv/map.json");
  EXPECT_EQ(s.node_index, 2);
  const auto none = ok({});
  EXPECT_TRUE(none.cluster_map_file.empty());
  EXPECT_EQ(none.node_index, -1);
  // Whether the index names a node of the map is known only once it is read (main.cc).
  EXPECT_EQ(exits({"--cluster-map", "m.json"}).code, 1) << "which node is this?";
  EXPECT_EQ(exits({"--node-index", "0"}).code, 1) << "an index into no map";
  EXPECT_EQ(exits({"--cluster-map", "m.json", "--node-index", "-1"}).code, 1);
  EXPECT_EQ(exits({"--cluster-map", "m.json", "--node-index", "1000"}).code, 1);
  EXPECT_EQ(exits({"--cluster-map", "", "--node-index", "0"}).code, 1);
}

TEST(CommandLineTest, HelpAndVersionExitZero) {
  const ExitNow help = exits({"-h"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.message.find("-p"), std::string::npos);
  const ExitNow version = exits({"-V"});
  EXPECT_EQ(version.code, 0);
  EXPECT_NE(version.message.find("memkv"), std::string::npos);
}

TEST(CommandLineTest, TlsOptionsHaveMemcachedsMeanings) {
  const auto s =
      ok({"-Z", "-o",
          "ssl_chain_cert=/c.pem,ssl_key=/k.pem,ssl_ca_cert=/ca.pem,ssl_verify_mode=2,"
          "ssl_min_version=3,ssl_ciphers=ECDHE-ECDSA-AES128-GCM-SHA256",
          "--tls-port", "11207", "--tls-port-file", "/tmp/t", "--tls-handshake-timeout", "3"});
  EXPECT_TRUE(s.ssl_enabled);
  EXPECT_EQ(s.ssl_chain_cert, "/c.pem");
  EXPECT_EQ(s.ssl_key, "/k.pem");
  EXPECT_EQ(s.ssl_ca_cert, "/ca.pem");
  EXPECT_EQ(s.ssl_verify_mode, 2);
  EXPECT_EQ(s.ssl_min_version, 3);
  EXPECT_EQ(s.ssl_ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256");
  EXPECT_EQ(s.tls_port, 11207);
  EXPECT_EQ(s.tls_port_file, "/tmp/t");
  EXPECT_EQ(s.tls_handshake_timeout_s, 3);
  // Off unless asked for.
  const auto plain = ok({});
  EXPECT_FALSE(plain.tlsConfigured());
}

TEST(CommandLineTest, TlsWithoutACertificateOrWithBadValuesIsRefused) {
  EXPECT_EQ(exits({"-Z"}).code, 1);
  EXPECT_EQ(exits({"--tls-port", "0"}).code, 1);
  EXPECT_EQ(exits({"-Z", "-o", "ssl_chain_cert=/c,ssl_verify_mode=4"}).code, 1);
  EXPECT_EQ(exits({"-Z", "-o", "ssl_chain_cert=/c,ssl_min_version=x"}).code, 1);
  EXPECT_EQ(exits({"--tls-port", "70000", "-o", "ssl_chain_cert=/c"}).code, 1);
  EXPECT_EQ(exits({"--tls-handshake-timeout", "0"}).code, 1);
}

TEST(CommandLineTest, ListenEntriesTakeAPortAndTheNotlsPrefix) {
  const auto s = ok({"-l", "notls:127.0.0.1:11212,10.0.0.1,[::1]:11213,::1,localhost:7"});
  ASSERT_EQ(s.listens.size(), 5u);
  EXPECT_EQ(s.listens[0].host, "127.0.0.1");
  EXPECT_EQ(s.listens[0].port, 11212);
  EXPECT_TRUE(s.listens[0].notls);
  EXPECT_EQ(s.listens[1].host, "10.0.0.1");
  EXPECT_EQ(s.listens[1].port, -1);  // the -p port
  EXPECT_FALSE(s.listens[1].notls);
  EXPECT_EQ(s.listens[2].host, "::1");
  EXPECT_EQ(s.listens[2].port, 11213);
  EXPECT_EQ(s.listens[3].host, "::1");
  EXPECT_EQ(s.listens[3].port, -1);
  EXPECT_EQ(s.listens[4].host, "localhost");
  EXPECT_EQ(s.listens[4].port, 7);
  for (const char* bad : {"notls:", "[::1", "[::1]x", "h:99999", "h:", ":5"}) {
    EXPECT_EQ(exits({"-l", bad}).code, 1) << bad;
  }
}

}  // namespace
}  // namespace memkv::app
