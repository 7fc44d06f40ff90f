//! WeChat's message encryption (安全模式): AES-256-CBC.
//!
//! - AES key: `base64_decode(EncodingAESKey + "=")`, 32 bytes (the EncodingAESKey is 43
//!   characters). IV: the key's first 16 bytes.
//! - Plaintext: 16 random bytes, the message's length (4 bytes, big-endian), the message (UTF-8
//!   XML), the appid; padded with PKCS#7 to a multiple of **32** bytes (not AES's 16: 1 to 32
//!   bytes of padding, each worth the padding's length).
//! - `Encrypt` = base64 of the ciphertext; `msg_signature` = SHA-1 of the token, `timestamp`,
//!   `nonce` and `Encrypt`, sorted and joined.

use aes::Aes256;
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};

use super::{EventError, msg_signature};
use crate::Secret;

/// WeChat's padding block.
const PAD_BLOCK: usize = 32;

/// Standard base64, lenient about the unused bits of the last character (a random
/// EncodingAESKey's 43rd character usually has some set) and about the `=` padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The encryption of one official account: its token, EncodingAESKey and appid.
///
/// `Debug` shows the appid only.
#[derive(Clone)]
pub struct MessageCrypto {
    token: Secret,
    key: [u8; 32],
    appid: String,
}

impl std::fmt::Debug for MessageCrypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageCrypto")
            .field("appid", &self.appid)
            .finish_non_exhaustive()
    }
}

