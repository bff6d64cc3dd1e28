#!/usr/bin/env python3
"""Regenerates the seed corpora of tests/fuzz/corpus/ from real artefacts.

Usage: tests/fuzz/make_seeds.py CERT_DIR CSR_DIR
  CERT_DIR  PEM certificates of a real chain (scripts/demo leaves them in demo-out/: store and
            site roots, developer identity, Cert_dev, Cert_store, Cert_site, node)
  CSR_DIR   PEM CSRs (devkit keygen + devkit csr for ed25519 / ecdsa-p256 / rsa-2048, and openssl
            req for a CSR that asks for CA rights and SANs)
The sitechain extension values are taken from the certificates; the protobuf seeds wrap the same
certificates and CSRs; hand-made edge cases are added for each target. Needs python3-cryptography.
"""
import hashlib
import pathlib
import sys

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

OUT = pathlib.Path(__file__).resolve().parent / "corpus"


def write(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


# Protobuf wire format, enough for the seeds.
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, value):
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def main():
    cert_dir, csr_dir = map(pathlib.Path, sys.argv[1:3])
    certs = {}
    for p in sorted(cert_dir.glob("*.pem")):
        try:
            certs[p.stem] = x509.load_pem_x509_certificate(p.read_bytes())
        except ValueError:
            pass
    csrs = {p.stem: x509.load_pem_x509_csr(p.read_bytes()) for p in sorted(csr_dir.glob("*.csr"))}

    # certificate_fuzz: every certificate as DER and PEM, plus broken ones.
    for name, c in certs.items():
        der = c.public_bytes(Encoding.DER)
        write("certificate", name + ".der", der)
        write("certificate", name + ".pem", c.public_bytes(Encoding.PEM))
    some = next(iter(certs.values())).public_bytes(Encoding.DER)
    write("certificate", "truncated.der", some[: len(some) // 2])
    write("certificate", "trailing.der", some + b"\x00")
    write("certificate", "indefinite.der", b"\x30\x80" + some[4:] + b"\x00\x00")
    write("certificate", "two-blocks.pem",
          next(iter(certs.values())).public_bytes(Encoding.PEM) * 2)
    write("certificate", "empty-block.pem", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")

    # csr_fuzz: DER and PEM of each CSR.
    for name, r in csrs.items():
        write("csr", name + ".der", r.public_bytes(Encoding.DER))
        write("csr", name + ".pem", r.public_bytes(Encoding.PEM))
    some_csr = next(iter(csrs.values())).public_bytes(Encoding.DER)
    bad_sig = bytearray(some_csr)
    bad_sig[-1] ^= 1
    write("csr", "bad-signature.der", bytes(bad_sig))
    write("csr", "truncated.der", some_csr[:40])

    # extensions_fuzz: every sitechain extension value found in the certificates.
    seen = set()
    for name, c in certs.items():
        for ext in c.extensions:
            oid = ext.oid.dotted_string
            if not isinstance(ext.value, x509.UnrecognizedExtension):
                continue
            v = ext.value.value
            if v in seen:
                continue
            seen.add(v)
            write("extensions", f"{name}-{oid.rsplit('.', 1)[1]}.der", v)
    sha256_oid = bytes.fromhex("0609608648016503040201")
    sha512_oid = bytes.fromhex("0609608648016503040203")
    digest = hashlib.sha256(b"echo").digest()
    write("extensions", "hash-sha256-null.der",
          tlv(0x30, tlv(0x30, sha256_oid + b"\x05\x00") + tlv(0x04, digest)))
    write("extensions", "hash-sha512-short.der",
          tlv(0x30, tlv(0x30, sha512_oid) + tlv(0x04, digest)))
    write("extensions", "release-counter-max.der",
          tlv(0x30, tlv(0x0C, b"echo") + tlv(0x0C, b"1.0") + tlv(0x02, b"\x7f" + b"\xff" * 7)))
    write("extensions", "release-negative.der",
          tlv(0x30, tlv(0x0C, b"echo") + tlv(0x0C, b"1.0") + tlv(0x02, b"\xff")))
    write("extensions", "release-printable.der",
          tlv(0x30, tlv(0x13, b"echo") + tlv(0x0C, b"1.0") + tlv(0x02, b"\x01")))
    write("extensions", "policy.der", tlv(0x0C, b'{"args":["--port","8080"],"restart":"always"}'))
    write("extensions", "policy-long-form-length.der", b"\x0c\x81\x02{}")

    # launch_policy_fuzz.
    for n, t in {
        "args-env.json": '{"args":["--port","8080"],"env":{"GREETING":"hi"},"restart":"never"}',
        "defaults.json": "{}",
        "duplicate.json": '{"restart":"always","restart":"never"}',
        "nested-duplicate.json": '{"x":{"a":1,"a":2}}',
        "reserved.json": '{"env":{"LD_PRELOAD":"/tmp/x.so","SITECHAIN_KEY":"k"}}',
        "nul.json": '{"args":["a\\u0000b"]}',
        "unicode.json": '{"args":["\\ud83d\\ude00","\u00e9"],"service-key":[1,2.5e300,null,true]}',
        "not-object.json": "[1,2]",
        "deep.json": '{"x":' + "[" * 200 + "]" * 200 + "}",
    }.items():
        write("launch_policy", n, t)

    # json_config_fuzz: the daemons' real configuration files and edge cases.
    for n, t in {
        "slsm.json": '{"site":"example","store":"127.0.0.1:7443","tls_names":["localhost"],'
                     '"heartbeat_timeout":"5s","cert_site_lifetime":"30s",'
                     '"renew_window_start":0.5,"max_executable_bytes":67108864,'
                     '"log_level":"info"}',
        "nlsm.json": '{"stop_grace":"10s","honour_suggested_window":false,"log_level":"debug"}',
        "seconds.json": '{"heartbeat_timeout":86400,"stop_grace":"7d"}',
        "huge-duration.json": '{"cert_site_lifetime":"99999999999999999d"}',
        "seconds-above-int64.json": '{"stop_grace": 18446744073709551615}',
        "seconds-overflowing-now.json": '{"heartbeat_timeout": 9000000000000000000}',
        "unknown-key.json": '{"sitee":"x"}',
        "custom.json": '{"custom":{"a":[1,{"b":null}]}}',
        "wrong-type.json": '{"tls_names":"localhost"}',
    }.items():
        write("json_config", n, t)

    # The protobuf messages, with the real CSRs and certificates inside.
    csr_ders = [r.public_bytes(Encoding.DER) for r in csrs.values()]
    write("renew_request", "two-instances.pb",
          field(1, field(1, "echo") + field(2, csr_ders[0])) +
          field(1, field(1, "hello") + field(2, csr_ders[-1])))
    write("renew_request", "empty-csr.pb", field(1, field(1, "echo")))
    for i, der in enumerate(csr_ders):
        write("enroll_request", f"enroll-{i}.pb",
              field(1, "k3x9.s3cr3t." + "ab" * 32) + field(2, "node1") + field(3, der))
    write("enroll_request", "no-dots.pb", field(1, "token") + field(2, "Node 1"))
    for name, c in certs.items():
        if "dev" in name:
            write("publish_request", name + ".pb",
                  field(1, field(1, c.public_bytes(Encoding.PEM)) + field(2, 1234)))
    write("publish_request", "chunk.pb", field(2, b"\x7fELF" + b"\x00" * 12))
    write("node_message", "hello.pb",
          field(1, field(1, field(1, "echo") + field(2, "running") +
                               field(3, "2030-01-01T00:00:00Z") + field(4, "pid 42")) +
                   field(1, field(1, "hello") + field(2, "refused") + field(4, "x" * 300))))
    write("node_message", "heartbeat.pb", field(2, 7))
    write("node_message", "instance.pb", field(3, field(1, "echo") + field(2, "stopped")))
    by_role = list(certs.values())
    ders = [c.public_bytes(Encoding.DER) for c in by_role]
    write("package_header", "header.pb",
          field(1, field(1, "echo") + field(2, "echo") + field(3, "1.0.0") + field(4, 3) +
                   field(5, "sha256") + field(6, hashlib.sha256(b"x").hexdigest()) +
                   field(7, 4096) + field(8, ders[0]) + field(9, ders[1 % len(ders)]) +
                   field(10, ders[2 % len(ders)])))
    write("package_header", "chunk.pb", field(2, b"\x00" * 16))
    write("package_header", "bad-hex.pb", field(1, field(5, "sha512") + field(6, "zz")))
    add_site_answers(certs)
    add_fuzz_site_seeds()


def add_fuzz_site_seeds():
    """What the targets that run a real site (fuzz_site.h) need to get past its first checks:
    the site's node and service names (node-1 runs hello and world, node-2 hello), CSRs with
    those names, every key of both daemons' configuration, an slsm.json with a --config file
    after a NUL byte. Needs no artefacts (the CSRs are made here)."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import NameOID

    def csr(cn):
        key = ed25519.Ed25519PrivateKey.generate()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        return (x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, None)
                .public_bytes(Encoding.DER))

    # enroll_request_fuzz makes the site's token for the node its sent token's first part names.
    def token(node):
        return node + "." + "5e" * 16 + "." + "ab" * 32

    write("enroll_request", "site-node-1.pb",
          field(1, token("node-1")) + field(2, "node-1") + field(3, csr("node-1")))
    write("enroll_request", "site-other-node.pb",
          field(1, token("node-2")) + field(2, "node-1") + field(3, csr("node-1")))
    write("enroll_request", "site-other-cn.pb",
          field(1, token("node-1")) + field(2, "node-1") + field(3, csr("node-2")))
    write("enroll_request", "site-bad-name.pb",
          field(1, token("0a1b2c3d")) + field(2, "Node 1") + field(3, csr("Node 1")))
    write("enroll_request", "token-four-parts.pb",
          field(1, "a.b.c.d") + field(2, "node-3") + field(3, csr("node-3")))
    write("enroll_request", "token-too-long.pb", field(1, "a.b." + "c" * 253) + field(2, "node-3"))

    write("renew_request", "site-deployed.pb",
          field(1, field(1, "hello") + field(2, csr("hello"))) +
          field(1, field(1, "world") + field(2, csr("world"))))
    write("renew_request", "site-mixed.pb",
          field(1, field(1, "hello") + field(2, csr("hello"))) +
          field(1, field(1, "echo") + field(2, csr("echo"))) +
          field(1, field(1, "world")))

    def status(service, state, detail=""):
        return field(1, service) + field(2, state) + field(4, detail)

    write("node_message", "site-hello.pb",
          field(1, field(1, status("hello", "running", "pid 42")) +
                   field(1, status("world", "stopped", "Straße gesperrt: läuft nicht")) +
                   field(1, status("echo", "running")) + field(1, status("hello", "crash-loop"))))
    write("node_message", "site-instance-long.pb",
          field(3, status("world", "läuft" * 20, "ü" * 600)))
    # A report whose limit falls inside a UTF-8 sequence (the slsm cut it there once, and the
    # admin's listing of it no longer parsed).
    write("node_message", "utf8-cut-state.pb", field(3, status("hello", "a" * 63 + "é")))
    write("node_message", "utf8-cut-detail.pb",
          field(1, field(1, status("world", "running", "x" + "ü" * 600))))

    for n, t in {
        "slsm-every-key.json":
            '{"site":"a","store":"store:7443","listen":"0.0.0.0:0","admin_socket":"/run/a.sock",'
            '"tls_names":["localhost","10.0.0.1"],"tls_lifetime":"90d","heartbeat_timeout":"15s",'
            '"log_level":"warn","ready_file":"/run/ready","cert_site_lifetime":"5000s",'
            '"node_lifetime":"24h","node_recovery_grace":"7d","default_token_ttl":"1h",'
            '"max_token_ttl":"7d","renew_window_start":0.5,"renew_window_end":0.75,'
            '"max_issuance_per_second":100,"issuance_burst":200,"policy_push_window":"10s",'
            '"max_executable_bytes":1073741824,"max_policy_bytes":4096,"clock_skew":"60s"}',
        "nlsm-every-key.json":
            '{"admin_socket":"/run/n.sock","log_level":"info","ready_file":"/run/r",'
            '"stop_grace":"5s","renewal_policy":"paper-backoff","window_start":0.5,'
            '"window_end":0.75,"backoff_fraction":0.25,"honour_suggested_window":true,'
            '"retry_initial":"10s","retry_max":"300s","batch_interval":"5s",'
            '"heartbeat_interval":"5s","reconnect_initial":"1s","reconnect_max":"60s",'
            '"clock_skew":"60s","call_timeout":"30s","keepalive_time":"20s",'
            '"keepalive_timeout":"10s","connect_timeout":"10s"}',
        # Each just past a bound the loaders enforce (refused), so that a loader that loses
        # one fails on the seeds.
        "nlsm-heartbeat-0s.json": '{"heartbeat_interval":"0s"}',
        "nlsm-reconnect-max-below-initial.json": '{"reconnect_initial":"9s","reconnect_max":"8s"}',
        "nlsm-keepalive-0s.json": '{"keepalive_time":"0s"}',
        "nlsm-retry-max-below-initial.json": '{"retry_initial":"9s","retry_max":"8s"}',
        "nlsm-window-inverted.json": '{"window_start":0.7,"window_end":0.6}',
        "nlsm-backoff-fraction-0.json": '{"renewal_policy":"paper-backoff","backoff_fraction":0}',
        "nlsm-negative-seconds.json": '{"stop_grace":-5}',
        "slsm-heartbeat-0s.json": '{"store":"s:1","heartbeat_timeout":"0s"}',
        "slsm-no-tls-name.json": '{"store":"s:1","tls_names":[]}',
        "slsm-window-inverted.json": '{"store":"s:1","renew_window_start":0.8}',
        "slsm-token-ttl-over-max.json": '{"store":"s:1","default_token_ttl":"8d"}',
        "slsm-policy-bytes-4097.json": '{"store":"s:1","max_policy_bytes":4097}',
        "slsm-rate-0.json": '{"store":"s:1","max_issuance_per_second":0}',
        "slsm-with-override.bin":
            '{"site":"a","store":"store:7443"}\0'
            '{"heartbeat_timeout":"30s","renew_window_start":0.6,"renew_window_end":0.8}',
    }.items():
        write("json_config", n, t)


def int64(n):
    """An int64 field value as protobuf puts it on the wire (two's complement varint)."""
    return n & (2**64 - 1)


def add_site_answers(certs):
    """renew_response and node_command: what a node decodes from its site manager."""
    site = next((c for n, c in certs.items() if "site" in n and "root" not in n), None)
    if site is None:
        return
    der = site.public_bytes(Encoding.DER)
    nb = int(site.not_valid_before_utc.timestamp())
    na = int(site.not_valid_after_utc.timestamp())
    life = na - nb
    write("renew_response", "issued.pb",
          field(1, field(1, "hello") + field(2, der) + field(5, nb + life // 2) +
                   field(6, nb + life * 3 // 4)))
    write("renew_response", "window-outside.pb",
          field(1, field(1, "hello") + field(2, der) + field(5, int64(-1)) +
                   field(6, na + 86400)))
    write("renew_response", "refused-rate.pb",
          field(1, field(1, "echo") + field(3, 8) + field(4, "issuance rate exceeded") +
                   field(5, nb + 60) + field(6, nb + 90)) +
          field(1, field(1, "hello") + field(3, 7) + field(4, "revoked")))
    write("renew_response", "unknown-code.pb", field(1, field(1, "echo") + field(3, 999)))
    write("node_command", "deploy.pb", field(1, field(1, "echo") + field(2, "ab" * 32)))
    write("node_command", "stop.pb", field(2, field(1, "echo") + field(2, "revoked")))
    write("node_command", "renew-now.pb",
          field(3, field(1, "echo") + field(1, "hello") + field(2, 30)))
    write("node_command", "renew-now-max.pb", field(3, field(1, "echo") + field(2, 2**32 - 1)))
    write("node_command", "heartbeat-ack.pb", field(4, 12))


if __name__ == "__main__":
    main()
