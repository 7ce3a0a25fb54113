package cli

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/action"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/ledger"
	"github.com/jitkey/jitkey/internal/runstep"
)

// serveConfig is schemas/serve.cue's #Serve, decoded with its defaults.
type serveConfig struct {
	Listen    string `json:"listen"`
	PublicURL string `json:"public_url"`
	Audience  string `json:"audience"`
	GitHub    struct {
		APIURL     string    `json:"api_url"`
		AppID      any       `json:"app_id"`
		PrivateKey keySource `json:"private_key"`
	} `json:"github"`
	Issuers []string `json:"issuers"`
	Policy  struct {
		Path          string `json:"path"`
		OrgRepository string `json:"org_repository"`
		MaxAge        string `json:"max_age"`
	} `json:"policy"`
	Ledger struct {
		SQLite *struct {
			Path string `json:"path"`
		} `json:"sqlite"`
		Postgres *struct {
			DSN secretSource `json:"dsn"`
		} `json:"postgres"`
	} `json:"ledger"`
	EncryptionKey keySource    `json:"encryption_key"`
	WebhookSecret secretSource `json:"webhook_secret"`
	// PreviousWebhookSecret verifies deliveries too while the secret rotates.
	PreviousWebhookSecret *secretSource `json:"webhook_secret_previous"`
	Limits                struct {
		GlobalRate     float64 `json:"global_rate"`
		RepositoryRate float64 `json:"repository_rate"`
		MaxBodyBytes   int64   `json:"max_body_bytes"`
		MaxHeaderBytes int     `json:"max_header_bytes"`
		RequestTimeout string  `json:"request_timeout"`
		ShutdownGrace  string  `json:"shutdown_grace"`
	} `json:"limits"`
	Sweep struct {
		Interval  string `json:"interval"`
		MinAge    string `json:"min_age"`
		Dangling  string `json:"dangling_after"`
		Retention string `json:"retention"`
	} `json:"sweep"`
	LogLevel string `json:"log_level"`

	dir     string // the configuration's directory: relative paths start there
	secrets struct {
		privateKey []byte
		webhook    []byte
		// previousWebhook is nil unless a rotation is under way.
		previousWebhook []byte
		ledgerKeys      [][]byte
		dsn             string
	}
}

// secretSource is #Secret: an environment variable or a file.
type secretSource struct {
	Env  string `json:"env,omitempty"`
	File string `json:"file,omitempty"`
}

// keySource is a secret, or a key in AWS KMS (#KMS, #KMSDataKey).
type keySource struct {
	secretSource
	KMS *struct {
		KeyID      string        `json:"key_id"`
		Region     string        `json:"region"`
		Endpoint   string        `json:"endpoint"`
		Ciphertext *secretSource `json:"ciphertext"`
	} `json:"kms"`
}

// resolve reads the secrets and checks what the schema cannot.
func (c *serveConfig) resolve(env Env) error {
	var err error
	if c.GitHub.PrivateKey.KMS == nil {
		if c.secrets.privateKey, err = readSecret(env, "github.private_key", &c.GitHub.PrivateKey.secretSource); err != nil {
			return err
		}
		if err := action.CheckPrivateKey(string(c.secrets.privateKey)); err != nil {
			return fmt.Errorf("github.private_key: %w", err)
		}
		c.secrets.privateKey = []byte(action.NormalizePrivateKey(string(c.secrets.privateKey)))
	}
	if c.secrets.webhook, err = readSecret(env, "webhook_secret", &c.WebhookSecret); err != nil {
		return err
	}
	c.secrets.webhook = bytes.TrimSpace(c.secrets.webhook)
	if c.PreviousWebhookSecret != nil {
		if c.secrets.previousWebhook, err = readSecret(env, "webhook_secret_previous", c.PreviousWebhookSecret); err != nil {
			return err
		}
		c.secrets.previousWebhook = bytes.TrimSpace(c.secrets.previousWebhook)
		if bytes.Equal(c.secrets.previousWebhook, c.secrets.webhook) {
			return fmt.Errorf("webhook_secret_previous is the same as webhook_secret: set the new secret as webhook_secret, the old one as webhook_secret_previous")
		}
	}
	if c.EncryptionKey.KMS != nil {
		// Opened by KMS when the broker starts (serve).
		return c.resolveRest(env)
	}
	raw, err := readSecret(env, "encryption_key", &c.EncryptionKey.secretSource)
	if err != nil {
		return err
	}
	// Several keys, one a line (or comma-separated): the first seals, the
	// others still open tokens sealed before a rotation.
	for _, line := range strings.FieldsFunc(string(raw), func(r rune) bool { return r == '\n' || r == ',' }) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, err := ledger.ParseKey(line)
		if err != nil {
			return fmt.Errorf("encryption_key: %w", err)
		}
		c.secrets.ledgerKeys = append(c.secrets.ledgerKeys, k)
	}
	if len(c.secrets.ledgerKeys) == 0 {
		return fmt.Errorf("encryption_key: no key: generate one with `openssl rand -base64 32`")
	}
	return c.resolveRest(env)
}

func (c *serveConfig) resolveRest(env Env) error {
	switch {
	case c.Ledger.SQLite != nil:
		c.secrets.dsn = runstep.AbsPath(env, c.Ledger.SQLite.Path)
	case c.Ledger.Postgres != nil:
		dsn, err := readSecret(env, "ledger.postgres.dsn", &c.Ledger.Postgres.DSN)
		if err != nil {
			return err
		}
		c.secrets.dsn = strings.TrimSpace(string(dsn))
	}
	if _, err := github.ParseBaseURL(c.GitHub.APIURL); err != nil {
		return fmt.Errorf("github.api_url: %w", err)
	}
	for _, d := range []string{c.Policy.MaxAge, c.Limits.RequestTimeout, c.Limits.ShutdownGrace, c.Sweep.Interval, c.Sweep.MinAge, c.Sweep.Dangling, c.Sweep.Retention} {
		if _, err := time.ParseDuration(d); err != nil {
			return fmt.Errorf("duration %q: %w", d, err)
		}
	}
	return nil
}

func (c *serveConfig) audience() string {
	if c.Audience != "" {
		return c.Audience
	}
	return strings.TrimSuffix(c.PublicURL, "/")
}

func (c *serveConfig) appID() string {
	switch v := c.GitHub.AppID.(type) {
	case string:
		return v
	case float64:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprint(v)
	}
}

func (c *serveConfig) ledgerDriver() string {
	if c.Ledger.Postgres != nil {
		return "postgres"
	}
	return "sqlite"
}

func (c *serveConfig) level() slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.LogLevel))
	return l
}

func mustDuration(s string) time.Duration {
	d, _ := time.ParseDuration(s) // checked by resolve
	return d
}

func (c *serveConfig) requestTimeout() time.Duration { return mustDuration(c.Limits.RequestTimeout) }
func (c *serveConfig) shutdownGrace() time.Duration  { return mustDuration(c.Limits.ShutdownGrace) }
func (c *serveConfig) sweepInterval() time.Duration  { return mustDuration(c.Sweep.Interval) }
func (c *serveConfig) sweepMinAge() time.Duration    { return mustDuration(c.Sweep.MinAge) }
func (c *serveConfig) policyMaxAge() time.Duration   { return mustDuration(c.Policy.MaxAge) }
