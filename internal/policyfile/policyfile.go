// Package policyfile finds the CUE policy files and policy test files named
// by command-line paths, inside one repository root, and refuses what a
// policy file can never be: a symlink leading outside the root, a huge file,
// text that is not UTF-8, or a directory without any policy.
package policyfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxSize is the largest policy file accepted, in bytes.
const MaxSize = 1 << 20

// TestSuffix marks a policy test file.
const TestSuffix = "_test.cue"

// Files are the policy files found, as slash-separated paths relative to
// the root, sorted and without duplicates.
type Files struct {
	Policies []string // *.cue but not *_test.cue
	Tests    []string // *_test.cue
}

// All returns the policy files followed by the test files.
func (f Files) All() []string {
	return append(append([]string(nil), f.Policies...), f.Tests...)
}

// Error is a refusal of one path; Path is relative to the root.
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string { return e.Path + ": " + e.Msg }

// Find walks paths (files or directories, slash-separated and relative to
// the root of fsys) and returns every *.cue file under them. Hidden
// directories (".git") and "testdata" directories are skipped when walking;
// a file named explicitly is always taken. Every file is checked: within the
// root, at most MaxSize bytes, valid UTF-8.
func Find(fsys fs.FS, paths []string) (Files, error) {
	seen := map[string]bool{}
	var out Files
	for _, p := range paths {
		found, err := find(fsys, p)
		if err != nil {
			return Files{}, err
		}
		for _, f := range found {
			if seen[f] {
				continue
			}
			seen[f] = true
			if strings.HasSuffix(f, TestSuffix) {
				out.Tests = append(out.Tests, f)
			} else {
				out.Policies = append(out.Policies, f)
			}
		}
	}
	sort.Strings(out.Policies)
	sort.Strings(out.Tests)
	return out, nil
}

func find(fsys fs.FS, p string) ([]string, error) {
	name := path.Clean(strings.TrimPrefix(p, "./"))
	if !fs.ValidPath(name) {
		return nil, &Error{Path: p, Msg: "path is outside the repository; give a path inside it"}
	}
	if err := checkLinks(fsys, name); err != nil {
		return nil, err
	}
	info, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, &Error{Path: name, Msg: describe(err)}
	}
	if !info.IsDir() {
		if !strings.HasSuffix(name, ".cue") {
			return nil, &Error{Path: name, Msg: "not a CUE file; policy files end in .cue"}
		}
		if err := checkFile(fsys, name, info); err != nil {
			return nil, err
		}
		return []string{name}, nil
	}
	var found []string
	err = fs.WalkDir(fsys, name, func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return &Error{Path: f, Msg: describe(err)}
		}
		if f != name && d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return fs.SkipDir
		}
		if !strings.HasSuffix(f, ".cue") || d.IsDir() {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if err := checkLink(fsys, f); err != nil {
				return err
			}
		}
		info, err := fs.Stat(fsys, f)
		if err != nil {
			return &Error{Path: f, Msg: describe(err)}
		}
		if info.IsDir() {
			return nil
		}
		if err := checkFile(fsys, f, info); err != nil {
			return err
		}
		found = append(found, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, &Error{Path: name, Msg: "directory holds no .cue policy files; name a directory with policies or the files themselves"}
	}
	return found, nil
}

// checkLinks refuses a path any of whose components is a symlink leading
// outside the root.
func checkLinks(fsys fs.FS, name string) error {
	if name == "." {
		return nil
	}
	parts := strings.Split(name, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		info, err := fs.Lstat(fsys, prefix)
		if err != nil {
			if errors.Is(err, errors.ErrUnsupported) {
				return nil // this file system has no symlinks
			}
			return &Error{Path: prefix, Msg: describe(err)}
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			if err := checkLink(fsys, prefix); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkLink refuses a symlink whose target leaves the root. Targets inside
// the root are left to the file system to follow.
func checkLink(fsys fs.FS, name string) error {
	target, err := fs.ReadLink(fsys, name)
	if err != nil {
		return &Error{Path: name, Msg: describe(err)}
	}
	if path.IsAbs(target) || strings.HasPrefix(target, `\`) || (len(target) > 1 && target[1] == ':') {
		return &Error{Path: name, Msg: "symlink leads outside the repository (" + target + "); copy the policy into the repository instead"}
	}
	resolved := path.Join(path.Dir(name), target)
	if !fs.ValidPath(resolved) {
		return &Error{Path: name, Msg: "symlink leads outside the repository (" + target + "); copy the policy into the repository instead"}
	}
	return nil
}

func checkFile(fsys fs.FS, name string, info fs.FileInfo) error {
	if info.Size() > MaxSize {
		return &Error{Path: name, Msg: fmt.Sprintf("file is %d bytes, more than the %d allowed for a policy file; split it", info.Size(), MaxSize)}
	}
	f, err := fsys.Open(name)
	if err != nil {
		return &Error{Path: name, Msg: describe(err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return &Error{Path: name, Msg: describe(err)}
	}
	if len(data) > MaxSize {
		return &Error{Path: name, Msg: fmt.Sprintf("file is more than the %d bytes allowed for a policy file; split it", MaxSize)}
	}
	if !utf8.Valid(data) {
		line := 1 + strings.Count(string(data[:firstInvalid(data)]), "\n")
		return &Error{Path: name, Msg: fmt.Sprintf("line %d is not valid UTF-8; save the file as UTF-8", line)}
	}
	return nil
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

func describe(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file or directory"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	msg := err.Error()
	if strings.Contains(msg, "escapes") || strings.Contains(msg, "outside") {
		return "path leads outside the repository; keep policies inside it"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return msg
}
