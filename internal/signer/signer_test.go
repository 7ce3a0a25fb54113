package signer_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/kmstest"
	"github.com/jitkey/jitkey/internal/signer"
)

// kmsServer is this test binary's local-kms.
var kmsServer = kmstest.New()

const (
	appKeyID  = kmstest.AppKeyID
	aesKeyID  = kmstest.DataKeyID
	encKeyID  = kmstest.EncryptKeyID
	seedAlias = kmstest.AppAlias
)

func TestMain(m *testing.M) {
	// The production client reads the AWS default chain: static
	// credentials, no files, no instance metadata.
	kmstest.Setenv()
	code := m.Run()
	kmsServer.Stop()
	os.Exit(code)
}

// startKMS returns a client of local-kms (seeded with app's key) built the
// production way (signer.KMSClient).
func startKMS(t *testing.T, app *ghsim.App) *kms.Client {
	t.Helper()
	client, err := signer.KMSClient(context.Background(), kmstest.Region, kmsServer.Endpoint(t, app.PrivateKey))
	require.NoError(t, err)
	return client
}

// simWithApp is a simulator with an App installed on acme/api. The first
// App of every simulator in a test binary has the same key, the one seeded
// into local-kms.
func simWithApp(t *testing.T) (*ghsim.Sim, *ghsim.App, int64) {
	t.Helper()
	sim := ghsim.New(ghsim.Options{})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	app := sim.AddApp(ghsim.AppSpec{Slug: "jitkey-broker"})
	sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "api", Private: true})
	inst := sim.Install(app.ID, "acme", ghsim.InstallSpec{Permissions: map[string]string{"contents": "write"}, Repositories: []string{"api"}})
	return sim, app, inst.ID
}

// The broker holds no private key: the App JWT is signed by KMS, and the
// simulator, which checks App JWTs against the App's public key, accepts it
// for an installation lookup and a mint.
func TestKMSSignsAppJWTs(t *testing.T) {
	t.Parallel()
	sim, app, instID := simWithApp(t)
	client := startKMS(t, app)
	ctx := context.Background()
	for _, keyID := range []string{appKeyID, seedAlias} {
		s, err := signer.NewKMS(ctx, client, keyID)
		require.NoError(t, err)
		assert.True(t, s.Public().Equal(&app.PrivateKey.PublicKey), "KMS's public key is not the App's")

		gh, err := github.NewAppClient(github.Options{BaseURL: sim.URL()}, github.AppCredentials{ID: strconv.FormatInt(app.ID, 10), Signer: s})
		require.NoError(t, err)
		in, err := gh.RepoInstallation(ctx, "acme", "api")
		require.NoError(t, err)
		assert.Equal(t, instID, in.ID)
		tok, err := gh.CreateInstallationToken(ctx, instID, github.TokenRequest{Repositories: []string{"api"}, Permissions: map[string]string{"contents": "read"}})
		require.NoError(t, err)
		assert.NotEmpty(t, tok.Token.Reveal())
	}
}

func TestKMSRefusesKeysThatCannotSignJWTs(t *testing.T) {
	t.Parallel()
	_, app, _ := simWithApp(t)
	client := startKMS(t, app)
	ctx := context.Background()
	_, err := signer.NewKMS(ctx, client, encKeyID)
	assert.ErrorContains(t, err, "cannot sign App JWTs")
	_, err = signer.NewKMS(ctx, client, aesKeyID)
	assert.ErrorContains(t, err, "it must be an asymmetric RSA key with key usage SIGN_VERIFY")
	_, err = signer.NewKMS(ctx, client, "alias/nothing-here")
	assert.ErrorContains(t, err, "read the public key of KMS key alias/nothing-here")

	s, err := signer.NewKMS(ctx, client, appKeyID)
	require.NoError(t, err)
	_, err = s.Sign(ctx, []byte("not a digest"))
	assert.ErrorContains(t, err, "SHA-256")
	digest := sha256.Sum256([]byte("header.claims"))
	sig, err := s.Sign(ctx, digest[:])
	require.NoError(t, err)
	require.NoError(t, rsa.VerifyPKCS1v15(s.Public(), crypto.SHA256, digest[:], sig))
}

// The ledger's key as a KMS data key: the configuration holds only the
// ciphertext; KMS opens it.
func TestDataKey(t *testing.T) {
	t.Parallel()
	_, app, _ := simWithApp(t)
	client := startKMS(t, app)
	ctx := context.Background()
	dk, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(aesKeyID), KeySpec: types.DataKeySpecAes256})
	require.NoError(t, err)
	key, err := signer.DataKey(ctx, client, dk.CiphertextBlob)
	require.NoError(t, err)
	assert.Equal(t, dk.Plaintext, key)

	_, err = signer.DataKey(ctx, client, []byte("not a ciphertext blob"))
	assert.ErrorContains(t, err, "generate-data-key")
	small, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(aesKeyID), KeySpec: types.DataKeySpecAes128})
	require.NoError(t, err)
	_, err = signer.DataKey(ctx, client, small.CiphertextBlob)
	assert.ErrorContains(t, err, "AES_256")
}

func TestKMSClientNeedsARegion(t *testing.T) {
	// Not parallel: it changes the environment.
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	_, err := signer.KMSClient(context.Background(), "", "")
	assert.ErrorContains(t, err, "no region")
}

func TestKeyFromPEMFileAndEnv(t *testing.T) {
	t.Parallel()
	app := ghsim.New(ghsim.Options{}).AddApp(ghsim.AppSpec{})
	fsys := fstest.MapFS{"app.pem": {Data: app.PrivateKeyPEM}, "bad.pem": {Data: []byte("-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0\n-----END RSA PRIVATE KEY-----\n")}}
	env := map[string]string{"APP_KEY": strings.ReplaceAll(string(app.PrivateKeyPEM), "\n", `\n`), "EMPTY": " "}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	fromFile, err := signer.FromFile(fsys, "app.pem")
	require.NoError(t, err)
	fromEnv, err := signer.FromEnv(lookup, "APP_KEY")
	require.NoError(t, err)
	digest := sha256.Sum256([]byte("x"))
	for _, s := range []signer.Signer{fromFile, fromEnv} {
		assert.True(t, s.Public().Equal(&app.PrivateKey.PublicKey))
		sig, err := s.Sign(context.Background(), digest[:])
		require.NoError(t, err)
		assert.NoError(t, rsa.VerifyPKCS1v15(s.Public(), crypto.SHA256, digest[:], sig))
	}

	_, err = signer.FromFile(fsys, "missing.pem")
	assert.ErrorContains(t, err, "read the App private key")
	_, err = signer.FromFile(fsys, "bad.pem")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "c2VjcmV0", "an error quotes the key")
	for _, name := range []string{"UNSET", "EMPTY"} {
		_, err = signer.FromEnv(lookup, name)
		assert.ErrorContains(t, err, name+" that should hold the App private key is unset or empty")
	}
}
