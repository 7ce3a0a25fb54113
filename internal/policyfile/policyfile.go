// Package policyfile finds the CUE policy files and policy test files named
// by command-line paths, inside one repository root, and refuses paths that
// can never name a policy: a symlink leading outside the root, a file that
// does not end in .cue, or a directory without any policy. What is inside a
// file (its size, its encoding) is the policy loader's to judge, so that a
// bad file is reported at its position and the others are still checked.
package policyfile

import (
	"errors"
	"io/fs"
	"path"
	"sort"
	"strings"
)

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
// a file named explicitly is always taken. Every path is checked to stay
// within the root.
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
