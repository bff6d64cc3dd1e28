// store_bench: how fast a 256 MiB executable is published to and downloaded from a store over
// loopback TLS, beside the limits of the same machine measured in the same run.
//
//   BM_Sha256/<size>         pki::HashBytes over the executable in memory: the hashing limit
//                            (the store hashes every upload, devkit download hashes again).
//   BM_Aes256Gcm/<size>      OpenSSL AES-256-GCM over the executable in 16 KiB records, as TLS
//                            1.3 seals it: the encryption limit of one direction of the
//                            connection (OpenSSL is what gRPC's TLS uses).
//   BM_WriteFsync/<size>     write(2) of the executable in 1 MiB pieces to a new file in the
//                            store's directory, then fsync: the disk's share of a publish.
//   BM_Publish/<size>        devkit::Publish: a new TLS channel with the developer's identity,
//                            the header, the file in 1 MiB chunks; the store verifies Cert_dev,
//                            hashes and writes while receiving, fsyncs the blob, issues and
//                            verifies Cert_store and records the release (SQLite).
//   BM_DownloadStream/<size> the Download call on a v1::Store stub whose channel is kept across
//                            iterations: the bytes are counted and dropped. The store reads the
//                            blob from the page cache, so this is TLS plus gRPC framing.
//   BM_DownloadVerify/<size> devkit::Download: a new channel, the stream written to a file and
//                            fsynced, then the chain verified offline (rules 1, 2, 4, 6, 8: the
//                            file is hashed again) before it is kept.
//   BM_Connect/{tls,mtls}    a new channel and one small call (an empty catalog page): what
//                            every devkit command pays for TCP, the TLS handshake (mtls: as the
//                            developer, like publish) and a round trip before any data moves.
//
// <size> is 256MiB (throughput) or 64KiB (per-call latency, where certificates and fsyncs
// dominate). Every publish needs a new release, so each iteration first signs a Cert_dev for
// the next version and counter of the same bytes, with the timer paused.
//
// The client and an in-process store (store::StoreServer on 127.0.0.1, port 0) share this
// process, so the benchmarks time the wall clock and report the CPU time of the whole process:
// client and server threads together. CPU / wall is how many of the machine's cores were busy.
//
// Everything is set up once in main, before the benchmarks run: a temporary directory with a
// store (StoreCa::Init), the server, a developer registered with a token from the admin socket,
// the two executables (seeded pseudo-random bytes) and one release of each for the downloads.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/bench_main.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/grpc_tls.h"
#include "common/random.h"
#include "common/result.h"
#include "common/status.h"
#include "devkit/store_commands.h"
#include "pki/builders.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/hash.h"
#include "pki/key.h"
#include "sitechain/v1/store.grpc.pb.h"
#include "store/server.h"
#include "store/store_ca.h"
#include "tests/support/in_process/in_process_world.h"

namespace sitechain::store {
namespace {

constexpr uint64_t kSeed = 0x5707'e0b3'0000'0001;
constexpr size_t kLargeBytes = size_t{256} << 20;
constexpr size_t kSmallBytes = size_t{64} << 10;
constexpr size_t kIoChunkBytes = size_t{1} << 20;  // as the store's blob writer receives them
constexpr size_t kTlsRecordBytes = size_t{16} << 10;
constexpr int kLargeIterations = 3;
constexpr int kSmallIterations = 20;
constexpr std::string_view kDeveloperName = "bench-developer";

// "256MiB", "64KiB".
std::string SizeName(size_t bytes) {
  return bytes >= (size_t{1} << 20) ? std::to_string(bytes >> 20) + "MiB"
                                    : std::to_string(bytes >> 10) + "KiB";
}

Status WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Unavailable(std::string("write: ") + std::strerror(errno));
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

// TLS that checks the store's certificate and presents none (registration, downloads).
ClientTlsOptions ServerOnlyTls(const std::string& store_root_pem) {
  ClientTlsOptions tls;
  tls.server_roots_pem = store_root_pem;
  return tls;
}

// One executable to publish again and again: its bytes, a file holding them, their digest and
// the release counter of its next version.
struct Executable {
  size_t size = 0;
  std::string name;  // the release name, e.g. "bench-256mib"
  std::string path;
  std::string data;
  pki::Digest digest;
  uint64_t next_counter = 1;
};

// The store and the developer (a testutil::InProcessWorld, whose destructor stops the server and
// removes its temporary directory) and the executables. Owned by main and destroyed before it
// returns (a Botan key must not outlive Botan's own statics). Not thread-safe: the benchmarks run
// one at a time.
class Fixture final {
 public:
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;
  ~Fixture() { world_.reset(); }

