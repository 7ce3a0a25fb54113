package ledger

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/jitkey/jitkey/internal/github"
)

// KeySize is the size of a ledger key: AES-256.
const KeySize = 32

// Keyring seals tokens with its first key and opens them with any of its
// keys, so a key can be rotated: add the new key first, keep the old one
// until every token sealed under it has expired (an hour at most).
type Keyring struct {
	keys []ringKey
}

type ringKey struct {
	id   [8]byte
	aead cipher.AEAD
}

// NewKeyring returns a keyring over 32-byte keys; the first one seals.
func NewKeyring(primary []byte, older ...[]byte) (*Keyring, error) {
	r := &Keyring{}
	for i, k := range append([][]byte{primary}, older...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("ledger key %d is %d bytes: it must be %d random bytes (e.g. `openssl rand -base64 32`)", i+1, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("ledger key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("ledger key %d: %w", i+1, err)
		}
		r.keys = append(r.keys, ringKey{id: keyID(k), aead: aead})
	}
	return r, nil
}

// ParseKey decodes a key written in base64 (standard or URL alphabet, padded
// or not). Its errors never quote the key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("the ledger key decodes to %d bytes: it must be %d random bytes, base64-encoded (e.g. `openssl rand -base64 32`)", len(k), KeySize)
			}
			return k, nil
		}
	}
	return nil, errors.New("the ledger key is not base64: generate one with `openssl rand -base64 32`")
}

// keyID names a key in its ciphertexts without revealing it.
func keyID(k []byte) [8]byte {
	h := sha256.Sum256(append([]byte("jitkey ledger key id\x00"), k...))
	var id [8]byte
	copy(id[:], h[:8])
	return id
}

// sealVersion is the first byte of every ciphertext: the format below.
const sealVersion = 1

// aad binds a ciphertext to its row: a sealed token moved to another row
// does not open.
func aad(sha string) []byte { return []byte("jitkey ledger token v1\x00" + sha) }

// seal encrypts a token for the row keyed by its SHA-256:
// version (1) | key ID (8) | nonce (12) | AES-GCM(token, aad(sha)).
func (r *Keyring) seal(sha string, token github.Secret) ([]byte, error) {
	k := r.keys[0]
	out := make([]byte, 1+len(k.id), 1+len(k.id)+k.aead.NonceSize()+len(token.Reveal())+k.aead.Overhead())
	out[0] = sealVersion
	copy(out[1:], k.id[:])
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal token: %w", err)
	}
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, []byte(token.Reveal()), aad(sha)), nil
}

// errUnsealable is returned when a sealed token cannot be opened; it never
// carries the ciphertext.
var errUnsealable = errors.New("ledger: a sealed token does not open with the configured keys (was the key removed from the keyring, or the row altered?)")

// open decrypts a token sealed for the row keyed by sha.
func (r *Keyring) open(sha string, sealed []byte) (github.Secret, error) {
	if len(sealed) < 1+8 || sealed[0] != sealVersion {
		return "", errUnsealable
	}
	for _, k := range r.keys {
		if string(k.id[:]) != string(sealed[1:9]) {
			continue
		}
		rest := sealed[9:]
		if len(rest) < k.aead.NonceSize() {
			return "", errUnsealable
		}
		plain, err := k.aead.Open(nil, rest[:k.aead.NonceSize()], rest[k.aead.NonceSize():], aad(sha))
		if err != nil {
			return "", errUnsealable
		}
		return github.Secret(plain), nil
	}
	return "", errUnsealable
}
