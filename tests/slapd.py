"""A real OpenLDAP server (Debian's slapd) for the tests: started on a free loopback port with a
configuration and an mdb database in a temporary folder, a small company directory loaded with
ldapadd, stopped (and its folder removed) when the block ends. Needs `apt-get install slapd
ldap-utils` (.ci/run installs them); a missing slapd fails the test, it never skips it. It
also answers on ldaps://, with a self-signed certificate for 127.0.0.1 (its `ca_file`).
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SLAPD = Path("/usr/sbin/slapd")
SUFFIX = "dc=example,dc=com"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "slapd-root-secret"
# ICR's service account: it may search, never read a password.
SEARCH_DN = f"cn=icr,ou=services,{SUFFIX}"
SEARCH_PASSWORD = "icr-search-secret"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
HR_GROUP_DN = f"cn=icr-hr,{GROUPS}"

CONFIG = """\
TLSCertificateFile {dir}/cert.pem
TLSCertificateKeyFile {dir}/key.pem
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args

database mdb
maxsize 16777216
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_password}
directory {dir}/db
index objectClass,uid,mail,employeeNumber,member eq
access to attrs=userPassword
    by anonymous auth
    by * none
access to *
    by users read
    by * none
"""


def person(uid: str, name: str, employee_number: str, mail: str, password: str) -> str:
    return f"""\
dn: uid={uid},{PEOPLE}
objectClass: inetOrgPerson
uid: {uid}
cn: {name}
sn: {name}
employeeNumber: {employee_number}
mail: {mail}
userPassword: {password}
"""


def base_ldif(people: str, hr_members: list[str]) -> str:
    members = "".join(f"member: uid={uid},{PEOPLE}\n" for uid in hr_members)
    return f"""\
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,{SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{SUFFIX}
objectClass: organizationalUnit
ou: groups

dn: ou=services,{SUFFIX}
objectClass: organizationalUnit
ou: services

dn: {SEARCH_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: icr
userPassword: {SEARCH_PASSWORD}

{people}
dn: {HR_GROUP_DN}
objectClass: groupOfNames
cn: icr-hr
{members}
dn: cn=staff,{GROUPS}
objectClass: groupOfNames
cn: staff
member: {SEARCH_DN}
"""


@dataclass
class Directory:
    uri: str
    folder: Path
    ldaps_uri: str = ""

    @property
    def ca_file(self) -> Path:
        """The self-signed certificate ldaps:// presents: trusting it is trusting the server."""
        return self.folder / "cert.pem"

    def ldap(self, tool: str, ldif: str) -> None:
        """ldapadd / ldapmodify as the directory's administrator."""
        subprocess.run(
            [tool, "-x", "-H", self.uri, "-D", ROOT_DN, "-w", ROOT_PASSWORD],
            input=ldif.encode(),
            check=True,
            capture_output=True,
            timeout=30,
        )

    def set_members(self, group_dn: str, member_dns: list[str]) -> None:
        members = "".join(f"member: {dn}\n" for dn in member_dns)
        self.ldap("ldapmodify", f"dn: {group_dn}\nchangetype: modify\nreplace: member\n{members}")


def _write_certificate(folder: Path) -> None:
    """A self-signed certificate for 127.0.0.1 and its key (EC: quick to make)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(uri: str) -> bool:
    probe = subprocess.run(
        ["ldapsearch", "-x", "-H", uri, "-s", "base", "-b", "", "-LLL", "namingContexts"],
        capture_output=True,
        timeout=5,
        check=False,
    )
    return probe.returncode == 0


@contextlib.contextmanager
def running_slapd(ldif: str) -> Iterator[Directory]:
    assert SLAPD.exists(), f"{SLAPD} is missing: apt-get install slapd ldap-utils"
    folder = Path(tempfile.mkdtemp(prefix="icr-slapd-"))
    (folder / "db").mkdir()
    config = folder / "slapd.conf"
    config.write_text(
        CONFIG.format(dir=folder, suffix=SUFFIX, root_dn=ROOT_DN, root_password=ROOT_PASSWORD)
    )
    _write_certificate(folder)
    uri = f"ldap://127.0.0.1:{_free_port()}"
    ldaps_uri = f"ldaps://127.0.0.1:{_free_port()}"
    # -d 0: in the foreground (no fork), so the process is ours to stop; nothing logged.
    process = subprocess.Popen(
        [str(SLAPD), "-f", str(config), "-h", f"{uri}/ {ldaps_uri}/", "-d", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while not _answers(uri):
            if process.poll() is not None:
                raise RuntimeError(f"slapd stopped: {process.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("slapd did not answer within 15 s")
            time.sleep(0.05)
        directory = Directory(uri=uri, folder=folder, ldaps_uri=ldaps_uri)
        directory.ldap("ldapadd", ldif)
        yield directory
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        process.stderr.close()
        shutil.rmtree(folder, ignore_errors=True)
