package github_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/github"
)

// countingSigner signs with key and counts its signatures.
type countingSigner struct {
	key   *rsa.PrivateKey
	calls atomic.Int32
	err   error
}

func (s *countingSigner) Sign(_ context.Context, digest []byte) ([]byte, error) {
	s.calls.Add(1)
	if s.err != nil {
		return nil, s.err
	}
	return rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, digest)
}

// An App client with a Signer and no private key authenticates as the App;
// it signs one JWT and reuses it until two minutes before it expires (a KMS
// signature is a network call per request otherwise), then signs anew.
func TestAppClientWithSigner(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	s := &countingSigner{key: f.app.PrivateKey}
	c, err := github.NewAppClient(f.opts(), github.AppCredentials{ID: itoa(f.app.ID), Signer: s})
	require.NoError(t, err)
	ctx := context.Background()
	for range 3 {
		in, err := c.RepoInstallation(ctx, "acme", "api")
		require.NoError(t, err)
		assert.Equal(t, f.inst.ID, in.ID)
	}
	assert.Equal(t, int32(1), s.calls.Load(), "one JWT serves requests within its life")

	f.clk.Advance(5*time.Minute + 59*time.Second)
	_, err = c.RepoInstallation(ctx, "acme", "api")
	require.NoError(t, err)
	assert.Equal(t, int32(1), s.calls.Load())
	f.clk.Advance(2 * time.Second) // 2 minutes before the JWT's expiry
	_, err = c.RepoInstallation(ctx, "acme", "api")
	require.NoError(t, err, "the simulator refused the JWT signed anew")
	assert.Equal(t, int32(2), s.calls.Load())

	f.clk.Advance(time.Hour) // far past: the cached JWT would be refused as expired
	_, err = c.RepoInstallation(ctx, "acme", "api")
	require.NoError(t, err)
	assert.Equal(t, int32(3), s.calls.Load())
}

func TestAppClientSignerFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	elsewhere := ghsim.New(ghsim.Options{})
	elsewhere.AddApp(ghsim.AppSpec{}) // shares the fixture App's cached key
	other := elsewhere.AddApp(ghsim.AppSpec{Slug: "someone-else"})
	require.NotEqual(t, f.app.PrivateKey.N, other.PrivateKey.N)
	wrong, err := github.NewAppClient(f.opts(), github.AppCredentials{ID: itoa(f.app.ID), Signer: &countingSigner{key: other.PrivateKey}})
	require.NoError(t, err)
	_, err = wrong.RepoInstallation(context.Background(), "acme", "api")
	require.Error(t, err, "a JWT signed by another key was accepted")
	assert.Equal(t, github.ClassBadKey, github.ClassOf(err), "GitHub refused the JWT: the App key is wrong")

	before := f.sim.Calls()
	broken, err := github.NewAppClient(f.opts(), github.AppCredentials{ID: itoa(f.app.ID),
		Signer: &countingSigner{err: errors.New("AccessDeniedException: not authorized to perform kms:Sign")}})
	require.NoError(t, err)
	_, err = broken.RepoInstallation(context.Background(), "acme", "api")
	require.Error(t, err)
	assert.Equal(t, github.ClassBadKey, github.ClassOf(err))
	assert.ErrorContains(t, err, "kms:Sign")
	assert.Equal(t, before, f.sim.Calls(), "a request went out without a signed JWT")
}
