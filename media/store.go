package media

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// Files keeps media files on local disk under Dir, where every api process
// of a one-machine server reads them. (Several machines need a shared
// directory or an object store; see the README.)
type Files struct {
	Dir string
}

// validKey is what Starling names files: lower-case letters, digits,
// dots, dashes and slashes, never "..".
var validKey = regexp.MustCompile(`^[a-z0-9][a-z0-9/_.-]*$`)

// Path returns where key lives, or an error for a key Starling would not
// have made (anything that could leave Dir).
func (f *Files) Path(key string) (string, error) {
	if !validKey.MatchString(key) || filepath.Clean(key) != key || filepath.IsAbs(key) || containsDotDot(key) {
		return "", fmt.Errorf("media key %q: %w", key, os.ErrNotExist)
	}
	return filepath.Join(f.Dir, filepath.FromSlash(key)), nil
}

func containsDotDot(key string) bool { return dotDot.MatchString(key) }

var dotDot = regexp.MustCompile(`(^|/)\.\.(/|$)`)

// Put writes data as key, atomically: readers see the whole file or none.
func (f *Files) Put(ctx context.Context, key string, data []byte) error {
	path, err := f.Path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".upload-*")
	if err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("store %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("store %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// Delete removes key; a key already gone is not an error.
func (f *Files) Delete(ctx context.Context, key string) error {
	path, err := f.Path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}
