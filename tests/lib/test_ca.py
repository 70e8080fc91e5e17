#!/usr/bin/python3
# tests/lib/test_ca.py - a throw-away CA for the certificate_command tests
# (tests/integ/acme_*.sh), standing in for an ACME CA where the test needs a
# CA that misbehaves on purpose or signs for a few minutes only.
#
#   test_ca.py init DIR        root (self-signed) and intermediate CA, and
#                              an unrelated "rogue" root, into DIR
#   test_ca.py sign DIR        as certificate_command: read PFTLS_CSR, write
#                              the chain (leaf, intermediate) to PFTLS_CHAIN
#                              as DIR/mode says; DIR/valid is the lifetime
#                              in seconds (default 90 days).  Appends its
#                              argv and environment to DIR/env.log and one
#                              line per call to DIR/calls.log.
# Modes: ok, refuse (exit 1 with an ACME-like error on stderr), otherkey,
# othernames, expired, untrusted (signed by the rogue root), slow (sleeps
# DIR/sleep seconds, then ok).
import datetime, os, sys, time
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

def ca_cert(subject, key, issuer, issuer_key, days=3650):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1))
         .not_valid_after(now + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                      content_commitment=False, key_encipherment=False,
                                      data_encipherment=False, key_agreement=False,
                                      encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    return b.sign(issuer_key, hashes.SHA256())

def save(d, fn, obj):
    with open(os.path.join(d, fn), "wb") as f:
        if isinstance(obj, x509.Certificate):
            f.write(obj.public_bytes(serialization.Encoding.PEM))
        else:
            f.write(obj.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))

def load(d, fn):
    data = open(os.path.join(d, fn), "rb").read()
    if b"PRIVATE KEY" in data:
        return serialization.load_pem_private_key(data, None)
    return x509.load_pem_x509_certificate(data)

def init(d):
    os.makedirs(d, exist_ok=True)
    rk, ik, gk = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = ca_cert("pftls test root", rk, "pftls test root", rk)
    inter = ca_cert("pftls test intermediate", ik, "pftls test root", rk)
    rogue = ca_cert("rogue root", gk, "rogue root", gk)
    for fn, o in (("root.key", rk), ("root.pem", root), ("inter.key", ik), ("inter.pem", inter),
                  ("rogue.key", gk), ("rogue.pem", rogue)):
        save(d, fn, o)
    open(os.path.join(d, "mode"), "w").write("ok\n")

def read(d, fn, default):
    try:
        return open(os.path.join(d, fn)).read().strip()
    except OSError:
        return default

def sign(d):
    # As exec'ed: /proc/self (python itself adds LC_CTYPE to os.environ).
    with open(os.path.join(d, "env.log"), "a") as f:
        argv = open("/proc/self/cmdline", "rb").read().split(b"\0")
        f.write("argv=" + " ".join(a.decode() for a in argv if a) + "\n")
        for kv in sorted(open("/proc/self/environ", "rb").read().split(b"\0")):
            if kv:
                f.write(kv.decode() + "\n")
        f.write("--\n")
    mode = read(d, "mode", "ok")
    valid = int(read(d, "valid", str(90 * 86400)))
    with open(os.path.join(d, "calls.log"), "a") as f:
        f.write("%d %s %s\n" % (time.time(), mode, os.environ.get("PFTLS_ALGORITHM", "?")))
    if mode == "refuse":
        print("uacme: requesting certificate", file=sys.stderr)
        print("urn:ietf:params:acme:error:rejectedIdentifier: test CA refuses", file=sys.stderr)
        sys.exit(1)
    if mode == "slow":
        time.sleep(int(read(d, "sleep", "5")))
    csr = x509.load_pem_x509_csr(open(os.environ["PFTLS_CSR"], "rb").read())
    names = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    pub = csr.public_key()
    if mode == "otherkey":
        pub = ec.generate_private_key(ec.SECP256R1()).public_key()
    if mode == "othernames":
        names = x509.SubjectAlternativeName([x509.DNSName("other.example.test")])
    ik, inter = load(d, "inter.key"), load(d, "inter.pem")
    if mode == "untrusted":
        ik, inter = load(d, "rogue.key"), load(d, "rogue.pem")
    now = datetime.datetime.now(datetime.timezone.utc)
    nb, na = now - datetime.timedelta(seconds=1), now + datetime.timedelta(seconds=valid)
    if mode == "expired":
        nb, na = now - datetime.timedelta(days=2), now - datetime.timedelta(days=1)
    first = names.get_values_for_type(x509.DNSName)[0]
    leaf = (x509.CertificateBuilder().subject_name(name(first)).issuer_name(inter.subject)
            .public_key(pub).serial_number(x509.random_serial_number())
            .not_valid_before(nb).not_valid_after(na)
            .add_extension(names, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ik, hashes.SHA256()))
    with open(os.environ["PFTLS_CHAIN"], "wb") as f:
        f.write(leaf.public_bytes(serialization.Encoding.PEM))
        f.write(inter.public_bytes(serialization.Encoding.PEM))
    print("issued serial %x" % leaf.serial_number, file=sys.stderr)

if __name__ == "__main__":
    {"init": init, "sign": sign}[sys.argv[1]](sys.argv[2])
