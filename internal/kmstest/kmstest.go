// Package kmstest runs local-kms (github.com/nsmithuk/local-kms, a tool
// dependency in go.mod) for a test binary: an AWS KMS-compatible endpoint on
// a random loopback port, seeded with the GitHub App's key imported as an RSA
// signing key and a symmetric key for data keys.
//
//	var kms = kmstest.New()
//
//	func TestMain(m *testing.M) { kmstest.Setenv(); code := m.Run(); kms.Stop(); os.Exit(code) }
//
//	func TestX(t *testing.T) { endpoint := kms.Endpoint(t, app.PrivateKey); ... }
//
// The server is built and started on the first Endpoint call. Every App of
// one simulator slot shares a key across a test binary (ghsim caches keys),
// so one seed serves all tests; Endpoint fails a test that asks for another.
package kmstest

import (
	"bufio"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The keys every server holds.
const (
	// AppKeyID is the App's RSA key (SIGN_VERIFY), also reachable as AppAlias.
	AppKeyID = "6f1e2d3c-0000-4000-8000-00000000a991"
	AppAlias = "alias/jitkey-app"
	// DataKeyID is a symmetric key to generate the ledger's data key under.
	DataKeyID = "6f1e2d3c-0000-4000-8000-00000000ae51"
	// EncryptKeyID is an RSA key for encryption only: it cannot sign.
	EncryptKeyID = "6f1e2d3c-0000-4000-8000-00000000e4c1"
	// Region is the region local-kms answers for.
	Region = "eu-west-2"
)

// Server is one local-kms process.
type Server struct {
	once     sync.Once
	err      error
	key      *rsa.PrivateKey
	endpoint string
	cmd      *exec.Cmd
	dir      string
}

// New returns a server that starts on first use.
func New() *Server { return &Server{} }

// Setenv gives the AWS default credential chain static credentials and keeps
// it from reading files or instance metadata. Call it from TestMain, before
// any test runs: it changes the process environment.
func Setenv() {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDLOCALKMS", "AWS_SECRET_ACCESS_KEY": "local-kms-ignores-it",
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		_ = os.Setenv(k, v)
	}
}

// Endpoint returns the server's URL, starting it with appKey imported if it
// is not running yet.
func (s *Server) Endpoint(t testing.TB, appKey *rsa.PrivateKey) string {
	t.Helper()
	s.once.Do(func() { s.key = appKey; s.err = s.start(appKey) })
	if s.err != nil {
		t.Fatal(s.err)
	}
	if !s.key.Equal(appKey) {
		t.Fatal("kmstest: the server holds another App key: use one App key per test binary (a simulator's first App)")
	}
	return s.endpoint
}

// Stop ends the server and removes its data.
func (s *Server) Stop() {
	if s.cmd != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

func (s *Server) start(appKey *rsa.PrivateKey) error {
	dir, err := os.MkdirTemp("", "jitkey-kms-")
	if err != nil {
		return err
	}
	s.dir = dir
	bin := filepath.Join(dir, "local-kms")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/nsmithuk/local-kms").CombinedOutput(); err != nil {
		return fmt.Errorf("kmstest: build local-kms (a tool dependency in go.mod): %w\n%s", err, out)
	}
	seedPath := filepath.Join(dir, "seed.yaml")
	seed, err := seedFile(appKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(seedPath, seed, 0o600); err != nil {
		return err
	}
	// #nosec G204 -- the binary built above.
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT=0", "KMS_REGION="+Region, "KMS_DATA_PATH="+filepath.Join(dir, "data"), "KMS_SEED_PATH="+seedPath)
	logs, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	// local-kms binds port 0 (every interface) and logs the port it got.
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
		s.endpoint = "http://127.0.0.1:" + port
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("kmstest: local-kms did not start within 30 s")
	}
}

// seedFile is local-kms's seed: the App key imported twice (signing, and
// encryption only), a symmetric key and an alias.
func seedFile(appKey *rsa.PrivateKey) ([]byte, error) {
	pkcs8, err := x509.MarshalPKCS8PrivateKey(appKey)
	if err != nil {
		return nil, err
	}
	keyPEM := indent(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})), "          ")
	return fmt.Appendf(nil, `Keys:
  Symmetric:
    Aes:
      - Metadata:
          KeyId: %[1]s
        BackingKeys:
          - 5cdaead27fe7da2de47945d73cd6d79e36494e73802f3cd3869f1d2cb0b5d7a9
  Asymmetric:
    Rsa:
      - Metadata:
          KeyId: %[2]s
          KeyUsage: SIGN_VERIFY
          Description: the GitHub App's key, imported
        PrivateKeyPem: |
%[3]s
      - Metadata:
          KeyId: %[4]s
          KeyUsage: ENCRYPT_DECRYPT
        PrivateKeyPem: |
%[3]s
Aliases:
  - AliasName: %[5]s
    TargetKeyId: %[2]s
`, DataKeyID, AppKeyID, keyPEM, EncryptKeyID, AppAlias), nil
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}
