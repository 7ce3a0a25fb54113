package cli_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/brokerclient"
	"github.com/jitkey/jitkey/internal/cli"
	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/kmstest"
	"github.com/jitkey/jitkey/internal/signer"
)

// TestServeWithKMS runs the broker with no key on disk or in its
// environment: the App's JWTs are signed by its key in (local) KMS, and the
// ledger seals tokens under a KMS data key only KMS decrypts.
func TestServeWithKMS(t *testing.T) {
	if testing.Short() {
		t.Skip("local-kms: skipped with -short")
	}
	t.Parallel()
	w := newBrokerWorld(t, brokerOpt{noStart: true})
	endpoint := kms.Endpoint(t, w.app.PrivateKey)
	ctx := context.Background()
	client, err := signer.KMSClient(ctx, kmstest.Region, endpoint)
	require.NoError(t, err)
	dk, err := client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(kmstest.DataKeyID), KeySpec: types.DataKeySpecAes256})
	require.NoError(t, err)

	cfg, err := os.ReadFile(w.cfg)
	require.NoError(t, err)
	text := strings.Replace(string(cfg), `private_key: file: "app.pem"`,
		fmt.Sprintf(`private_key: kms: {key_id: %q, region: %q, endpoint: %q}`, kmstest.AppAlias, kmstest.Region, endpoint), 1)
	text = strings.Replace(text, `encryption_key: env: "LEDGER_KEY"`,
		fmt.Sprintf(`encryption_key: kms: {ciphertext: env: "DATA_KEY", region: %q, endpoint: %q}`, kmstest.Region, endpoint), 1)
	require.NotEqual(t, string(cfg), text)
	require.NoError(t, os.WriteFile(w.cfg, []byte(text), 0o600))
	require.NoError(t, os.Remove(w.cfg[:strings.LastIndex(w.cfg, "/")]+"/app.pem"), "no key on disk")
	vars := map[string]string{"HOOK_SECRET": string(w.secret), "DATA_KEY": base64.StdEncoding.EncodeToString(dk.CiphertextBlob)}
	w.start(cli.Env{Stdout: io.Discard, Stderr: w.logs, Getenv: func(k string) string { return vars[k] }, Now: time.Now})

	run := w.sim.StartRun(ghsim.RunSpec{Repo: "acme/api"})
	ans, err := w.exchange(ctx, w.oidc(w.sim.RunClaims(run, run.Jobs[0])), brokerclient.TokenRequest{})
	require.NoError(t, err, "the App JWT was signed by KMS")
	_, err = w.sim.CompleteJob(run.Jobs[0].ID, "success")
	require.NoError(t, err)
	assert.Equal(t, ghsim.StateRevoked, w.tokenState(ans.Token), "the token sealed under the data key opened for the webhook's revocation")
}
