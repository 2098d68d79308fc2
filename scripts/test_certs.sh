#!/bin/bash
# Makes, with the openssl CLI, the TLS material the rediss:// tests use, in DIR
# (kept when already there):
#   ca.crt ca.key              the test CA
#   server.crt server.key      for localhost and 127.0.0.1, signed by the CA
#   expired.crt expired.key    the same names, valid only in January 2020
#   wronghost.crt wronghost.key  for wrong.example only
#   client.crt client.key      a client certificate (for tls-auth-clients yes)
#   other-ca.crt               a CA that signed none of them (the "wrong CA")
#   scripts/test_certs.sh DIR
# The extensions are those Python 3.13's default (VERIFY_X509_STRICT) requires:
# key usage on the CA, authority and subject key identifiers on every
# certificate; without them redis-py on Django 6.1 refuses the CA.
set -euo pipefail
dir=${1:?usage: $0 DIR}
mkdir -p "$dir"
cd "$dir"
# Bumped when what is made changes, so an older set is made again.
made=complete-2
[ -f "$made" ] && exit 0
rm -f complete* ./*.crt ./*.key index.txt* serial*

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca_ext=(-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign")
key ca.key
openssl req -x509 -new -key ca.key -out ca.crt -days 3650 -subj "/CN=sessionctl test CA" "${ca_ext[@]}" 2>/dev/null
key other-ca.key
openssl req -x509 -new -key other-ca.key -out other-ca.crt -days 3650 -subj "/CN=sessionctl other CA" \
  "${ca_ext[@]}" 2>/dev/null

# `openssl ca` (unlike `x509 -req`) takes any validity dates, so the expired
# certificate is made as it would have been in 2020.
cat > ca.cnf <<'EOF'
[ca]
default_ca = test
[test]
database = index.txt
new_certs_dir = .
certificate = ca.crt
private_key = ca.key
serial = serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
x509_extensions = leaf
[any]
commonName = supplied
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
: > index.txt
echo 1000 > serial

sign() {  # NAME CN SUBJECT_ALT_NAMES START END
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2" -addext "subjectAltName=$3" 2>/dev/null
  openssl ca -batch -config ca.cnf -in "$1.csr" -out "$1.crt" -startdate "$4" -enddate "$5" -notext 2>/dev/null
  rm -f "$1.csr"
}
sign server localhost "DNS:localhost,IP:127.0.0.1" 20240101000000Z 20460101000000Z
sign expired localhost "DNS:localhost,IP:127.0.0.1" 20200101000000Z 20200131000000Z
sign wronghost wrong.example "DNS:wrong.example" 20240101000000Z 20460101000000Z
sign client "sessionctl test client" "DNS:client.example" 20240101000000Z 20460101000000Z
rm -f ./*.pem  # openssl ca's copies, named by serial
chmod 600 ./*.key
touch "$made"
