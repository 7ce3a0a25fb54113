package mint_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/mint"
)

type recordingRevoker struct{}

func (r recordingRevoker) RevokeInstallationToken(context.Context) error { return nil }

// FuzzRecoverLost feeds arbitrary broken mint answers to the recovery: no
// panic, a token found is revoked, and the error never repeats the answer.
func FuzzRecoverLost(f *testing.F) {
	f.Add([]byte(`{"token":"ghs_0123456789abcdefghijABCDEFGHIJ012345","expires_at":"2026`))
	f.Add([]byte(`{"token": "ghs_`))
	f.Add([]byte(`{"expires_at":"2026-01-01T00:00:00Z","permissions":{"contents":"read"`))
	f.Add([]byte(`{"token":"a\"b","x":1}`))
	f.Fuzz(func(t *testing.T, partial []byte) {
		var revoked []string
		m := mint.New(nil, nil, func(tok github.Secret) (mint.TokenAPI, error) {
			revoked = append(revoked, tok.Reveal())
			return recordingRevoker{}, nil
		})
		err := mint.RecoverLost(context.Background(), m, 7, &github.LostAnswerError{Status: 201, Partial: partial})
		if err == nil {
			t.Fatal("a lost answer is an error")
		}
		for _, tok := range revoked {
			if strings.Contains(err.Error(), tok) {
				t.Fatalf("the error repeats the recovered token")
			}
		}
		if len(partial) > 20 && strings.Contains(err.Error(), string(partial)) {
			t.Fatalf("the error repeats the answer")
		}
	})
}
