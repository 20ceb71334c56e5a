#!/usr/bin/env bash
# Regenerates tests/fixtures/tls with openssl. Run it when the fixture set must change, then commit
# the result; tests compare our answers with openssl's on these same files. Test-only keys.
#
# Certificates are valid for 100 years, except expired.crt (2020–2021). Leaves are issued by an
# intermediate, itself issued by a root; SANs are fe.example.com and *.apps.example.com.
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/tls"
rm -rf "$out"
mkdir -p "$out"
cd "$out"
days=36500
q() { "$@" 2>/dev/null; }

leaf_ext=$(mktemp)
ca_ext=$(mktemp)
trap 'rm -f "$leaf_ext" "$ca_ext"' EXIT
printf 'subjectAltName=DNS:fe.example.com,DNS:*.apps.example.com\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >"$leaf_ext"
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$ca_ext"

# The issuing chain.
q openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.crt -days $days \
  -subj "/CN=kubectl-aml test root" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
q openssl req -new -newkey rsa:2048 -nodes -keyout intermediate.key -out intermediate.csr -subj "/CN=kubectl-aml test intermediate"
q openssl x509 -req -in intermediate.csr -CA root.crt -CAkey root.key -CAcreateserial -days $days -extfile "$ca_ext" -out intermediate.crt

# leaf NAME: a certificate for the key NAME.key, issued by the intermediate.
leaf() {
  q openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=fe.example.com/O=kubectl-aml tests/OU=$1"
  q openssl x509 -req -in "$1.csr" -CA intermediate.crt -CAkey intermediate.key -CAcreateserial -days $days \
    -extfile "$leaf_ext" -out "$1.crt"
}

# RSA 2048: PKCS#8 key, the same key in PKCS#1, chains in and out of order.
q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key
q openssl rsa -in rsa.key -traditional -out rsa-pkcs1.key
leaf rsa
cat rsa.crt intermediate.crt >rsa-chain.crt
cat intermediate.crt rsa.crt >rsa-chain-reversed.crt
cat rsa.crt root.crt >rsa-chain-gap.crt
# ECDSA P-256 (SEC1 and PKCS#8) and P-384; Ed25519.
q openssl ecparam -name prime256v1 -genkey -noout -out ec.key
q openssl pkcs8 -topk8 -nocrypt -in ec.key -out ec-pkcs8.key
leaf ec
q openssl ecparam -name secp384r1 -genkey -noout -out ec384.key
leaf ec384
q openssl genpkey -algorithm ED25519 -out ed25519.key
leaf ed25519
# RSA 1024: a key size Azure ML inference should not get.
q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.key
leaf rsa1024
# Another RSA key, to pair with rsa.crt: a mismatched pair.
q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.key
# The RSA key encrypted: PKCS#8 (ENCRYPTED PRIVATE KEY) and legacy PEM (Proc-Type: 4,ENCRYPTED).
q openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:fixture -in rsa.key -out rsa-encrypted.key
q openssl rsa -in rsa.key -traditional -aes256 -passout pass:fixture -out rsa-encrypted-legacy.key
# A self-signed single certificate, as Azure ML makes for a leaf domain label.
q openssl req -x509 -newkey rsa:2048 -nodes -keyout selfsigned.key -out selfsigned.crt -days $days \
  -subj "/CN=demo123456.westeurope.cloudapp.azure.com" -addext "subjectAltName=DNS:demo123456.westeurope.cloudapp.azure.com"

# Expired: issued for 2020-01-01..2021-01-01 (openssl ca is the only way to set past dates in 3.0).
q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out expired.key
q openssl req -new -key expired.key -out expired.csr -subj "/CN=fe.example.com/OU=expired"
touch index.txt
echo 1000 >serial
cat >ca.cnf <<CNF
[ ca ]
default_ca = fixture
[ fixture ]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[ any ]
commonName = supplied
CNF
q openssl ca -batch -config ca.cnf -cert intermediate.crt -keyfile intermediate.key -in expired.csr \
  -startdate 20200101000000Z -enddate 20210101000000Z -extfile "$leaf_ext" -notext -out expired.crt

rm -f ./*.csr ./*.srl index.txt* serial* ca.cnf ./1000.pem
cat >README.md <<'MD'
# TLS fixtures

Made by `scripts/gen-test-certs.sh` with openssl; regenerate with that script, never by hand.
Test-only keys. Leaves are issued by `intermediate.crt` (issued by `root.crt`) for
`fe.example.com` and `*.apps.example.com`, valid for 100 years; `expired.crt` ran 2020–2021.

| file | what |
|---|---|
| rsa.key / rsa-pkcs1.key | RSA 2048, PKCS#8 / the same key as PKCS#1 |
| rsa.crt, rsa-chain.crt, rsa-chain-reversed.crt, rsa-chain-gap.crt | leaf; leaf+intermediate; wrong order; leaf+root (gap) |
| ec.key / ec-pkcs8.key, ec.crt | ECDSA P-256, SEC1 / PKCS#8 |
| ec384.key, ec384.crt | ECDSA P-384 (SEC1) |
| ed25519.key, ed25519.crt | Ed25519 (PKCS#8) |
| rsa1024.key, rsa1024.crt | RSA 1024 (too small) |
| other.key | an RSA key matching no certificate |
| rsa-encrypted.key, rsa-encrypted-legacy.key | rsa.key encrypted (PKCS#8, legacy Proc-Type) |
| selfsigned.key, selfsigned.crt | self-signed, as for a Microsoft-style leaf domain label |
| expired.key, expired.crt | valid 2020-01-01 to 2021-01-01 |
| root.*, intermediate.* | the issuing chain |
MD
echo "fixtures written to $out"
