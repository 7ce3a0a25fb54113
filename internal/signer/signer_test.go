package signer_test

import (
	"bufio"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/signer"
)

// The KMS keys seeded into local-kms.
const (
	appKeyID  = "6f1e2d3c-0000-4000-8000-00000000a991" // the App's RSA key, imported
	aesKeyID  = "6f1e2d3c-0000-4000-8000-00000000ae51" // a symmetric key for data keys
	encKeyID  = "6f1e2d3c-0000-4000-8000-00000000e4c1" // an RSA key for encryption only
	seedAlias = "alias/jitkey-app"
)

// localKMS is this test binary's local-kms (github.com/nsmithuk/local-kms,
// a tool dependency in go.mod), started on first use with the simulator's
// first App key imported.
var localKMS struct {
	once     sync.Once
	err      error
	endpoint string
	cmd      *exec.Cmd
	dir      string
	app      *ghsim.App
}

func TestMain(m *testing.M) {
	// The production client reads the AWS default chain: give it static
	// credentials and keep it from looking for files or instance metadata.
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDLOCALKMS", "AWS_SECRET_ACCESS_KEY": "local-kms-ignores-it",
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		_ = os.Setenv(k, v)
	}
	code := m.Run()
	if localKMS.cmd != nil {
		_ = localKMS.cmd.Process.Kill()
		_ = localKMS.cmd.Wait()
	}
	if localKMS.dir != "" {
		_ = os.RemoveAll(localKMS.dir)
	}
	os.Exit(code)
}

// startKMS builds and starts local-kms seeded with app's key, and returns a
// KMS client built the production way (signer.KMSClient).
func startKMS(t *testing.T, app *ghsim.App) *kms.Client {
	t.Helper()
	localKMS.once.Do(func() { localKMS.err = bootKMS(app) })
	require.NoError(t, localKMS.err)
	client, err := signer.KMSClient(context.Background(), "eu-west-2", localKMS.endpoint)
	require.NoError(t, err)
	return client
}

func bootKMS(app *ghsim.App) error {
	dir, err := os.MkdirTemp("", "jitkey-kms-")
	if err != nil {
		return err
	}
	localKMS.dir, localKMS.app = dir, app
	bin := filepath.Join(dir, "local-kms")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/nsmithuk/local-kms").CombinedOutput(); err != nil {
		return fmt.Errorf("build local-kms (a tool dependency in go.mod): %w\n%s", err, out)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(app.PrivateKey)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	seed := fmt.Sprintf(`Keys:
  Symmetric:
    Aes:
      - Metadata:
          KeyId: %s
        BackingKeys:
          - 5cdaead27fe7da2de47945d73cd6d79e36494e73802f3cd3869f1d2cb0b5d7a9
  Asymmetric:
    Rsa:
      - Metadata:
          KeyId: %s
          KeyUsage: SIGN_VERIFY
          Description: the GitHub App's key, imported
        PrivateKeyPem: |
%s
      - Metadata:
          KeyId: %s
          KeyUsage: ENCRYPT_DECRYPT
        PrivateKeyPem: |
%[3]s
Aliases:
  - AliasName: %[5]s
    TargetKeyId: %[2]s
`, aesKeyID, appKeyID, indent(string(keyPEM), "          "), encKeyID, seedAlias)
	seedPath := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seedPath, []byte(seed), 0o600); err != nil {
		return err
	}
	// #nosec G204 -- the binary built above.
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT=0", "KMS_DATA_PATH="+filepath.Join(dir, "data"), "KMS_SEED_PATH="+seedPath)
	logs, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	localKMS.cmd = cmd
	// local-kms binds port 0 and logs the port it got.
	started := regexp.MustCompile(`Local KMS started on 0\.0\.0\.0:(\d+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			if m := started.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case port := <-found:
		localKMS.endpoint = "http://127.0.0.1:" + port
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("local-kms did not start within 30 s")
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
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