  static Result<std::unique_ptr<Fixture>> Create();

  Executable& executable(size_t size) { return size == kLargeBytes ? large_ : small_; }
  const std::string& scratch_dir() const { return scratch_dir_; }
  const std::string& download_dir() const { return download_dir_; }
  const devkit::StoreConnection& connection() const { return connection_; }
  const std::string& root_pem() const { return root_pem_; }
  const Clock& clock() const { return clock_; }
  // TLS as the developer (mutual) or anonymous, as devkit's publish and download dial.
  ClientTlsOptions Tls(bool as_developer) {
    ClientTlsOptions tls = ServerOnlyTls(root_pem_);
    if (as_developer) {
      tls.certificate_chain_pem = world_->developer_identity().ToPem();
      tls.private_key_pem = world_->developer_key().ToPem(std::nullopt, rng_);
    }
    return tls;
  }

  // Signs Cert_dev for the next version of `exe` and returns the options that publish it.
  Result<devkit::PublishOptions> NextRelease(Executable& exe) {
    const uint64_t counter = exe.next_counter++;
    const pki::ReleaseSpec spec{
        pki::ServiceRelease{exe.name, "1.0." + std::to_string(counter), counter}, exe.digest,
        std::nullopt};
    SITECHAIN_ASSIGN_OR_RETURN(
        pki::Certificate cert_dev,
        pki::BuildCertDev(spec, world_->developer_identity(), world_->developer_key(),
                          pki::kDefaultCertDevLifetime, {clock_, rng_}));
    const std::string base = client_dir_ + "/" + exe.name + "-" + std::to_string(counter);
    SITECHAIN_RETURN_IF_ERROR(cert_dev.Save(base + ".cert-dev.pem"));
    devkit::PublishOptions opts;
    opts.store = connection_;
    opts.executable = exe.path;
    opts.cert_dev = base + ".cert-dev.pem";
    opts.out = base + ".cert-store.pem";
    return opts;
  }

  Status Publish(Executable& exe) {
    SITECHAIN_ASSIGN_OR_RETURN(devkit::PublishOptions opts, NextRelease(exe));
    std::ostringstream out;
    return devkit::Publish(opts, out);
  }

 private:
  Fixture() : rng_(kSeed) {}

  Status SetUp();
  Status MakeExecutable(Executable& exe, size_t size);

