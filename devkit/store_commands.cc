#include "devkit/store_commands.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/files.h"
#include "common/grpc_status.h"
#include "common/grpc_tls.h"
#include "common/proto_json.h"
#include "common/terminal_text.h"
#include "common/time_format.h"
#include "common/unique_fd.h"
#include "pki/certificate.h"
#include "pki/key.h"
#include "pki/verifier.h"
#include "sitechain/v1/store.grpc.pb.h"

namespace sitechain::devkit {
namespace {

constexpr auto kUnaryDeadline = std::chrono::seconds(30);

Result<std::unique_ptr<v1::Store::Stub>> Connect(const StoreConnection& c, bool with_identity) {
  if (c.address.empty()) return InvalidArgument("say which store: --store HOST:PORT");
  SITECHAIN_ASSIGN_OR_RETURN(std::string root, ReadSmallFile(c.store_root));
  ClientTlsOptions tls;
  tls.server_roots_pem = root;
  if (with_identity) {
    if (!c.cert || !c.key) {
      return InvalidArgument(
          "this command acts as you: give your developer certificate and key "
          "(--cert, --key)");
    }
    SITECHAIN_ASSIGN_OR_RETURN(std::string cert, ReadSmallFile(*c.cert));
    SITECHAIN_ASSIGN_OR_RETURN(pki::PrivateKey key, pki::PrivateKey::Load(*c.key, c.passphrase));
    SystemRandom unused;  // an unencrypted PEM needs no randomness
    tls.certificate_chain_pem = cert;
    tls.private_key_pem = key.ToPem(std::nullopt, unused);
  }
  return v1::Store::NewStub(DialTls(c.address, tls));
}

// The store's refusal as a Status, with a hint when the store could not be reached at all.
Status FromCall(const grpc::Status& status, const StoreConnection& c) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return Unavailable("cannot reach the store at " + c.address + ": " + status.error_message() +
                       " (is the store running, is " + c.store_root +
                       " its root, and is the host a name in its TLS certificate?)");
  }
  return FromGrpcStatus(status);
}

// Every string the store sends was chosen by a developer or by the store: each goes through
// ForTerminal (common/terminal_text.h) before it reaches the terminal.

void PrintRelease(const v1::Release& r, std::ostream& out) {
  out << ForTerminal(r.name()) << "\t" << ForTerminal(r.version()) << "\trelease "
      << r.release_counter() << "\t" << ForTerminal(r.developer()) << "\t" << r.size() << " bytes\t"
      << ForTerminal(r.digest_algorithm()) << ":" << ForTerminal(r.digest()) << "\t"
      << ForTerminal(r.published_at())
      << (r.revoked() ? "\tREVOKED: " + ForTerminal(r.revocation_reason()) : "") << "\n";
}

void PrintRevocation(const v1::Revocation& r, std::ostream& out) {
  out << r.sequence() << "\t" << ForTerminal(r.revoked_at()) << "\t";
  if (r.kind() == v1::Revocation::DEVELOPER) {
    out << "developer " << ForTerminal(r.developer());
  } else {
    out << "release " << ForTerminal(r.name()) << " " << ForTerminal(r.version()) << " ("
        << ForTerminal(r.developer()) << ")";
  }
  out << "\tby " << ForTerminal(r.revoked_by()) << "\t" << ForTerminal(r.reason()) << "\n";
}

