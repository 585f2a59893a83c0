# The TLS data path through real memcached clients (issue 13). Included by
# tests/tls/CMakeLists.txt, whose fixture tls_certs makes ${CMAKE_BINARY_DIR}/tls-certs
# (tests/tls/make_certs.sh). libmemcached's tools speak no TLS, so stunnel (client mode,
# verifying the test CA and IP:127.0.0.1) sits in front of them: with_server.sh starts the
# server with -Z, stunnel_client.sh starts the tunnel and runs the unchanged client scripts
# of tests/clients against it. MEMKV_TEST_TARGET=memcached runs them against memcached -Z.
# (The byte-exact, slow-reader, leaving-client and range-scan tests over TLS are gtest
# binaries in tests/integration: tls_data_test, tls_range_scan_test.)
set(_tls_data_certs ${CMAKE_BINARY_DIR}/tls-certs)
set(_tls_data_clients ${CMAKE_SOURCE_DIR}/tests/clients)
set(_tls_data_run bash ${_tls_data_clients}/with_server.sh bash
                  ${CMAKE_CURRENT_SOURCE_DIR}/stunnel_client.sh)
set(_tls_data_server_args
    "-Z -o ssl_chain_cert=${_tls_data_certs}/server.pem,ssl_key=${_tls_data_certs}/server.key")

# memccapable -b and -a: libmemcached's binary and ASCII conformance checks.
add_test(NAME tls.stunnel_memccapable
         COMMAND ${_tls_data_run} bash ${_tls_data_clients}/memccapable_test.sh -b)
add_test(NAME tls.stunnel_memccapable_ascii
         COMMAND ${_tls_data_run} bash ${_tls_data_clients}/memccapable_test.sh -a)
# memcslap: set, get and mget in both protocols, then every GET must have hit.
add_test(NAME tls.stunnel_memcslap
         COMMAND ${_tls_data_run} bash ${CMAKE_CURRENT_SOURCE_DIR}/stunnel_memcslap_test.sh)
# memcaslap: 5 s of binary load with 16 connections and value verification.
add_test(NAME tls.stunnel_memcaslap
         COMMAND ${_tls_data_run} bash ${_tls_data_clients}/memcaslap_test.sh)

set(_tls_data_tests tls.stunnel_memccapable tls.stunnel_memccapable_ascii tls.stunnel_memcslap)
set_tests_properties(${_tls_data_tests} tls.stunnel_memcaslap PROPERTIES
                     LABELS "tls;clients" FIXTURES_REQUIRED tls_certs TIMEOUT 180)
set_tests_properties(${_tls_data_tests} PROPERTIES ENVIRONMENT
                     "MEMKV_BIN=$<TARGET_FILE:memkv>;CERT_DIR=${_tls_data_certs};MEMKV_EXTRA_ARGS=${_tls_data_server_args}")
# memcaslap stores ~1.2 KB per SET under new keys (see memcaslap_test.sh): room for all.
set_tests_properties(tls.stunnel_memcaslap PROPERTIES PROCESSORS 4 ENVIRONMENT
                     "MEMKV_BIN=$<TARGET_FILE:memkv>;CERT_DIR=${_tls_data_certs};MEMKV_EXTRA_ARGS=${_tls_data_server_args} -m 1024")