  SystemClock clock_;
  SeededRandom rng_;  // thread-safe; the server shares it
  std::unique_ptr<testutil::InProcessWorld> world_;
  std::string store_dir_, client_dir_, scratch_dir_, download_dir_;
  std::string root_pem_;
  devkit::StoreConnection connection_;  // the world's, with the developer's files
  Executable large_, small_;
};

Result<std::unique_ptr<Fixture>> Fixture::Create() {
  std::unique_ptr<Fixture> fixture(new Fixture());
  SITECHAIN_RETURN_IF_ERROR(fixture->SetUp());
  return fixture;
}

// The store as `store init` and `store serve` make it (executables up to 1 GiB), and a developer
// registered with a token from the admin socket, as `store tokens create` and `devkit register`
// do it (testutil::InProcessWorld).
Status Fixture::SetUp() {
  SITECHAIN_ASSIGN_OR_RETURN(world_, testutil::InProcessWorld::Create("store_bench", clock_, rng_));
  ServeOptions serve;
  serve.limits.max_executable_bytes = uint64_t{1} << 30;
  world_->set_store_options(serve);
  SITECHAIN_RETURN_IF_ERROR(world_->StartStore());
  SITECHAIN_RETURN_IF_ERROR(world_->RegisterDeveloper(std::string(kDeveloperName)));
  connection_ = world_->store();
  store_dir_ = world_->dir() + "/store";
  client_dir_ = world_->dir() + "/developer";
  scratch_dir_ = store_dir_ + "/bench-scratch";
  download_dir_ = client_dir_ + "/downloads";
  SITECHAIN_ASSIGN_OR_RETURN(root_pem_, ReadSmallFile(connection_.store_root));
  SITECHAIN_RETURN_IF_ERROR(MakeDirectories(scratch_dir_, 0700));
  SITECHAIN_RETURN_IF_ERROR(MakeDirectories(download_dir_, 0700));
  SITECHAIN_RETURN_IF_ERROR(MakeExecutable(large_, kLargeBytes));
  SITECHAIN_RETURN_IF_ERROR(MakeExecutable(small_, kSmallBytes));
  // One release of each for the downloads; this also proves the publish path before timing it.
  SITECHAIN_RETURN_IF_ERROR(Publish(large_));
  return Publish(small_);
}

Status Fixture::MakeExecutable(Executable& exe, size_t size) {
  exe.size = size;
  exe.name = "bench-" + SizeName(size);
  for (char& c : exe.name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  exe.path = client_dir_ + "/" + exe.name;
  exe.data.resize(size);
  SeededRandom data_rng(kSeed + size);
  data_rng.Fill(reinterpret_cast<uint8_t*>(exe.data.data()), exe.data.size());
  exe.digest = pki::HashBytes(pki::HashAlgorithm::kSha256, exe.data);
  return WriteFileAtomic(exe.path, exe.data, 0755);
}

void Fail(benchmark::State& state, const Status& status) {
  state.SkipWithError(status.ToString().c_str());
}

void BM_Sha256(benchmark::State& state, Fixture* fixture, size_t size) {
  const Executable& exe = fixture->executable(size);
  for (auto _ : state) {
    pki::Digest d = pki::HashBytes(pki::HashAlgorithm::kSha256, exe.data);
    benchmark::DoNotOptimize(d.bytes.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(size));
}

// AES-256-GCM as TLS 1.3 uses it: one key, a new nonce and a tag for every 16 KiB record.
void BM_Aes256Gcm(benchmark::State& state, Fixture* fixture, size_t size) {
  const Executable& exe = fixture->executable(size);
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      &EVP_CIPHER_CTX_free);
  uint8_t key[32], nonce[12] = {}, tag[16];
  SeededRandom(kSeed).Fill(key, sizeof key);
  std::vector<uint8_t> record(kTlsRecordBytes);
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key, nullptr) != 1) {
    state.SkipWithError("OpenSSL refused AES-256-GCM");
    return;
  }
  const auto* in = reinterpret_cast<const uint8_t*>(exe.data.data());
  uint64_t sequence = 0;
  for (auto _ : state) {
    for (size_t offset = 0; offset < size; offset += kTlsRecordBytes) {
      const int n = static_cast<int>(std::min(kTlsRecordBytes, size - offset));
      std::memcpy(nonce + 4, &++sequence, sizeof sequence);
      int out = 0, final_out = 0;
      if (EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, nullptr, nonce) != 1 ||
          EVP_EncryptUpdate(ctx.get(), record.data(), &out, in + offset, n) != 1 ||
          EVP_EncryptFinal_ex(ctx.get(), record.data() + out, &final_out) != 1 ||
          EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, sizeof tag, tag) != 1) {
        state.SkipWithError("AES-256-GCM encryption failed");
        return;
      }
      benchmark::DoNotOptimize(tag);
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(size));
}

// What the blob writer does to the disk, without the hashing and the network: a new file in
// the store's directory, written in 1 MiB pieces and fsynced.
void BM_WriteFsync(benchmark::State& state, Fixture* fixture, size_t size) {
  const Executable& exe = fixture->executable(size);
  const std::string path = fixture->scratch_dir() + "/write-fsync";
  for (auto _ : state) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      Fail(state, Unavailable("cannot create " + path + ": " + std::strerror(errno)));
      return;
    }
    Status s = Status::Ok();
    for (size_t offset = 0; s.ok() && offset < size; offset += kIoChunkBytes) {
      s = WriteAll(fd, exe.data.data() + offset, std::min(kIoChunkBytes, size - offset));
    }
    if (s.ok() && ::fsync(fd) != 0) s = Unavailable(std::string("fsync: ") + std::strerror(errno));
    ::close(fd);
    state.PauseTiming();
    ::unlink(path.c_str());  // the next iteration writes a new file, as every upload does
    state.ResumeTiming();
    if (!s.ok()) {
      Fail(state, s);
      return;
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(size));
}

