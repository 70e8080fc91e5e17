# cert_chain_seeds.py - the fixed PKI of tests/fuzz/fuzz_cert_chain.c and its seeds
# (tests/fuzz/corpus/cert_chain/), made once with Python's cryptography package
# and committed; rerunning it makes new keys, so the harness's root_pem and
# key_pub_pem must then be replaced by the harness-root.pem and harness-pub.pem
# it writes beside OUTDIR.  Usage: python3 cert_chain_seeds.py OUTDIR
import datetime as dt, os, sys
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
D = dt.datetime
def key(): return ec.generate_private_key(ec.SECP256R1())
def name(cn): return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
serial = [0x5000]
def cert(k, cn, issuer, ikey, ca, nb, na, sans=None):
    serial[0] += 1
    b = (x509.CertificateBuilder().subject_name(name(cn))
         .issuer_name(issuer.subject if issuer else name(cn)).public_key(k.public_key())
         .serial_number(serial[0]).not_valid_before(nb).not_valid_after(na)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()), False))
    if issuer:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ikey.public_key()), False)
    if ca:
        b = (b.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
             .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), True))
    else:
        b = (b.add_extension(x509.BasicConstraints(ca=False, path_length=None), False)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False))
        if sans is not None:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), False)
    return b.sign(ikey if ikey else k, hashes.SHA256())
pem = lambda c: c.public_bytes(serialization.Encoding.PEM)

rk, ik, ork, ours, other = key(), key(), key(), key(), key()
root = cert(rk, "Fuzz Root", None, None, True, D(2025,1,1), D(2125,1,1))
inter = cert(ik, "Fuzz Intermediate", root, rk, True, D(2025,1,1), D(2125,1,1))
oroot = cert(ork, "Other Root", None, None, True, D(2025,1,1), D(2125,1,1))
ointer = cert(ik, "Fuzz Intermediate", oroot, ork, True, D(2025,1,1), D(2125,1,1))
H = ["mx.example.test", "mx2.example.test"]
good = D(2026,12,1), D(2027,3,1)
def leaf(k=ours, cn="mx.example.test", sans=H, v=good, iss=inter):
    return cert(k, cn, iss, ik, False, v[0], v[1], sans)
L = leaf()
seeds = {
    "good-leaf-intermediate.pem": pem(L) + pem(inter),
    "good-leaf-intermediate-root.pem": pem(L) + pem(inter) + pem(root),
    "good-wildcard.pem": pem(leaf(sans=["*.example.test"])) + pem(inter),
    "bad-cn-only-one-name.pem": pem(cert(ours, "mx.example.test", inter, ik, False, good[0], good[1], None)) + pem(inter),
    "good-text-around.pem": b"subject=CN = mx.example.test\n" + pem(L) + b"\n\n" + pem(inter) + b"trailing words\n",
    "bad-other-key.pem": pem(leaf(k=other)) + pem(inter),
    "bad-other-names.pem": pem(leaf(sans=["other.example.test"])) + pem(inter),
    "bad-one-name.pem": pem(leaf(sans=["mx.example.test"])) + pem(inter),
    "bad-wildcard-partial.pem": pem(leaf(sans=["mx*.example.test"])) + pem(inter),
    "bad-expired.pem": pem(leaf(v=(D(2026,1,1), D(2026,4,1)))) + pem(inter),
    "bad-not-yet-valid.pem": pem(leaf(v=(D(2027,6,1), D(2027,9,1)))) + pem(inter),
    "bad-renew-due.pem": pem(leaf(v=(D(2026,10,25), D(2027,1,23)))) + pem(inter),
    "bad-unrelated-root.pem": pem(leaf(iss=ointer)) + pem(ointer),
    "bad-unrelated-root-included.pem": pem(leaf(iss=ointer)) + pem(ointer) + pem(oroot),
    "bad-wrong-order.pem": pem(inter) + pem(L),
    "bad-extra-cert.pem": pem(L) + pem(inter) + pem(oroot),
    "bad-no-intermediate.pem": pem(L),
    "bad-private-key.pem": pem(L) + pem(inter) + ours.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    "bad-empty.pem": b"",
    "bad-crl-block.pem": pem(L) + b"-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n",
    "bad-truncated.pem": (pem(L) + pem(inter))[:900],
    "bad-der.pem": L.public_bytes(serialization.Encoding.DER),
}
for n, d in seeds.items():
    open(os.path.join(out, n), "wb").write(d)
open(os.path.join(out, "..", "harness-root.pem"), "wb").write(pem(root))
open(os.path.join(out, "..", "harness-pub.pem"), "wb").write(ours.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
