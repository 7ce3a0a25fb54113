package inventory

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// Checkpoint remembers the targets a scan finished in full, as JSON lines
// (a header naming the scan, then one Result per line), so that an
// interrupted scan of a large organisation resumes where it stopped. Targets
// read only partially are not recorded and are read again.
type Checkpoint struct {
	key  string
	mu   sync.Mutex
	done map[string]Result
	w    io.Writer
}

type checkpointHeader struct {
	Checkpoint int    `json:"jitkey_checkpoint"`
	Key        string `json:"key"`
}

// ReadCheckpoint reads a previous checkpoint (data may be empty). Entries of
// a checkpoint made for another scope (a different key) are ignored, and so
// is a truncated last line.
func ReadCheckpoint(key string, data []byte) *Checkpoint {
	cp := &Checkpoint{key: key, done: map[string]Result{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 64*1024*1024)
	first := true
	for sc.Scan() {
		if first {
			first = false
			var h checkpointHeader
			if json.Unmarshal(sc.Bytes(), &h) != nil || h.Checkpoint != 1 || h.Key != key {
				return cp
			}
			continue
		}
		var r Result
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Target != "" {
			cp.done[r.Target] = r
		}
	}
	return cp
}

// Len is the number of targets already done.
func (c *Checkpoint) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.done)
}

// Start writes the header and the entries already known to w, which then
// receives every newly finished target.
func (c *Checkpoint) Start(w io.Writer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w = w
	if err := c.writeLine(checkpointHeader{Checkpoint: 1, Key: c.key}); err != nil {
		return err
	}
	for _, r := range c.done {
		if err := c.writeLine(r); err != nil {
			return err
		}
	}
	return nil
}

// Done returns the recorded result of target.
func (c *Checkpoint) Done(target string) (Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.done[target]
	return r, ok
}

// Record adds a finished target.
func (c *Checkpoint) Record(r Result) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done[r.Target] = r
	if c.w == nil {
		return nil
	}
	return c.writeLine(r)
}

func (c *Checkpoint) writeLine(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode checkpoint entry: %w", err)
	}
	if _, err := c.w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// CheckpointKey names a scan's scope, so that a checkpoint is only reused
// for the same scope.
func CheckpointKey(o Options) string {
	key := fmt.Sprintf("org=%s repos=%v archived=%t forks=%t shard=%s kinds=%v", o.Org, o.Repos, o.IncludeArchived, o.IncludeForks, o.Shard, o.Kinds)
	if o.OrgOnly {
		key += " org-only" // appended, so the keys of existing checkpoints stay valid
	}
	return key
}