// A file in `dir` that is removed on destruction unless Keep() was called.
class PendingFile final {
 public:
  explicit PendingFile(std::string path) : path_(std::move(path)) {}
  ~PendingFile() {
    if (!kept_) ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  void Keep() { kept_ = true; }

 private:
  std::string path_;
  bool kept_ = false;
};

Status WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Unavailable(std::string("write failed: ") + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Status Register(const RegisterOptions& opts, std::ostream& out) {
  if (PathExists(opts.out)) return AlreadyExists(opts.out + " exists; choose another --out");
  SITECHAIN_ASSIGN_OR_RETURN(std::string csr, ReadSmallFile(opts.csr));
  SITECHAIN_ASSIGN_OR_RETURN(auto stub, Connect(opts.store, /*with_identity=*/false));
  v1::RegisterRequest request;
  request.set_token(opts.token);
  request.set_csr_pem(csr);
  v1::RegisterResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kUnaryDeadline);
  SITECHAIN_RETURN_IF_ERROR(FromCall(stub->Register(&context, request, &response), opts.store)
                                .WithContext("the store refused " + opts.csr));
  SITECHAIN_ASSIGN_OR_RETURN(auto cert,
                             pki::Certificate::FromPem(response.developer_certificate_pem()));
  SITECHAIN_RETURN_IF_ERROR(cert.Save(opts.out, /*overwrite=*/false));
  out << "registered as '" << ForTerminal(cert.Subject().common_name) << "' (serial "
      << cert.SerialHex() << ", valid until " << FormatTime(cert.NotAfter())
      << ")\nwrote the developer certificate to " << opts.out << "\n";
  return Status::Ok();
}

Status Publish(const PublishOptions& opts, std::ostream& out) {
  SITECHAIN_ASSIGN_OR_RETURN(std::string cert_dev, ReadSmallFile(opts.cert_dev));
  const std::string out_path = opts.out.empty() ? opts.executable + ".cert-store.pem" : opts.out;
  if (PathExists(out_path)) return AlreadyExists(out_path + " exists; choose another --out");
  const UniqueFd file(::open(opts.executable.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file.valid()) return ErrnoStatus("cannot open", opts.executable, errno);
  const int fd = file.get();
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return InvalidArgument(opts.executable + " is not a regular file");
  }
  SITECHAIN_ASSIGN_OR_RETURN(auto stub, Connect(opts.store, /*with_identity=*/true));

  grpc::ClientContext context;
  v1::PublishResponse response;
  auto writer = stub->Publish(&context, &response);
  v1::PublishRequest message;
  message.mutable_header()->set_cert_dev_pem(cert_dev);
  message.mutable_header()->set_size(static_cast<uint64_t>(st.st_size));
  bool open = writer->Write(message);
  std::string buffer(kUploadChunkBytes, '\0');
  for (off_t offset = 0; open && offset < st.st_size;) {
    const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      context.TryCancel();
      return Unavailable("cannot read " + opts.executable + ": " +
                         (n < 0 ? std::strerror(errno) : "it shrank while being published"));
    }
    message.set_chunk(buffer.data(), static_cast<size_t>(n));
    open = writer->Write(message);  // false: the store ended the call; Finish says why
    offset += n;
  }
  if (open) writer->WritesDone();
  SITECHAIN_RETURN_IF_ERROR(FromCall(writer->Finish(), opts.store));
  SITECHAIN_RETURN_IF_ERROR(WriteFileAtomic(out_path, response.cert_store_pem(), 0644, false));
  if (opts.json) {
    out << JsonForTerminal(ProtoToJson(response.release()));
  } else {
    const auto& r = response.release();
    out << "published " << ForTerminal(r.name()) << " " << ForTerminal(r.version()) << " (release "
        << r.release_counter() << ", " << r.size() << " bytes, "
        << ForTerminal(r.digest_algorithm()) << ":" << ForTerminal(r.digest())
        << ")\nwrote Cert_store to " << out_path << "\n";
  }
  return Status::Ok();
}

Status ListReleases(const ReleasesOptions& opts, std::ostream& out) {
  SITECHAIN_ASSIGN_OR_RETURN(auto stub, Connect(opts.store, /*with_identity=*/false));
  v1::ListReleasesRequest request;
  request.set_name(opts.name);
  request.set_query(opts.query);
  request.set_developer(opts.developer);
  request.set_include_revoked(opts.include_revoked);
  v1::ListReleasesResponse all;
  do {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kUnaryDeadline);
    v1::ListReleasesResponse page;
    SITECHAIN_RETURN_IF_ERROR(FromCall(stub->ListReleases(&context, request, &page), opts.store));
    all.mutable_releases()->MergeFrom(page.releases());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (opts.json) {
    out << JsonForTerminal(ProtoToJson(all));
  } else {
    for (const auto& r : all.releases()) PrintRelease(r, out);
  }
  return Status::Ok();
}

