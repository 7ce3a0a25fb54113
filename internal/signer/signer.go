// Package signer signs the GitHub App's JWTs: a SHA-256 digest signed with
// RSASSA-PKCS1-v1_5 (RS256), by a private key the process holds (a PEM file
// or an environment variable) or by an AWS KMS key whose private half never
// leaves KMS. internal/github takes any of them as its App credential
// (github.AppCredentials.Signer), so the broker can mint without the key on
// its disk.
//
// It also opens a KMS data key, the ledger's sealing key when it should not
// sit in the configuration either.
package signer

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jitkey/jitkey/internal/github"
)

// Signer signs a SHA-256 digest with RSASSA-PKCS1-v1_5 and tells its public
// key (to register on the App, or to check a signature).
type Signer interface {
	Sign(ctx context.Context, digest []byte) ([]byte, error)
	Public() *rsa.PublicKey
}

// Key is a private key held in memory.
type Key struct {
	key *rsa.PrivateKey
}

// FromPEM reads an App private key in PEM form (PKCS#1 or PKCS#8, literal
// "\n" sequences accepted). Its errors never quote the key.
func FromPEM(pemData []byte) (*Key, error) {
	k, err := github.ParsePrivateKey(pemData)
	if err != nil {
		return nil, err
	}
	return &Key{key: k}, nil
}

// FromFile reads the PEM key at name in fsys.
func FromFile(fsys fs.FS, name string) (*Key, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read the App private key: %w (point the key file setting at the .pem from the App settings page)", err)
	}
	return FromPEM(b)
}

// FromEnv reads the PEM key from the environment variable name, through
// lookup (os.LookupEnv at the edge).
func FromEnv(lookup func(string) (string, bool), name string) (*Key, error) {
	v, ok := lookup(name)
	if !ok || strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("the environment variable %s that should hold the App private key is unset or empty: set it to the .pem's contents", name)
	}
	return FromPEM([]byte(v))
}

// Sign signs digest, a SHA-256 sum.
func (k *Key) Sign(_ context.Context, digest []byte) ([]byte, error) {
	if len(digest) != 32 {
		return nil, errors.New("signer: the digest must be a SHA-256 sum (32 bytes)")
	}
	return rsa.SignPKCS1v15(rand.Reader, k.key, crypto.SHA256, digest)
}

// Public is the key's public half.
func (k *Key) Public() *rsa.PublicKey { return &k.key.PublicKey }
