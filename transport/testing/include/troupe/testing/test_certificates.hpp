#pragma once

/// A throwaway public-key infrastructure for TLS tests: CAs and certificates
/// made at test time by the `openssl` command (package openssl, installed by
/// scripts/install-deps) in a scratch directory that the destructor
/// removes. EC P-256 keys, so making one takes milliseconds.
///
///   auto pki = troupe::testing::test_certificates::create();  // CA "ca"
///   REQUIRE(pki);                                  // the error says why
///   REQUIRE_FALSE((*pki)->add_certificate("node", "ca", "IP:127.0.0.1"));
///   REQUIRE_FALSE((*pki)->add_certificate("old", "ca", "IP:127.0.0.1", -1));
///   cfg.tls = (*pki)->tls("node");                 // mutual TLS, trusts "ca"
///
/// Header-only, so that the transport's own suites (below troupe::testing)
/// use it too.
///
/// Thread safety: use it from one thread.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/sec.hpp>

#include <troupe/transport/node_config.hpp>

namespace troupe::testing {

class test_certificates {
public:
  /// Makes the scratch directory and a CA named "ca".
  static caf::expected<std::unique_ptr<test_certificates>> create();

  ~test_certificates();
  test_certificates(const test_certificates&) = delete;
  test_certificates& operator=(const test_certificates&) = delete;

  /// A self-signed CA: `<name>.crt` and `<name>.key`.
  caf::error add_ca(const std::string& name);

  /// A certificate for `subject_alt_name` (e.g. "IP:127.0.0.1",
  /// "DNS:node-1") signed by the CA `ca`, valid from now for `valid_days`
  /// (negative: it expired that many days ago).
  caf::error add_certificate(const std::string& name, const std::string& ca,
                             const std::string& subject_alt_name, int valid_days = 2);

  /// The full path of `file` in the scratch directory.
  std::string path(const std::string& file) const;

  /// TLS settings that present certificate `name`, trust CA `ca` and check
  /// peers by `verify`.
  transport::tls_config tls(const std::string& name,
                            transport::tls_verify verify = transport::tls_verify::mutual,
                            const std::string& ca = "ca") const;

private:
  test_certificates() = default;

  caf::error run(const std::string& command) const;

  std::string dir_;
};

// -- implementation ------------------------------------------------------------

namespace detail {

inline caf::error test_certificates_failure(const std::string& what) {
  return caf::make_error(caf::sec::runtime_error, "test_certificates: " + what);
}

} // namespace detail

inline caf::expected<std::unique_ptr<test_certificates>> test_certificates::create() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "troupe-tls-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    return detail::test_certificates_failure("cannot create a scratch directory in " + tmpl);
  std::unique_ptr<test_certificates> result{new test_certificates};
  result->dir_ = tmpl;
  if (auto err = result->add_ca("ca"))
    return err;
  return result;
}

inline test_certificates::~test_certificates() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

inline caf::error test_certificates::run(const std::string& command) const {
  // openssl's own output goes to a log in the directory, quoted on failure.
  auto log = path("openssl.log");
  auto full = "cd '" + dir_ + "' && " + command + " > '" + log + "' 2>&1";
  if (std::system(full.c_str()) == 0)
    return caf::none;
  std::ifstream in{log};
  std::string output{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  return detail::test_certificates_failure(
    "`" + command + "` failed (is the openssl package installed?): " + output);
}

inline caf::error test_certificates::add_ca(const std::string& name) {
  return run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
             + name + ".key -out " + name + ".crt -days 2 -subj /CN=" + name);
}

inline caf::error test_certificates::add_certificate(const std::string& name,
                                                     const std::string& ca,
                                                     const std::string& subject_alt_name,
                                                     int valid_days) {
  std::ofstream{path(name + ".ext")} << "subjectAltName=" << subject_alt_name << "\n";
  if (auto err = run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
                     + name + ".key -out " + name + ".csr -subj /CN=" + name))
    return err;
  return run("openssl x509 -req -in " + name + ".csr -CA " + ca + ".crt -CAkey " + ca
             + ".key -CAcreateserial -out " + name + ".crt -days " + std::to_string(valid_days)
             + " -extfile " + name + ".ext");
}

inline std::string test_certificates::path(const std::string& file) const {
  return (std::filesystem::path{dir_} / file).string();
}

inline transport::tls_config test_certificates::tls(const std::string& name,
                                                    transport::tls_verify verify,
                                                    const std::string& ca) const {
  transport::tls_config cfg;
  cfg.enabled = true;
  cfg.certificate_file = path(name + ".crt");
  cfg.private_key_file = path(name + ".key");
  cfg.ca_file = path(ca + ".crt");
  cfg.verify = verify;
  return cfg;
}

} // namespace troupe::testing