Status Download(const DownloadOptions& opts, const Clock& clock, std::ostream& out) {
  SITECHAIN_ASSIGN_OR_RETURN(auto stub, Connect(opts.store, /*with_identity=*/false));
  SITECHAIN_RETURN_IF_ERROR(MakeDirectories(opts.out_dir));
  grpc::ClientContext context;
  v1::DownloadRequest request;
  request.set_name(opts.name);
  request.set_version(opts.version);
  auto reader = stub->Download(&context, request);
  v1::DownloadResponse message;
  if (!reader->Read(&message) || !message.has_header()) {
    SITECHAIN_RETURN_IF_ERROR(FromCall(reader->Finish(), opts.store));
    return DataLoss("the store sent no release header");
  }
  const v1::DownloadHeader header = message.header();
  const v1::Release& release = header.release();
  if (release.name() != opts.name || (!opts.version.empty() && release.version() != opts.version)) {
    context.TryCancel();
    return DataLoss("asked for " + opts.name + " but the store sent " + release.name() + " " +
                    release.version());
  }
  // The executable goes to a temporary file in the target directory; it gets its name only
  // after the chain verifies.
  const std::string base = opts.out_dir + "/" + opts.name;
  PendingFile tmp(base + ".download");
  const UniqueFd file(::open(tmp.path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755));
  if (!file.valid()) return ErrnoStatus("cannot create", tmp.path(), errno);
  const int fd = file.get();
  uint64_t received = 0;
  while (reader->Read(&message)) {
    if (!message.has_chunk()) {
      context.TryCancel();
      return DataLoss("the store sent something other than data after the header");
    }
    received += message.chunk().size();
    if (received > release.size()) {
      context.TryCancel();
      return DataLoss("the store sent more than the " + std::to_string(release.size()) +
                      " bytes it announced");
    }
    SITECHAIN_RETURN_IF_ERROR(WriteAll(fd, message.chunk()));
  }
  SITECHAIN_RETURN_IF_ERROR(FromCall(reader->Finish(), opts.store));
  if (received != release.size()) {
    return DataLoss("truncated download: " + std::to_string(received) + " of " +
                    std::to_string(release.size()) + " bytes");
  }
  if (::fsync(fd) != 0) return Unavailable(std::string("fsync: ") + std::strerror(errno));

  pki::ChainInput chain;
  SITECHAIN_ASSIGN_OR_RETURN(chain.store_root, pki::Certificate::Load(opts.store.store_root));
  SITECHAIN_ASSIGN_OR_RETURN(chain.developer_identity,
                             pki::Certificate::FromPem(header.developer_certificate_pem()));
  SITECHAIN_ASSIGN_OR_RETURN(chain.cert_dev, pki::Certificate::FromPem(header.cert_dev_pem()));
  SITECHAIN_ASSIGN_OR_RETURN(chain.cert_store, pki::Certificate::FromPem(header.cert_store_pem()));
  chain.executable_path = tmp.path();
  const pki::Verification v = pki::Verifier(clock).Verify(chain);
  if (!v.ok()) {
    return FailedPrecondition("the download of " + opts.name +
                              " does not verify, nothing kept: " + v.failure->ToString());
  }
  if (!v.release || v.release->name != release.name() || v.release->version != release.version()) {
    return DataLoss("the certificates are for another release than the store announced");
  }
  SITECHAIN_RETURN_IF_ERROR(
      WriteFileAtomic(base + ".cert-dev.pem", header.cert_dev_pem(), 0644, true));
  SITECHAIN_RETURN_IF_ERROR(
      WriteFileAtomic(base + ".cert-store.pem", header.cert_store_pem(), 0644, true));
  SITECHAIN_RETURN_IF_ERROR(
      WriteFileAtomic(base + ".developer.pem", header.developer_certificate_pem(), 0644, true));
  if (::rename(tmp.path().c_str(), base.c_str()) != 0) {
    return Unavailable("cannot rename " + tmp.path() + ": " + std::strerror(errno));
  }
  tmp.Keep();
  out << "downloaded " << ForTerminal(release.name()) << " " << ForTerminal(release.version())
      << " (release " << release.release_counter() << ", " << received << " bytes) to " << base
      << (release.revoked()
              ? "\nWARNING: this release is REVOKED: " + ForTerminal(release.revocation_reason())
              : "")
      << "\nverified offline against " << opts.store.store_root << ": rules";
  for (int r : v.rules_checked) out << " " << r;
  out << "\n";
  return Status::Ok();
}

Status Revoke(const RevokeOptions& opts, std::ostream& out) {
  SITECHAIN_ASSIGN_OR_RETURN(auto stub, Connect(opts.store, /*with_identity=*/true));
  v1::RevokeReleaseRequest request;
  request.set_name(opts.name);
  request.set_version(opts.version);
  request.set_reason(opts.reason);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kUnaryDeadline);
  v1::Revocation response;
  SITECHAIN_RETURN_IF_ERROR(
      FromCall(stub->RevokeRelease(&context, request, &response), opts.store));
  out << "revoked ";
  PrintRevocation(response, out);
  return Status::Ok();
}

Status Revocations(const RevocationsOptions& opts, std::ostream& out) {
  SITECHAIN_ASSIGN_OR_RETURN(auto stub, Connect(opts.store, /*with_identity=*/false));
  auto print = [&](const v1::Revocation& r) {
    if (opts.json) {
      out << JsonForTerminal(ProtoToJson(r, /*pretty=*/false)) << "\n";
    } else {
      PrintRevocation(r, out);
    }
    out.flush();
  };
  if (!opts.follow) {
    v1::ListRevocationsRequest request;
    request.set_after_sequence(opts.after);
    while (true) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + kUnaryDeadline);
      v1::ListRevocationsResponse page;
      SITECHAIN_RETURN_IF_ERROR(
          FromCall(stub->ListRevocations(&context, request, &page), opts.store));
      for (const auto& r : page.revocations()) print(r);
      if (page.revocations().empty()) return Status::Ok();
      request.set_after_sequence(page.revocations().rbegin()->sequence());
    }
  }
  grpc::ClientContext context;
  v1::WatchRevocationsRequest request;
  request.set_after_sequence(opts.after);
  auto reader = stub->WatchRevocations(&context, request);
  v1::Revocation r;
  uint64_t seen = 0;
  while (reader->Read(&r)) {
    print(r);
    if (opts.count && ++seen >= *opts.count) {
      context.TryCancel();
      (void)reader->Finish();
      return Status::Ok();
    }
  }
  return FromCall(reader->Finish(), opts.store);
}

}  // namespace sitechain::devkit
