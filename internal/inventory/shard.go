package inventory

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard selects a stable part of the repositories: those whose name hashes
// (FNV-1a of the lower-cased "owner/name") to Index modulo Count. Shard 0
// also reads the organisation-level credentials. The zero value is "all".
type Shard struct {
	Index, Count int
}

// ParseShard parses "i/n" with 0 <= i < n.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q is not i/n with 0 <= i < n (e.g. --shard 0/4 in a matrix of 4)", s)
	}
	return Shard{Index: i, Count: n}, nil
}

// Has reports whether the repository belongs to the shard.
func (s Shard) Has(fullName string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(fullName)))
	return uint64(h.Sum32())%uint64(s.Count) == uint64(s.Index) //nolint:gosec // Count and Index are validated non-negative by ParseShard
}

func (s Shard) String() string {
	if s.Count <= 1 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}
