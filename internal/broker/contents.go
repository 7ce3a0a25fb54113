package broker

import (
	"context"
	"strings"
	"sync"
	"time"
)

// ContentsAPI reads a file through the contents API (the in-job mint's
// interface: bytes and blob SHA).
type ContentsAPI interface {
	FileContents(ctx context.Context, owner, repo, path, ref string) ([]byte, string, error)
}

// CachedContents keeps policy files read through the broker's read token
// for MaxAge, and forgets a repository's files when a push webhook says a
// policy path changed (Invalidate): at steady state a decision reads no
// policy from GitHub.
type CachedContents struct {
	Clients *ReadClients
	MaxAge  time.Duration
	Now     func() time.Time

	mu    sync.Mutex
	files map[string]cachedFile // "owner/repo\x00path\x00ref" (lower-case repository)
}

type cachedFile struct {
	data    []byte
	sha     string
	fetched time.Time
}

// FileContents serves a cached file or reads it.
func (c *CachedContents) FileContents(ctx context.Context, owner, repo, path, ref string) ([]byte, string, error) {
	key := strings.ToLower(owner+"/"+repo) + "\x00" + path + "\x00" + ref
	c.mu.Lock()
	f, ok := c.files[key]
	c.mu.Unlock()
	if ok && c.Now().Sub(f.fetched) < c.MaxAge {
		return f.data, f.sha, nil
	}
	gh, err := c.Clients.Client(ctx, owner, repo)
	if err != nil {
		return nil, "", err
	}
	data, sha, err := gh.FileContents(ctx, owner, repo, path, ref)
	if err != nil {
		return nil, "", err
	}
	c.mu.Lock()
	if c.files == nil {
		c.files = map[string]cachedFile{}
	}
	c.files[key] = cachedFile{data: data, sha: sha, fetched: c.Now()}
	c.mu.Unlock()
	return data, sha, nil
}

// Invalidate forgets every cached file of repository "owner/name".
func (c *CachedContents) Invalidate(repository string) {
	prefix := strings.ToLower(repository) + "\x00"
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.files {
		if strings.HasPrefix(k, prefix) {
			delete(c.files, k)
		}
	}
}
