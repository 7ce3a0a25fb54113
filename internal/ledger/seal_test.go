package ledger

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/jitkey/jitkey/internal/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func TestKeyringSealOpen(t *testing.T) {
	t.Parallel()
	oldKey, newKeyBytes := newKey(t), newKey(t)
	old, err := NewKeyring(oldKey)
	require.NoError(t, err)
	rotated, err := NewKeyring(newKeyBytes, oldKey)
	require.NoError(t, err)
	other, err := NewKeyring(newKey(t))
	require.NoError(t, err)

	const tok = github.Secret("ghs_0123456789abcdefghijABCDEFGHIJ012345")
	sealed, err := old.seal("aaaa", tok)
	require.NoError(t, err)
	assert.False(t, bytes.Contains(sealed, []byte(tok.Reveal())), "the sealed form holds the token")

	got, err := rotated.open("aaaa", sealed)
	require.NoError(t, err, "a rotated keyring opens tokens sealed under its older key")
	assert.Equal(t, tok, got)

	resealed, err := rotated.seal("aaaa", tok)
	require.NoError(t, err)
	_, err = old.open("aaaa", resealed)
	assert.ErrorIs(t, err, errUnsealable, "the new key seals")

	// An attacker who can write rows moves a sealed token to another row, or
	// flips a bit: it must not open.
	_, err = rotated.open("bbbb", sealed)
	assert.ErrorIs(t, err, errUnsealable, "a ciphertext moved to another row opened")
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	_, err = rotated.open("aaaa", flipped)
	assert.ErrorIs(t, err, errUnsealable)
	_, err = other.open("aaaa", sealed)
	assert.ErrorIs(t, err, errUnsealable, "a foreign key opened the token")
	assert.NotContains(t, errUnsealable.Error(), tok.Reveal())
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	k := bytes.Repeat([]byte{0xfb}, KeySize)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		got, err := ParseKey(" " + enc.EncodeToString(k) + "\n")
		require.NoError(t, err)
		assert.Equal(t, k, got)
	}
	secret := base64.StdEncoding.EncodeToString(k[:16])
	_, err := ParseKey(secret)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
	assert.Contains(t, err.Error(), "openssl rand -base64 32")
	_, err = ParseKey("not base64 at all!")
	assert.ErrorContains(t, err, "not base64")
	_, err = NewKeyring(k[:10])
	assert.ErrorContains(t, err, "must be 32")
}