void BM_Publish(benchmark::State& state, Fixture* fixture, size_t size) {
  Executable& exe = fixture->executable(size);
  std::ostringstream out;
  for (auto _ : state) {
    state.PauseTiming();
    Result<devkit::PublishOptions> opts = fixture->NextRelease(exe);
    out.str("");
    state.ResumeTiming();
    if (!opts.ok()) {
      Fail(state, opts.status());
      return;
    }
    const Status s = devkit::Publish(*opts, out);
    if (!s.ok()) {
      Fail(state, s);
      return;
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(size));
}

void BM_DownloadStream(benchmark::State& state, Fixture* fixture, size_t size) {
  const Executable& exe = fixture->executable(size);
  auto stub = v1::Store::NewStub(
      DialTls(fixture->connection().address, ServerOnlyTls(fixture->root_pem())));
  v1::DownloadRequest request;
  request.set_name(exe.name);
  v1::DownloadResponse message;
  for (auto _ : state) {
    grpc::ClientContext context;
    auto reader = stub->Download(&context, request);
    uint64_t received = 0, announced = 0;
    while (reader->Read(&message)) {
      if (message.has_header()) announced = message.header().release().size();
      received += message.chunk().size();
    }
    const grpc::Status s = reader->Finish();
    if (!s.ok() || received != size || announced != size) {
      state.SkipWithError(("Download: " + s.error_message() + ", " + std::to_string(received) +
                           " bytes of " + std::to_string(size))
                              .c_str());
      return;
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(size));
}

// What every devkit command pays before its first byte: a new channel, the TCP connection, the
// TLS handshake (mutual: with the developer's certificate) and one small call (an empty page of
// the catalog). BM_DownloadStream, by contrast, keeps its channel.
void BM_Connect(benchmark::State& state, Fixture* fixture, bool as_developer) {
  const ClientTlsOptions tls = fixture->Tls(as_developer);
  v1::ListReleasesRequest request;
  request.set_name("no-such-release");
  for (auto _ : state) {
    auto stub = v1::Store::NewStub(DialTls(fixture->connection().address, tls));
    grpc::ClientContext context;
    v1::ListReleasesResponse response;
    const grpc::Status s = stub->ListReleases(&context, request, &response);
    if (!s.ok() || response.releases_size() != 0) {
      state.SkipWithError(("ListReleases: " + s.error_message()).c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_DownloadVerify(benchmark::State& state, Fixture* fixture, size_t size) {
  const Executable& exe = fixture->executable(size);
  devkit::DownloadOptions opts;
  opts.store = fixture->connection();
  opts.store.cert.reset();
  opts.store.key.reset();
  opts.name = exe.name;
  opts.out_dir = fixture->download_dir();
  std::ostringstream out;
  for (auto _ : state) {
    out.str("");
    const Status s = devkit::Download(opts, fixture->clock(), out);
    if (!s.ok()) {
      Fail(state, s);
      return;
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(size));
}

// The usual console table, then one summary: throughput of the 256 MiB figures against SHA-256,
// and the time per call of the 64 KiB ones. Wall time; "cores" is process CPU time / wall time.
// With --benchmark_repetitions the median stands for a name.
class SummaryReporter final : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type == Run::RT_Aggregate && !median) continue;
      Figure& f = figures_[run.run_name.function_name];
      if (f.from_median && !median) continue;
      const double unit = benchmark::GetTimeUnitMultiplier(run.time_unit);
      f = Figure{run.GetAdjustedRealTime() / unit, run.GetAdjustedCPUTime() / unit, median};
    }
  }

  void Finalize() override {
    std::ostream& out = GetOutputStream();
    const std::string large = SizeName(kLargeBytes), small = SizeName(kSmallBytes);
    const auto sha = Lookup("BM_Sha256/" + large);
    out << "\nSummary: wall-clock MB/s (10^6 bytes/s); cores = process CPU time / wall time.\n";
    out << Row({large, "MB/s", "/ SHA-256", "cores"});
    for (const char* name :
         {"Sha256", "Aes256Gcm", "WriteFsync", "Publish", "DownloadStream", "DownloadVerify"}) {
      const auto f = Lookup("BM_" + std::string(name) + "/" + large);
      out << Row({name, f ? Format("%.0f", kLargeBytes / f->wall / 1e6) : "-",
                  f && sha ? Format("%.2f", sha->wall / f->wall) : "-", Cores(f)});
    }
    out << "\n" << Row({"per call", "ms", "", "cores"});
    const std::vector<std::string> per_call = {"Publish/" + small, "DownloadStream/" + small,
                                               "DownloadVerify/" + small, "Connect/tls",
                                               "Connect/mtls"};
    for (const std::string& name : per_call) {
      const auto f = Lookup("BM_" + name);
      out << Row({name, f ? Format("%.2f", f->wall * 1e3) : "-", "", Cores(f)});
    }
    out.flush();
  }

 private:
  struct Figure {
    double wall = 0;  // seconds per iteration
    double cpu = 0;
    bool from_median = false;
  };

  std::optional<Figure> Lookup(const std::string& name) const {
    auto it = figures_.find(name);
    if (it == figures_.end() || it->second.wall <= 0) return std::nullopt;
    return it->second;
  }
  static std::string Cores(const std::optional<Figure>& f) {
    return f ? Format("%.2f", f->cpu / f->wall) : "-";
  }
  static std::string Format(const char* fmt, double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, fmt, v);
    return buf;
  }
  static std::string Row(const std::vector<std::string>& cells) {
    std::string row;
    for (size_t i = 0; i < cells.size(); ++i) {
      const size_t width = i == 0 ? 22 : 12;
      std::string cell = cells[i];
      if (cell.size() < width) cell.insert(i == 0 ? cell.size() : 0, width - cell.size(), ' ');
      row += cell;
    }
    return row + "\n";
  }

  std::map<std::string, Figure> figures_;  // by benchmark name without arguments
};

void RegisterBenchmarks(Fixture* fixture) {
  // Wall time (the work happens on the server's threads too) and the whole process's CPU time.
  // Fixed iterations keep the run short: 256 MiB cases move a gigabyte or more each.
  auto configure = [](benchmark::internal::Benchmark* b, size_t size) {
    b->Unit(size == kLargeBytes ? benchmark::kMillisecond : benchmark::kMicrosecond)
        ->Iterations(size == kLargeBytes ? kLargeIterations : kSmallIterations)
        ->MeasureProcessCPUTime()
        ->UseRealTime();
  };
  using Fn = void (*)(benchmark::State&, Fixture*, size_t);
  const std::pair<const char*, Fn> baselines[] = {
      {"Sha256", BM_Sha256}, {"Aes256Gcm", BM_Aes256Gcm}, {"WriteFsync", BM_WriteFsync}};
  const std::pair<const char*, Fn> calls[] = {{"Publish", BM_Publish},
                                              {"DownloadStream", BM_DownloadStream},
                                              {"DownloadVerify", BM_DownloadVerify}};
  for (const auto& [name, fn] : baselines) {
    const std::string full = "BM_" + std::string(name) + "/" + SizeName(kLargeBytes);
    configure(benchmark::RegisterBenchmark(full.c_str(), fn, fixture, kLargeBytes), kLargeBytes);
  }
  for (size_t size : {kLargeBytes, kSmallBytes}) {
    for (const auto& [name, fn] : calls) {
      const std::string full = "BM_" + std::string(name) + "/" + SizeName(size);
      configure(benchmark::RegisterBenchmark(full.c_str(), fn, fixture, size), size);
    }
  }
  for (const bool as_developer : {false, true}) {
    const std::string full = std::string("BM_Connect/") + (as_developer ? "mtls" : "tls");
    configure(benchmark::RegisterBenchmark(full.c_str(), BM_Connect, fixture, as_developer),
              kSmallBytes);
  }
}

int RunStoreBenchmarks(int argc, char** argv) {
  return bench::RunBenchmarks<SummaryReporter>(argc, argv, [](const bench::Run& run) {
    spdlog::set_level(spdlog::level::warn);  // the server logs every call at info
    Result<std::unique_ptr<Fixture>> fixture = Fixture::Create();
    if (!fixture.ok()) {
      std::cerr << "store_bench: cannot set up the store: " << fixture.status().ToString() << "\n";
      return EXIT_FAILURE;
    }
    RegisterBenchmarks(fixture->get());
    return run();
  });
}

}  // namespace
}  // namespace sitechain::store

int main(int argc, char** argv) { return sitechain::store::RunStoreBenchmarks(argc, argv); }
