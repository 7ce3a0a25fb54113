package github

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Installation is a GitHub App installation as GET .../installation returns it.
type Installation struct {
	ID      int64  `json:"id"`
	AppID   int64  `json:"app_id"`
	AppSlug string `json:"app_slug"`
	Account struct {
		Login string `json:"login"`
		ID    int64  `json:"id"`
		Type  string `json:"type"`
	} `json:"account"`
	RepositorySelection string            `json:"repository_selection"`
	Permissions         map[string]string `json:"permissions"`
	SuspendedAt         *time.Time        `json:"suspended_at"`
}

// RepoInstallation finds the App's installation that covers owner/repo
// (App JWT). A 404 means the App is not installed there: ClassNotInstalled.
func (c *Client) RepoInstallation(ctx context.Context, owner, repo string) (*Installation, error) {
	op := fmt.Sprintf("find the App installation for %s/%s", owner, repo)
	var in Installation
	_, err := c.Do(ctx, op, http.MethodGet, "repos/"+seg(owner)+"/"+seg(repo)+"/installation", nil, &in)
	if e, ok := AsError(err); ok && e.Class == ClassNotFound {
		e.Class = ClassNotInstalled
		e.Message = "the GitHub App is not installed on " + owner + "/" + repo
		e.Fix = fmt.Sprintf("install the App on %s and give it access to %s (https://github.com/organizations/%s/settings/installations), or check app-id/client-id", owner, repo, owner)
	}
	if err != nil {
		return nil, err
	}
	return &in, nil
}

// TokenRequest is the body of POST /app/installations/{id}/access_tokens.
// Repositories are names without the owner. Permissions must not be empty:
// GitHub would then grant every permission of the installation.
type TokenRequest struct {
	Repositories []string          `json:"repositories"`
	Permissions  map[string]string `json:"permissions"`
}

// InstallationToken is a minted installation token.
type InstallationToken struct {
	Token               Secret            `json:"token"`
	ExpiresAt           time.Time         `json:"expires_at"`
	Permissions         map[string]string `json:"permissions"`
	RepositorySelection string            `json:"repository_selection"`
	Repositories        []struct {
		ID       int64  `json:"id"`
		Name     string `json:"name"`
		FullName string `json:"full_name"`
		Owner    struct {
			Login string `json:"login"`
			ID    int64  `json:"id"`
		} `json:"owner"`
	} `json:"repositories"`
}

// CreateInstallationToken mints an installation token scoped to exactly the
// given repositories and permissions (App JWT). It refuses an empty
// permissions map or repository list rather than mint a token with
// everything the installation has.
func (c *Client) CreateInstallationToken(ctx context.Context, installationID int64, req TokenRequest) (*InstallationToken, error) {
	op := fmt.Sprintf("mint a token on installation %d", installationID)
	if len(req.Permissions) == 0 || len(req.Repositories) == 0 {
		return nil, &Error{Class: ClassValidation, Op: op, Message: "refusing to mint without explicit repositories and permissions",
			Fix: "the policy grant must name repositories and permissions"}
	}
	var tok InstallationToken
	_, err := c.Do(RetrySafe(ctx), op, http.MethodPost, "app/installations/"+strconv.FormatInt(installationID, 10)+"/access_tokens", req, &tok)
	if e, ok := AsError(err); ok {
		switch e.Class {
		case ClassPermissionNotGranted:
			e.Fix = fmt.Sprintf("the installation does not grant %s: add them in the App settings (Permissions) and approve them on the installation, or narrow the policy grant", FormatPermissions(req.Permissions))
		case ClassRepositoryNotAccessible:
			e.Fix = fmt.Sprintf("add %s to the App installation (Configure → Repository access), or narrow the policy grant", strings.Join(req.Repositories, ", "))
		case ClassNotFound:
			e.Class, e.Fix = ClassNotInstalled, fmt.Sprintf("installation %d does not exist or belongs to another App: check installation-id and app-id", installationID)
		}
		return nil, e
	}
	if err != nil {
		return nil, err
	}
	if tok.Token == "" || tok.ExpiresAt.IsZero() {
		return &tok, &Error{Class: ClassInvalidAnswer, Op: op, Message: "the answer has no token or expiry", Fix: fixes[ClassInvalidAnswer]}
	}
	return &tok, nil
}

// RevokeInstallationToken revokes the client's own token (DELETE
// /installation/token). A token already revoked or expired answers 401:
// ClassBadCredentials.
func (c *Client) RevokeInstallationToken(ctx context.Context) error {
	_, err := c.Do(ctx, "revoke the installation token", http.MethodDelete, "installation/token", nil, nil)
	return err
}

// FileContents reads a file through the contents API at ref ("" = the default
// branch) and returns its bytes and blob SHA.
func (c *Client) FileContents(ctx context.Context, owner, repo, path, ref string) ([]byte, string, error) {
	at := ref
	if at == "" {
		at = "the default branch"
	}
	op := fmt.Sprintf("read %s from %s/%s at %s", path, owner, repo, at)
	p := "repos/" + seg(owner) + "/" + seg(repo) + "/contents/" + pathSegs(path)
	if ref != "" {
		p += "?ref=" + url.QueryEscape(ref)
	}
	var f struct {
		Type     string `json:"type"`
		Encoding string `json:"encoding"`
		Content  string `json:"content"`
		SHA      string `json:"sha"`
	}
	_, err := c.Do(ctx, op, http.MethodGet, p, nil, &f)
	if e, ok := AsError(err); ok && e.Class == ClassNotFound {
		e.Fix = fmt.Sprintf("commit %s to %s/%s (on %s), or set the policy path/ref", path, owner, repo, at)
	}
	if err != nil {
		return nil, "", err
	}
	if f.Type != "file" || f.Encoding != "base64" {
		return nil, "", &Error{Class: ClassInvalidAnswer, Op: op, Message: fmt.Sprintf("%s is not a file GitHub returns inline (type %q, encoding %q)", path, f.Type, f.Encoding),
			Fix: "point the policy input at a file under 1 MB"}
	}
	data, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\n", "", "\r", "").Replace(f.Content))
	if err != nil {
		return nil, "", &Error{Class: ClassInvalidAnswer, Op: op, Message: "the file content is not valid base64", Fix: fixes[ClassInvalidAnswer]}
	}
	return data, f.SHA, nil
}

// FormatPermissions renders a permissions map as "contents:read, issues:write", sorted.
func FormatPermissions(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sortStrings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + p[k]
	}
	return strings.Join(parts, ", ")
}

func seg(s string) string { return url.PathEscape(s) }

func pathSegs(p string) string {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}