impl MessageCrypto {
    /// `token` and `encoding_aes_key` as configured on the 公众平台 (服务器配置), `appid` the
    /// official account's. Fails when the key is not 43 characters of base64 for 32 bytes.
    pub fn new(
        token: impl Into<Secret>,
        encoding_aes_key: impl Into<Secret>,
        appid: impl Into<String>,
    ) -> Result<MessageCrypto, EventError> {
        let encoding_aes_key = encoding_aes_key.into();
        let text = encoding_aes_key.expose().trim();
        if text.len() != 43 {
            return Err(EventError::InvalidKey("it must be 43 characters long"));
        }
        let bytes = BASE64
            .decode(format!("{text}="))
            .map_err(|_| EventError::InvalidKey("it is not base64"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| EventError::InvalidKey("it does not decode to 32 bytes"))?;
        Ok(MessageCrypto {
            token: token.into(),
            key,
            appid: appid.into(),
        })
    }

    /// The appid messages are checked against.
    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// The `msg_signature` of an `Encrypt` text.
    pub fn signature(&self, timestamp: &str, nonce: &str, encrypt: &str) -> String {
        msg_signature(self.token.expose(), timestamp, nonce, encrypt)
    }

    /// Verifies `msg_signature` **first**, then decrypts `encrypt` and checks the appid.
    /// Returns the message's XML.
    pub fn decrypt(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypt: &str,
    ) -> Result<String, EventError> {
        let expected = self.signature(timestamp, nonce, encrypt);
        if !crate::signature::same_signature(&expected, msg_signature) {
            return Err(EventError::BadSignature("msg_signature"));
        }
        self.decrypt_content(encrypt)
    }

    /// Decrypts an `Encrypt` text without checking a signature (check it first, or use
    /// [`decrypt`](MessageCrypto::decrypt)); the appid is checked.
    pub fn decrypt_content(&self, encrypt: &str) -> Result<String, EventError> {
        let mut data = BASE64
            .decode(encrypt.trim())
            .map_err(|_| EventError::BadBase64)?;
        let iv = &self.key[..16];
        let decryptor = cbc::Decryptor::<Aes256>::new_from_slices(&self.key, iv)
            .map_err(|_| EventError::InvalidKey("not a 32-byte key"))?;
        let plain = decryptor
            .decrypt_padded_mut::<NoPadding>(&mut data)
            .map_err(|_| EventError::BadPadding)?;
        let unpadded = unpad(plain)?;
        let (message, appid) = split_content(unpadded)?;
        if appid != self.appid.as_bytes() {
            return Err(EventError::WrongAppId {
                expected: self.appid.clone(),
                found: String::from_utf8_lossy(appid).chars().take(64).collect(),
            });
        }
        String::from_utf8(message.to_vec())
            .map_err(|_| EventError::BadContent("the message is not UTF-8"))
    }

    /// Encrypts `xml` with a random 16-byte prefix: the `Encrypt` text.
    pub fn encrypt_content(&self, xml: &str) -> String {
        let mut random = [0u8; 16];
        random[..8].copy_from_slice(&crate::random::random_u64().to_be_bytes());
        random[8..].copy_from_slice(&crate::random::random_u64().to_be_bytes());
        self.encrypt_content_with(xml, &random)
    }

    /// Encrypts `xml` with the given 16-byte prefix (deterministic, for tests and test
    /// vectors; WeChat wants the prefix random).
    pub fn encrypt_content_with(&self, xml: &str, random: &[u8; 16]) -> String {
        let message = xml.as_bytes();
        let length = u32::try_from(message.len()).unwrap_or(u32::MAX);
        let mut data = Vec::with_capacity(20 + message.len() + self.appid.len() + PAD_BLOCK);
        data.extend_from_slice(random);
        data.extend_from_slice(&length.to_be_bytes());
        data.extend_from_slice(message);
        data.extend_from_slice(self.appid.as_bytes());
        let pad = PAD_BLOCK - data.len() % PAD_BLOCK;
        // 1..=32, fits in a byte.
        data.resize(data.len() + pad, pad as u8);
        let len = data.len();
        let encryptor = match cbc::Encryptor::<Aes256>::new_from_slices(&self.key, &self.key[..16])
        {
            Ok(encryptor) => encryptor,
            // The key is 32 bytes and the IV 16 by construction.
            Err(_) => return String::new(),
        };
        match encryptor.encrypt_padded_mut::<NoPadding>(&mut data, len) {
            Ok(cipher) => BASE64.encode(cipher),
            // The length is a multiple of 32 by construction.
            Err(_) => String::new(),
        }
    }

    /// A passive reply in safe mode: `<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>`
    /// around the encrypted `xml`.
    pub fn encrypt_reply(&self, xml: &str, timestamp: &str, nonce: &str) -> String {
        let encrypt = self.encrypt_content(xml);
        let signature = self.signature(timestamp, nonce, &encrypt);
        format!(
            "<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt><MsgSignature><![CDATA[{signature}]]></MsgSignature><TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )
    }
}

/// Removes WeChat's PKCS#7 padding (1..=32 bytes, each worth the padding's length).
fn unpad(data: &[u8]) -> Result<&[u8], EventError> {
    let Some(&last) = data.last() else {
        return Err(EventError::BadPadding);
    };
    let pad = usize::from(last);
    if pad == 0 || pad > PAD_BLOCK || pad > data.len() {
        return Err(EventError::BadPadding);
    }
    let (content, padding) = data.split_at(data.len() - pad);
    if padding.iter().any(|&b| b != last) {
        return Err(EventError::BadPadding);
    }
    Ok(content)
}

/// `random(16) + length(4, big-endian) + message + appid` → `(message, appid)`.
fn split_content(content: &[u8]) -> Result<(&[u8], &[u8]), EventError> {
    let Some(rest) = content.get(16..) else {
        return Err(EventError::BadContent("shorter than its 20-byte prefix"));
    };
    let Some((length, rest)) = rest.split_first_chunk::<4>() else {
        return Err(EventError::BadContent("shorter than its 20-byte prefix"));
    };
    let length = usize::try_from(u32::from_be_bytes(*length)).unwrap_or(usize::MAX);
    if length > rest.len() {
        return Err(EventError::BadContent(
            "its length field is longer than the message",
        ));
    }
    Ok(rest.split_at(length))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    fn crypto() -> MessageCrypto {
        MessageCrypto::new("token", KEY, "wx1234567890abcdef").unwrap()
    }

    #[test]
    fn round_trip_and_padding_edges() {
        let c = crypto();
        // Every content length modulo 32, so each padding length 1..=32 occurs.
        for n in 0..70 {
            let xml = "x".repeat(n);
            let encrypted = c.encrypt_content(&xml);
            assert_eq!(c.decrypt_content(&encrypted).unwrap(), xml);
        }
    }

    #[test]
    fn unpad_rules() {
        assert_eq!(unpad(&[7, 1]).unwrap(), &[7]);
        assert_eq!(unpad(&[2; 32]).map(<[u8]>::len), Ok(30));
        assert_eq!(unpad(&[32; 32]).map(<[u8]>::len), Ok(0));
        assert_eq!(unpad(&[]), Err(EventError::BadPadding));
        assert_eq!(unpad(&[1, 0]), Err(EventError::BadPadding));
        assert_eq!(unpad(&[33; 40]), Err(EventError::BadPadding));
        assert_eq!(unpad(&[1, 3, 2, 3]), Err(EventError::BadPadding));
        assert_eq!(unpad(&[5, 5]), Err(EventError::BadPadding));
    }

    #[test]
    fn content_rules() {
        assert!(split_content(&[0; 19]).is_err());
        let mut content = vec![0u8; 16];
        content.extend_from_slice(&5u32.to_be_bytes());
        content.extend_from_slice(b"abcwx");
        assert_eq!(split_content(&content).unwrap(), (&b"abcwx"[..], &b""[..]));
        content[19] = 6;
        assert!(split_content(&content).is_err());
    }
}
