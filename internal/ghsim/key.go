package ghsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"sync"
)

// Generating a 2048-bit RSA key takes hundreds of milliseconds on a small machine, so
// keys are generated once per process and handed out by index: the first App of every
// simulator in a test binary shares key 0, the second key 1, and so on. Within one
// simulator every App, and the OIDC issuer, still has its own key.
var keyCache struct {
	mu   sync.Mutex
	keys []*rsa.PrivateKey
}

// cachedKey returns the process-wide key number i, generating keys up to it.
func cachedKey(i int) *rsa.PrivateKey {
	keyCache.mu.Lock()
	defer keyCache.mu.Unlock()
	for len(keyCache.keys) <= i {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic("ghsim: generate rsa key: " + err.Error())
		}
		keyCache.keys = append(keyCache.keys, k)
	}
	return keyCache.keys[i]
}

// oidcKeyIndex is far from the App keys so an App never shares the issuer's key.
const oidcKeyIndex = 0

func encodeKeyPEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func parseRSAKey(b []byte) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errNoPEM
	}
	return x509.ParsePKCS1PrivateKey(blk.Bytes)
}

var errNoPEM = errors.New("no PEM block: give an RSA private key in PEM form")
