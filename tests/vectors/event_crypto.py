#!/usr/bin/env python3
"""Re-derives the safe-mode vectors of tests/suite/event_crypto.rs without the library.

WeChat's message encryption: key = base64(EncodingAESKey + "="), iv = key[:16],
plaintext = random(16) + len(msg) as 4 bytes big-endian + msg + appid, padded PKCS#7-style to a
multiple of 32 bytes, AES-256-CBC, base64. msg_signature = sha1 of the sorted, joined
token, timestamp, nonce and Encrypt.

Every constant is rebuilt here with Python's `cryptography` package (pyca/cryptography, on
OpenSSL) and compared with the one in the Rust test. The Rust test
`event_crypto::vectors_agree_with_an_independent_implementation` runs this script; without
python3 or `cryptography` both fail with how to install them (`scripts/test.sh` does).
"""

import base64
import hashlib
import pathlib
import re
import struct
import sys

try:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
except ImportError:
    sys.exit("the Python package `cryptography` is missing: install it (Debian: "
             "`apt-get install python3-cryptography`, or `pip install cryptography`), "
             "or run scripts/test.sh, which does")

EAK = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx1234567890abcdef"
TOKEN = "my-token"
TIMESTAMP = "1700000000"
NONCE = "1320562132"
KEY = base64.b64decode(EAK + "=")
IV = KEY[:16]


def aes_cbc_nopad(data):
    encryptor = Cipher(algorithms.AES(KEY), modes.CBC(IV)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def pkcs7_32(data):
    n = 32 - len(data) % 32
    return data + bytes([n]) * n


def content(prefix, msg, appid):
    return prefix + struct.pack(">I", len(msg)) + msg + appid.encode()


def main():
    source = pathlib.Path(__file__).resolve().parent.parent / "suite" / "event_crypto.rs"
    text = source.read_text(encoding="utf-8")

    def constant(name):
        match = re.search(r"const " + name + r': &str =\s*"((?:[^"\\]|\\.)*)"', text)
        if match is None:
            sys.exit(f"{name} not found in {source}")
        return match.group(1).replace('\\"', '"')

    xml = constant("XML").encode()
    body = content(b"0123456789abcdef", b"<xml/>x", APPID)
    vectors = {
        "ENCRYPT": pkcs7_32(content(b"0123456789abcdef", xml, APPID)),
        "ENCRYPT_FULL_PAD": pkcs7_32(content(bytes(16), b"x" * 58, APPID)),
        "ENCRYPT_UTF8": pkcs7_32(
            content(b"\xff" * 16, "<xml><A><![CDATA[微信卡券]]></A></xml>".encode(), APPID)),
        "ENCRYPT_OTHER_APPID": pkcs7_32(content(b"0123456789abcdef", b"<xml/>x", "wxOTHERAPPID00000")),
        "ENCRYPT_ZERO_PAD": body + bytes(64 - len(body)),
        "ENCRYPT_MIXED_PAD": body + b"\x13" * 17 + b"\x02\x13",
    }
    failures = 0
    for name, plaintext in vectors.items():
        assert len(plaintext) % 32 == 0, name
        ciphertext = aes_cbc_nopad(plaintext)
        derived = base64.b64encode(ciphertext).decode()
        ok = derived == constant(name)
        failures += not ok
        print(f"{'ok' if ok else 'MISMATCH'}  {name}" + ("" if ok else f"\n  derived {derived}"))

    joined = "".join(sorted([TOKEN, TIMESTAMP, NONCE, constant("ENCRYPT")]))
    signature = hashlib.sha1(joined.encode()).hexdigest()
    ok = signature == constant("MSG_SIGNATURE")
    failures += not ok
    print(f"{'ok' if ok else 'MISMATCH'}  MSG_SIGNATURE" + ("" if ok else f"\n  derived {signature}"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
