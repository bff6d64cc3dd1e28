#!/usr/bin/env python3
"""The rooms of the code and the arrows allowed between them (docs/architecture.md, "Rooms and
arrows"), checked on every #include of the product code.

    tests/layout/check_includes.py [SOURCE_DIR]

Each folder may include the folders listed for it, and itself. Files of the core of a role (the
behaviour without gRPC) may include neither gRPC, protobuf nor the generated sitechain.v1 code;
only pki/ may include Botan, only storage/sqlite.cc SQLite, and no product code OpenSSL (its only
user is gRPC's TLS, which scripts/lsan.supp relies on). Prints every include that breaks a
rule, then "N passed, N failed" (one check per file), and exits 1 if any broke one.
"""
import pathlib
import re
import sys

# folder -> the folders it may include (besides itself)
ALLOWED = {
    "common": set(),
    "pki": {"common"},
    "storage": {"common", "pki"},
    "server": {"common"},
    "slca": {"common", "pki"},
    "devkit": {"common", "pki", "proto"},
    "store": {"common", "pki", "storage", "server", "proto"},
    "slsm": {"common", "pki", "storage", "slca", "server", "proto"},
    "nlsm": {"common", "pki", "storage", "server", "proto"},
    "sim": {"common", "pki", "nlsm", "proto"},
    "service_identity": {"common", "pki"},
    "examples": {"service_identity"},
}

# The cores: the behaviour of each role, testable without a network. Everything in these folders
# but the listed adapter files (gRPC services and clients, wiring, command lines).
ADAPTERS = {
    "store": {"convert", "grpc_service", "admin_service", "server", "admin_commands", "cli",
              "cli_server", "cli_admin", "main"},
    "slsm": {"convert", "grpc_service", "node_messages", "admin_service", "store_client",
             "revocation_follower", "server", "config", "admin_commands", "cli", "cli_server",
             "cli_admin", "main"},
    "nlsm": {"grpc_site_client", "site_messages", "admin_service", "config", "daemon", "cli",
             "main"},
    "devkit": {"store_commands", "cli", "cli_local", "cli_store", "main"},
}
GRPC_FREE_FOLDERS = {"common", "pki", "storage", "slca", "service_identity"}
GRPC_FREE_EXCEPTIONS = {"service_identity/service_identity", "common/grpc_status", "common/grpc_tls", "common/proto_json", "common/log",
                        "common/json_config"}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def grpc_free(rel: pathlib.PurePosixPath) -> bool:
    folder, stem = rel.parts[0], rel.stem
    if f"{folder}/{stem}" in GRPC_FREE_EXCEPTIONS:
        return False
    if folder in GRPC_FREE_FOLDERS:
        return True
    return folder in ADAPTERS and stem not in ADAPTERS[folder]


def problems(rel: pathlib.PurePosixPath, text: str) -> list[str]:
    folder = rel.parts[0]
    found = []
    for kind, target in INCLUDE.findall(text):
        head = target.split("/")[0]
        if kind == '"' and "/" in target:
            if head == "sitechain":  # generated code: sitechain/v1/*.pb.h
                head = "proto"
            if head != folder and head not in ALLOWED[folder]:
                found.append(f"{folder}/ may not include {target}")
            if head == "proto" and grpc_free(rel):
                found.append(f"the core file {rel} may not include generated code ({target})")
        if kind == "<":
            if head in ("grpcpp", "grpc", "google") and grpc_free(rel):
                found.append(f"the core file {rel} may not include <{target}>")
            if head == "botan" and folder != "pki":
                found.append(f"only pki/ may include Botan (<{target}>)")
            if head == "openssl":
                found.append(f"product code may not include OpenSSL (<{target}>); pki/ uses Botan")
            if target == "sqlite3.h" and str(rel) != "storage/sqlite.cc":
                found.append(f"only storage/sqlite.cc may include <sqlite3.h>")
    return found


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parents[2])
    passed = failed = 0
    for folder in sorted(ALLOWED):
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".h", ".cc"):
                continue
            rel = pathlib.PurePosixPath(path.relative_to(root).as_posix())
            found = problems(rel, path.read_text(errors="replace"))
            for p in found:
                print(f"{rel}: {p}")
            if found:
                failed += 1
            else:
                passed += 1
    unknown = [p.name for p in root.iterdir()
               if p.is_dir() and any(p.rglob("*.cc")) and p.name not in ALLOWED
               and p.name not in ("tests", "bench", "build", "proto") and not p.name.startswith(("build", "."))]
    for name in unknown:
        print(f"{name}/: a folder of product code without rules; add it to ALLOWED")
        failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
