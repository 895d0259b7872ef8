package loader

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Options change how a library is loaded. The zero value is what Load
// uses.
type Options struct {
	// AllowInsecure loads a library CheckFile refuses. Loading runs the
	// library's code with the host's privileges, so this is for
	// development only.
	AllowInsecure bool
}

// CheckFile reports whether the library at path could have been changed by
// a user other than root and the one running this process (its effective
// UID), as sshd checks its key files. It refuses, with an error wrapping
// ErrInsecure that names the file and the fix:
//
//   - a file that is writable by group or others, or owned by another user
//     who is not root;
//   - a file in a directory that is writable by group or others, sticky
//     (such as /tmp) or not, or owned by another user who is not root;
//   - a file below a directory, up to /, that is owned by another user
//     who is not root, or writable by group or others without the sticky
//     bit, so another user could replace what lies below it.
//
// A symlink is followed, and the directory holding the link is checked as
// well. A path that does not exist passes: opening it fails.
func CheckFile(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil
	}
	me := uint32(os.Geteuid())
	if err := checkEntry(real, me, "", 0); err != nil {
		return err
	}
	if real != abs {
		if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
			if err := checkEntry(dir, me, "directory of the link "+abs, 1); err != nil {
				return err
			}
		}
	}
	dir := filepath.Dir(real)
	for depth := 1; ; depth++ {
		if err := checkEntry(dir, me, "directory", depth); err != nil {
			return err
		}
		up := filepath.Dir(dir)
		if up == dir {
			return nil
		}
		dir = up
	}
}

// checkEntry checks one file (depth 0), the directory holding it (depth
// 1), or a directory above that. what names it in the error.
func checkEntry(path string, me uint32, what string, depth int) error {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if what == "" {
		what = "file"
	}
	mode := fi.Mode()
	bad := func(why, fix string) error {
		return fmt.Errorf("%w: %s %s %s; fix with: %s", ErrInsecure, what, path, why, fix)
	}
	if st.Uid != 0 && st.Uid != me {
		return bad(fmt.Sprintf("is owned by uid %d, neither root nor the loading user (uid %d)", st.Uid, me),
			fmt.Sprintf("chown %d %s", me, path))
	}
	if mode.Perm()&0o022 == 0 {
		return nil
	}
	switch {
	case depth == 0:
		return bad(fmt.Sprintf("is writable by group or others (mode %04o)", mode.Perm()), "chmod go-w "+path)
	case depth == 1:
		kind := ""
		if mode&os.ModeSticky != 0 {
			kind = " (sticky or not, another user can put a file there first)"
		}
		return bad(fmt.Sprintf("is writable by group or others (mode %04o)%s", mode.Perm(), kind),
			"chmod go-w "+path+", or move the library to a directory only root and its owner can write")
	case mode&os.ModeSticky == 0:
		return bad(fmt.Sprintf("is writable by group or others without the sticky bit (mode %04o), so another user can replace what is below it", mode.Perm()),
			"chmod go-w "+path)
	}
	return nil
}
