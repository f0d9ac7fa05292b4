#!/usr/bin/env python3
"""Makes the test world's certificates: a test CA (trusted inside the world), an untrusted CA, and the
policy hosts' certificates, including the broken ones (wrong name, expired, untrusted, wildcard)."""
import datetime
import ipaddress
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
now = datetime.datetime.now(datetime.timezone.utc)


def key():
    return ec.generate_private_key(ec.SECP256R1())


def write(name, certificate, private_key):
    (out / f"{name}.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (out / f"{name}.key").write_bytes(private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def ca(name):
    private_key = key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False)
        .sign(private_key, hashes.SHA256())
    )
    return certificate, private_key


def leaf(name, names, issuer, issuer_key, not_before=None, not_after=None):
    private_key = key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(issuer.subject).public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - datetime.timedelta(days=1))
        .not_valid_after(not_after or now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
    write(name, certificate, private_key)


test_ca, test_ca_key = ca("sts test world CA")
write("ca", test_ca, test_ca_key)
other_ca, other_ca_key = ca("untrusted CA")
write("untrusted-ca", other_ca, other_ca_key)

valid_hosts = [line.strip() for line in sys.stdin if line.strip()]
leaf("valid", valid_hosts, test_ca, test_ca_key)
leaf("wildcard", ["*.wildcard-cert.test"], test_ca, test_ca_key)
leaf("wrong-name", ["other-name.test"], test_ca, test_ca_key)
leaf("expired", ["mta-sts.expired.test"], test_ca, test_ca_key,
     not_before=now - datetime.timedelta(days=60), not_after=now - datetime.timedelta(days=30))
leaf("untrusted", ["mta-sts.untrusted.test"], other_ca, other_ca_key)
