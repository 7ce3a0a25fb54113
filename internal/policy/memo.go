package policy

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
)

// memoSize bounds the Sets kept by content.
const memoSize = 256

// memo keeps the Sets of recently loaded sources, by their names and
// bytes: a long-running process (jitkey serve) decides on the same few
// policy files thousands of times a second, and loading one is a CUE
// evaluation of about a millisecond. Load never changes a Set after it
// returns it, so a Set may be shared: callers treat it as read-only (and
// copy before changing, as policytest's mutants do).
var memo struct {
	mu   sync.Mutex
	sets map[[32]byte]*Set
}

func memoKey(srcs []source) [32]byte {
	h := sha256.New()
	var n [8]byte
	for _, s := range srcs {
		for _, part := range [][]byte{[]byte(s.name), s.data} {
			binary.BigEndian.PutUint64(n[:], uint64(len(part)))
			h.Write(n[:])
			h.Write(part)
		}
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func memoGet(k [32]byte) *Set {
	memo.mu.Lock()
	defer memo.mu.Unlock()
	return memo.sets[k]
}

func memoPut(k [32]byte, s *Set) {
	memo.mu.Lock()
	defer memo.mu.Unlock()
	if memo.sets == nil || len(memo.sets) >= memoSize {
		memo.sets = map[[32]byte]*Set{} // start over: the working set is small
	}
	memo.sets[k] = s
}
